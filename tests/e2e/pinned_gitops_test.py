"""`overlay --lock` for Fleet and Flux, after `verify --warm --write-lock` against the emulator in
front of the real upstream registry: the layouts name the chart by its locked digest, so the
engine fetches it from Harbor by digest (never asking for the tag, which Harbor passes to the
upstream), and the overlay the real kustomize applies pins every image."""

from __future__ import annotations

import subprocess
from pathlib import Path

from postrender.lock import Lock
from tests.e2e.pinned_template_test import UPSTREAM_CHART, Release
from tests.support.fixtures_registry import REPO_ROOT, Mirror
from tests.support.kustomize_emulation import (
    comparable,
    flux_recipe,
    kustomize_build,
    read_yaml,
    transformers_of,
)

# BY_TAG as a values file (fleet.yaml carries no --set), and no upstream pull Secret, whose
# content an overlay refuses to copy into Git.
VALUES = "images:\n  volumePermissions:\n    digest: ''\nupstreamPullSecret:\n  create: false\n"
FLUX_HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: demo}
spec:
  releaseName: demo
  interval: 10m
  chart:
    spec: {chart: etcd-like, version: 0.1.0, sourceRef: {kind: HelmRepository, name: r}}
"""


def _locked_layout(
    mirror: Mirror, helm4: Path, tmp_path: Path, layout: str
) -> tuple[Release, Lock, str, Path]:
    """`overlay --layout LAYOUT --lock` after `verify --warm --write-lock`: the release, its
    lock, the chart's locked digest and the directory written."""
    release = Release(mirror, helm4, tmp_path)
    lock = release.write_lock()
    ((_, chart),) = lock.charts.items()
    digest = chart.digest
    out = tmp_path / layout
    made = _layout(release, layout, out)
    assert made.returncode == 0, made.stderr
    assert "not pinned" not in made.stderr
    return release, lock, digest, out


def _layout(release: Release, layout: str, out: Path) -> subprocess.CompletedProcess[str]:
    out.mkdir(parents=True)
    (out / "values.yaml").write_text(VALUES, encoding="utf-8")
    return release("overlay", "--layout", layout, "--out", out, "--lock", release.lock,
                   "demo", UPSTREAM_CHART, "--version", "0.1.0", "-f", out / "values.yaml")


def test_fleet_bundle_names_the_chart_by_its_locked_digest_and_pins_every_image(
    mirror: Mirror, helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    release, lock, digest, bundle = _locked_layout(mirror, helm4, tmp_path, "fleet")

    helm = read_yaml(bundle / "fleet.yaml")["helm"]
    harbor_chart = f"oci://{mirror.host}/application-collection/charts/etcd-like"
    assert helm["chart"] == f"{harbor_chart}@{digest}"
    assert "version" not in helm  # with one, Helm would ask Harbor for the tag as well

    # What Fleet does with fleet.yaml: helm.chart (and helm.version, none) to Helm's downloader,
    # signed in and trusting the CA as the GitRepo's helmSecretName says.
    mirror.harbor.clear_log()
    rendered = subprocess.run(
        [str(helm4), "template", "demo", helm["chart"], "-f", str(bundle / "values.yaml"),
         "--ca-file", str(mirror.harbor.ca_file)],
        capture_output=True, text=True, env=release.env, check=False,
    )
    assert rendered.returncode == 0, rendered.stderr
    asked = [r.path for r in mirror.harbor.requests if "/charts/" in r.path]
    assert f"/v2/application-collection/charts/etcd-like/manifests/{digest}" in asked
    assert not [path for path in asked if path.endswith("/manifests/0.1.0")]

    # The overlay Fleet's agent applies to that render, with the real kustomize.
    kustomization = read_yaml(bundle / "harbor-mirror" / "kustomization.yaml")
    built = kustomize_build(kubectl, rendered.stdout, transformers_of(kustomization),
                            tmp_path / "k")
    assert built.returncode == 0, built.stderr
    for reference, pin in lock.pins().items():
        assert f"image: {reference}@{pin.digest}\n" in built.stdout
    pinned = release("postrender", "--lock", release.lock, stdin=rendered.stdout)
    assert pinned.returncode == 0, pinned.stderr
    assert comparable(built.stdout) == comparable(pinned.stdout)


def test_flux_ocirepository_takes_the_locked_digest_through_kustomize(
    mirror: Mirror, helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    _, lock, digest, out = _locked_layout(mirror, helm4, tmp_path, "flux")
    by_kind = flux_recipe(kubectl, out, FLUX_HELMRELEASE)
    source = by_kind["OCIRepository"]["spec"]
    assert source["url"] == f"oci://{mirror.host}/application-collection/charts/etcd-like"
    assert source["ref"] == {"digest": digest}  # ahead of any tag or semver: no tag lookup
    assert by_kind["HelmRelease"]["spec"]["chartRef"] == {"kind": "OCIRepository",
                                                           "name": "demo"}
    (post_renderer,) = by_kind["HelmRelease"]["spec"]["postRenderers"]
    rendered = subprocess.run(
        [str(helm4), "template", "demo", REPO_ROOT / "charts-fixtures" / "etcd-like",
         "-f", out / "values.yaml"],
        capture_output=True, text=True, check=True,
    ).stdout
    applied = kustomize_build(kubectl, rendered, post_renderer["kustomize"], tmp_path / "k")
    assert applied.returncode == 0, applied.stderr
    for reference, pin in lock.pins().items():
        assert f"image: {reference}@{pin.digest}\n" in applied.stdout


def test_a_chart_version_the_lock_lacks_is_refused_before_any_file_is_written(
    mirror: Mirror, helm4: Path, tmp_path: Path
) -> None:
    release = Release(mirror, helm4, tmp_path)
    lock = release.write_lock()
    Lock(lock.images).write(release.lock)  # the images, not the chart
    out = tmp_path / "flux"
    refused = _layout(release, "flux", out)
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert (f"the chart oci://{mirror.host}/application-collection/charts/etcd-like:0.1.0 is "
            f"not in the lock file {release.lock}; re-run") in refused.stderr
    assert sorted(path.name for path in out.iterdir()) == ["values.yaml"]
