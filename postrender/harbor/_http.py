"""One request to Harbor: retries, error mapping, JSON, pagination and created ids."""

from __future__ import annotations

import http.cookiejar
import json
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from postrender.errors import HarborResponseError
from postrender.harbor._errors import (
    NOT_SENT,
    api_error,
    is_tls_verification_failure,
    origin,
    unreachable,
)
from postrender.harbor._retry import IDEMPOTENT_METHODS, RetryPolicy, may_retry_status

PAGE_SIZE = 100  # Harbor's maximum
_MAX_PAGES = 1000

Params = Mapping[str, str | int]


class _KeepNothing(http.cookiejar.DefaultCookiePolicy):
    """Harbor's CSRF check fires on a sent-back `sid` cookie, so no cookie is ever kept."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False


def cookie_jar_that_keeps_nothing() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(policy=_KeepNothing())


class HarborHTTP:
    """Sends requests below /api/v2.0 through an injected httpx.Client (transport= in tests)."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        client.cookies = cookie_jar_that_keeps_nothing()  # Cookies(Cookies) would copy the jar
        self._client = client
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        allow: frozenset[int] = frozenset(),
        auth: httpx.Auth | None = None,
    ) -> httpx.Response:
        """Send, retrying what is safe to retry; statuses in `allow` are returned, not raised.

        `path` is below /api/v2.0 unless it is a whole URL; `auth` replaces the client's."""
        sent_headers = {"X-Request-Id": uuid.uuid4().hex, "Accept": "application/json"}
        sent_headers.update(headers or {})
        content = None if body is None else json.dumps(body).encode("utf-8")
        if content is not None:
            sent_headers["Content-Type"] = "application/json"
        attempt = 1
        while True:
            try:
                response = self._client.request(
                    method, path, params=params, content=content, headers=sent_headers,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                )  # fmt: skip
            except httpx.TransportError as error:
                wait = self._retry.delay(attempt, None) if self._retryable(method, error) else None
                if wait is None:
                    request_id = sent_headers["X-Request-Id"]
                    raise unreachable(error, self._client.base_url, request_id) from error
            else:
                if response.is_success or response.status_code in allow:
                    return response
                wait = None
                if may_retry_status(method, response.status_code):
                    wait = self._retry.delay(attempt, response.headers.get("Retry-After"))
                if wait is None:
                    raise api_error(response, method, path)
            self._sleep(wait)
            attempt += 1

    @property
    def base_url(self) -> httpx.URL:
        return self._client.base_url

    @staticmethod
    def _retryable(method: str, error: httpx.TransportError) -> bool:
        if is_tls_verification_failure(error):
            return False
        return method in IDEMPOTENT_METHODS or isinstance(error, NOT_SENT)

    def call(self, method: str, path: str, *, body: object = None) -> Any:
        """The decoded JSON answer; a non-JSON success means the URL is not Harbor's API."""
        response = self.request(method, path, body=body)
        return decode_json(response, method, path)

    def list_all(self, path: str, params: Params | None = None) -> list[Any]:
        """Every item of a paged list, following Link / X-Total-Count page by page."""
        items: list[Any] = []
        for page in range(1, _MAX_PAGES + 1):
            query = {**(params or {}), "page": page, "page_size": PAGE_SIZE}
            response = self.request("GET", path, params=query)
            batch = decode_json(response, "GET", path)
            if not isinstance(batch, list):
                raise _unexpected("GET", path, response, "a JSON list")
            items.extend(batch)
            if not _has_next_page(response, page, len(batch)):
                break
        return items

    def create(self, path: str, body: object) -> int:
        """POST a new resource and return its id from the 201 `Location` header."""
        response = self.request("POST", path, body=body)
        return location_id(response, path)


def decode_json(response: httpx.Response, method: str, path: str) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # `[[[[…` nested
        raise _unexpected(method, path, response, "JSON") from None


def location_id(response: httpx.Response, path: str) -> int:
    """Harbor answers a create with `Location: /api/v2.0/<path>/<id>`."""
    last = response.headers.get("Location", "").rstrip("/").rpartition("/")[2]
    if not last.isdigit():
        raise _unexpected("POST", path, response, "a Location header ending in the new id")
    return int(last)


def _has_next_page(response: httpx.Response, page: int, got: int) -> bool:
    if got == 0:
        return False
    link = response.headers.get("Link")
    if link is not None:
        return 'rel="next"' in link
    total = response.headers.get("X-Total-Count", "")
    if total.isdigit():
        return page * PAGE_SIZE < int(total)
    return got >= PAGE_SIZE


def _unexpected(
    method: str, path: str, response: httpx.Response, wanted: str
) -> HarborResponseError:
    return HarborResponseError(
        f"{method} {path} at {origin(response.url)} answered {response.status_code} without "
        f"{wanted}: is --harbor-url the address of a Harbor v2 server?"
    )
