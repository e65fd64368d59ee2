"""Helm's way into Harbor: the mirrored chart arguments, the endpoint's login and CA, for one run.

Where only Harbor reaches the upstream, Helm itself must fetch charts from Harbor, signed in as
the endpoint says (`postrender.endpoint`: the robot's Secret file, else the
HARBOR_MIRROR_USERNAME/HARBOR_MIRROR_HARBOR_PASSWORD pair, else anonymous). The API (the
wrappers, `verify`, `overlay`, `dependency` use it):

- `Harbor.from_settings(settings)`: the settings' mirror rule and `Endpoint` (or
  `Harbor(rule, endpoint)` for an endpoint with TLS switches of its own).
- `harbor.map_charts(line)`: the chart arguments of a parsed helm command line mapped by
  `MirrorRule.chart_url` (replication: the destination namespace is the project).
- `harbor.tls_flags()`: `--ca-file=…` (or the insecure/plain-http switches) for Helm's own
  registry client.
- `with harbor.helm_environ(environ) as env:` the environment to run helm in: with credentials,
  `HELM_REGISTRY_CONFIG` names a temporary registry config (mode 0600 in a private directory,
  removed on exit) holding only that login to Harbor; the user's own `registry/config.json` is
  neither read for Harbor nor written, and no password is on argv. A SIGTERM meanwhile (a CI
  job's timeout, `kill`) unwinds like Ctrl-C, so the file goes too.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from postrender.endpoint import Endpoint
from postrender.helm.args import CommandLine
from postrender.rewrite.rules import MirrorRule
from postrender.settings import Settings

REGISTRY_CONFIG_ENV = "HELM_REGISTRY_CONFIG"


@dataclass(frozen=True)
class Harbor:
    """One Harbor project as Helm reaches it: the rewrite's rule and the endpoint."""

    rule: MirrorRule
    endpoint: Endpoint

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] = os.environ) -> Harbor:
        """From the resolved settings and the environment (the credential rule's pair)."""
        rule = MirrorRule(settings.upstream, settings.harbor_host, settings.project)
        return cls(rule, Endpoint.from_settings(settings, environ))

    @property
    def host(self) -> str:
        return self.endpoint.host

    def map_charts(self, line: CommandLine) -> tuple[list[str], list[str]]:
        """(args with every upstream chart argument mapped to Harbor, the Harbor URLs used)."""
        mapped, used = list(line.args), []
        for index in line.positional_indexes():
            url = self.rule.chart_url(line.args[index])
            if url is not None:
                mapped[index] = url
                used.append(url)
        return mapped, used

    def tls_flags(self) -> list[str]:
        """What Helm's registry client needs to trust (or skip checking) Harbor."""
        return self.endpoint.helm_tls_flags()

    def registry_config(self) -> str:
        """A Docker-style registry config with the endpoint's login to Harbor and nothing else."""
        assert self.endpoint.credentials is not None
        username, password = self.endpoint.credentials
        auth = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return json.dumps({"auths": {self.host: {"auth": auth}}}, indent=2) + "\n"

    @contextmanager
    def helm_environ(self, environ: Mapping[str, str]) -> Iterator[dict[str, str]]:
        """`environ` for one helm run signed in to Harbor (unchanged without credentials)."""
        env = dict(environ)
        if self.endpoint.credentials is None:
            yield env
            return
        with _sigterm_unwinds():
            directory = tempfile.mkdtemp(prefix="harbor-mirror-helm-")  # mode 0700
            try:
                path = os.path.join(directory, "config.json")
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                    file.write(self.registry_config())
                env[REGISTRY_CONFIG_ENV] = path
                yield env
            finally:
                shutil.rmtree(directory, ignore_errors=True)


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises SystemExit while the robot's login is on disk, so `finally` removes it
    (Python's default for SIGTERM ends the process on the spot). Only the main thread can
    set a handler; elsewhere nothing changes."""
    try:
        previous = signal.signal(signal.SIGTERM, _exit)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
