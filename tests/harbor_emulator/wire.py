"""HTTP-shaped values of the emulator: requests, responses, Harbor errors, paging and `q=`.

Kept free of sockets so that the same core answers a real loopback server and an
`httpx.MockTransport` alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote_plus, urlencode

JSON = Any
T = TypeVar("T")

API_PREFIX = "/api/v2.0"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Request:
    """One request as the emulator saw it; header names are lower-cased."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def build(
        cls, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> Request:
        """Split a raw request target (`/path?query`) the way a server receives it."""
        path, _, raw_query = target.partition("?")
        query = parse_qs(raw_query, keep_blank_values=True)
        return cls(method.upper(), path, query, {k.lower(): v for k, v in headers}, body)

    def arg(self, name: str) -> str | None:
        """The first value of a query parameter, or None."""
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> JSON:
        """The body decoded as JSON (the caller has checked it is present)."""
        return json.loads(self.body)


@dataclass
class Response:
    """A response the emulator will send: status, ordered headers, raw body."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    # A body that takes this long to send (a proxied blob streaming from the upstream), and
    # what to do once it has gone out; the server calls both outside the emulator's lock.
    body_seconds: float = 0.0
    after: Callable[[], None] | None = None

    def sent(self) -> None:
        """The body has gone out (or the client hung up): run `after` once."""
        after, self.after = self.after, None
        if after is not None:
            after()

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def json(self) -> JSON:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclass(frozen=True)
class Exchange:
    """A request with the response it got, kept so tests can ask what happened."""

    request: Request
    response: Response


class ApiError(Exception):
    """An error Harbor reports in its `{"errors":[...]}` envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message: str) -> ApiError:
    """Harbor's 400 BAD_REQUEST."""
    return ApiError(400, "BAD_REQUEST", message)


def forbidden(message: str = "forbidden") -> ApiError:
    """Harbor's 403 FORBIDDEN (the bare "forbidden" of a failed permission check by default)."""
    return ApiError(403, "FORBIDDEN", message)


def not_found(message: str) -> ApiError:
    """Harbor's 404 NOT_FOUND."""
    return ApiError(404, "NOT_FOUND", message)


def found(item: T | None, message: str) -> T:
    """`item`, or Harbor's 404 with `message` when the lookup found nothing."""
    if item is None:
        raise not_found(message)
    return item


def conflict(message: str) -> ApiError:
    """Harbor's 409 CONFLICT."""
    return ApiError(409, "CONFLICT", message)


def precondition(message: str) -> ApiError:
    """Harbor's 412 PRECONDITION."""
    return ApiError(412, "PRECONDITION", message)


def unprocessable(message: str) -> ApiError:
    """go-swagger's 422, raised before Harbor's own code runs (types, limits)."""
    return ApiError(422, "UNPROCESSABLE_ENTITY", message)


def json_response(status: int, payload: JSON, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A JSON response; Harbor's encoder ends bodies with a newline."""
    body = (json.dumps(payload) + "\n").encode()
    return Response(status, [("Content-Type", "application/json"), *headers], body)


def error_response(error: ApiError) -> Response:
    """The `{"errors":[...]}` body; 5xx details are hidden exactly like Harbor hides them."""
    message = "internal server error" if error.status >= 500 else error.message
    return json_response(error.status, {"errors": [{"code": error.code, "message": message}]})


def created(location: str, payload: JSON = None) -> Response:
    """201 with a relative `Location`; only robots also return a body."""
    headers = [("Location", location)]
    if payload is None:
        return Response(201, headers)
    return json_response(201, payload, headers)


_TYPE_NAMES: dict[type, str] = {
    str: "string", bool: "boolean", int: "integer", dict: "object", list: "array",
}  # fmt: skip


def _type_of(value: JSON) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def body_object(request: Request, name: str, types: Mapping[str, type]) -> dict[str, JSON]:
    """Decode a required JSON object body and type-check fields like go-swagger does (422)."""
    if not request.body.strip():
        raise unprocessable(f"{name} in body is required")
    try:
        body = request.json()
    except ValueError as exc:
        raise bad_request(f'parsing {name} body from "" failed, because {exc}') from exc
    if not isinstance(body, dict):
        raise unprocessable(f'{name} in body must be of type object: "{_type_of(body)}"')
    for key, expected in types.items():
        value = body.get(key)
        if value is None:
            continue
        actual = _type_of(value)
        if actual != _TYPE_NAMES[expected]:
            raise unprocessable(
                f'{key} in body must be of type {_TYPE_NAMES[expected]}: "{actual}"'
            )
    return body


def paginate(request: Request, items: list[JSON]) -> Response:
    """One page of a list with Harbor's `X-Total-Count` and `Link` headers."""
    page = _int_arg(request, "page", 1)
    size = _int_arg(request, "page_size", 10)
    if size > 100:
        raise unprocessable("page_size in query should be less than or equal to 100")
    page = max(page, 1)
    size = size if size > 0 else 10
    total = len(items)
    links = []
    if page > 1:
        links.append(f'<{_page_url(request, page - 1, size)}>; rel="prev"')
    if page * size < total:
        links.append(f'<{_page_url(request, page + 1, size)}>; rel="next"')
    headers = [("X-Total-Count", str(total))]
    if links:
        headers.append(("Link", " , ".join(links)))
    return json_response(200, items[(page - 1) * size : page * size], headers)


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.arg(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise unprocessable(f'{name} in query must be of type int64: "{raw}"') from exc


def _page_url(request: Request, page: int, size: int) -> str:
    query = {k: list(v) for k, v in request.query.items()}
    query["page"] = [str(page)]
    query["page_size"] = [str(size)]
    return f"{request.path}?{urlencode(query, doseq=True)}"


def sort_items(request: Request, items: list[JSON]) -> list[JSON]:
    """Apply `sort=field,-field2` over the JSON items (unknown fields sort as equal)."""
    fields = [f for f in (request.arg("sort") or "").split(",") if f]
    result = list(items)
    for spec in reversed(fields):
        result.sort(key=_field_key(spec.lstrip("-")), reverse=spec.startswith("-"))
    return result


def _field_key(name: str) -> Callable[[JSON], tuple[bool, float, str]]:
    """Numbers sort as numbers, everything else as text."""

    def key(item: JSON) -> tuple[bool, float, str]:
        value = item.get(name, "")
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return (not number, value if number else 0, "" if number else str(value))

    return key


_RANGE = re.compile(r"^\[(.*)~(.*)\]$")


def _condition(raw: str) -> Callable[[str], bool]:
    """One `q` value: `~v` fuzzy, `[a~b]` range, `{a b}` any of, `(a b)` all of, else exact.

    Fuzzy is SQL `icontains` (`lib/orm/query.go:setFilters`), so case-insensitive; an exact
    value loses one leading backslash (`builder.go:escapeValue`)."""
    if raw.startswith("~"):
        if len(raw) < 2:
            raise bad_request(f"invalid query string value: {raw}")
        needle = raw[1:].lower()
        return lambda value: needle in value.lower()
    if found := _RANGE.match(raw):
        low, high = found.groups()
        return lambda value: (
            (not low or _num(value) >= _num(low)) and (not high or _num(value) <= _num(high))
        )
    if raw.startswith("{") and raw.endswith("}"):
        options = {v.strip("\"'") for v in raw[1:-1].split()}
        return lambda value: value in options
    if raw.startswith("(") and raw.endswith(")"):
        required = {v.strip("\"'") for v in raw[1:-1].split()}
        return lambda value: required <= {value}
    exact = raw.removeprefix("\\")
    return lambda value: value == exact


def _num(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        return float("nan")


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def query_keywords(request: Request) -> dict[str, str]:
    """Harbor's `q=k=v,k2=~v2` as keys and raw values (`lib/q/builder.go:parseKeywords`): the
    already-decoded `q` is unescaped once more (`+` becomes a space, `%2C` a separator; a
    malformed escape keeps `q` as it was), then split on `,`, each part at its first `=`; a
    repeated key keeps its last value, as in Go's map."""
    raw_q = request.arg("q")
    if not raw_q:
        return {}
    if not _BAD_ESCAPE.search(raw_q):  # url.QueryUnescape fails as a whole, and is logged
        raw_q = unquote_plus(raw_q)
    keywords = {}
    for entry in raw_q.split(","):
        key, sep, value = entry.partition("=")
        if not sep or not key or not value:
            raise bad_request('the query string must contain "=" and the key/value cannot be empty')
        keywords[key] = value
    return keywords


def query_filter(
    request: Request, items: list[T], keys: Mapping[str, Callable[[T], object]]
) -> list[T]:
    """Filter by `q` (`query_keywords`); keys the resource does not know are ignored."""
    result = items
    for key, value in query_keywords(request).items():
        getter = keys.get(key)
        if getter is None:
            continue
        condition = _condition(value)
        result = [item for item in result if condition(_text(getter(item)))]
    return result


def fuzzy_name(request: Request, items: list[T], name: Callable[[T], str]) -> list[T]:
    """The `name=` query parameter: a substring match, unlike the exact `q=name=`."""
    wanted = request.arg("name")
    return [item for item in items if wanted in name(item)] if wanted else items


def _text(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
