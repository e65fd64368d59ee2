"""Replication executions: a run lists the upstream at once, then its copies finish one after
another over `State.execution_seconds`, so clients see InProgress → Succeed/Failed."""

from __future__ import annotations

from datetime import datetime, timedelta

from . import transfer
from .projects import ensure_for_replication
from .registries import get_registry
from .remote import Endpoint
from .replication import stored_policy
from .state import RUNNING, ZERO_TIME, Call, Execution, Policy, Task, iso_now
from .wire import (
    JSON,
    Response,
    body_object,
    created,
    found,
    json_response,
    paginate,
    precondition,
    sort_items,
)


def _wall(execution: Execution, moment: float) -> str:
    """Monotonic offsets shown as wall-clock times after the execution's start."""
    start = datetime.strptime(execution.start_time, "%Y-%m-%dT%H:%M:%S.%fZ")
    shown = start + timedelta(seconds=max(moment - execution.started_at, 0))
    return shown.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def execution_json(execution: Execution, now: float) -> dict[str, JSON]:
    status = execution.status(now)
    counts = [task.status(now) for task in execution.tasks]
    ends = [t.finished_at() for t in execution.tasks] or [execution.started_at]
    return {
        "id": execution.id,
        "policy_id": execution.policy_id,
        "status": status,
        "trigger": execution.trigger,
        "start_time": execution.start_time,
        "end_time": ZERO_TIME if status == "InProgress" else _wall(execution, max(ends)),
        "status_text": execution.status_text,
        "total": len(counts),
        "failed": counts.count("Failed"),
        "succeed": counts.count("Succeed"),
        "in_progress": sum(s in RUNNING for s in counts),
        "stopped": counts.count("Stopped"),
    }


def _plan_tasks(call: Call, execution: Execution, policy: Policy) -> None:
    """`flow/copy.go:copyFlow.Run`: list upstream, flatten every destination (one error fails
    the whole execution, `execution.go:markError`), create the destination projects
    (`PrepareForPush`), then one task per repository (`createTasks`). The copies are made now;
    their tasks then finish one after another over `execution_seconds`."""
    endpoint = Endpoint.of(get_registry(call, policy.src_registry_id))
    try:
        resources = transfer.plan(endpoint, policy.filters)
        destinations = [
            transfer.replace_namespace(
                repo, policy.dest_namespace, policy.dest_namespace_replace_count
            )
            for repo, _ in resources
        ]
    except (transfer.UpstreamError, ValueError) as exc:
        execution.failed_early, execution.status_text = True, str(exc)
        return
    copies: list[transfer.Copy] = []
    for (repo, tags), dst in zip(resources, destinations, strict=True):
        project_name = dst.partition("/")[0]
        existing = call.state.project_by_name(project_name)
        if existing is not None and existing.registry_id:
            continue  # Harbor silently skips resources bound for a proxy-cache project
        ensure_for_replication(call, project_name)
        failing = frozenset(
            tag
            for tag in tags
            if any(transfer.matches(p, f"{repo}:{tag}") for p in call.state.failing_copies)
        )
        content = call.state.store.content(project_name)
        copies.append(transfer.copy(endpoint, repo, tags, dst, content, iso_now(), failing=failing))
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
    call.require_admin(("replication", "create"))
    body = body_object(call.request, "execution", {"policy_id": int})
    policy = stored_policy(call, body.get("policy_id") or 0)
    if not policy.enabled:
        raise precondition(f"the policy {policy.id} is disabled")
    now = call.state.clock()
    execution = Execution(call.state.next_id("execution"), policy.id, "manual", now, iso_now())
    running = [
        e for e in call.state.executions.values()
        if e.policy_id == policy.id and e.status(now) == "InProgress"
    ]  # fmt: skip
    if policy.single_active_replication and running:
        execution.failed_early = True
        execution.status_text = "Execution skipped: active replication still in progress."
    else:
        _plan_tasks(call, execution, policy)
    call.state.executions[execution.id] = execution
    return created(f"{call.request.path}/{execution.id}")


def _matching(call: Call, items: list[dict[str, JSON]], keys: tuple[str, ...]) -> Response:
    """One sorted page of the items whose fields equal the query parameters of those names."""
    for key in keys:
        wanted = call.request.arg(key)
        if wanted:
            items = [item for item in items if str(item[key]) == wanted]
    return paginate(call.request, sort_items(call.request, items))


def _execution(call: Call, action: str = "read") -> Execution:
    """After `handler/replication.go`'s RequireSystemAccess on `replication` `action`: read to
    get one or its task log, list for its tasks, create to stop it."""
    call.require_admin(("replication", action))
    execution_id = call.int_param("id")
    return found(call.state.executions.get(execution_id), f"execution {execution_id} not found")


def list_executions(call: Call) -> Response:
    call.require_admin(("replication", "list"))
    now = call.state.clock()
    items = [execution_json(e, now) for e in reversed(call.state.executions.values())]
    return _matching(call, items, ("policy_id", "status", "trigger"))


def get_execution(call: Call) -> Response:
    return json_response(200, execution_json(_execution(call), call.state.clock()))


def stop_execution(call: Call) -> Response:
    """Stops the tasks; the execution's status follows from theirs."""
    execution = _execution(call, "create")
    now = call.state.clock()
    for task in execution.tasks:
        task.stopped_at = now
    return Response(200)


def task_json(execution: Execution, task: Task, now: float) -> dict[str, JSON]:
    status = task.status(now)
    done = status not in RUNNING
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
        "end_time": _wall(execution, task.finished_at()) if done else ZERO_TIME,
    }


def list_tasks(call: Call) -> Response:
    execution = _execution(call, "list")
    now = call.state.clock()
    items = [task_json(execution, t, now) for t in execution.tasks]
    return _matching(call, items, ("status", "resource_type"))


def task_log(call: Call) -> Response:
    """Plain text; 404 when the task does not belong to that execution."""
    execution = _execution(call)
    task_id = call.int_param("task_id")
    task = found(
        next((t for t in execution.tasks if t.id == task_id), None),
        f"task {task_id} not found in execution {execution.id}",
    )
    text = "" if task.status(call.state.clock()) in RUNNING else task.log
    return Response(200, [("Content-Type", "text/plain")], text.encode())


ROUTES = [
    ("POST", "/replication/executions", start_execution),
    ("GET", "/replication/executions", list_executions),
    ("GET", "/replication/executions/{id}", get_execution),
    ("PUT", "/replication/executions/{id}", stop_execution),
    ("GET", "/replication/executions/{id}/tasks", list_tasks),
    ("GET", "/replication/executions/{id}/tasks/{task_id}/log", task_log),
]
