"""`python -m bench.pinned`: upstream requests per release pulled through Harbor, by tag vs pinned.

A release of three images (two multi-arch, one single-platform) lives in a real CNCF
distribution registry (`docker-registry`, the upstream), whose access log counts what it is
asked; the Harbor emulator's proxy-cache project fronts it. `verify --warm --write-lock` fills
and locks the cache, then `skopeo copy` pulls every image for linux/amd64 as a node would, by
tag, pinned by a lock written with `--platform linux/amd64`, and pinned by a lock written
without it (the upstream index digests), first with the upstream answering, then stopped.
Needs docker-registry and skopeo (Debian packages; `make test` installs both). Nothing is
asserted; the figures are printed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import trustme

from bench.startup import isolated_env
from postrender import lock as lockfile
from tests.harbor_emulator import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    HarborEmulator,
    LoopbackServer,
    tls_context,
    write_ca,
)
from tests.support.fixtures_registry import ADMIN_ENV, Upstream, add_proxy_project
from tests.support.oci_content import Pusher
from tests.support.upstream_registry import UpstreamRegistry

REPO = Path(__file__).resolve().parent.parent
IMAGES = {
    "containers/etcd:3.5.17-1.2": ["linux/amd64", "linux/arm64"],
    "containers/kubectl:1.33.4": ["linux/amd64", "linux/arm64", "linux/s390x"],
    "containers/bci-busybox:15.6": ["linux/amd64"],
}
RELEASE = "".join(f"---\nkind: Pod\nspec:\n  containers:\n  - image: dp.apps.rancher.io/{name}\n"
                  for name in IMAGES)


@contextmanager
def mirror(work: Path) -> Iterator[tuple[HarborEmulator, UpstreamRegistry]]:
    """The upstream with the release pushed, and the emulator's proxy project in front of it."""
    registry = UpstreamRegistry(work, trustme.CA())
    registry.start()
    try:
        with registry.client() as client:
            pusher = Pusher(client)
            images = {name: pusher.image(name.partition(":")[0], name.partition(":")[2],
                                         platforms)
                      for name, platforms in IMAGES.items()}
        ca = trustme.CA()
        harbor = HarborEmulator()
        harbor.ca_file = str(write_ca(ca, work / "harbor-ca.pem"))
        with LoopbackServer(harbor.handle, ssl_context=tls_context(ca)) as server:
            harbor.url = server.url
            add_proxy_project(harbor, Upstream(registry, images), "application-collection")
            yield harbor, registry
    finally:
        registry.stop()


class Puller:
    """`skopeo copy` of Harbor references for linux/amd64, counting upstream requests."""

    def __init__(self, harbor: HarborEmulator, registry: UpstreamRegistry, work: Path) -> None:
        skopeo = shutil.which("skopeo")
        if skopeo is None:
            raise SystemExit("bench.pinned needs skopeo (Debian package skopeo)")
        self.skopeo, self.registry, self.work = skopeo, registry, work
        certs = work / "certs"
        certs.mkdir(exist_ok=True)
        assert harbor.ca_file is not None
        shutil.copyfile(harbor.ca_file, certs / "ca.crt")

    def release(self, references: list[str]) -> tuple[int, int]:
        """(upstream requests, images pulled) for one pull of every reference."""
        before = len(self.registry.requests())
        pulled = sum(self._pull(reference) for reference in references)
        return len(self.registry.requests()) - before, pulled

    def _pull(self, reference: str) -> bool:
        out = self.work / "out"
        shutil.rmtree(out, ignore_errors=True)
        done = subprocess.run(
            [self.skopeo, "copy", "--src-creds", f"{ADMIN_USERNAME}:{ADMIN_PASSWORD}",
             "--src-cert-dir", str(self.work / "certs"), "--override-os", "linux",
             "--override-arch", "amd64", "--retry-times", "0", f"docker://{reference}",
             f"oci:{out}"],
            capture_output=True, timeout=120, check=False, stdin=subprocess.DEVNULL,
        )
        return done.returncode == 0


def write_lock(harbor: HarborEmulator, work: Path, name: str, *options: str) -> lockfile.Lock:
    """`verify --warm --write-lock` of the release; the lock it wrote."""
    rendered = work / "release.yaml"
    rendered.write_text(RELEASE)
    lock = work / name
    assert harbor.ca_file is not None
    done = subprocess.run(
        [sys.executable, "-m", "postrender.cli", "verify", str(rendered),
         "--harbor-host", harbor.url.removeprefix("https://"), "--ca-file", harbor.ca_file,
         "--warm", "--write-lock", str(lock), *options],
        capture_output=True, text=True, cwd=REPO, timeout=300, check=False,
        env={**isolated_env(work), **ADMIN_ENV},
    )
    if done.returncode != 0:
        raise SystemExit(f"verify --write-lock failed: {done.stderr.strip()}")
    return lockfile.read(lock)


def pinned(lock: lockfile.Lock) -> list[str]:
    """`name@digest` of every locked reference, as skopeo takes it."""
    return [f"{reference.rpartition(':')[0]}@{pin.digest}"
            for reference, pin in sorted(lock.pins().items())]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-pinned-") as temp:
        work = Path(temp)
        with mirror(work) as (harbor, registry):
            puller = Puller(harbor, registry, work)
            by_platform = write_lock(harbor, work, "amd64.lock", "--platform", "linux/amd64")
            by_index = write_lock(harbor, work, "index.lock")
            ways = {
                "by tag": sorted(by_platform.images),
                "pinned (lock --platform linux/amd64)": pinned(by_platform),
                "pinned (lock without --platform)": pinned(by_index),
            }
            up = {way: puller.release(references) for way, references in ways.items()}
            registry.stop()
            try:
                down = {way: puller.release(references) for way, references in ways.items()}
            finally:
                registry.start()
    count = len(IMAGES)
    print(f"upstream requests per release pulled through Harbor ({count} images, 2 multi-arch; "
          "skopeo, linux/amd64; everything warmed first)")
    width = max(map(len, ways))
    print(f"{'':{width}}  {'upstream up':>24}  {'upstream stopped':>17}")
    for way in ways:
        requests, pulled = up[way]
        print(f"{way:{width}}  {requests:>3} requests, {pulled}/{count} pulled  "
              f"{down[way][1]:>10}/{count} pulled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
