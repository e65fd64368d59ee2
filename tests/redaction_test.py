"""No secret reaches a message, whatever a server sends back: a proxy that echoes requests into
its error bodies is the worst case, since it returns the very credentials we sent. Nor does a
control character a server sends: an escape sequence or a carriage return would let its text
rewrite what the terminal shows."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from postrender.bootstrap.plan import Replication
from postrender.bootstrap.replication import replicate
from postrender.endpoint import Endpoint
from postrender.errors import ReplicationFailed, keep_secret
from postrender.harbor import Policy, connect

HARBOR_MIRROR = Path(sys.executable).parent / "harbor-mirror"
PASSWORD = "adm1n-Pa55word"
TOKEN = "upstream-t0ken-5f3a9c"


class JSONAnswers(BaseHTTPRequestHandler):
    """A loopback test server's answers: JSON bodies, no access log on stderr."""

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


class EchoingHarbor(JSONAnswers):
    """Answers setup's first reads as an admin's Harbor would, then echoes what it was sent back
    as the message of a 400: the JSON body's `credential` and the Authorization header, first
    as they came, then once more in a `token=` form no key name announces."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/api/v2.0/users/current":
            self._json(200, {"username": "admin", "sysadmin_flag": True})
        elif path == "/api/v2.0/systeminfo":
            self._json(200, {"harbor_version": "v2.15.2"})
        elif path == "/api/v2.0/registries":
            self._json(200, [])
        else:
            self._echo()

    def do_POST(self) -> None:
        self._echo()

    def _echo(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or "{}")
        credential = body.get("credential", {})
        echoed = [
            json.dumps(credential),
            f"Authorization: {self.headers.get('Authorization')}",
            f"you sent {credential.get('access_secret')} as {credential.get('access_key')}",
        ]
        self._json(400, {"errors": [{"code": "BAD_REQUEST", "message": m} for m in echoed]})


class EchoingTokenService(JSONAnswers):
    """A registry whose token service (on its own host and port, as Harbor's is) quotes the
    password it was sent back in its refusal."""

    def do_HEAD(self) -> None:
        port = self.headers["Host"].rpartition(":")[2]
        self.send_response(401)
        self.send_header("Www-Authenticate", f'Bearer realm="http://127.0.0.1:{port}/service/'
                         'token",service="harbor-registry"')  # fmt: skip
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if not self.path.startswith("/service/token"):
            self.do_HEAD()
            return
        sent = base64.b64decode(self.headers["Authorization"].split()[1]).decode()
        password = sent.partition(":")[2]
        message = f"{password} is not the password"
        self._json(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]})


class EchoingRegistry(JSONAnswers):
    """A registry whose token service hands out REGISTRY_TOKEN and whose refusals quote the
    Bearer token they were sent, bare, where no key name announces it; a signed-in HEAD echoes
    it in the Content-Type of a 200 that is no manifest."""

    def do_HEAD(self) -> None:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer":
            self.do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", f"application/x-echo; echo={token}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        if self.path.startswith("/service/token"):
            self._json(200, {"token": REGISTRY_TOKEN})
            return
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer":
            port = self.headers["Host"].rpartition(":")[2]
            challenge = f'Bearer realm="http://127.0.0.1:{port}/service/token",service="h"'
        else:
            challenge = 'Basic realm="harbor"'
        self.send_response(401)
        self.send_header("Www-Authenticate", challenge)
        message = f"{token} grants nothing here"
        data = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": message}]}).encode()
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


REGISTRY_TOKEN = "reg1stry-t0ken-9d2e"


def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def echoing_harbor() -> Iterator[str]:
    for host in serve(EchoingHarbor):
        yield f"http://{host}"


def test_setup_never_prints_the_credentials_an_echoing_server_sends_back(
    echoing_harbor: str, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
        "HELM_CONFIG_HOME": str(tmp_path / "helm"), "HELM_CACHE_HOME": str(tmp_path / "cache"),
        "HARBOR_MIRROR_HARBOR_PASSWORD": PASSWORD, "HARBOR_MIRROR_UPSTREAM_TOKEN": TOKEN,
    }  # fmt: skip
    result = subprocess.run(
        [str(HARBOR_MIRROR), "setup", "--harbor-url", echoing_harbor, "--plain-http",
         "--upstream-username", "svc-mirror", "--timeout", "5"],
        env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    warning, line = result.stderr.strip().splitlines()
    assert warning.startswith(f"warning: {echoing_harbor} is plain HTTP (--plain-http)")
    # The echo really came back (the endpoint create was refused with the request in it) ...
    assert line.startswith("harbor-mirror: error: Harbor refused POST /registries: 400 {")
    assert '"access_key": "svc-mirror", "access_secret": ***' in line
    assert "you sent *** as svc-mirror" in line
    # ... and neither the admin password, its Basic form, nor the upstream token is in it.
    basic = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, basic, TOKEN):
        assert secret not in result.stderr + result.stdout
    assert "Authorization: Basic ***" in line


def test_a_failed_tasks_log_is_printed_without_the_credentials_in_it() -> None:
    # Harbor's task logs quote upstream answers; one that echoes a token must not reach stdout.
    keep_secret(TOKEN)
    log = f"pull failed: sent 'Authorization: Bearer eyJhbGciOi.JIUzI1NiJ9x' and token={TOKEN}\n"

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": "/api/v2.0/replication/executions/3"})
        if path.endswith("/executions/3"):
            return httpx.Response(200, json={"id": 3, "status": "Failed", "total": 1, "failed": 1})
        if path.endswith("/tasks") and request.url.params.get("status") == "Failed":
            return httpx.Response(200, json=[{"id": 9, "status": "Failed",
                                              "src_resource": f"containers/etcd@{TOKEN}"}])
        if path.endswith("/tasks/9/log"):
            return httpx.Response(200, text=log)
        return httpx.Response(200, json=[])

    out = io.StringIO()
    client = connect(Endpoint.at_url("https://harbor.test", ("admin", "pw")),
                     transport=httpx.MockTransport(handler))  # fmt: skip
    with pytest.raises(ReplicationFailed):
        replicate(client, Policy(1, "p", {}), Replication("containers/etcd"), dry_run=False,
                  out=out, sleep=lambda _: None)  # fmt: skip
    printed = out.getvalue()
    assert "pull failed: sent 'Authorization: Bearer ***' and token=***" in printed
    assert "--- task 9 Failed: containers/etcd@*** → " in printed
    assert TOKEN not in printed and "eyJhbGciOi" not in printed


class EscapingTokenService(EchoingTokenService):
    """A token service whose refusal would erase the terminal's line and write another."""

    def do_GET(self) -> None:
        if not self.path.startswith("/service/token"):
            self.do_HEAD()
            return
        message = "no\x1b[2K\rall references resolve\x1b[8m"
        self._json(401, {"errors": [{"code": "UNAUTHORIZED", "message": message}]})


def test_a_servers_control_characters_are_shown_not_obeyed(tmp_path: Path) -> None:
    result = verify_against(EscapingTokenService, POD, tmp_path, "table")
    assert result.returncode == 1, result.stderr
    for printed in (result.stdout, result.stderr):
        assert "no\\x1b[2K\\x0dall references resolve\\x1b[8m" in printed
        assert "\x1b" not in printed and "\r" not in printed


def verify_against(
    handler: type[BaseHTTPRequestHandler], manifest: str, tmp_path: Path, output: str = "json"
) -> subprocess.CompletedProcess[str]:
    """`verify -o OUTPUT` of `manifest` (HOST stands for the server's address) against
    `handler`, signed in as a robot with PASSWORD."""
    path = tmp_path / "rendered.yaml"
    for host in serve(handler):
        path.write_text(manifest.replace("HOST", host))
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path),
            "HELM_CONFIG_HOME": str(tmp_path / "helm"), "HELM_CACHE_HOME": str(tmp_path / "c"),
            "HARBOR_MIRROR_USERNAME": "robot$p+ci", "HARBOR_MIRROR_HARBOR_PASSWORD": PASSWORD,
        }  # fmt: skip
        result = subprocess.run(
            [str(HARBOR_MIRROR), "verify", "--harbor-host", host, "--project", "p",
             "--plain-http", "-o", output, str(path)],
            env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
    return result


POD = "kind: Pod\nspec:\n  containers:\n  - image: HOST/p/c/etcd:1\n"


def test_verify_never_prints_the_password_a_token_service_quotes_back(tmp_path: Path) -> None:
    result = verify_against(EchoingTokenService, POD, tmp_path)
    assert result.returncode == 1, result.stderr
    printed = result.stdout + result.stderr
    assert "*** is not the password" in printed  # the quote came back, blanked
    assert PASSWORD not in printed


def test_verify_never_prints_the_registry_token_a_refusal_quotes_back(tmp_path: Path) -> None:
    repository = "kind: HelmRepository\nspec:\n  url: oci://HOST/p/charts/etcd\n---\n"
    result = verify_against(EchoingRegistry, repository + POD, tmp_path)
    assert result.returncode == 1, result.stderr
    printed = result.stdout + result.stderr
    assert "*** grants nothing here" in printed  # the quote came back, blanked
    assert "application/x-echo; echo=***, not a manifest" in result.stdout  # so did the echo
    assert REGISTRY_TOKEN not in printed
