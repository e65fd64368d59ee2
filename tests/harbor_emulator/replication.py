"""Replication policies and executions; a run moves InProgress → Succeed/Failed on the clock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from . import transfer
from .projects import ensure_for_replication
from .registries import Endpoint, get_registry
from .registries import to_json as registry_json
from .state import Call, Execution, Policy, Task, iso_now
from .wire import (
    JSON,
    Response,
    bad_request,
    body_object,
    conflict,
    created,
    json_response,
    not_found,
    paginate,
    precondition,
    query_filter,
    sort_items,
)

_NAMESPACE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
_ZERO_TIME = "0001-01-01T00:00:00.000Z"
_POLICY_TYPES: dict[str, type] = {
    "name": str, "description": str, "src_registry": dict, "dest_registry": dict,
    "dest_namespace": str, "dest_namespace_replace_count": int, "trigger": dict, "filters": list,
    "replicate_deletion": bool, "deletion": bool, "override": bool, "enabled": bool,
    "speed": int, "copy_by_chunk": bool, "single_active_replication": bool,
}  # fmt: skip
_LOCAL = {
    "id": 0, "name": "Local", "type": "harbor", "url": "http://core:8080", "description": "",
    "credential": {"type": "secret", "access_key": "", "access_secret": "*****"},
    "insecure": True, "status": "healthy", "creation_time": _ZERO_TIME, "update_time": _ZERO_TIME,
}  # fmt: skip


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
        return registry_json(get_registry(call, registry_id)) if registry_id else dict(_LOCAL)

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


def _stored_policy(call: Call, policy_id: int) -> Policy:
    policy = call.state.policies.get(policy_id)
    if policy is None:
        raise not_found(f"policy {policy_id} not found")
    return policy


def create_policy(call: Call) -> Response:
    call.require_admin()
    policy = _policy(call, 0)
    policy.id = call.state.next_id("policy")
    call.state.policies[policy.id] = policy
    return created(f"{call.request.path}/{policy.id}")


def list_policies(call: Call) -> Response:
    call.require_admin()
    items = query_filter(
        call.request, list(call.state.policies.values()), {"name": lambda p: p.name}
    )
    fuzzy = call.request.arg("name")
    if fuzzy:
        items = [p for p in items if fuzzy in p.name]
    return paginate(call.request, sort_items(call.request, [policy_json(call, p) for p in items]))


def get_policy(call: Call) -> Response:
    call.require_admin()
    return json_response(200, policy_json(call, _stored_policy(call, call.int_param("id"))))


def update_policy(call: Call) -> Response:
    call.require_admin()
    stored = _stored_policy(call, call.int_param("id"))
    policy = _policy(call, stored.id)
    policy.creation_time = stored.creation_time
    call.state.policies[stored.id] = policy
    return Response(200)


def delete_policy(call: Call) -> Response:
    call.require_admin()
    policy = _stored_policy(call, call.int_param("id"))
    now = call.state.clock()
    if any(
        _status(e, now) == "InProgress"
        for e in call.state.executions.values()
        if e.policy_id == policy.id
    ):
        raise precondition(f"the policy {policy.id} has running executions, can't delete it")
    del call.state.policies[policy.id]
    return Response(200)


# -- executions ---------------------------------------------------------------------------------
def _status(execution: Execution, now: float) -> str:
    if execution.failed_early:
        return "Failed"
    statuses = [task.status(now) for task in execution.tasks]
    if any(s in ("Pending", "InProgress") for s in statuses):
        return "InProgress"
    if "Stopped" in statuses:
        return "Stopped"
    return "Failed" if "Failed" in statuses else "Succeed"


def _wall(execution: Execution, moment: float) -> str:
    """Monotonic offsets shown as wall-clock times after the execution's start."""
    start = datetime.strptime(execution.start_time, "%Y-%m-%dT%H:%M:%S.%fZ")
    shown = start + timedelta(seconds=max(moment - execution.started_at, 0))
    return shown.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def execution_json(execution: Execution, now: float) -> dict[str, JSON]:
    status = _status(execution, now)
    counts = [task.status(now) for task in execution.tasks]
    ends = [t.finished_at() for t in execution.tasks] or [execution.started_at]
    return {
        "id": execution.id,
        "policy_id": execution.policy_id,
        "status": status,
        "trigger": execution.trigger,
        "start_time": execution.start_time,
        "end_time": _ZERO_TIME if status == "InProgress" else _wall(execution, max(ends)),
        "status_text": execution.status_text,
        "total": len(counts),
        "failed": counts.count("Failed"),
        "succeed": counts.count("Succeed"),
        "in_progress": counts.count("InProgress") + counts.count("Pending"),
        "stopped": counts.count("Stopped"),
    }


def _plan_tasks(call: Call, execution: Execution, policy: Policy) -> None:
    """List upstream now; copies then finish one after another over `execution_seconds`."""
    registry = get_registry(call, policy.src_registry_id)
    endpoint = Endpoint.of(registry)
    try:
        pairs = transfer.plan(endpoint, policy.filters)
    except transfer.UpstreamError as exc:
        execution.failed_early, execution.status_text = True, str(exc)
        return
    copies: list[transfer.Copy] = []
    for repo, tag in pairs:
        try:
            dst_repo = transfer.replace_namespace(
                repo, policy.dest_namespace, policy.dest_namespace_replace_count
            )
        except ValueError as exc:
            copies.append(
                transfer.Copy(f"{repo}:[{tag}]", "", False, f"[ERROR] BAD_REQUEST: {exc}\n")
            )
            continue
        project_name, _, local_repo = dst_repo.partition("/")
        existing = call.state.project_by_name(project_name)
        if existing is not None and existing.registry_id:
            continue  # Harbor silently skips resources bound for a proxy-cache project
        injected = any(transfer.matches(p, f"{repo}:{tag}") for p in call.state.failing_copies)
        result = transfer.copy(endpoint, repo, tag, dst_repo, iso_now(), injected=injected)
        if result.ok:
            ensure_for_replication(call, project_name).repositories.add(local_repo)
        copies.append(result)
    if not copies:
        execution.status_text = "no resources need to be replicated"
    span = call.state.execution_seconds / max(len(copies), 1)
    for index, result in enumerate(copies):
        execution.tasks.append(
            Task(
                id=call.state.next_id("task"),
                execution_id=execution.id,
                src_resource=result.src_resource,
                dst_resource=result.dst_resource,
                outcome="Succeed" if result.ok else "Failed",
                log=result.log,
                starts_at=execution.started_at + span * index * 0.5,
                ends_at=execution.started_at + span * (index + 1),
            )
        )


def start_execution(call: Call) -> Response:
    call.require_admin()
    body = body_object(call.request, "execution", {"policy_id": int})
    policy = _stored_policy(call, body.get("policy_id") or 0)
    if not policy.enabled:
        raise precondition(f"the policy {policy.id} is disabled")
    now = call.state.clock()
    execution = Execution(call.state.next_id("execution"), policy.id, "manual", now, iso_now())
    running = [
        e for e in call.state.executions.values()
        if e.policy_id == policy.id and _status(e, now) == "InProgress"
    ]  # fmt: skip
    if policy.single_active_replication and running:
        execution.failed_early = True
        execution.status_text = "Execution skipped: active replication still in progress."
    else:
        _plan_tasks(call, execution, policy)
    call.state.executions[execution.id] = execution
    return created(f"{call.request.path}/{execution.id}")


def _execution(call: Call) -> Execution:
    call.require_admin()
    execution = call.state.executions.get(call.int_param("id"))
    if execution is None:
        raise not_found(f"execution {call.params['id']} not found")
    return execution


def list_executions(call: Call) -> Response:
    call.require_admin()
    now = call.state.clock()
    items = [execution_json(e, now) for e in reversed(call.state.executions.values())]
    for key in ("policy_id", "status", "trigger"):
        wanted = call.request.arg(key)
        if wanted:
            items = [item for item in items if str(item[key]) == wanted]
    return paginate(call.request, sort_items(call.request, items))


def get_execution(call: Call) -> Response:
    return json_response(200, execution_json(_execution(call), call.state.clock()))


def stop_execution(call: Call) -> Response:
    execution = _execution(call)
    now = call.state.clock()
    execution.stopped_at = now
    for task in execution.tasks:
        task.stopped_at = now
    return Response(200)


def task_json(execution: Execution, task: Task, now: float) -> dict[str, JSON]:
    status = task.status(now)
    done = status not in ("Pending", "InProgress")
    return {
        "id": task.id,
        "execution_id": task.execution_id,
        "status": status,
        "job_id": f"{task.id:024x}",
        "operation": "copy",
        "resource_type": "image",
        "src_resource": task.src_resource,
        "dst_resource": task.dst_resource,
        "start_time": _wall(execution, task.starts_at),
        "end_time": _wall(execution, task.finished_at()) if done else _ZERO_TIME,
    }


def list_tasks(call: Call) -> Response:
    execution = _execution(call)
    now = call.state.clock()
    items = [task_json(execution, t, now) for t in execution.tasks]
    for key in ("status", "resource_type"):
        wanted = call.request.arg(key)
        if wanted:
            items = [item for item in items if item[key] == wanted]
    return paginate(call.request, sort_items(call.request, items))


def task_log(call: Call) -> Response:
    """Plain text; 404 when the task does not belong to that execution."""
    execution = _execution(call)
    task_id = call.int_param("task_id")
    task = next((t for t in execution.tasks if t.id == task_id), None)
    if task is None:
        raise not_found(f"task {task_id} not found in execution {execution.id}")
    text = task.log if task.status(call.state.clock()) not in ("Pending", "InProgress") else ""
    return Response(200, [("Content-Type", "text/plain")], text.encode())


ROUTES = [
    ("POST", "/replication/policies", create_policy),
    ("GET", "/replication/policies", list_policies),
    ("GET", "/replication/policies/{id}", get_policy),
    ("PUT", "/replication/policies/{id}", update_policy),
    ("DELETE", "/replication/policies/{id}", delete_policy),
    ("POST", "/replication/executions", start_execution),
    ("GET", "/replication/executions", list_executions),
    ("GET", "/replication/executions/{id}", get_execution),
    ("PUT", "/replication/executions/{id}", stop_execution),
    ("GET", "/replication/executions/{id}/tasks", list_tasks),
    ("GET", "/replication/executions/{id}/tasks/{task_id}/log", task_log),
]
