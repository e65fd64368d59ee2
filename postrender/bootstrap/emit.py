"""Optional step of setup (`--emit FORMAT FILE`, repeatable): node-level registry mirror files
for this Harbor.

Uses the Harbor host, project and upstream setup just ensured. Harbor's CA is named as the
nodes keep it: `--node-ca-file`, else the absolute path of setup's `--ca-file`. The robot's
credentials, where a file holds them, come from the pull Secret setup wrote (`--secret-out`, or
the one the config remembers from an earlier run), never from an option.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from postrender.bootstrap import nodemirror
from postrender.bootstrap.configfile import remembered_secret_file
from postrender.bootstrap.outcome import Outcome, report
from postrender.bootstrap.plan import Plan
from postrender.bootstrap.robot import secret_file_credentials
from postrender.errors import ConfigError
from postrender.files import atomic_write
from postrender.rewrite.rules import Rules

PRIVATE = 0o600
Emit = tuple[str, Path]


def check_emit(
    plan: Plan, emits: Sequence[Emit], embed_credentials: bool, node_ca_file: Path | None
) -> None:
    """Refuse option combinations before setup contacts Harbor."""
    if node_ca_file is not None:
        if not emits:
            raise ConfigError("--node-ca-file needs --emit FORMAT FILE")
        if not node_ca_file.is_absolute():
            raise ConfigError(
                f"--node-ca-file {node_ca_file}: must be an absolute path (where the nodes keep "
                "Harbor's CA)"
            )
    paths = [path.absolute() for _, path in emits]
    twice = next((path for path in paths if paths.count(path) > 1), None)
    if twice is not None:
        raise ConfigError(f"--emit: {twice} is given twice")
    formats = [fmt for fmt, _ in emits]
    if embed_credentials and "rke2" not in formats:
        # auth holds the credentials without the flag, so only the others can be named here
        without_place = [fmt for fmt in formats if fmt != "auth"]
        if not without_place:
            raise ConfigError("--emit-credentials needs --emit rke2 FILE")
        raise ConfigError(
            f"--emit-credentials: {without_place[0]} has no place for credentials (only rke2 has; "
            "CRI-O and podman read the node auth file: --emit auth FILE)"
        )
    needs = "--emit-credentials" if embed_credentials else "--emit auth" * ("auth" in formats)
    if needs and _secret_file(plan) is None:
        raise ConfigError(
            f"{needs} needs --robot NAME --secret-out FILE: the credentials are the robot's, "
            "read from that Secret"
        )


def ensure_node_mirrors(
    plan: Plan,
    emits: Sequence[Emit],
    *,
    embed_credentials: bool,
    node_ca_file: Path | None,
    dry_run: bool,
    out: TextIO,
) -> None:
    """Write each requested file (mode 0600); unchanged content and mode are left alone."""
    ca_file = node_ca_file or (plan.ca_file.absolute() if plan.ca_file else None)
    formats = {fmt for fmt, _ in emits}
    wants_robot = "auth" in formats or (embed_credentials and "rke2" in formats)
    robot = _robot(plan, dry_run) if wants_robot else None
    for fmt, path in emits:
        holds = fmt == "auth" or (fmt == "rke2" and embed_credentials)
        node = nodemirror.Node(str(ca_file) if ca_file else None, robot if holds else None)
        _ensure_file(plan, fmt, path, node, holds, dry_run, out)


def _ensure_file(
    plan: Plan, fmt: str, path: Path, node: nodemirror.Node, holds: bool, dry_run: bool,
    out: TextIO,
) -> None:  # fmt: skip
    note = f"{fmt}, {'robot credentials embedded' if holds else 'no credentials'}"
    if node.ca_file and fmt != "auth":
        note += f", CA {node.ca_file}"
    if holds and node.robot is None:
        # Only a dry run gets here: it wrote no Secret to read the credentials from yet.
        outcome = Outcome.update(dry_run) if path.exists() else Outcome.create(dry_run)
        report(out, "node-mirror", str(path), outcome, note)
        return
    rule = Rules.from_settings(plan.post_renderer_settings()).mirror
    text = nodemirror.EMITTERS[fmt](rule, node)
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


def _secret_file(plan: Plan) -> Path | None:
    """The robot's Secret file: this run's `--secret-out`, else the one the config remembers."""
    return plan.robot.secret_out if plan.robot is not None else remembered_secret_file(plan)


def _robot(plan: Plan, dry_run: bool) -> nodemirror.Robot | None:
    secret_file = _secret_file(plan)
    assert secret_file is not None  # check_emit made sure
    credentials = secret_file_credentials(secret_file, plan.harbor_host)
    if credentials is None:
        if dry_run:
            return None  # the dry run wrote no Secret to read them from
        raise ConfigError(f"--emit: no credentials for {plan.harbor_host} in {secret_file}")
    return nodemirror.Robot(*credentials)
