"""Turn httpx failures and Harbor's error bodies into the project's one-line errors."""

from __future__ import annotations

import json
import ssl

import httpx

from postrender.errors import HarborAPIError, HarborUnreachable, redact_server_text

_MAX_DETAIL = 300
# Failures before the request left: Harbor never saw it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def api_error(response: httpx.Response, method: str, path: str) -> HarborAPIError:
    """Harbor's `{"errors":[{code, message}]}` body (or whatever came instead) as one error."""
    detail = error_detail(response)
    request_id = response.headers.get("X-Request-Id") or response.request.headers.get(
        "X-Request-Id"
    )
    if response.status_code >= 500 and detail == "internal server error":
        detail += " (Harbor keeps the details in its core log)"
    elif response.is_redirect:
        detail += _redirect_advice(response)
    return HarborAPIError(response.status_code, method, path, detail, request_id)


def _redirect_advice(response: httpx.Response) -> str:
    """Where a redirect leads, its query left out (a login page's state, a token), and the
    --harbor-url that reaches it: setup takes scheme://host[:port] alone."""
    try:
        target = response.request.url.join(response.headers.get("Location", ""))
    except httpx.InvalidURL:
        return " to an address that is no URL"
    path = redact_server_text(target.path)
    return f" to {origin(target)}{path}: use {origin(target)} as --harbor-url"


def error_detail(response: httpx.Response) -> str:
    """The human part of an error answer, on one line and of bounded length."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):  # `[[[[…` nested
        body = None
    messages: list[str] = []
    if isinstance(body, dict) and isinstance(body.get("errors"), list):
        for item in body["errors"]:
            if isinstance(item, dict):
                text = item.get("message") or item.get("code")
                if isinstance(text, str) and text.strip():
                    messages.append(text.strip())
    if messages:
        detail = "; ".join(messages)
    else:
        text = response.text.strip()
        looks_like_page = text.startswith("<") or not text
        detail = response.reason_phrase if looks_like_page else text
    detail = " ".join(redact_server_text(detail).split())
    return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 1] + "…"


def origin(url: httpx.URL) -> str:
    """`scheme://host[:port]` of `url`: where Harbor is, without the API path."""
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def is_tls_verification_failure(error: BaseException) -> bool:
    """True when the handshake failed because the server's certificate is not trusted."""
    return _certificate_failure(error) is not None or "CERTIFICATE_VERIFY_FAILED" in str(error)


def _certificate_failure(error: BaseException) -> ssl.SSLCertVerificationError | None:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


# OpenSSL's X509_V_ERR_* codes (include/openssl/x509_vfy.h) for the causes a user can act on.
_UNKNOWN_ISSUER = frozenset({2, 18, 19, 20, 21})  # the chain ends in a CA not trusted here
_EXPIRED, _NOT_YET_VALID = 10, 9
_WRONG_NAME = frozenset({62, 64})  # host name or IP address mismatch


def _tls_problem(error: BaseException) -> str:
    """Why the certificate was refused, and what to do: only an unknown CA is --ca-file's."""
    failure = _certificate_failure(error)
    code = failure.verify_code if failure is not None else None
    said = (failure.verify_message if failure is not None else None) or "not trusted"
    if code in _UNKNOWN_ISSUER or code is None:
        return f"{said}: --ca-file must name the CA that signed it (not given, or another)"
    if code == _EXPIRED:
        return "it has expired: Harbor needs a renewed certificate"
    if code == _NOT_YET_VALID:
        return "it is not valid yet: check this machine's clock and the certificate's dates"
    if code in _WRONG_NAME:
        return (f"it is issued for another name ({said.rstrip('.')}): use a host name the "
                "certificate names")  # fmt: skip
    return said


def unreachable(
    error: httpx.TransportError, url: httpx.URL, request_id: str
) -> HarborUnreachable:
    """Describe a request that got no HTTP answer, with the next thing to try.

    Once connected, Harbor may have logged the request, so its X-Request-Id is named too.
    A redirect Harbor answered with (a blob on object storage) names where it led instead.
    """
    server, where = origin(url), f"Harbor at {origin(url)}"
    tried = _tried_url(error)
    store = redirect_target(tried, url) if tried is not None else None
    if store is not None:
        server = where = store
    if is_tls_verification_failure(error):
        return HarborUnreachable(
            f"cannot verify the TLS certificate of {server}: {_tls_problem(error)}"
        )
    if isinstance(error, httpx.TimeoutException):
        what = "timed out"
    elif isinstance(error, httpx.ConnectError):
        what = "connection failed"
    else:
        what = "the connection broke"
    reason = " ".join(str(error).split()) or type(error).__name__
    sent = "" if isinstance(error, NOT_SENT) else f", X-Request-Id {request_id}"
    hint = ""
    if url.scheme == "http" and what == "the connection broke":  # a TLS port hangs up on HTTP
        hint = ": if Harbor serves HTTPS there, reach it over https (no --plain-http, https://)"
    return HarborUnreachable(f"cannot reach {where}: {what} ({reason}{sent}){hint}")


def redirect_target(tried: httpx.URL, harbor: httpx.URL) -> str | None:
    """`tried` named as where Harbor (at `harbor`) redirected the request, when it is another
    server (a blob on object storage): its address only, since a pre-signed URL's query is a
    credential. None when `tried` is Harbor itself."""
    if origin(tried) == origin(harbor):
        return None
    return f"{origin(tried)}, where Harbor at {origin(harbor)} redirected the request"


def _tried_url(error: httpx.TransportError) -> httpx.URL | None:
    """The URL of the request that got no answer (httpx raises when it has none)."""
    try:
        return error.request.url
    except RuntimeError:
        return None
