"""`setup --emit FORMAT FILE`: the node-mirror snippet for the Harbor that setup just ensured,
run as an operator runs it, against the Harbor emulator over loopback."""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.commands.setup_test import assert_one_line_error, host_of, run_cli
from tests.harbor_emulator import FakeUpstream, HarborEmulator

tomllib = pytest.importorskip("tomllib", reason="TOML parsing needs Python 3.11's tomllib")


def _emit(harbor: HarborEmulator, upstream: FakeUpstream, tmp_path: Path, *args: str
          ) -> subprocess.CompletedProcess[str]:
    return run_cli(harbor.url, upstream, tmp_path, *args)


def test_emit_rke2_with_the_robots_credentials(
    harbor: HarborEmulator, upstream_registry: FakeUpstream, tmp_path: Path
) -> None:
    secret_out, target = tmp_path / "pull-secret.json", tmp_path / "registries.yaml"
    result = _emit(harbor, upstream_registry, tmp_path, "--robot", "nodes", "--secret-out",
                   str(secret_out), "--emit", "rke2", str(target), "--emit-credentials")
    assert result.returncode == 0, result.stderr
    assert f"[node-mirror] {target}: created (rke2, robot credentials embedded)" in result.stdout
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    config = YAML(typ="safe").load(target.read_text())
    harbor_host = host_of(harbor.url)
    assert config["mirrors"]["dp.apps.rancher.io"] == {
        "endpoint": [f"https://{harbor_host}"],
        "rewrite": {"^(.*)$": "application-collection/$1"},
    }
    (robot,) = harbor.state.robots.values()
    auth = config["configs"][harbor_host]["auth"]
    assert auth == {"username": "robot$application-collection+nodes", "password": robot.secret}
    # The only secret in the file is the robot's: not the admin's, not the upstream token.
    text = target.read_text()
    assert upstream_registry.token not in text
    assert robot.secret not in result.stdout + result.stderr
    assert json.loads(secret_out.read_text())["kind"] == "Secret"

    again = _emit(harbor, upstream_registry, tmp_path, "--robot", "nodes", "--secret-out",
                  str(secret_out), "--emit", "rke2", str(target), "--emit-credentials")
    assert again.returncode == 0, again.stderr
    assert f"[node-mirror] {target}: unchanged" in again.stdout


@pytest.mark.parametrize(("fmt", "name"), [("containerd", "hosts.toml"),
                                           ("crio", "harbor-mirror.conf")])
def test_emit_toml_formats_carry_no_credentials(
    fmt: str, name: str, harbor: HarborEmulator, upstream_registry: FakeUpstream, tmp_path: Path
) -> None:
    target = tmp_path / name
    result = _emit(harbor, upstream_registry, tmp_path, "--emit", fmt, str(target))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    text = target.read_text()
    config = tomllib.loads(text)
    assert host_of(harbor.url) in json.dumps(config)
    assert "application-collection" in json.dumps(config)
    assert upstream_registry.token not in text and "password" not in text


def test_emit_dry_run_writes_nothing(
    harbor: HarborEmulator, upstream_registry: FakeUpstream, tmp_path: Path
) -> None:
    target = tmp_path / "registries.yaml"
    result = _emit(harbor, upstream_registry, tmp_path, "--dry-run", "--emit", "rke2", str(target))
    assert result.returncode == 0, result.stderr
    assert f"[node-mirror] {target}: would create (rke2, no credentials)" in result.stdout
    assert not target.exists()

    secret_out = tmp_path / "pull-secret.json"
    embedding = _emit(harbor, upstream_registry, tmp_path, "--dry-run", "--robot", "nodes",
                      "--secret-out", str(secret_out), "--emit", "rke2", str(target),
                      "--emit-credentials")
    assert embedding.returncode == 0, embedding.stderr
    assert f"{target}: would create (rke2, robot credentials embedded)" in embedding.stdout
    assert not target.exists() and not secret_out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--emit-credentials"], "--emit-credentials needs --emit rke2"),
        (["--emit", "crio", "x.conf", "--emit-credentials"], "crio has no place for credentials"),
        (["--emit", "rke2", "r.yaml", "--emit-credentials"], "needs --robot NAME --secret-out"),
    ],
)
def test_emit_refuses_credentials_it_cannot_place_before_contacting_harbor(
    args: list[str], needle: str, harbor: HarborEmulator, upstream_registry: FakeUpstream,
    tmp_path: Path,
) -> None:
    result = _emit(harbor, upstream_registry, tmp_path, *args)
    assert_one_line_error(result, 2, needle)
    assert harbor.requests == []
