"""`python -m tests.harbor_emulator --port PORT [--tls]`: serve the emulator until killed.

The first line of output is the base URL (port 0 picks a free one); with `--tls` the next line
names the CA file to trust, with `--fake-upstream` another gives a loopback upstream registry
and its credentials, so a demo can run `setup` with no network at all.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

from .core import HarborEmulator
from .server import LoopbackServer, tls_context, write_ca
from .upstream import FakeUpstream


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.harbor_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 (default) picks a free port")
    parser.add_argument("--tls", action="store_true", help="HTTPS with a fresh test CA")
    parser.add_argument("--ca-out", type=Path, help="where to write the CA (with --tls)")
    parser.add_argument(
        "--fake-upstream",
        action="store_true",
        help="also serve an upstream registry; prints 'upstream: URL USERNAME TOKEN'",
    )
    parser.add_argument(
        "--execution-seconds", type=float, default=3.0, help="how long a replication run takes"
    )
    parser.add_argument(
        "--harbor-version", default="v2.15.2", help="the Harbor release to behave as, or 'main'"
    )
    args = parser.parse_args(argv)

    emulator = HarborEmulator(execution_seconds=args.execution_seconds, version=args.harbor_version)
    context = None
    lines = []
    if args.tls:
        import trustme

        ca = trustme.CA()
        context = tls_context(ca)
        ca_path = args.ca_out or Path(tempfile.mkdtemp(prefix="harbor-emulator-")) / "ca.pem"
        lines.append(f"ca-file: {write_ca(ca, ca_path)}")
    server = LoopbackServer(emulator.handle, host=args.host, port=args.port, ssl_context=context)
    emulator.url = server.url
    if args.fake_upstream:
        upstream = FakeUpstream()
        upstream.url = LoopbackServer(upstream, host=args.host).start().url
        lines.append(f"upstream: {upstream.url} {upstream.username} {upstream.token}")
    print(server.url, *lines, sep="\n", flush=True)
    signal.signal(signal.SIGTERM, _stop)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
