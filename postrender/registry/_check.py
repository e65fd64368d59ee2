"""Ask Harbor whether one reference resolves, and say so in the words a person acts on.

ok: Harbor has (or, through a proxy cache, just fetched) the manifest. missing: Harbor or its
upstream says not found. unauthorized: Harbor refused our credentials, or the upstream refused
the endpoint's. upstream error: anything else (rate limits after retries, 5xx, a 200 that is
no manifest). skipped: an oci:// URL with no version that lists none, i.e. a repository
prefix, not a chart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from postrender.harbor import error_detail
from postrender.registry._client import INDEX_TYPES, RegistryClient, TokenRefused
from postrender.registry._references import Target

OK = "ok"
MISSING = "missing"
UNAUTHORIZED = "unauthorized"
UPSTREAM_ERROR = "upstream error"
SKIPPED = "skipped"


@dataclass
class Check:
    """The outcome for one target; `warmed`/`cached` count blobs once `--warm` ran."""

    target: Target
    result: str
    digest: str = ""
    media_type: str = ""
    platforms: list[str] = field(default_factory=list)
    detail: str = ""
    warmed_bytes: int = 0
    warmed: int = 0
    cached: int = 0

    @property
    def failed(self) -> bool:
        return self.result not in (OK, SKIPPED)

    def fail(self, result: str, detail: str) -> None:
        self.result, self.detail = result, detail

    def as_dict(self) -> dict[str, object]:
        return {
            "reference": self.target.reference,
            "repository": self.target.repository,
            "result": self.result,
            "digest": self.digest or None,
            "mediaType": self.media_type or None,
            "platforms": self.platforms,
            "detail": self.detail or None,
            "warm": {"pulled": self.warmed, "cached": self.cached, "bytes": self.warmed_bytes},
        }


def classify(response: httpx.Response) -> tuple[str, str]:
    """(result, detail) for an error answer; a HEAD has no body, so its status speaks."""
    status = response.status_code
    body = error_detail(response) if response.request.method != "HEAD" else ""
    detail = f"{status} {body}".strip()
    if status == 404:
        return MISSING, detail
    if status in (401, 403):
        if "insufficient_scope" in response.headers.get("www-authenticate", ""):
            return UNAUTHORIZED, f"{detail}: these credentials may not pull from the project"
        return UNAUTHORIZED, f"{detail}: the upstream refused Harbor's endpoint credentials"
    return UPSTREAM_ERROR, detail


def check(client: RegistryClient, target: Target) -> Check:
    """HEAD the manifest through Harbor (a proxy cache fetches it); list platforms of an index."""
    reference = target.manifest
    try:
        if reference is None:
            return _check_versions(client, target)
        response = client.head_manifest(target.repository, reference)
        if response.status_code == 200 and response.headers.get("content-type") in INDEX_TYPES:
            response = client.get_manifest(target.repository, reference)
    except TokenRefused as refused:
        return Check(target, UNAUTHORIZED, detail=str(refused))
    if response.status_code != 200:
        return _failed(target, response)
    media_type = response.headers.get("content-type", "")
    digest = response.headers.get("docker-content-digest", "")
    if not digest:  # every registry names the manifest it serves; a web page does not
        detail = f"200 {media_type or 'without Content-Type'}, not a manifest: is the host Harbor?"
        return Check(target, UPSTREAM_ERROR, detail=detail)
    result = Check(target, OK, digest, media_type)
    if media_type in INDEX_TYPES:
        result.platforms = platforms(response.content)
    return result


def _failed(target: Target, response: httpx.Response) -> Check:
    result, detail = classify(response)
    return Check(target, result, detail=detail)


def _check_versions(client: RegistryClient, target: Target) -> Check:
    """A chart URL without a version: a chart lists its versions; a URL that lists none is
    taken for a repository prefix (a Flux HelmRepository) and skipped, not failed."""
    response = client.tags(target.repository)
    if response.status_code == 404:
        return Check(target, SKIPPED, detail="no versions listed: a chart repository prefix?")
    if response.status_code != 200:
        return _failed(target, response)
    tags = response.json().get("tags") or []
    return Check(target, OK, detail=f"{len(tags)} versions listed")


def platforms(index: bytes) -> list[str]:
    """`os/arch[/variant]` of every manifest an index lists."""
    return [platform_of(entry) for entry in json.loads(index).get("manifests", [])]


def platform_of(entry: dict[str, Any]) -> str:
    """`os/arch[/variant]` of one entry of an index."""
    platform = entry.get("platform") or {}
    parts = [platform.get("os"), platform.get("architecture"), platform.get("variant")]
    return "/".join(part for part in parts if part)
