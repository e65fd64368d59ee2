"""`fleet.yaml` for a bundle: the chart, fetched by Fleet from Harbor, then this bundle's overlay.

Fleet reads chart credentials from the Secret its GitRepo names in `helmSecretName` (keys
`username`, `password`, and `cacerts` for a private CA); nothing secret goes into fleet.yaml.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from postrender.errors import ConfigError
from postrender.gitops.chart import HarborChart, commit_dependencies
from postrender.helm.args import Release

OVERLAY_DIR = "harbor-mirror"


def fleet_yaml(
    release: Release, out_dir: Path, chart: HarborChart | None, *, vendored: str | None = None
) -> dict[str, Any]:
    """fleet.yaml: the chart rendered by Fleet's agent, then this bundle's kustomize dir.
    `vendored`: a local chart whose dependencies on the upstream must come from its charts/."""
    if release.sets:
        raise ConfigError(
            f"--layout fleet: {release.sets[0]} values cannot be carried into fleet.yaml; "
            "put them in a values file inside the bundle directory and pass it with -f"
        )
    for url in (release.chart, release.repo):
        if url and urlsplit(url).username is not None:
            raise ConfigError(
                "--layout fleet: the chart or --repo URL carries credentials, which fleet.yaml "
                "would put in Git; give Fleet them with the GitRepo's helmSecretName instead"
            )
    source = chart.url if chart else _bundle_path(release.chart or "", out_dir, must=False)
    helm: dict[str, Any] = {"chart": source}
    if release.repo:
        helm["repo"] = release.repo
    if chart is not None and chart.digest is not None:
        # Fleet hands helm.chart and helm.version to Helm's ChartDownloader.DownloadTo
        # (fleet internal/bundlereader/loaddirectory.go downloadOCIChart); Helm pulls
        # `oci://…@sha256:…` with no version by the digest alone, and with a version it asks
        # Harbor for the tag as well (helm pkg/registry/client.go ValidateReference).
        helm["chart"] = f"{chart.url}@{chart.digest}"
    elif release.version:
        helm["version"] = release.version
    if vendored is not None:
        # Fleet fetches a local chart's dependencies missing from charts/ from the repositories
        # its Chart.yaml names (fleet internal/helmupdater/helmupdater.go UpdateHelmDependencies,
        # on by default): here the upstream, which only Harbor reaches.
        helm["disableDependencyUpdate"] = True
    helm["releaseName"] = release.name
    if release.values_files:
        helm["valuesFiles"] = [_bundle_path(path, out_dir, must=True) for path in
                               release.values_files]
    fleet: dict[str, Any] = {}
    if release.namespace:
        fleet["defaultNamespace"] = release.namespace
    fleet["helm"] = helm
    fleet["kustomize"] = {"dir": OVERLAY_DIR}
    return fleet


def instructions(chart: HarborChart | None, vendored: str | None = None) -> list[str]:
    """What the GitRepo needs so that Fleet can pull the chart from Harbor, or what to commit
    with a local chart whose dependencies are the upstream's."""
    if vendored is not None:
        return [commit_dependencies(vendored, "Fleet must not fetch its upstream dependencies "
                                    "itself, so fleet.yaml sets helm.disableDependencyUpdate")]
    if chart is None:
        return []
    robot = f"the robot in {chart.secret_file}" if chart.secret_file else "Harbor's robot"
    ca = f", cacerts: the CA in {chart.ca_file}" if chart.ca_file else ""
    return [
        f"Fleet pulls {chart.url}: the GitRepo's helmSecretName must name a Secret in the "
        f"GitRepo's namespace with username and password of {robot}{ca}; set "
        f"helmRepoURLRegex: ^oci://{re.escape(chart.harbor_host)}/ so only Harbor gets them"
    ]


def _bundle_path(path: str, out_dir: Path, *, must: bool) -> str:
    """A local path as Fleet reads it (relative to fleet.yaml); chart URLs and names stay."""
    if not os.path.exists(path):
        if must:
            raise ConfigError(f"--layout fleet: values file {path} does not exist")
        return path
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(out_dir))
    if must and relative.startswith(".."):
        raise ConfigError(
            f"--layout fleet: values file {path} is outside the bundle directory {out_dir}; "
            "Fleet reads only files inside the bundle"
        )
    return relative
