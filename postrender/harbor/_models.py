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

    def obj(self, key: str) -> _Fields:
        return _Fields(self.data.get(key) or {}, f"{self._origin} {key}")


@dataclass(frozen=True)
class User:
    username: str
    is_admin: bool

    @classmethod
    def parse(cls, data: object) -> User:
        f = _Fields(data, "GET /users/current")
        return cls(f.text("username"), f.flag("sysadmin_flag", False))


@dataclass(frozen=True)
class SystemInfo:
    harbor_version: str  # "" when Harbor keeps it to itself (anonymous)

    @classmethod
    def parse(cls, data: object) -> SystemInfo:
        return cls(_Fields(data, "GET /systeminfo").text("harbor_version", ""))


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


@dataclass(frozen=True)
class Robot:
    """A robot account; `secret` is only ever filled right after create or rotation."""

    id: int
    name: str
    disabled: bool
    secret: str = field(default="", repr=False)

    @classmethod
    def parse(cls, data: object) -> Robot:
        f = _Fields(data, "GET /robots")
        return cls(f.integer("id"), f.text("name"), f.flag("disable", False), f.text("secret", ""))
