"""Harbor's registry auth: the token service, who a `/v2/` request acts as, and its refusals.

- `/service/token` (`core/service/token/token.go:Handler.Get`, `creator.go:generalCreator.Create`;
  any other method is beego's 405, e.g. containerd's OAuth POST):
  wrong credentials silently mean anonymous (the `server/middleware/security/` generators return
  nil). Anonymous without a scope is 401 with an empty body; otherwise the answer is 200 with a
  token granting, per named project, every action the caller may do there
  (`creator.go:repositoryFilter.filter`, `resourceScopes`): nothing for a missing project or
  without rights, so bad credentials get an empty-grant token, never a 401.
- Tokens last `seconds` (Harbor's `token_expiration`, 30 min by default, `expires_in` in the
  answer; `core/service/token/authutils.go:MakeToken`). An unknown or expired Bearer token makes
  the request anonymous (`security/v2_token.go:Generate` returns nil). Harbor's JWT check allows
  60 s of leeway (`common.JwtLeeway`); the emulator does not, so tests need not wait.
- Basic credentials are accepted directly on `/v2/` (`security/basic_auth.go`, `robot.go`).
- `server/middleware/v2auth/auth.go:reqChecker.check` and `getChallenge` decide a refusal:
  a challenge is `Bearer realm=...,service=...,scope=...` only when the request carried no
  `Authorization` header; with one it is `Basic realm="harbor"` (no `insufficient_scope`).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .robots import PREFIX as ROBOT_PREFIX
from .state import Project, Robot, State, User
from .wire import Request, Response, json_response

SERVICE = "harbor-registry"
TOKEN_PATH = "/service/token"
TOKEN_SECONDS = 1800.0
BASIC_CHALLENGE = 'Basic realm="harbor"'
_ACTIONS = ("pull", "push", "delete")  # creator.go:actionScopeMap, as far as /v2/ goes


@dataclass(frozen=True)
class Caller:
    """Who a request acts as: a user, a robot, or anonymous (no name)."""

    name: str = ""
    user: User | None = None
    robot: Robot | None = None
    access: dict[str, frozenset[str]] | None = None  # a token's grants, by project name

    @property
    def authenticated(self) -> bool:
        return bool(self.name)

    def can(self, project: Project, action: str) -> bool:
        """Harbor's RBAC for `repository` on a project, as far as pull and push go."""
        if self.access is not None:  # common/security/v2token/context.go:Can
            return action in self.access.get(project.name, frozenset())
        if self.user is not None and self.user.admin:
            return True
        if self.robot is not None:
            wanted = {"resource": "repository", "action": action}
            for permission in self.robot.permissions:
                access = permission.get("access")
                namespace = permission.get("namespace")
                if (
                    namespace in (project.name, "*")
                    and isinstance(access, list)
                    and wanted in access
                ):
                    return True
            return False
        if self.user is not None and project.owner is self.user:
            return True  # the owner is project admin
        return action == "pull" and project.metadata.get("public") == "true"


ANONYMOUS = Caller()


@dataclass
class _Token:
    caller: Caller
    expires_at: float


@dataclass
class Tokens:
    """Issued tokens; `seconds` is how long a new one lasts (tests may shorten it)."""

    seconds: float = TOKEN_SECONDS
    issued: dict[str, _Token] = field(default_factory=dict)

    def issue(self, request: Request, state: State) -> Response:
        """GET /service/token: a token for the requested scopes, within the caller's rights."""
        if request.method != "GET":
            # core/router.go routes /service/token to token.Handler, which has only Get; any
            # other method is beego's web.Controller default (Post, Put, ...: http.Error 405),
            # on which containerd's OAuth POST falls back to GET. (/service/ skips the CSRF
            # check: server/middleware/csrf/csrf.go: csrfSkipper.)
            return Response(405, [("Content-Type", "text/plain")], b"Method Not Allowed")
        service = request.arg("service") or ""
        if service != SERVICE:  # no token creator for it: beego's CustomAbort, plain text
            return Response(400, [("Content-Type", "text/plain")],
                            f"Unable to handle service: {service}".encode())  # fmt: skip
        caller = basic_caller(request, state)
        scopes = [s for value in request.query.get("scope", []) for s in value.split(" ") if s]
        if not caller.authenticated and not scopes:
            return Response(401)  # beego's CustomAbort(401, "")
        access: dict[str, frozenset[str]] = {}
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            repository = rest.rpartition(":")[0]
            if kind != "repository" or not repository:
                continue
            name = repository.partition("/")[0]
            project = state.project_by_name(name)
            allowed = (a for a in _ACTIONS if project is not None and caller.can(project, a))
            access[name] = frozenset(allowed)  # v2token.New: the last access per project wins
        token = secrets.token_urlsafe(24)
        self.issued[token] = _Token(
            Caller(caller.name, access=access), state.clock() + self.seconds
        )
        issued_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json_response(
            200,
            {"token": token, "access_token": "", "expires_in": int(self.seconds),
             "issued_at": issued_at},
        )  # fmt: skip

    def caller(self, request: Request, state: State) -> Caller:
        """The security context of a `/v2/` request: a live Bearer token, Basic, or anonymous."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            token = self.issued.get(value)
            if token is None or state.clock() >= token.expires_at:
                return ANONYMOUS
            return token.caller
        return basic_caller(request, state)


def basic_caller(request: Request, state: State) -> Caller:
    """Basic credentials of a robot (`robot$…`) or a local user; anything wrong is anonymous."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ANONYMOUS
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return ANONYMOUS
    robot = robot_by_credentials(state, username, password)
    if robot is not None:
        return Caller(username, robot=robot)
    user = state.users.get(username)
    if user is None or not secrets.compare_digest(user.password, password):
        return ANONYMOUS
    return Caller(username, user=user)


def robot_by_credentials(state: State, username: str, password: str) -> Robot | None:
    """The robot these Basic credentials sign in as, if it is valid now (`Robot.valid`:
    not disabled, not expired; `server/middleware/security/robot.go:Generate`)."""
    if not username.startswith(ROBOT_PREFIX):
        return None
    name, now = username[len(ROBOT_PREFIX) :], time.time()
    for robot in state.robots.values():
        if robot.name == name and secrets.compare_digest(robot.secret, password):
            return robot if robot.valid(now) else None
    return None


def refusal(request: Request, base_url: str, message: str, scope: str | None = None) -> Response:
    """`v2auth.Middleware`: 401 UNAUTHORIZED with `getChallenge`'s header."""
    if request.headers.get("authorization"):
        challenge = BASIC_CHALLENGE
    else:
        challenge = f'Bearer realm="{base_url}{TOKEN_PATH}",service="{SERVICE}"'
        if scope:
            challenge += f',scope="{scope}"'
    response = json_response(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]})
    response.headers += [
        ("Docker-Distribution-Api-Version", "registry/2.0"),
        ("Www-Authenticate", challenge),
    ]
    return response


def check(
    request: Request, state: State, base_url: str, caller: Caller, name: str | None, action: str
) -> Response | None:
    """`reqChecker.check`: None when the request may go on, else the 401 to send."""
    if name is None:  # the `/v2/` login target
        return None if caller.authenticated else refusal(request, base_url, "unauthorized")
    scope = f"repository:{name}:{'pull,push' if action == 'push' else 'pull'}"
    has_header = bool(request.headers.get("authorization"))
    if not has_header and request.method in ("GET", "HEAD"):
        message = "authorize header needed to send HEAD to repository"
        return refusal(request, base_url, message, scope)
    project = state.project_by_name(name.partition("/")[0])
    if project is None:  # projectID() fails: an error with no challenge at all
        response = refusal(request, base_url, f"project {name.partition('/')[0]} not found")
        response.headers = [(k, "" if k == "Www-Authenticate" else v) for k, v in response.headers]
        return response
    if not caller.can(project, action):
        message = f"unauthorized to access repository: {name}, action: {action}"
        return refusal(request, base_url, message, scope)
    return None
