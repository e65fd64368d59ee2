"""Pull-replication policies: validated like Harbor, and a PUT replaces the whole policy."""

from __future__ import annotations

import re

from .registries import get_registry
from .registries import to_json as registry_json
from .state import ZERO_TIME, Call, Policy, Registry
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

_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_POLICY_TYPES: dict[str, type] = {
    "name": str, "description": str, "src_registry": dict, "dest_registry": dict,
    "dest_namespace": str, "dest_namespace_replace_count": int, "trigger": dict, "filters": list,
    "replicate_deletion": bool, "deletion": bool, "override": bool, "enabled": bool,
    "speed": int, "copy_by_chunk": bool, "single_active_replication": bool,
}  # fmt: skip
_LOCAL = Registry(
    id=0, name="Local", type="harbor", url="http://core:8080", description="",
    credential_type="secret", access_key="", access_secret="core's own (shown masked)",
    insecure=True, ca_certificate="", status="healthy",
    creation_time=ZERO_TIME, update_time=ZERO_TIME,
)  # fmt: skip
"""Local Harbor, the side of a pull policy that names no registry (id 0)."""


def _validate_filters(filters: list[dict[str, JSON]]) -> None:
    for item in filters:
        kind, value, decoration = item.get("type"), item.get("value"), item.get("decoration")
        if kind not in ("name", "tag", "label", "resource"):
            raise bad_request(f"invalid filter type: {kind}")
        if kind == "label" and not isinstance(value, list):
            raise bad_request("the value of the label filter must be an array of strings")
        if kind != "label" and not isinstance(value, str):
            raise bad_request(f"the value of the {kind} filter must be a string")
        if kind == "resource" and value not in ("image", "artifact"):
            raise bad_request(f"invalid resource filter: {value}")
        if decoration and (
            kind not in ("tag", "label") or decoration not in ("matches", "excludes")
        ):
            raise bad_request(f"invalid filter decoration: {decoration}")


def _validate_trigger(trigger: dict[str, JSON], single_active: bool) -> None:
    kind = trigger.get("type")
    if kind not in ("manual", "scheduled", "event_based"):
        raise bad_request(f"invalid trigger type: {kind}")
    if kind == "scheduled":
        cron = str((trigger.get("trigger_settings") or {}).get("cron") or "").split()
        if len(cron) != 6 or cron[0] != "0" or cron[1] == "*":
            raise bad_request("invalid cron string for scheduled trigger")
    if kind == "event_based" and single_active:
        raise bad_request("single active replication is not allowed for event based triggers")


def _policy(call: Call, policy_id: int) -> Policy:
    """Build a policy from the body: PUT replaces everything, omitted fields take defaults."""
    body = body_object(call.request, "policy", _POLICY_TYPES)
    name = body.get("name") or ""
    if not name:
        raise bad_request("name cannot be empty")
    src_id = (body.get("src_registry") or {}).get("id") or 0
    dest_id = (body.get("dest_registry") or {}).get("id") or 0
    if bool(src_id) == bool(dest_id):
        raise bad_request(
            "either src_registry or dest_registry should be empty "
            "and the other one shouldn't be empty"
        )
    get_registry(call, src_id or dest_id)
    namespace = body.get("dest_namespace") or ""
    if namespace and not _NAMESPACE.match(namespace):
        raise bad_request(f"invalid destination namespace: {namespace}")
    count = body.get("dest_namespace_replace_count")
    count = -1 if count is None else count
    if count < -1:
        raise bad_request(f"invalid dest_namespace_replace_count: {count}")
    filters = body.get("filters") or []
    _validate_filters(filters)
    trigger = body.get("trigger") or {"type": "manual"}
    single_active = bool(body.get("single_active_replication"))
    _validate_trigger(trigger, single_active)
    if any(p.name == name and p.id != policy_id for p in call.state.policies.values()):
        raise conflict(f"replication policy {name} already exists")
    return Policy(
        id=policy_id,
        name=name,
        description=body.get("description") or "",
        src_registry_id=src_id,
        dest_registry_id=dest_id,
        dest_namespace=namespace,
        dest_namespace_replace_count=count,
        filters=filters,
        trigger=trigger,
        deletion=bool(body.get("deletion")),
        override=bool(body.get("override")),
        enabled=bool(body.get("enabled")),
        speed=max(body.get("speed") or 0, 0),
        copy_by_chunk=bool(body.get("copy_by_chunk")),
        single_active_replication=single_active,
    )


def policy_json(call: Call, policy: Policy) -> dict[str, JSON]:
    """GET output: full registry objects (local Harbor is id 0) and both deletion flags."""

    def side(registry_id: int) -> dict[str, JSON]:
        return registry_json(get_registry(call, registry_id) if registry_id else _LOCAL)

    trigger = {
        "type": policy.trigger.get("type"),
        "trigger_settings": policy.trigger.get("trigger_settings") or {"cron": ""},
    }
    return {
        "id": policy.id,
        "name": policy.name,
        "description": policy.description,
        "src_registry": side(policy.src_registry_id),
        "dest_registry": side(policy.dest_registry_id),
        "dest_namespace": policy.dest_namespace,
        "dest_namespace_replace_count": policy.dest_namespace_replace_count,
        "trigger": trigger,
        "filters": policy.filters,
        "replicate_deletion": policy.deletion,
        "deletion": policy.deletion,
        "override": policy.override,
        "enabled": policy.enabled,
        "speed": policy.speed,
        "copy_by_chunk": policy.copy_by_chunk,
        "single_active_replication": policy.single_active_replication,
        "creation_time": policy.creation_time,
        "update_time": policy.update_time,
    }


def stored_policy(call: Call, policy_id: int) -> Policy:
    return found(call.state.policies.get(policy_id), f"policy {policy_id} not found")


def create_policy(call: Call) -> Response:
    call.require_admin(("replication-policy", "create"))
    policy = _policy(call, 0)
    policy.id = call.state.next_id("policy")
    call.state.policies[policy.id] = policy
    return created(f"{call.request.path}/{policy.id}")


def list_policies(call: Call) -> Response:
    call.require_admin(("replication-policy", "list"))
    items = query_filter(
        call.request, list(call.state.policies.values()), {"name": lambda p: p.name}
    )
    items = fuzzy_name(call.request, items, lambda p: p.name)
    return paginate(call.request, sort_items(call.request, [policy_json(call, p) for p in items]))


def get_policy(call: Call) -> Response:
    call.require_admin(("replication-policy", "read"))
    return json_response(200, policy_json(call, stored_policy(call, call.int_param("id"))))


def update_policy(call: Call) -> Response:
    call.require_admin(("replication-policy", "update"))
    stored = stored_policy(call, call.int_param("id"))
    policy = _policy(call, stored.id)
    policy.creation_time = stored.creation_time
    call.state.policies[stored.id] = policy
    return Response(200)


def delete_policy(call: Call) -> Response:
    call.require_admin(("replication-policy", "delete"))
    policy = stored_policy(call, call.int_param("id"))
    now = call.state.clock()
    if any(
        e.status(now) == "InProgress"
        for e in call.state.executions.values()
        if e.policy_id == policy.id
    ):
        raise precondition(f"the policy {policy.id} has running executions, can't delete it")
    del call.state.policies[policy.id]
    return Response(200)


ROUTES = [
    ("POST", "/replication/policies", create_policy),
    ("GET", "/replication/policies", list_policies),
    ("GET", "/replication/policies/{id}", get_policy),
    ("PUT", "/replication/policies/{id}", update_policy),
    ("DELETE", "/replication/policies/{id}", delete_policy),
]
