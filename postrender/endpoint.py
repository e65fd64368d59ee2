"""Where Harbor is and who we are to it: one frozen description for Helm, `/v2/` and the REST API.

Resolved once, from the settings (option > HARBOR_MIRROR_* > config file) and the environment.
Credentials, first found wins: the robot's Secret manifest `setup --secret-out` writes
(`settings.secret_file`), then `HARBOR_MIRROR_USERNAME` with `HARBOR_MIRROR_HARBOR_PASSWORD`;
with neither we are anonymous (public projects). Helm signs in with them through a temporary
registry config (`helm/harbor.py`), the `/v2/` client and the REST client through httpx
clients they build from this; none of them decides again.

Standard library only (no httpx, no click), so every layer may import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from postrender.errors import ConfigError, keep_secret
from postrender.secretfile import read_credentials
from postrender.settings import DEFAULT_PROJECT, Settings

if TYPE_CHECKING:
    import ssl

USERNAME_ENV = "HARBOR_MIRROR_USERNAME"
PASSWORD_ENV = "HARBOR_MIRROR_HARBOR_PASSWORD"


@dataclass(frozen=True)
class Endpoint:
    """One Harbor as every client reaches it; the credentials stay out of repr."""

    host: str  # host[:port] as image references name it
    project: str = DEFAULT_PROJECT
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    plain_http: bool = False
    credentials: tuple[str, str] | None = field(default=None, repr=False)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        environ: Mapping[str, str] = os.environ,
        *,
        insecure_skip_tls_verify: bool = False,
        plain_http: bool = False,
    ) -> Endpoint:
        """The settings' Harbor, signed in as the credential rule (module docstring) says."""
        return cls(
            settings.harbor_host,
            settings.project,
            settings.ca_file,
            insecure_skip_tls_verify,
            plain_http,
            credentials(settings, environ),
        )

    @classmethod
    def at_url(
        cls,
        url: str,
        credentials: tuple[str, str] | None = None,
        *,
        project: str = DEFAULT_PROJECT,
        ca_file: str | None = None,
        insecure_skip_tls_verify: bool = False,
    ) -> Endpoint:
        """The Harbor at `http(s)://host[:port]` (setup's --harbor-url, already checked)."""
        scheme, _, host = url.partition("://")
        return cls(host.rstrip("/"), project, ca_file, insecure_skip_tls_verify,
                   scheme == "http", credentials)  # fmt: skip

    @property
    def url(self) -> str:
        """`scheme://host[:port]`, the base of Harbor's `/v2/` and `/api/v2.0`."""
        return f"{'http' if self.plain_http else 'https'}://{self.host}"

    def tls_verify(self) -> ssl.SSLContext | bool:
        """httpx's `verify`: system trust, the CA file, or (only when asked) nothing."""
        if self.insecure_skip_tls_verify:
            if self.ca_file is not None:
                raise ConfigError("--ca-file and --insecure-skip-tls-verify exclude each other")
            return False
        if self.ca_file is None:
            return True
        import ssl  # only clients that talk to Harbor pay for it

        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except FileNotFoundError:
            raise ConfigError(f"--ca-file {self.ca_file}: no such file") from None
        except (OSError, ssl.SSLError):
            raise ConfigError(
                f"--ca-file {self.ca_file}: not a readable PEM CA certificate"
            ) from None

    def helm_tls_flags(self) -> list[str]:
        """What Helm's registry client needs to trust (or skip checking) Harbor."""
        flags = [f"--ca-file={self.ca_file}"] if self.ca_file else []
        flags += ["--insecure-skip-tls-verify"] * self.insecure_skip_tls_verify
        return flags + ["--plain-http"] * self.plain_http


def credentials(settings: Settings, environ: Mapping[str, str]) -> tuple[str, str] | None:
    """The credential rule, written once: the robot's Secret file, then the pair, else None."""
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
