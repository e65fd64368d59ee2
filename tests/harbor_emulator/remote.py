"""How Harbor talks to an upstream registry (`pkg/registry/client.go`): one endpoint's
credentials and TLS settings, its Accept list, and its errors as Harbor reports them."""

from __future__ import annotations

import functools
import json
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from .store import Manifest
from .wire import Response, json_response

if TYPE_CHECKING:
    from .state import Registry

MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


class UpstreamFailure(Exception):
    """The upstream answered with an error status, or could not be reached (status None)."""

    def __init__(self, status: int | None, body: str = "") -> None:
        super().__init__(status)
        self.status = status
        self.body = body

    def response(self) -> Response:
        """`pkg/registry/client.go:do` turns the status into a code; `SendError` sends it."""
        codes = {401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "TOO_MANY_REQUEST"}
        status = self.status if self.status in codes else 500
        code = codes.get(status, "UNKNOWN")
        message = (
            f"http status code: {status}, body: {self.body}"
            if status < 500
            else "internal server error"
        )
        return json_response(status, {"errors": [{"code": code, "message": message}]})


def fetch(endpoint: Endpoint, method: str, path: str) -> httpx.Response:
    """One upstream request with Harbor's Accept list; any status but 200 raises."""
    try:
        with endpoint.client() as client:
            response = client.request(
                method, path, headers={"Accept": MANIFEST_TYPES}, follow_redirects=True
            )
    except httpx.HTTPError:
        raise UpstreamFailure(None) from None
    if response.status_code != 200:
        raise UpstreamFailure(response.status_code, response.text)
    return response


def manifest_of(response: httpx.Response) -> Manifest:
    body = response.content
    media_type = response.headers.get("content-type") or json.loads(body).get("mediaType", "")
    return Manifest(media_type.partition(";")[0].strip(), body)


@dataclass(frozen=True)
class Endpoint:
    """How Harbor reaches an upstream: URL, basic credentials and TLS settings."""

    url: str
    access_key: str = ""
    access_secret: str = ""
    insecure: bool = False
    ca_certificate: str = ""

    @classmethod
    def of(cls, registry: Registry) -> Endpoint:
        return cls(
            registry.url,
            registry.access_key,
            registry.access_secret,
            registry.insecure,
            registry.ca_certificate,
        )

    def client(self) -> httpx.Client:
        """An httpx client for the upstream; Harbor verifies TLS unless `insecure`."""
        auth = (self.access_key, self.access_secret) if self.access_key else None
        verify = _tls(self.insecure, self.ca_certificate)
        return httpx.Client(base_url=self.url, auth=auth, verify=verify, timeout=5.0)

    def healthy(self) -> bool:
        """Harbor's `PingSimple`: 200 is healthy; 401/403 too, but only without credentials."""
        try:
            with self.client() as client:
                status = client.get("/v2/").status_code
        except httpx.HTTPError:
            return False
        return status == 200 or (not self.access_key and status in (401, 403))


@functools.lru_cache(maxsize=32)
def _tls(insecure: bool, ca_certificate: str) -> ssl.SSLContext:
    """System trust (or the endpoint's own CA), built once: loading trust stores is slow."""
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_certificate:
        return ssl.create_default_context(cadata=ca_certificate)
    return ssl.create_default_context()
