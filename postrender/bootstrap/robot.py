"""Step 5 (optional): a pull-only robot on the project and its Kubernetes pull Secret manifest."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from postrender.bootstrap.created import create_once, found_again
from postrender.bootstrap.outcome import Outcome, report, warn
from postrender.bootstrap.plan import Plan, RobotPlan
from postrender.errors import ConfigError, HarborConflict, HarborResponseError, keep_secret
from postrender.files import atomic_write, check_writable
from postrender.harbor import NEVER_EXPIRES, HarborClient, Project, Robot
from postrender.rewrite.rules import DOCKERCONFIG_TYPE
from postrender.secretfile import read_credentials

_PULL = ("repository", "pull")
REPAIR_OPTION = "--repair-robot"
_SECRET_OUT = "--secret-out"


def pull_only(project: str) -> list[dict[str, Any]]:
    """The one permission the robot of the pull Secret holds."""
    resource, action = _PULL
    access = [{"resource": resource, "action": action}]
    return [{"kind": "project", "namespace": project, "access": access}]


def robot_body(robot: RobotPlan, project: str) -> dict[str, Any]:
    return {
        "name": robot.name,
        "description": "Kubernetes image pulls (helm-harbor-mirror)",
        "level": "project",
        "duration": NEVER_EXPIRES,
        "disable": False,
        "permissions": pull_only(project),
    }


def repair_body(existing: Robot, project: str) -> dict[str, Any]:
    """PUT /robots/{id}: Harbor wants the listed (prefixed) name and the level repeated, sets
    `expires_at` to never only when `duration` changes, and replaces the rest
    (`handler/robot.go:updateV2Robot`)."""
    return {
        "name": existing.name,
        "description": existing.description,
        "level": existing.level,
        "duration": NEVER_EXPIRES,
        "disable": False,
        "permissions": pull_only(project),
    }


def robot_problems(existing: Robot, project: str, now: float) -> list[str]:
    """Why `existing` cannot be the pull Secret's robot: it must be enabled, unexpired and hold
    exactly repository pull on `project` (no push or delete handed to every namespace)."""
    problems = []
    if existing.disabled:
        problems.append("it is disabled")
    if existing.expired(now):
        problems.append(f"it expired on {_day(existing.expires_at)}")
    held = {
        (permission.kind, permission.namespace, resource, action)
        for permission in existing.permissions
        for resource, action in permission.access
    }
    wanted = ("project", project, *_PULL)
    extra = sorted(
        f"{resource}:{action}" + ("" if namespace == project else f" on {kind} {namespace}")
        for kind, namespace, resource, action in held - {wanted}
    )
    if extra:
        problems.append(f"it can do more than pull ({', '.join(extra)})")
    if wanted not in held:
        problems.append(f"it cannot pull from project {project!r}")
    return problems


def _day(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


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


def secret_file_name(path: Path) -> str | None:
    """The name of the Secret a previously written Secret file makes, if readable."""
    try:
        name = json.loads(path.read_text(encoding="utf-8"))["metadata"]["name"]
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None
    return name if isinstance(name, str) else None


def secret_file_credentials(path: Path, registry_host: str) -> tuple[str, str] | None:
    """The username and password a previously written Secret file holds, if it is usable."""
    try:
        return read_credentials(path, registry_host)
    except ConfigError:
        return None


def ensure_robot(
    client: HarborClient,
    plan: Plan,
    project: Project | None,
    *,
    dry_run: bool,
    out: TextIO,
) -> None:
    """Create the robot and write its Secret file, or reuse the one that exists (`_reuse`)."""
    robot = plan.robot
    assert robot is not None
    existing = client.find_project_robot(project.id, robot.name) if project else None
    if existing is None:
        if dry_run:
            report(out, "robot", robot.name, Outcome.WOULD_CREATE, f"pull-only on {plan.project}")
            report(out, "pull-secret", str(robot.secret_out), "would write")
            return
        assert project is not None
        check_writable(robot.secret_out, option=_SECRET_OUT)  # its secret shows only now
        body = robot_body(robot, plan.project)
        created = create_once(lambda: client.create_robot(body))
        if created is not None:
            report(out, "robot", created.name, Outcome.CREATED, f"pull-only on {plan.project}")
            _write_secret(plan, robot, created, out)
            return
        existing = _reread(client, project, robot.name)
    _reuse(client, plan, existing, dry_run=dry_run, out=out)


def _reuse(
    client: HarborClient, plan: Plan, existing: Robot, *, dry_run: bool, out: TextIO
) -> None:
    """An existing robot: refuse one unfit for the pull Secret unless asked to repair it, then
    rotate its secret when asked, else keep the Secret file that works."""
    robot = plan.robot
    assert robot is not None
    problems = robot_problems(existing, plan.project, time.time())
    if problems and not robot.repair:
        raise HarborConflict(
            f"robot {existing.name!r} exists, but {'; '.join(problems)}, and setup puts only "
            "an enabled, unexpired, pull-only robot into the pull Secret: re-run with "
            f"{REPAIR_OPTION} to make it so, fix it in Harbor, or choose another --robot"
        )
    # A robot that expires later is usable, and --repair-robot is how it stops expiring.
    repairing = bool(problems) or (robot.repair and existing.expires_at != NEVER_EXPIRES)
    if repairing:
        repaired = "enabled, never expires, pull-only on " + plan.project
        if dry_run:
            report(out, "robot", existing.name, Outcome.WOULD_UPDATE, repaired)
        else:
            client.update_robot(existing.id, repair_body(existing, plan.project))
            report(out, "robot", existing.name, Outcome.UPDATED, repaired)
    if robot.rotate:
        _rotate(client, plan, existing, dry_run=dry_run, out=out)
        return
    if not repairing:
        report(out, "robot", existing.name, Outcome.UNCHANGED)
        if existing.expires_at != NEVER_EXPIRES:
            warn(
                out,
                f"robot {existing.name!r} expires on {_day(existing.expires_at)}; pulls "
                f"with it fail after that ({REPAIR_OPTION} makes it never expire)",
            )
    _keep_secret_file(
        client, plan, existing, checkable=not (dry_run and problems), dry_run=dry_run, out=out
    )


def _rotate(
    client: HarborClient, plan: Plan, existing: Robot, *, dry_run: bool, out: TextIO
) -> None:
    robot = plan.robot
    assert robot is not None
    if dry_run:
        report(out, "robot", existing.name, Outcome.WOULD_UPDATE, "new secret")
        report(out, "pull-secret", str(robot.secret_out), "would write")
        return
    check_writable(robot.secret_out, option=_SECRET_OUT)  # the old secret stops working now
    rotated = client.refresh_robot_secret(existing)
    report(out, "robot", existing.name, Outcome.UPDATED, "new secret")
    warn(
        out,
        f"robot {existing.name!r} has a new secret: every copy of the old one (pull "
        "Secrets in clusters, node mirror configs, other workstations' Secret files) "
        f"stops working now; apply {robot.secret_out} again wherever the old one was",
    )
    _write_secret(plan, robot, rotated, out)


def _keep_secret_file(
    client: HarborClient,
    plan: Plan,
    existing: Robot,
    *,
    checkable: bool,
    dry_run: bool,
    out: TextIO,
) -> None:
    """A Secret file already holding this robot's working credentials is kept: that is how a
    second workstation joins (its copy from the first), renamed only when this run asks for
    another Secret name. Harbor shows a robot's secret only when it is made, so anything else
    needs that copy, or a rotation."""
    robot = plan.robot
    assert robot is not None
    credentials = secret_file_credentials(robot.secret_out, plan.harbor_host)
    if credentials is None or credentials[0] != existing.name:
        raise ConfigError(
            f"robot {existing.name!r} exists and Harbor shows a robot's secret only when it is "
            f"created, so {robot.secret_out} cannot be written: copy the Secret file setup "
            "wrote on the first workstation to this path (setup keeps it), or re-run with "
            "--rotate-robot-secret, which invalidates every existing copy of the secret"
        )
    if not checkable:
        note = "not checked: Harbor refuses it until the robot is repaired"
        report(out, "pull-secret", str(robot.secret_out), Outcome.UNCHANGED, note)
        return
    if not client.registry_accepts(*credentials):
        raise ConfigError(
            f"Harbor refuses the credentials of robot {existing.name!r} in {robot.secret_out}: "
            "its secret was changed since that file was written (in Harbor's UI, or by a "
            "rotation on another workstation or whose answer was lost): copy the current Secret "
            "file from where it was rotated, or re-run with --rotate-robot-secret, which "
            "invalidates every existing copy of the secret"
        )
    path = str(robot.secret_out)
    if secret_file_name(robot.secret_out) == robot.secret_name:
        report(out, "pull-secret", path, Outcome.UNCHANGED, "Harbor accepts it")
    elif dry_run:
        report(out, "pull-secret", path, "would write", f"Secret {robot.secret_name}")
    else:  # the same credentials under the name the post-renderer will give the charts
        _write_secret(plan, robot, replace(existing, secret=credentials[1]), out)


def _write_secret(plan: Plan, robot: RobotPlan, account: Robot, out: TextIO) -> None:
    keep_secret(account.secret, username=account.name)
    if not account.secret:
        raise HarborResponseError(f"Harbor sent no secret for robot {account.name!r}")
    text = secret_manifest(robot.secret_name, plan.harbor_host, account.name, account.secret)
    existed = robot.secret_out.exists()
    atomic_write(robot.secret_out, text.encode("utf-8"), mode=0o600, option=_SECRET_OUT)
    outcome = Outcome.UPDATED if existed else Outcome.CREATED
    report(out, "pull-secret", str(robot.secret_out), outcome, f"Secret {robot.secret_name}")


def _reread(client: HarborClient, project: Project, name: str) -> Robot:
    return found_again(client.find_project_robot(project.id, name), f"robot {name!r}")
