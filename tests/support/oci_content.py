"""Small OCI images built by the tests and pushed through the registry API (blobs, then manifests).

Each layer is a real gzipped tar holding one file whose text names the image and platform, so
every image and every platform has its own digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field

import httpx

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _layer(text: str) -> tuple[bytes, str]:
    """The gzipped layer and its diff ID (the digest of the tar before compression), which
    runtimes that unpack (containerd, podman) check against the config's `rootfs.diff_ids`."""
    payload = text.encode()
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        info = tarfile.TarInfo("etc/image-id")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return gzip.compress(tar_bytes.getvalue(), mtime=0), digest_of(tar_bytes.getvalue())


@dataclass
class Image:
    """What was pushed for one tag: its manifest digest and every blob digest under it."""

    repository: str
    tag: str
    digest: str
    blobs: dict[str, int] = field(default_factory=dict)  # digest → size


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}


class Pusher:
    """Pushes images with the distribution API over an authenticated httpx client."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def blob(self, repository: str, data: bytes) -> str:
        started = self.client.post(f"/v2/{repository}/blobs/uploads/")
        started.raise_for_status()
        digest = digest_of(data)
        # The upload URL carries its own state in the query: add the digest, keep the rest.
        location = httpx.URL(started.headers["location"]).copy_merge_params({"digest": digest})
        done = self.client.put(
            location,
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        done.raise_for_status()
        return digest

    def manifest(self, repository: str, reference: str, media_type: str, data: bytes) -> str:
        response = self.client.put(
            f"/v2/{repository}/manifests/{reference}",
            content=data,
            headers={"Content-Type": media_type},
        )
        response.raise_for_status()
        return digest_of(data)

    def _platform_manifest(self, image: Image, platform: str, build: str) -> bytes:
        os_name, _, arch = platform.partition("/")
        layer, diff_id = _layer(f"{image.repository}:{image.tag} {platform}{build}\n")
        config = json.dumps(
            {
                "architecture": arch,
                "os": os_name,
                "config": {"Labels": {"image": f"{image.repository}:{image.tag}"}},
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            }
        ).encode()
        for blob in (config, layer):
            self.blob(image.repository, blob)
            image.blobs[digest_of(blob)] = len(blob)
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": _descriptor(OCI_CONFIG, config),
                "layers": [_descriptor(OCI_LAYER, layer)],
            }
        ).encode()

    def image(self, repository: str, tag: str, platforms: list[str], build: str = "") -> Image:
        """One platform: a manifest under `tag`; several: an index over per-platform manifests.
        Another `build` makes other content under the same tag (a tag moved upstream)."""
        image = Image(repository, tag, "")
        if len(platforms) == 1:
            data = self._platform_manifest(image, platforms[0], build)
            image.digest = self.manifest(repository, tag, OCI_MANIFEST, data)
            return image
        entries = []
        for platform in platforms:
            data = self._platform_manifest(image, platform, build)
            self.manifest(repository, digest_of(data), OCI_MANIFEST, data)
            os_name, _, arch = platform.partition("/")
            entry = _descriptor(OCI_MANIFEST, data)
            entry["platform"] = {"os": os_name, "architecture": arch}
            entries.append(entry)
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        ).encode()
        image.digest = self.manifest(repository, tag, OCI_INDEX, index)
        return image
