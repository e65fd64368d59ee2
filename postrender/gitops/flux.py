"""Flux: the chart's source in Harbor (an `OCIRepository`) and a `HelmRelease` patch that renders
it with the overlay as `spec.postRenderers`.

Why `OCIRepository` and not an OCI `HelmRepository`: Flux's docs steer OCI charts to it
(`HelmRelease.spec.chartRef`, source API `v1`), it takes a dockerconfigjson Secret as
`secretRef` — the very Secret `setup --secret-out` writes — and a `ca.crt` Secret as
`certSecretRef`, and it pins the chart by tag or semver range the way `helm --version` does, or
with `--lock` by the chart's digest.
"""

from __future__ import annotations

import re
from typing import Any

from postrender.gitops.chart import HarborChart, commit_dependencies
from postrender.gitops.overlay import Overlay
from postrender.helm.args import Release

HELMRELEASE_FILE = "helmrelease-postrenderers.yaml"
SOURCE_FILE = "ocirepository.yaml"
CA_SECRET = "harbor-mirror-ca"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
# One chart version, not a range: Helm pushes it under this tag, `+` written as `_`.
_EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")


def files(overlay: Overlay, release: Release, chart: HarborChart | None) -> dict[str, Any]:
    """File name → object: the HelmRelease patch, and the Harbor source when there is one."""
    spec: dict[str, Any] = {}
    if chart is not None:
        # A HelmRelease takes `chart` or `chartRef`, never both: the patch drops `chart`.
        spec["chart"] = None
        spec["chartRef"] = {"kind": "OCIRepository", "name": release.name}
    spec["postRenderers"] = [{"kustomize": overlay.transformers()}]
    patch = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": release.name},
        "spec": spec,
    }
    if chart is None:
        return {HELMRELEASE_FILE: patch}
    return {HELMRELEASE_FILE: patch, SOURCE_FILE: _source(release, chart)}


def _source(release: Release, chart: HarborChart) -> dict[str, Any]:
    # An OCIRepository's url names the repository only; a tag or digest in the chart argument
    # (`oci://…/etcd:1.0.0`, which Helm takes as the version, `…@sha256:…`) goes to `ref`.
    named, at, digest = chart.url.rpartition("/")[2].partition("@")
    repository, colon, tag = named.partition(":")
    url = f"{chart.url.rpartition('/')[0]}/{repository}"
    digest = chart.digest or (digest if at else "")
    spec: dict[str, Any] = {
        "interval": "10m",
        "url": url,
        # source-controller pulls `ref.digest` by digest, ahead of semver and tag
        # (api/v1/ocirepository_types.go OCIRepositoryRef, ocirepository_controller.go
        # getArtifactRef); a HelmRelease's `chart.spec.version` has no such field.
        "ref": {"digest": digest} if digest else _ref(release.version or (tag if colon else None)),
        "layerSelector": {"mediaType": HELM_CHART_LAYER, "operation": "copy"},
        "secretRef": {"name": chart.pull_secret},
    }
    if chart.ca_file:
        spec["certSecretRef"] = {"name": CA_SECRET}
    return {
        "apiVersion": "source.toolkit.fluxcd.io/v1",
        "kind": "OCIRepository",
        "metadata": {"name": release.name},
        "spec": spec,
    }


def _ref(version: str | None) -> dict[str, str]:
    """`--version` as Flux reads it: an exact version is a tag, anything else a semver range."""
    if version is None:
        return {"semver": "*"}  # what helm does without --version: the newest release
    if _EXACT_VERSION.fullmatch(version):
        return {"tag": version.replace("+", "_")}
    return {"semver": version}


def instructions(chart: HarborChart | None, vendored: str | None = None) -> list[str]:
    """The Secrets the OCIRepository names, and how to make them without putting one in Git;
    for a local chart with upstream dependencies (`vendored`), that its charts/ must hold them."""
    if chart is None:
        own_source = (f"no {SOURCE_FILE}: the chart is not an oci:// chart Harbor serves, so "
                      "keep your HelmRelease's own chart source")
        if vendored is None:
            return [own_source]
        # source-controller internal/helm/chart/dependency_manager.go Build fetches what is
        # missing from the URL Chart.yaml names (helmchart_controller.go
        # namespacedChartRepositoryCallback): the upstream, which only Harbor reaches.
        return [own_source, commit_dependencies(
            vendored, "Flux's source-controller fetches a dependency missing there from the "
            "upstream itself")]
    secret_file = chart.secret_file or "the Secret file setup --secret-out wrote"
    lines = [
        f"Flux pulls {chart.url}: put Secret {chart.pull_secret} in the HelmRelease's "
        f"namespace (kubectl apply -n NAMESPACE -f {secret_file})"
    ]
    if chart.ca_file:
        lines.append(
            f"and the CA as Secret {CA_SECRET} (kubectl create secret generic {CA_SECRET} "
            f"-n NAMESPACE --from-file=ca.crt={chart.ca_file})"
        )
    return lines
