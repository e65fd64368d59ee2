"""Running the real helm: `helm template ARGS` for a command that needs the rendered stream
(overlay, verify), and any helm command through Harbor (the wrappers, dependency, login)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from postrender.errors import ConfigError, InputError, redact
from postrender.helm.args import CommandLine
from postrender.helm.harbor import Harbor

# user:password@ in a chart or repository URL that Helm echoes.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/\s@]+@")
# What the user exported for setup and verify (README); nothing helm runs needs them, and a
# kubeconfig exec plugin or a helm plugin would otherwise get them too.
HELM_OUTPUT = "helm template's output"  # what an error in a rendered stream calls it
_NOT_FOR_HELM = ("HARBOR_MIRROR_HARBOR_PASSWORD", "HARBOR_MIRROR_UPSTREAM_TOKEN")
# Helm quoting Harbor's refusal: "response status code 401", "401 Unauthorized" (a bare 401
# may be part of a chart version).
_REFUSED = re.compile(r"status code 401\b|\b401 Unauthorized\b")
REFUSED_HINT = (
    "; Harbor refused the sign-in: a private project needs the robot's Secret file "
    "(--secret-file or HARBOR_MIRROR_SECRET_FILE), a robot that expired or was disabled is "
    "refused (setup --repair-robot), and once the robot's secret has been "
    "rotated (setup --rotate-robot-secret on another workstation, or in Harbor's UI) every "
    "older copy of that file is refused: copy the current one from where it was rotated"
)


def helm_binary(environ: Mapping[str, str]) -> str:
    """$HELM_BIN (set by Helm for its plugins), else helm on PATH."""
    helm = environ.get("HELM_BIN") or shutil.which("helm")
    if not helm:
        raise ConfigError("no helm to run: put helm on PATH or set HELM_BIN")
    return helm


def run_helm(
    args: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdout_to_user: bool = False,
    stdin: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run helm with `args`; stderr is kept (redacted like our own messages) for the message,
    stdout too unless it is the user's (a wrapped install prints its notes as it goes). `stdin`
    is how a password goes. An exception meanwhile (Ctrl-C, a signal) kills helm.

    Helm keeps the descriptors the wrapper inherited (`-f <(sops -d …)` names /dev/fd/63), as
    it would without the wrapper; those Python opens are not inheritable (PEP 446)."""
    helm = helm_binary(environ)
    stdout = None if stdout_to_user else subprocess.PIPE
    env = {name: value for name, value in environ.items() if name not in _NOT_FOR_HELM}
    try:
        done = subprocess.run(
            [helm, *args], stdout=stdout, stderr=subprocess.PIPE, env=env, input=stdin,
            close_fds=False, check=False,
        )  # fmt: skip
    except OSError as exc:
        raise ConfigError(f"cannot run {helm}: {exc.strerror}") from None
    done.stderr = _redacted(done.stderr)
    return done


def _redacted(stderr: bytes) -> bytes:
    """Helm's stderr with every secret we hold, and credentials in URLs, masked; bytes that
    are not UTF-8 stay as they were."""
    text = stderr.decode("utf-8", "surrogateescape")
    return _URL_CREDENTIALS.sub("***@", redact(text)).encode("utf-8", "surrogateescape")


def helm_major(environ: Mapping[str, str]) -> int:
    """3 or 4, from `helm version` of the helm that will run."""
    done = run_helm(["version", "--template", "{{.Version}}"], environ)
    version = done.stdout.decode("utf-8", "replace").strip()
    if done.returncode != 0 or not version.startswith(("v3.", "v4.")):
        raise ConfigError(f"cannot tell the Helm version (helm version said {version!r})")
    return int(version[1])


def failure(what: str, code: int, stderr: bytes | None, charts: Sequence[str]) -> str:
    """One line: what failed, why (`run_helm` masked the credentials), the chart URL tried in
    Harbor.

    The why is our own post-renderer's message when Helm 3 quotes it, else Helm's first
    `Error:` line, else its last line.
    """
    lines = [line.strip() for line in (stderr or b"").decode("utf-8", "replace").splitlines()]
    lines = [line for line in lines if line] or ["(no message)"]
    ours = [line for line in lines if line.startswith("harbor-mirror: ")]
    errors = [line for line in lines if line.startswith("Error: ")]
    reason = ours[0].removeprefix("harbor-mirror: ") if ours else (errors or lines[-1:])[0]
    hint = REFUSED_HINT if charts and not ours and _REFUSED.search(reason) else ""
    return f"{what} failed (exit {code}): {reason}{through_harbor(charts)}{hint}"


def through_harbor(charts: Sequence[str]) -> str:
    """The end of an error line: the chart URLs tried through Harbor, if any."""
    return f" (chart through Harbor: {', '.join(charts)})" if charts else ""


def render(line: CommandLine, environ: Mapping[str, str], harbor: Harbor) -> str:
    """`helm template ARGS` with no post-renderer; an upstream chart is fetched from Harbor,
    signed in as the robot (when setup wrote its Secret) and trusting setup's CA."""
    args, charts = harbor.map_charts(line)
    with harbor.helm_environ(environ) as env:
        # A --ca-file of the user's comes after ours, and Helm keeps the last one.
        done = run_helm(["template", *harbor.tls_flags(), *args], env)
    if done.returncode != 0:
        raise InputError(failure("helm template", done.returncode, done.stderr, charts))
    from postrender.rewrite.stream import decode

    return decode(done.stdout)
