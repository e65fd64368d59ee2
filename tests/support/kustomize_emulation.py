"""Run an overlay the way Fleet and Flux do, with the real kustomize 5.7 (kubectl 1.35.2).

Both engines write Helm's output to a file, put it first in `resources:` of the overlay's
kustomization and build that with krusty; this helper does the same on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from tests.support.rewrite_oracle import CLI, HARBOR_HOST, normalise_secrets

MANIFESTS = "fleet-manifests.yaml"  # the file name Fleet's agent uses


def kustomize_build(
    kubectl: Path, rendered: str, transformers: dict[str, Any], workdir: Path
) -> subprocess.CompletedProcess[str]:
    """`kubectl kustomize` over `rendered` with `images:`/`patches:` from the overlay."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / MANIFESTS).write_text(rendered, encoding="utf-8")
    kustomization = {"resources": [MANIFESTS], **transformers}
    (workdir / "kustomization.yaml").write_text(json.dumps(kustomization), encoding="utf-8")
    return subprocess.run(
        [str(kubectl), "kustomize", str(workdir)],
        capture_output=True, text=True, check=False, timeout=300,
    )


def flux_recipe(
    kubectl: Path, out: Path, helmrelease: str, *, extra_kustomization: str = ""
) -> dict[str, Any]:
    """The README's Flux recipe built by the real kustomize, as Flux's kustomize-controller
    builds it: the user's HelmRelease, `overlay --layout flux`'s patch and, when it wrote one,
    its OCIRepository; the built objects by kind."""
    (out / "helmrelease.yaml").write_text(helmrelease, encoding="utf-8")
    resources = ["helmrelease.yaml"] + (["ocirepository.yaml"]
                                        if (out / "ocirepository.yaml").exists() else [])
    (out / "kustomization.yaml").write_text(
        f"{extra_kustomization}resources: [{', '.join(resources)}]\n"
        "patches:\n  - path: helmrelease-postrenderers.yaml\n"
        "    target: {kind: HelmRelease, name: demo}\n",
        encoding="utf-8",
    )
    built = subprocess.run([str(kubectl), "kustomize", str(out)], capture_output=True,
                           text=True, check=False, timeout=300)
    assert built.returncode == 0, built.stderr
    return {doc["kind"]: doc for doc in load_as_kubernetes(built.stdout)}


def read_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def transformers_of(kustomization: dict[str, Any]) -> dict[str, Any]:
    return {key: kustomization[key] for key in ("images", "patches") if key in kustomization}


def load_as_kubernetes(text: str) -> list[Any]:
    """Parse with YAML 1.1 rules, as Kubernetes does (`0755` is octal) and kustomize writes it."""
    yaml = YAML(typ="safe")
    yaml.version = (1, 1)
    yaml.constructor.add_constructor(
        "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
    )
    return list(yaml.load_all(text))


def comparable(text: str) -> list[str]:
    """The stream's objects as sorted canonical JSON: kustomize reorders documents and keys, and
    drops an empty or null `metadata.annotations` or `metadata.labels`."""
    documents = load_as_kubernetes(text)
    objects = [_without_empty_metadata(normalise_secrets(doc)) for doc in documents if doc]
    return sorted(json.dumps(obj, sort_keys=True, default=str) for obj in objects)


def _without_empty_metadata(document: Any) -> Any:
    metadata = document.get("metadata") if isinstance(document, dict) else None
    if not isinstance(metadata, dict):
        return document
    kept = {
        key: value
        for key, value in metadata.items()
        if value not in ({}, None) or key not in ("annotations", "labels")
    }
    return {**document, "metadata": kept}


def overlay_cli(
    *args: str | os.PathLike[str],
    tmp_path: Path,
    helm: Path | None = None,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
    harbor_host: str = HARBOR_HOST,
) -> subprocess.CompletedProcess[str]:
    """The real `harbor-mirror overlay` with no config file and no HARBOR_MIRROR_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARBOR_MIRROR_", "HELM_"))}
    env["HELM_CONFIG_HOME"] = str(tmp_path / "helm-config")
    env["HELM_CACHE_HOME"] = str(tmp_path / "helm-cache")
    if helm is not None:
        env["HELM_BIN"] = str(helm)
    env.update(extra_env or {})
    return subprocess.run(
        [str(CLI), "overlay", "--harbor-host", harbor_host, *map(str, args)],
        input=stdin, capture_output=True, text=True, env=env, check=False, timeout=300,
    )
