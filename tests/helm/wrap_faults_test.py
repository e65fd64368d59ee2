"""The helm wrappers under signals, with secrets in the environment and values on stdin: nothing
of the robot's login is left behind, no helm outlives the wrapper, no secret reaches helm."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from postrender.bootstrap.robot import secret_manifest
from postrender.lock import ChartLock, Lock
from tests.support.fixtures_helm import isolated_helm_env

CLI = Path(sys.executable).parent / "harbor-mirror"
ROBOT_PASSWORD = "robot-password-1"
UPSTREAM_CHART = "oci://dp.apps.rancher.io/charts/etcd"


def _env(helm: Path, root: Path, harbor_host: str, **extra: str) -> dict[str, str]:
    """The wrapper's environment: helm in a throw-away home, setup's robot Secret file."""
    secret_file = root / "pull-secret.json"
    secret_file.write_text(
        secret_manifest("application-collection", harbor_host, "robot$ci", ROBOT_PASSWORD)
    )
    (root / "tmp").mkdir()
    env = isolated_helm_env(helm, root / "helm").env
    env.update(HELM_BIN=str(helm), HARBOR_MIRROR_HARBOR_HOST=harbor_host,
               HARBOR_MIRROR_SECRET_FILE=str(secret_file), TMPDIR=str(root / "tmp"), **extra)
    return env  # fmt: skip


@pytest.fixture
def silent_harbor() -> Iterator[socket.socket]:
    """A Harbor that accepts connections and never answers: helm hangs inside the fetch."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(60)
        yield listener


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _running(pid: int) -> bool:
    """Still running (a zombie waiting for an init that does not reap has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGINT],
    ids=lambda signum: signal.Signals(signum).name,
)  # fmt: skip
def test_a_signal_removes_the_robots_login_and_ends_helm(
    signum: int, helm4: Path, tmp_path: Path, silent_harbor: socket.socket
) -> None:
    host = f"127.0.0.1:{silent_harbor.getsockname()[1]}"
    wrapper = subprocess.Popen(
        [str(CLI), "pull", UPSTREAM_CHART, "--version", "1.0.0"],
        env=_env(helm4, tmp_path, host), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    helms: list[int] = []
    try:
        connection, _ = silent_harbor.accept()  # helm is inside the chart fetch now
        with connection:
            assert len(list((tmp_path / "tmp").glob("harbor-mirror-helm-*/config.json"))) == 1
            helms = _children(wrapper.pid)
            assert helms
            wrapper.send_signal(signum)
            _, stderr = wrapper.communicate(timeout=30)
        assert wrapper.returncode == 128 + signum, stderr
        assert list((tmp_path / "tmp").iterdir()) == []  # the robot's login is gone
        assert [pid for pid in helms if _running(pid)] == []  # no helm outlives the wrapper
    finally:
        wrapper.kill()
        wrapper.wait()
        for pid in helms:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize(
    ("first", "second"),
    [(signal.SIGTERM, signal.SIGINT), (signal.SIGINT, signal.SIGHUP),
     (signal.SIGHUP, signal.SIGTERM)],
    ids=lambda signum: signal.Signals(signum).name,
)  # fmt: skip
def test_a_second_signal_does_not_cut_the_removal_of_the_login_short(
    first: int, second: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C after a CI timeout's SIGTERM, or a closed terminal's SIGHUP after a Ctrl-C,
    arriving while the robot's temporary login is being removed: the removal finishes."""
    from postrender.commands.group import run
    from postrender.helm.harbor import Harbor
    from postrender.settings import Settings

    secret_file = tmp_path / "pull-secret.json"
    secret_file.write_text(secret_manifest("p", "core.harbor.domain", "robot$ci", ROBOT_PASSWORD))
    harbor = Harbor.from_settings(
        Settings(harbor_host="core.harbor.domain", secret_file=str(secret_file))
    )
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    remove = shutil.rmtree

    def second_signal_then_remove(path: str, ignore_errors: bool = False) -> None:
        signal.raise_signal(second)
        remove(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(shutil, "rmtree", second_signal_then_remove)
    handlers = {signum: signal.getsignal(signum) for signum in (first, second)}
    try:
        run(["--version"])  # installs the handlers every command runs with
        with pytest.raises((SystemExit, KeyboardInterrupt)) as ended, harbor.helm_environ({}):
            signal.raise_signal(first)
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert list((tmp_path / "tmp").iterdir()) == []  # the robot's login is gone
    if first == signal.SIGINT:
        assert ended.type is KeyboardInterrupt  # exit 130, for the signal that came first
    else:
        assert ended.value.args == (128 + first,)


KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: {plugin}
      interactiveMode: Never
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
"""
EXEC_PLUGIN = """\
#!/bin/sh
env > "$(dirname "$0")/plugin-env"
echo '{{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
       "status": {{"token": "t"}}}}'
"""


def _chart(root: Path, values: str, template: str) -> Path:
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (root / "values.yaml").write_text(values)
    (root / "templates" / "cm.yaml").write_text(template)
    return root


def test_helm_and_its_kubeconfig_plugin_do_not_get_the_exported_secrets(
    helm3: Path, tmp_path: Path
) -> None:
    """The README has users export the admin password and the upstream token; helm runs a
    kubeconfig exec plugin with its own environment, and needs neither."""
    plugin = tmp_path / "kube" / "exec-plugin"
    plugin.parent.mkdir()
    plugin.write_text(EXEC_PLUGIN.format())
    plugin.chmod(0o755)
    (tmp_path / "kube" / "config").write_text(KUBECONFIG.replace("{plugin}", str(plugin)))
    chart = _chart(tmp_path / "chart", "a: 1\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n")  # fmt: skip
    env = _env(helm3, tmp_path, "core.harbor.domain",
               KUBECONFIG=str(tmp_path / "kube" / "config"),
               HARBOR_MIRROR_HARBOR_PASSWORD="admin-password-1",
               HARBOR_MIRROR_UPSTREAM_TOKEN="upstream-token-1", TEAM_SETTING="kept")  # fmt: skip

    done = subprocess.run([str(CLI), "install", "demo", str(chart)], env=env,
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip

    assert done.returncode == 1, done.stderr  # there is no cluster at 127.0.0.1:1
    seen = dict(
        line.split("=", 1) for line in (plugin.parent / "plugin-env").read_text().splitlines()
        if "=" in line
    )
    assert "HARBOR_MIRROR_HARBOR_PASSWORD" not in seen
    assert "HARBOR_MIRROR_UPSTREAM_TOKEN" not in seen
    assert seen["TEAM_SETTING"] == "kept"  # everything else passes
    assert seen["HARBOR_MIRROR_HARBOR_HOST"] == "core.harbor.domain"


def test_helms_stderr_on_success_is_redacted_like_our_messages(
    helm3: Path, tmp_path: Path
) -> None:
    """Helm 3's values warning quotes a chart value, here one that holds the robot's password;
    what helm says on success passes through the same redaction as our own messages."""
    chart = _chart(tmp_path / "chart", f"auth:\n  token: {ROBOT_PASSWORD}\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n")  # fmt: skip
    values = tmp_path / "values.yaml"
    values.write_text("auth:\n  token: {a: 1}\n")
    env = _env(helm3, tmp_path, "core.harbor.domain")

    done = subprocess.run([str(CLI), "template", "demo", str(chart), "-f", str(values)], env=env,
                          capture_output=True, text=True, check=False, timeout=120)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "Ignoring non-table value (***)" in done.stderr
    assert ROBOT_PASSWORD not in done.stderr + done.stdout


def test_values_from_a_process_substitution_reach_helm(helm3: Path, tmp_path: Path) -> None:
    """`-f <(sops -d secrets.yaml)` names the pipe the shell gave the wrapper (/dev/fd/63):
    helm must get it as it would run without the wrapper."""
    chart = _chart(tmp_path / "chart", "greeting: from-the-chart\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n"
                   "data: {greeting: {{ .Values.greeting | quote }}}\n")  # fmt: skip
    env = _env(helm3, tmp_path, "core.harbor.domain")

    done = subprocess.run(
        ["bash", "-c", f"'{CLI}' template demo '{chart}' -f <(echo 'greeting: from-a-pipe')"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert 'greeting: "from-a-pipe"' in done.stdout


# What `helm install --dry-run=client` asks a cluster on Helm 3 (pkg/action/install.go
# RunWithContext: IsReachable, getCapabilities, KubeClient.Build): the version and the discovery
# documents, here naming only ConfigMaps.
DISCOVERY = {
    "/version": {"major": "1", "minor": "35", "gitVersion": "v1.35.0"},
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": True,
         "kind": "ConfigMap", "verbs": ["create", "get", "list"]}]},
}  # fmt: skip


@pytest.fixture
def discovery_only_cluster(tmp_path: Path) -> Iterator[Path]:
    """A kubeconfig for an API server that answers discovery and nothing else."""

    class Discovery(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = DISCOVERY.get(self.path.partition("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body or {"kind": "Status", "code": 404}).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = tmp_path / "discovery-kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: 'http://127.0.0.1:{server.server_port}'}}}}]\n"
        "users: [{name: u, user: {}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    try:
        yield kubeconfig
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("stdin_name", ["-", "/dev/stdin"])
def test_helm3_install_verify_installs_with_the_values_from_stdin(
    stdin_name: str, helm3: Path, tmp_path: Path, discovery_only_cluster: Path
) -> None:
    """On Helm 3, --verify renders with `helm template` first; that must not use up `-f -`
    (or `-f /dev/stdin`, stdin by its file name), or the release is checked with the user's
    values and installed with none."""
    chart = _chart(
        tmp_path / "chart", "greeting: from-the-chart\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n"
        "data: {greeting: {{ .Values.greeting | quote }}}\n",
    )  # fmt: skip
    env = _env(helm3, tmp_path, "core.harbor.domain", KUBECONFIG=str(discovery_only_cluster))

    done = subprocess.run(
        [str(CLI), "install", "demo", str(chart), "--verify", "-f", stdin_name, "--dry-run=client",
         "--disable-openapi-validation"],
        env=env, input="greeting: from-stdin\n", capture_output=True, text=True, check=False,
        timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert 'greeting: "from-stdin"' in done.stdout


def test_helm3_install_verify_refuses_values_from_a_pipe_it_would_read_twice(
    helm3: Path, tmp_path: Path, discovery_only_cluster: Path
) -> None:
    """`-f <(sops -d …)`: the checking render reads the pipe, and the install would get none
    of those values; one line instead, before anything is installed."""
    chart = _chart(tmp_path / "chart", "greeting: from-the-chart\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n")  # fmt: skip
    env = _env(helm3, tmp_path, "core.harbor.domain", KUBECONFIG=str(discovery_only_cluster))

    done = subprocess.run(
        ["bash", "-c", f"'{CLI}' install demo '{chart}' --verify --dry-run=client "
         "--disable-openapi-validation -f <(echo 'greeting: from-a-pipe')"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    assert done.returncode == 2, done.stdout
    assert done.stdout == ""
    assert done.stderr == (
        "harbor-mirror: error: install --verify: /dev/fd/63 is a pipe, which can be read once, "
        "and Helm 3 reads it twice (to check, then to install): give a file, or pipe it into "
        "-f -\n"
    )


def test_what_helm_runs_signs_in_as_the_wrapper_without_the_password(
    helm3: Path, tmp_path: Path
) -> None:
    """The post-renderer's --verify (helm's child) signs in as the wrapper does, though helm
    and its children get no HARBOR_MIRROR_HARBOR_PASSWORD: with the username/password pair and
    no Secret file, it reads the login from the wrapper's private temporary Secret file."""
    chart = _chart(tmp_path / "chart", "a: 1\n",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n")  # fmt: skip
    env = _env(helm3, tmp_path, "core.harbor.domain", HARBOR_MIRROR_USERNAME="admin",
               HARBOR_MIRROR_HARBOR_PASSWORD="admin-password-1")  # fmt: skip
    del env["HARBOR_MIRROR_SECRET_FILE"]

    done = subprocess.run(
        [str(CLI), "template", "demo", str(chart), "--post-renderer-args", "--verify"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "name: demo" in done.stdout
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT],
                         ids=lambda signum: signal.Signals(signum).name)  # fmt: skip
def test_a_signal_under_lock_removes_the_not_pinned_relay_too(
    signum: int, helm4: Path, tmp_path: Path, silent_harbor: socket.socket
) -> None:
    """With --lock the wrapper also makes a private directory for the post-renderer's
    `not pinned` lines: a CI timeout or Ctrl-C while helm waits must not leave it behind."""
    host = f"127.0.0.1:{silent_harbor.getsockname()[1]}"
    lock_file = tmp_path / "lock.yaml"
    Lock({}, {f"oci://{host}/application-collection/charts/etcd:1.0.0":
              ChartLock("sha256:" + "a" * 64)}).write(lock_file)  # fmt: skip
    wrapper = subprocess.Popen(
        [str(CLI), "pull", UPSTREAM_CHART, "--version", "1.0.0", "--lock", str(lock_file)],
        env=_env(helm4, tmp_path, host), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        connection, _ = silent_harbor.accept()  # helm is inside the chart fetch now
        with connection:
            made = sorted(path.name.rsplit("-", 1)[0] for path in (tmp_path / "tmp").iterdir())
            assert made == ["harbor-mirror-helm", "harbor-mirror-not-pinned"]
            wrapper.send_signal(signum)
            _, stderr = wrapper.communicate(timeout=30)
        assert wrapper.returncode == 128 + signum, stderr
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        wrapper.kill()
        wrapper.wait()
