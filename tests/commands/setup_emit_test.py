"""`setup --emit FORMAT FILE`: the node-mirror snippet for the Harbor that setup just ensured,
run as an operator runs it, against the Harbor emulator over loopback."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from tests.harbor_emulator import FakeUpstream, HarborEmulator
from tests.support.setup_runs import assert_one_line_error, host_of, run_cli

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
        # auth holds the credentials without the flag: the refusal names a format that cannot
        (["--emit", "auth", "a", "--emit", "crio", "c", "--emit-credentials"], "crio has no place"),
        (["--emit", "auth", "a", "--emit-credentials"], "--emit-credentials needs --emit rke2"),
        (["--emit", "rke2", "r.yaml", "--emit-credentials"], "needs --robot NAME --secret-out"),
        (["--emit", "auth", "a.json"], "--emit auth needs --robot NAME --secret-out FILE"),
        (["--node-ca-file", "/ca.pem"], "--node-ca-file needs --emit FORMAT FILE"),
        (["--emit", "crio", "c", "--node-ca-file", "ca.pem"], "must be an absolute path"),
        (["--emit", "crio", "same", "--emit", "containerd", "same"], "is given twice"),
    ],
)
def test_emit_refuses_credentials_it_cannot_place_before_contacting_harbor(
    args: list[str], needle: str, harbor: HarborEmulator, upstream_registry: FakeUpstream,
    tmp_path: Path,
) -> None:
    result = _emit(harbor, upstream_registry, tmp_path, *args)
    assert_one_line_error(result, 2, needle)
    assert harbor.requests == []


def test_emit_is_repeatable_and_names_the_ca_setup_was_given(
    harbor_tls: HarborEmulator, upstream_registry: FakeUpstream, tmp_path: Path
) -> None:
    assert harbor_tls.ca_file is not None
    ca = str(Path(harbor_tls.ca_file).absolute())
    files = {fmt: tmp_path / "node" / fmt for fmt in ("rke2", "containerd", "crio", "auth")}
    emits = [arg for fmt, path in files.items() for arg in ("--emit", fmt, str(path))]
    result = run_cli(harbor_tls.url, upstream_registry, tmp_path, "--ca-file", ca, "--robot",
                     "nodes", "--secret-out", str(tmp_path / "secret.json"), *emits)
    assert result.returncode == 0, result.stderr
    for fmt, path in files.items():
        assert f"[node-mirror] {path}: created ({fmt}" in result.stdout
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    harbor_host = host_of(harbor_tls.url)
    rke2 = YAML(typ="safe").load(files["rke2"].read_text())
    assert rke2["configs"] == {harbor_host: {"tls": {"ca_file": ca}}}  # no --emit-credentials
    (host,) = tomllib.loads(files["containerd"].read_text())["host"].values()
    assert host["ca"] == ca
    assert f"/etc/containers/certs.d/{harbor_host}/ca.crt" in files["crio"].read_text()
    (robot,) = harbor_tls.state.robots.values()
    (entry,) = json.loads(files["auth"].read_text())["auths"].values()
    assert robot.secret in base64.b64decode(entry["auth"]).decode()
    assert robot.secret not in result.stdout + result.stderr


def test_node_ca_file_names_where_the_nodes_keep_the_ca(
    harbor: HarborEmulator, upstream_registry: FakeUpstream, tmp_path: Path
) -> None:
    target = tmp_path / "hosts.toml"
    result = _emit(harbor, upstream_registry, tmp_path, "--emit", "containerd", str(target),
                   "--node-ca-file", "/etc/pki/harbor/ca.pem")
    assert result.returncode == 0, result.stderr
    (host,) = tomllib.loads(target.read_text())["host"].values()
    assert host["ca"] == "/etc/pki/harbor/ca.pem"
    assert "every node must have it at /etc/pki/harbor/ca.pem" in target.read_text()


def test_a_rerun_without_robot_uses_the_secret_file_the_config_remembers(
    harbor: HarborEmulator, upstream_registry: FakeUpstream, tmp_path: Path
) -> None:
    secret_out = tmp_path / "pull-secret.json"
    first = _emit(harbor, upstream_registry, tmp_path, "--robot", "nodes", "--secret-out",
                  str(secret_out))
    assert first.returncode == 0, first.stderr

    auth_file = tmp_path / "auth.json"
    again = _emit(harbor, upstream_registry, tmp_path, "--emit", "auth", str(auth_file))
    assert again.returncode == 0, again.stderr
    (robot,) = harbor.state.robots.values()
    (entry,) = json.loads(auth_file.read_text())["auths"].values()
    username = "robot$application-collection+nodes"
    assert base64.b64decode(entry["auth"]).decode() == f"{username}:{robot.secret}"
    # The remembered Secret is what Helm and the pods use: no login is needed (issue 18 item 4).
    assert "Helm needs a login" not in again.stdout
    assert f"kubectl apply -n <namespace> -f {secret_out}" in again.stdout

