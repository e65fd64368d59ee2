"""Pytest fixtures for the Harbor emulator and its fake upstream; API in `tests/harbor_emulator`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import trustme

from tests.harbor_emulator import (
    FakeUpstream,
    HarborEmulator,
    LoopbackServer,
    tls_context,
    write_ca,
)

EXECUTION_SECONDS = 0.3


@contextmanager
def serving_upstream() -> Iterator[FakeUpstream]:
    """A fake upstream registry served on loopback for the `with` block."""
    upstream = FakeUpstream()
    with LoopbackServer(upstream) as server:
        upstream.url = server.url
        yield upstream


@pytest.fixture
def upstream_registry() -> Iterator[FakeUpstream]:
    """A loopback upstream registry with basic auth (`.url`, `.username`, `.token`)."""
    with serving_upstream() as upstream:
        yield upstream


@pytest.fixture(scope="session")
def harbor_ca() -> trustme.CA:
    """The test CA that signs the HTTPS emulator's certificate."""
    return trustme.CA()


@pytest.fixture
def harbor() -> Iterator[HarborEmulator]:
    """A fresh emulator served over HTTP on 127.0.0.1 (`.url`, `.writes`, `.inject_fault`, ...)."""
    emulator = HarborEmulator(execution_seconds=EXECUTION_SECONDS)
    with LoopbackServer(emulator.handle) as server:
        emulator.url = server.url
        yield emulator


@pytest.fixture
def harbor_tls(harbor_ca: trustme.CA, tmp_path: Path) -> Iterator[HarborEmulator]:
    """A fresh emulator over HTTPS; `.ca_file` is the CA PEM a client must trust."""
    emulator = HarborEmulator(execution_seconds=EXECUTION_SECONDS)
    emulator.ca_file = str(write_ca(harbor_ca, tmp_path / "harbor-ca.pem"))
    with LoopbackServer(emulator.handle, ssl_context=tls_context(harbor_ca)) as server:
        emulator.url = server.url
        yield emulator
