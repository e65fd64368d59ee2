"""The emulator's registry data plane against the real upstream: what Helm and clients see."""

from __future__ import annotations

from tests.fixtures_helm import isolated_helm_env


def test_helm_pull_through_proxy_project(mirror, helm4, tmp_path):
    helm = isolated_helm_env(helm4, tmp_path / "helm")
    ca = mirror.harbor.ca_file
    login = helm.run(
        "registry", "login", mirror.host, "--username", "admin", "--password-stdin",
        "--ca-file", ca, input="Harbor12345",
    )
    assert login.returncode == 0, login.stderr
    url = f"oci://{mirror.host}/{mirror.project}/charts/etcd-like"
    pulled = helm.run("pull", url, "--version", "0.1.0", "--ca-file", ca, "-d", tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    shown = helm.run("show", "chart", tmp_path / "etcd-like-0.1.0.tgz")
    assert "name: etcd-like" in shown.stdout
    assert "version: 0.1.0" in shown.stdout
