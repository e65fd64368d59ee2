"""Pinned pulls through Harbor with a real client: after `verify --warm --write-lock --platform
linux/amd64`, `skopeo copy` of every locked `name@digest` costs the upstream nothing and works
with the upstream stopped, while the same release's tags ask the upstream once per pull and,
for a multi-arch image, fail while it is down.

The upstream is the real CNCF distribution registry, whose access log counts every request
Harbor (the emulator) sends it. skopeo takes `name@sha256:…`, not a tag and digest together.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from postrender import lock as lockfile
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.fixtures_registry import ADMIN_ENV, CHART, REPO_ROOT, Mirror

TIMEOUT = 120


def harbor_mirror(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "postrender.cli", *map(str, args)],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=TIMEOUT,
    )


def skopeo_pull(mirror: Mirror, reference: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`skopeo copy` of a Harbor reference for linux/amd64, as a node would pull it."""
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        pytest.skip("skopeo not installed (Debian package skopeo; `make test` installs it)")
    certs = out.parent / "certs"
    certs.mkdir(exist_ok=True)
    shutil.copyfile(str(mirror.harbor.ca_file), certs / "ca.crt")
    shutil.rmtree(out, ignore_errors=True)
    return subprocess.run(
        [skopeo, "copy", "--src-creds", f"{ADMIN_USERNAME}:{ADMIN_PASSWORD}",
         "--src-cert-dir", str(certs), "--override-os", "linux", "--override-arch", "amd64",
         "--retry-times", "0", f"docker://{reference}", f"oci:{out}"],
        capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False,
    )


def upstream_requests(mirror: Mirror) -> int:
    return len(mirror.upstream.registry.requests())


@pytest.fixture
def locked(mirror: Mirror, helm4: Path, tmp_path: Path) -> lockfile.Lock:
    """The fixture chart (busybox by tag: a single-platform image) warmed and locked for
    linux/amd64."""
    helm = isolated_helm_env(helm4, tmp_path / "helm")
    env = {**helm.env, **ADMIN_ENV, "HELM_BIN": str(helm4)}
    lock = tmp_path / "lock.yaml"
    done = harbor_mirror(env, "verify", "demo", CHART, "--set", "images.volumePermissions.digest=",
                         "--harbor-host", mirror.host, "--ca-file", mirror.harbor.ca_file,
                         "--warm", "--platform", "linux/amd64", "--write-lock", lock)
    assert done.returncode == 0, done.stderr
    return lockfile.read(lock)


def test_pinned_pulls_cost_the_upstream_nothing_and_survive_its_outage(
    mirror: Mirror, locked: lockfile.Lock, tmp_path: Path
) -> None:
    pinned = [f"{reference.rpartition(':')[0]}@{pin.digest}"
              for reference, pin in locked.pins().items()]
    assert len(pinned) == 3
    before = upstream_requests(mirror)
    for reference in pinned:
        pulled = skopeo_pull(mirror, reference, tmp_path / "out")
        assert pulled.returncode == 0, pulled.stderr
    assert upstream_requests(mirror) == before
    with mirror.upstream.registry.stopped():
        for reference in pinned:
            pulled = skopeo_pull(mirror, reference, tmp_path / "out")
            assert pulled.returncode == 0, f"{reference}: {pulled.stderr}"
        for reference, image in locked.images.items():  # the same release by tag
            pulled = skopeo_pull(mirror, reference, tmp_path / "out")
            assert (pulled.returncode == 0) is (not image.platforms), reference


def test_each_pull_by_tag_asks_the_upstream_once(
    mirror: Mirror, locked: lockfile.Lock, tmp_path: Path
) -> None:
    for reference in locked.images:
        before = upstream_requests(mirror)
        pulled = skopeo_pull(mirror, reference, tmp_path / "out")
        assert pulled.returncode == 0, pulled.stderr
        asked = mirror.upstream.registry.requests()[before:]
        assert [request.partition(" ")[0] for request in asked] == ["HEAD"], reference
