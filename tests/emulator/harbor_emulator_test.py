"""The Harbor emulator behaves like Harbor where a client can notice: traps, paging, runs, spec."""

from __future__ import annotations

import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from tests.harbor_emulator import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    Exchange,
    FakeUpstream,
    HarborEmulator,
    LoopbackServer,
    Request,
    Response,
    tls_context,
)
from tests.harbor_emulator.core import OPERATIONS
from tests.harbor_emulator.spec import Spec
from tests.harbor_emulator.state import Execution, Task
from tests.support.fixtures_harbor import serving_upstream

ADMIN = (ADMIN_USERNAME, ADMIN_PASSWORD)
REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_FILE = REPO_ROOT.parent / "shared" / "reference" / "harbor-swagger-v2.15.2.yaml"
UNHEALTHY = {"errors": [{"code": "BAD_REQUEST", "message": "the registry is unhealthy"}]}


def api(
    harbor: HarborEmulator, auth: tuple[str, str] | None = ADMIN, *, ca_file: str | None = None
) -> httpx.Client:
    """A client as the product's must be: no cookies kept (Harbor's CSRF check trips on them)."""
    ca_file = ca_file or harbor.ca_file
    return httpx.Client(
        base_url=harbor.url + "/api/v2.0",
        auth=auth,
        verify=ssl.create_default_context(cafile=ca_file) if ca_file else True,
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


@pytest.fixture
def client(harbor: HarborEmulator) -> Iterator[httpx.Client]:
    with api(harbor) as admin:
        yield admin


def create(client: httpx.Client, path: str, body: Mapping[str, object]) -> int:
    """POST, expect 201, and take the id from `Location` as a client would."""
    response = client.post(path, json=body)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def registry_body(
    upstream: FakeUpstream, name: str = "appco", token: str = ""
) -> dict[str, object]:
    return {
        "name": name,
        "type": "docker-registry",
        "url": upstream.url,
        "description": "SUSE Application Collection",
        "credential": {
            "type": "basic",
            "access_key": upstream.username,
            "access_secret": token or upstream.token,
        },
        "insecure": False,
    }


def policy_body(registry_id: int, name: str = "appco-etcd", **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "name": name,
        "src_registry": {"id": registry_id},
        "dest_namespace": "appco-mirror",
        "dest_namespace_replace_count": 0,
        "filters": [
            {"type": "name", "value": "containers/etcd"},
            {"type": "tag", "value": "3.5.*", "decoration": "matches"},
        ],
        "trigger": {"type": "manual"},
        "override": True,
        "enabled": True,
        "deletion": False,
        "speed": -1,
    }
    body.update(changes)
    return body


ROBOT = {
    "name": "k8s-pull",
    "level": "project",
    "duration": -1,
    "permissions": [
        {
            "kind": "project",
            "namespace": "application-collection",
            "access": [{"resource": "repository", "action": "pull"}],
        }
    ],
}


@pytest.fixture
def registry_id(client: httpx.Client, upstream_registry: FakeUpstream) -> int:
    return create(client, "/registries", registry_body(upstream_registry))


def wait_for_execution(client: httpx.Client, execution_id: int) -> list[dict[str, Any]]:
    """Poll like a client does; return every state seen, the final one last."""
    seen = [client.get(f"/replication/executions/{execution_id}").json()]
    while seen[-1]["status"] == "InProgress":
        time.sleep(0.05)
        seen.append(client.get(f"/replication/executions/{execution_id}").json())
    return seen


# -- credentials, roles, CSRF --
def test_wrong_password_is_anonymous_not_401(harbor: HarborEmulator) -> None:
    with api(harbor, ("admin", "wrong")) as anonymous:
        assert anonymous.get("/projects").status_code == 200
        assert "harbor_version" not in anonymous.get("/systeminfo").json()
        current = anonymous.get("/users/current")
    assert current.status_code == 401
    assert current.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_admin_sees_version_and_sysadmin_flag(client: httpx.Client) -> None:
    assert client.get("/systeminfo").json()["harbor_version"].startswith("v2.15")
    assert client.get("/users/current").json()["sysadmin_flag"] is True


def test_non_admin_is_forbidden_admin_apis(
    harbor: HarborEmulator, upstream_registry: FakeUpstream, registry_id: int
) -> None:
    harbor.add_user("dev", "Dev12345")
    with api(harbor, ("dev", "Dev12345")) as dev:
        assert dev.get("/users/current").json()["sysadmin_flag"] is False
        refused = dev.get("/registries")  # RequireSystemAccess names the caller
        assert (refused.status_code, refused.json()["errors"][0]["message"]) == (403, "dev")
        assert (
            dev.post("/registries", json=registry_body(upstream_registry, "x")).status_code == 403
        )
        assert dev.get("/replication/policies").status_code == 403
        proxy = dev.post("/projects", json={"project_name": "p", "registry_id": registry_id})
        plain = dev.post("/projects", json={"project_name": "p"})
    assert proxy.status_code == 403
    assert (
        proxy.json()["errors"][0]["message"] == "Only system admin can create proxy cache project"
    )
    assert plain.status_code == 201


def test_admin_creates_non_admin_users(harbor: HarborEmulator, client: httpx.Client) -> None:
    user = {"username": "dev", "password": "Dev12345"}
    assert client.post("/users", json=user).headers["Location"] == "/api/v2.0/users/2"
    assert client.post("/users", json=user).status_code == 409
    with api(harbor, ("dev", "Dev12345")) as dev:
        assert dev.get("/users/current").json()["sysadmin_flag"] is False
        assert dev.post("/users", json={"username": "x", "password": "Dev12345"}).status_code == 403


def test_kept_sid_cookie_earns_csrf_403_on_writes(
    harbor: HarborEmulator, upstream_registry: FakeUpstream
) -> None:
    with httpx.Client(base_url=harbor.url + "/api/v2.0", auth=ADMIN) as keeps_cookies:
        first = keeps_cookies.get("/users/current")
        assert "sid" in first.cookies
        assert keeps_cookies.get("/registries").status_code == 200
        refused = keeps_cookies.post("/registries", json=registry_body(upstream_registry))
    assert refused.status_code == 403
    assert refused.json() == {"errors": [{"code": "FORBIDDEN", "message": "CSRF token invalid"}]}
    assert harbor.state.registries == {}


def test_request_id_is_echoed_or_generated(client: httpx.Client) -> None:
    assert client.get("/ping", headers={"X-Request-Id": "abc-1"}).headers["X-Request-Id"] == "abc-1"
    generated = client.get("/ping").headers["X-Request-Id"]
    assert len(generated) == 36


# -- registries --
def test_registry_create_pings_upstream_with_given_credentials(
    harbor: HarborEmulator, client: httpx.Client, upstream_registry: FakeUpstream
) -> None:
    bad = client.post("/registries", json=registry_body(upstream_registry, token="nope"))
    assert (bad.status_code, bad.json()) == (400, UNHEALTHY)
    good = client.post("/registries", json=registry_body(upstream_registry))
    assert good.status_code == 201
    assert good.headers["Location"] == "/api/v2.0/registries/1"
    assert good.content == b""
    assert upstream_registry.paths == ["/v2/", "/v2/"]
    listed = client.get("/registries/1").json()
    assert listed["credential"] == {
        "type": "basic",
        "access_key": "appco-user",
        "access_secret": "*****",
    }
    assert listed["status"] == "healthy"


def test_upstream_answers_basic_auth_like_a_registry(upstream_registry: FakeUpstream) -> None:
    anonymous = httpx.get(upstream_registry.url + "/v2/")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = httpx.get(upstream_registry.url + "/v2/", auth=(upstream_registry.username, "x"))
    assert wrong.status_code == 401
    auth = (upstream_registry.username, upstream_registry.token)
    assert httpx.get(upstream_registry.url + "/v2/", auth=auth).status_code == 200
    catalog = httpx.get(upstream_registry.url + "/v2/_catalog?n=2", auth=auth)
    assert catalog.json() == {"repositories": ["charts/etcd", "containers/etcd"]}
    assert catalog.headers["Link"] == '</v2/_catalog?last=containers%2Fetcd&n=2>; rel="next"'
    tags = httpx.get(upstream_registry.url + "/v2/containers/redis/tags/list", auth=auth)
    assert tags.json() == {"name": "containers/redis", "tags": ["7.2.5", "7.4.0"]}


def test_registry_url_is_normalised(client: httpx.Client, upstream_registry: FakeUpstream) -> None:
    body = registry_body(upstream_registry)
    host = upstream_registry.url.removeprefix("http://")
    for index, url in enumerate([f"  {host}//  ", f"{host}?x=1#y"]):
        body.update(name=f"r{index}", url=url)
        registry = create(client, "/registries", body)
        assert client.get(f"/registries/{registry}").json()["url"] == upstream_registry.url
    body["url"] = "ftp://example.com"
    assert client.post("/registries", json=body).json()["errors"][0]["code"] == "BAD_REQUEST"


def test_registry_unreachable_is_unhealthy(
    client: httpx.Client, upstream_registry: FakeUpstream
) -> None:
    body = registry_body(upstream_registry)
    body["url"] = "http://127.0.0.1:9"
    response = client.post("/registries", json=body)
    assert (response.status_code, response.json()) == (400, UNHEALTHY)


def test_registry_without_credentials_is_healthy_on_401(
    client: httpx.Client, upstream_registry: FakeUpstream
) -> None:
    body = registry_body(upstream_registry)
    del body["credential"]
    assert client.post("/registries", json=body).status_code == 201


def test_registry_duplicate_name_is_409_even_when_racing(
    harbor: HarborEmulator, upstream_registry: FakeUpstream
) -> None:
    statuses: list[int] = []

    def attempt() -> None:
        with api(harbor) as racer:
            statuses.append(
                racer.post("/registries", json=registry_body(upstream_registry)).status_code
            )

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201, 409]
    assert len(harbor.state.registries) == 1


def test_registry_update_is_flat_and_keeps_omitted_secret(
    harbor: HarborEmulator, client: httpx.Client, upstream_registry: FakeUpstream, registry_id: int
) -> None:
    nested = {"credential": {"access_key": "someone-else", "access_secret": "x"}}
    assert client.put(f"/registries/{registry_id}", json=nested).status_code == 200
    assert harbor.state.registries[registry_id].access_key == "appco-user"
    assert client.put(f"/registries/{registry_id}", json={"description": "new"}).status_code == 200
    stored = harbor.state.registries[registry_id]
    assert (stored.description, stored.access_secret) == ("new", upstream_registry.token)
    bad = client.put(f"/registries/{registry_id}", json={"access_secret": "wrong-token"})
    assert (bad.status_code, bad.json()) == (400, UNHEALTHY)
    assert harbor.state.registries[registry_id].access_secret == upstream_registry.token


def test_registry_ping_by_id_and_with_overrides(
    client: httpx.Client, upstream_registry: FakeUpstream, registry_id: int
) -> None:
    assert client.post("/registries/ping", json={"id": registry_id}).status_code == 200
    wrong = client.post("/registries/ping", json={"id": registry_id, "access_secret": "bad"})
    assert (wrong.status_code, wrong.json()) == (400, UNHEALTHY)
    empty = client.post("/registries/ping", json={"url": upstream_registry.url})
    assert empty.json()["errors"][0]["message"] == "type or url cannot be empty"
    assert client.post("/registries/ping", json={"id": 99}).status_code == 404


def test_registry_query_exact_versus_fuzzy_name(
    client: httpx.Client, upstream_registry: FakeUpstream
) -> None:
    create(client, "/registries", registry_body(upstream_registry, "appco"))
    create(client, "/registries", registry_body(upstream_registry, "appco-staging"))
    exact = client.get("/registries", params={"q": "name=appco"}).json()
    fuzzy = client.get("/registries", params={"name": "appco"}).json()
    assert [r["name"] for r in exact] == ["appco"]
    assert sorted(r["name"] for r in fuzzy) == ["appco", "appco-staging"]
    assert client.get("/registries", params={"q": "name="}).status_code == 400


def test_registry_over_tls_needs_its_ca_unless_insecure(
    client: httpx.Client, harbor_ca: trustme.CA
) -> None:
    upstream = FakeUpstream()
    with LoopbackServer(upstream, ssl_context=tls_context(harbor_ca)) as server:
        body = registry_body(upstream)
        body["url"] = server.url
        assert client.post("/registries", json=body).status_code == 400
        trusted = {**body, "ca_certificate": harbor_ca.cert_pem.bytes().decode()}
        assert client.post("/registries", json=trusted).status_code == 201
        skipping = {**body, "name": "skip", "insecure": True}
        assert client.post("/registries", json=skipping).status_code == 201


# -- paging --
def test_pagination_headers_and_limit(client: httpx.Client) -> None:
    for index in range(12):
        create(client, "/projects", {"project_name": f"p{index:02d}"})
    first = client.get("/projects", params={"page_size": 5, "sort": "name"})
    assert first.headers["X-Total-Count"] == "12"
    assert [p["name"] for p in first.json()] == ["p00", "p01", "p02", "p03", "p04"]
    assert first.headers["Link"] == '</api/v2.0/projects?page_size=5&sort=name&page=2>; rel="next"'
    middle = client.get("/projects", params={"page": 2, "page_size": 5})
    assert 'rel="prev" , <' in middle.headers["Link"]
    last = client.get("/projects", params={"page": 3, "page_size": 5})
    assert len(last.json()) == 2
    assert 'rel="next"' not in last.headers["Link"]
    too_big = client.get("/projects", params={"page_size": 101})
    assert too_big.status_code == 422
    assert too_big.json()["errors"][0]["code"] == "UNPROCESSABLE_ENTITY"


# -- projects --
def test_proxy_project_keeps_its_registry(
    harbor: HarborEmulator, client: httpx.Client, upstream_registry: FakeUpstream, registry_id: int
) -> None:
    other = create(client, "/registries", registry_body(upstream_registry, "other"))
    body = {
        "project_name": "application-collection",
        "registry_id": registry_id,
        "metadata": {"public": "false"},
    }
    assert create(client, "/projects", body) == 1
    assert client.post("/projects", json=body).status_code == 409
    by_name = {"X-Is-Resource-Name": "true"}
    update = {"registry_id": other, "metadata": {"public": "true"}}
    assert (
        client.put("/projects/application-collection", json=update, headers=by_name).status_code
        == 200
    )
    project = client.get("/projects/application-collection", headers=by_name).json()
    assert project["registry_id"] == registry_id
    assert project["metadata"]["public"] == "true"
    assert project["metadata"]["retention_id"]
    assert (
        client.head("/projects", params={"project_name": "application-collection"}).status_code
        == 200
    )
    assert client.head("/projects", params={"project_name": "nope"}).status_code == 404
    summary = client.get("/projects/1/summary").json()
    assert summary["registry"]["name"] == "appco"


def test_project_metadata_public_must_be_a_string(client: httpx.Client) -> None:
    as_bool = client.post("/projects", json={"project_name": "p", "metadata": {"public": True}})
    assert as_bool.status_code == 422
    odd = client.post("/projects", json={"project_name": "p", "metadata": {"public": "yes"}})
    assert odd.status_code == 400
    assert client.post("/projects", json={"project_name": "Bad_Name"}).status_code == 400


def test_missing_project_depends_on_who_asks(harbor: HarborEmulator, client: httpx.Client) -> None:
    harbor.add_user("dev", "Dev12345")
    with api(harbor, ("dev", "Dev12345")) as dev, api(harbor, None) as anonymous:
        assert dev.get("/projects/nope").status_code == 403
        assert anonymous.get("/projects/nope").status_code == 401
    assert client.get("/projects/nope").status_code == 404
    assert client.post("/projects", json={"project_name": "x", "registry_id": 42}).json() == {
        "errors": [{"code": "UNKNOWN", "message": "internal server error"}]
    }


# -- replication --
@pytest.mark.parametrize(("version", "status"), [("v2.15.2", 200), ("main", 400)])
def test_a7_a_new_url_sent_without_the_secret(
    harbor: HarborEmulator,
    client: httpx.Client,
    upstream_registry: FakeUpstream,
    registry_id: int,
    version: str,
    status: int,
) -> None:
    harbor.version = version
    with serving_upstream() as moved:  # the same credentials work there
        response = client.put(f"/registries/{registry_id}", json={"url": moved.url})
        assert response.status_code == status
        if version == "main":  # main cleared the stored secret, so the health check failed
            assert response.json() == UNHEALTHY
            resent = {"url": moved.url, "access_secret": upstream_registry.token}
            assert client.put(f"/registries/{registry_id}", json=resent).status_code == 200
        assert harbor.state.registries[registry_id].url == moved.url
        assert harbor.state.registries[registry_id].access_secret == upstream_registry.token


@pytest.mark.parametrize(("version", "status"), [("v2.15.2", 400), ("v2.15.3", 200), ("main", 200)])
def test_a9_ping_by_id_ignores_connection_overrides_from_2_15_3(
    harbor: HarborEmulator, client: httpx.Client, registry_id: int, version: str, status: int
) -> None:
    harbor.version = version
    moved = {"id": registry_id, "url": "http://127.0.0.1:9", "insecure": True}
    assert client.post("/registries/ping", json=moved).status_code == status
    wrong = client.post("/registries/ping", json={"id": registry_id, "access_secret": "bad"})
    assert (wrong.status_code, wrong.json()) == (400, UNHEALTHY)


def test_disabled_policy_cannot_start(client: httpx.Client, registry_id: int) -> None:
    policy = create(client, "/replication/policies", policy_body(registry_id, enabled=False))
    response = client.post("/replication/executions", json={"policy_id": policy})
    assert response.status_code == 412
    assert response.json()["errors"][0]["message"] == f"the policy {policy} is disabled"


def test_policy_defaults_and_replacing_update(client: httpx.Client, registry_id: int) -> None:
    body = policy_body(registry_id, deletion=True)
    del body["dest_namespace_replace_count"]
    policy = create(client, "/replication/policies", body)
    stored = client.get(f"/replication/policies/{policy}").json()
    assert stored["dest_namespace_replace_count"] == -1
    assert (stored["deletion"], stored["replicate_deletion"]) == (True, True)
    assert stored["dest_registry"]["id"] == 0
    assert client.post("/replication/policies", json=body).status_code == 409
    assert (
        client.put(
            f"/replication/policies/{policy}",
            json={"name": "appco-etcd", "src_registry": {"id": registry_id}},
        ).status_code
        == 200
    )
    replaced = client.get(f"/replication/policies/{policy}").json()
    assert (replaced["enabled"], replaced["deletion"], replaced["filters"]) == (False, False, [])


def test_execution_moves_from_in_progress_to_succeed(
    harbor: HarborEmulator, client: httpx.Client, upstream_registry: FakeUpstream, registry_id: int
) -> None:
    policy = create(client, "/replication/policies", policy_body(registry_id))
    execution = create(client, "/replication/executions", {"policy_id": policy})
    seen = wait_for_execution(client, execution)
    assert seen[0]["status"] == "InProgress"
    assert seen[-1] | {"start_time": "", "end_time": ""} == seen[-1] | {
        "status": "Succeed", "total": 1, "succeed": 1, "failed": 0, "in_progress": 0,
        "start_time": "", "end_time": "",
    }  # fmt: skip
    tasks = client.get(f"/replication/executions/{execution}/tasks").json()
    assert [(t["src_resource"], t["dst_resource"]) for t in tasks] == [
        ("containers/etcd [2 item(s) in total]",
         "appco-mirror/containers/etcd [2 item(s) in total]"),
    ]  # fmt: skip
    assert "/v2/_catalog" not in upstream_registry.paths
    mirror = harbor.state.project_by_name("appco-mirror")
    assert mirror is not None
    assert mirror.metadata["public"] == "false"
    assert harbor.state.store.content("appco-mirror").repositories() == {"containers/etcd"}
    copied = harbor.state.store.content("appco-mirror")
    assert sorted(copied.tags["containers/etcd"]) == ["3.5.14", "3.5.15"]


@pytest.mark.parametrize(
    ("namespace", "count", "destination"),
    [
        ("appco-mirror", 0, "appco-mirror/containers/etcd [2 item(s) in total]"),
        ("appco-mirror", 1, "appco-mirror/etcd [2 item(s) in total]"),
        ("appco-mirror", -1, "appco-mirror/etcd [2 item(s) in total]"),
        ("", 1, "containers/etcd [2 item(s) in total]"),
    ],
)
def test_flattening_decides_the_destination(
    client: httpx.Client, registry_id: int, namespace: str, count: int, destination: str
) -> None:
    body = policy_body(registry_id, dest_namespace=namespace, dest_namespace_replace_count=count)
    policy = create(client, "/replication/policies", body)
    execution = create(client, "/replication/executions", {"policy_id": policy})
    (task,) = client.get(f"/replication/executions/{execution}/tasks").json()
    assert task["dst_resource"] == destination


def test_a8_a_flattening_error_fails_the_whole_execution_with_no_task(
    client: httpx.Client, registry_id: int
) -> None:
    body = policy_body(registry_id, dest_namespace_replace_count=2)
    policy = create(client, "/replication/policies", body)
    execution = create(client, "/replication/executions", {"policy_id": policy})
    final = wait_for_execution(client, execution)[-1]
    assert (final["status"], final["total"]) == ("Failed", 0)
    assert final["status_text"] == (
        'the source repository "containers/etcd" contains only 1 path components [containers] '
        "excepting the last one, but the destination namespace flattening level is 2"
    )
    assert client.get(f"/replication/executions/{execution}/tasks").json() == []


def test_stopping_an_execution_stops_its_tasks(client: httpx.Client, registry_id: int) -> None:
    policy = create(client, "/replication/policies", policy_body(registry_id))
    execution = create(client, "/replication/executions", {"policy_id": policy})
    assert client.put(f"/replication/executions/{execution}").status_code == 200
    final = wait_for_execution(client, execution)[-1]
    assert (final["status"], final["stopped"], final["in_progress"]) == ("Stopped", 1, 0)
    tasks = client.get(f"/replication/executions/{execution}/tasks").json()
    assert [t["status"] for t in tasks] == ["Stopped"]


def test_failed_task_has_a_log(
    client: httpx.Client, upstream_registry: FakeUpstream, registry_id: int
) -> None:
    upstream_registry.break_manifest("containers/etcd", "3.5.15")
    policy = create(client, "/replication/policies", policy_body(registry_id))
    execution = create(client, "/replication/executions", {"policy_id": policy})
    final = wait_for_execution(client, execution)[-1]
    assert (final["status"], final["succeed"], final["failed"]) == ("Failed", 0, 1)
    failed = client.get(
        f"/replication/executions/{execution}/tasks", params={"status": "Failed"}
    ).json()
    assert [t["src_resource"] for t in failed] == ["containers/etcd [2 item(s) in total]"]
    log = client.get(f"/replication/executions/{execution}/tasks/{failed[0]['id']}/log")
    assert log.headers["Content-Type"] == "text/plain"
    assert "[ERROR]" in log.text
    assert "containers/etcd:3.5.15" in log.text
    assert (
        client.get(
            f"/replication/executions/{execution + 1}/tasks/{failed[0]['id']}/log"
        ).status_code
        == 404
    )


def test_injected_copy_failure_needs_no_upstream_cooperation(
    harbor: HarborEmulator, client: httpx.Client, registry_id: int
) -> None:
    harbor.fail_copies("containers/etcd:3.5.1*")
    policy = create(client, "/replication/policies", policy_body(registry_id))
    final = wait_for_execution(
        client, create(client, "/replication/executions", {"policy_id": policy})
    )[-1]
    assert (final["status"], final["failed"]) == ("Failed", 1)


def test_missing_upstream_repository_fails_the_execution(
    client: httpx.Client, registry_id: int
) -> None:
    filters = [{"type": "name", "value": "containers/nope"}]
    policy = create(client, "/replication/policies", policy_body(registry_id, filters=filters))
    execution = create(client, "/replication/executions", {"policy_id": policy})
    final = wait_for_execution(client, execution)[-1]
    assert (final["status"], final["total"]) == ("Failed", 0)
    assert "containers/nope" in final["status_text"]


def test_wildcard_names_list_the_catalog(
    client: httpx.Client, upstream_registry: FakeUpstream, registry_id: int
) -> None:
    filters = [{"type": "name", "value": "**"}, {"type": "tag", "value": "7.*"}]
    policy = create(client, "/replication/policies", policy_body(registry_id, filters=filters))
    execution = create(client, "/replication/executions", {"policy_id": policy})
    assert wait_for_execution(client, execution)[-1]["total"] == 1  # containers/redis only
    assert "/v2/_catalog" in upstream_registry.paths
    upstream_registry.catalog_enabled = False
    again = create(client, "/replication/executions", {"policy_id": policy})
    final = wait_for_execution(client, again)[-1]
    assert final["status"] == "Failed"
    assert "404" in final["status_text"]


@pytest.mark.parametrize(("name_filter", "lists_catalog"), [
    ("containers/{etcd,redis}", False),  # one brace pair within a component: two names
    ("{charts,containers}/etcd", False),  # braces in each component: their product
    ("{charts/etcd,containers/etcd}", True),  # a brace spanning "/": "{charts" has no "}"
    ("containers/{etcd,redis}{,-x}", True),  # two "{" in one component
    ("containers/etcd,redis", True),  # a comma without braces
])
def test_a_name_filter_is_judged_component_by_component(
    client: httpx.Client, upstream_registry: FakeUpstream, registry_id: int,
    name_filter: str, lists_catalog: bool,
) -> None:
    """`pkg/reg/util/pattern.go:IsSpecificPath`: only a filter whose every component names
    its repositories outright spares the upstream's `_catalog`; doublestar still matches the
    others, so the same repositories are copied where the catalog is served."""
    filters = [{"type": "name", "value": name_filter}, {"type": "tag", "value": "**"}]
    policy = create(client, "/replication/policies", policy_body(registry_id, filters=filters))
    execution = create(client, "/replication/executions", {"policy_id": policy})
    final = wait_for_execution(client, execution)[-1]

    assert final["status"] == "Succeed", final["status_text"]
    assert ("/v2/_catalog" in upstream_registry.paths) == lists_catalog


def test_proxy_cache_destination_is_skipped(client: httpx.Client, registry_id: int) -> None:
    create(
        client, "/projects", {"project_name": "application-collection", "registry_id": registry_id}
    )
    body = policy_body(registry_id, dest_namespace="application-collection")
    execution = create(
        client,
        "/replication/executions",
        {"policy_id": create(client, "/replication/policies", body)},
    )
    final = wait_for_execution(client, execution)[-1]
    assert (final["status"], final["total"], final["status_text"]) == (
        "Succeed", 0, "no resources need to be replicated",
    )  # fmt: skip


def test_single_active_replication_skips_a_second_run(
    client: httpx.Client, registry_id: int
) -> None:
    policy = create(
        client, "/replication/policies", policy_body(registry_id, single_active_replication=True)
    )
    first = create(client, "/replication/executions", {"policy_id": policy})
    second = create(client, "/replication/executions", {"policy_id": policy})
    skipped = client.get(f"/replication/executions/{second}").json()
    assert skipped["status"] == "Failed"
    assert skipped["status_text"] == "Execution skipped: active replication still in progress."
    listed = client.get(
        "/replication/executions", params={"policy_id": policy, "status": "InProgress"}
    )
    assert [e["id"] for e in listed.json()] == [first]


# -- robots --
def test_robot_secret_is_shown_once_and_on_refresh(client: httpx.Client, registry_id: int) -> None:
    create(
        client, "/projects", {"project_name": "application-collection", "registry_id": registry_id}
    )
    made = client.post("/robots", json=ROBOT)
    assert made.status_code == 201
    robot = made.json()
    assert robot["name"] == "robot$application-collection+k8s-pull"
    assert len(robot["secret"]) == 32
    listed = client.get("/robots", params={"q": "Level=project,ProjectID=1"}).json()
    assert [r["name"] for r in listed] == [robot["name"]]
    assert "secret" not in listed[0]
    assert "secret" not in client.get(f"/robots/{robot['id']}").json()
    assert client.post("/robots", json=ROBOT).status_code == 409
    refreshed = client.patch(f"/robots/{robot['id']}", json={"secret": ""}).json()["secret"]
    assert refreshed != robot["secret"]
    assert client.patch(f"/robots/{robot['id']}", json={"secret": "weak"}).status_code == 400
    # RefreshSec takes a given secret and answers with an empty one
    given = client.patch(f"/robots/{robot['id']}", json={"secret": "Str0ngEnough"})
    assert (given.status_code, given.json()) == (200, {"secret": ""})
    with httpx.Client(base_url=client.base_url.copy_with(path="/")) as registry:
        assert registry.get("/v2/", auth=(robot["name"], "Str0ngEnough")).status_code == 200


@pytest.mark.parametrize(
    ("version", "access", "status", "message"),
    [
        ("v2.15.2", ("helm-chart", "read"), 400, "bad request permission: helm-chart:read"),
        ("v2.15.2", ("sbom", "read"), 201, None),
        ("v2.15.2", ("artifact-addition", "read"), 201, None),
        ("v2.10.0", ("repository", "fly"), 400, "bad request permission: repository:fly"),
        ("v2.9.0", ("helm-chart", "read"), 201, None),  # nothing is checked before 2.10
    ],
)
def test_a10_robot_permissions_come_from_harbors_own_list(
    harbor: HarborEmulator,
    client: httpx.Client,
    version: str,
    access: tuple[str, str],
    status: int,
    message: str | None,
) -> None:
    harbor.version = version
    create(client, "/projects", {"project_name": "application-collection"})
    resource, action = access
    permission = {"kind": "project", "namespace": "application-collection",
                  "access": [{"resource": resource, "action": action}]}  # fmt: skip
    body = {**ROBOT, "permissions": [permission]}
    response = client.post("/robots", json=body)
    assert response.status_code == status, response.text
    if message is not None:
        assert response.json()["errors"][0]["message"] == message


def test_robot_permissions_must_grant_something(client: httpx.Client) -> None:
    create(client, "/projects", {"project_name": "application-collection"})
    no_access = {"kind": "project", "namespace": "application-collection", "access": []}
    for permissions, message in (
        ([], "bad request empty permission"),
        ([no_access], "bad request empty access"),
        ([{**no_access, "kind": "team", "access": [{"resource": "repository", "action": "pull"}]}],
         "bad request permission level: team"),
    ):  # fmt: skip
        response = client.post("/robots", json={**ROBOT, "permissions": permissions})
        assert (response.status_code, response.json()["errors"][0]["message"]) == (400, message)


def test_robot_needs_a_duration(client: httpx.Client) -> None:
    create(client, "/projects", {"project_name": "application-collection"})
    assert client.post("/robots", json={**ROBOT, "duration": 0}).status_code == 400


# -- faults --
def test_injected_429_then_normal_answers(harbor: HarborEmulator, client: httpx.Client) -> None:
    harbor.inject_fault("/users/current", status=429, count=2, retry_after=3)
    first, second, third = (client.get("/users/current") for _ in range(3))
    assert (first.status_code, first.headers["Retry-After"]) == (429, "3")
    assert first.json()["errors"][0]["code"] == "TOO_MANY_REQUEST"
    assert second.status_code == 429
    assert third.status_code == 200
    assert len(harbor.requests) == 3


def test_injected_503_hides_details_and_only_hits_its_method(
    harbor: HarborEmulator, client: httpx.Client
) -> None:
    harbor.inject_fault("/api/v2.0/projects", status=503, method="POST")
    assert client.get("/projects").status_code == 200
    failed = client.post("/projects", json={"project_name": "p"})
    assert failed.status_code == 503
    assert failed.json()["errors"][0]["message"] == "internal server error"
    assert harbor.state.projects == {}
    assert [r.method for r in harbor.writes] == ["POST"]


def test_injected_delay_slows_a_normal_answer(harbor: HarborEmulator, client: httpx.Client) -> None:
    harbor.inject_fault("/ping", delay=0.3)
    started = time.monotonic()
    assert client.get("/ping").text == "Pong"
    assert time.monotonic() - started >= 0.3
    harbor.inject_fault("/ping", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        client.get("/ping", timeout=0.1)


# -- the official spec --
# Statuses Harbor really returns (harbor-api.md) that the v2.15.2 swagger does not declare.
UNDECLARED = {
    ("POST", "/projects"): {403},
    ("HEAD", "/projects"): {401},
    ("GET", "/projects/{project_name_or_id}"): {403, 404},
    ("GET", "/replication/policies/{id}"): {404},
    ("POST", "/replication/executions"): {404, 412},
    ("GET", "/replication/executions/{id}/tasks"): {404},
    ("POST", "/robots"): {409},
}


@pytest.fixture(scope="module")
def spec() -> Spec:
    if not SPEC_FILE.exists():
        pytest.skip(f"the official Harbor swagger is not checked out beside the repo ({SPEC_FILE})")
    return Spec.load(SPEC_FILE)


def tour(harbor: HarborEmulator, client: httpx.Client, upstream: FakeUpstream) -> None:
    """Call every emulated operation, with successes and the errors a client meets."""
    user = {"username": "dev", "password": "Dev12345", "email": "dev@example.com"}
    create(client, "/users", user)
    client.post("/users", json=user)
    client.post("/users", json={**user, "username": "weak", "password": "weak"})
    with api(harbor, None) as anonymous, api(harbor, ("dev", "Dev12345")) as dev:
        for c in (anonymous, client):
            for path in ("/ping", "/health", "/systeminfo", "/users/current"):
                c.get(path)
        dev.get("/registries")
        anonymous.get("/registries")
        dev.get("/projects/nope")
        anonymous.head("/projects", params={"project_name": "x"})
        dev.post("/projects", json={"project_name": "devs", "registry_id": 1})
    client.post("/registries", json=registry_body(upstream, token="bad"))
    registry = create(client, "/registries", registry_body(upstream))
    client.post("/registries", json=registry_body(upstream))
    client.get("/registries", params={"q": "name=appco", "page_size": 1})
    client.get(f"/registries/{registry}")
    client.get("/registries/99")
    client.put(
        f"/registries/{registry}", json={"description": "d", "access_secret": upstream.token}
    )
    client.post("/registries/ping", json={"id": registry})
    client.post("/registries/ping", json={})
    client.get(f"/registries/{registry}/info")
    client.get("/replication/adapters")
    proxy = {"project_name": "application-collection", "registry_id": registry, "storage_limit": -1,
             "metadata": {"public": "false"}}  # fmt: skip
    create(client, "/projects", proxy)
    client.post("/projects", json=proxy)
    client.post("/projects", json={"project_name": "x", "registry_id": 42})
    client.head("/projects", params={"project_name": "application-collection"})
    client.head("/projects", params={"project_name": "nope"})
    client.get("/projects", params={"page_size": 1})
    client.get("/projects/1")
    client.get("/projects/nope")
    client.get("/projects/1/summary")
    client.put("/projects/1", json={"metadata": {"public": "true"}})
    client.post("/projects", json={"project_name": "p", "metadata": {"public": True}})
    create(client, "/projects", {"project_name": "empty"})
    client.delete("/projects/empty")
    policy = create(client, "/replication/policies", policy_body(registry))
    client.post("/replication/policies", json=policy_body(registry))
    client.get("/replication/policies", params={"name": "appco"})
    client.get("/replication/policies/9")
    client.put(f"/replication/policies/{policy}", json=policy_body(registry))
    off = create(client, "/replication/policies", policy_body(registry, "off", enabled=False))
    client.post("/replication/executions", json={"policy_id": off})
    client.post("/replication/executions", json={"policy_id": 99})
    client.delete(f"/replication/policies/{off}")
    execution = create(client, "/replication/executions", {"policy_id": policy})
    client.get("/replication/executions", params={"policy_id": policy})
    client.get(f"/replication/executions/{execution}/tasks")
    wait_for_execution(client, execution)
    client.get(f"/replication/executions/{execution}/tasks/1/log")
    client.get("/replication/executions/99/tasks")
    stopped = create(client, "/replication/executions", {"policy_id": policy})
    client.put(f"/replication/executions/{stopped}")
    client.get(f"/replication/executions/{stopped}")
    robot = client.post("/robots", json=ROBOT).json()["id"]
    client.post("/robots", json=ROBOT)
    client.get("/robots", params={"q": "Level=project,ProjectID=1"})
    client.get(f"/robots/{robot}")
    client.patch(f"/robots/{robot}", json={"secret": ""})
    client.put(f"/robots/{robot}", json={**ROBOT, "description": "pull", "id": robot})
    client.delete(f"/robots/{robot}")
    client.delete(f"/registries/{registry}")


def test_responses_match_the_official_spec(
    harbor: HarborEmulator, client: httpx.Client, upstream_registry: FakeUpstream, spec: Spec
) -> None:
    tour(harbor, client, upstream_registry)
    problems = []
    statuses = set()
    for exchange in harbor.exchanges:
        request, response = exchange.request, exchange.response
        operation = spec.operation(request)
        assert operation is not None, f"{request.method} {request.path}"
        statuses.add((request.method, operation.template, response.status))
        assert response.header("X-Request-Id")
        if response.status == 422 or response.status in UNDECLARED.get(
            (request.method, operation.template), ()
        ):
            if request.method != "HEAD":
                problems += spec.validate({"$ref": "#/definitions/Errors"}, response.json())
            continue
        problems += spec.response_problems(exchange)
        problems += spec.request_problems(request)
    assert problems == []
    assert {s for _, _, s in statuses} >= {200, 201, 400, 401, 403, 404, 409, 412, 422, 500}
    assert len({(m, t) for m, t, _ in statuses}) == len(OPERATIONS)


def test_spec_check_catches_a_wrong_response(spec: Spec) -> None:
    request = Request.build("GET", "/api/v2.0/registries/1", [], b"")
    body = b'{"id": "1", "insecure": "no", "colour": "red"}'
    wrong = Response(200, [("X-Request-Id", "x")], body)
    problems = spec.response_problems(Exchange(request, wrong))
    assert problems == [
        "GET /registries/{id} 200: $.id: expected integer, got str",
        "GET /registries/{id} 200: $.insecure: expected boolean, got str",
        "GET /registries/{id} 200: $.colour: not a property of the model",
    ]
    update = Request.build("PUT", "/api/v2.0/registries/1", [], b"{}")
    chatty = Response(200, [("X-Request-Id", "x")], b'{"ok": true}')
    assert spec.response_problems(Exchange(update, chatty)) == [
        "PUT /registries/{id} 200: body present where the spec declares none"
    ]


# -- serving --
def test_mock_transport_shares_state_with_the_socket(
    harbor: HarborEmulator, client: httpx.Client
) -> None:
    create(client, "/projects", {"project_name": "shared"})
    with httpx.Client(
        base_url="http://harbor.test/api/v2.0", auth=ADMIN, transport=harbor.transport()
    ) as fast:
        assert [p["name"] for p in fast.get("/projects").json()] == ["shared"]


def test_tls_emulator_needs_the_ca(harbor_tls: HarborEmulator) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(harbor_tls.url + "/api/v2.0/ping")
    with api(harbor_tls) as trusted:
        assert trusted.get("/ping").text == "Pong"


def test_emulator_runs_from_the_command_line(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.harbor_emulator", "--port", "0", "--tls",
         "--ca-out", str(ca_file), "--fake-upstream", "--harbor-version", "main"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("https://127.0.0.1:")
        assert process.stdout.readline().strip() == f"ca-file: {ca_file}"
        _, upstream_url, username, token = process.stdout.readline().split()
        emulator = HarborEmulator(url=url)
        with api(emulator, ca_file=str(ca_file)) as admin:
            assert admin.get("/users/current").json()["username"] == "admin"
            assert admin.get("/systeminfo").json()["harbor_version"] == "v2.16.0-c50c7ddd"
            credential = {"type": "basic", "access_key": username, "access_secret": token}
            body = {
                "name": "u",
                "type": "docker-registry",
                "url": upstream_url,
                "credential": credential,
            }
            assert admin.post("/registries", json=body).status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0


# -- where issue 16 found the emulator kinder than Harbor v2.15.2 (reference section F) ----------


@pytest.fixture
def robot(harbor: HarborEmulator, client: httpx.Client, registry_id: int) -> dict[str, object]:
    """A project robot made by hand with Harbor's UI default: it expires after 30 days."""
    create(client, "/projects", {"project_name": "application-collection",
                                 "registry_id": registry_id})  # fmt: skip
    made = client.post("/robots", json={**ROBOT, "duration": 30})
    assert made.status_code == 201, made.text
    answer: dict[str, object] = made.json()
    return answer


def test_f1_an_expired_robot_is_anonymous_on_the_registry(
    harbor: HarborEmulator, robot: dict[str, object]
) -> None:
    """`server/middleware/security/robot.go:Generate`."""
    credentials = (str(robot["name"]), str(robot["secret"]))
    with httpx.Client(base_url=harbor.url) as registry:
        assert registry.get("/v2/", auth=credentials).status_code == 200
        harbor.state.robots[int(str(robot["id"]))].expires_at = int(time.time()) - 1
        refused = registry.get("/v2/", auth=credentials)
        assert refused.status_code == 401
        assert refused.headers["Www-Authenticate"] == 'Basic realm="harbor"'


def test_f2_robot_update_needs_the_listed_name_and_recomputes_the_expiry(
    harbor: HarborEmulator, client: httpx.Client, robot: dict[str, object]
) -> None:
    """`handler/robot.go:updateV2Robot`."""
    path = f"/robots/{robot['id']}"
    body = {**ROBOT, "duration": -1, "disable": False}
    short = client.put(path, json=body)  # the name as created, without robot$<project>+
    assert (short.status_code, short.json()["errors"][0]["message"]) == (
        400, "cannot update the level or name of robot")  # fmt: skip
    assert client.put(path, json={**body, "name": robot["name"], "level": "system"}).status_code \
        == 400
    stored = harbor.state.robots[int(str(robot["id"]))]
    assert stored.expires_at != -1
    assert client.put(path, json={**body, "name": robot["name"]}).status_code == 200
    assert stored.expires_at == -1
    assert client.put(path, json={**body, "name": robot["name"], "duration": 2}).status_code \
        == 200
    assert stored.expires_at == int(stored.created_at) + 2 * 86400


def test_f6_q_is_unescaped_again_split_and_loses_a_leading_backslash(
    client: httpx.Client, upstream_registry: FakeUpstream
) -> None:
    """`lib/q/builder.go:parseKeywords`, `escapeValue`; `lib/orm/query.go:setFilters`."""
    for name in ("suse+appco", "suse appco", "\\lead"):
        create(client, "/registries", registry_body(upstream_registry, name))

    def names(q: str) -> list[str]:
        return [r["name"] for r in client.get("/registries", params={"q": q}).json()]

    assert names("name=suse+appco") == ["suse appco"]  # the + became a space
    assert names("name=suse%2Bappco") == ["suse+appco"]  # escaped for the second unescape
    assert names("name=~SUSE") == ["suse+appco", "suse appco"]  # fuzzy: case-insensitive
    assert names("name=\\lead") == []  # exact: one leading \ dropped
    assert names("name=\\\\lead") == ["\\lead"]
    split = client.get("/registries", params={"q": "name=a%2Cb"})
    assert split.status_code == 400
    assert split.json()["errors"][0]["message"] == (
        'the query string must contain "=" and the key/value cannot be empty'
    )


def test_f7_a_failed_task_outranks_a_stopped_one() -> None:
    """`pkg/task/dao/execution.go:refreshStatus`: running, then Error, then Stopped."""
    failed = Task(1, 1, "a", "b", "Failed", "", starts_at=0, ends_at=1)
    stopped = Task(2, 1, "c", "d", "Succeed", "", starts_at=0, ends_at=5, stopped_at=2)
    execution = Execution(1, 1, "MANUAL", 0, "", tasks=[failed, stopped])
    assert execution.status(now=10) == "Failed"


def test_f8_an_admin_by_sign_in_is_admin_without_the_flag(harbor: HarborEmulator) -> None:
    """`handler/model/user.go:ToUserResp`; `common/security/local/context.go:IsSysAdmin`."""
    harbor.add_user("dana", "Ldap-Secret1", by_sign_in=True)
    with api(harbor, ("dana", "Ldap-Secret1")) as dana:
        me = dana.get("/users/current").json()
        assert (me["sysadmin_flag"], me["admin_role_in_auth"]) == (False, True)
        assert dana.get("/registries").status_code == 200


def test_f8_oidc_cli_secrets_count_only_on_oidc_clis_paths(harbor: HarborEmulator) -> None:
    """`server/middleware/security/oidc_cli.go:valid`; the local admin still signs in."""
    harbor.state.auth_mode = "oidc_auth"
    harbor.add_user("olga", "Cli-Secret-1", by_sign_in=True, oidc=True)
    with api(harbor, None) as anonymous:
        assert anonymous.get("/systeminfo").json()["auth_mode"] == "oidc_auth"
    with api(harbor, ("olga", "Cli-Secret-1")) as olga:
        assert olga.get("/users/current").status_code == 401
        assert olga.get("/registries").status_code == 401
        assert "harbor_version" in olga.get("/systeminfo").json()  # signed in there
    with httpx.Client(base_url=harbor.url) as registry:
        assert registry.get("/v2/", auth=("olga", "Cli-Secret-1")).status_code == 200
    with api(harbor, ADMIN) as admin:
        assert admin.get("/users/current").json()["sysadmin_flag"] is True


def test_f8_a_system_robot_uses_its_permissions_and_has_no_current_user(
    harbor: HarborEmulator, upstream_registry: FakeUpstream
) -> None:
    """`handler/user.go:GetCurrentUserInfo` (412); `handler/base.go:RequireSystemAccess` (403
    naming the robot); `common/security/robot/context.go:Can`."""
    harbor.add_system_robot("ci", "Robot-Secret-1", [{"kind": "system", "namespace": "/",
        "access": [{"resource": "registry", "action": "list"}]}])  # fmt: skip
    with api(harbor, ("robot$ci", "Robot-Secret-1")) as robot:
        current = robot.get("/users/current")
        assert (current.status_code, current.json()["errors"][0]["message"]) == (
            412, "get current user not available for security context: robot")  # fmt: skip
        assert robot.get("/registries").status_code == 200
        refused = robot.post("/registries", json=registry_body(upstream_registry))
        assert (refused.status_code, refused.json()["errors"][0]["message"]) == (
            403, "robot$ci")  # fmt: skip
        missing = robot.get("/projects/nothing-here", headers={"X-Is-Resource-Name": "true"})
        assert missing.status_code == 403  # not 404: RequireProjectAccess checks project 0
        assert robot.head("/projects", params={"project_name": "nothing-here"}).status_code \
            == 404


def test_a_robot_refused_on_a_projects_robots_gets_a_bare_forbidden(
    harbor: HarborEmulator, client: httpx.Client
) -> None:
    """`handler/robot.go:requireAccess` checks a project robot with `RequireProjectAccess`,
    whose 403 carries no message of its own (only `RequireSystemAccess` names the caller)."""
    project_id = create(client, "/projects", {"project_name": "p"})
    harbor.add_system_robot("ci", "Robot-Secret-1", [{"kind": "project", "namespace": "*",
        "access": [{"resource": "project", "action": "read"}]}])  # fmt: skip
    with api(harbor, ("robot$ci", "Robot-Secret-1")) as robot:
        listed = robot.get("/robots", params={"q": f"Level=project,ProjectID={project_id}"})
    assert (listed.status_code, listed.json()["errors"][0]["message"]) == (403, "forbidden")


def test_listing_robots_wants_a_level_and_a_project_as_list_robot_does(
    harbor: HarborEmulator, client: httpx.Client
) -> None:
    """`handler/robot.go:ListRobot`: no Level means the system robots only."""
    project_id = create(client, "/projects", {"project_name": "p"})
    create(client, "/robots", {"name": "pull", "level": "project", "duration": -1,
        "permissions": [{"kind": "project", "namespace": "p",
                         "access": [{"resource": "repository", "action": "pull"}]}]})  # fmt: skip
    harbor.add_system_robot("ci", "Robot-Secret-1", [{"kind": "system", "namespace": "/",
        "access": [{"resource": "registry", "action": "list"}]}])  # fmt: skip
    assert [r["name"] for r in client.get("/robots").json()] == ["robot$ci"]
    listed = client.get("/robots", params={"q": f"Level=project,ProjectID={project_id}"})
    assert [r["name"] for r in listed.json()] == ["robot$p+pull"]
    for q, message in [
        ("Level=project", "must with project ID when to query project robots"),
        ("Level=project,ProjectID=0", "ProjectID must be a positive integer"),
        ("Level=team", "bad request error level input"),
    ]:
        refused = client.get("/robots", params={"q": q})
        assert (refused.status_code, refused.json()["errors"][0]["message"]) == (400, message)


def test_a_robot_needs_replication_list_for_tasks_and_create_to_stop(
    harbor: HarborEmulator,
) -> None:
    """`handler/replication.go`: ListReplicationTasks checks `replication` list and
    StopReplication create, both before looking the execution up; read is not enough."""
    harbor.add_system_robot("ci", "Robot-Secret-1", [{"kind": "system", "namespace": "/",
        "access": [{"resource": "replication", "action": "read"}]}])  # fmt: skip
    with api(harbor, ("robot$ci", "Robot-Secret-1")) as robot:
        assert robot.get("/replication/executions/9").status_code == 404
        assert robot.get("/replication/executions/9/tasks").status_code == 403
        assert robot.put("/replication/executions/9").status_code == 403


def test_a_new_robot_is_enabled_whatever_the_body_says(
    harbor: HarborEmulator, client: httpx.Client
) -> None:
    """`handler/robot.go:CreateRobot` copies name, description, duration and permissions,
    never `disable`."""
    create(client, "/projects", {"project_name": "application-collection"})
    made = client.post("/robots", json={**ROBOT, "disable": True})
    assert made.status_code == 201, made.text
    assert client.get(f"/robots/{made.json()['id']}").json()["disable"] is False
    credentials = (made.json()["name"], made.json()["secret"])
    with httpx.Client(base_url=harbor.url) as registry:
        assert registry.get("/v2/", auth=credentials).status_code == 200


def test_a_robot_updating_a_system_robot_needs_robot_update_not_create(
    harbor: HarborEmulator,
) -> None:
    """`handler/robot.go:updateV2Robot` checks `requireAccess(r, update)`: for a system robot,
    RequireSystemAccess on robot update."""
    target = harbor.add_system_robot("target", "Robot-Secret-2", [{"kind": "system",
        "namespace": "/", "access": [{"resource": "registry", "action": "list"}]}])  # fmt: skip
    harbor.add_system_robot("ci", "Robot-Secret-1", [{"kind": "system", "namespace": "/",
        "access": [{"resource": "robot", "action": "update"}]}])  # fmt: skip
    body = {"name": "robot$target", "level": "system", "duration": -1, "disable": True,
            "permissions": target.permissions}  # fmt: skip
    with api(harbor, ("robot$ci", "Robot-Secret-1")) as robot:
        assert robot.put(f"/robots/{target.id}", json=body).status_code == 200
    assert target.disable is True
