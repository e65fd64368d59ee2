"""The emulator's data: users, registries, projects, policies, executions, robots, content.

Plain records in one `State`, so tests can look at (or arrange) exactly what Harbor holds.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .store import Store
from .wire import ApiError, Request, forbidden, unprocessable

STRONG_SECRET = re.compile(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,128}$")
"""Harbor's rule for user passwords and chosen robot secrets."""


RUNNING = frozenset({"Pending", "InProgress"})
"""Task statuses of a copy that has not finished (an execution with one is InProgress)."""

ZERO_TIME = "0001-01-01T00:00:00.000Z"
"""What Harbor prints for a time that has not happened yet (an unfinished run's end)."""


def iso_now() -> str:
    """A timestamp in the form Harbor prints (`2026-01-02T03:04:05.678Z`)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class User:
    """Who an API request acts as. A robot signing in with Basic auth gets a stand-in with
    `robot` set (user id 0), so handlers can check its permissions."""

    user_id: int
    username: str
    password: str
    sysadmin_flag: bool
    # Admin by signing in (LDAP admin group, auth proxy, OIDC admin group), never stored
    # in sysadmin_flag: `core/auth/ldap/ldap.go:attachLDAPGroup`, `pkg/authproxy/http.go`.
    admin_role_in_auth: bool = False
    oidc: bool = False  # an OIDC user: `password` is the CLI secret
    robot: Robot | None = None
    creation_time: str = field(default_factory=iso_now)

    @property
    def admin(self) -> bool:
        """`common/security/local/context.go:IsSysAdmin`: either way of being admin."""
        return self.sysadmin_flag or self.admin_role_in_auth

    def may(self, kind: str, namespace: str, resource: str, action: str) -> bool:
        """A robot's permission (`common/security/robot/context.go:Can`): an entry of that
        kind on that namespace, or on all (`*`), granting the resource and action."""
        if self.robot is None:
            return False
        wanted = (resource, action)
        for permission in self.robot.permissions:
            accesses = permission.get("access")
            if (
                permission.get("kind") == kind
                and permission.get("namespace") in (namespace, "*")
                and isinstance(accesses, list)
                and any((a.get("resource"), a.get("action")) == wanted for a in accesses)
            ):
                return True
        return False


@dataclass
class Registry:
    id: int
    name: str
    type: str
    url: str
    description: str
    credential_type: str
    access_key: str
    access_secret: str
    insecure: bool
    ca_certificate: str
    status: str
    creation_time: str = field(default_factory=iso_now)
    update_time: str = field(default_factory=iso_now)


@dataclass
class Project:
    project_id: int
    name: str
    owner: User
    metadata: dict[str, str]
    registry_id: int = 0
    creation_time: str = field(default_factory=iso_now)
    update_time: str = field(default_factory=iso_now)


@dataclass
class Policy:
    id: int
    name: str
    description: str
    src_registry_id: int
    dest_registry_id: int
    dest_namespace: str
    dest_namespace_replace_count: int
    filters: list[dict[str, object]]
    trigger: dict[str, object]
    deletion: bool
    override: bool
    enabled: bool
    speed: int
    copy_by_chunk: bool
    single_active_replication: bool
    creation_time: str = field(default_factory=iso_now)
    update_time: str = field(default_factory=iso_now)


@dataclass
class Task:
    """One copy job; its status follows the clock between `starts_at` and `ends_at`."""

    id: int
    execution_id: int
    src_resource: str
    dst_resource: str
    outcome: str
    log: str
    starts_at: float
    ends_at: float
    stopped_at: float | None = None

    def status(self, now: float) -> str:
        if self.stopped_at is not None and self.stopped_at < self.ends_at:
            return "Stopped"
        if now < self.starts_at:
            return "Pending"
        return "InProgress" if now < self.ends_at else self.outcome

    def finished_at(self) -> float:
        """When the task ended (or will end), stopping included."""
        return self.ends_at if self.stopped_at is None else min(self.stopped_at, self.ends_at)


@dataclass
class Execution:
    id: int
    policy_id: int
    trigger: str
    started_at: float
    start_time: str
    tasks: list[Task] = field(default_factory=list)
    status_text: str = ""
    failed_early: bool = False

    def status(self, now: float) -> str:
        """Failed early (listing, skipped), else derived from the tasks at `now` with
        `pkg/task/dao/execution.go:refreshStatus`'s precedence: running, then Error
        (Failed), then Stopped, then Success."""
        if self.failed_early:
            return "Failed"
        statuses = [task.status(now) for task in self.tasks]
        if any(s in RUNNING for s in statuses):
            return "InProgress"
        if "Failed" in statuses:
            return "Failed"
        return "Stopped" if "Stopped" in statuses else "Succeed"


@dataclass
class Robot:
    id: int
    name: str
    description: str
    level: str
    project_id: int
    duration: int
    disable: bool
    permissions: list[dict[str, object]]
    secret: str
    creator_ref: int
    expires_at: int = -1
    creation_time: str = field(default_factory=iso_now)
    update_time: str = field(default_factory=iso_now)
    created_at: float = field(default_factory=time.time)  # Unix seconds, for expires_at

    def valid(self, now: float) -> bool:
        """`server/middleware/security/robot.go:Generate`: a disabled robot, or one whose
        `expires_at` is not -1 and has passed, gets no security context (anonymous)."""
        return not self.disable and (self.expires_at == -1 or self.expires_at > now)


@dataclass
class State:
    """Everything the emulated Harbor knows; ids come from one counter per kind, like a DB."""

    users: dict[str, User] = field(default_factory=dict)
    registries: dict[int, Registry] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    policies: dict[int, Policy] = field(default_factory=dict)
    executions: dict[int, Execution] = field(default_factory=dict)
    robots: dict[int, Robot] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    execution_seconds: float = 1.0
    failing_copies: set[str] = field(default_factory=set)
    store: Store = field(default_factory=Store)
    version: str = "v2.15.2"
    auth_mode: str = "db_auth"  # /systeminfo; "oidc_auth" limits OIDC users' CLI secrets
    # How long a blob takes to stream from the upstream through a proxy project, and core's
    # UPSTREAM_REGISTRY_LIMIT_ON_PROJECT (one max_upstream_conn count per project, not per
    # blob): see `registry_proxy.UpstreamLimit`.
    upstream_blob_seconds: float = 0.0
    upstream_limit_on_project: bool = False
    health_checked_at: float | None = None
    _ids: dict[str, Iterator[int]] = field(default_factory=dict)

    def release(self) -> tuple[int, int, int]:
        """The Harbor release behaved as; "main" (its VERSION file says v2.16.0) is newest."""
        if self.version == "main":
            return (2, 16, 0)
        found = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", self.version)
        if found is None:
            raise ValueError(f"unknown Harbor version {self.version!r}: use 'main' or 'vX.Y.Z'")
        major, minor, patch = (int(part) for part in found.groups())
        return (major, minor, patch)

    def next_id(self, kind: str) -> int:
        return next(self._ids.setdefault(kind, itertools.count(1)))

    def add_user(
        self,
        username: str,
        password: str,
        *,
        admin: bool,
        by_sign_in: bool = False,
        oidc: bool = False,
    ) -> User:
        user = User(self.next_id("user"), username, password, admin, by_sign_in, oidc)
        self.users[username] = user
        return user

    def project_by_name(self, name: str) -> Project | None:
        return next((p for p in self.projects.values() if p.name == name), None)


@dataclass(frozen=True)
class Call:
    """What a route handler gets: the request, who sent it, path parameters and the state."""

    request: Request
    user: User | None
    params: dict[str, str]
    state: State
    base_url: str

    def require_login(self) -> User:
        if self.user is None:
            raise ApiError(401, "UNAUTHORIZED", "UnAuthorized")
        return self.user

    def require_admin(self, access: tuple[str, str]) -> User:
        """`handler/base.go:RequireSystemAccess`: a system admin, or a robot holding `access`
        (resource, action) in its system permissions; Harbor's 403 names the caller."""
        user = self.require_login()
        if user.admin or user.may("system", "/", *access):
            return user
        raise forbidden(user.username)

    def int_param(self, name: str) -> int:
        raw = self.params[name]
        try:
            return int(raw)
        except ValueError as exc:
            raise unprocessable(f'{name} in path must be of type int64: "{raw}"') from exc
