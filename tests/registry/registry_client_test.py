"""The registry client's token flow and retries, against handlers (httpx.MockTransport) and,
where the sockets matter, real loopback servers."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from postrender.endpoint import Endpoint
from postrender.errors import HarborError, HarborUnreachable
from postrender.harbor import RetryPolicy
from postrender.registry import chart_target, registry_client
from postrender.registry._check import UPSTREAM_ERROR, check, classify
from postrender.registry._client import RegistryClient, TokenRefused
from postrender.rewrite.rules import MirrorRule
from tests.harbor_emulator.server import LoopbackServer
from tests.harbor_emulator.wire import Request, Response

CREDENTIALS = ("robot$appco+pull", "robot-secret-value")
REPOSITORY = "appco/containers/etcd"


def _client(handler, base_url="https://harbor.test", sleeps=None):
    http = httpx.Client(base_url=base_url, transport=httpx.MockTransport(handler))
    record = sleeps.append if sleeps is not None else (lambda _: None)
    return RegistryClient(http, CREDENTIALS, retry=RetryPolicy(attempts=3), sleep=record)


def _registry(realm: str, token_answer: Callable[[httpx.Request], httpx.Response]):
    """A registry that challenges without a Bearer token; `seen` records every request."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/service/token":
            return token_answer(request)
        if request.headers.get("authorization") != "Bearer t0k":
            challenge = f'Bearer realm="{realm}",service="harbor-registry"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(200, headers={"Docker-Content-Digest": "sha256:" + "a" * 64})

    return handler, seen


def test_credentials_go_to_harbors_own_token_service():
    handler, seen = _registry(
        "https://harbor.test/service/token", lambda _: httpx.Response(200, json={"token": "t0k"})
    )
    assert _client(handler).head_manifest(REPOSITORY, "3.5").status_code == 200
    [token_request] = [r for r in seen if r.url.path == "/service/token"]
    assert token_request.headers["authorization"].startswith("Basic ")
    assert token_request.url.params["scope"] == f"repository:{REPOSITORY}:pull"


@pytest.mark.parametrize(
    "realm",
    [
        "https://tokens.elsewhere.test/service/token",  # another host
        "http://harbor.test/service/token",  # Harbor's host, but in clear text
        "https://harbor.test:8443/service/token",  # Harbor's host, another port
        "",  # no realm at all
    ],
)
def test_a_token_service_not_at_harbors_address_is_refused(realm):
    handler, seen = _registry(realm, lambda _: httpx.Response(200, json={"token": "t0k"}))
    with pytest.raises(HarborError, match="refusing to sign in there") as refused:
        _client(handler).head_manifest(REPOSITORY, "3.5")
    assert "https://harbor.test " in str(refused.value)
    assert [r.url.path for r in seen] == [f"/v2/{REPOSITORY}/manifests/3.5"]


def test_harbors_default_port_spelt_out_is_harbors_own():
    realm = "https://harbor.test:443/service/token"
    handler, seen = _registry(realm, lambda _: httpx.Response(200, json={"token": "t0k"}))
    assert _client(handler).head_manifest(REPOSITORY, "3.5").status_code == 200
    assert [r.url.path for r in seen].count("/service/token") == 1


def test_an_expired_token_is_replaced_once_harbor_answers_with_basic():
    """Harbor answers an expired token as anonymous: 401 `Basic realm="harbor"`, no Bearer."""
    issued: list[str] = []
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/service/token":
            issued.append(f"t{len(issued)}")
            return httpx.Response(200, json={"token": issued[-1], "expires_in": 1800})
        sent = request.headers.get("authorization")
        if sent is None:
            challenge = 'Bearer realm="https://harbor.test/service/token",service="harbor-registry"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        if sent != f"Bearer {issued[-1]}" or len(seen) == 4:  # the 2nd request: t0 expired
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="harbor"'})
        return httpx.Response(200, headers={"Docker-Content-Digest": "sha256:" + "a" * 64})

    client = _client(handler)
    assert client.head_manifest(REPOSITORY, "3.5").status_code == 200
    assert client.head_blob(REPOSITORY, "sha256:" + "b" * 64).status_code == 200
    assert issued == ["t0", "t1"]
    [renewal] = [r for r in seen if r.url.path == "/service/token"][1:]
    assert renewal.url.params["scope"] == f"repository:{REPOSITORY}:pull"
    assert renewal.headers["authorization"].startswith("Basic ")


def test_a_refused_token_is_asked_for_again_only_once_per_request():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/service/token":
            return httpx.Response(200, json={"token": "grants-nothing"})
        if "authorization" not in request.headers:
            challenge = 'Bearer realm="https://harbor.test/service/token",service="harbor-registry"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="harbor"'})

    client = _client(handler)
    assert client.head_manifest(REPOSITORY, "3.5").status_code == 401
    assert client.head_manifest(REPOSITORY, "3.6").status_code == 401
    asked = [r.url.path.rsplit("/", 1)[1] for r in seen]
    assert asked == ["3.5", "token", "3.5", "3.6", "token", "3.6"]


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(200, text="<html>portal</html>"),
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"expires_in": 1800}),
        httpx.Response(200, text="[" * 100_000),  # nested past Python's recursion limit
    ],
)
def test_a_token_answer_without_a_token_is_refused_not_a_crash(answer):
    handler, _ = _registry("https://harbor.test/service/token", lambda _: answer)
    with pytest.raises(TokenRefused, match="sent no token"):
        _client(handler).head_manifest(REPOSITORY, "3.5")


def test_429_is_retried_with_retry_after_then_answered():
    answers = iter([429, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(next(answers), headers={"Retry-After": "2"})

    sleeps: list[float] = []
    assert _client(handler, sleeps=sleeps).head_blob(REPOSITORY, "sha256:x").status_code == 200
    assert sleeps == [2.0, 2.0]


def test_retries_give_up_with_the_last_answer():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    sleeps: list[float] = []
    assert _client(handler, sleeps=sleeps).head_blob(REPOSITORY, "sha256:x").status_code == 503
    assert len(sleeps) == 2


def test_a_web_page_answering_200_is_not_an_ok_manifest():
    """A host that serves a page for every path (not Harbor) must not make verify say ok."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>welcome</html>")

    rule = MirrorRule("dp.apps.rancher.io", "harbor.test", "appco")
    target = chart_target("oci://dp.apps.rancher.io/charts/etcd", "1.0.0", rule)
    assert target is not None
    result = check(_client(handler), target)
    assert (result.result, result.failed) == ("upstream error", True)
    assert "not a manifest" in result.detail


def test_registry_package_exports_match_all():
    import postrender.registry as registry

    public = {name for name in vars(registry) if not name.startswith("_")}
    public -= {"annotations", "gate"}  # `gate` appears once the post-renderer's --verify ran
    assert sorted(registry.__all__) == sorted(public)


def test_an_unreachable_redirect_target_is_named_not_harbor():
    """Harbor on object storage redirects blob GETs there (`storage.redirect` in its registry
    config): when that store is out of reach, the message names the store (its address only:
    a pre-signed URL's query is a credential), since Harbor itself answered."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        store = f"http://127.0.0.1:{unused.getsockname()[1]}"

    def redirect(request: Request) -> Response:
        location = f"{store}/docker/registry/blob?X-Amz-Signature=presigned-secret"
        return Response(307, [("Location", location), ("Content-Length", "0")])

    with LoopbackServer(redirect) as harbor:
        client = registry_client(Endpoint.at_url(harbor.url))
        with pytest.raises(HarborUnreachable) as caught, \
                client.stream_blob(REPOSITORY, "sha256:" + "a" * 64):
            pass
    message = str(caught.value)
    assert message.startswith(f"cannot reach {store}, where Harbor at {harbor.url} redirected "
                              "the request: connection failed"), message
    assert "presigned-secret" not in message


def test_a_redirect_targets_refusal_is_the_stores_not_the_upstream_token():
    """A pre-signed URL the object store refuses (expired, a clock apart: S3 answers 403 with
    no challenge) is the store's answer; its path holds `/blobs/` as distribution lays blobs
    out there, yet neither Harbor nor the upstream token is at fault."""
    def store_refuses(request: Request) -> Response:
        body = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
        return Response(403, [("Content-Type", "application/xml"),
                              ("Content-Length", str(len(body)))], body)  # fmt: skip

    with LoopbackServer(store_refuses) as store:
        def redirect(request: Request) -> Response:
            location = (f"{store.url}/docker/registry/v2/blobs/sha256/aa/data"
                        "?X-Amz-Signature=presigned-secret")
            return Response(307, [("Location", location), ("Content-Length", "0")])

        with LoopbackServer(redirect) as harbor:
            client = registry_client(Endpoint.at_url(harbor.url))
            with client.stream_blob(REPOSITORY, "sha256:" + "a" * 64) as response:
                response.read()  # as warming does with an error answer
                result, detail = classify(response, anonymous=client.anonymous)

    assert result == UPSTREAM_ERROR, detail
    assert detail.startswith(f"403 Forbidden from {store.url}, where Harbor at {harbor.url} "
                             "redirected the request"), detail
    assert "UPSTREAM_TOKEN" not in detail and "presigned-secret" not in detail
