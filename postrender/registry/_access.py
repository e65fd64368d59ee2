"""The `/v2/` client of one endpoint: its URL, TLS trust and credentials, as `Endpoint` says."""

from __future__ import annotations

import httpx

from postrender.endpoint import Endpoint
from postrender.harbor import cookie_jar_that_keeps_nothing
from postrender.registry._client import RegistryClient


def registry_client(endpoint: Endpoint, *, timeout: float = 30.0) -> RegistryClient:
    """A RegistryClient for Harbor's `/v2/`, signed in as the endpoint's credentials."""
    http = httpx.Client(
        base_url=endpoint.url,
        verify=endpoint.tls_verify(),
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
    )
    http.cookies = cookie_jar_that_keeps_nothing()  # Harbor sets sid; keep no cookie
    return RegistryClient(http, endpoint.credentials)
