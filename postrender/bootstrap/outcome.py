"""What a step did (or, in a dry run, would do), and the one line that reports it."""

from __future__ import annotations

from enum import Enum
from typing import TextIO


class Outcome(Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    WOULD_CREATE = "would create"
    WOULD_UPDATE = "would update"

    @classmethod
    def create(cls, dry_run: bool) -> Outcome:
        return cls.WOULD_CREATE if dry_run else cls.CREATED

    @classmethod
    def update(cls, dry_run: bool) -> Outcome:
        return cls.WOULD_UPDATE if dry_run else cls.UPDATED


def report(out: TextIO, step: str, subject: str, outcome: Outcome | str, note: str = "") -> None:
    """`[step] subject: outcome (note)` — one line per step, as the user sees progress."""
    text = outcome.value if isinstance(outcome, Outcome) else outcome
    suffix = f" ({note})" if note else ""
    out.write(f"[{step}] {subject}: {text}{suffix}\n")
    out.flush()


def warn(out: TextIO, message: str) -> None:
    out.write(f"warning: {message}\n")
    out.flush()
