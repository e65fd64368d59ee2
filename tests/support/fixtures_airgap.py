"""Pytest fixtures: a workstation that reaches only Harbor, with the plugin set up against it.

``airgap`` -> `Airgap`: the installed plugin (`tests/support/fixtures_plugin.py`, Helm 4 and
Helm 3) after
``helm harbor-mirror setup --ca-file … --robot k8s-pull --secret-out …`` against the HTTPS
emulator, in each mode: its private proxy-cache project fronts the real upstream registry
(`tests/support/fixtures_registry.py`: the etcd-like chart pushed with `helm push`, and its
images); in
replication mode setup's rules, planned from the chart (``--chart … --version …`` with the
user's values), have copied chart and images into ``appco-mirror`` and the upstream is down
for the test (``.mode``, ``.project``), so all of it comes from the copies.
Every helm run goes through ``.run(...)``, whose environment sends anything that is not loopback
to a proxy that refuses connections, so no command can reach ``dp.apps.rancher.io`` (which does
not resolve here either). ``.user_registry_config`` is the user's own Helm registry config,
holding a login to another registry that must stay byte for byte as it was.
``umbrella_chart(root)`` writes an umbrella chart depending on the upstream's etcd-like chart.
"""

from __future__ import annotations

import base64
import json
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harbor_emulator import ADMIN_PASSWORD, Request
from tests.support.fixtures_plugin import Plugin
from tests.support.fixtures_registry import Mirror, busybox_digest

UPSTREAM_HOST = "dp.apps.rancher.io"
CHART_URL = f"oci://{UPSTREAM_HOST}/charts/etcd-like"  # what the user types
CHART_VERSION = "0.1.0"
ROBOT = "k8s-pull"
REPLICATED = "appco-mirror"
REPLICATION_SECONDS = 0.05  # how long each of setup's replication executions runs
# Nothing but loopback gets out: a proxy on a port nobody listens on.
NO_ROUTE = {
    "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9", "http_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
}  # fmt: skip


@dataclass
class Airgap:
    plugin: Plugin
    mirror: Mirror
    mode: str
    secret_file: Path
    config: Path
    user_registry_config: Path
    setup_output: str
    setup_requests: int  # how many requests Harbor had seen once setup was done

    def requests_since_setup(self) -> list[Request]:
        return self.mirror.harbor.requests[self.setup_requests :]

    @property
    def project(self) -> str:
        """Where the artifacts are served from: the proxy cache, or replication's copies."""
        return self.mirror.project if self.mode == "proxy-cache" else REPLICATED

    @property
    def harbor_chart(self) -> str:
        return f"oci://{self.mirror.host}/{self.project}/charts/etcd-like"

    @property
    def target(self) -> str:
        return f"{self.mirror.host}/{self.project}"

    def run(self, *args: str | Path, input: str = "") -> subprocess.CompletedProcess[str]:
        return self.plugin.env.run(*args, input=input, extra_env=NO_ROUTE)

    def values(self) -> list[str]:
        return user_values(self.mirror)


def user_values(mirror: Mirror) -> list[str]:
    """The user's own values: the digest the upstream holds, and the side-car image from the
    upstream too (the chart's default names registry.suse.com, which Harbor does not mirror)."""
    return ["--set", f"images.volumePermissions.digest={busybox_digest(mirror)}",
            "--set", f"logShipper.image={UPSTREAM_HOST}/containers/bci-busybox:15.6"]


def assert_no_route_to_upstream() -> None:
    """The test is only meaningful where the upstream cannot be reached from the workstation."""
    with pytest.raises(OSError):
        socket.getaddrinfo(UPSTREAM_HOST, 443)


def robot_username(airgap: Airgap) -> str:
    return f"robot${airgap.project}+{ROBOT}"


def basic_user(header: str) -> str | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    return base64.b64decode(encoded).decode().partition(":")[0]


def run_setup(
    plugin: Plugin, mirror: Mirror, root: Path, mode: str
) -> subprocess.CompletedProcess[str]:
    """setup as the README's quick start runs it (replication: planned from the chart with the
    user's values, as the README shows); the endpoint (with the upstream's CA, which setup has
    no flag for) is the one the `mirror` fixture made, so setup adopts it."""
    registry = mirror.upstream.registry
    assert mirror.harbor.ca_file is not None
    replication = ["--mode", "replication", "--chart", CHART_URL, "--version", CHART_VERSION,
                   *user_values(mirror), "--dest-namespace", REPLICATED, "--replicate",
                   "--poll-interval", "0.1"]  # fmt: skip
    return plugin.env.run(
        "harbor-mirror", "setup", "--harbor-url", mirror.harbor.url,
        "--ca-file", mirror.harbor.ca_file, "--upstream-url", registry.url,
        "--upstream-host", UPSTREAM_HOST, "--upstream-username", registry.username,
        "--project", mirror.project, "--robot", ROBOT, "--secret-out", root / "pull-secret.json",
        *(replication if mode == "replication" else []),
        extra_env={**NO_ROUTE, "HARBOR_MIRROR_HARBOR_PASSWORD": ADMIN_PASSWORD,
                   "HARBOR_MIRROR_UPSTREAM_TOKEN": registry.password},
    )  # fmt: skip


@pytest.fixture(params=["proxy-cache", "replication"])
def airgap(
    request: pytest.FixtureRequest, plugin: Plugin, mirror: Mirror, tmp_path: Path
) -> Iterator[Airgap]:
    """setup has run against the emulator; the config it wrote is removed afterwards."""
    mode: str = request.param
    assert_no_route_to_upstream()
    # setup's replications only have to finish here, not be watched running: each execution
    # (the chart's, then the images') takes 0.05 s instead of the usual 0.3 s.
    mirror.harbor.state.execution_seconds = REPLICATION_SECONDS
    config_home = Path(plugin.env.env["HELM_CONFIG_HOME"])
    config = config_home / "harbor-mirror" / "config.yaml"
    user_registry_config = config_home / "registry" / "config.json"
    user_registry_config.parent.mkdir(parents=True, exist_ok=True)
    other = base64.b64encode(b"someone:elses-password").decode()
    user_registry_config.write_text(json.dumps({"auths": {"registry.example.com": {"auth": other}}},
                                               indent=1))
    done = run_setup(plugin, mirror, tmp_path, mode)
    try:
        assert done.returncode == 0, done.stderr + done.stdout
        if mode == "replication":
            mirror.upstream.registry.stop()
        yield Airgap(plugin, mirror, mode, tmp_path / "pull-secret.json", config,
                     user_registry_config, done.stdout, len(mirror.harbor.requests))  # fmt: skip
    finally:
        if mode == "replication":
            mirror.upstream.registry.start()
        config.unlink(missing_ok=True)
        user_registry_config.unlink(missing_ok=True)


def umbrella_chart(root: Path, version: str = "0.1.x") -> Path:
    """An umbrella chart whose one dependency is the upstream's etcd-like chart."""
    chart = root / "umbrella"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: umbrella\nversion: 1.0.0\n"
        "# the dependency comes from Application Collection\n"
        "dependencies:\n"
        f"  - name: etcd-like\n    version: \"{version}\"\n"
        f"    repository: oci://{UPSTREAM_HOST}/charts\n"
    )
    (chart / "values.yaml").write_text(
        "global:\n  imageRegistry: dp.apps.rancher.io\n"
        "  imagePullSecrets:\n    - name: application-collection\n"
    )
    return chart
