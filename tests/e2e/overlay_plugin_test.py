"""`helm harbor-mirror overlay` through the installed plugin, on Helm 4 and Helm 3.

Helm keeps `-n` for itself (it becomes HELM_NAMESPACE) and hands the plugin HELM_BIN; the
overlay must still render the release the user named and write the same files as the bare CLI.
In the air gap it renders the upstream chart from Harbor and writes Harbor's chart URL.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.fixtures_airgap import (
    CHART_URL,
    CHART_VERSION,
    UPSTREAM_HOST,
    Airgap,
    basic_user,
    robot_username,
)
from tests.support.fixtures_plugin import Plugin
from tests.support.fixtures_registry import busybox_digest
from tests.support.kustomize_emulation import (
    kustomize_build,
    load_as_kubernetes,
    overlay_cli,
    read_yaml,
    transformers_of,
)
from tests.support.rewrite_oracle import (
    FIXTURE_CHARTS,
    HARBOR_HOST,
    HARBOR_SECRET,
    upstream_mentions,
)

CHART = FIXTURE_CHARTS / "widget-operator"


def test_overlay_through_helm_equals_the_bare_cli(
    plugin: Plugin,
    helm4: Path,
    tmp_path: Path,
) -> None:
    through_helm = tmp_path / "via-helm"
    done = plugin.env.run(
        "harbor-mirror", "overlay", "--layout", "fleet", "--out", through_helm,
        "--harbor-host", HARBOR_HOST, "--pull-secret", HARBOR_SECRET,
        "demo", CHART, "-n", "demo-ns",
    )
    assert done.returncode == 0, done.stderr
    bare = tmp_path / "bare"
    made = overlay_cli(
        "--layout", "fleet", "--out", bare, "--pull-secret", HARBOR_SECRET,
        "demo", CHART, "-n", "demo-ns", tmp_path=tmp_path, helm=helm4,
    )
    assert made.returncode == 0, made.stderr
    assert read_yaml(through_helm / "fleet.yaml")["defaultNamespace"] == "demo-ns"
    for name in ("fleet.yaml", "harbor-mirror/kustomization.yaml"):
        assert read_yaml(through_helm / name) == read_yaml(bare / name), name


def test_overlay_in_the_air_gap_renders_from_harbor_and_names_harbors_chart(
    airgap: Airgap, helm4: Path, kubectl: Path, tmp_path: Path
) -> None:
    """After setup, with no flags: the chart comes from Harbor as the robot (the proxy-cache
    project, or the replication destination with the upstream down), and the Fleet and Flux
    files name Harbor's chart, the robot's Secret and the CA; kustomize builds them."""
    before = airgap.user_registry_config.read_bytes()
    values = (
        f"images:\n  volumePermissions:\n    digest: {busybox_digest(airgap.mirror)}\n"
        f"logShipper:\n  image: {UPSTREAM_HOST}/containers/bci-busybox:15.6\n"
        "upstreamPullSecret:\n  create: false\n"
    )
    said = {}
    for layout in ("fleet", "flux"):
        out = tmp_path / layout
        out.mkdir()
        (out / "values.yaml").write_text(values)
        done = airgap.run(
            "harbor-mirror", "overlay", "--layout", layout, "--out", out, "demo", CHART_URL,
            "--version", CHART_VERSION, "-n", "demo-ns", "-f", out / "values.yaml",
        )
        assert done.returncode == 0, done.stderr
        said[layout] = done.stdout

    requests = airgap.requests_since_setup()  # setup itself signs in as the admin
    assert [r for r in requests if r.method == "GET" and r.path ==
            f"/v2/{airgap.project}/charts/etcd-like/manifests/{CHART_VERSION}"]
    tokens = {basic_user(r.headers.get("authorization", "")) for r in requests
              if r.path == "/service/token"}
    assert tokens == {robot_username(airgap)}
    assert airgap.user_registry_config.read_bytes() == before

    fleet = read_yaml(tmp_path / "fleet" / "fleet.yaml")
    assert fleet["helm"]["chart"] == airgap.harbor_chart
    assert f"the robot in {airgap.secret_file}" in said["fleet"]
    assert f"cacerts: the CA in {airgap.mirror.harbor.ca_file}" in said["fleet"]
    assert f"--from-file=ca.crt={airgap.mirror.harbor.ca_file}" in said["flux"]

    # Flux's side, built as the README says with the user's HelmRelease.
    flux = tmp_path / "flux"
    (flux / "helmrelease.yaml").write_text(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: demo}\n"
        "spec:\n  releaseName: demo\n  targetNamespace: demo-ns\n  interval: 10m\n"
        "  chart:\n    spec: {chart: etcd-like, sourceRef: {kind: HelmRepository, name: up}}\n"
    )
    (flux / "kustomization.yaml").write_text(
        "namespace: flux-system\nresources: [helmrelease.yaml, ocirepository.yaml]\n"
        "patches:\n  - path: helmrelease-postrenderers.yaml\n"
        "    target: {kind: HelmRelease, name: demo}\n"
    )
    built = subprocess.run([str(kubectl), "kustomize", str(flux)], capture_output=True,
                           text=True, check=False)
    assert built.returncode == 0, built.stderr
    by_kind = {doc["kind"]: doc for doc in load_as_kubernetes(built.stdout)}
    assert by_kind["OCIRepository"]["spec"]["url"] == airgap.harbor_chart
    assert by_kind["OCIRepository"]["spec"]["certSecretRef"] == {"name": "harbor-mirror-ca"}
    assert by_kind["HelmRelease"]["spec"]["chartRef"] == {"kind": "OCIRepository", "name": "demo"}
    assert "chart" not in by_kind["HelmRelease"]["spec"]

    # Fleet's side: the chart as Fleet's agent renders it from Harbor, then the overlay.
    pulled = tmp_path / "pulled"
    got = airgap.run("harbor-mirror", "pull", CHART_URL, "--version", CHART_VERSION,
                     "--untar", "--untardir", pulled)
    assert got.returncode == 0, got.stderr
    rendered = subprocess.run(
        [str(helm4), "template", "demo", str(pulled / "etcd-like"), "-n", "demo-ns",
         "-f", str(tmp_path / "fleet" / "values.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout
    kustomization = read_yaml(tmp_path / "fleet" / "harbor-mirror" / "kustomization.yaml")
    applied = kustomize_build(kubectl, rendered, transformers_of(kustomization), tmp_path / "k")
    assert applied.returncode == 0, applied.stderr
    assert upstream_mentions(applied.stdout) == []
    assert f"image: {airgap.target}/containers/etcd:" in applied.stdout
