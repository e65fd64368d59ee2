"""`--lock` on the post-renderer and the wrappers, after `verify --warm --write-lock --platform
linux/amd64` against the emulator in front of the real upstream registry: every image comes out
with its digest and nothing else changes; the chart is fetched by its locked digest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from postrender import lock as lockfile
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.fixtures_registry import ADMIN_ENV, REPO_ROOT, Mirror

UPSTREAM_CHART = "oci://dp.apps.rancher.io/charts/etcd-like"
BY_TAG = ["--set", "images.volumePermissions.digest="]  # busybox by tag: one platform


class Release:
    """Runs `harbor-mirror ARGS` with `helm` signed in to the emulator and its Harbor host set."""

    def __init__(self, mirror: Mirror, helm: Path, root: Path) -> None:
        self.mirror = mirror
        env = isolated_helm_env(helm, root / "helm")
        login = env.run("registry", "login", mirror.host, "--username", ADMIN_USERNAME,
                        "--password-stdin", "--ca-file", str(mirror.harbor.ca_file),
                        input=ADMIN_PASSWORD)
        assert login.returncode == 0, login.stderr
        self.env = {**env.env, **ADMIN_ENV, "HELM_BIN": str(helm),
                    "HARBOR_MIRROR_HARBOR_HOST": mirror.host,
                    "HARBOR_MIRROR_CA_FILE": str(mirror.harbor.ca_file)}
        self.lock = root / "lock.yaml"

    def __call__(self, *args: object, stdin: str | None = None,
                 **env: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "postrender.cli", *map(str, args)], input=stdin,
            capture_output=True, text=True, cwd=REPO_ROOT, env={**self.env, **env}, timeout=300,
        )

    def write_lock(self) -> lockfile.Lock:
        done = self("verify", "demo", UPSTREAM_CHART, "--version", "0.1.0", *BY_TAG, "--warm",
                    "--platform", "linux/amd64", "--write-lock", self.lock)
        assert done.returncode == 0, done.stderr
        return lockfile.read(self.lock)


def pinned(text: str, lock: lockfile.Lock, *, hooks: bool = True) -> str:
    """`text` with each locked reference followed by its pin, as the lock should make it;
    documents of hooks left as they are unless `hooks`."""
    pins = lock.pins()
    pattern = "|".join(re.escape(reference) for reference in sorted(pins, key=len, reverse=True))
    return "\n---".join(
        doc if not hooks and "helm.sh/hook" in doc else
        re.sub(f"({pattern})(?![@\\w.-])", lambda m: f"{m[1]}@{pins[m[1]].digest}", doc)
        for doc in text.split("\n---")
    )


@pytest.fixture
def helm4_release(mirror: Mirror, helm4: Path, tmp_path: Path) -> Release:
    return Release(mirror, helm4, tmp_path)


def test_postrender_lock_adds_each_digest_and_changes_no_other_byte(
    helm4_release: Release, helm4: Path
) -> None:
    release = helm4_release
    lock = release.write_lock()
    assert len(lock.images) == 3 and len(lock.charts) == 1
    rendered = subprocess.run(
        [str(helm4), "template", "demo", REPO_ROOT / "charts-fixtures" / "etcd-like", *BY_TAG],
        capture_output=True, text=True, env=release.env, check=True,
    ).stdout
    plain = release("postrender", stdin=rendered)
    with_lock = release("postrender", "--lock", release.lock, stdin=rendered)
    assert plain.returncode == with_lock.returncode == 0, with_lock.stderr
    assert with_lock.stdout == pinned(plain.stdout, lock) != plain.stdout
    (hook,) = [doc for doc in with_lock.stdout.split("\n---") if "helm.sh/hook" in doc]
    assert "@sha256:" in hook  # helm template renders hooks, as Helm 4 post-renders them
    report = release.lock.parent / "report.json"
    by_env = release("postrender", "--report", report, stdin=rendered,
                     HARBOR_MIRROR_LOCK=str(release.lock))
    assert by_env.stdout == with_lock.stdout
    images = [entry["after"] for entry in json.loads(report.read_text())
              if entry["path"].endswith(".image")]
    assert images and all("@sha256:" in image for image in images)  # the report says the pin


def test_postrender_lock_refuses_a_reference_the_lock_lacks(helm4_release: Release) -> None:
    release = helm4_release
    release.write_lock()
    stream = "image: dp.apps.rancher.io/containers/redis:7.2\n"
    refused = release("postrender", "--lock", release.lock, stdin=stream)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert (f"{release.mirror.host}/application-collection/containers/redis:7.2 is not in the "
            f"lock file {release.lock}; re-run `helm harbor-mirror verify --write-lock`"
            ) in refused.stderr  # fmt: skip


def test_template_wrapper_on_helm3_fetches_the_chart_by_its_locked_digest(
    mirror: Mirror, helm4: Path, helm3: Path, tmp_path: Path
) -> None:
    lock = Release(mirror, helm4, tmp_path / "4").write_lock()
    release = Release(mirror, helm3, tmp_path / "3")
    args = ["template", "demo", UPSTREAM_CHART, "--version", "0.1.0", *BY_TAG]
    plain = release(*args)
    lock.write(release.lock)
    mirror.harbor.clear_log()
    with_lock = release(*args, "--lock", release.lock)
    assert plain.returncode == with_lock.returncode == 0, with_lock.stderr
    chart_asks = [r.path for r in mirror.harbor.requests if "/charts/" in r.path]
    (digest,) = [chart.digest for chart in lock.charts.values()]
    assert chart_asks and not [path for path in chart_asks if "/manifests/0.1.0" in path]
    assert f"/v2/application-collection/charts/etcd-like/manifests/{digest}" in chart_asks
    assert with_lock.stdout == pinned(plain.stdout, lock, hooks=False) != plain.stdout
    assert "not pinned: the images of the chart's hooks" in with_lock.stderr
    strict = release(*args, "--lock", release.lock, "--post-renderer-args", "--strict")
    assert strict.returncode == 2 and "use Helm 4" in strict.stderr
    (chart,) = lock.charts
    wrong = lockfile.Lock(lock.images, {chart: lockfile.ChartLock("sha256:" + "0" * 64)})
    wrong.write(release.lock)
    refused = release(*args, "--lock", release.lock)
    assert refused.returncode == 1  # Helm asked Harbor for that digest, which names nothing
    unpinned = chart.rpartition(":")[0]
    assert f"(chart through Harbor: {unpinned}@sha256:{'0' * 64})" in refused.stderr


def test_verify_lock_refuses_a_chart_version_the_lock_lacks(helm4_release: Release) -> None:
    # as the wrappers' --lock does: passing it here (asked by tag) would promise an install
    # that `install --lock` then refuses
    release, lock = helm4_release, helm4_release.write_lock()
    lockfile.Lock(lock.images).write(release.lock)
    refused = release("verify", "demo", UPSTREAM_CHART, "--version", "0.1.0", *BY_TAG,
                      "--lock", release.lock)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert (f"the chart oci://{release.mirror.host}/application-collection/charts/etcd-like:"
            f"0.1.0 is not in the lock file {release.lock}; re-run `helm harbor-mirror verify "
            "--write-lock`") in refused.stderr
