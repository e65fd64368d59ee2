"""The real `harbor-mirror` executable: routing, the error boundary, stdout all-or-nothing."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("harbor-mirror"))
MANIFEST = b"kind: Pod\nspec:\n  containers:\n  - image: dp.apps.rancher.io/containers/etcd:3.5\n"
REWRITTEN = MANIFEST.replace(b"dp.apps.rancher.io", b"h.example.com/application-collection")


def run(
    args: list[str], stdin: bytes, tmp_path: Path, **env: str
) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HARBOR_MIRROR_", "HELM_"))}
    clean.update(
        HELM_CONFIG_HOME=str(tmp_path / "config"), HELM_CACHE_HOME=str(tmp_path / "cache"), **env
    )
    return subprocess.run([EXE, *args], input=stdin, capture_output=True, env=clean, check=False)


def last_error(tmp_path: Path) -> str:
    return (tmp_path / "cache" / "harbor-mirror" / "last-error").read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["postrender", "--harbor-host", "h.example.com"],
        ["--harbor-host=h.example.com"],  # how Helm 3 runs it with --post-renderer-args
    ],
)
def test_postrender_rewrites_stdin(args: list[str], tmp_path: Path) -> None:
    result = run(args, MANIFEST, tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, REWRITTEN, b"")


def test_bare_call_on_a_pipe_is_the_post_renderer(tmp_path: Path) -> None:
    result = run([], MANIFEST, tmp_path, HARBOR_MIRROR_HARBOR_HOST="h.example.com")
    assert (result.returncode, result.stdout) == (0, REWRITTEN)


def test_bare_call_through_helm_shows_the_commands(tmp_path: Path) -> None:
    result = run([], b"", tmp_path, HELM_PLUGIN_NAME="harbor-mirror-cli")
    assert result.returncode == 0
    assert b"postrender" in result.stdout and b"Commands" in result.stdout


def test_postrender_help_lists_every_option(tmp_path: Path) -> None:
    result = run(["postrender", "--help"], b"", tmp_path)
    assert result.returncode == 0
    for flag in (b"--harbor-host", b"--project", b"--upstream", b"--upstream-pull-secret",
                 b"--pull-secret", b"--config", b"--report", b"--strict"):
        assert flag in result.stdout


@pytest.mark.parametrize(
    ("stdin", "args", "message"),
    [
        (MANIFEST, [], b"no Harbor host configured: run `helm harbor-mirror setup`"),
        (b"image: dp.apps.rancher.io/c/x\n  bad: [\n", ["--harbor-host=h.io"], b"invalid YAML"),
        (b"\x7fELF\x00\x01binary", ["--harbor-host=h.io"], b"binary data"),
        (b"image: \xe9t\xe9\n", ["--harbor-host=h.io"], b"not UTF-8 text"),
        (MANIFEST, ["--harbor-host=h.io", "--nope"], b"unknown option '--nope'"),
        (b"data:\n  r: see dp.apps.rancher.io\n", ["--harbor-host=h.io", "--strict"], b"--strict"),
    ],
)
def test_failure_prints_one_line_and_nothing_on_stdout(
    stdin: bytes, args: list[str], message: bytes, tmp_path: Path
) -> None:
    result = run(["postrender", *args], stdin, tmp_path)
    assert result.returncode != 0
    assert result.stdout == b""
    assert result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr
    assert message in result.stderr
    # Helm 4 drops the post-renderer's stderr, so the same line is kept for `helm harbor-mirror`.
    assert message.decode() in last_error(tmp_path)


def test_last_error_shown_by_the_command_group(tmp_path: Path) -> None:
    run(["postrender"], MANIFEST, tmp_path)
    result = run([], b"", tmp_path, HELM_PLUGIN_NAME="harbor-mirror-cli")
    assert b"Last post-renderer error" in result.stdout
    assert b"no Harbor host configured" in result.stdout


def test_report_file_lists_the_rewrites(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run(["postrender", "--harbor-host=h.example.com", f"--report={report}"],
                 MANIFEST, tmp_path)
    assert result.returncode == 0
    assert json.loads(report.read_text()) == [
        {
            "document": 1,
            "apiVersion": None,
            "kind": "Pod",
            "name": None,
            "namespace": None,
            "path": "spec.containers[0].image",
            "pointer": "/spec/containers/0/image",
            "before": "dp.apps.rancher.io/containers/etcd:3.5",
            "after": "h.example.com/application-collection/containers/etcd:3.5",
        }
    ]


def test_unknown_subcommand_is_a_usage_error(tmp_path: Path) -> None:
    result = run(["frobnicate"], b"", tmp_path)
    assert result.returncode == 2
    assert b"No such command 'frobnicate'" in result.stderr


DOCKERCONFIG = base64.b64encode(
    json.dumps({"auths": {"dp.apps.rancher.io": {"auth": "Y2hhcnQ6czNjcjN0"}}}).encode()
).decode()
CHART_SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: chart-pull\n"
    f"type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {DOCKERCONFIG}\n"
).encode()


def test_report_is_owner_only_and_holds_no_registry_credentials(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text("[]")
    report.chmod(0o644)  # an older run's file: its mode must not survive
    result = run(["postrender", "--harbor-host=h.example.com", f"--report={report}"],
                 CHART_SECRET, tmp_path)
    assert result.returncode == 0
    assert stat.S_IMODE(report.stat().st_mode) == 0o600
    [entry] = json.loads(report.read_text())
    assert entry["path"] == "data['.dockerconfigjson']"  # the change is listed ...
    written = report.read_text()
    moved = result.stdout.decode().split(".dockerconfigjson: ")[1].strip()
    assert DOCKERCONFIG not in written and moved not in written  # ... its credentials are not


def test_last_error_file_is_owner_only(tmp_path: Path) -> None:
    run(["postrender"], MANIFEST, tmp_path)
    path = tmp_path / "cache" / "harbor-mirror" / "last-error"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_strict_never_quotes_secret_data(tmp_path: Path) -> None:
    stdin = b"kind: Secret\nmetadata:\n  name: s\nstringData:\n  token: dp.apps.rancher.io s3cr3t\n"
    result = run(["postrender", "--harbor-host=h.example.com", "--strict"], stdin, tmp_path)
    assert result.returncode == 1
    assert b"stringData.token" in result.stderr
    assert b"s3cr3t" not in result.stderr and "s3cr3t" not in last_error(tmp_path)


def test_strict_cuts_a_long_value_short(tmp_path: Path) -> None:
    stdin = b"data:\n  r: dp.apps.rancher.io " + b"x" * 5_000_000 + b"\n"
    result = run(["postrender", "--harbor-host=h.example.com", "--strict"], stdin, tmp_path)
    assert result.returncode == 1
    assert result.stderr.count(b"\n") == 1 and len(result.stderr) < 500
    assert "5000019 characters" in result.stderr.decode()
    assert len(last_error(tmp_path)) < 500


@pytest.mark.parametrize(
    ("flag", "host"),
    [("--harbor-host", "harbor"), ("--harbor-host", "core-harbor"), ("--upstream", "mirror")],
)
def test_a_host_that_reads_as_docker_hub_is_refused(flag: str, host: str, tmp_path: Path) -> None:
    others = [] if flag == "--harbor-host" else ["--harbor-host=h.example.com"]
    result = run(["postrender", f"{flag}={host}", *others], MANIFEST, tmp_path)
    assert (result.returncode, result.stdout) == (2, b"")
    assert result.stderr.count(b"\n") == 1
    assert f"{flag} '{host}' would not read as a registry host".encode() in result.stderr
    assert b"Docker Hub" in result.stderr


@pytest.mark.parametrize("host", ["localhost", "harbor:8443", "harbor.lan", "[::1]:5000"])
def test_harbor_hosts_the_grammar_reads_as_registries_are_accepted(
    host: str, tmp_path: Path
) -> None:
    result = run(["postrender", f"--harbor-host={host}"], MANIFEST, tmp_path)
    assert (result.returncode, result.stderr) == (0, b"")
    assert f"{host}/application-collection/containers/etcd".encode() in result.stdout


def test_a_charts_escape_sequence_in_helms_error_is_shown_not_obeyed(
    tmp_path: Path, helm4: Path
) -> None:
    """A chart (Application Collection's, anyone's) writes its own `fail` messages, which
    helm's error line carries to ours: an ESC in one must not drive the user's terminal."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "templates" / "fail.yaml").write_text('{{ fail (printf "%c[2Kall good" 27) }}\n')
    result = run(["overlay", "--harbor-host", "h.example.com", "--out", str(tmp_path / "out"),
                  "demo", str(chart)], b"", tmp_path, HELM_BIN=str(helm4))
    assert (result.returncode, result.stdout) == (2, b""), result.stderr
    assert b"\\x1b[2Kall good" in result.stderr and b"\x1b" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["template", "demo", "oci://dp.apps.rancher.io/charts/etcd", "--harbor-host", "h.example.com"],
     ["login"], ["dependency", "build", "."]],
    ids=lambda args: args[0],
)
def test_a_command_without_harbor_host_does_not_advise_passing_it(
    args: list[str], tmp_path: Path
) -> None:
    """The wrappers, login and dependency take the host from the environment or setup's config
    file only: advice to pass --harbor-host would send the user round in a circle."""
    result = run(args, b"", tmp_path)
    assert (result.returncode, result.stdout) == (2, b"")
    message = result.stderr.decode()
    assert message.startswith("harbor-mirror: error: no Harbor host configured: run `helm "
                              "harbor-mirror setup` or set HARBOR_MIRROR_HARBOR_HOST;"), message
    assert "--harbor-host" not in message and message.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [["postrender"], ["chart-url", "oci://dp.apps.rancher.io/charts/etcd"],
     ["template", "demo", "oci://dp.apps.rancher.io/charts/etcd"], ["dependency", "build", "."],
     ["verify", "demo", "oci://dp.apps.rancher.io/charts/etcd"]],
    ids=lambda args: args[0],
)  # fmt: skip
def test_a_config_file_that_is_not_utf8_is_named_by_every_command(
    args: list[str], tmp_path: Path
) -> None:
    config = tmp_path / "config" / "harbor-mirror" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_bytes(b"harborHost: h\xe4rbor.example.com\n")  # Latin-1, as an editor may save
    result = run(args, MANIFEST, tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == b""
    assert result.stderr.decode() == (
        f"harbor-mirror: error: config file {config}: not UTF-8 text (byte 13)\n"
    )


def test_ctrl_c_in_a_command_exits_130_as_an_interrupt(tmp_path: Path) -> None:
    """CI tells an interrupt from a refusal by the exit code: 130 (128 + SIGINT), never 1."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HARBOR_MIRROR_")}
        clean.update(HELM_CONFIG_HOME=str(tmp_path / "config"),
                     HARBOR_MIRROR_HARBOR_PASSWORD="admin-password-1")  # fmt: skip
        setup = subprocess.Popen(
            [EXE, "setup", "--harbor-url", f"https://127.0.0.1:{silent.getsockname()[1]}",
             "--upstream-username", "svc"],
            env=clean, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        connection, _ = silent.accept()  # setup is waiting for Harbor now
        with connection:
            setup.send_signal(signal.SIGINT)
            stdout, stderr = setup.communicate(timeout=30)
    assert setup.returncode == 130, stderr
    assert stderr.decode().strip() == "harbor-mirror: interrupted"
    assert b"Aborted" not in stderr
    assert stdout == b""


def test_chart_url_prints_the_mapping_without_loading_httpx(tmp_path: Path) -> None:
    """chart-url maps a name (MirrorRule.chart_url, the one mapping); the /v2/ client's httpx
    has nothing to do there, and starting it is paid on every call from a script."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("HARBOR_MIRROR_", "HELM_"))}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "postrender.cli", "chart-url",
         "oci://dp.apps.rancher.io/charts/etcd", "--harbor-host", "h.example.com"],
        capture_output=True, text=True, check=False,
        env={**clean, "HELM_CONFIG_HOME": str(tmp_path)},
    )  # fmt: skip
    assert done.stdout == "oci://h.example.com/application-collection/charts/etcd\n"
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.splitlines()}
    assert "click" in imported  # the probe really saw the command's imports
    assert {name for name in imported if name.split(".")[0] in ("httpx", "httpcore")} == set()
