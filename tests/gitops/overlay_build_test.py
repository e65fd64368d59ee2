"""overlay.build: which rewrite becomes an `images:` entry and which a patch, held to kustomize.

Each case is a literal manifest; the test checks where the rewrite went and then that the real
kustomize 5.7, given the overlay, produces what the post-renderer produces.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from postrender import lock
from postrender.errors import ManifestError
from postrender.gitops.overlay import build
from postrender.rewrite.rules import Rules
from postrender.settings import Settings
from tests.support.kustomize_emulation import comparable, kustomize_build
from tests.support.rewrite_oracle import (
    HARBOR_HOST,
    HARBOR_SECRET,
    TARGET,
    UPSTREAM,
    postrender_ok,
    upstream_mentions,
)

RULES = Rules.from_settings(Settings(harbor_host=HARBOR_HOST, pull_secret=HARBOR_SECRET))
U, T = UPSTREAM, TARGET  # short: they stand inside every literal manifest below

CASES = {
    # kustomize's images transformer: any containers/initContainers list, and image volumes.
    "container": (f"""\
apiVersion: batch/v1
kind: CronJob
metadata: {{name: c, namespace: ns}}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          initContainers:
          - name: i
            image: {U}/containers/busybox:1@sha256:abc
          containers:
          - name: m
            image: {U}/containers/etcd:3.5
""", [f"{U}/containers/busybox", f"{U}/containers/etcd"], []),
    "image volume": (f"""\
apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  containers:
  - name: m
    image: registry.suse.com/bci/bci-busybox:15.6
  volumes:
  - name: v
    image:
      reference: {U}/models/rules:1
""", [f"{U}/models/rules"], []),
    # Outside its reach: ephemeral containers, CR fields, env, args, CRDs, secrets.
    "ephemeral container": (f"""\
apiVersion: v1
kind: Pod
metadata: {{name: p}}
spec:
  containers:
  - name: m
    image: registry.suse.com/bci/bci-busybox:15.6
  ephemeralContainers:
  - name: debug
    image: {U}/containers/busybox:1
""", [], ["/spec/ephemeralContainers/0/image"]),
    "custom resource and CRD": (f"""\
apiVersion: example.com/v1
kind: Widget
metadata: {{name: w.v1}}
spec:
  image: {U}/containers/widget:1
  containers:
  - name: m
    image: {U}/containers/widget:1
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.example.com}}
spec:
  group: example.com
  names: {{kind: Widget, plural: widgets}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: "default image {U}/containers/widget:1"
""", [f"{U}/containers/widget"],
        ["/spec/image", "/spec/versions/0/schema/openAPIV3Schema/description"]),
    # kustomize compiles the target name as a regular expression; this one must still match.
    "regex characters in a name": (f"""\
apiVersion: example.com/v1
kind: Widget
metadata: {{name: "w+1.(a)"}}
spec:
  image: {U}/containers/widget:1
""", [], ["/spec/image"]),
    # The engine changes a shared value at its anchor; kustomize reads the document expanded,
    # so every place an alias or a `<<` merge repeats it needs its own patch.
    "anchors, aliases and merges in a custom resource": (f"""\
apiVersion: example.com/v1
kind: Widget
metadata: {{name: w}}
spec:
  image: &img {U}/containers/etcd:3.5
  sidecar:
    image: *img
  defaults: &d
    registry: {U}
    hub: {U}/containers
  merged:
    <<: *d
    name: x
  imagePullSecrets: &s
  - name: application-collection
  more:
    imagePullSecrets: *s
""", [], ["/spec/defaults/hub", "/spec/defaults/registry", "/spec/image",
          "/spec/imagePullSecrets/0/name", "/spec/merged/hub", "/spec/merged/registry",
          "/spec/more/imagePullSecrets/0/name", "/spec/sidecar/image"]),
    "anchors and aliases in a pod template": (f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: prod}}
spec:
  template:
    spec:
      imagePullSecrets: &s
      - name: application-collection
      - name: harbor-pull
      containers:
      - &main
        name: a
        image: &img {U}/containers/etcd:3.5
        env:
        - {{name: SIDECAR_IMAGE, value: *img}}
        - &reg {{name: REGISTRY, value: {U}}}
      - <<: *main
        name: b
        env: [*reg]
      initContainers:
      - name: c
        image: *img
""", [f"{U}/containers/etcd"], [
        f"/spec/template/spec/{place}" for place in (
            "containers/0/env/0/value", "containers/0/env/1/value", "containers/1/env/0/value",
            "imagePullSecrets/0/name", "imagePullSecrets/1",
        )
    ]),
    # A URL's credentials are dropped with the upstream host, and never copied into a patch.
    "URL credentials and the default port": (f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {{name: appco}}
spec:
  type: oci
  url: oci://robot:s3cr3t@{U}/charts
  mirror: oci://{U}:443/charts
""", [], ["/spec/mirror", "/spec/url"]),
    "duplicate pull secrets": ("""\
apiVersion: v1
kind: ServiceAccount
metadata: {name: sa}
imagePullSecrets:
- name: application-collection
- name: other
- name: harbor-pull
- name: application-collection
""", [], ["/imagePullSecrets/0/name", "/imagePullSecrets/2", "/imagePullSecrets/3"]),
}


def _paths(patch_text: str) -> list[str]:
    return sorted({op["path"] for op in YAML(typ="safe").load(patch_text)})


@pytest.mark.parametrize("case", sorted(CASES))
def test_build_uses_images_where_kustomize_reaches_and_patches_elsewhere(
    case: str, kubectl: Path, tmp_path: Path
) -> None:
    manifest, image_names, patched = CASES[case]
    overlay = build(manifest, RULES)
    assert [entry["name"] for entry in overlay.images] == image_names
    for entry in overlay.images:
        assert entry["newName"] == T + entry["name"].removeprefix(U)
    assert sorted(p for patch in overlay.patches for p in _paths(patch["patch"])) == patched
    assert all("s3cr3t" not in patch["patch"] for patch in overlay.patches)

    built = kustomize_build(kubectl, manifest, overlay.transformers(), tmp_path)
    assert built.returncode == 0, built.stderr
    assert upstream_mentions(built.stdout) == []
    expected = postrender_ok(manifest, "--pull-secret", HARBOR_SECRET)
    assert comparable(built.stdout) == comparable(expected)


def test_build_keeps_credentials_behind_json_escaped_slashes_out_of_the_patch() -> None:
    manifest = ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n"
                f"  v: '{{\"chart\": \"oci:\\/\\/u:s3cr3t@{U}\\/charts\\/x\"}}'\n")
    [patch] = build(manifest, RULES).patches
    assert "s3cr3t" not in patch["patch"]
    assert f"oci://{T}/charts/x" in patch["patch"]


def test_build_removes_duplicates_from_the_back_after_renaming() -> None:
    overlay = build(CASES["duplicate pull secrets"][0], RULES)
    ops = YAML(typ="safe").load(overlay.patches[0]["patch"])
    assert [(op["op"], op["path"]) for op in ops] == [
        ("test", "/imagePullSecrets/0/name"),
        ("replace", "/imagePullSecrets/0/name"),
        ("test", "/imagePullSecrets/3"),
        ("remove", "/imagePullSecrets/3"),
        ("test", "/imagePullSecrets/2"),
        ("remove", "/imagePullSecrets/2"),
    ]
    assert ops[2]["value"] == {"name": "application-collection"}


def test_build_targets_by_group_version_kind_name_and_namespace() -> None:
    overlay = build(CASES["custom resource and CRD"][0] + "\n", RULES)
    targets = [patch["target"] for patch in overlay.patches]
    assert targets[0] == {"group": "example.com", "version": "v1", "kind": "Widget",
                          "name": "w\\.v1"}
    assert targets[1]["kind"] == "CustomResourceDefinition"
    (odd,) = build(CASES["regex characters in a name"][0], RULES).patches
    assert odd["target"]["name"] == "w\\+1\\.\\(a\\)"
    cron = build(CASES["ephemeral container"][0].replace("name: p}", "name: p, namespace: ns}"),
                 RULES)
    assert cron.patches[0]["target"] == {"version": "v1", "kind": "Pod", "name": "p",
                                         "namespace": "ns"}


def test_build_refuses_a_document_no_patch_can_target() -> None:
    with pytest.raises(ManifestError, match=r"document 1.*no kustomize patch can target"):
        build(f"kind: Widget\nspec:\n  image: {U}/containers/widget:1\n", RULES)


def test_build_refuses_bare_string_pull_secrets_in_builtin_kinds() -> None:
    manifest = (
        "kind: ServiceAccount\nmetadata: {name: sa}\nimagePullSecrets: [application-collection]\n"
    )
    with pytest.raises(ManifestError, match=r"ServiceAccount/sa imagePullSecrets\[0\] is a bare"):
        build(manifest, RULES)
    # Custom resources may hold them: kustomize leaves those alone.
    widget = "kind: Widget\napiVersion: example.com/v1\nmetadata: {name: w}\nspec:\n" \
        "  imagePullSecrets: [application-collection]\n"
    assert build(widget, RULES).patches


def test_build_of_a_stream_without_upstream_is_empty() -> None:
    overlay = build("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n", RULES)
    assert overlay.kustomization() == {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
    }


def test_build_refuses_a_document_that_composes_but_kustomize_cannot_load(
    kubectl: Path, tmp_path: Path
) -> None:
    manifest = CASES["duplicate pull secrets"][0].replace(
        "metadata: {name: sa}", "metadata: {name: sa, labels: {a: b, a: c}}"
    )
    with pytest.raises(ManifestError, match=r"document 1, line 3: .*duplicate key \"a\""):
        build(manifest, RULES)
    refused = kustomize_build(kubectl, manifest, {}, tmp_path)
    assert refused.returncode != 0 and "already defined" in refused.stderr


@pytest.mark.parametrize("field", ["data", "stringData"])
def test_build_refuses_to_copy_a_secrets_content_into_a_patch(field: str) -> None:
    config = f'{{"auths":{{"{U}":{{"auth":"dXNlcjp0b2tlbg=="}}}}}}'
    value = config if field == "stringData" else base64.b64encode(config.encode()).decode()
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: pull}\n"
        f"type: kubernetes.io/dockerconfigjson\n{field}:\n  .dockerconfigjson: '{value}'\n"
    )
    with pytest.raises(ManifestError, match=r"document 1.*Secret/pull .*file for Git") as error:
        build(manifest, RULES)
    assert "dXNlcjp0b2tlbg" not in str(error.value) and value not in str(error.value)


def test_build_with_a_lock_gives_what_postrender_lock_gives(kubectl: Path, tmp_path: Path) -> None:
    manifest = CASES["container"][0]
    etcd, digest = f"{T}/containers/etcd:3.5", "sha256:" + "e" * 64
    lock_file = tmp_path / "lock.yaml"
    lock.Lock({etcd: lock.ImageLock(digest)}).write(lock_file)
    overlay = build(manifest, RULES, pins=lock.read(lock_file).pins(), lock=str(lock_file))
    assert [entry["name"] for entry in overlay.images] == [f"{U}/containers/busybox"]
    built = kustomize_build(kubectl, manifest, overlay.transformers(), tmp_path / "k")
    assert built.returncode == 0, built.stderr
    expected = postrender_ok(manifest, "--pull-secret", HARBOR_SECRET, "--lock", str(lock_file))
    assert f"image: {etcd}@{digest}\n" in expected
    assert comparable(built.stdout) == comparable(expected)


def test_build_with_a_lock_names_a_bare_registry_host_and_a_chart_url() -> None:
    manifest = (f"apiVersion: example.com/v1\nkind: App\nmetadata: {{name: a}}\n"
                f"spec:\n  image:\n    registry: {U}\n    repository: containers/etcd\n"
                f"  chart: oci://{U}/charts/etcd\n")
    overlay = build(manifest, RULES, pins={}, lock="lock.yaml")
    assert sorted(overlay.not_pinned) == [
        f"App/a spec.chart: oci://{T}/charts/etcd (an oci:// chart URL: its reader asks for the "
        "chart by tag)",
        f"App/a spec.image.registry: {HARBOR_HOST} (a registry apart from its repository: no "
        "place for a digest)",
    ]


def test_build_refuses_an_alias_bomb_kustomize_would_patch_place_by_place() -> None:
    levels = [f"  l0: &l0 ['{U}/containers/etcd:3.5']\n"]
    for level in range(1, 7):
        levels.append(f"  l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]\n")
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + "".join(levels)
    with pytest.raises(ManifestError, match=r"document 1: its aliases expand to more than"):
        build(manifest, RULES)
