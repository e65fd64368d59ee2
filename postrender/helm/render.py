"""`helm template ARGS` run for a command that needs the rendered stream (overlay, verify)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from postrender.errors import ConfigError, InputError

# user:password@ in a chart or repository URL that Helm echoes in its error.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")


def render(helm_args: Sequence[str], environ: Mapping[str, str]) -> str:
    """`helm template ARGS` with no post-renderer, from $HELM_BIN (set by Helm) or PATH."""
    helm = environ.get("HELM_BIN") or shutil.which("helm")
    if not helm:
        raise ConfigError("no helm to render with: put helm on PATH or set HELM_BIN")
    try:
        done = subprocess.run(
            [helm, "template", *helm_args], capture_output=True, env=dict(environ), check=False
        )
    except OSError as exc:
        raise ConfigError(f"cannot run {helm}: {exc.strerror}") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["(no message)"]
        message = _URL_CREDENTIALS.sub("***@", lines[-1])
        raise InputError(f"helm template failed (exit {done.returncode}): {message}")
    from postrender.rewrite.stream import decode

    return decode(done.stdout)
