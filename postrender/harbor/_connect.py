"""Build the httpx.Client for one Harbor: base URL, basic auth, TLS trust, timeouts."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from postrender.errors import ConfigError
from postrender.harbor._client import HarborClient
from postrender.harbor._http import HarborHTTP
from postrender.harbor._retry import RetryPolicy

API_PREFIX = "/api/v2.0"


@dataclass(frozen=True)
class Connection:
    """Where Harbor is and how to trust it; the password is kept out of repr.

    `verify` is `tls_verify()`'s answer, built by the caller before it asks for a password, so a
    bad --ca-file is reported before anyone types a secret.
    """

    url: str  # https://core.harbor.domain[:port], no trailing slash
    username: str
    password: str = field(default="", repr=False)
    verify: ssl.SSLContext | bool = True
    timeout: float = 30.0


def tls_verify(ca_file: Path | None, insecure: bool) -> ssl.SSLContext | bool:
    """System trust by default, a private CA with --ca-file, nothing only when asked explicitly."""
    if insecure:
        if ca_file is not None:
            raise ConfigError("--ca-file and --insecure-skip-tls-verify exclude each other")
        return False
    if ca_file is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_file))
    except FileNotFoundError:
        raise ConfigError(f"--ca-file {ca_file}: no such file") from None
    except (OSError, ssl.SSLError):
        raise ConfigError(f"--ca-file {ca_file}: not a readable PEM CA certificate") from None


def connect(
    connection: Connection,
    *,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HarborClient:
    """A HarborClient for `connection`; `transport` replaces the network in tests."""
    client = httpx.Client(
        base_url=connection.url.rstrip("/") + API_PREFIX,
        auth=httpx.BasicAuth(connection.username, connection.password),
        verify=connection.verify,
        timeout=httpx.Timeout(connection.timeout, connect=min(10.0, connection.timeout)),
        transport=transport,
        follow_redirects=False,
    )
    return HarborClient(HarborHTTP(client, retry=retry, sleep=sleep))
