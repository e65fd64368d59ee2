"""Step 3: the project images are pulled from — a proxy cache, or replication's destination."""

from __future__ import annotations

from typing import Any, TextIO

from postrender.bootstrap.created import create_once, found_again
from postrender.bootstrap.outcome import Outcome, report
from postrender.bootstrap.plan import Plan
from postrender.errors import HarborConflict
from postrender.harbor import HarborClient, Project, Registry


def _public(value: bool) -> str:
    return "true" if value else "false"


def _check_kind(project: Project, plan: Plan, registry: Registry | None) -> None:
    name = project.name
    if plan.mode == "replication":
        if project.registry_id is not None:
            raise HarborConflict(
                f"project {name!r} is a proxy cache, and Harbor silently skips replicating into "
                "proxy-cache projects: choose another --dest-namespace"
            )
        return
    if project.registry_id is None:
        raise HarborConflict(
            f"project {name!r} already exists as a normal project, and Harbor cannot turn an "
            "existing project into a proxy cache: choose another --project, or delete that "
            "project in Harbor and run setup again"
        )
    if registry is None or project.registry_id != registry.id:
        raise HarborConflict(
            f"project {name!r} is a proxy cache of another registry endpoint (id "
            f"{project.registry_id}), and Harbor cannot point a proxy cache elsewhere: choose "
            f"another --project, or --registry-name of the endpoint it uses"
        )


def _create_body(plan: Plan, registry: Registry | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "project_name": plan.project,
        "metadata": {"public": _public(plan.public)},
        "storage_limit": -1,
    }
    if plan.mode == "proxy-cache":
        assert registry is not None
        body["registry_id"] = registry.id
    return body


def ensure_project(
    client: HarborClient,
    plan: Plan,
    registry: Registry | None,
    *,
    dry_run: bool,
    out: TextIO,
) -> Project | None:
    """Create the project or align its visibility; None only in a dry run that would create it."""
    kind = "proxy cache" if plan.mode == "proxy-cache" else "replication destination"
    visibility = "public" if plan.public else "private"
    project = client.get_project(plan.project)
    if project is None:
        if dry_run:
            report(out, "project", plan.project, Outcome.WOULD_CREATE, f"{visibility} {kind}")
            return None
        body = _create_body(plan, registry)
        created = create_once(lambda: client.create_project(body)) is not None
        project = _reread(client, plan.project)
        if created:
            report(out, "project", plan.project, Outcome.CREATED, f"{visibility} {kind}")
            return project
    _check_kind(project, plan, registry)
    if project.public == plan.public:
        report(out, "project", plan.project, Outcome.UNCHANGED, f"{visibility} {kind}")
        return project
    if dry_run:
        report(out, "project", plan.project, Outcome.WOULD_UPDATE, f"make it {visibility}")
        return project
    client.update_project_metadata(plan.project, {"public": _public(plan.public)})
    report(out, "project", plan.project, Outcome.UPDATED, f"made {visibility}")
    return _reread(client, plan.project)


def _reread(client: HarborClient, name: str) -> Project:
    return found_again(client.get_project(name), f"project {name!r}")
