"""`verify --write-lock` and `verify --lock`, end to end: the real upstream registry (which
counts what it is asked), the Harbor emulator's proxy cache in front of it, Helm 4 rendering.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from postrender import lock as lockfile
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.fixtures_registry import ADMIN_ENV, CHART, REPO_ROOT, busybox_digest
from tests.support.fixtures_signed import push_helm_chart
from tests.support.oci_content import OCI_INDEX, Pusher

PROJECT = "application-collection"


class Runner:
    """Runs `harbor-mirror ARGS` as a user would, with Helm 4 and admin credentials."""

    def __init__(self, env):
        self.env = env

    def __call__(self, *args):
        return subprocess.run(
            [sys.executable, "-m", "postrender.cli", *map(str, args)],
            capture_output=True, text=True, cwd=REPO_ROOT, env=self.env, timeout=120,
        )


@pytest.fixture
def run(mirror, helm4, tmp_path):
    helm = isolated_helm_env(helm4, tmp_path / "helm")
    return Runner({**helm.env, **ADMIN_ENV, "HELM_BIN": str(helm4)})


def release(mirror):
    """The fixture chart with its busybox by tag (a single-platform image), and the Harbor
    options verify needs."""
    return ["demo", CHART, "--set", "images.volumePermissions.digest=",
            "--harbor-host", mirror.host, "--ca-file", mirror.harbor.ca_file]


def child(mirror, image, platform):
    """The upstream index's manifest digest for `platform`."""
    repository, _, tag = image.partition(":")
    with mirror.upstream.registry.client() as client:
        index = client.get(f"/v2/{repository}/manifests/{tag}",
                           headers={"Accept": "application/vnd.oci.image.index.v1+json"}).json()
    return next(entry["digest"] for entry in index["manifests"]
                if f"{entry['platform']['os']}/{entry['platform']['architecture']}" == platform)


def test_write_lock_pins_single_platform_images_and_the_platform_asked_for(
    mirror, run, tmp_path
):
    lock = tmp_path / "harbor-mirror.lock"
    done = run("verify", *release(mirror), "--warm", "--platform", "linux/amd64",
               "--write-lock", lock)
    assert done.returncode == 0, done.stderr
    images = mirror.upstream.images
    prefix = f"{mirror.host}/{PROJECT}/containers"
    written = lockfile.read(lock)
    assert {ref: image.pin for ref, image in written.images.items()} == {
        f"{prefix}/bci-busybox:15.6": busybox_digest(mirror),
        f"{prefix}/etcd:3.5.17-1.2": child(mirror, "containers/etcd:3.5.17-1.2", "linux/amd64"),
        f"{prefix}/kubectl:1.33.4": child(mirror, "containers/kubectl:1.33.4", "linux/amd64"),
    }
    etcd = written.images[f"{prefix}/etcd:3.5.17-1.2"]
    assert etcd.upstream == images["containers/etcd:3.5.17-1.2"].digest
    assert etcd.platform == "linux/amd64"
    assert sorted(etcd.platforms) == ["linux/amd64", "linux/arm64"]
    text = lock.read_text()
    assert text.startswith("# helm-harbor-mirror lock file")
    assert "\nversion: 1\n" in text
    assert "Harbor12345" not in text and "token" not in text.lower()
    assert lock.read_bytes() == written.dump()  # sorted, one spelling: written as it reads


def test_write_lock_without_one_platform_pins_the_upstream_index(mirror, run, tmp_path):
    lock = tmp_path / "lock.yaml"
    done = run("verify", *release(mirror), "--write-lock", lock)
    assert done.returncode == 0, done.stderr
    etcd = lockfile.read(lock).images[f"{mirror.host}/{PROJECT}/containers/etcd:3.5.17-1.2"]
    assert etcd.pin == etcd.upstream == mirror.upstream.images["containers/etcd:3.5.17-1.2"].digest
    assert etcd.platform == ""


def test_write_lock_merges_and_keeps_a_changed_entry_unless_asked(mirror, run, tmp_path):
    lock = tmp_path / "lock.yaml"
    other = f"{mirror.host}/{PROJECT}/containers/other:1.0"
    moved = f"{mirror.host}/{PROJECT}/containers/kubectl:1.33.4"
    lockfile.Lock({other: lockfile.ImageLock("sha256:" + "a" * 64),
                   moved: lockfile.ImageLock("sha256:" + "b" * 64)}).write(lock)
    before = lock.read_bytes()
    refused = run("verify", *release(mirror), "--write-lock", lock)
    assert refused.returncode == 1
    assert f"first {moved}: pass --update-lock to take the new digests" in refused.stderr
    assert lock.read_bytes() == before
    done = run("verify", *release(mirror), "--write-lock", lock, "--update-lock")
    assert done.returncode == 0, done.stderr
    merged = lockfile.read(lock)
    assert merged.images[other].upstream == "sha256:" + "a" * 64  # another chart's entry kept
    kubectl = mirror.upstream.images["containers/kubectl:1.33.4"]
    assert merged.images[moved].upstream == kubectl.digest


def test_lock_checks_by_digest_and_passes_while_nothing_moved(mirror, run, tmp_path):
    lock = tmp_path / "lock.yaml"
    done = run("verify", *release(mirror), "--warm", "--platform", "linux/amd64",
               "--write-lock", lock)
    assert done.returncode == 0, done.stderr
    checked = run("verify", *release(mirror), "--lock", lock, "-o", "json")
    assert checked.returncode == 0, checked.stderr
    assert "3 tags asked for by tag" in checked.stderr
    results = {entry["reference"]: entry for entry in json.loads(checked.stdout)}
    pins = lockfile.read(lock).pins()
    for reference, pin in pins.items():  # every image asked for by its pinned digest
        assert results[f"{reference}@{pin.digest}"]["result"] == "ok"
        assert results[f"{reference}@{pin.digest}"]["digest"] == pin.digest


def test_lock_reports_a_tag_moved_upstream_as_stale(mirror, run, tmp_path):
    with mirror.upstream.registry.client() as client:
        Pusher(client).image("containers/moving", "1.0", ["linux/amd64"])
        rendered = tmp_path / "rendered.yaml"
        rendered.write_text("image: dp.apps.rancher.io/containers/moving:1.0\n")
        target = ["--harbor-host", mirror.host, "--ca-file", mirror.harbor.ca_file]
        lock = tmp_path / "lock.yaml"
        assert run("verify", rendered, *target, "--warm", "--write-lock", lock).returncode == 0
        Pusher(client).image("containers/moving", "1.0", ["linux/amd64"], build=" rebuilt")
    stale = run("verify", rendered, *target, "--lock", lock, "-o", "json")
    assert stale.returncode == 1
    (result,) = json.loads(stale.stdout)
    assert result["result"] == "stale"
    assert "asked by tag" in result["detail"]
    assert "--update-lock" in result["detail"]
    assert "1 tags asked for by tag" in stale.stderr
    refused = run("verify", rendered, *target, "--write-lock", lock)
    assert refused.returncode == 1
    assert "pass --update-lock" in refused.stderr
    assert run("verify", rendered, *target, "--write-lock", lock, "--update-lock").returncode == 0
    assert run("verify", rendered, *target, "--lock", lock).returncode == 0


def test_lock_reports_a_chart_version_moved_upstream_as_stale(mirror, run, tmp_path):
    # Harbor stores a chart with its own bytes, so its locked digest compares as it is
    chart = ["demo", "oci://dp.apps.rancher.io/charts/moving-chart", "--version", "0.1.0",
             "--harbor-host", mirror.host, "--ca-file", mirror.harbor.ca_file]
    config_map = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  build: '{}'\n"
    lock = tmp_path / "lock.yaml"
    with mirror.upstream.registry.client() as client:
        push_helm_chart(Pusher(client), "moving-chart", {"cm.yaml": config_map.format(1)})
        assert run("verify", *chart, "--warm", "--write-lock", lock).returncode == 0
        push_helm_chart(Pusher(client), "moving-chart", {"cm.yaml": config_map.format(2)})
    stale = run("verify", *chart, "--lock", lock, "-o", "json")
    assert stale.returncode == 1
    (result,) = json.loads(stale.stdout)
    ((url, locked),) = lockfile.read(lock).charts.items()
    assert (result["reference"], result["result"]) == (f"{url}@{locked.digest}", "stale")
    assert "asked by tag" in result["detail"] and "--update-lock" in result["detail"]
    assert "1 tags asked for by tag" in stale.stderr
    assert run("verify", *chart, "--write-lock", lock).returncode == 1
    assert run("verify", *chart, "--write-lock", lock, "--update-lock").returncode == 0
    assert run("verify", *chart, "--lock", lock).returncode == 0


def test_harbors_own_list_is_recorded_and_not_stale_while_the_upstream_is_down(
    mirror, run, tmp_path
):
    # Harbor pushes the index rebuilt, trimmed to the warmed platform, under a digest of its
    # own (manifestcache.go:ManifestListCache.push) and, with the upstream gone, serves that
    # list for the tag: the lock keeps its pins and records that digest as Harbor's.
    lock = tmp_path / "lock.yaml"
    done = run("verify", *release(mirror), "--warm", "--platform", "linux/amd64",
               "--write-lock", lock)
    assert done.returncode == 0, done.stderr
    before = lockfile.read(lock)
    mirror.harbor.settle()  # Harbor's wait for the other platforms ran out
    with mirror.upstream.registry.stopped():
        checked = run("verify", *release(mirror), "--lock", lock)
        again = run("verify", *release(mirror), "--write-lock", lock)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert again.returncode == 0, again.stdout + again.stderr
    after = lockfile.read(lock)
    assert {ref: image.pin for ref, image in after.images.items()} == {
        ref: image.pin for ref, image in before.images.items()}
    etcd = after.images[f"{mirror.host}/{PROJECT}/containers/etcd:3.5.17-1.2"]
    assert etcd.harbor not in ("", etcd.upstream, *etcd.platforms.values())


def test_a_first_lock_refuses_harbors_own_list_while_the_upstream_is_down(
    mirror, run, tmp_path
):
    # With the upstream gone Harbor serves, for the tag, the list it rebuilt from what it
    # stores: unsigned, under a digest of its own. With no earlier lock and no recorded
    # upstream index, nothing tells the upstream digest, and that list is never a pin.
    warmed = run("verify", *release(mirror), "--warm", "--platform", "linux/amd64")
    assert warmed.returncode == 0, warmed.stderr
    mirror.harbor.settle()  # Harbor's wait for the other platforms ran out
    lock = tmp_path / "lock.yaml"
    with mirror.upstream.registry.stopped():
        refused = run("verify", *release(mirror), "--write-lock", lock)
        per_platform = run("verify", *release(mirror), "--platform", "linux/amd64",
                           "--write-lock", lock)
    etcd = f"{mirror.host}/{PROJECT}/containers/etcd:3.5.17-1.2"
    for done in (refused, per_platform):
        assert done.returncode == 1
        assert f"{etcd}: Harbor serves sha256:" in done.stderr
        assert "run verify --signatures --write-lock while Harbor reaches the upstream" in \
            done.stderr
        assert done.stderr.count("\n") == 1
    assert not lock.exists()
    done = run("verify", *release(mirror), "--write-lock", lock)  # Harbor reaches it again
    assert done.returncode == 0, done.stderr
    written = lockfile.read(lock).images[etcd]
    assert written.pin == mirror.upstream.images["containers/etcd:3.5.17-1.2"].digest


def test_lock_reports_a_tag_moved_to_an_index_with_fewer_platforms_as_stale(
    mirror, run, tmp_path
):
    # The upstream re-pushes the tag as an index naming only some of the locked manifests. That
    # list is not in the form Harbor rebuilds an index in (manifestcache.go:updateManifestList,
    # FromDescriptors), so it is the upstream's new content, not Harbor's rebuild of the old.
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text("image: dp.apps.rancher.io/containers/narrowing:1.0\n")
    target = ["--harbor-host", mirror.host, "--ca-file", mirror.harbor.ca_file]
    lock = tmp_path / "lock.yaml"
    with mirror.upstream.registry.client() as client:
        Pusher(client).image("containers/narrowing", "1.0", ["linux/amd64", "linux/arm64"])
        assert run("verify", rendered, *target, "--write-lock", lock).returncode == 0
        index = client.get("/v2/containers/narrowing/manifests/1.0",
                           headers={"Accept": OCI_INDEX}).json()
        index["manifests"] = index["manifests"][:1]
        narrower = Pusher(client).manifest("containers/narrowing", "1.0", OCI_INDEX,
                                           json.dumps(index).encode())
    stale = run("verify", rendered, *target, "--lock", lock, "-o", "json")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    (result,) = json.loads(stale.stdout)
    assert result["result"] == "stale"
    assert f"names {narrower} in Harbor now" in result["detail"]
    refused = run("verify", rendered, *target, "--write-lock", lock)
    assert refused.returncode == 1
    assert "pass --update-lock" in refused.stderr
