"""Build the httpx.Client of Harbor's REST API for one `Endpoint`: base URL, basic auth, TLS
trust, timeouts."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from postrender.endpoint import Endpoint
from postrender.harbor._client import HarborClient
from postrender.harbor._http import HarborHTTP
from postrender.harbor._retry import RetryPolicy

API_PREFIX = "/api/v2.0"


def connect(
    endpoint: Endpoint,
    *,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> HarborClient:
    """A HarborClient signed in as the endpoint's credentials; `transport` replaces the network
    in tests."""
    client = httpx.Client(
        base_url=endpoint.url + API_PREFIX,
        auth=httpx.BasicAuth(*endpoint.credentials) if endpoint.credentials else None,
        verify=endpoint.tls_verify(),
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        transport=transport,
        follow_redirects=False,
    )
    return HarborClient(HarborHTTP(client, retry=retry, sleep=sleep))
