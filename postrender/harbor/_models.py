"""What the bootstrap reads from Harbor, checked on the way in so later code can trust types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from postrender.errors import HarborResponseError


class _Fields:
    """Typed access to one JSON object; a missing or mistyped field names the call it came from."""

    def __init__(self, data: object, origin: str) -> None:
        if not isinstance(data, dict):
            raise HarborResponseError(f"{origin}: expected a JSON object from Harbor")
        self.data: dict[str, Any] = data
        self._origin = origin

    def _bad(self, key: str, kind: str) -> HarborResponseError:
        return HarborResponseError(f"{self._origin}: Harbor's answer lacks {kind} field {key!r}")

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "an integer")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None and default is not None:
            return default
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self._bad(key, "a boolean")
        return value

    def items(self, key: str) -> list[Any]:
        """A list field; absent or null reads as empty."""
        value = self.data.get(key) or []
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        return value

    def obj(self, key: str) -> _Fields:
        return _Fields(self.data.get(key) or {}, f"{self._origin} {key}")


@dataclass(frozen=True)
class User:
    """`admin_by_sign_in`: admin through an LDAP admin group, the auth proxy or an OIDC admin
    group, which Harbor grants at each sign-in and never stores in `sysadmin_flag`."""

    username: str
    sysadmin_flag: bool
    admin_by_sign_in: bool = False

    @property
    def is_admin(self) -> bool:
        """Harbor's own test (`common/security/local/context.go:IsSysAdmin`)."""
        return self.sysadmin_flag or self.admin_by_sign_in

    @classmethod
    def parse(cls, data: object) -> User:
        f = _Fields(data, "GET /users/current")
        return cls(
            f.text("username"),
            f.flag("sysadmin_flag", False),
            f.flag("admin_role_in_auth", False),
        )


OIDC_AUTH = "oidc_auth"


@dataclass(frozen=True)
class SystemInfo:
    harbor_version: str  # "" when Harbor keeps it to itself (anonymous)
    auth_mode: str = ""  # db_auth, ldap_auth, oidc_auth, http_auth, uaa_auth; anonymous too

    @classmethod
    def parse(cls, data: object) -> SystemInfo:
        f = _Fields(data, "GET /systeminfo")
        return cls(f.text("harbor_version", ""), f.text("auth_mode", ""))


@dataclass(frozen=True)
class Registry:
    """A registry endpoint; Harbor never returns the stored secret."""

    id: int
    name: str
    type: str
    url: str
    insecure: bool
    access_key: str
    description: str
    status: str

    @classmethod
    def parse(cls, data: object) -> Registry:
        f = _Fields(data, "GET /registries")
        credential = f.obj("credential")
        return cls(
            id=f.integer("id"),
            name=f.text("name"),
            type=f.text("type"),
            url=f.text("url"),
            insecure=f.flag("insecure", False),
            access_key=credential.text("access_key", ""),
            description=f.text("description", ""),
            status=f.text("status", ""),
        )


@dataclass(frozen=True)
class Project:
    """`registry_id` is None for a normal project, the endpoint id for a proxy cache."""

    id: int
    name: str
    registry_id: int | None
    metadata: Mapping[str, str]

    @property
    def public(self) -> bool:
        return self.metadata.get("public", "false").lower() == "true"

    @classmethod
    def parse(cls, data: object) -> Project:
        f = _Fields(data, "GET /projects")
        metadata = f.obj("metadata").data
        return cls(
            id=f.integer("project_id"),
            name=f.text("name"),
            registry_id=f.integer("registry_id", 0) or None,
            metadata={str(k): str(v) for k, v in metadata.items()},
        )


@dataclass(frozen=True)
class Policy:
    """A replication policy; `body` keeps Harbor's full answer for comparison."""

    id: int
    name: str
    body: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, data: object) -> Policy:
        f = _Fields(data, "GET /replication/policies")
        return cls(f.integer("id"), f.text("name"), f.data)


@dataclass(frozen=True)
class Execution:
    id: int
    status: str  # InProgress | Succeed | Failed | Stopped
    status_text: str
    total: int
    succeed: int
    failed: int
    in_progress: int
    stopped: int

    @property
    def running(self) -> bool:
        return self.status == "InProgress"

    @classmethod
    def parse(cls, data: object) -> Execution:
        f = _Fields(data, "GET /replication/executions")
        return cls(
            id=f.integer("id"),
            status=f.text("status"),
            status_text=f.text("status_text", ""),
            total=f.integer("total", 0),
            succeed=f.integer("succeed", 0),
            failed=f.integer("failed", 0),
            in_progress=f.integer("in_progress", 0),
            stopped=f.integer("stopped", 0),
        )


@dataclass(frozen=True)
class Task:
    id: int
    status: str
    src_resource: str
    dst_resource: str

    @classmethod
    def parse(cls, data: object) -> Task:
        f = _Fields(data, "GET /replication/executions/{id}/tasks")
        return cls(
            id=f.integer("id"),
            status=f.text("status"),
            src_resource=f.text("src_resource", ""),
            dst_resource=f.text("dst_resource", ""),
        )


NEVER_EXPIRES = -1


@dataclass(frozen=True)
class RobotPermission:
    """One entry of a robot's `permissions`: what it may do, of which kind, where."""

    kind: str  # project | system
    namespace: str  # a project name, or * for all
    access: frozenset[tuple[str, str]]  # (resource, action)

    @classmethod
    def parse(cls, data: object) -> RobotPermission:
        f = _Fields(data, "GET /robots permissions")
        pairs = (_Fields(item, "GET /robots access") for item in f.items("access"))
        return cls(
            f.text("kind", ""),
            f.text("namespace", ""),
            frozenset((a.text("resource"), a.text("action")) for a in pairs),
        )


@dataclass(frozen=True)
class Robot:
    """A robot account; `secret` is only ever filled right after create or rotation.

    `expires_at` is Unix seconds, or -1 for never; Harbor refuses an expired robot's
    credentials as if they were wrong (`server/middleware/security/robot.go:Generate`)."""

    id: int
    name: str
    disabled: bool
    secret: str = field(default="", repr=False)
    expires_at: int = NEVER_EXPIRES
    level: str = "project"
    description: str = ""
    permissions: tuple[RobotPermission, ...] = ()

    def expired(self, now: float) -> bool:
        return self.expires_at != NEVER_EXPIRES and self.expires_at <= now

    @classmethod
    def parse(cls, data: object) -> Robot:
        f = _Fields(data, "GET /robots")
        return cls(
            id=f.integer("id"),
            name=f.text("name"),
            disabled=f.flag("disable", False),
            secret=f.text("secret", ""),
            expires_at=f.integer("expires_at", NEVER_EXPIRES),
            level=f.text("level", "project"),
            description=f.text("description", ""),
            permissions=tuple(RobotPermission.parse(p) for p in f.items("permissions")),
        )
