"""Projects, including proxy-cache projects whose `registry_id` can never change after creation."""

from __future__ import annotations

import re

from .registries import get_registry
from .registries import to_json as registry_json
from .state import Call, Project, User, iso_now
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
    fuzzy_name,
    json_response,
    not_found,
    paginate,
    precondition,
    query_filter,
    sort_items,
    unprocessable,
)

NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
PROXY_TYPES = frozenset({
    "docker-hub", "harbor", "azure-acr", "ali-acr", "aws-ecr", "google-gcr",
    "docker-registry", "github-ghcr", "jfrog-artifactory",
})  # fmt: skip
_BOOLEAN_METADATA = frozenset({
    "public", "enable_content_trust", "enable_content_trust_cosign", "prevent_vul",
    "auto_scan", "auto_sbom_generation", "reuse_sys_cve_allowlist",
    "proxy_cache_local_on_not_found",
})  # fmt: skip
_PROXY_ONLY = frozenset({"proxy_speed_kb", "max_upstream_conn", "proxy_cache_local_on_not_found"})
_REQ_TYPES: dict[str, type] = {
    "project_name": str, "public": bool, "metadata": dict, "cve_allowlist": dict,
    "storage_limit": int, "registry_id": int,
}  # fmt: skip


def to_json(project: Project, user: User | None, repo_count: int) -> dict[str, JSON]:
    """The `Project` model; `registry_id` only appears on proxy-cache projects."""
    owner = user is project.owner  # the owner's role is project admin (1)
    payload: dict[str, JSON] = {
        "project_id": project.project_id,
        "owner_id": project.owner.user_id,
        "owner_name": project.owner.username,
        "name": project.name,
        "creation_time": project.creation_time,
        "update_time": project.update_time,
        "deleted": False,
        "togglable": True,
        "current_user_role_id": 1 if owner else 0,
        "current_user_role_ids": [1] if owner else [],
        "repo_count": repo_count,
        "metadata": dict(project.metadata),
        "cve_allowlist": {
            "id": project.project_id,
            "project_id": project.project_id,
            "items": [],
            "creation_time": project.creation_time,
            "update_time": project.update_time,
        },
    }
    if project.registry_id:
        payload["registry_id"] = project.registry_id
    return payload


def _repositories(call: Call, project: Project) -> set[str]:
    """What the project holds: what a proxy cached or a replication copied in (`store.py`)."""
    return call.state.store.content(project.name).repositories()


def _manages(project: Project, user: User | None, action: str = "update") -> bool:
    """Admin, owner, or a robot granted `project` `action` there (`RequireProjectAccess`)."""
    return user is not None and (
        user.admin or user is project.owner or user.may("project", project.name, "project", action)
    )


def _readable(project: Project, user: User | None) -> bool:
    return project.metadata.get("public") == "true" or _manages(project, user, "read")


def _lookup(call: Call) -> Project | None:
    """`X-Is-Resource-Name: true` means a name; otherwise a value that parses as int is an id."""
    key = call.params["name_or_id"]
    by_name = call.request.headers.get("x-is-resource-name", "").lower() == "true"
    if not by_name and key.isdigit():
        return call.state.projects.get(int(key))
    return call.state.project_by_name(key)


def _visible(call: Call, *, write: bool = False) -> Project:
    """A missing project is 404 for an admin, 403 for other users and for robots (whatever
    they may do: `handler/base.go:RequireProjectAccess` checks project 0), 401 for anonymous."""
    project = _lookup(call)
    if project is not None and (_manages if write else _readable)(project, call.user):
        return project
    if not call.require_login().admin:
        raise forbidden()
    raise not_found(f"project {call.params['name_or_id']} not found")


def _metadata(raw: dict[str, JSON], *, proxy: bool) -> dict[str, str]:
    """Values are strings, booleans "true"/"false"; proxy-only keys are dropped off proxies."""
    result: dict[str, str] = {}
    for key, value in raw.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise unprocessable(f"metadata.{key} in body must be of type string")
        if key in _BOOLEAN_METADATA and value not in ("true", "false"):
            raise bad_request(f"invalid value of metadata {key}: {value}")
        if key in _PROXY_ONLY and not proxy:
            continue
        result[key] = value
    return result


def create(call: Call) -> Response:
    user = call.require_login()
    body = body_object(call.request, "project", _REQ_TYPES)
    name = body.get("project_name") or ""
    if not NAME.match(name) or len(name) > 255:
        raise bad_request("project name is not in lower case or contains illegal characters")
    registry_id = body.get("registry_id") or 0
    metadata = _metadata(body.get("metadata") or {}, proxy=bool(registry_id))
    if metadata.get("retention_id"):
        raise bad_request(
            "the retention_id in the request's payload when creating a project should be omitted"
        )
    if "public" not in metadata:
        metadata["public"] = "true" if body.get("public") else "false"
    if user.robot is not None and user.robot.level != "system":
        raise forbidden("Only system level robot can create project")
    # CreateProject's isSysAdmin is RequireSystemAccess(create, project): robots may pass it
    system_creator = user.admin or user.may("system", "/", "project", "create")
    if registry_id:
        if not system_creator:
            raise forbidden("Only system admin can create proxy cache project")
        try:
            registry = get_registry(call, registry_id)
        except ApiError as exc:
            raise ApiError(500, "UNKNOWN", f"failed to get registry {registry_id}: {exc}") from exc
        if registry.type not in PROXY_TYPES:
            raise bad_request(f"unsupported registry type {registry.type}")
    if call.state.project_by_name(name) is not None:
        raise conflict(f"The project named {name} already exists")
    project_id = call.state.next_id("project")
    if registry_id:
        metadata["retention_id"] = str(call.state.next_id("retention"))
    owner = user if user.robot is None else _first_admin(call)  # a robot owns nothing
    call.state.projects[project_id] = Project(project_id, name, owner, metadata, registry_id)
    by_name = call.request.headers.get("x-resource-name-in-location", "").lower() == "true"
    return created(f"{call.request.path}/{name if by_name else project_id}")


def _first_admin(call: Call) -> User:
    """The owner Harbor gives a project made by a robot or by replication (`CreateProject`)."""
    return next(u for u in call.state.users.values() if u.user_id == 1)


def ensure_for_replication(call: Call, name: str) -> Project:
    """The local adapter creates a missing destination project, private, owned by admin."""
    project = call.state.project_by_name(name)
    if project is None:
        project = Project(
            call.state.next_id("project"), name, _first_admin(call), {"public": "false"}
        )
        call.state.projects[project.project_id] = project
    return project


def head(call: Call) -> Response:
    call.require_login()
    name = call.request.arg("project_name")
    if not name:
        raise bad_request("project_name is required")
    found(call.state.project_by_name(name), f"project {name} not found")
    return Response(200)


def list_projects(call: Call) -> Response:
    user = call.user
    items = [p for p in call.state.projects.values() if _readable(p, user)]
    items = query_filter(
        call.request,
        items,
        {"name": lambda p: p.name, "public": lambda p: p.metadata.get("public", "false"),
         "owner": lambda p: p.owner.username},
    )  # fmt: skip
    items = fuzzy_name(call.request, items, lambda p: p.name)
    public, owner = call.request.arg("public"), call.request.arg("owner")
    if public:
        items = [p for p in items if p.metadata.get("public") == public.lower()]
    if owner:
        items = [p for p in items if p.owner.username == owner]
    return paginate(
        call.request,
        sort_items(call.request, [to_json(p, user, len(_repositories(call, p))) for p in items]),
    )


def get(call: Call) -> Response:
    project = _visible(call)
    return json_response(200, to_json(project, call.user, len(_repositories(call, project))))


def update(call: Call) -> Response:
    """Only `metadata` (merged) and `cve_allowlist` apply; name and `registry_id` are ignored."""
    project = _visible(call, write=True)
    body = body_object(call.request, "project", _REQ_TYPES)
    metadata = _metadata(body.get("metadata") or {}, proxy=bool(project.registry_id))
    metadata.pop("retention_id", None)
    project.metadata.update(metadata)
    project.update_time = iso_now()
    return Response(200)


def delete(call: Call) -> Response:
    project = _visible(call, write=True)
    if _repositories(call, project):
        raise precondition(f"the project {project.name} contains repositories, cannot delete it")
    del call.state.projects[project.project_id]
    for robot_id in [
        r.id for r in call.state.robots.values() if r.project_id == project.project_id
    ]:
        del call.state.robots[robot_id]
    return Response(200)


def summary(call: Call) -> Response:
    """The summary is where Harbor names a proxy project's registry."""
    project = _visible(call)
    payload: dict[str, JSON] = {
        "repo_count": len(_repositories(call, project)),
        "project_admin_count": 1,
    }
    if project.registry_id:
        payload["registry"] = registry_json(get_registry(call, project.registry_id))
    return json_response(200, payload)


ROUTES = [
    ("POST", "/projects", create),
    ("GET", "/projects", list_projects),
    ("HEAD", "/projects", head),
    ("GET", "/projects/{name_or_id}", get),
    ("PUT", "/projects/{name_or_id}", update),
    ("DELETE", "/projects/{name_or_id}", delete),
    ("GET", "/projects/{name_or_id}/summary", summary),
]
