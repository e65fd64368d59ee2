"""`harbor-mirror dependency` on charts whose dependencies are not all upstream ones, with the
real Helm binaries and no registry (the upstream and Harbor cases: tests/e2e/airgap_test.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures_helm import isolated_helm_env

CLI = Path(sys.executable).parent / "harbor-mirror"


def _dependency(
    helm: Path, root: Path, *args: str | Path, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = isolated_helm_env(helm, root / "helm").env
    env.update(HELM_BIN=str(helm), HARBOR_MIRROR_HARBOR_HOST="core.harbor.domain")
    return subprocess.run([str(CLI), "dependency", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, check=False, timeout=300)  # fmt: skip


def _umbrella(root: Path, version: str, repository: str = "file://../sub") -> Path:
    """`root/sub` (a chart at 0.2.0) and `root/app`, whose one dependency is it."""
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "Chart.yaml").write_text("apiVersion: v2\nname: sub\nversion: 0.2.0\n")
    chart = root / "app"
    chart.mkdir(exist_ok=True)
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n  - name: sub\n"
        f"    version: \"{version}\"\n    repository: {repository}\n"
    )
    return chart


@pytest.mark.parametrize("major", ["helm4", "helm3"])
def test_a_file_dependency_beside_the_chart_is_found_and_locked_as_written(
    major: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Helm reads `file://../sub` from the chart's own directory; the copy Helm runs on is
    elsewhere, so the path must still lead to the user's subchart."""
    helm: Path = request.getfixturevalue(major)
    chart = _umbrella(tmp_path, "0.2.x")

    built = _dependency(helm, tmp_path, "build", chart)

    assert built.returncode == 0, built.stderr
    assert sorted(p.name for p in (chart / "charts").iterdir()) == ["sub-0.2.0.tgz"]
    lock = (chart / "Chart.lock").read_text()
    assert "repository: file://../sub\n" in lock
    plain = isolated_helm_env(helm, tmp_path / "plain").run("dependency", "build", chart)
    assert plain.returncode == 0, plain.stderr  # plain Helm takes the lock as its own
    assert (chart / "Chart.lock").read_text() == lock
    (chart / "charts" / "sub-0.2.0.tgz").unlink()
    again = _dependency(helm, tmp_path, "build", chart)  # with the lock: its versions
    assert again.returncode == 0, again.stderr
    assert (chart / "charts" / "sub-0.2.0.tgz").is_file()


def test_flags_before_the_chart_and_the_current_directory_work_as_with_helm(
    helm4: Path, tmp_path: Path
) -> None:
    """`helm dependency build --skip-refresh CHART` and a bare `helm dependency build` in the
    chart's directory are how helm is used; the wrapper takes them the same way."""
    chart = _umbrella(tmp_path, "0.2.0", f"file://{tmp_path / 'sub'}")

    flag_first = _dependency(helm4, tmp_path, "update", "--skip-refresh", chart)
    assert flag_first.returncode == 0, flag_first.stderr
    assert [p.name for p in (chart / "charts").iterdir()] == ["sub-0.2.0.tgz"]

    here = _dependency(helm4, tmp_path, "build", cwd=chart)
    assert here.returncode == 0, here.stderr

    two = _dependency(helm4, tmp_path, "build", chart, tmp_path)
    assert two.returncode == 2
    assert two.stderr == (f"harbor-mirror: error: dependency build: one CHART_DIR, not 2 "
                          f"({chart}, {tmp_path})\n")  # fmt: skip


def test_build_refuses_a_lock_out_of_sync_with_chart_yaml_as_helm_does(
    helm4: Path, tmp_path: Path
) -> None:
    """Chart.yaml changed after its lock was written: plain `helm dependency build` refuses,
    so must this one, instead of quietly vendoring what the old lock says."""
    chart = _umbrella(tmp_path, "0.2.x")
    assert _dependency(helm4, tmp_path, "update", chart).returncode == 0
    lock = (chart / "Chart.lock").read_text()
    _umbrella(tmp_path, ">=0.2.0")

    built = _dependency(helm4, tmp_path, "build", chart)

    assert built.returncode == 2
    assert built.stdout == ""
    assert built.stderr == (
        f"harbor-mirror: error: {chart}/Chart.lock is out of sync with {chart}/Chart.yaml: "
        "run `helm harbor-mirror dependency update`\n"
    )
    assert (chart / "Chart.lock").read_text() == lock
    plain = isolated_helm_env(helm4, tmp_path / "plain").run("dependency", "build", chart)
    assert "out of sync" in plain.stderr
