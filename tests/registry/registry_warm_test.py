"""`verify --warm` against a handler: bounded concurrency, digests checked, progress reported."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time

import httpx

from postrender.harbor import RetryPolicy
from postrender.registry import Check, Target
from postrender.registry._client import RegistryClient
from postrender.registry._warm import warm
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.fixtures_registry import harbor_client

REPOSITORY = "appco/containers/etcd"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """One manifest (config + layers); counts how many blob GETs are in flight at once.

    A blob GET waits (up to half a second) for `together` GETs to be in flight, so the count
    shows the client's limit rather than how fast threads happened to start.
    """

    def __init__(self, layers: int, *, together: int = 1, corrupt: bytes | None = None) -> None:
        contents = [b"config", *(b"layer-%d" % i for i in range(layers))]
        self.blobs = {_digest(data): data for data in contents}
        config, *rest = self.blobs
        self.manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {"digest": config, "size": len(self.blobs[config])},
            "layers": [{"digest": d, "size": len(self.blobs[d])} for d in rest],
        }).encode()
        self.corrupt = corrupt
        self.together = together
        self.in_flight = self.most_in_flight = 0
        self._changed = threading.Condition()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        kind, _, reference = request.url.path.removeprefix(f"/v2/{REPOSITORY}/").partition("/")
        if kind == "manifests":
            return httpx.Response(200, content=self.manifest, headers={
                "Content-Type": MANIFEST_TYPE, "Docker-Content-Digest": _digest(self.manifest),
            })
        if request.method == "HEAD":
            return httpx.Response(404)
        with self._changed:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._changed.notify_all()
            self._changed.wait_for(lambda: self.in_flight >= self.together, timeout=0.5)
        time.sleep(0.01)
        with self._changed:
            self.in_flight -= 1
        body = self.blobs[reference]
        if body == b"layer-0" and self.corrupt is not None:
            body = self.corrupt
        return httpx.Response(200, content=body)


def _warm(registry: Registry, concurrency: int) -> tuple[Check, str]:
    target = Target(f"harbor.test/{REPOSITORY}:3.5", REPOSITORY, "3.5", None, False)
    check = Check(target, "ok", _digest(registry.manifest), MANIFEST_TYPE)
    http = httpx.Client(base_url="https://harbor.test", transport=httpx.MockTransport(registry))
    progress = io.StringIO()
    warm(RegistryClient(http, None), [check], frozenset(), concurrency=concurrency, stream=progress)
    return check, progress.getvalue()


def test_warm_pulls_every_blob_at_most_concurrency_at_a_time():
    registry = Registry(layers=8, together=3)
    check, progress = _warm(registry, concurrency=3)
    assert (check.result, check.warmed, check.cached) == ("ok", 9, 0)
    assert check.warmed_bytes == sum(len(data) for data in registry.blobs.values())
    assert registry.most_in_flight == 3
    assert progress.startswith("warming: 9/9 blobs, ")


def test_warm_fails_the_check_when_a_blob_does_not_match_its_digest():
    check, _ = _warm(Registry(layers=2, corrupt=b"tampered"), concurrency=2)
    assert check.result == "upstream error"
    assert "content does not match its digest" in check.detail
    assert check.warmed == 2


def test_warm_fails_the_check_when_a_manifest_is_not_json():
    registry = Registry(layers=1)
    registry.manifest = b"<html>maintenance</html>"
    check, _ = _warm(registry, concurrency=1)
    assert check.result == "upstream error"
    assert check.detail == f"manifest {_digest(registry.manifest)}: 200, but not a JSON object"
    assert check.warmed == 0


def test_warm_gets_every_blob_past_harbors_upstream_connection_limit(mirror):
    """Issue 16 item 9: a proxy project's max_upstream_conn makes Harbor answer 429 at once,
    without Retry-After, while other blobs stream; retries run out long before they finish.
    The refused blobs are pulled again after the others, one at a time."""
    harbor = mirror.harbor
    harbor.state.project_by_name(mirror.project).metadata["max_upstream_conn"] = "1"
    harbor.state.upstream_limit_on_project = True
    harbor.state.upstream_blob_seconds = 0.3  # far longer than the whole backoff below
    image = mirror.upstream.images["containers/bci-busybox:15.6"]
    repository = f"{mirror.project}/containers/bci-busybox"
    target = Target(f"{mirror.host}/{repository}:15.6", repository, "15.6", None, False)
    check = Check(target, "ok", image.digest, MANIFEST_TYPE)
    client = RegistryClient(
        harbor_client(harbor), (ADMIN_USERNAME, ADMIN_PASSWORD),
        retry=RetryPolicy(attempts=3, base_delay=0.01),
    )  # fmt: skip

    warm(client, [check], frozenset(), concurrency=4, stream=io.StringIO())

    assert (check.result, check.detail) == ("ok", "")
    assert check.warmed == len(image.blobs)
    refused = [e for e in harbor.exchanges if e.response.status == 429]
    assert refused and all(b"too many requests to upstream" in e.response.body for e in refused)
