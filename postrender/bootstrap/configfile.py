"""Last step: the config file that lets `--post-renderer harbor-mirror` run with no options.

Besides where the mirror is, it remembers the CA file and the robot Secret file setup was given
(absolute paths, never their contents), so the wrappers, verify and overlay need no flags.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from postrender import settings
from postrender.bootstrap.outcome import Outcome, report
from postrender.bootstrap.plan import Plan
from postrender.errors import ConfigError
from postrender.files import atomic_write

HEADER = "# Written by `helm harbor-mirror setup`; read by the harbor-mirror post-renderer.\n"
# Keys setup decides; others a user added (upstreamPullSecret) are kept as they are. The CA
# and Secret file paths are set when setup is given them and kept when a re-run is not.
MANAGED = ("harborHost", "project", "mode", "upstream", "pullSecret")


def wanted_values(plan: Plan, current: dict[str, str]) -> dict[str, str]:
    values = {key: value for key, value in current.items() if key not in MANAGED}
    values.update(
        harborHost=plan.harbor_host, project=plan.project, mode=plan.mode,
        upstream=plan.upstream_host,
    )  # fmt: skip
    if plan.pull_secret is not None:
        values["pullSecret"] = plan.pull_secret
    if plan.ca_file is not None:
        values["caFile"] = str(plan.ca_file.absolute())
    if plan.robot is not None:
        values["secretFile"] = str(plan.robot.secret_out.absolute())
    assert set(values) <= settings.CONFIG_KEYS
    return values


def render(values: dict[str, str]) -> str:
    """Every value double-quoted, so a project named `123` or `true` stays a string."""
    return HEADER + "".join(f"{key}: {json.dumps(value)}\n" for key, value in values.items())


def _current(path: Path) -> dict[str, str] | None:
    """What the file holds; None when missing, or ours and damaged (rewriting repairs it)."""
    if not path.is_file():
        return None
    try:
        return settings.read_config_file(str(path))
    except ConfigError as error:
        try:
            ours = path.read_bytes().startswith(HEADER.encode())
        except OSError:
            ours = False
        if ours:
            return None
        raise ConfigError(
            f"{error}; setup did not write it, so it is left alone: fix it or choose another "
            "--config"
        ) from None


def remembered_secret_file(plan: Plan) -> Path | None:
    """The robot Secret file a run of setup with `--robot` recorded for this Harbor, so a
    re-run without `--robot` still knows the nodes' and Helm's credentials."""
    try:
        current = _current(plan.config_path)
    except ConfigError:
        return None
    if not current or current.get("harborHost") != plan.harbor_host:
        return None
    remembered = current.get("secretFile")
    return Path(remembered) if remembered else None


def ensure_config(plan: Plan, *, dry_run: bool, out: TextIO) -> None:
    path = plan.config_path
    current = _current(path)
    values = wanted_values(plan, current or {})
    if current == values:
        report(out, "config", str(path), Outcome.UNCHANGED)
        return
    outcome = Outcome.create(dry_run) if not path.exists() else Outcome.update(dry_run)
    if not dry_run:
        atomic_write(path, render(values).encode("utf-8"), mode=0o644, option="--config")
    report(out, "config", str(path), outcome, f"{plan.harbor_host}/{plan.project}")
