"""Step 4 (replication mode): the pull-based rule, and running it with a progress display."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from postrender.bootstrap.created import create_once, found_again
from postrender.bootstrap.outcome import Outcome, report, warn
from postrender.bootstrap.plan import Plan, Replication
from postrender.errors import HarborError, ReplicationFailed, redact_server_text
from postrender.harbor import Execution, HarborClient, Policy, Registry

NO_FLATTENING = 0  # dest_namespace_replace_count: keep containers/x and charts/x apart


def lists_catalog(filter_name: str) -> bool:
    """Whether Harbor lists the upstream's whole `/v2/_catalog` for this name filter: unless
    every `/`-separated part is plain, or has one `{a,b}` list (`pkg/reg/util/pattern.go:
    IsSpecificPath`, `IsSpecificPathComponent`)."""
    return not all(_plain_component(part) for part in filter_name.split("/"))


def _plain_component(part: str) -> bool:
    if not part or any(c in part for c in "*?[\\]^"):
        return False
    if not any(c in part for c in "{},"):
        return True
    return part.count("{") == 1 and part.index("{") < part.rfind("}")


def filters_shown(rule: Replication) -> str:
    """The filters as the user typed them, for a message about what they matched."""
    shown = f"--filter-name {rule.filter_name!r}"
    return shown + (f" and --filter-tag {rule.filter_tag!r}" if rule.filter_tag else "")


def policy_body(plan: Plan, rule: Replication, registry_id: int) -> dict[str, Any]:
    """The complete policy: Harbor's PUT replaces everything, so nothing is left to defaults."""
    filters: list[dict[str, str]] = [{"type": "name", "value": rule.filter_name}]
    if rule.filter_tag is not None:
        filters.append({"type": "tag", "value": rule.filter_tag, "decoration": "matches"})
    return {
        "name": rule.policy_name,
        "description": f"Pull {rule.filter_name} from {plan.upstream_url} (helm-harbor-mirror)",
        "src_registry": {"id": registry_id},
        "dest_namespace": plan.project,
        "dest_namespace_replace_count": NO_FLATTENING,
        "filters": filters,
        "trigger": {"type": "manual"},
        "override": True,
        "enabled": True,
        "deletion": False,
        "replicate_deletion": False,
        "speed": -1,
        "copy_by_chunk": False,
        "single_active_replication": True,
    }


def _comparable(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields setup manages, normalised the way Harbor stores them."""
    src = body.get("src_registry") or {}
    filters = sorted(
        (
            str(f.get("type")),
            str(f.get("value")),
            str(f.get("decoration") or ("matches" if f.get("type") == "tag" else "")),
        )
        for f in body.get("filters") or []
        if isinstance(f, dict)
    )
    trigger = body.get("trigger") or {}
    return {
        "description": body.get("description", ""),
        "src_registry": src.get("id") if isinstance(src, dict) else None,
        "dest_namespace": body.get("dest_namespace", ""),
        "dest_namespace_replace_count": body.get("dest_namespace_replace_count", -1),
        "filters": filters,
        "trigger": trigger.get("type") if isinstance(trigger, dict) else None,
        "override": bool(body.get("override")),
        "enabled": bool(body.get("enabled")),
        "deletion": bool(body.get("deletion") or body.get("replicate_deletion")),
        "speed": max(0, int(body.get("speed") or 0)),
        "copy_by_chunk": bool(body.get("copy_by_chunk")),
        "single_active_replication": bool(body.get("single_active_replication", True)),
    }


def ensure_policy(
    client: HarborClient,
    plan: Plan,
    registry: Registry | None,
    *,
    dry_run: bool,
    out: TextIO,
) -> Policy | None:
    """Create or fully replace the rule; None only in a dry run that would create it."""
    rule = plan.replication
    assert rule is not None
    if lists_catalog(rule.filter_name):
        warn(out, f"--filter-name {rule.filter_name!r} is a pattern (or a list Harbor cannot "
                  "expand), so Harbor lists the upstream's whole catalog (/v2/_catalog) on every "
                  "run, which the upstream may not serve; prefer explicit names such as "
                  "containers/etcd or containers/{etcd,redis}")
    subject = rule.policy_name
    note = f"{rule.filter_name} → {plan.project}/, no flattening"
    existing = client.find_policy(rule.policy_name)
    if registry is None:  # dry run: the endpoint does not exist yet
        outcome = Outcome.WOULD_CREATE if existing is None else Outcome.WOULD_UPDATE
        report(out, "policy", subject, outcome, note)
        return existing
    body = policy_body(plan, rule, registry.id)
    if existing is None:
        if dry_run:
            report(out, "policy", subject, Outcome.WOULD_CREATE, note)
            return None
        if create_once(lambda: client.create_policy(body)) is not None:
            report(out, "policy", subject, Outcome.CREATED, note)
            return _reread(client, subject)
        existing = _reread(client, subject)
    if _comparable(existing.body) == _comparable(body):
        report(out, "policy", subject, Outcome.UNCHANGED, note)
        return existing
    if dry_run:
        report(out, "policy", subject, Outcome.WOULD_UPDATE, note)
        return existing
    client.update_policy(existing.id, body)
    report(out, "policy", subject, Outcome.UPDATED, note)
    return _reread(client, subject)


def _reread(client: HarborClient, name: str) -> Policy:
    return found_again(client.find_policy(name), f"replication policy {name!r}")


def replicate(
    client: HarborClient,
    policy: Policy | None,
    rule: Replication,
    *,
    dry_run: bool,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Start the rule (or join a run in progress), follow it, and fail loudly on failed tasks."""
    if dry_run or policy is None:
        report(out, "replicate", rule.policy_name, "would start")
        return
    running = client.running_executions(policy.id)
    if running:
        execution_id = running[0].id
        report(out, "replicate", rule.policy_name, "already running", f"execution {execution_id}")
    else:
        execution_id = client.start_execution(policy.id)
        report(out, "replicate", rule.policy_name, "started", f"execution {execution_id}")
    final = _follow(client, execution_id, rule, out, sleep, clock)
    if final.status == "Succeed" and final.total == 0:
        # flow/copy.go:copyFlow.Run ends a run that found nothing to copy as a success
        said = " ".join(redact_server_text(final.status_text).split())
        raise ReplicationFailed(
            f"replication execution {final.id} of policy {rule.policy_name!r} copied nothing"
            + (f" ({said})" if said else "")
            + f": nothing upstream matches {filters_shown(rule)}; check the repository names "
            "and tags (a pattern is matched against the upstream's catalog)"
        )
    if final.status == "Succeed" and final.failed == 0 and final.stopped == 0:
        return
    _print_failed_tasks(client, final, out)
    status_text = " ".join(redact_server_text(final.status_text).split())  # one line
    why = f": {status_text}" if status_text else ""
    raise ReplicationFailed(
        f"replication execution {final.id} of policy {rule.policy_name!r} ended {final.status}"
        f" with {final.failed} of {final.total} tasks failed{why} (task logs above)"
    )


def _progress(execution: Execution) -> str:
    return (
        f"execution {execution.id}: {execution.status}, {execution.succeed} succeeded, "
        f"{execution.failed} failed, {execution.in_progress} in progress of {execution.total}"
    )


def _follow(
    client: HarborClient,
    execution_id: int,
    rule: Replication,
    out: TextIO,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> Execution:
    """Poll until the execution ends or `rule.wait` runs out; a terminal redraws one line, a
    pipe gets each change."""
    live = out.isatty()
    shown = ""
    deadline = clock() + rule.wait
    while True:
        execution = client.get_execution(execution_id)
        line = f"[replicate] {_progress(execution)}"
        if line != shown:
            out.write(f"\r\x1b[K{line}" if live else f"{line}\n")
            out.flush()
            shown = line
        if not execution.running:
            if live:
                out.write("\n")
            return execution
        if clock() >= deadline:
            if live:
                out.write("\n")
            raise ReplicationFailed(
                f"replication execution {execution_id} of policy {rule.policy_name!r} is still "
                f"running after {rule.wait:g} s (--replicate-timeout); it goes on in Harbor: "
                "run setup --replicate again to follow it, or watch it in Harbor's UI"
            )
        sleep(rule.poll_interval)


def _print_failed_tasks(client: HarborClient, execution: Execution, out: TextIO) -> None:
    for status in ("Failed", "Stopped"):
        for task in client.tasks(execution.id, status):
            try:
                log = client.task_log(execution.id, task.id)
            except HarborError as error:
                log = f"(log unavailable: {error})"
            header = f"--- task {task.id} {status}: {task.src_resource} → {task.dst_resource} ---"
            out.write(redact_server_text(f"{header}\n{log}").rstrip("\n") + "\n")
    out.flush()
