"""The bench's kustomize side: the README's ratios are only fair if kustomize gets an `images:`
entry for every upstream repository and, where it must be fixed up, the same stream otherwise."""

from __future__ import annotations

from bench.__main__ import kustomization, with_object_pull_secrets


def test_kustomization_lists_each_upstream_repository_once() -> None:
    text = (
        "image: dp.apps.rancher.io/containers/etcd:3.5.14\n"
        "args: [--sidecar=dp.apps.rancher.io/containers/bci-busybox@sha256:00]\n"
        "image: dp.apps.rancher.io/containers/etcd:3.6.0\n"
        "image: notdp.apps.rancher.io/containers/redis:7\n"
        "image: docker.io/library/redis:7\n"
    )
    assert kustomization(text) == (
        "resources:\n- input.yaml\nimages:\n"
        "- name: dp.apps.rancher.io/containers/bci-busybox\n"
        "  newName: harbor.example.com/application-collection/containers/bci-busybox\n"
        "- name: dp.apps.rancher.io/containers/etcd\n"
        "  newName: harbor.example.com/application-collection/containers/etcd\n"
    )


def test_bare_pull_secrets_become_objects_and_nothing_else_changes() -> None:
    text = (
        "spec:\n"
        "  imagePullSecrets:\n"
        "  - application-collection\n"
        "  - name: already-an-object\n"
        "  containers:\n"
        "  - app\n"
        "  args:\n"
        "  - plain\n"
    )
    assert with_object_pull_secrets(text) == text.replace(
        "  - application-collection\n", "  - name: application-collection\n"
    )
