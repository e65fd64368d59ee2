"""Entry point `harbor-mirror`: picks the post-renderer or a subcommand; the one error boundary.

Helm runs the post-renderer once per release, so that path never imports click or httpx:
`harbor-mirror`, `harbor-mirror postrender` and `harbor-mirror --harbor-host=…` (how Helm 3
runs a post-renderer with --post-renderer-args) all go straight to the rewrite.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from postrender.errors import HarborMirrorError, redact, shown_controls


def _is_postrender(argv: Sequence[str], stdin_is_tty: bool, environ: Mapping[str, str]) -> bool:
    """The post-renderer, or (False) the click group: its help, version and subcommands."""
    if not argv:
        # `helm harbor-mirror` (HELM_PLUGIN_NAME set; the post-renderer plugin always passes
        # `postrender`) and a bare call from a terminal want help; a pipe wants a rewrite.
        return not (stdin_is_tty or environ.get("HELM_PLUGIN_NAME"))
    first = argv[0]
    if first in ("--help", "--version"):
        return False
    return first == "postrender" or first.startswith("--")


def _run_postrender(argv: Sequence[str]) -> int:
    from postrender.commands.postrender import main

    return main(argv)


def _run_click(argv: Sequence[str]) -> int:
    from postrender.commands.group import run

    return run(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    postrendering = _is_postrender(args, sys.stdin.isatty() if sys.stdin else False, os.environ)
    if postrendering and args and args[0] == "postrender":
        args = args[1:]
    try:
        raise SystemExit(_run_postrender(args) if postrendering else _run_click(args))
    except HarborMirrorError as error:
        message, code = f"error: {error}", error.exit_code
    except KeyboardInterrupt:
        message, code = "interrupted", 130
    except Exception as error:  # the boundary: anything else is our bug, still one line
        message, code = f"unexpected error: {type(error).__name__}: {error}", 3
    message = shown_controls(redact(message))  # helm's line may carry a chart's or server's text
    sys.stderr.write(f"harbor-mirror: {message}\n")
    if postrendering:
        from postrender.commands.postrender import record_last_error

        record_last_error(message)
    raise SystemExit(code)


if __name__ == "__main__":
    main()
