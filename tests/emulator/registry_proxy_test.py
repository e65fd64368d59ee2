"""The emulator's registry data plane against the real upstream, on the wire, as Harbor answers.

Each test names the Harbor behaviour it shows (`../shared/reference/harbor-behaviour.md`, A1 -
A12); the emulator's handlers cite the Harbor source they follow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME, API_PREFIX
from tests.support.fixtures_helm import isolated_helm_env
from tests.support.fixtures_registry import ADMIN_ENV, REPO_ROOT, Mirror, harbor_client, pull_token
from tests.support.oci_content import digest_of

PROJECT = "application-collection"
KUBECTL = f"{PROJECT}/containers/kubectl"  # an index over three platforms upstream
BUSYBOX = f"{PROJECT}/containers/bci-busybox"  # a single-platform manifest upstream
BASIC = 'Basic realm="harbor"'


def bearer(
    client: httpx.Client, repository: str, auth: tuple[str, str] | None = None
) -> dict[str, str]:
    token = pull_token(client, repository, auth=auth or (ADMIN_USERNAME, ADMIN_PASSWORD))
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['token']}"}


@contextmanager
def upstream_down(mirror: Mirror) -> Iterator[None]:
    with mirror.upstream.registry.stopped():
        yield


def test_helm_pull_through_proxy_project(mirror, helm4, tmp_path):
    helm = isolated_helm_env(helm4, tmp_path / "helm")
    ca = mirror.harbor.ca_file
    login = helm.run(
        "registry", "login", mirror.host, "--username", "admin", "--password-stdin",
        "--ca-file", ca, input="Harbor12345",
    )  # fmt: skip
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
        token = pull_token(client, f"{PROJECT}/x").json()
        assert token["expires_in"] == 1800
        assert (
            client.get("/v2/", headers={"Authorization": f"Bearer {token['token']}"}).status_code
            == 200
        )
        assert (
            client.get("/service/token", params={"service": "harbor-registry"}).status_code == 401
        )
        other = client.get("/service/token", params={"service": "registry", "scope": "x"})
        assert (other.status_code, other.text) == (400, "Unable to handle service: registry")
        # containerd first POSTs an OAuth form, and asks by GET after Harbor's 405.
        oauth = client.post("/service/token", data={"service": "harbor-registry", "scope": "x"})
        assert oauth.status_code == 405


def test_a1_get_by_tag_through_the_proxy_has_an_empty_digest_until_cached(mirror):
    digest = mirror.upstream.images["containers/kubectl:1.33.4"].digest
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, KUBECTL)
        first = client.get(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth)
        by_digest = client.get(f"/v2/{KUBECTL}/manifests/{digest}", headers=auth)
        again = client.get(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth)
    assert first.status_code == 200
    assert first.headers["docker-content-digest"] == ""
    assert json.loads(first.content)["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert by_digest.headers["docker-content-digest"] == digest
    assert again.headers["docker-content-digest"] == digest  # the index is in Redis now


def test_a2_a_manifest_head_caches_nothing_only_a_get_does(mirror):
    digest = mirror.upstream.images["containers/bci-busybox:15.6"].digest
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, BUSYBOX)
        head = client.head(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
        assert (head.status_code, head.headers["docker-content-digest"]) == (200, digest)
        assert mirror.harbor.state.store.content(PROJECT).manifests == {}
        with upstream_down(mirror):
            after_head = client.head(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
        assert client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth).status_code == 200
        with upstream_down(mirror):
            after_get = client.head(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
    assert after_head.status_code == 404
    assert (after_get.status_code, after_get.headers["docker-content-digest"]) == (200, digest)


def test_a2_a_head_then_a_get_by_digest_caches_the_artifact_under_its_tag(mirror):
    digest = mirror.upstream.images["containers/bci-busybox:15.6"].digest
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, BUSYBOX)
        head = client.head(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
        by_digest = client.get(f"/v2/{BUSYBOX}/manifests/{head.headers['docker-content-digest']}",
                               headers=auth)  # fmt: skip
        with upstream_down(mirror):  # EnsureTag put the HEAD's tag on what the GET stored
            later = client.head(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
    assert by_digest.headers["docker-content-digest"] == digest
    assert (later.status_code, later.headers["docker-content-digest"]) == (200, digest)


def test_a3_refused_credentials_get_an_empty_token_then_a_basic_challenge(mirror):
    with harbor_client(mirror.harbor) as client:
        wrong = pull_token(client, BUSYBOX, auth=("robot$application-collection+k8s", "wrong"))
        assert wrong.status_code == 200
        headers = {"Authorization": f"Bearer {wrong.json()['token']}"}
        refused = client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=headers)
        anonymous = client.get(f"/v2/{BUSYBOX}/manifests/15.6")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == BASIC
    assert refused.json()["errors"] == [
        {"code": "UNAUTHORIZED",
         "message": f"unauthorized to access repository: {BUSYBOX}, action: pull"}
    ]  # fmt: skip
    assert anonymous.headers["www-authenticate"].startswith("Bearer ")
    assert f'scope="repository:{BUSYBOX}:pull"' in anonymous.headers["www-authenticate"]


def test_a4_upstream_failures_on_manifests_fall_back_to_local_content(mirror):
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, BUSYBOX)
        assert client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth).status_code == 200
        with upstream_down(mirror):
            cached = client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
            uncached = client.get(f"/v2/{BUSYBOX}/manifests/0.0.1", headers=auth)
        (endpoint,) = mirror.harbor.state.registries.values()
        endpoint.access_secret = "expired-upstream-token"  # the upstream now answers 401
        refused = client.get(f"/v2/{PROJECT}/containers/etcd/manifests/3.5.17-1.2", headers=auth)
    assert cached.status_code == 200
    assert (uncached.status_code, uncached.json()["errors"][0]["code"]) == (404, "NOT_FOUND")
    assert refused.status_code == 404
    assert refused.json()["errors"][0]["message"] == (
        f"repository {PROJECT}/containers/etcd not found"
    )


def test_a5_an_expired_token_is_anonymous_and_gets_the_basic_challenge(mirror):
    mirror.harbor.token_seconds = 1
    with harbor_client(mirror.harbor) as client:
        answer = pull_token(client, BUSYBOX).json()
        assert answer["expires_in"] == 1
        headers = {"Authorization": f"Bearer {answer['token']}"}
        assert client.head(f"/v2/{BUSYBOX}/manifests/15.6", headers=headers).status_code == 200
        time.sleep(1.1)
        expired = client.head(f"/v2/{BUSYBOX}/manifests/15.6", headers=headers)
    assert expired.status_code == 401
    assert expired.headers["www-authenticate"] == BASIC


def test_a6_tags_of_a_missing_repository_are_an_empty_list(mirror):
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, f"{PROJECT}/charts/nope")
        missing = client.get(f"/v2/{PROJECT}/charts/nope/tags/list", headers=auth)
        found = client.get(f"/v2/{PROJECT}/charts/etcd-like/tags/list", headers=auth)
    assert missing.status_code == 200
    assert missing.json() == {"name": f"{PROJECT}/charts/nope", "tags": []}
    assert found.json()["tags"] == ["0.1.0"]


def test_a11_basic_credentials_work_directly_on_v2(mirror):
    with harbor_client(mirror.harbor) as client:
        basic = client.head(f"/v2/{BUSYBOX}/manifests/15.6", auth=(ADMIN_USERNAME, ADMIN_PASSWORD))
        wrong = client.head(f"/v2/{BUSYBOX}/manifests/15.6", auth=(ADMIN_USERNAME, "wrong"))
    assert basic.status_code == 200
    assert (wrong.status_code, wrong.headers["www-authenticate"]) == (401, BASIC)


def test_a12_an_index_is_stored_once_its_children_are_or_trimmed_when_the_wait_ends(mirror):
    # What a runtime sends: HEAD the tag (its EnsureTag follows the trimmed digest), GET by digest.
    image = mirror.upstream.images["containers/kubectl:1.33.4"]
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, KUBECTL)
        assert client.head(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth).status_code == 200
        index = client.get(f"/v2/{KUBECTL}/manifests/{image.digest}", headers=auth).json()
        first, *others = [entry["digest"] for entry in index["manifests"]]
        assert client.get(f"/v2/{KUBECTL}/manifests/{first}", headers=auth).status_code == 200
        with upstream_down(mirror):  # in Redis only: the fallback finds nothing local
            waiting = client.get(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth)
        mirror.harbor.settle()  # Harbor's 20 x 20 s wait ran out: push what is there
        with upstream_down(mirror):
            trimmed = client.get(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth)
            original = client.get(f"/v2/{KUBECTL}/manifests/{image.digest}", headers=auth)
    assert waiting.status_code == 404
    assert trimmed.status_code == 200
    assert [entry["digest"] for entry in trimmed.json()["manifests"]] == [first]
    assert trimmed.headers["docker-content-digest"] != image.digest
    assert others and original.status_code == 404


def test_a12_an_index_is_stored_rebuilt_under_its_own_digest_even_with_every_child(mirror):
    # manifestcache.go:ManifestListCache.push always pushes updateManifestList's result, a list
    # distribution's FromDescriptors wrote anew (MarshalIndent): the upstream's bytes and digest
    # live only in the Redis cache, so with the upstream gone the tag serves the rebuilt list.
    image = mirror.upstream.images["containers/etcd:3.5.17-1.2"]
    etcd = f"{PROJECT}/containers/etcd"
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, etcd)
        assert client.head(f"/v2/{etcd}/manifests/3.5.17-1.2", headers=auth).status_code == 200
        index = client.get(f"/v2/{etcd}/manifests/{image.digest}", headers=auth)
        for entry in index.json()["manifests"]:
            assert client.get(f"/v2/{etcd}/manifests/{entry['digest']}",
                              headers=auth).status_code == 200
        with upstream_down(mirror):
            served = client.get(f"/v2/{etcd}/manifests/3.5.17-1.2", headers=auth)
    assert index.headers["docker-content-digest"] == image.digest  # Redis, upstream answering
    assert served.status_code == 200
    assert served.headers["docker-content-digest"] == digest_of(served.content) != image.digest
    assert served.content.startswith(b'{\n   "schemaVersion": 2,\n   "mediaType": ')
    assert served.json()["manifests"] == index.json()["manifests"]


def test_a12_an_index_got_by_tag_is_stored_under_no_tag(mirror):
    # ProxyManifest pushes an index by digest only, and keeps its trimmed digest under the
    # request's digest (none for a tag), so the HEAD's EnsureTag never finds what was stored.
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, KUBECTL)
        assert client.head(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth).status_code == 200
        index = client.get(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth).json()
        first = index["manifests"][0]["digest"]
        assert client.get(f"/v2/{KUBECTL}/manifests/{first}", headers=auth).status_code == 200
        mirror.harbor.settle()
        with upstream_down(mirror):
            by_tag = client.get(f"/v2/{KUBECTL}/manifests/1.33.4", headers=auth)
    stored = mirror.harbor.state.store.content(PROJECT)
    assert [m for m in stored.manifests.values() if m.is_index]  # stored, trimmed ...
    assert "1.33.4" not in stored.tags.get("containers/kubectl", {})  # ... under no tag
    assert by_tag.status_code == 404


def test_a12_endpoint_health_is_checked_again(mirror):
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, BUSYBOX)
        with upstream_down(mirror):
            mirror.harbor.health_check()
        (endpoint,) = mirror.harbor.state.registries.values()
        assert endpoint.status == "unhealthy"
        unhealthy = client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
        mirror.harbor.health_check()
        healthy = client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
    assert unhealthy.status_code == 404  # canProxy is false: only local content answers
    assert (endpoint.status, healthy.status_code) == ("healthy", 200)


def test_a_fault_can_be_injected_on_a_registry_path(mirror):
    path = f"/v2/{BUSYBOX}/manifests/15.6"
    mirror.harbor.inject_fault(path, status=429, retry_after=0, method="HEAD")
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, BUSYBOX)
        first, second = (client.head(path, headers=auth) for _ in range(2))
    assert (first.status_code, first.headers["retry-after"], second.status_code) == (429, "0", 200)


def test_blob_head_answers_from_the_cache_and_get_fills_it(mirror):
    image = mirror.upstream.images["containers/bci-busybox:15.6"]
    digest, size = next(iter(image.blobs.items()))
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, BUSYBOX)
        path = f"/v2/{BUSYBOX}/blobs/{digest}"
        assert client.head(path, headers=auth).status_code == 404
        fetched = client.get(path, headers=auth)
        assert fetched.status_code == 200
        assert len(fetched.content) == size
        cached = client.head(path, headers=auth)
        assert cached.status_code == 200
        assert cached.headers["content-length"] == str(size)
        assert cached.headers["docker-content-digest"] == digest


def test_push_into_a_proxy_project_is_denied(mirror):
    repository = f"{PROJECT}/containers/new"
    with harbor_client(mirror.harbor) as client:
        challenged = client.post(f"/v2/{repository}/blobs/uploads/")
        assert challenged.status_code == 401
        assert (
            f'scope="repository:{repository}:pull,push"' in (challenged.headers["www-authenticate"])
        )
        token = pull_token(client, repository, "pull,push").json()["token"]
        response = client.post(
            f"/v2/{repository}/blobs/uploads/", headers={"Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403
    assert response.json()["errors"][0]["message"] == (
        f"can not push artifact to a proxy project: {PROJECT}"
    )


def test_a_missing_project_is_401_without_a_challenge(mirror):
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, "nope/containers/x")
        response = client.get("/v2/nope/containers/x/manifests/1", headers=auth)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == ""
    assert response.json()["errors"][0]["message"] == "project nope not found"


# -- replication into a normal project: verify, helm pull and an image pull from it ----------
REPLICATED = "appco-mirror"


def replicate(mirror: Mirror, name_filter: str) -> list[dict[str, Any]]:
    """A pull policy from the proxy's endpoint into REPLICATED (no flattening); run it."""
    (registry_id,) = mirror.harbor.state.registries
    policy = {
        "name": "appco", "src_registry": {"id": registry_id}, "dest_namespace": REPLICATED,
        "dest_namespace_replace_count": 0, "filters": [{"type": "name", "value": name_filter}],
        "trigger": {"type": "manual"}, "enabled": True, "override": True,
    }  # fmt: skip
    keep_none = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # Harbor's CSRF check
    admin = (ADMIN_USERNAME, ADMIN_PASSWORD)
    with harbor_client(mirror.harbor, API_PREFIX, auth=admin, cookies=keep_none) as api:
        made = api.post("/replication/policies", json=policy)
        assert made.status_code == 201, made.text
        started = api.post("/replication/executions", json={"policy_id": int(
            made.headers["location"].rsplit("/", 1)[1])})  # fmt: skip
        path = started.headers["location"].removeprefix(API_PREFIX)
        while (execution := api.get(path).json())["status"] == "InProgress":
            time.sleep(0.05)
        assert execution["status"] == "Succeed", execution
        tasks: list[dict[str, Any]] = api.get(f"{path}/tasks").json()
    return tasks


def pull_image(client: httpx.Client, repository: str, tag: str) -> list[str]:
    """What a container runtime does: HEAD the tag, GET the index and the platform manifests
    by digest, GET every blob; each body must match its digest. Returns the blobs' digests."""
    auth = bearer(client, repository)
    head = client.head(f"/v2/{repository}/manifests/{tag}", headers=auth)
    assert head.status_code == 200, head.text
    pending, blobs = [head.headers["docker-content-digest"]], []
    while pending:
        digest = pending.pop()
        got = client.get(f"/v2/{repository}/manifests/{digest}", headers=auth)
        assert (got.status_code, digest_of(got.content)) == (200, digest)
        document = got.json()
        pending += [entry["digest"] for entry in document.get("manifests", [])]
        for blob in [document.get("config"), *document.get("layers", [])]:
            if blob:
                fetched = client.get(f"/v2/{repository}/blobs/{blob['digest']}", headers=auth)
                assert digest_of(fetched.content) == blob["digest"]
                blobs.append(blob["digest"])
    return blobs


def test_replication_copies_artifacts_that_verify_helm_and_a_runtime_pull(mirror, helm4, tmp_path):
    tasks = replicate(mirror, "{containers/kubectl,containers/bci-busybox,charts/etcd-like}")
    assert sorted(t["dst_resource"] for t in tasks) == [
        f"{REPLICATED}/charts/etcd-like [1 item(s) in total]",
        f"{REPLICATED}/containers/bci-busybox [1 item(s) in total]",
        f"{REPLICATED}/containers/kubectl [1 item(s) in total]",
    ]
    kubectl = mirror.upstream.images["containers/kubectl:1.33.4"]
    with upstream_down(mirror):  # all of it comes from the destination project now
        with harbor_client(mirror.harbor) as client:
            pulled = pull_image(client, f"{REPLICATED}/containers/kubectl", "1.33.4")
        helm = isolated_helm_env(helm4, tmp_path / "helm")
        ca = mirror.harbor.ca_file
        login = helm.run("registry", "login", mirror.host, "--username", ADMIN_USERNAME,
                         "--password-stdin", "--ca-file", ca, input=ADMIN_PASSWORD)  # fmt: skip
        assert login.returncode == 0, login.stderr
        chart = f"oci://{mirror.host}/{REPLICATED}/charts/etcd-like"
        fetched = helm.run("pull", chart, "--version", "0.1.0", "--ca-file", ca, "-d", tmp_path)
        rendered = tmp_path / "rendered.yaml"
        rendered.write_text(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
            "    - name: c\n      image: dp.apps.rancher.io/containers/kubectl:1.33.4\n"
            "    - name: d\n      image: dp.apps.rancher.io/containers/bci-busybox:15.6\n"
        )
        verified = subprocess.run(
            [sys.executable, "-m", "postrender.cli", "verify", str(rendered), "-o", "json",
             "--harbor-host", mirror.host, "--project", REPLICATED, "--ca-file", ca],
            capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
            env={**helm.env, **ADMIN_ENV},
        )  # fmt: skip
    assert sorted(pulled) == sorted(kubectl.blobs)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "etcd-like-0.1.0.tgz").is_file()
    assert verified.returncode == 0, verified.stderr
    assert [entry["result"] for entry in json.loads(verified.stdout)] == ["ok", "ok"]


def test_a_stored_manifest_by_digest_asks_the_upstream_nothing_and_by_tag_one_head(mirror):
    # controller.go:UseLocalManifest: a pull by digest of a local artifact returns before
    # remote.ManifestExist; a pull by tag always HEADs the upstream first, even when stored.
    image = mirror.upstream.images["containers/bci-busybox:15.6"]
    upstream = mirror.upstream.registry
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, BUSYBOX)
        stored = client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
        assert stored.status_code == 200
        before = len(upstream.requests())
        by_digest = client.get(f"/v2/{BUSYBOX}/manifests/{image.digest}", headers=auth)
        assert (by_digest.status_code, len(upstream.requests())) == (200, before)
        by_tag = client.get(f"/v2/{BUSYBOX}/manifests/15.6", headers=auth)
        assert by_tag.status_code == 200
        assert upstream.requests()[before:] == ["HEAD /v2/containers/bci-busybox/manifests/15.6"]
        with upstream_down(mirror):
            offline = client.get(f"/v2/{BUSYBOX}/manifests/{image.digest}", headers=auth)
    assert offline.status_code == 200 and offline.content == by_digest.content


def test_a_pull_by_the_upstream_index_digest_asks_the_upstream_and_fails_while_it_is_down(
    mirror,
):
    # ManifestListCache.push stores the index rebuilt under a digest of its own, so even with
    # every platform stored UseLocalManifest finds nothing local for the upstream's digest: it
    # HEADs the upstream and answers from the Redis cache, or 404 with the upstream gone.
    image = mirror.upstream.images["containers/kubectl:1.33.4"]
    upstream = mirror.upstream.registry
    with harbor_client(mirror.harbor) as client:
        auth = bearer(client, KUBECTL)
        index = client.get(f"/v2/{KUBECTL}/manifests/{image.digest}", headers=auth)
        for entry in index.json()["manifests"]:
            child = client.get(f"/v2/{KUBECTL}/manifests/{entry['digest']}", headers=auth)
            assert child.status_code == 200
        before = len(upstream.requests())
        again = client.get(f"/v2/{KUBECTL}/manifests/{image.digest}", headers=auth)
        assert again.status_code == 200
        assert upstream.requests()[before:] == [
            f"HEAD /v2/containers/kubectl/manifests/{image.digest}"]
        with upstream_down(mirror):
            offline = client.get(f"/v2/{KUBECTL}/manifests/{image.digest}", headers=auth)
            child = client.get(f"/v2/{KUBECTL}/manifests/{entry['digest']}", headers=auth)
    assert offline.status_code == 404
    assert child.status_code == 200  # a platform's manifest is stored as it is
