"""The plugin installed into real Helm 4 and Helm 3, for every test module that runs it.

It is installed once per session (per pytest-xdist worker) into each Helm; the install hook
builds the plugin's environment offline, from a wheelhouse made once per session out of a git
copy of the working tree (what a fresh clone would hold).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import helmbin
from tests.support.fixtures_helm import HelmEnv, isolated_helm_env

REPO = Path(__file__).resolve().parents[2]
MAJORS = {"helm4": 4, "helm3": 3}


@dataclass
class Plugin:
    """A Helm with the plugin installed, and what its install printed."""

    env: HelmEnv
    major: int
    install_output: str

    def template(self, chart: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return self.env.run(
            "template", "demo", chart, "-n", "demo-ns", "--post-renderer", "harbor-mirror", *args
        )


@pytest.fixture(scope="session")
def git_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with the working tree as a fresh clone would have it (no ignored files)."""
    dest = tmp_path_factory.mktemp("upstream") / "helm-harbor-mirror"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name, follow_symlinks=False)
    git(dest, "init", "-q", "-b", "main")
    commit(dest, "the working tree under test")
    return dest


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, git_source: Path) -> Path:
    """What `make wheelhouse` collects in a fresh clone, so each install hook runs offline.

    It runs with this session's own environment (`-o` keeps make from rebuilding it there).
    """
    wheels = tmp_path_factory.mktemp("wheelhouse") / "wheelhouse"
    venv = Path(sys.executable).parent.parent
    done = subprocess.run(
        ["make", "-C", git_source, "wheelhouse", f"VENV={venv}", f"WHEELHOUSE={wheels}",
         "-o", f"{venv}/.installed"],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    return wheels


@pytest.fixture(scope="session")
def installed_plugin(
    tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, git_source: Path
) -> Callable[[str], Plugin]:
    """`installed_plugin("helm4"|"helm3")`: the plugin installed from its git URL into that Helm,
    once per session, on first use (each install builds a Python environment: slow)."""
    installed: dict[str, Plugin] = {}

    def install_once(key: str) -> Plugin:
        if key not in installed:
            major = MAJORS[key]
            root = tmp_path_factory.mktemp(f"{key}-install")
            env = offline(isolated_helm_env(helmbin.binary(key), root), wheelhouse)
            done = install(env, major, git_source.as_uri())
            assert done.returncode == 0, done.stderr
            installed[key] = Plugin(env, major, done.stdout)
        return installed[key]

    return install_once


@pytest.fixture(scope="module", params=list(MAJORS))
def plugin(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    wheelhouse: Path,
    installed_plugin: Callable[[str], Plugin],
) -> Plugin:
    """The session's install, shared by the tests that only run it. Each module has its own HOME,
    config and cache homes (setup's config, logins, the last error); the data home holding the
    plugin is the install's, which tests only read (the install hook's re-run leaves it as it
    was, and its test checks that)."""
    installed = installed_plugin(request.param)
    data_home = Path(installed.env.env["HELM_DATA_HOME"])
    root = tmp_path_factory.mktemp(request.param)
    env = offline(isolated_helm_env(installed.env.binary, root, data_home), wheelhouse)
    if installed.major == 3:
        follow_path_instructions(env, installed.install_output)
    return Plugin(env, installed.major, installed.install_output)


def git(cwd: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid",
         *map(str, args)],
        cwd=cwd, capture_output=True, text=True, check=True,
    )


def commit(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def offline(env: HelmEnv, wheelhouse: Path) -> HelmEnv:
    env.env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheelhouse))
    for name in [key for key in env.env if key.startswith("HARBOR_MIRROR_")]:
        del env.env[name]
    return env


def install(env: HelmEnv, major: int, source: str) -> subprocess.CompletedProcess[str]:
    verify = ["--verify=false"] if major == 4 and "://" in source else []
    return env.run("plugin", "install", source, *verify)


def follow_path_instructions(env: HelmEnv, install_output: str) -> None:
    """Do what the Helm 3 install line tells the user, so `--post-renderer harbor-mirror` works."""
    command = install_output.split("put it on PATH: ", 1)[1].splitlines()[0]
    subprocess.run(["sh", "-c", command], env=env.env, check=True)
    env.env["PATH"] = f"{env.env['HOME']}/.local/bin{os.pathsep}{env.env['PATH']}"
