"""What `verify` says about one reference, against handlers that answer as Harbor's code does.

Each handler cites the goharbor/harbor `src/` function whose answer it gives; the end-to-end
tests in verify_test.py meet the same answers from the emulator.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import httpx
import pytest

from postrender.errors import VerifyFailed
from postrender.registry import Check, Target, require_resolved
from postrender.registry._check import check
from postrender.registry._client import RegistryClient

CREDENTIALS = ("robot$appco+pull", "robot-secret-value")
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
INDEX = json.dumps({
    "schemaVersion": 2, "mediaType": INDEX_TYPE,
    "manifests": [
        {"digest": "sha256:" + "1" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:" + "2" * 64, "platform": {"os": "linux", "architecture": "arm64"}},
    ],
}).encode()
INDEX_DIGEST = "sha256:" + hashlib.sha256(INDEX).hexdigest()
CHALLENGE = 'Bearer realm="https://harbor.test/service/token",service="harbor-registry"'


def _client(handler, credentials=CREDENTIALS):
    http = httpx.Client(base_url="https://harbor.test", transport=httpx.MockTransport(handler))
    return RegistryClient(http, credentials)


def _signed_in(answer: Callable[[httpx.Request], httpx.Response]):
    """Harbor's token flow in front of `answer(request)`: `v2auth/auth.go:getChallenge` without
    a token, a token for any credentials (`core/service/token/creator.go`)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/service/token":
            return httpx.Response(200, json={"token": "t0k"})
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        return answer(request)

    return handler


def _image(tag="3.5"):
    return Target(f"harbor.test/appco/containers/etcd:{tag}", "appco/containers/etcd", tag,
                  None, False)


def _chart(path, prefix=False):
    return Target(f"oci://harbor.test/{path}", path, None, None, True, prefix)


def test_a_multi_platform_tag_is_ok_on_the_first_verify():
    """`repoproxy/proxy.go:proxyManifestGet` sends an empty Docker-Content-Digest on a GET by
    tag of a manifest Harbor has not cached; by digest it names it."""
    requests: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(f"{request.method} {request.url.path.rsplit('/', 1)[1]}")
        by_tag = request.url.path.endswith("/3.5")
        digest = "" if by_tag and request.method == "GET" else INDEX_DIGEST
        headers = {"Content-Type": INDEX_TYPE, "Docker-Content-Digest": digest}
        return httpx.Response(200, headers=headers, content=INDEX)

    result = check(_client(_signed_in(answer)), _image())
    assert (result.result, result.digest, result.detail) == ("ok", INDEX_DIGEST, "")
    assert result.platforms == ["linux/amd64", "linux/arm64"]
    # by digest, as a runtime does: the HEAD's EnsureTag then finds what Harbor stores
    assert requests[-2:] == ["HEAD 3.5", f"GET {INDEX_DIGEST}"]


def _basic_refusal(request: httpx.Request) -> httpx.Response:
    """`v2auth/auth.go`: a token that grants nothing gets 401 `Basic realm="harbor"`."""
    return httpx.Response(
        401, headers={"WWW-Authenticate": 'Basic realm="harbor"'},
        json={"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized to access "
                          "repository: appco/containers/etcd, action: pull"}]},
    )


@pytest.mark.parametrize(
    ("credentials", "cause"),
    [
        (CREDENTIALS, "Harbor refused these credentials, or they may not pull from the project"),
        (None, "Harbor refused an anonymous pull (a private project)"),
    ],
)
def test_harbors_own_refusal_is_not_blamed_on_the_upstream(credentials, cause):
    result = check(_client(_signed_in(_basic_refusal), credentials), _image())
    assert result.result == "unauthorized"
    assert cause in result.detail
    assert "upstream" not in result.detail
    assert CREDENTIALS[1] not in result.detail


def test_a_project_harbor_does_not_have_is_named_not_blamed_on_the_credentials():
    """`v2auth/auth.go:reqChecker.check`: `projectID` fails before any permission check, and
    the 401 carries an empty `Www-Authenticate`."""

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "project appco not found"}]}
        return httpx.Response(401, headers={"WWW-Authenticate": ""}, json=body)

    result = check(_client(_signed_in(answer)), _image())
    assert result.result == "unauthorized"
    assert "Harbor has no project 'appco': check --project" in result.detail
    assert "credentials" not in result.detail and "upstream" not in result.detail


def test_a_pull_the_projects_policy_refuses_is_not_an_upstream_error():
    """`server/registry/route.go` runs `vulnerable.Middleware` (and `contenttrust`) before the
    local manifest handler; a violation is PROJECTPOLICYVIOLATION, 412 (`lib/http/error.go`)."""
    result = check(_client(_signed_in(lambda _: httpx.Response(412))), _image())
    assert result.result == "blocked by policy"
    assert result.detail.startswith("412: the project's policy in Harbor refuses this pull")
    with pytest.raises(VerifyFailed):
        require_resolved([result])


def test_a_missing_manifest_says_harbor_may_not_reach_the_upstream():
    """`repoproxy/proxy.go:handleManifest` falls back to the local registry on any upstream
    error but not-found and 429, so an expired upstream token looks like 404."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN",
                                                     "message": "manifest unknown"}]})

    result = check(_client(_signed_in(answer)), _image())
    assert result.result == "missing"
    assert "Harbor may also have failed to reach or sign in to the upstream" in result.detail
    assert "registry endpoint's health" in result.detail


def _tags(body: bytes, status: int = 200):
    """`repoproxy/tag.go:TagsListMiddleware`: 200 with local and upstream tags, none for a
    repository the upstream lacks."""
    return _signed_in(lambda _: httpx.Response(status, content=body))


@pytest.mark.parametrize("body", [b'{"name": "appco/charts/etcd-typo", "tags": null}',
                                  b'{"name": "appco/charts/etcd-typo", "tags": []}'])
def test_a_chart_url_listing_no_versions_is_missing_not_ok(body):
    result = check(_client(_tags(body)), _chart("appco/charts/etcd-typo"))
    assert result.result == "missing"
    assert result.detail.startswith("no versions listed: no chart here")
    prefix = check(_client(_tags(body)), _chart("appco/charts", prefix=True))
    assert (prefix.result, prefix.detail) == (
        "skipped", "no versions listed: a chart repository prefix"
    )


@pytest.mark.parametrize(
    ("target", "body", "detail"),
    [
        (_chart("appco/charts/etcd"), b"<html>login</html>", "the tag list is not a JSON object"),
        (_chart("appco/charts/etcd"), b'["1.0.0"]', "the tag list is not a JSON object"),
        (_chart("appco/charts/etcd"), b'{"tags": "1.0.0"}', "the tag list is not a JSON object"),
        (_image(), b"{not json", "is no JSON index"),
        (_image(), b'{"manifests": [1, 2]}', "is no JSON index"),
        (_image(), b"[" * 100_000, "is no JSON index"),  # nested past Python's recursion limit
    ],
)
def test_a_body_that_is_not_json_is_an_upstream_error(target, body, detail):
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Type": INDEX_TYPE, "Docker-Content-Digest": INDEX_DIGEST}
        return httpx.Response(200, headers=headers, content=body)

    result = check(_client(_signed_in(answer)), target)
    assert result.result == "upstream error"
    assert detail in result.detail


def test_not_mirrored_fails_only_when_strict():
    target = Target("registry.suse.com/bci/bci-busybox:15.6", "registry.suse.com/bci/bci-busybox",
                    "15.6", None, False)
    checks = [Check(_image(), "ok", INDEX_DIGEST), Check(target, "not mirrored")]
    require_resolved(checks)
    with pytest.raises(VerifyFailed, match=r"1 of 2 references .* first: registry\.suse\.com/bci"):
        require_resolved(checks, strict=True)
