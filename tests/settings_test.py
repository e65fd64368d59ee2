"""Settings precedence: options > HARBOR_MIRROR_* environment > config file > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from postrender.errors import ConfigError
from postrender.rewrite.rules import Rules
from postrender.settings import Settings, resolve, validate


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "helm" / "harbor-mirror" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(
        "harborHost: file.example.com\nproject: from-file\nmode: proxy-cache\n"
        "pullSecret: file-secret\n"
    )
    return path


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"HELM_CONFIG_HOME": str(tmp_path / "helm"), **extra}


def test_config_file_found_in_helm_config_home(tmp_path: Path, config_file: Path) -> None:
    settings = resolve([], env_for(tmp_path))
    assert (settings.harbor_host, settings.project, settings.pull_secret) == (
        "file.example.com",
        "from-file",
        "file-secret",
    )
    assert settings.upstream == "dp.apps.rancher.io"
    assert settings.upstream_pull_secret == "application-collection"


def test_environment_beats_config_file(tmp_path: Path, config_file: Path) -> None:
    env = env_for(tmp_path, HARBOR_MIRROR_HARBOR_HOST="env.example.com:8443")
    settings = resolve([], env)
    assert settings.harbor_host == "env.example.com:8443"
    assert settings.project == "from-file"


def test_option_beats_environment(tmp_path: Path, config_file: Path) -> None:
    env = env_for(tmp_path, HARBOR_MIRROR_HARBOR_HOST="env.example.com", HARBOR_MIRROR_PROJECT="e")
    settings = resolve(["--harbor-host=opt.example.com", "--project", "opt"], env)
    assert (settings.harbor_host, settings.project) == ("opt.example.com", "opt")


@pytest.mark.parametrize("argv", [["--harbor-host="], ["--harbor-host", ""],
                                  ["--project", ""], ["--ca-file="]])
def test_an_option_given_empty_is_refused_not_taken_from_the_config_file(
    tmp_path: Path, config_file: Path, argv: list[str]
) -> None:
    # `--harbor-host "$HARBOR"` with HARBOR unset must not quietly reach the file's Harbor
    flag = argv[0].partition("=")[0]
    with pytest.raises(ConfigError, match=f"^{flag} is empty: give it a value, or leave it out$"):
        resolve(argv, env_for(tmp_path))


def test_config_option_and_env_pick_the_file(tmp_path: Path, config_file: Path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("harborHost: other.example.com\n")
    assert resolve(["--config", str(other)], env_for(tmp_path)).harbor_host == "other.example.com"
    env = env_for(tmp_path, HARBOR_MIRROR_CONFIG=str(other))
    assert resolve([], env).harbor_host == "other.example.com"


def test_defaults_without_config_file(tmp_path: Path) -> None:
    settings = resolve(["--harbor-host", "h.example.com"], env_for(tmp_path))
    assert settings.project == "application-collection"
    assert settings.pull_secret is None
    mirror = Rules.from_settings(settings).mirror
    assert mirror.target_prefix == "h.example.com/application-collection"


def test_missing_harbor_host_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"helm harbor-mirror setup.*--harbor-host"):
        resolve([], env_for(tmp_path))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--harbor-host", "https://h.example.com"], "not HOST"),
        (["--harbor-host", "h.example.com/path"], "not HOST"),
        # the reference grammar's domain (one copy, imageref): no trailing newline, and an IPv6
        # host without the dotted IPv4 tail distribution's grammar cannot read back
        (["--harbor-host", "h.example.com\n"], "not HOST"),
        (["--harbor-host", "[::ffff:10.0.0.1]:5000"], "not HOST"),
        (["--harbor-host", "h.io", "--project", "appco\n"], "not a valid Harbor project"),
        (["--harbor-host", "h.io", "--project", "Upper"], "not a valid Harbor project"),
        (["--harbor-host", "h.io", "--pull-secret", "Bad_Name"], "not a valid Kubernetes secret"),
        (["--harbor-host", "h.io", "--bogus"], "unknown option '--bogus'"),
        (["--harbor-host", "dp.apps.rancher.io"], "is the upstream itself"),
        (["--harbor-host"], "needs a value"),
        (["--harbor-host", "h.io", "--strict=yes"], "takes no value"),
    ],
)
def test_bad_options_are_config_errors(tmp_path: Path, argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(argv, env_for(tmp_path))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("harborHost: h\nharbor_host: typo\n", "unknown key 'harbor_host'"),
        ("- a\n", "expected a mapping"),
        ("harborHost: [a]\n", "harborHost must be a string"),
        ("harborHost: 'unclosed\n", "not valid YAML"),
        ("harborHost: " + "{a: " * 3000 + "\n", "nested too deeply"),
    ],
)
def test_bad_config_file_names_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as error:
        resolve(["--config", str(path)], env_for(tmp_path))
    assert str(path) in str(error.value)


def test_explicit_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        resolve(["--config", str(tmp_path / "absent.yaml")], env_for(tmp_path))


def test_validate_names_the_option_the_caller_took_the_value_from() -> None:
    bad = Settings(harbor_host="dp.apps.rancher.io")
    with pytest.raises(ConfigError, match=r"^--harbor-url 'dp.apps.rancher.io' is the upstream"):
        validate(bad, {"harbor_host": "--harbor-url"})
    with pytest.raises(ConfigError, match=r"^--upstream-host 'a b' is not HOST"):
        validate(Settings(harbor_host="h.io", upstream="a b"), {"upstream": "--upstream-host"})


@pytest.mark.parametrize(("argv", "problem"), [
    (["--signatures"], "--signatures, --attestations and --key go with --verify"),
    (["--verify", "--key=k.pem"], "--key needs --signatures or --attestations"),
])
def test_signature_options_go_with_verify(tmp_path: Path, argv: list[str], problem: str) -> None:
    env = env_for(tmp_path)
    with pytest.raises(ConfigError, match=problem):
        resolve(["--harbor-host", "harbor.example.com", *argv], env)
    asked = resolve(["--harbor-host", "harbor.example.com", "--verify", "--attestations",
                     "--key", "a.pem"], env)
    assert (asked.signatures, asked.attestations, asked.keys) == (False, True, "a.pem")
