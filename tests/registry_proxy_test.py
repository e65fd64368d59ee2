"""The emulator's registry data plane against the real upstream: what Helm and clients see."""

from __future__ import annotations

from tests.fixtures_helm import isolated_helm_env
from tests.fixtures_registry import harbor_client, pull_token


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


def test_v2_challenges_with_harbors_token_service(mirror):
    with harbor_client(mirror.harbor) as client:
        response = client.get("/v2/")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == (
            f'Bearer realm="{mirror.harbor.url}/service/token",service="harbor-registry"'
        )
        refused = pull_token(client, "application-collection/x", auth=("admin", "wrong"))
        assert refused.status_code == 401
        token = pull_token(client, "application-collection/x").json()["token"]
        assert client.get("/v2/", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_blob_head_answers_from_the_cache_and_get_fills_it(mirror):
    image = mirror.upstream.images["containers/bci-busybox:15.6"]
    digest, size = next(iter(image.blobs.items()))
    repository = "application-collection/containers/bci-busybox"
    with harbor_client(mirror.harbor) as client:
        bearer = {"Authorization": f"Bearer {pull_token(client, repository).json()['token']}"}
        path = f"/v2/{repository}/blobs/{digest}"
        assert client.head(path, headers=bearer).status_code == 404
        fetched = client.get(path, headers=bearer)
        assert fetched.status_code == 200
        assert len(fetched.content) == size
        cached = client.head(path, headers=bearer)
        assert cached.status_code == 200
        assert cached.headers["content-length"] == str(size)
        assert cached.headers["docker-content-digest"] == digest


def test_push_into_a_proxy_project_is_denied(mirror):
    repository = "application-collection/containers/new"
    with harbor_client(mirror.harbor) as client:
        challenged = client.post(f"/v2/{repository}/blobs/uploads/")
        assert challenged.status_code == 401
        assert f'scope="repository:{repository}:pull,push"' in (
            challenged.headers["www-authenticate"]
        )
        token = pull_token(client, repository, "pull,push").json()["token"]
        response = client.post(
            f"/v2/{repository}/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"] == "can not push artifact to a proxy project"


def test_manifest_by_tag_is_served_from_cache_while_the_upstream_is_down(mirror):
    repository = "application-collection/containers/kubectl"
    digest = mirror.upstream.images["containers/kubectl:1.33.4"].digest
    with harbor_client(mirror.harbor) as client:
        bearer = {"Authorization": f"Bearer {pull_token(client, repository).json()['token']}"}
        path = f"/v2/{repository}/manifests/1.33.4"
        assert client.get(path, headers=bearer).headers["docker-content-digest"] == digest
        mirror.upstream.registry.stop()
        try:
            cached = client.get(path, headers=bearer)
            uncached = client.get(f"/v2/{repository}/manifests/0.0.1", headers=bearer)
        finally:
            mirror.upstream.registry.start()
    assert cached.status_code == 200
    assert cached.headers["docker-content-digest"] == digest
    assert uncached.status_code == 500
