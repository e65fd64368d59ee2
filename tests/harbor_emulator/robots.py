"""Robot accounts (v2 API): the secret is only ever shown by create and by a PATCH refresh."""

from __future__ import annotations

import re
import secrets
import string
import time

from .projects import NAME
from .state import STRONG_SECRET, Call, Robot, User, iso_now
from .wire import (
    JSON,
    ApiError,
    Response,
    bad_request,
    body_object,
    conflict,
    created,
    forbidden,
    found,
    json_response,
    not_found,
    paginate,
    query_filter,
    query_keywords,
    sort_items,
)

PREFIX = "robot$"
PROJECT_ACCESS = frozenset(
    (resource, action)
    for resource, actions in {
        "log": "list", "project": "read delete update",
        "metadata": "read create delete list update",
        "repository": "read update delete list pull push",
        "artifact": "read create list delete", "scan": "create read stop",
        "sbom": "create stop read", "tag": "create list delete", "accessory": "list",
        "artifact-addition": "read", "artifact-label": "create delete",
        "scanner": "create read", "preheat-policy": "read create delete list update",
        "immutable-tag": "create delete list update",
        "notification-policy": "read create delete list update",
        "tag-retention": "read create delete list update",
        "label": "read create delete list update", "quota": "read",
        "robot": "create read list delete", "export-cve": "create read",
        "member": "create read update list delete",
    }.items()
    for action in actions.split()
)  # fmt: skip
"""What a project robot may be given from v2.10 on: `common/rbac/const.go` PoliciesMap
[ScopeProject] plus what `NolimitProvider.GetPermissions(ScopeProject)` adds (robot,
export-cve, member); the same at v2.15.2 and main. v2.5 - v2.9 check nothing."""
_TYPES: dict[str, type] = {
    "name": str, "description": str, "secret": str, "level": str, "disable": bool,
    "duration": int,
}  # fmt: skip


def new_secret() -> str:
    """32 random letters and digits that satisfy Harbor's own secret rule."""
    alphabet = string.ascii_letters + string.digits
    while True:
        secret = "".join(secrets.choice(alphabet) for _ in range(32))
        if STRONG_SECRET.match(secret):
            return secret


def to_json(robot: Robot) -> dict[str, JSON]:
    """The `Robot` model: everything except the secret, which Harbor never returns."""
    return {
        "id": robot.id,
        "name": PREFIX + robot.name,
        "description": robot.description,
        "level": robot.level,
        "duration": robot.duration,
        "editable": True,
        "disable": robot.disable,
        "expires_at": robot.expires_at,
        "permissions": robot.permissions,
        "creator_type": "local",
        "creator_ref": robot.creator_ref,
        "creation_time": robot.creation_time,
        "update_time": robot.update_time,
    }


def _may_manage(call: Call, project_id: int, action: str) -> None:
    """System admins manage every robot; a project's owner manages that project's robots; a
    robot needs `robot` `action` on the project (`handler/robot.go:requireAccess`), else the
    bare 403 of `RequireProjectAccess` (only `RequireSystemAccess` names the caller)."""
    user = call.require_login()
    project = call.state.projects.get(project_id)
    if user.admin or (project is not None and project.owner is user):
        return
    if project is None or not user.may("project", project.name, "robot", action):
        raise forbidden()


def _permissions(
    call: Call, body: dict[str, JSON], level: str
) -> tuple[list[dict[str, JSON]], int]:
    """`handler/robot.go:robotAPI.validate`'s checks, in its order; a project robot has
    exactly one entry, of kind project."""
    permissions = body.get("permissions") or []
    if level not in ("project", "system"):
        raise bad_request(f"bad request error level input: {level}")
    if not permissions:
        raise bad_request("bad request empty permission")
    if any(not p.get("access") for p in permissions):
        raise bad_request("bad request empty access")
    action = "create" if call.request.method == "POST" else "update"  # requireAccess's
    if level == "system":
        call.require_admin(("robot", action))
        return permissions, 0
    if len(permissions) != 1:
        raise bad_request("bad request permission")
    if permissions[0].get("kind") != "project":
        raise bad_request(f"bad request permission level: {permissions[0].get('kind')}")
    namespace = permissions[0].get("namespace") or ""
    project = call.state.project_by_name(namespace)
    if project is None:
        call.require_login()
        raise not_found(f"project {namespace} not found")
    _may_manage(call, project.project_id, action)
    checked = call.state.release() >= (2, 10, 0)  # handler/robot.go:robotAPI.validate
    for access in permissions[0].get("access") or []:
        pair = (access.get("resource"), access.get("action"))
        if checked and pair not in PROJECT_ACCESS:
            raise bad_request(f"bad request permission: {pair[0]}:{pair[1]}")
    return permissions, project.project_id


def _duration(body: dict[str, JSON]) -> int:
    duration = body.get("duration")
    if not isinstance(duration, int) or (duration != -1 and duration <= 0):
        raise bad_request(
            f"bad request error duration input: {duration}, "
            "duration must be either -1(Never) or a positive integer"
        )
    return duration


def create(call: Call) -> Response:
    user = call.require_login()
    body = body_object(call.request, "robot", _TYPES)
    name = body.get("name") or ""
    if not NAME.match(name):
        raise bad_request("robot name is not in lower case or contains illegal characters")
    duration = _duration(body)
    level = body.get("level") or ""
    permissions, project_id = _permissions(call, body, level)
    if project_id:
        name = f"{permissions[0]['namespace']}+{name}"
    if user.robot is not None and not _within(user, permissions):
        raise ApiError(
            403,
            "DENIED",
            "permission scope is invalid. It must be equal to or more restrictive than the "
            f"creator robot's permissions: {user.username}",
        )  # handler/robot.go:CreateRobot, isValidPermissionScope
    if any(r.name == name for r in call.state.robots.values()):
        raise conflict(f"robot account {PREFIX}{name} already exists")
    robot = Robot(
        id=call.state.next_id("robot"),
        name=name,
        description=body.get("description") or "",
        level=level,
        project_id=project_id,
        duration=duration,
        disable=False,  # CreateRobot copies no `disable` from the body: new robots are enabled
        permissions=permissions,
        secret=new_secret(),
        creator_ref=user.robot.id if user.robot else user.user_id,
        expires_at=-1 if duration == -1 else int(time.time()) + duration * 86400,
    )
    call.state.robots[robot.id] = robot
    return created(
        f"{call.request.path}/{robot.id}",
        {
            "id": robot.id,
            "name": PREFIX + robot.name,
            "secret": robot.secret,
            "creation_time": robot.creation_time,
            "expires_at": robot.expires_at,
        },
    )


def _within(creator: User, permissions: list[dict[str, JSON]]) -> bool:
    """Whether a robot asks for no more than it holds itself."""
    return all(
        creator.may(
            p.get("kind") or "", p.get("namespace") or "", a.get("resource"), a.get("action")
        )
        for p in permissions
        for a in p.get("access") or []
    )


def _robot(call: Call, action: str) -> Robot:
    call.require_login()
    robot_id = call.int_param("robot_id")
    robot = found(call.state.robots.get(robot_id), f"robot {robot_id} not found")
    if robot.level == "system":  # `handler/robot.go:requireAccess`
        call.require_admin(("robot", action))
    else:
        _may_manage(call, robot.project_id, action)
    return robot


def list_robots(call: Call) -> Response:
    """`handler/robot.go:ListRobot`: `q=Level=project,ProjectID=N` lists that project's robots
    once `robot` `list` is allowed there (N must be a positive integer, else 400); without
    `Level`, or with `Level=system`, the system robots, checked as a system permission. The
    check comes first, so a refused caller learns nothing, even that there are no robots."""
    call.require_login()
    keywords = query_keywords(call.request)
    level = keywords.get("Level", "system")
    if level not in ("system", "project"):
        raise bad_request("bad request error level input")
    project_id = 0
    if level == "project":
        if "ProjectID" not in keywords:
            raise bad_request("must with project ID when to query project robots")
        given = keywords["ProjectID"]  # strconv.ParseInt
        project_id = int(given) if re.fullmatch(r"[+-]?[0-9]+", given) else 0
        if project_id <= 0:
            raise bad_request("ProjectID must be a positive integer")
        _may_manage(call, project_id, "list")
    else:
        call.require_admin(("robot", "list"))
    items = [r for r in call.state.robots.values() if r.project_id == project_id]
    items = query_filter(call.request, items, {"name": lambda r: r.name})
    return paginate(call.request, sort_items(call.request, [to_json(r) for r in items]))


def get(call: Call) -> Response:
    return json_response(200, to_json(_robot(call, "read")))


def update(call: Call) -> Response:
    """`handler/robot.go:updateV2Robot`: PUT replaces description, disable and permissions;
    the body must repeat the level and the listed (prefixed) name, else 400; a changed
    `duration` recomputes `expires_at` (-1, or creation time + that many days)."""
    robot = _robot(call, "update")
    body = body_object(call.request, "robot", {**_TYPES, "id": int})
    duration = robot.duration if body.get("duration") is None else _duration(body)
    permissions, _ = _permissions(call, body, robot.level)
    if body.get("level") != robot.level or body.get("name") != PREFIX + robot.name:
        raise bad_request("cannot update the level or name of robot")
    if duration != robot.duration:
        robot.duration = duration
        robot.expires_at = -1 if duration == -1 else int(robot.created_at) + duration * 86400
    robot.description = body.get("description") or ""
    robot.disable = bool(body.get("disable"))
    robot.permissions = permissions
    robot.update_time = iso_now()
    return Response(200)


def refresh(call: Call) -> Response:
    """`handler/robot.go:RefreshSec`: PATCH `{"secret": ""}` makes Harbor generate a secret,
    which it answers with; a given one must pass its rule, and the answer's secret is then
    empty."""
    robot = _robot(call, "update")
    body = body_object(call.request, "robotSec", {"secret": str})
    wanted = body.get("secret") or ""
    if wanted and not STRONG_SECRET.match(wanted):
        raise bad_request(
            "the secret must be 8-128 characters long with at least 1 uppercase letter, "
            "1 lowercase letter and 1 number"
        )
    robot.secret = wanted or new_secret()
    robot.update_time = iso_now()
    return json_response(200, {"secret": "" if wanted else robot.secret})


def delete(call: Call) -> Response:
    robot = _robot(call, "delete")
    del call.state.robots[robot.id]
    return Response(200)


ROUTES = [
    ("POST", "/robots", create),
    ("GET", "/robots", list_robots),
    ("GET", "/robots/{robot_id}", get),
    ("PUT", "/robots/{robot_id}", update),
    ("PATCH", "/robots/{robot_id}", refresh),
    ("DELETE", "/robots/{robot_id}", delete),
]
