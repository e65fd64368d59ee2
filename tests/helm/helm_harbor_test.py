"""Helm's way into Harbor: the chart URL it fetches, the login it holds, the files it leaves."""

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

from postrender.endpoint import PASSWORD_ENV, USERNAME_ENV, Endpoint
from postrender.errors import ConfigError
from postrender.helm.args import CommandLine
from postrender.helm.harbor import REGISTRY_CONFIG_ENV, Harbor
from postrender.rewrite.rules import MirrorRule
from postrender.settings import Settings

HOST = "core.harbor.domain"
CLI = Path(sys.executable).parent / "harbor-mirror"
ROBOT = ("robot$application-collection+k8s-pull", "s3cr3t-robot-token")


def secret_file(tmp_path: Path, host: str = HOST) -> Path:
    """A pull Secret as `kubectl create secret docker-registry` (and setup) shape it."""
    config = {"auths": {host: {"username": ROBOT[0], "password": ROBOT[1],
                               "auth": base64.b64encode(":".join(ROBOT).encode()).decode()}}}
    manifest = {
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "application-collection"},
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }
    path = tmp_path / "pull-secret.json"
    path.write_text(json.dumps(manifest))
    return path


@pytest.mark.parametrize(
    ("project", "expected"),
    [
        ("application-collection", f"oci://{HOST}/application-collection/charts/etcd"),
        ("appco-mirror", f"oci://{HOST}/appco-mirror/charts/etcd"),  # replication destination
    ],
)
def test_chart_url_maps_the_upstream_chart_into_the_project(project: str, expected: str) -> None:
    harbor = Harbor.from_settings(Settings(harbor_host=HOST, project=project), {})
    assert harbor.rule.chart_url("oci://dp.apps.rancher.io/charts/etcd") == expected
    assert harbor.rule.chart_url("oci://registry.suse.com/charts/etcd") is None
    assert harbor.rule.chart_url("./charts/etcd") is None


def test_map_charts_rewrites_the_chart_argument_only() -> None:
    harbor = Harbor.from_settings(Settings(harbor_host=HOST))
    args = ["etcd", "oci://dp.apps.rancher.io/charts/etcd", "--version", "1.2.3",
            "--set", "x=oci://dp.apps.rancher.io/charts/etcd", "-n", "oci://dp.apps.rancher.io/x"]
    mapped, used = harbor.map_charts(CommandLine.parse("install", args, 4))
    assert mapped == ["etcd", f"oci://{HOST}/application-collection/charts/etcd", *args[2:]]
    assert used == [f"oci://{HOST}/application-collection/charts/etcd"]


def test_helm_environ_holds_the_robot_login_in_a_private_file_removed_afterwards(
    tmp_path: Path,
) -> None:
    settings = Settings(harbor_host=HOST, secret_file=str(secret_file(tmp_path)))
    harbor = Harbor.from_settings(settings)
    user_config = str(tmp_path / "user" / "registry" / "config.json")
    with harbor.helm_environ({REGISTRY_CONFIG_ENV: user_config, "PATH": "/bin"}) as env:
        path = Path(env[REGISTRY_CONFIG_ENV])
        assert str(path) != user_config
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        auth = json.loads(path.read_text())["auths"][HOST]["auth"]
        assert base64.b64decode(auth).decode() == ":".join(ROBOT)
        assert env["PATH"] == "/bin"
    assert not path.parent.exists()
    assert not Path(user_config).exists()
    assert ROBOT[1] not in repr(harbor)


@pytest.mark.parametrize("with_secret_file", [False, True])
def test_helm_environ_follows_the_credential_rule(tmp_path: Path, with_secret_file: bool) -> None:
    """The Secret file first, else the HARBOR_MIRROR_USERNAME/_HARBOR_PASSWORD pair: Helm signs
    in as the /v2/ checks do."""
    pair = {USERNAME_ENV: "admin", PASSWORD_ENV: "pw-5678"}
    secret = str(secret_file(tmp_path)) if with_secret_file else None
    harbor = Harbor.from_settings(Settings(harbor_host=HOST, secret_file=secret), pair)
    with harbor.helm_environ({}) as env:
        auth = json.loads(Path(env[REGISTRY_CONFIG_ENV]).read_text())["auths"][HOST]["auth"]
    expected = ":".join(ROBOT) if with_secret_file else "admin:pw-5678"
    assert base64.b64decode(auth).decode() == expected


def test_helm_environ_without_a_secret_file_leaves_the_environment_alone() -> None:
    harbor = Harbor.from_settings(Settings(harbor_host=HOST), {})
    with harbor.helm_environ({"PATH": "/bin"}) as env:
        assert env == {"PATH": "/bin"}


def test_a_secret_file_for_another_harbor_is_refused(tmp_path: Path) -> None:
    settings = Settings(harbor_host=HOST, secret_file=str(secret_file(tmp_path, "other.host")))
    with pytest.raises(ConfigError, match=f"holds no credentials for {HOST}"):
        Harbor.from_settings(settings)


def test_tls_flags_trust_the_remembered_ca_unless_one_is_given() -> None:
    remembered = Settings(harbor_host=HOST, ca_file="/etc/harbor-ca.pem")
    assert Harbor.from_settings(remembered).tls_flags() == ["--ca-file=/etc/harbor-ca.pem"]
    given = Endpoint.from_settings(remembered._replace(ca_file="ca.pem"), {}, plain_http=True)
    assert Harbor(MirrorRule("u.example", HOST, "p"), given).tls_flags() == [
        "--ca-file=ca.pem", "--plain-http"
    ]
    assert Harbor.from_settings(Settings(harbor_host=HOST)).tls_flags() == []


def test_helm_environ_cleans_up_when_helm_fails(tmp_path: Path) -> None:
    harbor = Harbor.from_settings(
        Settings(harbor_host=HOST, secret_file=str(secret_file(tmp_path)))
    )
    with pytest.raises(RuntimeError), harbor.helm_environ(dict(os.environ)) as env:
        directory = Path(env[REGISTRY_CONFIG_ENV]).parent
        raise RuntimeError("helm failed")
    assert not directory.exists()


def test_sigterm_during_a_helm_run_leaves_no_login_on_disk(helm4: Path, tmp_path: Path) -> None:
    """A CI job's timeout kills `helm harbor-mirror pull` while helm waits for a Harbor that
    never answers: the robot's login must not outlive the run in TMPDIR."""
    silent = socket.create_server(("127.0.0.1", 0))
    host = f"127.0.0.1:{silent.getsockname()[1]}"
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("HARBOR_MIRROR_", "HELM_"))}  # fmt: skip
    env.update(TMPDIR=str(scratch), HELM_BIN=str(helm4), HARBOR_MIRROR_HARBOR_HOST=host,
               HARBOR_MIRROR_SECRET_FILE=str(secret_file(tmp_path, host)),
               HELM_CONFIG_HOME=str(tmp_path / "config"), HELM_CACHE_HOME=str(tmp_path / "cache"))
    with silent, subprocess.Popen(
        [str(CLI), "pull", f"oci://{host}/application-collection/charts/etcd", "--plain-http",
         "-d", str(tmp_path)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) as running:  # fmt: skip
        silent.settimeout(60)
        connection, _ = silent.accept()  # helm is running, signed in from the file
        assert [p.name[:19] for p in scratch.iterdir()] == ["harbor-mirror-helm-"]
        running.send_signal(signal.SIGTERM)
        running.wait(timeout=60)
        connection.close()

    assert list(scratch.iterdir()) == []
    assert running.returncode == 128 + signal.SIGTERM


def test_dependency_update_is_refused_only_where_helm_would_fetch_from_the_upstream(
    tmp_path: Path,
) -> None:
    harbor = Harbor.from_settings(Settings(harbor_host=HOST))
    upstream, other = tmp_path / "upstream", tmp_path / "other"
    for chart, repository in ((upstream, "oci://dp.apps.rancher.io/charts"),
                              (other, "file://../sub")):  # fmt: skip
        chart.mkdir()
        (chart / "Chart.yaml").write_text(
            f"apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n"
            f"  - {{name: sub, version: 1.0.0, repository: '{repository}'}}\n"
        )

    def mapped(*args: str) -> list[str]:
        return harbor.map_charts(CommandLine.parse("template", ["demo", *args], 4))[0]

    with pytest.raises(ConfigError, match=r"^--dependency-update: .* run `helm harbor-mirror "
                                          rf"dependency build {upstream}` first"):
        mapped(str(upstream), "--dependency-update")
    with pytest.raises(ConfigError):
        mapped(str(upstream), "--dependency-update=false", "--dependency-update=true")
    assert mapped(str(upstream), "--dependency-update=false")
    assert mapped(str(other), "--dependency-update")
    assert mapped(str(upstream))


def test_dependency_update_is_let_through_once_charts_holds_every_dependency(
    tmp_path: Path,
) -> None:
    """Helm updates dependencies only when one is missing from charts/ (pkg/cmd/install.go
    runInstall, upgrade.go: action.CheckDependencies, by the subchart's name), so after
    `dependency build` the flag fetches nothing: no reason to refuse it."""
    harbor = Harbor.from_settings(Settings(harbor_host=HOST))
    chart = tmp_path / "umbrella"
    (chart / "charts" / "etcd").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n"
        "  - {name: etcd, version: 1.0.0, repository: 'oci://dp.apps.rancher.io/charts'}\n"
        "  - {name: redis, version: 1.0.0, repository: 'oci://dp.apps.rancher.io/charts'}\n"
    )
    (chart / "charts" / "etcd" / "Chart.yaml").write_text("apiVersion: v2\nname: etcd\n")
    line = CommandLine.parse("template", ["demo", str(chart), "--dependency-update"], 4)

    with pytest.raises(ConfigError, match="--dependency-update: "):
        harbor.map_charts(line)  # redis is missing: Helm would fetch both from the upstream
    archive = tmp_path / "redis"
    archive.mkdir()
    (archive / "Chart.yaml").write_text("apiVersion: v2\nname: redis\nversion: 1.0.0\n")
    subprocess.run(["tar", "-czf", str(chart / "charts" / "redis-1.0.0.tgz"), "-C",
                    str(tmp_path), "redis"], check=True)  # fmt: skip

    assert harbor.map_charts(line)[0] == list(line.args)
