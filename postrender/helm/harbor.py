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
  neither read for Harbor nor written, and no password is on argv. What helm runs (the
  post-renderer's --verify) gets no password in its environment (`render.run_helm`), so
  `HARBOR_MIRROR_SECRET_FILE` names the same login as a Secret manifest beside it. A signal
  meanwhile unwinds like Ctrl-C (`commands/group.py`), so both files go too.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from postrender.endpoint import Endpoint
from postrender.errors import ConfigError
from postrender.helm import chartfile
from postrender.helm.args import CommandLine
from postrender.rewrite.rules import MirrorRule
from postrender.settings import Settings

REGISTRY_CONFIG_ENV = "HELM_REGISTRY_CONFIG"
SECRET_FILE_ENV = "HARBOR_MIRROR_SECRET_FILE"
# The values pflag reads as true for a bool flag (Go's strconv.ParseBool); None: the bare switch.
_TRUE = frozenset({None, "1", "t", "T", "true", "TRUE", "True"})


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
        """(args with every upstream chart argument mapped to Harbor, the Harbor URLs used).
        Helm's own `--dependency-update` would fetch a local chart's upstream subcharts from
        the upstream itself when its charts/ misses one: refused, naming the command that
        fetches them through Harbor."""
        self._refuse_upstream_dependency_update(line)
        mapped, used = list(line.args), []
        for index in line.positional_indexes():
            url = self.rule.chart_url(line.args[index])
            if url is not None:
                mapped[index] = url
                used.append(url)
        return mapped, used

    def _refuse_upstream_dependency_update(self, line: CommandLine) -> None:
        given = [value for flag, value in line.flags() if flag == "--dependency-update"]
        positionals = line.positionals()
        if not given or given[-1] not in _TRUE or not positionals:
            return
        chart = positionals[-1]
        fetches = chartfile.names_upstream_dependency(chart, self.rule)
        if fetches and chartfile.misses_dependencies(chart):  # else Helm fetches nothing
            raise ConfigError(
                f"--dependency-update: helm would fetch the dependencies {chart}/Chart.yaml "
                f"names on oci://{self.rule.upstream}/ from the upstream itself, which only "
                f"Harbor reaches; run `helm harbor-mirror dependency build {chart}` first, without "
                "--dependency-update"
            )

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
        directory = tempfile.mkdtemp(prefix="harbor-mirror-helm-")  # mode 0700
        try:
            config = self.registry_config()
            env[REGISTRY_CONFIG_ENV] = _private_file(directory, "config.json", config)
            env[SECRET_FILE_ENV] = _private_file(directory, "pull-secret.json", _secret(config))
            yield env
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def _secret(registry_config: str) -> str:
    """The registry config as the Secret manifest `--secret-file` reads (`secretfile`)."""
    encoded = base64.b64encode(registry_config.encode("utf-8")).decode("ascii")
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": encoded}}  # fmt: skip
    return json.dumps(secret) + "\n"


def _private_file(directory: str, name: str, text: str) -> str:
    """`text` in a new file of mode 0600 in `directory`; its path."""
    path = os.path.join(directory, name)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    return path
