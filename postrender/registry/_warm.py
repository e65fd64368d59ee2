"""Pull every manifest (by digest) and blob behind the verified references through Harbor, so
its cache holds them: only a GET makes a proxy project store anything.

Resumable: each blob is asked for with HEAD first (Harbor answers it from its cache alone) and
skipped when present. Bounded concurrency; 429 and 5xx are retried by the client with backoff.
A blob refused by the project's upstream-connection limit is pulled again once the others are
done, one at a time.
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TextIO

from postrender.registry._check import (
    MISSING,
    OK,
    UNAUTHORIZED,
    UPSTREAM_ERROR,
    Check,
    classify,
    json_object,
    platform_of,
)
from postrender.registry._client import INDEX_TYPES, RegistryClient, TokenRefused

# A proxy project's `max_upstream_conn` reached: Harbor answers 429 with this at once, with no
# Retry-After, for as long as other pulls from the upstream stream (`repoproxy/proxy.go:
# handleBlob`), which can outlast any backoff.
_UPSTREAM_LIMIT = "too many requests to upstream registry"
_LIMITED = (
    "Harbor's limit on connections to the upstream (the project's max_upstream_conn) refused "
    "it even one pull at a time"
)

Failure = tuple[str, str] | None


class Blob(NamedTuple):
    repository: str
    digest: str
    size: int


class Progress:
    """Bytes pulled so far; redrawn in place on a terminal, summed up once otherwise."""

    def __init__(self, total: int, count: int, stream: TextIO) -> None:
        self.total, self.count, self.stream = total, count, stream
        self.bytes = self.done = 0
        self._lock = threading.Lock()
        self._live = stream.isatty()

    def add(self, size: int = 0, *, finished: bool = False) -> None:
        with self._lock:
            self.bytes += size
            self.done += finished
            if self._live:
                self.stream.write(f"\r{self._line()}")
                self.stream.flush()

    def close(self) -> None:
        self.stream.write(("\r" if self._live else "") + self._line() + "\n")

    def _line(self) -> str:
        return (f"warming: {self.done}/{self.count} blobs, "
                f"{_size(self.bytes)} of {_size(self.total)} pulled")


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def warm(
    client: RegistryClient,
    checks: Iterable[Check],
    platforms: frozenset[str],
    *,
    concurrency: int = 4,
    stream: TextIO | None = None,
) -> None:
    """Warm every ok check; a blob that cannot be pulled fails the check it belongs to.

    Progress goes to `stream`, standard error unless given.
    """
    owners: dict[Blob, list[Check]] = {}
    for check in checks:
        if check.result == OK:
            for blob in _blobs(client, check, platforms):
                owners.setdefault(blob, []).append(check)
    progress = Progress(sum(blob.size for blob in owners), len(owners), stream or sys.stderr)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(lambda blob: _pull(client, blob, progress), owners))
    outcomes = [
        _pull(client, blob, progress) if outcome[0] == (UPSTREAM_ERROR, _LIMITED) else outcome
        for blob, outcome in zip(owners, outcomes, strict=True)
    ]
    progress.close()
    for (blob, checks_of_blob), (failure, pulled) in zip(owners.items(), outcomes, strict=True):
        for check in checks_of_blob:
            if failure is not None and not check.failed:
                check.fail(failure[0], f"blob {blob.digest}: {failure[1]}")
            check.warmed += pulled
            check.cached += not pulled and failure is None
            check.warmed_bytes += blob.size if pulled else 0


def _blobs(client: RegistryClient, check: Check, platforms: frozenset[str]) -> list[Blob]:
    """Config and layers of the manifest, or of each wanted platform's manifest of an index."""
    repository = check.target.repository
    if not check.digest:  # a chart URL without a version: nothing in particular to pull
        return []
    try:
        manifest = _manifest(client, check, check.digest)
        if manifest is None:
            return []
        if check.media_type in INDEX_TYPES:
            children = [
                entry["digest"]
                for entry in _items(manifest, "manifests")
                if isinstance(entry.get("digest"), str)
                and (not platforms or platform_of(entry) in platforms)
            ]
            if not children:
                check.fail(MISSING, f"no manifest for {', '.join(sorted(platforms))}")
            manifests = [m for digest in children if (m := _manifest(client, check, digest))]
        else:
            manifests = [manifest]
    except TokenRefused as refused:
        check.fail(UNAUTHORIZED, str(refused))
        return []
    return [
        Blob(repository, item["digest"], _blob_size(item))
        for m in manifests
        for item in [m.get("config"), *_items(m, "layers")]
        if isinstance(item, dict) and isinstance(item.get("digest"), str)
    ]


def _items(manifest: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of the list `key` (an index's manifests, an image's layers)."""
    value = manifest.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _blob_size(item: dict[str, Any]) -> int:
    size = item.get("size")
    return size if isinstance(size, int) else 0


def _manifest(client: RegistryClient, check: Check, digest: str) -> dict[str, Any] | None:
    """GET a manifest by digest, which is what makes a proxy project store it."""
    response = client.get_manifest(check.target.repository, digest)
    if response.status_code != 200:
        check.fail(*classify(response, anonymous=client.anonymous))
        return None
    manifest = json_object(response.content)
    if manifest is None:
        check.fail(UPSTREAM_ERROR, f"manifest {digest}: 200, but not a JSON object")
    return manifest


def _pull(client: RegistryClient, blob: Blob, progress: Progress) -> tuple[Failure, bool]:
    """(failure, pulled): HEAD first; pull and check the digest only when Harbor lacks it."""
    try:
        if client.head_blob(blob.repository, blob.digest).status_code == 200:
            progress.add(finished=True)
            return None, False
        with client.stream_blob(blob.repository, blob.digest) as response:
            if response.status_code != 200:
                response.read()
                if response.status_code == 429 and _UPSTREAM_LIMIT in response.text:
                    return (UPSTREAM_ERROR, _LIMITED), False
                return classify(response, anonymous=client.anonymous), False
            digest = hashlib.sha256()
            for chunk in response.iter_bytes():
                digest.update(chunk)
                progress.add(len(chunk))
    except TokenRefused as refused:
        return (UNAUTHORIZED, str(refused)), False
    progress.add(finished=True)
    if "sha256:" + digest.hexdigest() != blob.digest:
        return (UPSTREAM_ERROR, "content does not match its digest"), False
    return None, True
