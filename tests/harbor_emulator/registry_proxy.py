"""Harbor's registry data plane (`/v2/`): local content, and the proxy cache of proxy projects.

Routes as `server/registry/route.go`; auth in `registry_token.py`. The upstream repository is
the local one with `<project>/` stripped (`controller/proxy/controller.go:GetRemoteRepo`),
fetched with the endpoint's stored credentials and TLS settings. What Harbor keeps is in
`store.py` (shared with replication).

- manifests (`server/middleware/repoproxy/proxy.go:handleManifest`, then
  `controller/proxy/controller.go:UseLocalManifest`): by digest, a local copy answers with no
  upstream call. Otherwise Harbor HEADs the upstream: 404 is 404 (unless
  `proxy_cache_local_on_not_found`), 429 serves the local copy or is 429; an index in the
  Redis cache under the upstream digest answers, then a local copy with that digest.
  Else a HEAD is only HEADed upstream (`proxyManifestHead`: nothing cached) and a GET is
  fetched and cached (`proxyManifestGet`), answering with the digest of the request: empty
  for a tag (`setHeaders(..., art.Digest)`). Any other upstream failure (401, 403, 5xx, down)
  falls back to local content (`ManifestMiddleware`), so 404 when nothing is local.
- blobs: HEAD is local only (no proxy middleware on that route); GET of a missing blob is
  fetched (`BlobGetMiddleware`, `ProxyBlob`), upstream errors passed on with their status.
  Harbor stores it by a second upstream fetch in the background; the emulator at once.
- cosign's `sha256-<hex>.sig`/`.att` tags are ordinary tags to the proxy: nothing under
  `server/middleware/repoproxy/` or `controller/proxy/` treats them apart. Only the local push
  runs `server/middleware/cosign/cosign.go:SignatureMiddleware` afterwards, which records a
  `.sig` as its subject's accessory (Harbor's UI and `enable_content_trust_cosign`, neither
  emulated); what `/v2/` serves is the same.
- tags/list (`repoproxy/tag.go:TagsListMiddleware`): local and upstream tags, always 200 (`[]`
  when none); upstream failures just leave the local tags.
- an endpoint that is not "healthy" is never asked (`canProxy`): only local content answers.
- pushes into a proxy project: 403 DENIED (`DisableBlobAndManifestUploadMiddleware`).
  Non-proxy projects serve what replication copied in; the emulator takes no pushes.
- a proxied single manifest is stored at once (Harbor waits for its blobs, then after 10 x 20 s
  fetches the missing ones itself: `ManifestCache.CacheContent`); indexes as `store.py` says.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from .registry_token import TOKEN_PATH, Tokens, check
from .remote import Endpoint, UpstreamFailure, fetch, manifest_of
from .state import Project, State
from .store import Content, Manifest, digest_of
from .wire import WRITE_METHODS, Request, Response, json_response

PREFIXES = ("/v2/", TOKEN_PATH)


def _error(status: int, code: str, message: str) -> Response:
    return json_response(status, {"errors": [{"code": code, "message": message}]})


class UpstreamLimit:
    """A proxy project's `max_upstream_conn` (v2.15.0+): `repoproxy/proxy.go:handleBlob` takes
    a count in Redis (`pkg/proxy/connection/limit.go:Acquire`) before pulling a blob from the
    upstream and gives it back once the blob is sent (`Release`); over the limit it answers
    429 "too many requests to upstream registry" at once, without Retry-After. The key is the
    blob (`<repo>:<digest>`), or the project with UPSTREAM_REGISTRY_LIMIT_ON_PROJECT."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # released by the server, outside the emulator's lock
        self._in_flight: Counter[str] = Counter()

    def acquire(self, key: str, limit: int) -> bool:
        with self._lock:
            if self._in_flight[key] + 1 > limit:
                return False
            self._in_flight[key] += 1
            return True

    def release(self, key: str) -> None:
        with self._lock:
            self._in_flight[key] = max(0, self._in_flight[key] - 1)


@dataclass
class RegistryPlane:
    """Answers `/v2/…` and `/service/token`; the content itself is `State.store`."""

    tokens: Tokens = field(default_factory=Tokens)
    limit: UpstreamLimit = field(default_factory=UpstreamLimit)

    def handle(self, request: Request, state: State, base_url: str) -> Response:
        if request.path == TOKEN_PATH:
            return self.tokens.issue(request, state)
        caller = self.tokens.caller(request, state)
        if request.path == "/v2/":
            refused = check(request, state, base_url, caller, None, "pull")
            return refused or Response(200, [("Content-Type", "application/json")], b"{}")
        name, kind, reference = _split(request.path)
        if name is None:
            return _error(404, "NOT_FOUND", f"{request.path} not found")
        action = "push" if request.method in WRITE_METHODS else "pull"
        refused = check(request, state, base_url, caller, name, action)
        if refused is not None:
            return refused
        project = state.project_by_name(name.partition("/")[0])
        assert project is not None  # check() refused a missing project
        if action == "push":
            if project.registry_id:
                message = f"can not push artifact to a proxy project: {project.name}"
                return _error(403, "DENIED", message)
            return _error(405, "UNSUPPORTED", "the emulator takes no pushes")
        endpoint = _endpoint(project, state)
        content = state.store.content(project.name)
        repository = name.partition("/")[2]
        if kind == "manifests":
            return _manifest(request.method, content, endpoint, project, name, reference)
        if kind == "blobs":
            if reference in content.blobs or request.method == "HEAD" or endpoint is None:
                return _blob(content, endpoint, repository, reference, request.method)
            return self._upstream_blob(state, project, content, endpoint, repository, reference)
        return _tags(content, endpoint, name, repository)

    def _upstream_blob(
        self,
        state: State,
        project: Project,
        content: Content,
        endpoint: Endpoint,
        repository: str,
        digest: str,
    ) -> Response:
        """A blob GET that goes to the upstream, within the project's `max_upstream_conn`."""
        try:
            limit = int(project.metadata.get("max_upstream_conn", "0"))
        except ValueError:
            limit = 0
        key = project.name if state.upstream_limit_on_project else f"{repository}:{digest}"
        if limit > 0 and not self.limit.acquire(key, limit):
            return _error(429, "TOO_MANY_REQUEST", "too many requests to upstream registry")
        response = _blob(content, endpoint, repository, digest, "GET")
        response.body_seconds = state.upstream_blob_seconds
        if limit > 0:
            response.after = lambda: self.limit.release(key)
        return response


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
    """`canProxy`: the endpoint to proxy to, or None when only local content may answer."""
    registry = state.registries.get(project.registry_id)
    if registry is None or registry.status != "healthy":
        return None
    return Endpoint.of(registry)


def _serve(manifest: Manifest, digest: str, method: str) -> Response:
    headers = [
        ("Content-Type", manifest.media_type),
        ("Content-Length", str(len(manifest.body))),
        ("Docker-Content-Digest", digest),
        ("Etag", digest),
    ]
    return Response(200, headers, b"" if method == "HEAD" else manifest.body)


def _local_manifest(method: str, content: Content, name: str, reference: str) -> Response:
    """`server/registry/manifest.go:getManifest`: the artifact controller's lookup, or 404."""
    repository = name.partition("/")[2]
    found = content.manifest(repository, reference)
    if found is not None:
        return _serve(found, found.digest, method)
    if reference.startswith("sha256:"):
        return _error(404, "NOT_FOUND", f"artifact {name}@{reference} not found")
    if repository not in content.repositories():
        return _error(404, "NOT_FOUND", f"repository {name} not found")
    return _error(404, "NOT_FOUND", f"artifact {name}:{reference} not found")


def _manifest(
    method: str,
    content: Content,
    endpoint: Endpoint | None,
    project: Project,
    name: str,
    reference: str,
) -> Response:
    repository = name.partition("/")[2]
    if endpoint is None:
        return _local_manifest(method, content, name, reference)
    by_digest = reference.startswith("sha256:")
    local = content.manifest(repository, reference)
    if local is not None and by_digest:  # UseLocalManifest: "Pull by digest when artifact exist
        return _serve(local, local.digest, method)  # in local", the upstream never asked
    path = f"/v2/{repository}/manifests/{reference}"
    try:  # UseLocalManifest: remote.ManifestExist, a HEAD for every tag and unknown digest
        upstream = fetch(endpoint, "HEAD", path).headers.get("docker-content-digest", "")
    except UpstreamFailure as failure:
        if failure.status == 404:
            keep = project.metadata.get("proxy_cache_local_on_not_found") == "true"
            if local is not None and keep:
                return _serve(local, local.digest, method)
            tag = "" if by_digest else reference
            return _error(404, "NOT_FOUND", f"repo {name}, tag {tag} not found")
        if failure.status == 429:
            if local is not None:
                return _serve(local, local.digest, method)
            return _error(429, "TOO_MANY_REQUEST", "too many requests to upstream registry")
        # server/middleware/repoproxy/proxy.go handleManifest: any other upstream error is
        # logged "fallback to local" and the local registry answers
        return _local_manifest(method, content, name, reference)
    listed = content.lists.get((repository, upstream))
    if listed is not None:
        return _serve(listed, upstream, method)
    if local is not None and local.digest == upstream:
        return _serve(local, local.digest, method)
    try:
        if method == "HEAD":
            return _head_upstream(content, endpoint, repository, reference)
        return _get_upstream(content, endpoint, repository, reference)
    except UpstreamFailure as failure:
        if failure.status in (404, 429):
            return failure.response()
        return _local_manifest(method, content, name, reference)


def _head_upstream(
    content: Content, endpoint: Endpoint, repository: str, reference: str
) -> Response:
    """`proxyManifestHead`: the upstream's descriptor as headers; nothing is cached, but the
    tag is put on that digest once it is local (`EnsureTag` in the background)."""
    found = fetch(endpoint, "HEAD", f"/v2/{repository}/manifests/{reference}").headers
    digest = found.get("docker-content-digest", "")
    if digest and not reference.startswith("sha256:"):
        content.ensure_tag(repository, digest, reference)
    headers = [
        ("Content-Type", found.get("content-type", "")),
        ("Content-Length", found.get("content-length", "0")),
        ("Docker-Content-Digest", digest),
        ("Etag", digest),
    ]
    return Response(200, headers)


def _get_upstream(
    content: Content, endpoint: Endpoint, repository: str, reference: str
) -> Response:
    """`proxyManifestGet` + `ProxyManifest`: fetch, cache, answer with the request's digest."""
    manifest = manifest_of(fetch(endpoint, "GET", f"/v2/{repository}/manifests/{reference}"))
    by_digest = reference.startswith("sha256:")
    if manifest.is_index:
        content.cache_list(repository, reference if by_digest else "", manifest)
    else:
        content.put_manifest(repository, manifest, None if by_digest else reference)
    return _serve(manifest, reference if by_digest else "", "GET")


def _blob(
    content: Content, endpoint: Endpoint | None, repository: str, digest: str, method: str
) -> Response:
    if digest in content.blobs:
        return _blob_response(digest, content.blobs[digest], method)
    if method == "HEAD" or endpoint is None:
        return _error(404, "BLOB_UNKNOWN", f"blob unknown to registry: {digest}")
    try:
        body = fetch(endpoint, "GET", f"/v2/{repository}/blobs/{digest}").content
    except UpstreamFailure as failure:
        return failure.response()
    if digest_of(body) != digest:
        return _error(500, "UNKNOWN", "internal server error")
    content.blobs[digest] = body
    return _blob_response(digest, body, method)


def _blob_response(digest: str, body: bytes, method: str) -> Response:
    headers = [
        ("Content-Type", "application/octet-stream"),
        ("Content-Length", str(len(body))),
        ("Docker-Content-Digest", digest),
        ("Etag", digest),
    ]
    return Response(200, headers, b"" if method == "HEAD" else body)


def _tags(content: Content, endpoint: Endpoint | None, name: str, repository: str) -> Response:
    """`TagsListMiddleware` then `util.SendListTagsResponse`; a non-proxy project's
    `tagHandler` is 404 for a repository it does not hold."""
    tags = set(content.tags.get(repository, {}))
    if endpoint is None and repository not in content.repositories():
        return _error(404, "NOT_FOUND", f"repository {name} not found")
    if endpoint is not None:
        try:
            listed = fetch(endpoint, "GET", f"/v2/{repository}/tags/list").json().get("tags")
        except (UpstreamFailure, ValueError, AttributeError):
            listed = None
        tags.update(listed or [])
    body = (json.dumps({"name": name, "tags": sorted(tags)}) + "\n").encode()
    return Response(200, [("Content-Type", "application/json; charset=utf-8")], body)
