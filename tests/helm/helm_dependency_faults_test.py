"""`harbor-mirror dependency` on a full disk and on Chart.yaml files Helm accepts however they
are written: the user's chart is updated completely or left byte for byte as it was."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures_helm import isolated_helm_env

CLI = Path(sys.executable).parent / "harbor-mirror"


def _dependency(
    helm: Path, root: Path, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    env = isolated_helm_env(helm, root / "helm").env
    scratch = root / "scratch"  # Helm's working copy is not on the full disk
    scratch.mkdir(exist_ok=True)
    env.update(HELM_BIN=str(helm), HARBOR_MIRROR_HARBOR_HOST="core.harbor.domain",
               TMPDIR=str(scratch))  # fmt: skip
    return subprocess.run([str(CLI), "dependency", *map(str, args)], capture_output=True,
                          text=True, env=env, check=False, timeout=300)  # fmt: skip


def _subchart(directory: Path, name: str, payload: bytes = b"", version: str = "0.2.0") -> Path:
    (directory / "files").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: {version}\n")
    (directory / "files" / "payload").write_bytes(payload)
    return directory


def _package(helm: Path, chart: Path, destination: Path) -> None:
    subprocess.run([str(helm), "package", str(chart), "--destination", str(destination)],
                   capture_output=True, check=True)  # fmt: skip


def _chart_yaml(subcharts: dict[str, Path]) -> str:
    return "apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n" + "".join(
        f"  - name: {name}\n    version: 0.2.0\n    repository: file://{path}\n"
        for name, path in subcharts.items()
    )


def _snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every entry under `directory` with its bytes (None for a directory)."""
    return {
        str(path.relative_to(directory)): None if path.is_dir() else path.read_bytes()
        for path in sorted(directory.rglob("*"))
    }


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill up here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def _fill(disk: Path) -> None:
    """Take every free block of `disk`."""
    with (disk / "filler").open("wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"\0" * 4096)


def _assert_refused_and_untouched(
    done: subprocess.CompletedProcess[str], chart: Path, before: dict[str, bytes | None]
) -> None:
    assert done.returncode in (1, 2), done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("harbor-mirror: error: dependency update: cannot write ")
    assert "(No space left on device)" in done.stderr
    assert _snapshot(chart) == before  # byte for byte, and no temporary file left beside them


def test_a_full_disk_leaves_the_old_archives_and_no_truncated_one(
    helm4: Path, tmp_path: Path, small_disk: Path
) -> None:
    """The fetched archive does not fit: the vendored one must survive, no half archive."""
    big = _subchart(tmp_path / "big", "big", os.urandom(1536 * 1024))  # incompressible
    chart = small_disk / "app"
    (chart / "charts").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(_chart_yaml({"big": big}))
    vendored = _subchart(tmp_path / "vendored", "big", os.urandom(64 * 1024), "0.1.0")
    _package(helm4, vendored, chart / "charts")
    (chart / "Chart.lock").write_text("dependencies: []\ndigest: sha256:0\n")
    _fill(small_disk)
    before = _snapshot(chart)

    _assert_refused_and_untouched(_dependency(helm4, tmp_path, "update", chart), chart, before)


def test_a_full_disk_leaves_chart_lock_whole(
    helm4: Path, tmp_path: Path, small_disk: Path
) -> None:
    """The archives are those already in charts/ (rewritten in place they fit), but the new
    Chart.lock needs more blocks than the old one held."""
    subs = tmp_path / ("s" * 200)
    subcharts = {
        f"d{index}-{'x' * 200}": _subchart(subs / f"d{index}{'y' * 200}", f"d{index}-{'x' * 200}")
        for index in range(8)
    }
    work = tmp_path / "work"
    work.mkdir()
    (work / "Chart.yaml").write_text(_chart_yaml(subcharts))
    first = _dependency(helm4, tmp_path, "update", work)
    assert first.returncode == 0, first.stderr
    assert len((work / "Chart.lock").read_bytes()) > 4096  # a second block on the tmpfs
    chart = small_disk / "app"
    (chart / "charts").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(_chart_yaml(subcharts))
    for archive in (work / "charts").iterdir():
        (chart / "charts" / archive.name).write_bytes(archive.read_bytes())
    (chart / "Chart.lock").write_text("dependencies: []\ndigest: sha256:0\n")
    _fill(small_disk)
    before = _snapshot(chart)

    _assert_refused_and_untouched(_dependency(helm4, tmp_path, "update", chart), chart, before)


DEPENDENCY = "dependencies:\n  - name: sub\n    version: 0.2.0\n    repository: file://{sub}\n"
# Chart.yaml files Helm reads without complaint (sigs.k8s.io/yaml: any BOM, a timestamp as its
# text, !!binary as its bytes).
ACCEPTED_BY_HELM = {
    "utf-16 with BOM": ("apiVersion: v2\nname: app\nversion: 1.0.0\n" + DEPENDENCY, "utf-16"),
    "utf-8 with BOM": ("apiVersion: v2\nname: app\nversion: 1.0.0\n" + DEPENDENCY, "utf-8-sig"),
    "unquoted date": ("apiVersion: v2\nname: app\nversion: 2024-01-01\nannotations:\n"
                      "  built: 2024-01-01T10:00:00Z\n" + DEPENDENCY
                      + "    tags: [2024-01-01]\n", "utf-8"),
    "!!binary": ("apiVersion: v2\nname: app\nversion: 1.0.0\ndescription: !!binary aGk=\n"
                 + DEPENDENCY, "utf-8"),
}  # fmt: skip


@pytest.mark.parametrize("written", ACCEPTED_BY_HELM.values(), ids=ACCEPTED_BY_HELM.keys())
def test_chart_yaml_as_helm_reads_it(
    written: tuple[str, str], helm4: Path, tmp_path: Path
) -> None:
    text, encoding = written
    sub = _subchart(tmp_path / "sub", "sub")
    chart = tmp_path / "app"
    chart.mkdir()
    (chart / "Chart.yaml").write_bytes(text.format(sub=sub).encode(encoding))

    updated = _dependency(helm4, tmp_path, "update", chart)

    assert updated.returncode == 0, updated.stderr
    assert [path.name for path in (chart / "charts").iterdir()] == ["sub-0.2.0.tgz"]
    plain = isolated_helm_env(helm4, tmp_path / "plain").run("dependency", "build", chart)
    assert plain.returncode == 0, plain.stderr  # Helm takes the lock's digest as its own
    (chart / "charts" / "sub-0.2.0.tgz").unlink()
    built = _dependency(helm4, tmp_path, "build", chart)
    assert built.returncode == 0, built.stderr


@pytest.mark.parametrize("major", ["helm4", "helm3"])
def test_an_empty_dependencies_writes_nothing_as_with_helm(
    major: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    helm: Path = request.getfixturevalue(major)
    chart = tmp_path / "app"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\ndependencies:\n")
    before = _snapshot(chart)
    plain = isolated_helm_env(helm, tmp_path / "plain").run("dependency", "update", chart)
    assert plain.returncode == 0, plain.stderr
    assert _snapshot(chart) == before

    for action in ("update", "build"):
        done = _dependency(helm, tmp_path, action, chart)
        assert done.returncode == 0, done.stderr
        assert _snapshot(chart) == before


def test_a_symlinked_charts_directory_receives_the_archives_as_with_helm(
    helm4: Path, tmp_path: Path
) -> None:
    sub = _subchart(tmp_path / "sub", "sub")
    shared = tmp_path / "shared-charts"
    _package(helm4, _subchart(tmp_path / "outdated", "sub", version="0.1.0"), shared)
    chart = tmp_path / "app"
    chart.mkdir()
    (chart / "Chart.yaml").write_text(
        "apiVersion: v2\nname: app\nversion: 1.0.0\n" + DEPENDENCY.format(sub=sub)
    )
    (chart / "charts").symlink_to("../shared-charts")

    updated = _dependency(helm4, tmp_path, "update", chart)

    assert updated.returncode == 0, updated.stderr
    assert (chart / "charts").is_symlink()
    assert [path.name for path in shared.iterdir()] == ["sub-0.2.0.tgz"]
    assert (chart / "Chart.lock").is_file()
