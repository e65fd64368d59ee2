"""Running the real helm: `helm template ARGS` for a command that needs the rendered stream
(overlay, verify), and any helm command through Harbor (the wrappers, dependency, login)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from postrender.errors import ConfigError, InputError
from postrender.helm.harbor import Harbor

# user:password@ in a chart or repository URL that Helm echoes in its error.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")


def helm_binary(environ: Mapping[str, str]) -> str:
    """$HELM_BIN (set by Helm for its plugins), else helm on PATH."""
    helm = environ.get("HELM_BIN") or shutil.which("helm")
    if not helm:
        raise ConfigError("no helm to run: put helm on PATH or set HELM_BIN")
    return helm


def run_helm(
    args: Sequence[str], environ: Mapping[str, str], *, capture: bool, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run helm with `args`; `capture` keeps stdout and stderr, else they are the user's."""
    helm = helm_binary(environ)
    pipe = subprocess.PIPE if capture else None
    try:
        return subprocess.run(
            [helm, *args], stdout=pipe, stderr=pipe, input=stdin, env=dict(environ), check=False
        )
    except OSError as exc:
        raise ConfigError(f"cannot run {helm}: {exc.strerror}") from None


def failure(what: str, done: subprocess.CompletedProcess[bytes], charts: Sequence[str]) -> str:
    """One line: what failed, Helm's last line (credentials in URLs masked), the Harbor URL."""
    lines = (done.stderr or b"").decode("utf-8", "replace").strip().splitlines() or [
        "(no message)"
    ]
    through = f" (chart through Harbor: {', '.join(charts)})" if charts else ""
    message = _URL_CREDENTIALS.sub("***@", lines[-1])
    return f"{what} failed (exit {done.returncode}): {message}{through}"


def render(helm_args: Sequence[str], environ: Mapping[str, str], harbor: Harbor) -> str:
    """`helm template ARGS` with no post-renderer; an upstream chart is fetched from Harbor,
    signed in as the robot (when setup wrote its Secret) and trusting setup's CA."""
    args, charts = harbor.map_charts(helm_args)
    with harbor.helm_environ(environ) as env:
        # A --ca-file of the user's comes after ours, and Helm keeps the last one.
        done = run_helm(["template", *harbor.tls_flags(), *args], env, capture=True)
    if done.returncode != 0:
        raise InputError(failure("helm template", done, charts))
    from postrender.rewrite.stream import decode

    return decode(done.stdout)
