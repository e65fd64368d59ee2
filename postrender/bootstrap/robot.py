"""Step 5 (optional): a pull-only robot on the project and its Kubernetes pull Secret manifest."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, TextIO

from postrender.bootstrap.created import create_once, found_again
from postrender.bootstrap.outcome import Outcome, report, warn
from postrender.bootstrap.plan import Plan, RobotPlan
from postrender.errors import ConfigError, HarborResponseError, keep_secret
from postrender.files import atomic_write
from postrender.harbor import HarborClient, Project, Robot
from postrender.rewrite.rules import DOCKERCONFIG_TYPE
from postrender.secretfile import read_credentials


def robot_body(robot: RobotPlan, project: str) -> dict[str, Any]:
    return {
        "name": robot.name,
        "description": "Kubernetes image pulls (helm-harbor-mirror)",
        "level": "project",
        "duration": -1,
        "disable": False,
        "permissions": [
            {
                "kind": "project",
                "namespace": project,
                "access": [{"resource": "repository", "action": "pull"}],
            }
        ],
    }


def secret_manifest(name: str, registry_host: str, username: str, password: str) -> str:
    """A `kubernetes.io/dockerconfigjson` Secret (JSON is valid YAML for kubectl apply)."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    config = {"auths": {registry_host: {"username": username, "password": password, "auth": auth}}}
    encoded = base64.b64encode(json.dumps(config).encode()).decode("ascii")
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "type": DOCKERCONFIG_TYPE,
        "data": {".dockerconfigjson": encoded},
    }
    return json.dumps(manifest, indent=2) + "\n"


def secret_file_credentials(path: Path, registry_host: str) -> tuple[str, str] | None:
    """The username and password a previously written Secret file holds, if it is usable."""
    try:
        return read_credentials(path, registry_host)
    except ConfigError:
        return None


def secret_file_user(path: Path, registry_host: str) -> str | None:
    """The username a previously written Secret file holds for `registry_host`, if readable."""
    credentials = secret_file_credentials(path, registry_host)
    return credentials[0] if credentials else None


def ensure_robot(
    client: HarborClient,
    plan: Plan,
    project: Project | None,
    *,
    dry_run: bool,
    out: TextIO,
) -> None:
    """Create the robot (or rotate its secret on request) and write the pull Secret file."""
    robot = plan.robot
    assert robot is not None
    existing = client.find_project_robot(project.id, robot.name) if project else None
    if existing is None:
        if dry_run:
            report(out, "robot", robot.name, Outcome.WOULD_CREATE, f"pull-only on {plan.project}")
            report(out, "pull-secret", str(robot.secret_out), "would write")
            return
        assert project is not None
        body = robot_body(robot, plan.project)
        created = create_once(lambda: client.create_robot(body))
        if created is not None:
            report(out, "robot", created.name, Outcome.CREATED, f"pull-only on {plan.project}")
            _write_secret(plan, robot, created, out)
            return
        existing = _reread(client, project, robot.name)
    if robot.rotate:
        if dry_run:
            report(out, "robot", existing.name, Outcome.WOULD_UPDATE, "new secret")
            report(out, "pull-secret", str(robot.secret_out), "would write")
            return
        rotated = client.refresh_robot_secret(existing)
        report(out, "robot", existing.name, Outcome.UPDATED, "new secret")
        _write_secret(plan, robot, rotated, out)
        return
    report(out, "robot", existing.name, Outcome.UNCHANGED)
    if existing.disabled:
        warn(out, f"robot {existing.name!r} is disabled in Harbor: pulls with it fail")
    if secret_file_user(robot.secret_out, plan.harbor_host) == existing.name:
        report(out, "pull-secret", str(robot.secret_out), Outcome.UNCHANGED)
        return
    raise ConfigError(
        f"robot {existing.name!r} exists and Harbor shows a robot's secret only when it is "
        f"created, so {robot.secret_out} cannot be written: re-run with --rotate-robot-secret "
        "to issue a new secret (the old one stops working)"
    )


def _write_secret(plan: Plan, robot: RobotPlan, account: Robot, out: TextIO) -> None:
    keep_secret(account.secret, username=account.name)
    if not account.secret:
        raise HarborResponseError(f"Harbor sent no secret for robot {account.name!r}")
    text = secret_manifest(robot.secret_name, plan.harbor_host, account.name, account.secret)
    existed = robot.secret_out.exists()
    atomic_write(robot.secret_out, text.encode("utf-8"), mode=0o600, option="--secret-out")
    outcome = Outcome.UPDATED if existed else Outcome.CREATED
    report(out, "pull-secret", str(robot.secret_out), outcome, f"Secret {robot.secret_name}")


def _reread(client: HarborClient, project: Project, name: str) -> Robot:
    return found_again(client.find_project_robot(project.id, name), f"robot {name!r}")
