"""Pytest fixtures: a real `docker-registry` upstream holding content signed here in cosign's
format, one image per case, and a proxy-cache project of it on the emulator.

``signed`` (session) -> `Signed`: ``.upstream`` (`Upstream`), ``.images`` ({"containers/app:1.0":
`Image`, ...}), ``.signer`` (the key pair that signed), ``.stranger`` (another), ``.key`` (the
signer's public key as `--key` reads it). Cases: ``containers/app:1.0`` (index and both
platforms signed and attested), ``containers/halfsigned:1.0`` (platforms signed, index not),
``containers/plain:1.0`` (signed and attested), ``containers/tampered:1.0`` (payload changed
after signing), ``containers/stranger:1.0`` (signed by another key), ``containers/unsigned:1.0``,
``containers/elsewhere:1.0`` (a valid signature naming another digest),
``containers/cosigned:1.0`` (two layers, the stranger's and the signer's, whose blob the upstream
has lost), ``charts/x:0.1.0`` (signed). ``signed_harbor`` -> the HTTPS emulator with proxy
project ``application-collection`` of that upstream.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import trustme

from postrender.trust.cosign import SIGNATURE
from postrender.trust.keys import TrustedKey, parse_key
from tests.harbor_emulator import HarborEmulator
from tests.support.cosign_signing import (
    Signer,
    attest,
    push_artifact,
    sign,
    signature_layer,
    simple_signing_payload,
)
from tests.support.fixtures_registry import Upstream, add_proxy_project
from tests.support.oci_content import OCI_MANIFEST, Image, Pusher, digest_of
from tests.support.upstream_registry import UpstreamRegistry

PROJECT = "application-collection"
MULTI = ["linux/amd64", "linux/arm64"]
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"


@dataclass
class Signed:
    """The upstream, what it holds (by `repo:tag`), and the key that signed it."""

    upstream: Upstream
    images: dict[str, Image]
    signer: Signer
    stranger: Signer

    @property
    def key(self) -> TrustedKey:
        return parse_key(self.signer.pem, "test key")


def push_chart(pusher: Pusher, repository: str, tag: str,
               config: bytes = b'{"name":"x","version":"0.1.0"}', layer: bytes = b"chart bytes"
               ) -> Image:
    """A chart as `helm push` stores one: a Helm config and one chart layer (by default not a
    chart Helm could read: the checks here never unpack it)."""
    for blob in (config, layer):
        pusher.blob(repository, blob)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": HELM_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": HELM_CHART, "digest": digest_of(layer), "size": len(layer)}],
    }).encode()
    return Image(repository, tag, pusher.manifest(repository, tag, OCI_MANIFEST, manifest))


def push_helm_chart(pusher: Pusher, name: str, templates: dict[str, str]) -> Image:
    """`charts/NAME:0.1.0` as `helm package` and `helm push` make it, which Helm can render:
    NAME/Chart.yaml and NAME/templates/FILE for each of `templates` in a gzipped tar."""
    chart = f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n"
    files = {f"{name}/Chart.yaml": chart,
             **{f"{name}/templates/{file}": text for file, text in templates.items()}}
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    config = json.dumps({"apiVersion": "v2", "name": name, "version": "0.1.0"}).encode()
    return push_chart(pusher, f"charts/{name}", "0.1.0", config, out.getvalue())


def _children(pusher: Pusher, image: Image) -> list[str]:
    index = pusher.client.get(f"/v2/{image.repository}/manifests/{image.digest}",
                              headers={"Accept": "application/vnd.oci.image.index.v1+json"})
    return [entry["digest"] for entry in index.json()["manifests"]]


@pytest.fixture(scope="session")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    """One case per image: signed in full, tampered, by a stranger, unsigned, and so on."""
    registry = UpstreamRegistry(tmp_path_factory.mktemp("signed-upstream"), trustme.CA())
    registry.start()
    signer, stranger = Signer.rsa(), Signer.ecdsa()
    try:
        with registry.client() as client:
            pusher = Pusher(client)
            images = {
                name: pusher.image(name.partition(":")[0], name.partition(":")[2], platforms)
                for name, platforms in {
                    "containers/app:1.0": MULTI, "containers/halfsigned:1.0": MULTI,
                    "containers/plain:1.0": ["linux/amd64"],
                    "containers/tampered:1.0": ["linux/amd64"],
                    "containers/stranger:1.0": ["linux/amd64"],
                    "containers/unsigned:1.0": ["linux/amd64"],
                    "containers/elsewhere:1.0": ["linux/amd64"],
                    "containers/cosigned:1.0": ["linux/amd64"],
                }.items()
            }
            images["charts/x:0.1.0"] = push_chart(pusher, "charts/x", "0.1.0")
            for name in ("containers/app:1.0", "containers/plain:1.0", "charts/x:0.1.0"):
                image = images[name]
                sign(pusher, image.repository, image.digest, signer)
            for image in (images["containers/app:1.0"], images["containers/halfsigned:1.0"]):
                for child in _children(pusher, image):
                    sign(pusher, image.repository, child, signer)
                    attest(pusher, image.repository, child, signer)
            attest(pusher, "containers/plain", images["containers/plain:1.0"].digest, signer)
            tampered = images["containers/tampered:1.0"]
            payload, annotations = signature_layer(signer, tampered.digest)
            changed = payload.replace(b'"OBS"', b'"OBZ"')  # one byte, after signing
            push_artifact(pusher, tampered.repository, tampered.digest, SIGNATURE,
                          [(changed, annotations)])
            odd = images["containers/stranger:1.0"]
            sign(pusher, odd.repository, odd.digest, stranger)
            elsewhere = images["containers/elsewhere:1.0"]  # a valid signature of another image
            push_artifact(pusher, elsewhere.repository, elsewhere.digest, SIGNATURE, [
                signature_layer(signer, elsewhere.digest,
                                simple_signing_payload(images["containers/plain:1.0"].digest))])
            cosigned = images["containers/cosigned:1.0"]
            lost = signature_layer(signer, cosigned.digest)
            push_artifact(pusher, cosigned.repository, cosigned.digest, SIGNATURE,
                          [signature_layer(stranger, cosigned.digest, simple_signing_payload(
                              cosigned.digest, "elsewhere/x")), lost])  # other bytes: other blob
        _lose_blob(registry, digest_of(lost[0]))
        yield Signed(Upstream(registry, images), images, signer, stranger)
    finally:
        registry.stop()


def _lose_blob(registry: UpstreamRegistry, digest: str) -> None:
    """Delete a blob from the registry's storage, as a half-copied upstream would lack it: its
    GET answers 404 while the manifest naming it stays (distribution's filesystem layout)."""
    hex_digest = digest.removeprefix("sha256:")
    (registry.root / "data" / "docker" / "registry" / "v2" / "blobs" / "sha256" / hex_digest[:2]
     / hex_digest / "data").unlink()


@pytest.fixture
def signed_harbor(harbor_tls: HarborEmulator, signed: Signed) -> HarborEmulator:
    add_proxy_project(harbor_tls, signed.upstream, PROJECT)
    return harbor_tls
