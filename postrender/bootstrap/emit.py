"""Optional step of setup (`--emit FORMAT FILE`): a node-level registry mirror for this Harbor.

Uses the Harbor host, project and upstream setup just ensured; the robot's credentials, when
asked for, come from the pull Secret setup wrote (`--secret-out`), never from an option.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import TextIO

from postrender.bootstrap import nodemirror
from postrender.bootstrap.outcome import Outcome, report
from postrender.bootstrap.plan import Plan
from postrender.bootstrap.robot import secret_file_credentials
from postrender.errors import ConfigError
from postrender.files import atomic_write
from postrender.rewrite.rules import Rules

PRIVATE = 0o600


def check_emit(plan: Plan, emit: tuple[str, Path] | None, embed_credentials: bool) -> None:
    """Refuse option combinations before setup contacts Harbor."""
    if not embed_credentials:
        return
    if emit is None:
        raise ConfigError("--emit-credentials needs --emit rke2 FILE")
    if emit[0] not in nodemirror.CREDENTIAL_FORMATS:
        raise ConfigError(
            f"--emit-credentials: {emit[0]} has no place for credentials (only rke2 has)"
        )
    if plan.robot is None:
        raise ConfigError(
            "--emit-credentials needs --robot NAME --secret-out FILE: the credentials are the "
            "robot's, read from that Secret"
        )


def ensure_node_mirror(
    plan: Plan,
    fmt: str,
    path: Path,
    *,
    embed_credentials: bool,
    dry_run: bool,
    out: TextIO,
) -> None:
    """Write the snippet (mode 0600); unchanged content and mode are left alone."""
    robot = _robot(plan, dry_run) if embed_credentials else None
    rule = Rules.from_settings(plan.post_renderer_settings()).mirror
    text = nodemirror.EMITTERS[fmt](rule, robot)
    # A dry run has no Secret to read the credentials from yet; the note says what a run writes.
    note = f"{fmt}, {'robot credentials embedded' if embed_credentials else 'no credentials'}"
    if path.is_file() and _current(path) == text and stat.S_IMODE(path.stat().st_mode) == PRIVATE:
        report(out, "node-mirror", str(path), Outcome.UNCHANGED, note)
        return
    outcome = Outcome.update(dry_run) if path.exists() else Outcome.create(dry_run)
    if not dry_run:
        atomic_write(path, text.encode("utf-8"), mode=PRIVATE, option="--emit")
    report(out, "node-mirror", str(path), outcome, note)


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _robot(plan: Plan, dry_run: bool) -> nodemirror.Robot | None:
    assert plan.robot is not None  # check_emit made sure
    credentials = secret_file_credentials(plan.robot.secret_out, plan.harbor_host)
    if credentials is None:
        if dry_run:
            return None  # the dry run wrote no Secret to read them from
        raise ConfigError(
            f"--emit-credentials: no credentials for {plan.harbor_host} in "
            f"{plan.robot.secret_out}"
        )
    return nodemirror.Robot(*credentials)
