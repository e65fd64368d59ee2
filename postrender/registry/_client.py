"""Talk to Harbor's registry API (`/v2/`): the Bearer token flow, retries on 429/5xx.

Harbor answers an unauthenticated `/v2/` request with 401 and `WWW-Authenticate: Bearer
realm=…,service=…`; the client then asks that token service for the repository's pull scope
(with basic credentials, sent only to Harbor's own host and never in clear text to an
HTTPS Harbor) and repeats the request with the token.
Tokens are cached per repository, and the client is safe to share between threads.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from postrender.harbor import RetryPolicy, error_detail, may_retry_status, unreachable

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
MANIFEST_TYPES = (
    *INDEX_TYPES,
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)


class TokenRefused(Exception):
    """Harbor's token service refused the credentials (its detail is the message)."""


class RegistryClient:
    """One Harbor registry; `credentials` is (username, password) or None for anonymous."""

    def __init__(
        self,
        http: httpx.Client,
        credentials: tuple[str, str] | None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self._credentials = credentials
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._tokens: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()

    def head_manifest(self, repository: str, reference: str) -> httpx.Response:
        with self._send("HEAD", repository, f"manifests/{reference}") as response:
            return response

    def get_manifest(self, repository: str, reference: str) -> httpx.Response:
        with self._send("GET", repository, f"manifests/{reference}") as response:
            response.read()
            return response

    def head_blob(self, repository: str, digest: str) -> httpx.Response:
        with self._send("HEAD", repository, f"blobs/{digest}") as response:
            return response

    def tags(self, repository: str) -> httpx.Response:
        with self._send("GET", repository, "tags/list") as response:
            response.read()
            return response

    @contextmanager
    def stream_blob(self, repository: str, digest: str) -> Iterator[httpx.Response]:
        """GET a blob without reading it: the caller iterates `iter_bytes()`."""
        with self._send("GET", repository, f"blobs/{digest}") as response:
            yield response

    @contextmanager
    def _send(self, method: str, repository: str, tail: str) -> Iterator[httpx.Response]:
        """One request with auth and retries; the response stays open inside the block."""
        path = f"/v2/{repository}/{tail}"
        headers = {"X-Request-Id": uuid.uuid4().hex}
        if tail.startswith("manifests/"):
            headers["Accept"] = ", ".join(MANIFEST_TYPES)

        def send() -> httpx.Response:
            token = self._tokens.get(repository)
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            request = self._http.build_request(method, path, headers=headers)
            return self._http.send(request, stream=True, follow_redirects=True)

        response = self._retrying(method, send, self._http.base_url, headers["X-Request-Id"])
        challenge = response.headers.get("www-authenticate", "")
        if response.status_code == 401 and challenge.startswith("Bearer "):
            response.close()
            self._authenticate(repository, challenge)
            response = self._retrying(method, send, self._http.base_url, headers["X-Request-Id"])
        try:
            yield response
        finally:
            response.close()

    def _retrying(
        self, method: str, send: Callable[[], httpx.Response], url: httpx.URL, request_id: str
    ) -> httpx.Response:
        """`send()` again after 429/5xx (honouring Retry-After) until it answers or gives up."""
        attempt = 1
        while True:
            try:
                response = send()
            except httpx.TransportError as error:
                raise unreachable(error, url, request_id) from None
            wait = self._wait(method, response, attempt)
            if wait is None:
                return response
            response.close()
            self._sleep(wait)
            attempt += 1

    def _wait(self, method: str, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before trying again (429, 5xx), or None to take this answer."""
        if not may_retry_status(method, response.status_code):
            return None
        return self._retry.delay(attempt, response.headers.get("retry-after"))

    def _authenticate(self, repository: str, challenge: str) -> None:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = httpx.URL(params.pop("realm", ""))
        params.pop("error", None)
        params.setdefault("scope", f"repository:{repository}:pull")
        auth = self._credentials if self._may_send_credentials(realm) else None
        request_id = uuid.uuid4().hex

        def send() -> httpx.Response:
            return self._http.get(
                realm, params=params, auth=auth, headers={"X-Request-Id": request_id}
            )

        answer = self._retrying("GET", send, realm, request_id)
        if answer.status_code != 200:
            raise TokenRefused(f"Harbor's token service answered {answer.status_code} "
                               f"{error_detail(answer)}")
        try:
            body = answer.json()
        except ValueError:
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise TokenRefused("Harbor's token service sent no token")
        with self._lock:
            self._tokens[repository] = token

    def _may_send_credentials(self, realm: httpx.URL) -> bool:
        """Only to Harbor's own host, and never over plain HTTP when Harbor speaks HTTPS."""
        base = self._http.base_url
        downgrade = realm.scheme != "https" and base.scheme == "https"
        return self._credentials is not None and realm.host == base.host and not downgrade
