"""Talk to Harbor's registry API (`/v2/`): the Bearer token flow, retries on 429/5xx.

Harbor answers an unauthenticated `/v2/` request with 401 and `WWW-Authenticate: Bearer
realm=…,service=…`; the client then asks that token service for the repository's pull scope
(with basic credentials) and repeats the request with the token. A realm anywhere but Harbor's
own scheme, host and port is refused: the robot's secret goes nowhere else.
Tokens are cached per repository, and the client is safe to share between threads. Harbor
answers an expired token (30 minutes by default) with a `Basic realm="harbor"` challenge, not
a Bearer one (`security/v2_token.go`, `v2auth/auth.go:getChallenge`), so any 401 to a request
that carried a token drops it and signs in once more with the first challenge's realm.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from postrender.errors import HarborError, keep_secret
from postrender.harbor import RetryPolicy, error_detail, may_retry_status, unreachable

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (
    *INDEX_TYPES,
    OCI_MANIFEST,
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
        self._challenge = ""  # the first Bearer challenge: its realm and service sign in again
        self._lock = threading.Lock()

    @property
    def anonymous(self) -> bool:
        return self._credentials is None

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
        challenge = self._challenge_to_answer(response)
        if challenge:
            response.close()
            self._authenticate(repository, challenge)
            response = self._retrying(method, send, self._http.base_url, headers["X-Request-Id"])
        try:
            yield response
        finally:
            response.close()

    def _challenge_to_answer(self, response: httpx.Response) -> str:
        """The challenge to sign in with for this 401, or "" to take the answer as it is.

        A Bearer challenge is answered (and remembered); a 401 to a request that carried a
        token means the token expired or grants nothing, so the remembered one is answered
        once more: a fresh token either works or gets the same refusal.
        """
        if response.status_code != 401:
            return ""
        challenge = str(response.headers.get("www-authenticate", ""))
        if challenge.startswith("Bearer "):
            with self._lock:
                self._challenge = self._challenge or challenge
            return challenge
        sent_token = response.request.headers.get("authorization", "").startswith("Bearer ")
        return self._challenge if sent_token else ""

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
        realm = self._harbors_own(params.pop("realm", ""))
        params.pop("error", None)
        params["scope"] = f"repository:{repository}:pull"
        auth = self._credentials
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
        except (ValueError, RecursionError):  # RecursionError: `[[[[…` nested
            body = None
        token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise TokenRefused("Harbor's token service sent no token")
        with self._lock:
            self._tokens[repository] = keep_secret(token)  # a pull credential while it lasts

    def _harbors_own(self, realm: str) -> httpx.URL:
        """The token service's URL when it is on Harbor's scheme, host and port; else refuse."""
        base = self._http.base_url
        try:
            url = httpx.URL(realm)
        except httpx.InvalidURL:
            url = httpx.URL()
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            harbor = f"{base.scheme}://{base.netloc.decode('ascii')}"
            raise HarborError(
                f"Harbor at {harbor} names the token service {realm[:200]!r}, which is not on "
                "Harbor's own scheme, host and port: refusing to sign in there (check Harbor's "
                "external URL, ext_endpoint)"
            )
        return url
