"""Harbor's registry data plane (`/v2/`): token auth, and a proxy cache per proxy-cache project.

Follows `../shared/reference/harbor-api.md` §4. The upstream repository is the local one with
`<project>/` stripped; Harbor fetches it from the project's registry endpoint with the
endpoint's stored credentials and TLS settings, and keeps what it fetched:

- manifest by tag: HEAD upstream for the current digest; a cached copy with that digest is
  served locally, otherwise the manifest is fetched and cached. Upstream 404 is 404 even when
  cached (unless `proxy_cache_local_on_not_found` is "true"); 429 serves the cache or is 429;
  any other upstream failure (down, 5xx, refused credentials) serves the cache or passes on.
- manifest by digest and blobs: served from the cache with no upstream check, else fetched.
  Only GET of a blob is proxied; HEAD of a blob answers from the cache alone, like Harbor,
  where blob HEAD never reaches the proxy middleware.
- an endpoint whose status is not "healthy" is never asked: only the cache answers.
- an index is cached as soon as it is fetched (Harbor keeps it in Redis before storing it).
- pushes into a proxy project: 403 DENIED.
Projects that are not proxies serve only what their cache holds (the emulator takes no pushes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field

import httpx

from .registries import Endpoint
from .registry_token import TOKEN_PATH, Tokens
from .state import Project, State
from .wire import WRITE_METHODS, Request, Response, json_response

PREFIXES = ("/v2/", TOKEN_PATH)
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


class _Upstream(Exception):
    """The upstream answered with an error status, or could not be reached (status None)."""

    def __init__(self, status: int | None, body: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"errors": [{"code": code, "message": message}]})


@dataclass
class Cache:
    """One project's stored content: manifests and blobs by digest, tags by repository."""

    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class RegistryPlane:
    """Answers `/v2/…` and `/service/token`; `caches` lets tests see what Harbor holds."""

    tokens: Tokens = field(default_factory=Tokens)
    caches: dict[str, Cache] = field(default_factory=dict)

    def handle(self, request: Request, state: State, base_url: str) -> Response:
        if request.path == TOKEN_PATH:
            return self.tokens.issue(request, state)
        if request.path == "/v2/":
            if not self.tokens.allows(request, None, "pull"):
                return self.tokens.challenge(request, base_url, None)
            return Response(200, [("Content-Type", "application/json")], b"{}")
        name, kind, reference = _split(request.path)
        if name is None:
            return _error(404, "NOT_FOUND", f"{request.path} not found")
        action = "push" if request.method in WRITE_METHODS else "pull"
        if not self.tokens.allows(request, name, action):
            return self.tokens.challenge(request, base_url, name, action)
        project = state.project_by_name(name.partition("/")[0])
        if project is None:
            return _error(404, "NOT_FOUND", f"project {name.partition('/')[0]} not found")
        if action == "push":
            if project.registry_id:
                return _error(403, "DENIED", "can not push artifact to a proxy project")
            return _error(405, "UNSUPPORTED", "the emulator takes no pushes")
        endpoint = _endpoint(project, state)
        cache = self.caches.setdefault(project.name, Cache())
        repository = name.partition("/")[2]
        if kind == "manifests":
            return _manifest(cache, endpoint, project, repository, reference)
        if kind == "blobs":
            return _blob(cache, endpoint, repository, reference, request.method)
        return _tags(cache, endpoint, name, repository)


_ROUTE = re.compile(r"^/v2/(?P<name>.+?)/(?P<kind>manifests|blobs)/(?P<ref>uploads/.*|[^/]+)$")


def _split(path: str) -> tuple[str | None, str, str]:
    """`/v2/<name>/manifests/<ref>` → (name, "manifests", ref); same for blobs (uploads too)
    and tags/list."""
    if path.endswith("/tags/list"):
        return path.removeprefix("/v2/").removesuffix("/tags/list"), "tags", ""
    found = _ROUTE.match(path)
    if found is None:
        return None, "", ""
    return found["name"], found["kind"], found["ref"]


def _endpoint(project: Project, state: State) -> Endpoint | None:
    """The endpoint to proxy to, or None when only the cache may answer."""
    registry = state.registries.get(project.registry_id)
    if registry is None or registry.status != "healthy":
        return None
    return Endpoint.of(registry)


def _fetch(endpoint: Endpoint, method: str, path: str) -> httpx.Response:
    try:
        with endpoint.client() as client:
            response = client.request(
                method, path, headers={"Accept": MANIFEST_TYPES}, follow_redirects=True
            )
    except httpx.HTTPError:
        raise _Upstream(None) from None
    if response.status_code != 200:
        raise _Upstream(response.status_code, response.text)
    return response


def _serve_manifest(cache: Cache, digest: str | None) -> Response:
    assert digest is not None
    media_type, body = cache.manifests[digest]
    return _content(media_type, digest, body)


def _content(media_type: str, digest: str, body: bytes) -> Response:
    headers = [
        ("Content-Type", media_type),
        ("Docker-Content-Digest", digest),
        ("Content-Length", str(len(body))),
    ]
    return Response(200, headers, body)


def _upstream_failure(failure: _Upstream, unknown: str, what: str) -> Response:
    """What Harbor passes on when the upstream failed and nothing is cached."""
    if failure.status == 404:
        return _error(404, unknown, f"{what} not found upstream")
    if failure.status == 429:
        return _error(429, "TOO_MANY_REQUEST", "too many requests to upstream registry")
    if failure.status in (401, 403):
        code = "UNAUTHORIZED" if failure.status == 401 else "FORBIDDEN"
        return _error(
            failure.status, code, f"http status code: {failure.status}, body: {failure.body}"
        )
    return _error(500, "UNKNOWN", "internal server error")


def _manifest(
    cache: Cache, endpoint: Endpoint | None, project: Project, repository: str, reference: str
) -> Response:
    by_digest = reference.startswith("sha256:")
    local = reference if by_digest else cache.tags.get(repository, {}).get(reference)
    if local is not None and local in cache.manifests and (by_digest or endpoint is None):
        return _serve_manifest(cache, local)
    if endpoint is None:
        return _error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {repository}:{reference}")
    path = f"/v2/{repository}/manifests/{reference}"
    try:
        if not by_digest:
            current = _fetch(endpoint, "HEAD", path).headers.get("docker-content-digest")
            if current is not None and current == local and local in cache.manifests:
                return _serve_manifest(cache, local)
        fetched = _fetch(endpoint, "GET", path)
    except _Upstream as failure:
        keep_on_404 = project.metadata.get("proxy_cache_local_on_not_found") == "true"
        if local in cache.manifests and (failure.status != 404 or keep_on_404):
            return _serve_manifest(cache, local)
        return _upstream_failure(failure, "MANIFEST_UNKNOWN", f"{repository}:{reference}")
    body = fetched.content
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    media_type = fetched.headers.get("content-type") or json.loads(body).get("mediaType", "")
    cache.manifests[digest] = (media_type, body)
    if not by_digest:
        cache.tags.setdefault(repository, {})[reference] = digest
    return _content(media_type, digest, body)


def _blob(
    cache: Cache, endpoint: Endpoint | None, repository: str, digest: str, method: str
) -> Response:
    if digest in cache.blobs:
        return _content("application/octet-stream", digest, cache.blobs[digest])
    if method == "HEAD" or endpoint is None:
        return _error(404, "BLOB_UNKNOWN", f"blob unknown to registry: {digest}")
    try:
        body = _fetch(endpoint, "GET", f"/v2/{repository}/blobs/{digest}").content
    except _Upstream as failure:
        return _upstream_failure(failure, "BLOB_UNKNOWN", digest)
    if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
        return _error(500, "UNKNOWN", "internal server error")
    cache.blobs[digest] = body
    return _content("application/octet-stream", digest, body)


def _tags(cache: Cache, endpoint: Endpoint | None, name: str, repository: str) -> Response:
    """Local tags plus upstream tags, as Harbor lists them for a proxy project since v2.5."""
    tags = set(cache.tags.get(repository, {}))
    if endpoint is not None:
        with contextlib.suppress(_Upstream, ValueError, KeyError, TypeError):
            tags.update(_fetch(endpoint, "GET", f"/v2/{repository}/tags/list").json()["tags"])
    if not tags:
        return _error(404, "NAME_UNKNOWN", f"repository name not known to registry: {name}")
    return json_response(200, {"name": name, "tags": sorted(tags)})
