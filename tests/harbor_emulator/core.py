"""The emulator's request handler: auth, CSRF, routing, injected faults and the request log.

`HarborEmulator.handle` is a plain function from `Request` to `Response`; `server.py` puts it
on a loopback socket and `transport()` hands it to `httpx.MockTransport`.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

from . import executions, projects, registries, replication, robots, system
from .registry_proxy import PREFIXES as REGISTRY_PREFIXES
from .registry_proxy import RegistryPlane
from .registry_token import robot_by_credentials
from .state import Call, Robot, State, User
from .wire import (
    API_PREFIX,
    WRITE_METHODS,
    ApiError,
    Exchange,
    Request,
    Response,
    error_response,
    forbidden,
    not_found,
)

if TYPE_CHECKING:
    import httpx

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "Harbor12345"
Handler = Callable[[Call], Response]
_ERROR_CODES = {429: "TOO_MANY_REQUEST", 500: "UNKNOWN"}
# What `server/middleware/security/oidc_cli.go:valid` lets an OIDC CLI secret do on the API.
_OIDC_CLI_READS = frozenset(
    {f"{API_PREFIX}/projects", f"{API_PREFIX}/systeminfo", "/api/version", f"{API_PREFIX}/labels"}
)
_OIDC_CLI_LISTINGS = re.compile(r"^/api/v2\.0/projects/.*/repositories(/.*/artifacts)?$")
_OIDC_CLI_TAGS = re.compile(r"^/api/v2\.0/projects/.*/repositories/.*/artifacts/.*/tags/.*$")


@dataclass
class Fault:
    """Answer the next `remaining` matching requests with `status` (or just slowly)."""

    path: str | None
    method: str | None
    remaining: int
    status: int | None
    retry_after: int | None
    delay: float

    def matches(self, request: Request) -> bool:
        return (
            self.remaining > 0
            and self.path in (None, request.path)
            and self.method in (None, request.method)
        )

    def response(self) -> Response:
        assert self.status is not None
        code = _ERROR_CODES.get(self.status, HTTPStatus(self.status).name)
        response = error_response(ApiError(self.status, code, HTTPStatus(self.status).phrase))
        if self.retry_after is not None:
            response.headers.append(("Retry-After", str(self.retry_after)))
        return response


def _compile(routes: list[tuple[str, str, Handler]]) -> list[tuple[str, re.Pattern[str], Handler]]:
    """Static paths win over templated ones, like go-swagger's router."""
    ordered = sorted(routes, key=lambda route: route[1].count("{"))
    return [
        (method, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$"), handler)
        for method, path, handler in ordered
    ]


_ALL: list[tuple[str, str, Handler]] = [
    *system.ROUTES,
    *registries.ROUTES,
    *projects.ROUTES,
    *replication.ROUTES,
    *executions.ROUTES,
    *robots.ROUTES,
]
_ROUTES = _compile(_ALL)
OPERATIONS = [(method, path) for method, path, _ in _ALL]
"""Every emulated (method, API-relative path template)."""


class HarborEmulator:
    """A stateful Harbor v2.0 API: see the package docstring for what it reproduces."""

    def __init__(
        self,
        *,
        url: str = "http://harbor.invalid",
        execution_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        version: str = "v2.15.2",
    ) -> None:
        self.url = url
        self.ca_file: str | None = None
        self.state = State(clock=clock, execution_seconds=execution_seconds)
        self.exchanges: list[Exchange] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self.registry = RegistryPlane()  # /v2/ and /service/token
        self.version = version
        self.add_user(ADMIN_USERNAME, ADMIN_PASSWORD, admin=True)

    # -- what tests arrange -------------------------------------------------------------------
    def add_user(
        self,
        username: str,
        password: str,
        *,
        admin: bool = False,
        by_sign_in: bool = False,
        oidc: bool = False,
    ) -> User:
        """Create a user (the admin is user 1); non-admins get 403 on admin-only APIs.

        `by_sign_in`: admin through an LDAP admin group or the auth proxy (sysadmin_flag stays
        false); `oidc`: an OIDC user whose `password` is its CLI secret (set
        `state.auth_mode = "oidc_auth"` too)."""
        with self._lock:
            return self.state.add_user(
                username, password, admin=admin, by_sign_in=by_sign_in, oidc=oidc
            )

    def add_system_robot(
        self, name: str, secret: str, permissions: list[dict[str, object]]
    ) -> Robot:
        """A system robot (`robot$<name>`), as an admin makes one in Harbor's UI."""
        with self._lock:
            robot = Robot(
                id=self.state.next_id("robot"), name=name, description="", level="system",
                project_id=0, duration=-1, disable=False, permissions=permissions,
                secret=secret, creator_ref=1,
            )  # fmt: skip
            self.state.robots[robot.id] = robot
            return robot

    def inject_fault(
        self,
        path: str | None = None,
        *,
        status: int | None = None,
        count: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        method: str | None = None,
    ) -> None:
        """Fault the next `count` requests on `path` (API-relative or full, or a `/v2/…` or
        `/service/token` path; None = any path).

        `status` answers instead of Harbor (e.g. 429 with `retry_after`, 503); `delay` sleeps
        first, so `delay` alone makes a slow but otherwise normal response.
        """
        if path is not None and not path.startswith((API_PREFIX, *REGISTRY_PREFIXES)):
            path = API_PREFIX + path
        with self._lock:
            self._faults.append(
                Fault(path, method and method.upper(), count, status, retry_after, delay)
            )

    def fail_copies(self, pattern: str) -> None:
        """Make replication tasks whose `repo:tag` matches the glob fail, whatever the upstream."""
        with self._lock:
            self.state.failing_copies.add(pattern)

    @property
    def token_seconds(self) -> float:
        """How long a new registry token lasts (Harbor's `token_expiration`, 30 min)."""
        return self.registry.tokens.seconds

    @token_seconds.setter
    def token_seconds(self, seconds: float) -> None:
        self.registry.tokens.seconds = seconds

    @property
    def version(self) -> str:
        """The Harbor release to behave as: "v2.15.2" (default), another "vX.Y.Z", or "main"."""
        return self.state.version

    @version.setter
    def version(self, version: str) -> None:
        self.state.version = version
        self.state.release()  # refuse a value the emulator cannot place

    def health_check(self) -> None:
        """Re-check every endpoint now, as Harbor does every 5 minutes (`registries.py`)."""
        with self._lock:
            registries.health_check(self.state)

    def settle(self) -> None:
        """Let Harbor's background caching run out its waits (`store.py`): push indexes
        trimmed to the children that are local."""
        with self._lock:
            self.state.store.settle()

    # -- what tests query ---------------------------------------------------------------------
    @property
    def requests(self) -> list[Request]:
        """Every request received, faulted ones included, in order."""
        return [exchange.request for exchange in self.exchanges]

    @property
    def writes(self) -> list[Request]:
        """Every POST/PUT/PATCH/DELETE received, whatever its outcome."""
        return [r for r in self.requests if r.method in WRITE_METHODS]

    def clear_log(self) -> None:
        """Forget the recorded exchanges (state is kept), e.g. between two setup runs."""
        with self._lock:
            self.exchanges.clear()

    # -- serving ------------------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Answer one request; thread-safe, and sleeps outside the lock for slow faults."""
        with self._lock:
            fault = next((f for f in self._faults if f.matches(request)), None)
            if fault is not None:
                fault.remaining -= 1
                self._faults = [f for f in self._faults if f.remaining > 0]
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        with self._lock:
            if fault is not None and fault.status is not None:
                response = fault.response()
            else:
                registries.regular_health_check(self.state)
                response = self._dispatch(request)
            request_id = request.headers.get("x-request-id") or str(uuid.uuid4())
            response.headers.append(("X-Request-Id", request_id))
            response.headers.append(
                ("Set-Cookie", f"sid={secrets.token_hex(16)}; Path=/; HttpOnly")
            )
            if request.method == "HEAD":
                response.body = b""
            self.exchanges.append(Exchange(request, response))
            return response

    def transport(self) -> httpx.MockTransport:
        """The same emulator behind an `httpx.MockTransport`, for tests that skip the socket."""
        import httpx

        def handler(incoming: httpx.Request) -> httpx.Response:
            request = Request.build(
                incoming.method,
                incoming.url.raw_path.decode("ascii"),
                incoming.headers.multi_items(),
                incoming.read(),
            )
            response = self.handle(request)
            response.sent()
            return httpx.Response(response.status, headers=response.headers, content=response.body)

        return httpx.MockTransport(handler)

    def _dispatch(self, request: Request) -> Response:
        try:
            if request.path.startswith(REGISTRY_PREFIXES):
                return self.registry.handle(request, self.state, self.url)
            if not request.path.startswith(API_PREFIX + "/"):
                raise not_found(f"{request.path} not found")
            if request.method in WRITE_METHODS and "sid=" in request.headers.get("cookie", ""):
                raise forbidden("CSRF token invalid")
            return self._route(request)
        except ApiError as error:
            return error_response(error)
        except Exception:
            traceback.print_exc()
            return error_response(ApiError(500, "UNKNOWN", "emulator bug"))

    def _route(self, request: Request) -> Response:
        path = request.path[len(API_PREFIX) :]
        allowed = False
        for method, pattern, handler in _ROUTES:
            found = pattern.match(path)
            if found is None:
                continue
            if method != request.method:
                allowed = True
                continue
            call = Call(request, self._caller(request), found.groupdict(), self.state, self.url)
            return handler(call)
        if allowed:
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"method {request.method} not allowed")
        raise not_found(f"{request.path} not found")

    def _caller(self, request: Request) -> User | None:
        """Basic auth; wrong or malformed credentials silently mean anonymous, as in Harbor.

        A valid robot (`server/middleware/security/robot.go:Generate`) acts as a stand-in
        user holding its permissions. In OIDC mode an OIDC user's CLI secret counts only on
        the few API paths of `server/middleware/security/oidc_cli.go:valid`; the local admin
        is checked against the database whatever the mode (`core/auth/authenticator.go`)."""
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        robot = robot_by_credentials(self.state, username, password)
        if robot is not None:
            return User(0, username, "", sysadmin_flag=False, robot=robot)
        user = self.state.users.get(username)
        if user is None or not secrets.compare_digest(user.password, password):
            return None
        if user.oidc and not _oidc_cli_path(request):
            return None
        return user


def _oidc_cli_path(request: Request) -> bool:
    """The API requests `oidc_cli.go:valid` lets a CLI secret make (the rest is anonymous)."""
    path = request.path.rstrip("/")
    if request.method == "POST":
        return path == f"{API_PREFIX}/projects"
    if request.method == "DELETE":
        return bool(_OIDC_CLI_TAGS.match(path))
    return request.method == "GET" and (
        path in _OIDC_CLI_READS or bool(_OIDC_CLI_LISTINGS.match(path))
    )
