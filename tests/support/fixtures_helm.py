"""Pytest fixtures: the real Helm 4 and Helm 3 binaries, and a throw-away Helm home per test.

Nothing here is skipped for a missing binary: `tests.support.helmbin` fetches and verifies it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import helmbin


@dataclass(frozen=True)
class HelmEnv:
    """One Helm binary with its own HOME, config, data, cache and plugins dirs, and no cluster."""

    binary: Path
    root: Path
    env: dict[str, str]

    @property
    def plugins_dir(self) -> Path:
        return Path(self.env["HELM_PLUGINS"])

    def run(
        self,
        *args: str | os.PathLike[str],
        input: str = "",
        cwd: Path | None = None,
        extra_env: Mapping[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run helm in these homes, stdin never a terminal; callers check returncode."""
        return subprocess.run(
            [str(self.binary), *map(str, args)],
            input=input,
            capture_output=True,
            text=True,
            cwd=cwd,
            env={**self.env, **(extra_env or {})},
            timeout=timeout,
        )


def isolated_helm_env(binary: Path, root: Path, data_home: Path | None = None) -> HelmEnv:
    """Every Helm location under `root` (the data home, which holds the plugins, may be one
    already made elsewhere), no XDG overrides, KUBECONFIG at a missing file."""
    homes = {
        "HOME": root / "home",
        "HELM_CONFIG_HOME": root / "config",
        "HELM_DATA_HOME": data_home or root / "data",
        "HELM_CACHE_HOME": root / "cache",
    }
    for path in homes.values():
        path.mkdir(parents=True, exist_ok=True)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HELM_", "XDG_"))}
    env.update({key: str(path) for key, path in homes.items()})
    env["HELM_PLUGINS"] = str(homes["HELM_DATA_HOME"] / "plugins")
    env["KUBECONFIG"] = str(root / "no-cluster" / "kubeconfig")
    env.pop("HARBOR_MIRROR_CONFIG", None)
    return HelmEnv(binary=binary, root=root, env=env)


@pytest.fixture(scope="session")
def helm4() -> Path:
    """Helm 4.1.4."""
    return helmbin.helm4_binary()


@pytest.fixture(scope="session")
def helm3() -> Path:
    """Helm 3.18.0."""
    return helmbin.helm3_binary()


@pytest.fixture(scope="session")
def kubectl() -> Path:
    """kubectl 1.35.2 (kustomize 5.7.1 built in)."""
    return helmbin.kubectl_binary()


@pytest.fixture
def helm_env(tmp_path: Path) -> Callable[[Path], HelmEnv]:
    """Factory: `helm_env(helm4)` gives that binary a fresh set of homes under tmp_path."""
    made: list[str] = []

    def make(binary: Path) -> HelmEnv:
        made.append(binary.name)
        return isolated_helm_env(binary, tmp_path / f"helm-{len(made)}")

    return make
