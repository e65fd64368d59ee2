"""`harbor-mirror postrender`: stdin → rewritten stream → stdout, all or nothing."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO

from postrender import settings as settings_module
from postrender.errors import ConfigError
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import decode, rewrite_stream
from postrender.settings import Settings


def postrender(stdin: IO[bytes], stdout: IO[bytes], settings: Settings) -> int:
    """Rewrite the whole stream in memory, then write it: a failure leaves stdout empty."""
    text = decode(stdin.read())
    rules = Rules.from_settings(settings)
    result = rewrite_stream(text, rules, strict=settings.strict)
    if settings.report is not None:
        _write_report(settings, result.report())
    if settings.verify:  # imports httpx: only when asked for
        from postrender.registry.gate import verify_or_fail

        environ = settings_module.files_environ(settings, os.environ)  # setup's CA and robot
        verify_or_fail(result.text, rules.mirror, environ)
    stdout.write(result.text.encode("utf-8"))
    stdout.flush()
    return 0


def _write_report(settings: Settings, entries: list[dict[str, object]]) -> None:
    import json

    assert settings.report is not None
    try:
        with open(settings.report, "w", encoding="utf-8") as file:
            file.write(json.dumps(entries, indent=2) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write --report {settings.report}: {exc.strerror}") from None


def main(argv: Sequence[str], environ: Mapping[str, str] = os.environ) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        sys.stdout.write(settings_module.help_text())
        return 0
    return postrender(sys.stdin.buffer, sys.stdout.buffer, settings_module.resolve(argv, environ))
