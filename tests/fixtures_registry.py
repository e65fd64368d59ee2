"""Pytest fixtures: the real upstream registry (CNCF distribution) holding test-built content.

``upstream`` (session) -> `Upstream`: ``.registry`` (`UpstreamRegistry`: ``.url``, ``.host``,
``.username``, ``.password``, ``.ca_pem``, ``.ca_file``, ``.stop()``/``.start()``),
``.images`` ({"containers/etcd:3.5.17-1.2": `Image`, ...}) and ``.charts``
({"charts/etcd-like": "0.1.0"}), pushed once per session: images through the registry API,
the fixture chart with the real `helm push` (Helm 4).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme

from tests.fixtures_helm import isolated_helm_env
from tests.oci_content import Image, Pusher
from tests.upstream_registry import UpstreamRegistry

REPO_ROOT = Path(__file__).resolve().parent.parent
# What the etcd-like fixture chart references, plus one multi-platform image of its own.
IMAGES: dict[str, list[str]] = {
    "containers/etcd:3.5.17-1.2": ["linux/amd64", "linux/arm64"],
    "containers/bci-busybox:15.6": ["linux/amd64"],
    "containers/kubectl:1.33.4": ["linux/amd64", "linux/arm64", "linux/s390x"],
}
CHARTS = {"charts/etcd-like": "0.1.0"}


@dataclass
class Upstream:
    registry: UpstreamRegistry
    images: dict[str, Image]
    charts: dict[str, str]


def _push_chart(helm4: Path, registry: UpstreamRegistry, work: Path) -> None:
    helm = isolated_helm_env(helm4, work / "helm")
    ca = str(registry.ca_file)
    steps = [
        (("registry", "login", registry.host, "--username", registry.username,
          "--password-stdin", "--ca-file", ca), registry.password),
        (("package", REPO_ROOT / "charts-fixtures" / "etcd-like", "-d", work), None),
        (("push", work / "etcd-like-0.1.0.tgz", f"oci://{registry.host}/charts", "--ca-file", ca),
         None),
    ]
    for args, stdin in steps:
        done = helm.run(*args, input=stdin)
        assert done.returncode == 0, f"helm {args[0]}: {done.stderr}"


@pytest.fixture(scope="session")
def upstream(helm4: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """The upstream registry, started once, with every test image and chart pushed."""
    root = tmp_path_factory.mktemp("upstream")
    registry = UpstreamRegistry(root, trustme.CA())
    registry.start()
    try:
        with registry.client() as client:
            pusher = Pusher(client)
            images = {
                name: pusher.image(name.partition(":")[0], name.partition(":")[2], platforms)
                for name, platforms in IMAGES.items()
            }
        _push_chart(helm4, registry, root)
        yield Upstream(registry, images, dict(CHARTS))
    finally:
        registry.stop()
