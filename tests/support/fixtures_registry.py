"""Pytest fixtures: the real upstream registry (CNCF distribution) holding test-built content.

``upstream`` (session) -> `Upstream`: ``.registry`` (`UpstreamRegistry`: ``.url``, ``.host``,
``.username``, ``.password``, ``.ca_pem``, ``.ca_file``, ``.stop()``/``.start()``),
``.images`` ({"containers/etcd:3.5.17-1.2": `Image`, ...}), pushed once per session through
the registry API, and the fixture chart `charts/etcd-like:0.1.0`, pushed with the real
`helm push` (Helm 4).
``mirror`` -> `Mirror`: ``.harbor`` (the HTTPS emulator, ``.ca_file``), ``.host``,
``.project`` ("application-collection", a proxy cache of the upstream).
``add_proxy_project(harbor, upstream, name)`` adds another endpoint + proxy project.
Helpers: ``harbor_client(harbor)`` trusts the emulator's CA, ``pull_token(client, repo)`` asks
its token service; ``CHART`` with ``pin_values(mirror)`` renders with the digest the upstream
holds; ``ADMIN_ENV`` gives harbor-mirror the emulator's admin credentials.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME, API_PREFIX, HarborEmulator
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.oci_content import Image, Pusher
from tests.support.upstream_registry import UpstreamRegistry

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "charts-fixtures" / "etcd-like"
# harbor-mirror's own Harbor credentials variables, set to the emulator's admin.
ADMIN_ENV = {
    "HARBOR_MIRROR_USERNAME": ADMIN_USERNAME,
    "HARBOR_MIRROR_HARBOR_PASSWORD": ADMIN_PASSWORD,
}
# What the etcd-like fixture chart references, plus one multi-platform image of its own.
IMAGES: dict[str, list[str]] = {
    "containers/etcd:3.5.17-1.2": ["linux/amd64", "linux/arm64"],
    "containers/bci-busybox:15.6": ["linux/amd64"],
    "containers/kubectl:1.33.4": ["linux/amd64", "linux/arm64", "linux/s390x"],
}


@dataclass
class Upstream:
    registry: UpstreamRegistry
    images: dict[str, Image]


def _push_chart(helm4: Path, registry: UpstreamRegistry, work: Path) -> None:
    helm = isolated_helm_env(helm4, work / "helm")
    ca = str(registry.ca_file)
    steps = [
        (("registry", "login", registry.host, "--username", registry.username,
          "--password-stdin", "--ca-file", ca), registry.password),
        (("package", REPO_ROOT / "charts-fixtures" / "etcd-like", "-d", work), ""),
        (("push", work / "etcd-like-0.1.0.tgz", f"oci://{registry.host}/charts", "--ca-file", ca),
         ""),
    ]
    for args, stdin in steps:
        done = helm.run(*args, input=stdin)
        assert done.returncode == 0, f"helm {args[0]}: {done.stderr}"


@contextlib.contextmanager
def running_registry(root: Path) -> Iterator[UpstreamRegistry]:
    """A `docker-registry` of its own under `root`, with a CA of its own, stopped on exit."""
    registry = UpstreamRegistry(root, trustme.CA())
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


def push_images(registry: UpstreamRegistry, wanted: dict[str, list[str]]) -> dict[str, Image]:
    """Push each `repository:tag` built for its platforms; what was pushed, by that name."""
    with registry.client() as client:
        pusher = Pusher(client)
        return {
            name: pusher.image(name.partition(":")[0], name.partition(":")[2], platforms)
            for name, platforms in wanted.items()
        }


@pytest.fixture(scope="session")
def upstream(helm4: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """The upstream registry, started once, with every test image and chart pushed."""
    root = tmp_path_factory.mktemp("upstream")
    with running_registry(root) as registry:
        images = push_images(registry, IMAGES)
        _push_chart(helm4, registry, root)
        yield Upstream(registry, images)


@dataclass
class Mirror:
    """A Harbor emulator (HTTPS) whose proxy-cache project fronts the upstream registry."""

    harbor: HarborEmulator
    upstream: Upstream
    project: str

    @property
    def host(self) -> str:
        return self.harbor.url.removeprefix("https://")


def harbor_client(harbor: HarborEmulator, path: str = "", **options: Any) -> httpx.Client:
    """An httpx client for the HTTPS emulator below `path` (API_PREFIX: the API); trusts its CA."""
    assert harbor.ca_file is not None
    trust = ssl.create_default_context(cafile=harbor.ca_file)
    return httpx.Client(base_url=harbor.url + path, verify=trust, **options)


def pull_token(
    client: httpx.Client,
    repository: str,
    actions: str = "pull",
    auth: tuple[str, str] = (ADMIN_USERNAME, ADMIN_PASSWORD),
) -> httpx.Response:
    """Harbor's token service asked for `repository:<repository>:<actions>`, as a kubelet asks."""
    return client.get(
        "/service/token",
        params={"service": "harbor-registry", "scope": f"repository:{repository}:{actions}"},
        auth=auth,
    )


def busybox_digest(mirror: Mirror) -> str:
    return mirror.upstream.images["containers/bci-busybox:15.6"].digest


def pin_values(mirror: Mirror) -> list[str]:
    """`--set` pinning CHART's digest-pinned image to the digest the upstream really holds."""
    return ["--set", f"images.volumePermissions.digest={busybox_digest(mirror)}"]


def add_proxy_project(harbor: HarborEmulator, upstream: Upstream, name: str) -> int:
    """Create the endpoint (upstream credentials, its CA) and the proxy project, as setup would."""
    with harbor_client(harbor, API_PREFIX, auth=(ADMIN_USERNAME, ADMIN_PASSWORD)) as api:
        registry = upstream.registry
        created = api.post(
            "/registries",
            json={
                "name": name,
                "type": "docker-registry",
                "url": registry.url,
                "credential": {
                    "type": "basic",
                    "access_key": registry.username,
                    "access_secret": registry.password,
                },
                "insecure": False,
                "ca_certificate": registry.ca_pem,
            },
        )
        assert created.status_code == 201, created.text
        registry_id = int(created.headers["location"].rsplit("/", 1)[1])
        api.cookies.clear()  # Harbor's CSRF check trips on its own sid cookie
        project = api.post("/projects", json={"project_name": name, "registry_id": registry_id})
        assert project.status_code == 201, project.text
    return registry_id


@pytest.fixture
def mirror(harbor_tls: HarborEmulator, upstream: Upstream) -> Mirror:
    """Proxy-cache project `application-collection` of the upstream, on a fresh emulator."""
    name = "application-collection"
    add_proxy_project(harbor_tls, upstream, name)
    return Mirror(harbor_tls, upstream, name)
