"""The real `harbor-mirror` executable: routing, the error boundary, stdout all-or-nothing."""

from __future__ import annotations

import json
import os
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
        (b"data:\n  r: dp.apps.rancher.io\n", ["--harbor-host=h.io", "--strict"], b"--strict"),
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
