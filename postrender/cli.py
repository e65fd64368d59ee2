"""Entry point `harbor-mirror`: picks the post-renderer or a subcommand; the one error boundary.

Helm runs the post-renderer once per release, so that path never imports click or httpx:
`harbor-mirror`, `harbor-mirror postrender` and `harbor-mirror --harbor-host=…` (how Helm 3
runs a post-renderer with --post-renderer-args) all go straight to the rewrite.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence

from postrender.errors import HarborMirrorError

# Subcommands for people, loaded only when asked for: "name": ("module:attribute", short help).
SUBCOMMANDS: dict[str, tuple[str, str]] = {}


def _route(argv: Sequence[str], stdin_is_tty: bool, environ: Mapping[str, str]) -> str:
    """Decide what to run: "postrender", "help" or a subcommand name."""
    if not argv:
        # `helm harbor-mirror` (HELM_PLUGIN_NAME set; the post-renderer plugin always passes
        # `postrender`) and a bare call from a terminal want help; a pipe wants a rewrite.
        return "help" if stdin_is_tty or environ.get("HELM_PLUGIN_NAME") else "postrender"
    first = argv[0]
    if first in ("-h", "--help", "help", "--version"):
        return "help"
    if first == "postrender" or first.startswith("--"):
        return "postrender"
    return first


def _run_postrender(argv: Sequence[str]) -> int:
    from postrender.commands.postrender import main

    return main(argv)


def _run_click(argv: Sequence[str]) -> int:
    from postrender.commands.group import run

    return run(argv)


def _report(message: str, exit_code: int, record: Callable[[str], None]) -> int:
    sys.stderr.write(f"harbor-mirror: {message}\n")
    record(message)
    return exit_code


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    route = _route(args, sys.stdin.isatty() if sys.stdin else False, os.environ)
    postrendering = route == "postrender"
    if postrendering and args and args[0] == "postrender":
        args = args[1:]
    record = _record_last_error if postrendering else _ignore
    try:
        code = _run_postrender(args) if postrendering else _run_click(args)
    except HarborMirrorError as error:
        code = _report(f"error: {error}", error.exit_code, record)
    except KeyboardInterrupt:
        code = _report("interrupted", 130, record)
    except Exception as error:  # the boundary: anything else is our bug, still one line
        code = _report(f"unexpected error: {type(error).__name__}: {error}", 3, record)
    raise SystemExit(code)


def _ignore(message: str) -> None:
    return None


def _record_last_error(message: str) -> None:
    """Keep a post-renderer failure where `helm harbor-mirror` shows it (Helm 4 hides stderr)."""
    from datetime import datetime, timezone

    from postrender import helmpaths

    path = helmpaths.last_error_file()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as file:
            file.write(f"{stamp} {message}\n")
    except OSError:
        pass  # the message already went to stderr; a read-only cache must not mask it


if __name__ == "__main__":
    main()
