"""`helm registry login|logout HARBOR` with the robot setup made, for plain `helm install
oci://HARBOR/PROJECT/...`: the password goes on helm's stdin, never on its command line."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from postrender.errors import ConfigError, HarborMirrorError
from postrender.helm.harbor import Harbor
from postrender.helm.render import failure, run_helm
from postrender.settings import Settings


def login(settings: Settings, environ: Mapping[str, str] = os.environ) -> int:
    """Store the endpoint's login (the robot's) to Harbor in the user's own Helm registry config."""
    harbor = Harbor.from_settings(settings, environ)
    if harbor.endpoint.credentials is None:
        raise ConfigError(
            "no robot credentials: run `helm harbor-mirror setup --robot NAME --secret-out FILE` "
            "or set HARBOR_MIRROR_SECRET_FILE (or HARBOR_MIRROR_USERNAME with "
            "HARBOR_MIRROR_HARBOR_PASSWORD)"
        )
    username, password = harbor.endpoint.credentials
    args = ["registry", "login", harbor.host, "--username", username, "--password-stdin"]
    # `helm registry login` names the CA flag like the others, but skips TLS with --insecure.
    tls = [flag.replace("--insecure-skip-tls-verify", "--insecure") for flag in harbor.tls_flags()]
    done = run_helm([*args, *tls], environ, stdin=password.encode("utf-8") + b"\n")
    return _finish("helm registry login", done.returncode, done.stdout, done.stderr)


def logout(settings: Settings, environ: Mapping[str, str] = os.environ) -> int:
    """Forget the login to Harbor in the user's Helm registry config."""
    harbor = Harbor.from_settings(settings, environ)
    done = run_helm(["registry", "logout", harbor.host], environ)
    return _finish("helm registry logout", done.returncode, done.stdout, done.stderr)


def _finish(what: str, code: int, stdout: bytes | None, stderr: bytes | None) -> int:
    if code != 0:
        raise HarborMirrorError(failure(what, code, stderr, []))
    sys.stdout.buffer.write((stdout or b"") + (stderr or b""))  # helm says "Login Succeeded"
    sys.stdout.flush()
    return 0
