"""The Helm plugin end to end with real Helm 4.1.4 and 3.18.0: install, run, post-render, update.

Every Helm here has its own homes and no cluster. The plugin's install hook builds its Python
environment with pip from a wheelhouse made once per session, so an install takes seconds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from postrender import lock
from postrender.commands.group import SUBCOMMANDS
from tests.harbor_emulator import ADMIN_PASSWORD, FakeUpstream, HarborEmulator
from tests.support.fixtures_helm import HelmEnv, isolated_helm_env
from tests.support.fixtures_plugin import (
    MAJORS,
    Plugin,
    commit,
    git,
    install,
    offline,
)

REPO = Path(__file__).resolve().parents[2]
VERSION = re.findall(r'(?m)^version = "(.+)"$', (REPO / "pyproject.toml").read_text())[0]
CHARTS = sorted(p.parent for p in (REPO / "charts-fixtures").glob("*/Chart.yaml"))
# An upstream mention a rewrite should have replaced; `notdp.apps.rancher.io` is not one.
UPSTREAM = re.compile(r"(?<![\w.-])dp\.apps\.rancher\.io(?![\w.-])")
HARBOR = "harbor.test:8443"
# What `helm plugin list` shows: Helm 4 lists the CLI and the post-renderer plugin.
LISTED = {4: {"harbor-mirror", "harbor-mirror-cli"}, 3: {"harbor-mirror"}}
CLI_NAME = {4: "harbor-mirror-cli", 3: "harbor-mirror"}


@pytest.fixture(params=list(MAJORS))
def fresh(request: pytest.FixtureRequest, tmp_path: Path, wheelhouse: Path) -> tuple[HelmEnv, int]:
    """An empty Helm home of each major, its pip pointed at the wheelhouse."""
    binary: Path = request.getfixturevalue(request.param)  # the session's helm4 or helm3
    env = isolated_helm_env(binary, tmp_path / "helm")
    return offline(env, wheelhouse), MAJORS[request.param]


def test_manifest_versions_match_pyproject() -> None:
    for manifest in ("plugin.yaml", "hooks/helm4-cli.yaml", "postrender/plugin.yaml"):
        text = (REPO / manifest).read_text()
        assert re.findall(r"(?m)^version: (\S+)$", text) == [VERSION], manifest


def test_install_from_local_checkout_leaves_checkout_alone(fresh: tuple[HelmEnv, int]) -> None:
    env, major = fresh
    root_manifest = (REPO / "plugin.yaml").read_bytes()

    done = install(env, major, str(REPO))

    assert done.returncode == 0, done.stderr
    assert f"harbor-mirror {VERSION}: built" in done.stdout
    assert (REPO / "plugin.yaml").read_bytes() == root_manifest
    assert _listed(env) == {name: VERSION for name in LISTED[major]}
    installed = env.plugins_dir / REPO.name
    assert installed.is_dir() and not installed.is_symlink()  # a copy, not the checkout
    if major == 3:  # the one line a Helm 3 user needs for --post-renderer harbor-mirror
        assert f'ln -sf "{installed}/.venv/bin/harbor-mirror" ~/.local/bin/' in done.stdout

    helped = env.run("harbor-mirror", "--help")
    bare = env.run("harbor-mirror")
    assert helped.returncode == bare.returncode == 0, helped.stderr + bare.stderr
    assert "Commands:" in helped.stdout and "postrender" in helped.stdout
    assert bare.stdout == helped.stdout

    gone = env.run("plugin", "uninstall", CLI_NAME[major])
    assert gone.returncode == 0, gone.stderr
    assert list(env.plugins_dir.iterdir()) == []


def test_install_without_python_says_what_to_do(fresh: tuple[HelmEnv, int], tmp_path: Path) -> None:
    env, major = fresh
    tools = tmp_path / "no-python-bin"
    tools.mkdir()
    for tool in ("sh", "dirname", "basename", "readlink", "tar", "mkdir", "rm", "mv", "sed"):
        found = shutil.which(tool)
        assert found, tool
        (tools / tool).symlink_to(found)
    env.env["PATH"] = str(tools)

    done = install(env, major, str(REPO))

    assert done.returncode != 0
    (line,) = _hook_lines(done.stderr)
    assert line.startswith("harbor-mirror: install failed while looking for Python >= 3.10: needs")
    assert "removed the half-installed plugin" in line
    assert "Traceback" not in done.stderr
    assert list(env.plugins_dir.iterdir()) == []


@pytest.mark.parametrize("source", ["git", "checkout"])
def test_install_from_an_empty_wheelhouse_fails_in_one_line_and_leaves_no_plugin(
    fresh: tuple[HelmEnv, int], git_source: Path, wheelhouse: Path, tmp_path: Path, source: str
) -> None:
    env, major = fresh
    empty = tmp_path / "empty-wheelhouse"
    empty.mkdir()
    env.env.update(PIP_FIND_LINKS=str(empty), PIP_CONFIG_FILE=os.devnull)  # no machine config
    url = git_source.as_uri() if source == "git" else str(REPO)
    root_manifest = (REPO / "plugin.yaml").read_bytes()

    done = install(env, major, url)

    assert done.returncode != 0
    (line,) = _hook_lines(done.stderr)
    assert line.startswith(f"harbor-mirror: install failed while installing helm-harbor-mirror "
                           f"{VERSION} with pip: No matching distribution found for setuptools")
    assert f"PIP_FIND_LINKS={empty}, which must hold what make wheelhouse collects" in line
    assert line.endswith("removed the half-installed plugin; fix that and run helm plugin "
                         "install again")
    assert "Traceback" not in done.stderr
    assert list(env.plugins_dir.iterdir()) == []
    assert _listed(env) == {}
    assert (REPO / "plugin.yaml").read_bytes() == root_manifest  # the checkout is untouched

    env.env["PIP_FIND_LINKS"] = str(wheelhouse)  # nothing left in the way of the retry
    again = install(env, major, url)
    assert again.returncode == 0, again.stderr
    assert _listed(env) == {name: VERSION for name in LISTED[major]}


def test_readme_offline_install_line_installs_from_the_checkouts_wheelhouse(
    fresh: tuple[HelmEnv, int], git_source: Path, wheelhouse: Path, tmp_path: Path
) -> None:
    """The README's line, run as written inside a checkout that holds `make wheelhouse`."""
    env, major = fresh
    (line,) = [text for text in (REPO / "README.md").read_text().splitlines()
               if text.startswith("PIP_NO_INDEX=1 ")]
    checkout = tmp_path / "helm-harbor-mirror"
    shutil.copytree(git_source, checkout, ignore=shutil.ignore_patterns(".git"))
    shutil.copytree(wheelhouse, checkout / "wheelhouse")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "helm").symlink_to(env.binary)
    for name in ("PIP_NO_INDEX", "PIP_FIND_LINKS"):
        env.env.pop(name)
    env.env.update(
        PATH=f"{tools}{os.pathsep}{env.env['PATH']}",
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL="http://127.0.0.1:9/simple",  # no index answers: offline or nothing
    )

    done = subprocess.run(["sh", "-c", line], cwd=checkout, env=env.env, capture_output=True,
                          text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert f"harbor-mirror {VERSION}: built" in done.stdout
    assert _listed(env) == {name: VERSION for name in LISTED[major]}
    installed = env.plugins_dir / "helm-harbor-mirror"
    assert not (installed / "wheelhouse").exists()  # the wheelhouse is not copied in
    assert env.run("harbor-mirror", "--help").returncode == 0


def test_git_install_update_uninstall_keep_other_plugins_working(
    fresh: tuple[HelmEnv, int], git_source: Path, tmp_path: Path
) -> None:
    env, major = fresh
    upstream = tmp_path / "remote" / "helm-harbor-mirror"
    git(tmp_path, "clone", "-q", git_source, upstream)
    hello = _unrelated_plugin(tmp_path / "hello")
    assert env.run("plugin", "install", hello).returncode == 0

    done = install(env, major, upstream.as_uri())
    assert done.returncode == 0, done.stderr
    assert _listed(env) == {"hello": "1.0.0", **{name: VERSION for name in LISTED[major]}}
    assert env.run("hello").stdout == "hello from an unrelated plugin\n"

    # A release that changes every manifest, the root one too: the update must still merge.
    _bump_version(upstream, "9.9.9")
    updated = env.run("plugin", "update", CLI_NAME[major])
    assert updated.returncode == 0, updated.stderr
    assert "harbor-mirror 9.9.9: built" in updated.stdout
    assert _listed(env) == {"hello": "1.0.0", **{name: "9.9.9" for name in LISTED[major]}}
    checkout = env.plugins_dir / "helm-harbor-mirror"
    assert git(checkout, "status", "--porcelain").stdout == ""
    assert env.run("harbor-mirror", "--help").returncode == 0

    gone = env.run("plugin", "uninstall", CLI_NAME[major])
    assert gone.returncode == 0, gone.stderr
    assert sorted(p.name for p in env.plugins_dir.iterdir()) == ["hello"]
    assert _listed(env) == {"hello": "1.0.0"}
    assert env.run("hello").stdout == "hello from an unrelated plugin\n"


@pytest.mark.parametrize("chart", CHARTS, ids=[chart.name for chart in CHARTS])
def test_template_post_renders_fixture_chart(plugin: Plugin, chart: Path) -> None:
    done = plugin.template(
        chart, "--post-renderer-args", f"--harbor-host={HARBOR}", "--post-renderer-args",
        "--project=mirror",
    )
    assert done.returncode == 0, done.stderr
    assert f"{HARBOR}/mirror/containers/" in done.stdout
    _assert_upstream_only_in_hooks_on_helm3(done.stdout, plugin.major)


def test_template_post_renders_hook_job_on_helm4_only(plugin: Plugin, tmp_path: Path) -> None:
    done = plugin.template(_hook_chart(tmp_path), "--post-renderer-args", f"--harbor-host={HARBOR}")

    assert done.returncode == 0, done.stderr
    documents = _documents(done.stdout)
    job = next(doc for doc in documents if "kind: Job" in doc)
    deployment = next(doc for doc in documents if "kind: Deployment" in doc)
    assert f"{HARBOR}/application-collection/containers/app:1.0" in deployment
    # Helm 3 never hands hooks to a post-renderer (README, "Helm 3").
    hook_image = "dp.apps.rancher.io" if plugin.major == 3 else f"{HARBOR}/application-collection"
    assert f"image: {hook_image}/containers/migrate:1.0" in job


def test_template_post_renderer_args_lock_pins_through_the_plugin(
    plugin: Plugin, tmp_path: Path
) -> None:
    prefix, app, migrate = f"{HARBOR}/application-collection/containers", "a" * 64, "b" * 64
    lock_file = tmp_path / "harbor-mirror.lock"
    lock.Lock({f"{prefix}/app:1.0": lock.ImageLock(f"sha256:{app}"),
               f"{prefix}/migrate:1.0": lock.ImageLock(f"sha256:{migrate}")}).write(lock_file)
    done = plugin.template(_hook_chart(tmp_path), "--post-renderer-args", f"--harbor-host={HARBOR}",
                           "--post-renderer-args", f"--lock={lock_file}")

    assert done.returncode == 0, done.stderr
    assert f"image: {prefix}/app:1.0@sha256:{app}\n" in done.stdout
    hook = ("image: dp.apps.rancher.io/containers/migrate:1.0\n" if plugin.major == 3
            else f"image: {prefix}/migrate:1.0@sha256:{migrate}\n")  # Helm 3 skips hooks
    assert hook in done.stdout


def test_wrapper_lock_shows_what_the_post_renderer_left_by_tag(
    plugin: Plugin, tmp_path: Path
) -> None:
    """Helm drops the stderr of a post-renderer that succeeds; the wrapper shows its lines."""
    chart = _hook_chart(tmp_path)
    (chart / "templates" / "sources.yaml").write_text(
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: r}\n"
        "spec: {type: oci, url: 'oci://dp.apps.rancher.io/charts'}\n---\n"
        "apiVersion: example.com/v1\nkind: Backup\nmetadata: {name: b}\nspec:\n"
        "  registry: dp.apps.rancher.io\n  repository: containers/backup\n"
    )
    prefix, app = f"{HARBOR}/application-collection/containers", "a" * 64
    lock_file = tmp_path / "harbor-mirror.lock"
    lock.Lock({f"{prefix}/app:1.0": lock.ImageLock(f"sha256:{app}"),
               f"{prefix}/migrate:1.0": lock.ImageLock(f"sha256:{app}")}).write(lock_file)
    harbor = {"HARBOR_MIRROR_HARBOR_HOST": HARBOR}
    done = plugin.env.run("harbor-mirror", "template", "demo", chart, "--lock", lock_file,
                          extra_env=harbor)
    assert done.returncode == 0, done.stderr
    assert f"image: {prefix}/app:1.0@sha256:{app}\n" in done.stdout
    said = sorted(re.sub(r"line \d+: ", "", line) for line in done.stderr.splitlines()
                  if "not pinned: line" in line)  # the lines of Helm's stream, in its order
    assert said == [
        f"harbor-mirror: not pinned: oci://{HARBOR}/application-collection/charts (an oci:// "
        "chart URL: its reader asks for the chart by tag)",
        f"harbor-mirror: not pinned: registry: {HARBOR} (a registry apart from its "
        "repository: no place for a digest)",
    ]
    strict = plugin.env.run("harbor-mirror", "template", "demo", chart, "--lock", lock_file,
                            "--post-renderer-args", "--strict", extra_env=harbor)
    assert strict.returncode == 1 and strict.stdout == ""
    assert "2 Harbor references cannot carry a digest (--strict with --lock)" in strict.stderr


def test_install_hook_rerun_keeps_the_environment(plugin: Plugin) -> None:
    plugin_dir = plugin.env.plugins_dir / "helm-harbor-mirror"
    python = plugin_dir / ".venv" / "bin" / "python"
    before = python.lstat().st_mtime_ns
    helm_vars = {"HELM_PLUGIN_DIR": str(plugin_dir), "HELM_PLUGIN_NAME": CLI_NAME[plugin.major]}
    if plugin.major == 3:  # what Helm 3 adds for hooks; Helm 4 adds no HELM_BIN
        helm_vars["HELM_BIN"] = str(plugin.env.binary)

    done = subprocess.run(
        [plugin_dir / "hooks" / "install.sh", "install"],
        env={**plugin.env.env, **helm_vars}, capture_output=True, text=True, input="",
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"harbor-mirror {VERSION}: kept {plugin_dir}/.venv")
    assert python.lstat().st_mtime_ns == before
    assert _listed(plugin.env) == {name: VERSION for name in LISTED[plugin.major]}


@pytest.mark.parametrize("subcommand", sorted(SUBCOMMANDS))
def test_every_subcommand_help_through_helm(plugin: Plugin, subcommand: str) -> None:
    done = plugin.env.run("harbor-mirror", subcommand, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Usage: harbor-mirror {subcommand} ")


def test_settings_come_from_helm_config_home(plugin: Plugin, tmp_path: Path) -> None:
    config = Path(plugin.env.env["HELM_CONFIG_HOME"]) / "harbor-mirror" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("harborHost: harbor.from-config.test\nproject: cfg\n")
    try:
        rendered = plugin.template(_hook_chart(tmp_path))
        piped = plugin.env.run(
            "harbor-mirror", "postrender", input="image: dp.apps.rancher.io/containers/x:1\n"
        )
    finally:
        config.unlink()
    assert rendered.returncode == 0, rendered.stderr
    assert "image: harbor.from-config.test/cfg/containers/app:1.0" in rendered.stdout
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == "image: harbor.from-config.test/cfg/containers/x:1\n"


def test_setup_through_helm_then_the_bare_post_renderer_uses_harbor(
    plugin: Plugin, harbor: HarborEmulator, upstream_registry: FakeUpstream, tmp_path: Path
) -> None:
    secrets = {
        "HARBOR_MIRROR_HARBOR_PASSWORD": ADMIN_PASSWORD,
        "HARBOR_MIRROR_UPSTREAM_TOKEN": upstream_registry.token,
    }
    config = Path(plugin.env.env["HELM_CONFIG_HOME"]) / "harbor-mirror" / "config.yaml"
    try:
        setup = plugin.env.run(
            "harbor-mirror", "setup", "--harbor-url", harbor.url, "--plain-http",
            "--upstream-url", upstream_registry.url, "--upstream-host", "dp.apps.rancher.io",
            "--upstream-username", upstream_registry.username, "--project", "ac-mirror",
            extra_env=secrets,
        )
        rendered = plugin.template(_hook_chart(tmp_path))
    finally:
        config.unlink(missing_ok=True)
    assert setup.returncode == 0, setup.stderr
    assert "[project] ac-mirror: created" in setup.stdout
    harbor_host = harbor.url.split("://", 1)[1]
    assert rendered.returncode == 0, rendered.stderr
    assert f"image: {harbor_host}/ac-mirror/containers/app:1.0" in rendered.stdout


def test_install_dry_run_client_post_renders_on_helm4_needs_cluster_on_helm3(
    plugin: Plugin, tmp_path: Path
) -> None:
    done = plugin.env.run(
        "install", "demo", _hook_chart(tmp_path), "--dry-run=client",
        "--post-renderer", "harbor-mirror", "--post-renderer-args", f"--harbor-host={HARBOR}",
    )
    if plugin.major == 4:
        assert done.returncode == 0, done.stderr
        assert not UPSTREAM.search(done.stdout)
        assert f"image: {HARBOR}/application-collection/containers/migrate:1.0" in done.stdout
    else:
        assert done.returncode != 0
        assert "Kubernetes cluster unreachable" in done.stderr


def test_missing_harbor_host_fails_helm_and_says_why(plugin: Plugin, tmp_path: Path) -> None:
    done = plugin.template(_hook_chart(tmp_path))

    assert done.returncode != 0
    assert done.stdout == ""
    reason = "no Harbor host configured"
    if plugin.major == 4:  # Helm 4 drops the plugin's stderr; `helm harbor-mirror` keeps it
        assert reason not in done.stderr
        shown = plugin.env.run("harbor-mirror")
        assert shown.returncode == 0
        assert "Last post-renderer error" in shown.stdout
        assert reason in shown.stdout.replace("\n  ", " ")
    else:
        assert reason in done.stderr


# helpers -------------------------------------------------------------------------------------


def _hook_lines(stderr: str) -> list[str]:
    """What the install hook itself printed (Helm adds its own `Error:` line)."""
    return [line for line in stderr.splitlines() if line.startswith("harbor-mirror:")]


def _listed(env: HelmEnv) -> dict[str, str]:
    """`helm plugin list` as name → version; it must not warn about any plugin."""
    done = env.run("plugin", "list")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[1:] if line.strip()]
    return {row[0]: row[1] for row in rows}


def _bump_version(repo: Path, version: str) -> None:
    for name in ("pyproject.toml", "plugin.yaml", "hooks/helm4-cli.yaml", "postrender/plugin.yaml"):
        path = repo / name
        text = re.sub(r'(?m)^version(: | = ")[^"\n]+', rf"version\g<1>{version}", path.read_text())
        path.write_text(text)
    commit(repo, f"release {version}")


def _unrelated_plugin(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "plugin.yaml").write_text(
        "name: hello\nversion: 1.0.0\nusage: say hello\ndescription: an unrelated plugin\n"
        "platformCommand:\n"
        '  - command: sh\n    args: ["-c", "echo hello from an unrelated plugin"]\n'
    )
    return directory


def _hook_chart(root: Path) -> Path:
    """A chart whose pre-install hook Job pulls from the upstream, next to a Deployment."""
    chart = root / "hooked"
    (chart / "templates").mkdir(parents=True, exist_ok=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: hooked\nversion: 0.1.0\n")
    (chart / "templates" / "deployment.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: app\n"
        "          image: dp.apps.rancher.io/containers/app:1.0\n"
    )
    (chart / "templates" / "migrate.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n"
        "    helm.sh/hook: pre-install\nspec:\n  template:\n    spec:\n"
        "      restartPolicy: Never\n      containers:\n        - name: migrate\n"
        "          image: dp.apps.rancher.io/containers/migrate:1.0\n"
    )
    return chart


def _documents(stream: str) -> list[str]:
    return [doc for doc in re.split(r"(?m)^---\s*$", stream) if doc.strip()]


def _assert_upstream_only_in_hooks_on_helm3(stream: str, major: int) -> None:
    leftovers = [doc for doc in _documents(stream) if UPSTREAM.search(doc)]
    if major == 4:
        assert leftovers == []
    else:
        assert all("helm.sh/hook" in doc for doc in leftovers), leftovers
