"""Serve a `Request → Response` function on a real loopback socket, over HTTP or HTTPS.

Used for both the Harbor emulator and the fake upstream registry, so TLS, keep-alive and
timeouts are exercised by real sockets in end-to-end tests.
"""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .wire import Request, Response

if TYPE_CHECKING:
    import trustme

Handle = Callable[[Request], Response]


def _handler_class(handle: Handle) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            """No Nagle: headers and body go out in two writes, which would stall keep-alive."""
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = Request.build(self.command, self.path, self.headers.items(), body)
            response = handle(request)
            try:
                self.send_response(response.status)
                for name, value in response.headers:
                    self.send_header(name, value)
                if response.header("Content-Length") is None:  # a HEAD may name the GET's length
                    self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD":
                    time.sleep(response.body_seconds)
                    self.wfile.write(response.body)
            finally:
                response.sent()

        do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests query the recorded requests instead of reading a log."""

    return _Handler


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout under test) is normal; anything else is printed."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded server on 127.0.0.1 (port 0 = a free port); `url` has no trailing slash."""

    def __init__(
        self,
        handle: Handle,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._server = _Server((host, port), _handler_class(handle))
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def serve_forever(self) -> None:
        """Serve in the calling thread; a short poll keeps `stop()` quick for test teardown."""
        self._server.serve_forever(poll_interval=0.02)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def tls_context(ca: trustme.CA) -> ssl.SSLContext:
    """A server context whose certificate, issued by `ca`, names 127.0.0.1 and localhost."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


def write_ca(ca: trustme.CA, path: Path) -> Path:
    """Write the CA certificate where a client's `--ca-file` can read it."""
    ca.cert_pem.write_to_path(str(path))
    return path
