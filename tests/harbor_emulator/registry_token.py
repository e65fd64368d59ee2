"""Harbor's registry auth: the `/service/token` service and the Bearer challenge on `/v2/`.

A client without a token gets 401 with `WWW-Authenticate: Bearer realm="<url>/service/token",
service="harbor-registry"`; it asks the token service for `scope=repository:<name>:pull` with
basic auth (a user, or a robot `robot$<project>+<name>` with its secret) and retries with the
Bearer token. Wrong credentials get 401 from the token service; anonymous callers get a token
that grants only what public projects allow, so the registry answers 401 `insufficient_scope`.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Literal

from .robots import PREFIX as ROBOT_PREFIX
from .state import State, iso_now
from .wire import Request, Response, json_response

SERVICE = "harbor-registry"
TOKEN_PATH = "/service/token"
EXPIRES_IN = 1800


@dataclass
class Tokens:
    """Issued tokens and what each grants: {token: {(repository, action), ...}}."""

    grants: dict[str, set[tuple[str, str]]] = field(default_factory=dict)

    def issue(self, request: Request, state: State) -> Response:
        """GET /service/token: a token for the requested scopes, within the caller's rights."""
        identity = _identity(request, state)
        if identity is False:
            return _unauthorized("authentication required")
        granted: set[tuple[str, str]] = set()
        for scope in request.query.get("scope", []):
            kind, _, rest = scope.partition(":")
            repository, _, actions = rest.rpartition(":")
            if kind != "repository" or not repository:
                continue
            for action in actions.split(","):
                if _allowed(identity, state, repository, action):
                    granted.add((repository, action))
        token = secrets.token_urlsafe(24)
        self.grants[token] = granted
        return json_response(
            200,
            {"token": token, "access_token": token, "expires_in": EXPIRES_IN,
             "issued_at": iso_now()},
        )  # fmt: skip

    def allows(self, request: Request, repository: str | None, action: str) -> bool:
        """Whether the request's Bearer token grants `action` (None: just a valid token)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        grants = self.grants.get(token) if scheme.lower() == "bearer" else None
        if grants is None:
            return False
        return repository is None or (repository, action) in grants

    def challenge(
        self, request: Request, base_url: str, repository: str | None, action: str = "pull"
    ) -> Response:
        """401 telling the client where to get a token (and for what, on a repository)."""
        header = f'Bearer realm="{base_url}{TOKEN_PATH}",service="{SERVICE}"'
        message = "authentication required"
        if repository is not None:
            actions = "pull,push" if action == "push" else "pull"
            header += f',scope="repository:{repository}:{actions}"'
            if request.headers.get("authorization", "").lower().startswith("bearer "):
                header += ',error="insufficient_scope"'
                message = f"unauthorized to access repository: {repository}, action: {action}"
        response = _unauthorized(message)
        response.headers.append(("WWW-Authenticate", header))
        return response


def _unauthorized(message: str) -> Response:
    return json_response(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]})


# Who asks: ("user", admin?) / ("robot", {project: actions}) / None for anonymous; False: refused.
Identity = tuple[str, object] | None


def _identity(request: Request, state: State) -> Identity | Literal[False]:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    if username.startswith(ROBOT_PREFIX):
        name = username[len(ROBOT_PREFIX) :]
        for robot in state.robots.values():
            if robot.name == name and not robot.disable and secrets.compare_digest(
                robot.secret, password
            ):
                return ("robot", robot.permissions)
        return False
    user = state.users.get(username)
    if user is None or not secrets.compare_digest(user.password, password):
        return False
    return ("user", user.admin)


def _allowed(identity: Identity, state: State, repository: str, action: str) -> bool:
    project = state.project_by_name(repository.partition("/")[0])
    if project is None or action not in ("pull", "push"):
        return False
    if identity is not None and identity[0] == "user" and identity[1]:
        return True
    if identity is not None and identity[0] == "robot":
        permissions = identity[1]
        assert isinstance(permissions, list)
        return any(
            permission.get("namespace") in (project.name, "*")
            and {"resource": "repository", "action": action} in permission.get("access", [])
            for permission in permissions
        )
    return action == "pull" and project.metadata.get("public") == "true"
