"""The Harbor v2.0 calls the bootstrap needs, each returning checked, typed values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from postrender.errors import HarborResponseError
from postrender.harbor._http import HarborHTTP, decode_json
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


class HarborClient:
    """Typed endpoints over HarborHTTP; names are matched exactly (Harbor's `name=` is fuzzy)."""

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
        found = self.http.list_all("/registries", {"q": f"name={name}"})
        return next((r for r in map(Registry.parse, found) if r.name == name), None)

    def create_registry(self, body: Mapping[str, Any]) -> int:
        return self.http.create("/registries", body)

    def update_registry(self, registry_id: int, body: Mapping[str, Any]) -> None:
        """`body` is Harbor's flat RegistryUpdate: only the fields sent change."""
        self.http.request("PUT", f"/registries/{registry_id}", body=body)

    # -- projects -------------------------------------------------------------------------
    def get_project(self, name: str) -> Project | None:
        path = f"/projects/{name}"
        response = self.http.request("GET", path, headers=_BY_NAME, allow=_NOT_FOUND)
        if response.status_code == 404:
            return None
        return Project.parse(decode_json(response, "GET", path))

    def create_project(self, body: Mapping[str, Any]) -> int:
        return self.http.create("/projects", body)

    def update_project_metadata(self, name: str, metadata: Mapping[str, str]) -> None:
        body = {"metadata": dict(metadata)}
        self.http.request("PUT", f"/projects/{name}", body=body, headers=_BY_NAME)

    # -- replication ----------------------------------------------------------------------
    def find_policy(self, name: str) -> Policy | None:
        found = self.http.list_all("/replication/policies", {"q": f"name={name}"})
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

    def refresh_robot_secret(self, robot: Robot) -> Robot:
        """Ask Harbor for a new generated secret; the old one stops working."""
        answer = self.http.call("PATCH", f"/robots/{robot.id}", body={"secret": ""})
        secret = answer.get("secret") if isinstance(answer, dict) else None
        if not isinstance(secret, str) or not secret:
            raise HarborResponseError(f"PATCH /robots/{robot.id}: Harbor sent no new secret")
        return Robot(robot.id, robot.name, robot.disabled, secret)
