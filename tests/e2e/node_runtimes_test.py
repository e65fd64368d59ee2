"""Real container clients pull through the Harbor emulator with the files `setup --emit` wrote.

One module-wide set-up: the real upstream registry (`docker-registry`, session-wide), a private
HTTPS proxy-cache project in front of it, and one `harbor-mirror setup --ca-file … --robot …`
run that emits every node file. The files name the upstream as a loopback address where
nothing listens, so a pull that missed the mirror fails instead of reaching anything; every
pull that works came through Harbor.

- the Application Collection guide's pull step, with skopeo (tag, digest, `--all`);
- CRI-O's drop-in, read by skopeo and podman from /etc/containers as a node has it (a private
  mount namespace puts a temporary directory there), Harbor's CA in certs.d, credentials from
  the emitted node auth file;
- containerd's hosts.toml, and RKE2's registries.yaml turned into hosts.toml as RKE2 does,
  pulled by `ctr` from a containerd of the test's own (private root, state and socket).

Needs root and the Debian packages `make test` installs (skopeo, podman, containerd).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from ruamel.yaml import YAML

from tests.harbor_emulator import (
    ADMIN_PASSWORD,
    HarborEmulator,
    LoopbackServer,
    tls_context,
    write_ca,
)
from tests.support.fixtures_registry import Upstream, add_proxy_project

HARBOR_MIRROR = Path(sys.executable).parent / "harbor-mirror"
PROJECT = "application-collection"
ETCD = "containers/etcd:3.5.17-1.2"  # an index over linux/amd64 and linux/arm64
BUSYBOX = "containers/bci-busybox:15.6"  # a single linux/amd64 manifest
ROBOT = "nodes"
TIMEOUT = 120

tomllib = pytest.importorskip("tomllib", reason="TOML parsing needs Python 3.11's tomllib")


def _tool(name: str, package: str, *, as_root: bool = True) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} not installed (Debian package {package}; `make test` installs it)")
    if as_root and os.geteuid() != 0:
        pytest.skip(f"{name} runs here as root (private mounts, its own containerd)")
    return found


def _run(*command: str | Path, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=TIMEOUT,
        check=False, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip


@dataclass
class Node:
    """What setup emitted, and against what."""

    harbor: HarborEmulator
    upstream: Upstream
    upstream_host: str  # what the files mirror: loopback, nothing listens there
    files: dict[str, Path]
    robot: tuple[str, str]
    ca_file: Path
    root: Path

    @property
    def harbor_host(self) -> str:
        return self.harbor.url.removeprefix("https://")

    def digest(self, image: str) -> str:
        return self.upstream.images[image].digest


@pytest.fixture(scope="module")
def node(
    upstream: Upstream, harbor_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    """The emulator (HTTPS, private proxy project) and setup's node files, once per module."""
    root = tmp_path_factory.mktemp("node")
    harbor = HarborEmulator()
    harbor.ca_file = str(write_ca(harbor_ca, root / "harbor-ca.pem"))
    with socket.socket() as dead, LoopbackServer(harbor.handle, ssl_context=tls_context(harbor_ca)
                                                 ) as server:
        dead.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        upstream_host = f"127.0.0.1:{dead.getsockname()[1]}"
        harbor.url = server.url
        add_proxy_project(harbor, upstream, PROJECT)
        files = {fmt: root / "emitted" / fmt for fmt in ("rke2", "containerd", "crio", "auth")}
        registry = upstream.registry
        done = _run(
            HARBOR_MIRROR, "setup", "--harbor-url", harbor.url, "--ca-file", harbor.ca_file,
            "--upstream-url", registry.url, "--upstream-host", upstream_host,
            "--upstream-username", registry.username, "--project", PROJECT,
            "--robot", ROBOT, "--secret-out", root / "pull-secret.json",
            "--config", root / "config.yaml", "--emit-credentials",
            *(arg for fmt, path in files.items() for arg in ("--emit", fmt, str(path))),
            env={"PATH": os.environ["PATH"], "HOME": str(root),
                 "HARBOR_MIRROR_HARBOR_PASSWORD": ADMIN_PASSWORD,
                 "HARBOR_MIRROR_UPSTREAM_TOKEN": registry.password},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + done.stdout
        (robot,) = harbor.state.robots.values()
        credentials = (f"robot${PROJECT}+{ROBOT}", robot.secret)
        yield Node(harbor, upstream, upstream_host, files, credentials, Path(harbor.ca_file), root)


def _served_by_harbor(harbor: HarborEmulator, repository: str) -> bool:
    """Harbor answered a manifest of `repository` in the project with 200."""
    prefix = f"/v2/{PROJECT}/{repository}/manifests/"
    return any(
        exchange.request.path.startswith(prefix) and exchange.response.status == 200
        for exchange in harbor.exchanges
    )


# -- the guide's pull step: skopeo against Harbor, by its own name ------------------------------


def _oci_digest(layout: Path) -> str:
    """The digest of the one manifest an `oci:` layout holds."""
    (entry,) = json.loads((layout / "index.json").read_text())["manifests"]
    return str(entry["digest"])


def _cert_dir(node: Node) -> Path:
    """A directory holding Harbor's CA as `ca.crt`, as skopeo's --src-cert-dir reads it."""
    certs = node.root / "certs"
    certs.mkdir(exist_ok=True)
    shutil.copyfile(node.ca_file, certs / "ca.crt")
    return certs


def _amd64_manifest(node: Node, image: str) -> str:
    """The digest of the linux/amd64 manifest in the upstream's index for `image`."""
    repository, _, tag = image.partition(":")
    with node.upstream.registry.client() as client:
        index = client.get(f"/v2/{repository}/manifests/{tag}",
                           headers={"Accept": "application/vnd.oci.image.index.v1+json"}).json()
    return next(str(entry["digest"]) for entry in index["manifests"]
                if entry["platform"]["architecture"] == "amd64")  # fmt: skip


@pytest.mark.parametrize("case", ["tag --all", "tag", "digest"])
def test_guide_pull_step_with_skopeo_gives_the_upstreams_digests(
    node: Node, case: str, tmp_path: Path
) -> None:
    """`skopeo copy` of Harbor's own name for the image, as the guide's `docker pull`: all
    platforms keep the index's digest, one platform its manifest's, a digest itself."""
    skopeo = _tool("skopeo", "skopeo", as_root=False)
    source, options, expected = {
        "tag --all": (ETCD, ["--all"], node.digest(ETCD)),
        "tag": (ETCD, [], _amd64_manifest(node, ETCD)),
        "digest": (f"containers/bci-busybox@{node.digest(BUSYBOX)}", [], node.digest(BUSYBOX)),
    }[case]
    username, secret = node.robot
    out = tmp_path / "out"
    done = _run(
        skopeo, "copy", *options, "--src-creds", f"{username}:{secret}",
        "--src-cert-dir", _cert_dir(node), "--override-os", "linux", "--override-arch", "amd64",
        f"docker://{node.harbor_host}/{PROJECT}/{source}", f"oci:{out}",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _oci_digest(out) == expected


# -- CRI-O's drop-in: the upstream's name, pulled through Harbor by containers/image ------------


def _node_etc_containers(node: Node) -> Path:
    """/etc/containers as a CRI-O node has it after following the drop-in's header (where to
    install it, where Harbor's CA goes), and a policy that accepts any image."""
    etc = node.root / "etc-containers"
    if etc.exists():
        return etc
    header = node.files["crio"].read_text()
    install = re.search(r"^# Install as /etc/containers/(\S+)\.$", header, re.MULTILINE)
    ca = re.search(r"^# Harbor's CA: copy (\S+) to /etc/containers/(\S+) on", header, re.MULTILINE)
    assert install and ca, header
    for source, target in ((node.files["crio"], install[1]), (Path(ca[1]), ca[2])):
        (etc / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, etc / target)
    (etc / "registries.conf").write_text("unqualified-search-registries = []\n")
    (etc / "policy.json").write_text('{"default": [{"type": "insecureAcceptAnything"}]}\n')
    return etc


def _as_node(node: Node, *command: str | Path) -> subprocess.CompletedProcess[str]:
    """Run `command` where /etc/containers is the node's (a bind mount in a private mount
    namespace, so the machine's own /etc/containers stays as it is)."""
    unshare = _tool("unshare", "util-linux")
    script = 'mount --bind "$0" /etc/containers && exec "$@"'
    return _run(unshare, "--mount", "--propagation", "private", "sh", "-c", script,
                _node_etc_containers(node), *command)  # fmt: skip


def test_crio_drop_in_sends_skopeo_to_harbor_for_the_upstreams_name(
    node: Node, tmp_path: Path
) -> None:
    skopeo = _tool("skopeo", "skopeo")
    out = tmp_path / "out"
    done = _as_node(node, skopeo, "copy", "--all", "--authfile", node.files["auth"],
                    f"docker://{node.upstream_host}/{ETCD}", f"oci:{out}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _oci_digest(out) == node.digest(ETCD)
    assert _served_by_harbor(node.harbor, ETCD.partition(":")[0])


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: podman refuses a run root over 50 characters, and a
    unix socket path must stay under 108."""
    path = Path(tempfile.mkdtemp(prefix="hm-node-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_crio_drop_in_sends_podman_to_harbor_for_the_upstreams_name(
    node: Node, short_dir: Path
) -> None:
    podman = _tool("podman", "podman")
    storage: list[str | Path] = ["--root", short_dir / "storage", "--runroot", short_dir / "run",
               "--storage-driver", "vfs", "--events-backend", "none"]  # fmt: skip
    reference = f"{node.upstream_host}/{BUSYBOX}"
    done = _as_node(node, podman, *storage, "pull", "--authfile", node.files["auth"], reference)
    assert done.returncode == 0, done.stderr
    shown = _as_node(node, podman, *storage, "image", "inspect", "--format", "{{.Digest}}",
                     reference)  # fmt: skip
    assert shown.stdout.strip() == node.digest(BUSYBOX), shown.stderr
    assert _served_by_harbor(node.harbor, BUSYBOX.partition(":")[0])


# -- containerd: hosts.toml, and RKE2's registries.yaml as RKE2 turns it into hosts.toml --------


@dataclass
class Containerd:
    """A containerd of the test's own: private root, state and socket, no CRI plugin."""

    socket: Path
    ctr: str

    def pull(self, hosts_dir: Path, reference: str, *options: str
             ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return _run(self.ctr, "--address", self.socket, "--namespace", "harbor-mirror-test",
                    "images", "pull", "--hosts-dir", hosts_dir, "--snapshotter", "native",
                    "--platform", "linux/amd64", *options, reference)  # fmt: skip

    def digest(self, reference: str) -> str:
        listed = _run(self.ctr, "--address", self.socket, "--namespace", "harbor-mirror-test",
                      "images", "ls")  # fmt: skip
        for line in listed.stdout.splitlines()[1:]:
            name, _, digest, *_ = line.split()
            if name == reference:
                return digest
        raise AssertionError(f"{reference} not in `ctr images ls`:\n{listed.stdout}")


@pytest.fixture(scope="module")
def containerd() -> Iterator[Containerd]:
    """`ctr` needs a running containerd (it has no daemon-less pull): start one as root in a
    short temporary directory, and stop it when the module is done."""
    ctr = _tool("ctr", "containerd")
    daemon = _tool("containerd", "containerd")
    base = Path(tempfile.mkdtemp(prefix="hm-ctrd-"))
    address = base / "containerd.sock"
    (base / "config.toml").write_text(
        "version = 2\n"
        f'root = "{base / "root"}"\nstate = "{base / "state"}"\n'
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
        f'[grpc]\n  address = "{address}"\n'
        f'[ttrpc]\n  address = "{address}.ttrpc"\n'
        # the opt plugin otherwise makes /opt/containerd on the machine
        f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{base / "opt"}"\n'
    )
    with (base / "containerd.log").open("wb") as log:
        process = subprocess.Popen([daemon, "--config", str(base / "config.toml")],
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while _run(ctr, "--address", address, "version").returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"containerd did not start: {(base / 'containerd.log').read_text()}")
            time.sleep(0.1)
        assert (base / "opt").is_dir(), "containerd's opt directory must be the test's own"
        yield Containerd(address, ctr)
    finally:
        process.terminate()
        process.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


def _hosts_dir(node: Node, name: str, hosts_toml: str) -> Path:
    """`<dir>/<upstream host>/hosts.toml`, as /etc/containerd/certs.d holds it on a node."""
    directory = node.root / name
    (directory / node.upstream_host).mkdir(parents=True, exist_ok=True)
    (directory / node.upstream_host / "hosts.toml").write_text(hosts_toml)
    return directory


def test_containerd_hosts_toml_sends_ctr_to_harbor_for_the_upstreams_name(
    node: Node, containerd: Containerd
) -> None:
    hosts = _hosts_dir(node, "containerd-certs.d", node.files["containerd"].read_text())
    reference = f"{node.upstream_host}/{ETCD}"
    username, secret = node.robot
    done = containerd.pull(hosts, reference, "--user", f"{username}:{secret}")
    assert done.returncode == 0, done.stderr + done.stdout
    assert containerd.digest(reference) == node.digest(ETCD)


def test_containerd_names_the_upstream_not_harbor_when_harbor_lacks_the_image(
    node: Node, containerd: Containerd
) -> None:
    """What the README tells a node administrator: the error is that of the upstream fallback
    (a DNS failure where it does not resolve), and Harbor's 404 is only in containerd's log."""
    hosts = _hosts_dir(node, "containerd-certs.d", node.files["containerd"].read_text())
    username, secret = node.robot
    done = containerd.pull(hosts, f"{node.upstream_host}/containers/missing:1", "--user",
                           f"{username}:{secret}")  # fmt: skip
    assert done.returncode != 0
    *log, error = done.stderr.strip().splitlines()
    assert node.upstream_host in error and "connection refused" in error, error
    assert any("trying next host - response was http.StatusNotFound" in line
               and f'host="{node.harbor_host}"' in line for line in log), log  # fmt: skip
    assert any(
        exchange.request.path == f"/v2/{PROJECT}/containers/missing/manifests/1"
        and exchange.response.status == 404
        for exchange in node.harbor.exchanges
    )


def rke2_hosts_toml(registries_yaml: str, upstream: str) -> tuple[str, str | None]:
    """The hosts.toml RKE2/K3s writes for `upstream` from registries.yaml, and the robot's
    `user:password` it puts in containerd's CRI config (k3s pkg/agent/containerd/config.go:
    getHostConfigs, normalizeEndpointAddress, configForHost; pkg/agent/templates:
    HostsTomlTemplate): the upstream as `server`; per endpoint with no path `<url>/v2`, the
    `configs.<endpoint host>.tls.ca_file` as `ca`, the mirror's rewrites as a `rewrite` table."""
    config = YAML(typ="safe").load(registries_yaml)
    mirror = config["mirrors"][upstream]
    lines = [f'server = "https://{upstream}"\n']
    for endpoint in mirror["endpoint"]:
        assert endpoint.startswith("https://") and endpoint.count("/") == 2, endpoint
        host_config = config.get("configs", {}).get(endpoint.removeprefix("https://"), {})
        url = f"{endpoint}/v2"
        lines += [f'\n[host."{url}"]\n', '  capabilities = ["pull", "resolve"]\n']
        if "tls" in host_config:
            lines.append(f'  ca = ["{host_config["tls"]["ca_file"]}"]\n')
        lines.append(f'  [host."{url}".rewrite]\n')
        lines += [f'    "{pattern}" = "{replacement}"\n'
                  for pattern, replacement in mirror.get("rewrite", {}).items()]  # fmt: skip
    auth = next((c["auth"] for c in config.get("configs", {}).values() if "auth" in c), None)
    return "".join(lines), auth and f"{auth['username']}:{auth['password']}"


def without_rewrite(hosts_toml: str) -> str:
    """The same requests for a containerd without k3s's `rewrite` patch (Debian's): k3s's
    containerd rewrites the repository name before building `<host path>/<name>/...`, so a
    whole-name rewrite to `P/$1` on `.../v2` is the host path `.../v2/P` taken as it is
    (`override_path`), which upstream containerd has."""
    config = tomllib.loads(hosts_toml)
    lines = [f'server = "{config["server"]}"\n']
    for url, host in config["host"].items():
        ((pattern, replacement),) = host.pop("rewrite").items()
        assert pattern == "^(.*)$" and replacement.endswith("/$1"), (pattern, replacement)
        lines.append(f'\n[host."{url}/{replacement.removesuffix("/$1")}"]\n')
        lines.append("  override_path = true\n")
        lines += [f"  {key} = {json.dumps(value)}\n" for key, value in host.items()]
    return "".join(lines)


def test_rke2_registries_yaml_as_rke2_writes_it_sends_ctr_to_harbor(
    node: Node, containerd: Containerd
) -> None:
    hosts_toml, user = rke2_hosts_toml(node.files["rke2"].read_text(), node.upstream_host)
    (host,) = tomllib.loads(hosts_toml)["host"].values()
    assert host["ca"] == [str(node.ca_file)]  # Harbor's CA reaches the endpoint
    assert user == ":".join(node.robot)  # the embedded credentials are the robot's
    hosts = _hosts_dir(node, "rke2-certs.d", without_rewrite(hosts_toml))
    reference = f"{node.upstream_host}/{BUSYBOX}"
    done = containerd.pull(hosts, reference, "--user", user)
    assert done.returncode == 0, done.stderr + done.stdout
    assert containerd.digest(reference) == node.digest(BUSYBOX)


def test_crio_gives_the_mirror_no_explicit_credentials_only_the_auth_files(
    node: Node, tmp_path: Path
) -> None:
    """Credentials given for the pull itself, as CRI-O passes a pod's pull Secret, stay with
    the upstream's name: Harbor sees an anonymous pull of its private project and refuses."""
    skopeo = _tool("skopeo", "skopeo")
    source = f"docker://{node.upstream_host}/{BUSYBOX}"
    done = _as_node(node, skopeo, "copy", "--src-creds", ":".join(node.robot), source,
                    f"oci:{tmp_path / 'out'}")  # fmt: skip
    assert done.returncode != 0
    error = done.stderr.lower()
    assert "mirrors also failed" in error and "unauthorized" in error, done.stderr
