"""The helm command line the wrappers build, with the real Helm binaries and no registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from postrender.errors import ConfigError
from postrender.helm import wrap
from postrender.helm.args import CommandLine
from postrender.helm.harbor import Harbor
from postrender.helm.render import REFUSED_HINT, failure, helm_major
from postrender.settings import Settings
from tests.support.fixtures_helm import isolated_helm_env

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts-fixtures" / "etcd-like"
SETTINGS = Settings(harbor_host="core.harbor.domain", ca_file="/etc/harbor-ca.pem")
HARBOR = Harbor.from_settings(SETTINGS)
TARGET = "core.harbor.domain/application-collection"


def _line(subcommand: str, *args: str | Path) -> CommandLine:
    """`helm SUBCOMMAND ARGS` as Helm 4 reads it."""
    return CommandLine.parse(subcommand, [str(arg) for arg in args], 4)


def _wrapper(
    helm: Path, root: Path, *args: str | Path, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """`harbor-mirror ARGS` with `helm` in a throw-away home and only a Harbor host set."""
    env = isolated_helm_env(helm, root / "helm").env
    env.update(HELM_BIN=str(helm), HARBOR_MIRROR_HARBOR_HOST="core.harbor.domain", **extra_env)
    cli = Path(sys.executable).parent / "harbor-mirror"
    return subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True, env=env,
                          check=False, timeout=300)  # fmt: skip


def plain_chart(root: Path) -> Path:
    """A chart that does not take its registry from global.imageRegistry."""
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: plain\nversion: 0.1.0\n")
    (root / "values.yaml").write_text("image: dp.apps.rancher.io/containers/app:1\n")
    return root


def test_helm_major_asks_the_helm_that_will_run(helm4: Path, helm3: Path) -> None:
    assert helm_major({"HELM_BIN": str(helm4)}) == 4
    assert helm_major({"HELM_BIN": str(helm3)}) == 3


def test_helm4_gets_the_post_renderer_plugin_and_the_harbor_chart(helm4: Path) -> None:
    command = wrap.build(
        _line("install", "etcd", "oci://dp.apps.rancher.io/charts/etcd", "--version", "1.2.3"),
        HARBOR, SETTINGS, major=4, verify=True, environ={"HELM_BIN": str(helm4)},
    )  # fmt: skip
    assert command.args == [
        "install", "--ca-file=/etc/harbor-ca.pem", "--post-renderer", "harbor-mirror",
        "--post-renderer-args", "--verify",
        "etcd", f"oci://{TARGET}/charts/etcd", "--version", "1.2.3",
    ]  # fmt: skip
    assert command.charts == [f"oci://{TARGET}/charts/etcd"]


def test_helm3_gets_this_executable_and_global_values_for_a_conventional_chart(
    helm3: Path,
) -> None:
    settings = SETTINGS._replace(pull_secret="harbor-pull", ca_file=None)
    command = wrap.build(
        _line("template", "demo", CHART), Harbor.from_settings(settings), settings, major=3,
        verify=False, environ={"HELM_BIN": str(helm3)},
    )  # fmt: skip
    executable = str(Path(sys.executable).parent / "harbor-mirror")
    assert command.args == [
        "template", "--post-renderer", executable, "--post-renderer-args", "postrender",
        "--set", f"global.imageRegistry={TARGET}",
        "--set", "global.imagePullSecrets[0].name=harbor-pull",
        "demo", str(CHART),
    ]  # fmt: skip


def test_helm3_leaves_the_values_of_other_charts_alone(helm3: Path, tmp_path: Path) -> None:
    chart = plain_chart(tmp_path / "plain")
    settings = SETTINGS._replace(ca_file=None)
    command = wrap.build(_line("template", "demo", chart), Harbor.from_settings(settings),
                         settings, major=3, verify=False, environ={"HELM_BIN": str(helm3)})
    assert "--set" not in command.args


def test_pull_gets_no_post_renderer_and_refuses_verify(helm4: Path) -> None:
    env = {"HELM_BIN": str(helm4)}
    command = wrap.build(_line("pull", "oci://dp.apps.rancher.io/charts/etcd"), HARBOR, SETTINGS,
                         major=4, verify=False, environ=env)  # fmt: skip
    assert command.args == ["pull", "--ca-file=/etc/harbor-ca.pem", f"oci://{TARGET}/charts/etcd"]
    with pytest.raises(ConfigError, match="pull renders none"):
        wrap.build(_line("pull", "x"), HARBOR, SETTINGS, major=4, verify=True, environ=env)


def test_verify_is_taken_out_of_helms_arguments() -> None:
    assert wrap.split_verify(_line("install", "demo", "c", "--verify", "--set", "a=b")) == (
        ["demo", "c", "--set", "a=b"], True,
    )
    assert wrap.split_verify(_line("install", "demo", "c")) == (["demo", "c"], False)


def test_verify_given_to_the_post_renderer_stays_its_argument() -> None:
    """`--post-renderer-args --verify` is the post-renderer's own switch, as the README
    allows; taking it out would leave helm a `--post-renderer-args` with no value."""
    args = ["demo", "c", "--post-renderer-args", "--verify", "--set", "a=b"]
    assert wrap.split_verify(_line("install", *args)) == (args, False)
    assert wrap.split_verify(
        _line("install", "demo", "c", "--post-renderer-args=--strict", "--verify")
    ) == (["demo", "c", "--post-renderer-args=--strict"], True)
    assert wrap.split_verify(_line("install", "demo", "--", "--verify")) == (
        ["demo", "--", "--verify"], False,
    )


@pytest.mark.parametrize("flag", ["--post-renderer", "--registry-config"])
def test_flags_the_wrapper_cannot_honour_are_refused(flag: str) -> None:
    with pytest.raises(ConfigError, match=f"install: {flag} is not allowed here"):
        wrap.refuse(_line("install", "demo", "chart", f"{flag}=x"))


def test_helm3_users_own_set_and_post_renderer_args_still_apply(
    helm3: Path, tmp_path: Path
) -> None:
    """The README's promises for the wrapper on Helm 3: a `--set global.imageRegistry` of the
    user's beats the one the wrapper adds for hooks, and `--post-renderer-args` reach the
    post-renderer."""
    report = tmp_path / "report.json"
    done = _wrapper(helm3, tmp_path, "template", "demo", CHART,
                    "--set", "global.imageRegistry=registry.example/own",
                    "--post-renderer-args", f"--report={report}")  # fmt: skip

    assert done.returncode == 0, done.stderr
    (hook,) = [doc for doc in done.stdout.split("\n---\n") if "helm.sh/hook:" in doc]
    assert '"registry.example/own/containers/kubectl:' in hook
    assert isinstance(json.loads(report.read_text()), list)


def test_helm3_verify_is_refused_with_output_dir_whose_files_it_would_not_check(
    helm3: Path, tmp_path: Path
) -> None:
    """On Helm 3 `--verify` checks what `helm template` prints; with --output-dir it prints
    nothing, so it would pass without checking a reference."""
    done = _wrapper(helm3, tmp_path, "template", "demo", CHART, "--verify", "--output-dir",
                    tmp_path / "out")  # fmt: skip

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "harbor-mirror: error: template: --verify on Helm 3 checks the stream helm template "
        "prints, and --output-dir writes it to files instead; drop one\n"
    )
    assert not (tmp_path / "out").exists()


def test_helm_short_flag_clusters_before_the_chart_reach_helm(helm3: Path, tmp_path: Path) -> None:
    """`-fhooks.yaml` and `-nharbor` are helm's `-f hooks.yaml` and `-n harbor`; they must not
    be read as a cluster of one-letter options holding `-h` (which printed help, exit 0)."""
    values = tmp_path / "hooks.yaml"
    values.write_text("replicaCount: 7\n")

    done = _wrapper(helm3, tmp_path, "template", f"-f{values}", "-nharbor", "demo", CHART)

    assert done.returncode == 0, done.stderr
    assert "replicas: 7" in done.stdout
    for flag in ("--help", "-h"):
        helped = _wrapper(helm3, tmp_path, "template", flag)
        assert helped.returncode == 0
        assert helped.stdout.startswith("Usage: harbor-mirror template [HELM ARGS]...")


def test_helm3_reads_a_short_flag_cluster_ending_in_a_value_flag_as_helm_does(
    helm3: Path, tmp_path: Path
) -> None:
    """`-gn demo-ns` is `--generate-name --namespace demo-ns`; read as a switch and a positional
    it made the Helm 3 wrapper run `helm show values demo-ns` and fail."""
    chart = tmp_path / "conventional"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: conventional\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("global:\n  imageRegistry: dp.apps.rancher.io\n")
    (chart / "templates" / "where.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: where\n"
        "  namespace: {{ .Release.Namespace }}\n"
        "data:\n  registry: {{ .Values.global.imageRegistry }}\n"
    )

    done = _wrapper(helm3, tmp_path, "template", chart, "-gn", "demo-ns")

    assert done.returncode == 0, done.stderr
    assert "namespace: demo-ns\n" in done.stdout
    assert f"registry: {TARGET}\n" in done.stdout  # the chart's values were read


def test_h_given_as_a_flags_value_is_that_value_not_help(helm3: Path, tmp_path: Path) -> None:
    """Helm reads `--kubeconfig -h` as the kubeconfig `-h`; the wrapper showed its help and
    exited 0 without running helm."""
    done = _wrapper(helm3, tmp_path, "template", "demo", CHART, "--kubeconfig", "-h")

    assert done.returncode == 0, done.stderr
    assert not done.stdout.startswith("Usage:")
    assert "kind: StatefulSet" in done.stdout


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        ('Error: GET "https://h/v2/p/charts/etcd/manifests/1.0.0": response status code 401: '
         "unauthorized: unauthorized to access repository", True),
        ("Error: failed to authorize: failed to fetch oauth token: unexpected status from GET "
         "request to https://h/service/token: 401 Unauthorized", True),
        ('Error: chart "etcd" version "0.401.0" not found in oci://h/p/charts/etcd', False),
        ("Error: manifest sha256:401e2a not found", False),
    ],
)
def test_the_rotated_secret_hint_is_added_only_when_harbor_refused_the_sign_in(error, refused):
    """Issue 16: Helm's 401 gets the hint about a robot secret rotated elsewhere; a version
    or digest that merely contains 401 must not send the user after their Secret file."""
    line = failure("helm template", 1, error.encode(), ["oci://h/p/charts/etcd"])
    assert line.endswith(REFUSED_HINT) is refused


def test_a_users_not_pinned_file_variable_is_neither_read_nor_handed_on(
    helm3: Path, tmp_path: Path
) -> None:
    """The wrappers name their own relay file (only with --lock); one the user's environment
    names is not theirs to print after helm, nor the post-renderer's to write to."""
    notes = tmp_path / "notes.txt"
    notes.write_text("token: s3cret\n")
    done = _wrapper(helm3, tmp_path, "template", "demo", CHART,
                    HARBOR_MIRROR_NOT_PINNED_FILE=str(notes))
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stderr
    assert notes.read_text() == "token: s3cret\n"
