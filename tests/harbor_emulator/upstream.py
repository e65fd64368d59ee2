"""A tiny upstream OCI registry (the Application Collection stand-in) for health checks and copies.

Basic auth on everything: 401 with `WWW-Authenticate` without or with wrong credentials.
Serves `/v2/`, `/v2/_catalog` (can be switched off, as the real upstream may not offer it),
`/v2/<repo>/tags/list`, `/v2/<repo>/manifests/<ref>` (a manifest can be broken on purpose) and
the one config blob each repository's manifests name, so a replication can copy them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .wire import Request, Response

DEFAULT_REPOSITORIES = {
    "charts/etcd": ["10.2.3", "10.3.0"],
    "containers/etcd": ["3.5.14", "3.5.15", "3.6.0"],
    "containers/redis": ["7.2.5", "7.4.0"],
}


def _registry_error(status: int, code: str, message: str) -> Response:
    body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
    return Response(status, [("Content-Type", "application/json")], body)


@dataclass
class FakeUpstream:
    """Callable `Request → Response`; serve it with `LoopbackServer` and set `url`."""

    username: str = "appco-user"
    token: str = "appco-token"
    repositories: dict[str, list[str]] = field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_REPOSITORIES.items()}
    )
    catalog_enabled: bool = True
    broken: set[str] = field(default_factory=set)
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_repository(self, name: str, tags: list[str]) -> None:
        self.repositories[name] = list(tags)

    def break_manifest(self, repository: str, tag: str) -> None:
        """Make `repository:tag` answer 500, so a replication task copying it fails."""
        self.broken.add(f"{repository}:{tag}")

    @property
    def paths(self) -> list[str]:
        """The paths requested so far (e.g. to see whether `_catalog` was listed)."""
        return [r.path for r in self.requests]

    def __call__(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        if not self._authorized(request):
            response = _registry_error(401, "UNAUTHORIZED", "authentication required")
            response.headers.append(("WWW-Authenticate", 'Basic realm="fake-upstream"'))
            return response
        response = self._route(request)
        response.headers.append(("Docker-Distribution-API-Version", "registry/2.0"))
        return response

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.token}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/v2/":
            return Response(200, [("Content-Type", "application/json")], b"{}")
        if path == "/v2/_catalog" and self.catalog_enabled:
            return self._catalog(request)
        repo, sep, tail = path.removeprefix("/v2/").rpartition("/tags/")
        if path.startswith("/v2/") and sep and tail == "list":
            return self._tags(repo)
        repo, sep, reference = path.removeprefix("/v2/").rpartition("/manifests/")
        if path.startswith("/v2/") and sep:
            return self._manifest(repo, reference)
        repo, sep, digest = path.removeprefix("/v2/").rpartition("/blobs/")
        if path.startswith("/v2/") and sep and digest == _digest(_config(repo)):
            return Response(200, [("Content-Type", "application/octet-stream")], _config(repo))
        return _registry_error(404, "NOT_FOUND", "not found")

    def _catalog(self, request: Request) -> Response:
        size = int(request.arg("n") or 100)
        last = request.arg("last") or ""
        names = sorted(n for n in self.repositories if n > last)
        headers = [("Content-Type", "application/json")]
        if len(names) > size:
            query = urlencode({"last": names[size - 1], "n": size})
            headers.append(("Link", f'</v2/_catalog?{query}>; rel="next"'))
        body = json.dumps({"repositories": names[:size]}).encode()
        return Response(200, headers, body)

    def _tags(self, repo: str) -> Response:
        if repo not in self.repositories:
            return _registry_error(
                404, "NAME_UNKNOWN", f"repository name not known to registry: {repo}"
            )
        body = json.dumps({"name": repo, "tags": self.repositories[repo]}).encode()
        return Response(200, [("Content-Type", "application/json")], body)

    def _manifest(self, repo: str, reference: str) -> Response:
        if f"{repo}:{reference}" in self.broken:
            return _registry_error(500, "UNKNOWN", "upstream storage failure")
        if reference not in self.repositories.get(repo, []):
            return _registry_error(404, "MANIFEST_UNKNOWN", f"manifest unknown: {repo}:{reference}")
        config = _config(repo)
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _digest(config),
                    "size": len(config),
                },
                "layers": [],
            }
        ).encode()
        return Response(
            200,
            [
                ("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                ("Docker-Content-Digest", _digest(manifest)),
            ],
            manifest,
        )


def _config(repo: str) -> bytes:
    """Every tag of a repository shares one small config blob, which `/v2/…/blobs/` serves."""
    return json.dumps({"architecture": "amd64", "os": "linux", "repository": repo}).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()
