"""Registry endpoints (`/registries`, `/registries/ping`, adapters), with Harbor's live `/v2/` ping.

Create, update and ping really call `GET <url>/v2/` with the given credentials, as Harbor's
native adapter does, so a wrong token or an unreachable upstream fails exactly where it would.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit, urlunsplit

from .remote import Endpoint
from .state import Call, Registry, State, iso_now
from .wire import (
    JSON,
    Response,
    bad_request,
    body_object,
    conflict,
    created,
    found,
    fuzzy_name,
    json_response,
    paginate,
    precondition,
    query_filter,
    sort_items,
)

ADAPTERS = (
    "ali-acr", "artifact-hub", "aws-ecr", "azure-acr", "docker-hub", "docker-registry",
    "github-ghcr", "gitlab", "google-gcr", "harbor", "huawei-SWR", "jfrog-artifactory",
    "quay", "tencent-tcr", "volcengine-cr",
)  # fmt: skip
UNHEALTHY = "the registry is unhealthy"
_FLAT_TYPES: dict[str, type] = {
    "name": str, "description": str, "url": str, "credential_type": str, "access_key": str,
    "access_secret": str, "insecure": bool, "ca_certificate": str, "type": str, "id": int,
}  # fmt: skip
_MASK = "*****"


def normalize_url(raw: str) -> str:
    """Trim spaces and trailing `/`, default to http://, drop query and fragment."""
    url = raw.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise bad_request(f"invalid scheme: {parts.scheme}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def to_json(registry: Registry) -> dict[str, JSON]:
    """The `Registry` model as GET returns it: access key in clear, secret masked."""
    payload: dict[str, JSON] = {
        "id": registry.id,
        "name": registry.name,
        "type": registry.type,
        "url": registry.url,
        "description": registry.description,
        "credential": {
            "type": registry.credential_type,
            "access_key": registry.access_key,
            "access_secret": _MASK if registry.access_secret else "",
        },
        "insecure": registry.insecure,
        "status": registry.status,
        "creation_time": registry.creation_time,
        "update_time": registry.update_time,
    }
    if registry.ca_certificate:
        payload["ca_certificate"] = registry.ca_certificate
    return payload


def get_registry(call: Call, registry_id: int) -> Registry:
    return found(call.state.registries.get(registry_id), f"registry {registry_id} not found")


def _validate(call: Call, registry: Registry) -> None:
    """Harbor's checks on create and update, then the live health check."""
    if not registry.name:
        raise bad_request("name cannot be empty")
    if len(registry.name) > 64:
        raise bad_request("the max length of name is 64")
    if registry.type not in ADAPTERS:
        raise bad_request(f"adapter factory for {registry.type} not found")
    if registry.ca_certificate:
        try:
            ssl.create_default_context(cadata=registry.ca_certificate)
        except (ssl.SSLError, ValueError) as exc:
            raise bad_request("invalid CA certificate") from exc
    if not Endpoint.of(registry).healthy():
        raise bad_request(UNHEALTHY)
    registry.status = "healthy"
    others = (r for r in call.state.registries.values() if r.id != registry.id)
    if any(r.name == registry.name for r in others):
        raise conflict(f"registry {registry.name} already exists")


def create(call: Call) -> Response:
    call.require_admin(("registry", "create"))
    body = body_object(
        call.request,
        "registry",
        {"name": str, "type": str, "url": str, "description": str, "insecure": bool,
         "credential": dict, "ca_certificate": str},
    )  # fmt: skip
    credential = body.get("credential") or {}
    registry = Registry(
        id=0,
        name=body.get("name") or "",
        type=body.get("type") or "",
        url=normalize_url(body.get("url") or ""),
        description=body.get("description") or "",
        credential_type=credential.get("type") or "basic",
        access_key=credential.get("access_key") or "",
        access_secret=credential.get("access_secret") or "",
        insecure=bool(body.get("insecure")),
        ca_certificate=body.get("ca_certificate") or "",
        status="unhealthy",
    )
    _validate(call, registry)
    registry.id = call.state.next_id("registry")
    call.state.registries[registry.id] = registry
    return created(f"{call.request.path}/{registry.id}")


def list_registries(call: Call) -> Response:
    call.require_admin(("registry", "list"))
    items = list(call.state.registries.values())
    items = query_filter(
        call.request,
        items,
        {"name": lambda r: r.name, "type": lambda r: r.type, "url": lambda r: r.url},
    )
    items = fuzzy_name(call.request, items, lambda r: r.name)
    return paginate(call.request, sort_items(call.request, [to_json(r) for r in items]))


def get(call: Call) -> Response:
    call.require_admin(("registry", "read"))
    return json_response(200, to_json(get_registry(call, call.int_param("id"))))


def update(call: Call) -> Response:
    """`handler/registry.go:UpdateRegistry`: the flat `RegistryUpdate`, only the fields sent
    change; on "main" a changed URL sent without `access_secret` clears the stored secret."""
    call.require_admin(("registry", "update"))
    stored = get_registry(call, call.int_param("id"))
    body = body_object(call.request, "registry", _FLAT_TYPES)
    changed = Registry(**vars(stored))
    as_sent = (
        "name", "description", "credential_type", "access_key", "access_secret", "insecure",
        "ca_certificate",
    )  # fmt: skip
    for field in as_sent:  # the url alone is normalised first
        if body.get(field) is not None:
            setattr(changed, field, body[field])
    if body.get("url") is not None:
        changed.url = normalize_url(body["url"])
    if (
        call.state.release() >= (2, 16, 0)
        and changed.url != stored.url
        and (body.get("access_secret") is None)
    ):  # main's UpdateRegistry (#23671): a new URL without a secret drops the stored one
        changed.access_secret = ""
    _validate(call, changed)
    changed.update_time = iso_now()
    call.state.registries[stored.id] = changed
    return Response(200)


def delete(call: Call) -> Response:
    call.require_admin(("registry", "delete"))
    registry = get_registry(call, call.int_param("id"))
    state = call.state
    if any(registry.id in (p.src_registry_id, p.dest_registry_id) for p in state.policies.values()):
        raise precondition(f"the registry {registry.id} is referenced by replication policies")
    if any(p.registry_id == registry.id for p in state.projects.values()):
        raise precondition(f"the registry {registry.id} is referenced by proxy cache projects")
    del state.registries[registry.id]
    return Response(200)


def ping(call: Call) -> Response:
    """`handler/registry.go:PingRegistry`: a flat body; with `id`, the stored endpoint is
    tested with the fields sent over it, except that from release-2.15.0 (v2.15.3) and on
    "main" the stored url, insecure and ca_certificate win (#23463)."""
    call.require_admin(("registry", "read"))
    body = body_object(call.request, "registry", _FLAT_TYPES)
    base = Endpoint("")
    kind = ""
    if body.get("id") is not None:
        stored = get_registry(call, body["id"])
        base, kind = Endpoint.of(stored), stored.type
        if call.state.release() >= (2, 15, 3):
            body = {k: v for k, v in body.items() if k not in ("url", "insecure", "ca_certificate")}
    kind = body.get("type") or kind
    url = body.get("url") or base.url
    if not kind or not url:
        raise bad_request("type or url cannot be empty")
    endpoint = Endpoint(
        normalize_url(url),
        body["access_key"] if body.get("access_key") is not None else base.access_key,
        body["access_secret"] if body.get("access_secret") is not None else base.access_secret,
        body["insecure"] if body.get("insecure") is not None else base.insecure,
        body.get("ca_certificate") or base.ca_certificate,
    )
    if not endpoint.healthy():
        raise bad_request(UNHEALTHY)
    return Response(200)


HEALTH_CHECK_SECONDS = 300.0
"""`controller/registry/controller.go:regularHealthCheckInterval`."""


def health_check(state: State) -> None:
    """`StartRegularHealthCheck`'s tick: every endpoint's `status` follows a fresh check."""
    for registry in state.registries.values():
        registry.status = "healthy" if Endpoint.of(registry).healthy() else "unhealthy"
    state.health_checked_at = state.clock()


def regular_health_check(state: State) -> None:
    """Run the check when 5 minutes of the state's clock have passed since the last one."""
    if state.health_checked_at is None:
        state.health_checked_at = state.clock()
    elif state.clock() - state.health_checked_at >= HEALTH_CHECK_SECONDS:
        health_check(state)


def info(call: Call) -> Response:
    """What the native adapter advertises: name and tag filters, manual and scheduled triggers."""
    call.require_admin(("registry", "read"))
    registry = get_registry(call, call.int_param("id"))
    return json_response(
        200,
        {
            "type": registry.type,
            "description": "",
            "supported_resource_filters": [
                {"type": "name", "style": "input"},
                {"type": "tag", "style": "input"},
            ],
            "supported_triggers": ["manual", "scheduled"],
        },
    )


def adapters(call: Call) -> Response:
    call.require_admin(("replication-adapter", "list"))
    return json_response(200, list(ADAPTERS))


ROUTES = [
    ("POST", "/registries", create),
    ("GET", "/registries", list_registries),
    ("POST", "/registries/ping", ping),
    ("GET", "/registries/{id}", get),
    ("PUT", "/registries/{id}", update),
    ("DELETE", "/registries/{id}", delete),
    ("GET", "/registries/{id}/info", info),
    ("GET", "/replication/adapters", adapters),
]
