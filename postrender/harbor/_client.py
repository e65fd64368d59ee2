"""The Harbor v2.0 calls the bootstrap needs, each returning checked, typed values."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from postrender.errors import HarborAPIError, HarborResponseError
from postrender.harbor._errors import origin
from postrender.harbor._http import HarborHTTP, Params, decode_json
from postrender.harbor._models import (
    Execution,
    Policy,
    Project,
    Registry,
    Robot,
    SystemInfo,
    Task,
    User,
)

_BY_NAME = {"X-Is-Resource-Name": "true"}
_NOT_FOUND = frozenset({404})
_REFUSED = frozenset({401})
# What Harbor's `q` parser changes in a value: see `name_search`.
_CHANGED_BY_Q = re.compile(r"[+%,\\]")


def name_search(name: str) -> Params:
    """A `q` that finds `name` among others, for the caller to compare exactly.

    Harbor's parser (`lib/q/builder.go:parseKeywords`) unescapes `q` once more, so `+` turns
    into a space and `%2C` into a separator, splits on `,`, and drops a leading `\\` of an
    exact value. So ask for the longest part of `name` it leaves alone, as a case-insensitive
    substring (`~`, `lib/orm/query.go:setFilters`); with no such part, list everything.
    """
    fragment = max(_CHANGED_BY_Q.split(name), key=len)
    return {"q": f"name=~{fragment}"} if fragment else {}


class HarborClient:
    """Typed endpoints over HarborHTTP; names are searched loosely and matched exactly."""

    def __init__(self, http: HarborHTTP) -> None:
        self.http = http

    # -- who and what ---------------------------------------------------------------------
    def current_user(self) -> User:
        """The only reliable credential check: Harbor treats wrong ones as anonymous, not 401."""
        return User.parse(self.http.call("GET", "/users/current"))

    def system_info(self) -> SystemInfo:
        return SystemInfo.parse(self.http.call("GET", "/systeminfo"))

    # -- registry endpoints ---------------------------------------------------------------
    def find_registry(self, name: str) -> Registry | None:
        found = self.http.list_all("/registries", name_search(name))
        return next((r for r in map(Registry.parse, found) if r.name == name), None)

    def create_registry(self, body: Mapping[str, Any]) -> int:
        return self.http.create("/registries", body)

    def update_registry(self, registry_id: int, body: Mapping[str, Any]) -> None:
        """`body` is Harbor's flat RegistryUpdate: only the fields sent change."""
        self.http.request("PUT", f"/registries/{registry_id}", body=body)

    # -- projects -------------------------------------------------------------------------
    def get_project(self, name: str) -> Project | None:
        path = f"/projects/{name}"
        try:
            response = self.http.request("GET", path, headers=_BY_NAME, allow=_NOT_FOUND)
        except HarborAPIError as error:
            # A robot asking for a project that does not exist is refused, not told 404
            # (`handler/base.go:RequireProjectAccess` checks project 0); HEAD tells which.
            if error.status == 403 and not self._project_exists(name):
                return None
            raise
        if response.status_code == 404:
            return None
        return Project.parse(decode_json(response, "GET", path))

    def _project_exists(self, name: str) -> bool:
        """`HEAD /projects?project_name=`: 200 or 404 for anyone signed in (`HeadProject`)."""
        params = {"project_name": name}
        response = self.http.request("HEAD", "/projects", params=params, allow=_NOT_FOUND)
        return response.status_code != 404

    def create_project(self, body: Mapping[str, Any]) -> int:
        return self.http.create("/projects", body)

    def update_project_metadata(self, name: str, metadata: Mapping[str, str]) -> None:
        body = {"metadata": dict(metadata)}
        self.http.request("PUT", f"/projects/{name}", body=body, headers=_BY_NAME)

    # -- replication ----------------------------------------------------------------------
    def find_policy(self, name: str) -> Policy | None:
        found = self.http.list_all("/replication/policies", name_search(name))
        return next((p for p in map(Policy.parse, found) if p.name == name), None)

    def create_policy(self, body: Mapping[str, Any]) -> int:
        return self.http.create("/replication/policies", body)

    def update_policy(self, policy_id: int, body: Mapping[str, Any]) -> None:
        """Harbor replaces the whole policy, so `body` must be complete."""
        self.http.request("PUT", f"/replication/policies/{policy_id}", body=body)

    def running_executions(self, policy_id: int) -> list[Execution]:
        found = self.http.list_all(
            "/replication/executions", {"policy_id": policy_id, "status": "InProgress"}
        )
        return [e for e in map(Execution.parse, found) if e.running]

    def start_execution(self, policy_id: int) -> int:
        return self.http.create("/replication/executions", {"policy_id": policy_id})

    def get_execution(self, execution_id: int) -> Execution:
        return Execution.parse(self.http.call("GET", f"/replication/executions/{execution_id}"))

    def tasks(self, execution_id: int, status: str) -> list[Task]:
        path = f"/replication/executions/{execution_id}/tasks"
        return [Task.parse(t) for t in self.http.list_all(path, {"status": status})]

    def task_log(self, execution_id: int, task_id: int) -> str:
        path = f"/replication/executions/{execution_id}/tasks/{task_id}/log"
        return self.http.request("GET", path, headers={"Accept": "text/plain"}).text

    # -- robots ---------------------------------------------------------------------------
    def find_project_robot(self, project_id: int, name: str) -> Robot | None:
        """Harbor stores `<project>+<name>` behind a configurable prefix (default `robot$`)."""
        found = self.http.list_all("/robots", {"q": f"Level=project,ProjectID={project_id}"})
        return next((r for r in map(Robot.parse, found) if r.name.endswith(f"+{name}")), None)

    def create_robot(self, body: Mapping[str, Any]) -> Robot:
        """The answer is the only time Harbor shows the robot's secret."""
        return Robot.parse(self.http.call("POST", "/robots", body=body))

    def update_robot(self, robot_id: int, body: Mapping[str, Any]) -> None:
        """Harbor's PUT keeps only the name, level and project: `body` must repeat the first
        two and give everything else (`handler/robot.go:updateV2Robot`)."""
        self.http.request("PUT", f"/robots/{robot_id}", body=body)

    def refresh_robot_secret(self, robot: Robot) -> Robot:
        """Ask Harbor for a new generated secret; the old one stops working."""
        answer = self.http.call("PATCH", f"/robots/{robot.id}", body={"secret": ""})
        secret = answer.get("secret") if isinstance(answer, dict) else None
        if not isinstance(secret, str) or not secret:
            raise HarborResponseError(f"PATCH /robots/{robot.id}: Harbor sent no new secret")
        return replace(robot, secret=secret)

    def registry_accepts(self, username: str, password: str) -> bool:
        """Whether Harbor's registry answers `/v2/` with 200 for these credentials: only a
        robot that exists, with this secret, enabled and unexpired, gets it; anything else
        is anonymous there, and refused with 401 (`server/middleware/security/robot.go`)."""
        url = origin(self.http.base_url) + "/v2/"
        auth = httpx.BasicAuth(username, password)
        return self.http.request("GET", url, auth=auth, allow=_REFUSED).status_code != 401
