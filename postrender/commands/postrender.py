"""`harbor-mirror postrender`: stdin → rewritten stream → stdout, all or nothing."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO

from postrender import settings as settings_module
from postrender.errors import HarborMirrorError
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import Result, decode, rewrite_stream
from postrender.settings import Settings


def postrender(
    stdin: IO[bytes], stdout: IO[bytes], settings: Settings,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Rewrite the whole stream in memory, then write it: a failure leaves stdout empty."""
    text = decode(stdin.read())
    rules = Rules.from_settings(settings)
    result = rewrite_stream(text, rules, strict=settings.strict)
    if settings.lock is not None:
        result = pin_to_lock(result, rules, settings, environ)
    if settings.report is not None:
        _write_report(settings, result.report())
    if settings.verify:  # imports httpx: only when asked for
        from postrender.registry.gate import verify_or_fail

        verify_or_fail(result.text, rules.mirror, settings)
    stdout.write(result.text.encode("utf-8"))
    stdout.flush()
    return 0


def pin_to_lock(
    result: Result, rules: Rules, settings: Settings, environ: Mapping[str, str] = os.environ
) -> Result:
    """The stream and its --report entries with each Harbor reference by tag pinned to its
    locked digest; the places that cannot carry one are named on stderr (refused with
    --strict)."""
    from pathlib import Path

    from postrender import lock
    from postrender.rewrite.pin import pin, pin_rewrites, say_not_pinned

    assert settings.lock is not None
    pins = lock.read(Path(settings.lock)).pins()
    pinned = pin(result.text, rules.mirror, pins, where=settings.lock)
    say_not_pinned(pinned.not_pinned, strict=settings.strict, environ=environ)
    rewrites, _ = pin_rewrites(result.rewrites, rules.mirror, pins, where=settings.lock)
    return Result(pinned.text, rewrites)


def _write_report(settings: Settings, entries: list[dict[str, object]]) -> None:
    """Owner-only, like every file that may name a release's secrets."""
    import json
    from pathlib import Path

    from postrender.files import atomic_write

    assert settings.report is not None
    data = (json.dumps(entries, indent=2) + "\n").encode("utf-8")
    atomic_write(Path(settings.report), data, mode=0o600, option="--report")


def record_last_error(message: str) -> None:
    """Keep a post-renderer failure where `helm harbor-mirror` shows it (Helm 4 hides stderr);
    owner-only, as the message names places in a release."""
    from datetime import datetime, timezone
    from pathlib import Path

    from postrender.files import atomic_write
    from postrender.helmhome import last_error_file

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The message already went to stderr; a read-only cache must not mask it.
    with contextlib.suppress(HarborMirrorError):
        atomic_write(Path(last_error_file()), f"{stamp} {message}\n".encode(), mode=0o600,
                     option="last-error file")


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        sys.stdout.write(settings_module.help_text())
        return 0
    return postrender(sys.stdin.buffer, sys.stdout.buffer, settings_module.resolve(argv, environ),
                      environ)
