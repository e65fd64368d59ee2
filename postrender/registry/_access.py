"""Where Harbor's registry is and who we are to it; secrets come from the environment or a file.

Credentials, first found wins: the Secret manifest `setup` writes for the robot account
(`--secret-file`, `HARBOR_MIRROR_SECRET_FILE` or the one setup remembered, as `settings`
resolves them), then `HARBOR_MIRROR_USERNAME` with `HARBOR_MIRROR_HARBOR_PASSWORD`; with neither
the requests are anonymous (public projects).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from postrender.errors import ConfigError, keep_secret
from postrender.harbor import cookie_jar_that_keeps_nothing, tls_verify
from postrender.registry._client import RegistryClient
from postrender.secretfile import read_credentials
from postrender.settings import Settings

USERNAME_ENV = "HARBOR_MIRROR_USERNAME"
PASSWORD_ENV = "HARBOR_MIRROR_HARBOR_PASSWORD"


@dataclass(frozen=True)
class Access:
    harbor_host: str
    credentials: tuple[str, str] | None = field(default=None, repr=False)
    ca_file: Path | None = None
    insecure_skip_tls_verify: bool = False
    plain_http: bool = False

    def client(self, *, timeout: float = 30.0) -> RegistryClient:
        scheme = "http" if self.plain_http else "https"
        http = httpx.Client(
            base_url=f"{scheme}://{self.harbor_host}",
            verify=tls_verify(self.ca_file, self.insecure_skip_tls_verify),
            timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        )
        http.cookies = cookie_jar_that_keeps_nothing()  # Harbor sets sid; keep no cookie
        return RegistryClient(http, self.credentials)


def access(
    settings: Settings,
    environ: Mapping[str, str] = os.environ,
    *,
    insecure_skip_tls_verify: bool = False,
    plain_http: bool = False,
) -> Access:
    """Access to the settings' Harbor: its CA and robot Secret file as `settings` resolved them
    (option, HARBOR_MIRROR_*, then what setup remembered), else the username/password pair."""
    return Access(
        settings.harbor_host,
        credentials(settings, environ),
        Path(settings.ca_file) if settings.ca_file else None,
        insecure_skip_tls_verify,
        plain_http,
    )


def credentials(settings: Settings, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The credentials to present to Harbor's token service (see the module docstring)."""
    if settings.secret_file:
        return read_credentials(Path(settings.secret_file), settings.harbor_host)
    password = environ.get(PASSWORD_ENV)
    username = environ.get(USERNAME_ENV)
    if password and username:
        return username, keep_secret(password, username=username)
    if password or username:
        missing = USERNAME_ENV if password else PASSWORD_ENV
        raise ConfigError(f"{missing} is not set (it goes with the other Harbor credential)")
    return None
