"""Helm's way into Harbor: the mirrored chart URL, the robot's login and the CA, for one run.

Where only Harbor reaches the upstream, Helm itself must fetch charts from Harbor, signed in as
the robot `setup` made. The API (the wrappers, `verify`, `overlay`, `dependency` use it):

- `Harbor.from_settings(settings)`: Harbor host and project, the robot's credentials read from
  `settings.secret_file` (the Secret `setup --secret-out` wrote, remembered in the config) and
  the CA file `setup` was given (`settings.ca_file`); `insecure_skip_tls_verify`/`plain_http`
  are for tests and HTTP Harbors.
- `harbor.chart_url("oci://U/charts/x")` → `oci://HARBOR/PROJECT/charts/x` (replication: the
  destination namespace is the project), None for anything not on the upstream;
  `harbor.map_charts(line)` does it to the chart arguments of a parsed helm command line.
- `harbor.tls_flags()`: `--ca-file=…` (or the insecure/plain-http switches) for Helm's own
  registry client.
- `with harbor.helm_environ(environ) as env:` the environment to run helm in: with credentials,
  `HELM_REGISTRY_CONFIG` names a temporary registry config (mode 0600 in a private directory,
  removed on exit) holding only the robot's login to Harbor; the user's own
  `registry/config.json` is neither read for Harbor nor written, and no password is on argv.
  A SIGTERM meanwhile (a CI job's timeout, `kill`) unwinds like Ctrl-C, so the file goes too.
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
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from postrender.helm.args import CommandLine
from postrender.rewrite.rules import MirrorRule
from postrender.secretfile import read_credentials
from postrender.settings import Settings

REGISTRY_CONFIG_ENV = "HELM_REGISTRY_CONFIG"


@dataclass(frozen=True)
class Harbor:
    """One Harbor project as Helm reaches it; the credentials stay out of repr."""

    rule: MirrorRule
    credentials: tuple[str, str] | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    plain_http: bool = False

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        ca_file: str | None = None,
        insecure_skip_tls_verify: bool = False,
        plain_http: bool = False,
    ) -> Harbor:
        """From the resolved settings; `ca_file` given here wins over the remembered one."""
        credentials = None
        if settings.secret_file:
            credentials = read_credentials(Path(settings.secret_file), settings.harbor_host)
        return cls(
            MirrorRule(settings.upstream, settings.harbor_host, settings.project),
            credentials,
            ca_file or settings.ca_file,
            insecure_skip_tls_verify,
            plain_http,
        )

    @property
    def host(self) -> str:
        return self.rule.harbor_host

    def chart_url(self, chart: str) -> str | None:
        """Harbor's URL of an upstream `oci://` chart, or None when `chart` is not one."""
        return self.rule.chart_url(chart)

    def map_charts(self, line: CommandLine) -> tuple[list[str], list[str]]:
        """(args with every upstream chart argument mapped to Harbor, the Harbor URLs used)."""
        mapped, used = list(line.args), []
        for index in line.positional_indexes():
            url = self.chart_url(line.args[index])
            if url is not None:
                mapped[index] = url
                used.append(url)
        return mapped, used

    def tls_flags(self) -> list[str]:
        """What Helm's registry client needs to trust (or skip checking) Harbor."""
        flags = [f"--ca-file={self.ca_file}"] if self.ca_file else []
        flags += ["--insecure-skip-tls-verify"] * self.insecure_skip_tls_verify
        return flags + ["--plain-http"] * self.plain_http

    def registry_config(self) -> str:
        """A Docker-style registry config with the robot's login to Harbor and nothing else."""
        assert self.credentials is not None
        username, password = self.credentials
        auth = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        return json.dumps({"auths": {self.host: {"auth": auth}}}, indent=2) + "\n"

    @contextmanager
    def helm_environ(self, environ: Mapping[str, str]) -> Iterator[dict[str, str]]:
        """`environ` for one helm run signed in to Harbor (unchanged without credentials)."""
        env = dict(environ)
        if self.credentials is None:
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
