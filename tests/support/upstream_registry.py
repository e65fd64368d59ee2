"""A real CNCF distribution registry (`docker-registry`) on loopback: the upstream in tests.

It stands for dp.apps.rancher.io: htpasswd basic auth (bcrypt), TLS from a test CA, storage in
a temporary directory. `stop()` and `start()` keep the port and the storage, so a test can take
the upstream down and bring the same content back. Its access log counts what it was asked:
`requests()` lists every request it answered, as "METHOD /path".
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import httpx
import trustme

BINARY = "docker-registry"
USERNAME = "appco-user"
PASSWORD = "appco-token-0123"
# distribution's access log (gorilla's combined format): `… "HEAD /v2/x/manifests/y HTTP/1.1" …`
_ACCESS = re.compile(r'^\S+ - \S+ \[[^]]+\] "([A-Z]+) (\S+) HTTP/[0-9.]+" ', re.MULTILINE)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class UpstreamRegistry:
    """One `docker-registry serve` process; `url`, `host`, `username`, `password`, `ca_pem`."""

    def __init__(self, root: Path, ca: trustme.CA) -> None:
        binary = shutil.which(BINARY)
        if binary is None:
            raise RuntimeError(f"{BINARY} not found: run `make test` (it installs it) or apt it")
        self.binary = binary
        self.root = root
        self.username = USERNAME
        self.password = PASSWORD
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"https://{self.host}"
        self.ca_pem = ca.cert_pem.bytes().decode("ascii")
        self.ca_file = root / "ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        self._write_config(ca)
        self._process: subprocess.Popen[bytes] | None = None

    def _write_config(self, ca: trustme.CA) -> None:
        cert = ca.issue_cert("127.0.0.1", "localhost")
        cert.cert_chain_pems[0].write_to_path(str(self.root / "server.crt"))
        cert.private_key_pem.write_to_path(str(self.root / "server.key"))
        hashed = bcrypt.hashpw(self.password.encode(), bcrypt.gensalt(rounds=5)).decode()
        (self.root / "htpasswd").write_text(f"{self.username}:{hashed}\n")
        (self.root / "config.yml").write_text(
            "version: 0.1\n"
            "log: {level: error, accesslog: {disabled: false}}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.root / 'data'}}}}}\n"
            f"http:\n  addr: {self.host}\n  secret: test-only-secret\n"
            f"  tls: {{certificate: {self.root / 'server.crt'}, key: {self.root / 'server.key'}}}\n"
            f"auth: {{htpasswd: {{realm: upstream, path: {self.root / 'htpasswd'}}}}}\n"
        )

    def client(self) -> httpx.Client:
        """An httpx client that trusts the test CA and sends the upstream's credentials."""
        return httpx.Client(
            base_url=self.url,
            auth=(self.username, self.password),
            verify=ssl.create_default_context(cadata=self.ca_pem),
            timeout=30,
        )

    def requests(self) -> list[str]:
        """Every request the registry answered since it was made, as "METHOD /path"."""
        log = self.root / "registry.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [f"{method} {path}" for method, path in _ACCESS.findall(text)]

    def start(self) -> None:
        with (self.root / "registry.log").open("ab") as log:  # the child keeps its own copy
            self._process = subprocess.Popen(
                [self.binary, "serve", str(self.root / "config.yml")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        with self.client() as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"{BINARY} exited; see {self.root / 'registry.log'}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/v2/").status_code == 200:
                        return
                time.sleep(0.05)
        raise RuntimeError(f"{BINARY} did not answer on {self.url} within 20 s")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            self._process = None

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """The upstream down for the `with` block, up again after it whatever happens."""
        self.stop()
        try:
            yield
        finally:
            self.start()
