"""The Harbor emulator behaves like Harbor where a client can notice: traps, paging, runs, spec."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
import pytest

from tests.harbor_emulator import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    FakeUpstream,
    HarborEmulator,
)

ADMIN = (ADMIN_USERNAME, ADMIN_PASSWORD)
REPO_ROOT = Path(__file__).resolve().parent.parent


def api(harbor: HarborEmulator, auth: tuple[str, str] | None = ADMIN) -> httpx.Client:
    """A client like the product's must be: no cookies kept (Harbor's CSRF check trips on them)."""
    return httpx.Client(
        base_url=harbor.url + "/api/v2.0",
        auth=auth,
        verify=harbor.ca_file or True,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


@pytest.fixture
def client(harbor: HarborEmulator) -> Iterator[httpx.Client]:
    with api(harbor) as c:
        yield c


def registry_body(
    upstream: FakeUpstream, *, name: str = "application-collection", token: str = ""
) -> dict[str, object]:
    return {
        "name": name,
        "type": "docker-registry",
        "url": upstream.url,
        "credential": {
            "type": "basic",
            "access_key": upstream.username,
            "access_secret": token or upstream.token,
        },
        "insecure": False,
    }


def test_wrong_password_is_anonymous_not_401(harbor: HarborEmulator) -> None:
    with api(harbor, ("admin", "wrong")) as anonymous:
        assert anonymous.get("/projects").status_code == 200
        info = anonymous.get("/systeminfo").json()
        assert "harbor_version" not in info
        current = anonymous.get("/users/current")
    assert current.status_code == 401
    assert current.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_registry_create_pings_upstream_with_given_credentials(
    client: httpx.Client, upstream_registry: FakeUpstream
) -> None:
    bad = client.post("/registries", json=registry_body(upstream_registry, token="nope"))
    assert bad.status_code == 400
    assert bad.json() == {
        "errors": [{"code": "BAD_REQUEST", "message": "the registry is unhealthy"}]
    }
    good = client.post("/registries", json=registry_body(upstream_registry))
    assert good.status_code == 201
    assert good.headers["Location"] == "/api/v2.0/registries/1"
    assert upstream_registry.paths == ["/v2/", "/v2/"]


def test_emulator_runs_from_the_command_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.harbor_emulator", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 10
        response = httpx.get(url + "/api/v2.0/users/current", auth=ADMIN)
        assert time.monotonic() < deadline
        assert response.json()["username"] == "admin"
    finally:
        process.terminate()
        process.wait(timeout=10)
