"""The Harbor client: error messages, retries, paging, cookies and TLS, as a user meets them."""

from __future__ import annotations

import contextlib
import datetime
import json
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import trustme

import postrender.harbor as harbor
import postrender.harbor._client as harbor_client_module
from postrender.endpoint import Endpoint
from postrender.errors import ConfigError, HarborAPIError, HarborResponseError, HarborUnreachable
from postrender.harbor import HarborClient, RetryPolicy, connect
from postrender.harbor._retry import parse_retry_after
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME, HarborEmulator

Handler = Callable[[httpx.Request], httpx.Response]


def errors_body(message: str, code: str = "BAD_REQUEST") -> dict[str, object]:
    return {"errors": [{"code": code, "message": message}]}


def mock_client(handler: Handler, sleeps: list[float] | None = None) -> HarborClient:
    connection = Endpoint.at_url("https://harbor.test", ("admin", "secret-pass"))
    record = sleeps.append if sleeps is not None else (lambda _: None)
    return connect(connection, transport=httpx.MockTransport(handler), sleep=record)


def loopback_client(
    emulator: HarborEmulator, *, ca_file: Path | None = None, insecure_skip_tls_verify: bool = False
) -> HarborClient:
    connection = Endpoint.at_url(
        emulator.url, (ADMIN_USERNAME, ADMIN_PASSWORD), ca_file=str(ca_file) if ca_file else None,
        insecure_skip_tls_verify=insecure_skip_tls_verify,
    )
    return connect(connection, retry=RetryPolicy(base_delay=0.01))


def test_exported_names_match_all():
    public = {name for name in vars(harbor) if not name.startswith("_")}
    public -= {"annotations", "_client", "_connect", "_http", "_models", "_retry", "_errors"}
    assert sorted(harbor.__all__) == sorted(public)


def test_harbor_error_body_becomes_the_message_with_request_id():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            409,
            json=errors_body("registry application-collection already exists", "CONFLICT"),
            headers={"X-Request-Id": "req-42"},
        )

    with pytest.raises(HarborAPIError) as caught:
        mock_client(handler).create_registry({"name": "application-collection"})
    assert str(caught.value) == (
        "Harbor refused POST /registries: 409 registry application-collection already exists "
        "(X-Request-Id req-42)"
    )
    assert caught.value.status == 409


def test_internal_server_error_says_where_the_details_are():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json=errors_body("internal server error", "UNKNOWN"))

    with pytest.raises(HarborAPIError) as caught:
        mock_client(handler).get_project("x")
    message = str(caught.value)
    assert "500 internal server error (Harbor keeps the details in its core log)" in message
    # our own request id is reported when Harbor echoes none
    assert "X-Request-Id " in message


def test_html_error_page_is_reduced_to_the_status_phrase():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html><body>nginx</body></html>")

    with pytest.raises(HarborAPIError) as caught:
        mock_client(handler).current_user()
    assert "404 Not Found" in str(caught.value)
    assert "<html>" not in str(caught.value)


def test_success_that_is_not_json_points_at_the_url():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>welcome</html>")

    with pytest.raises(HarborResponseError, match="is --harbor-url the address of a Harbor v2"):
        mock_client(handler).current_user()


def test_429_is_retried_after_the_time_harbor_asks_for():
    answers = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200, json=[])]
    sleeps: list[float] = []
    client = mock_client(lambda request: answers.pop(0), sleeps)
    assert client.find_registry("application-collection") is None
    assert sleeps == [3.0]


def test_a_429_storm_gives_up_after_a_bounded_number_of_attempts():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, json=errors_body("too many requests", "TOO_MANY_REQUEST"))

    sleeps: list[float] = []
    with pytest.raises(HarborAPIError, match="429 too many requests"):
        mock_client(handler, sleeps).current_user()
    assert len(seen) == RetryPolicy().attempts
    assert sleeps == [0.25, 0.5, 1.0, 2.0]  # exponential backoff when no Retry-After


def test_retry_after_beyond_the_bound_is_not_waited_for():
    sleeps: list[float] = []
    handler: Handler = lambda request: httpx.Response(503, headers={"Retry-After": "3600"})  # noqa: E731
    with pytest.raises(HarborAPIError, match="503"):
        mock_client(handler, sleeps).current_user()
    assert sleeps == []


@pytest.mark.parametrize("status", [400, 401, 403, 404, 412, 422])
def test_client_errors_are_not_retried(status: int):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=errors_body("no"))

    with pytest.raises(HarborAPIError):
        mock_client(handler).find_registry("x")
    assert len(seen) == 1


def test_a_create_is_not_repeated_after_a_gateway_error_but_is_after_503():
    def run(status: int) -> int:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            if len(seen) == 1:
                return httpx.Response(status)
            return httpx.Response(201, headers={"Location": "/api/v2.0/registries/5"})

        with contextlib.suppress(HarborAPIError):
            mock_client(handler).create_registry({"name": "x"})
        return len(seen)

    assert run(502) == 1  # Harbor may have acted: a repeat could create twice
    assert run(503) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_read_is_repeated_after_a_gateway_or_busy_answer(status: int):
    answers = [httpx.Response(status), httpx.Response(200, json=[])]
    sleeps: list[float] = []
    assert mock_client(lambda request: answers.pop(0), sleeps).find_policy("p") is None
    assert (answers, sleeps) == ([], [0.25])


def test_network_errors_are_retried_for_reads():
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"username": "admin", "sysadmin_flag": True})

    assert mock_client(handler).current_user().is_admin
    assert len(calls) == 3


def test_pages_are_followed_until_link_has_no_next():
    items = [{"id": i, "name": f"robot$proj+p{i}"} for i in range(1, 251)]
    pages: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page, size = int(request.url.params["page"]), int(request.url.params["page_size"])
        pages.append(request.url.params["page"])
        chunk = items[(page - 1) * size : page * size]
        link = '</api/v2.0/robots?page=9>; rel="next"' if page * size < len(items) else ""
        headers = {"X-Total-Count": str(len(items))} | ({"Link": link} if link else {})
        return httpx.Response(200, json=chunk, headers=headers)

    robot = mock_client(handler).find_project_robot(1, "p250")
    assert robot is not None and robot.id == 250
    assert pages == ["1", "2", "3"]


def test_created_id_comes_from_location():
    handler: Handler = lambda request: httpx.Response(  # noqa: E731
        201, headers={"Location": "/api/v2.0/replication/policies/17"}
    )
    assert mock_client(handler).create_policy({"name": "p"}) == 17


def test_create_without_location_is_reported():
    handler: Handler = lambda request: httpx.Response(201)  # noqa: E731
    with pytest.raises(HarborResponseError, match="Location"):
        mock_client(handler).create_project({"project_name": "p"})


def test_cookies_from_harbor_are_never_sent_back():
    cookies_sent: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        cookies_sent.append(request.headers.get("Cookie"))
        return httpx.Response(
            201, headers={"Location": "/api/v2.0/projects/1", "Set-Cookie": "sid=abc; Path=/"}
        )

    client = mock_client(handler)
    client.create_project({"project_name": "a"})
    client.create_project({"project_name": "b"})
    assert cookies_sent == [None, None]


def test_two_writes_pass_harbors_csrf_check_over_loopback(harbor: HarborEmulator):
    client = loopback_client(harbor)
    client.create_project({"project_name": "one", "metadata": {"public": "false"}})
    client.create_project({"project_name": "two", "metadata": {"public": "false"}})
    assert {p.name for p in harbor.state.projects.values()} >= {"one", "two"}
    assert all("cookie" not in {k.lower() for k in r.headers} for r in harbor.requests)


def test_wrong_password_is_a_401_on_users_current(harbor: HarborEmulator):
    connection = Endpoint.at_url(harbor.url, (ADMIN_USERNAME, "wrong"))
    with pytest.raises(HarborAPIError) as caught:
        connect(connection).current_user()
    assert caught.value.status == 401


def test_tls_without_the_ca_fails_with_advice(harbor_tls: HarborEmulator):
    with pytest.raises(HarborUnreachable) as caught:
        loopback_client(harbor_tls).current_user()
    assert "cannot verify the TLS certificate" in str(caught.value)
    assert "--ca-file" in str(caught.value)


def test_tls_with_another_ca_says_the_ca_file_is_not_the_one(
    harbor_tls: HarborEmulator, tmp_path: Path
):
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(HarborUnreachable) as caught:
        loopback_client(harbor_tls, ca_file=other).current_user()
    assert "--ca-file must name the CA that signed it (not given, or another)" in str(
        caught.value)


def test_plain_http_to_harbors_https_port_says_to_reach_it_over_https(
    harbor_tls: HarborEmulator
):
    plain = Endpoint.at_url(harbor_tls.url.replace("https://", "http://"),
                            (ADMIN_USERNAME, ADMIN_PASSWORD))
    with pytest.raises(HarborUnreachable) as caught:
        connect(plain, retry=RetryPolicy(base_delay=0.01)).current_user()
    assert str(caught.value).endswith(
        ": if Harbor serves HTTPS there, reach it over https (no --plain-http, https://)")


@contextlib.contextmanager
def _tls_listener(certificate: trustme.LeafCert) -> Iterator[str]:
    """https://127.0.0.1:PORT presenting `certificate`; the handshake is all it does."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection, contextlib.suppress(OSError):
                context.wrap_socket(connection, server_side=True).close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


_LONG_AGO = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
TLS_FAILURES = {
    # (the certificate, trusted here?, what the message must name)
    "unknown CA": (lambda ca: ca.issue_cert("127.0.0.1"), False,
                   "unable to get local issuer certificate: --ca-file must name the CA that "
                   "signed it (not given, or another)"),
    "expired": (lambda ca: ca.issue_cert("127.0.0.1", not_before=_LONG_AGO,
                                         not_after=_LONG_AGO + datetime.timedelta(days=1)),
                True, "it has expired: Harbor needs a renewed certificate"),
    "another host": (lambda ca: ca.issue_cert("harbor.other.example"), True,
                     "it is issued for another name (IP address mismatch, certificate is not "
                     "valid for '127.0.0.1'): use a host name the certificate names"),
}  # fmt: skip


@pytest.mark.parametrize("case", TLS_FAILURES.values(), ids=TLS_FAILURES.keys())
def test_tls_failures_name_their_cause(case, tmp_path: Path) -> None:
    """Only a CA this machine does not trust is fixed by --ca-file; an expired certificate or
    one for another host is not, and the insecure switch is advice for none of them."""
    issue, trusted, cause = case
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    with _tls_listener(issue(ca)) as url:
        endpoint = Endpoint.at_url(url, (ADMIN_USERNAME, ADMIN_PASSWORD),
                                   ca_file=str(ca_file) if trusted else None)  # fmt: skip
        client = connect(endpoint, retry=RetryPolicy(base_delay=0.01))
        with pytest.raises(HarborUnreachable) as caught:
            client.current_user()
    assert str(caught.value) == f"cannot verify the TLS certificate of {url}: {cause}"


def test_tls_with_the_ca_file_works(harbor_tls: HarborEmulator):
    assert harbor_tls.ca_file is not None
    user = loopback_client(harbor_tls, ca_file=Path(harbor_tls.ca_file)).current_user()
    assert user.username == "admin"


def test_insecure_skip_tls_verify_works_and_excludes_a_ca_file(harbor_tls: HarborEmulator):
    assert loopback_client(harbor_tls, insecure_skip_tls_verify=True).current_user().is_admin
    with pytest.raises(ConfigError, match="exclude each other"):
        loopback_client(harbor_tls, insecure_skip_tls_verify=True, ca_file=Path("x.pem"))


def test_a_missing_ca_file_is_bad_input(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"--ca-file .*missing\.pem: no such file"):
        Endpoint("h.example", ca_file=str(tmp_path / "missing.pem")).tls_verify()


def test_nothing_listening_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = Endpoint.at_url(f"http://127.0.0.1:{port}", ("admin", "x"))
    client = connect(connection, retry=RetryPolicy(attempts=2, base_delay=0.01))
    with pytest.raises(HarborUnreachable, match=rf"cannot reach Harbor at http://127.0.0.1:{port}"):
        client.current_user()


def test_slow_harbor_times_out_then_recovers(harbor: HarborEmulator):
    harbor.inject_fault("/users/current", delay=0.6, count=1)
    connection = Endpoint.at_url(harbor.url, (ADMIN_USERNAME, ADMIN_PASSWORD))
    client = connect(connection, timeout=0.3, retry=RetryPolicy(base_delay=0.01))
    assert client.current_user().is_admin  # first attempt timed out, the retry answered


def test_retry_after_as_http_date():
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon", now=0.0) is None


def test_password_is_not_in_the_endpoint_repr():
    assert "secret-pass" not in repr(Endpoint.at_url("https://h", ("admin", "secret-pass")))


def test_json_bodies_are_sent_as_json():
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        assert request.headers["Content-Type"] == "application/json"
        return httpx.Response(201, headers={"Location": "/api/v2.0/registries/3"})

    assert mock_client(handler).create_registry({"name": "n", "insecure": False}) == 3
    assert bodies == [{"name": "n", "insecure": False}]


def test_the_post_renderer_path_never_loads_httpx(tmp_path: Path):
    """Helm runs the post-renderer per release: the Harbor client must not slow it down."""
    script = (
        "import sys\n"
        "from postrender.cli import main\n"
        "try:\n    main(['--harbor-host', 'harbor.example'])\n"
        "except SystemExit as done:\n    assert done.code == 0, done.code\n"
        "sys.stderr.write('httpx loaded' if 'httpx' in sys.modules else 'httpx not loaded')\n"
    )
    manifest = "kind: Pod\nspec:\n  containers:\n  - image: dp.apps.rancher.io/containers/x:1\n"
    result = subprocess.run(
        [sys.executable, "-c", script], input=manifest, capture_output=True, text=True,
        env={"HOME": str(tmp_path), "HELM_CONFIG_HOME": str(tmp_path)}, timeout=30,
    )  # fmt: skip
    assert "harbor.example/application-collection/containers/x:1" in result.stdout
    assert result.stderr.endswith("httpx not loaded"), result.stderr


@pytest.mark.parametrize(("status", "error", "said"), [
    (200, HarborResponseError, "answered 200 without JSON"),
    (400, HarborAPIError, "Harbor refused GET /users/current: 400 "),
])  # fmt: skip
def test_json_nested_past_the_recursion_limit_is_one_harbor_error(
    status: int, error: type[Exception], said: str
) -> None:
    """Whatever Harbor (or what stands at its address) sends: `[[[[…` is not a RecursionError."""
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="[" * 100_000)

    with pytest.raises(error, match=said):
        mock_client(handler).current_user()


def test_a_redirect_names_the_address_to_use():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(308, headers={"Location": "https://harbor.test:8443/api/v2.0/x"})

    with pytest.raises(HarborAPIError, match=r"to https://harbor.test:8443/api/v2.0/x: use "
                                             r"https://harbor.test:8443 as --harbor-url"):
        mock_client(handler).current_user()


def test_a_redirect_advises_a_harbor_url_setup_takes_and_no_query():
    """--harbor-url takes scheme://host[:port] alone (bootstrap/plan.py base_url), so the advice
    names that; the rest of the Location only as a path, its query (a login page's state or
    token) left out."""
    def handler(request: httpx.Request) -> httpx.Response:
        location = "https://harbor.test:8443/api/v2.0/users/current?session=s3cr3t-state"
        return httpx.Response(302, headers={"Location": location})

    with pytest.raises(HarborAPIError) as caught:
        mock_client(handler).current_user()
    message = str(caught.value)
    assert "to https://harbor.test:8443/api/v2.0/users/current: use https://harbor.test:8443 " \
        "as --harbor-url" in message, message
    assert "s3cr3t-state" not in message


def test_a_timeout_after_sending_names_the_request_id(harbor: HarborEmulator):
    harbor.inject_fault("/users/current", delay=0.5, count=1)
    connection = Endpoint.at_url(harbor.url, (ADMIN_USERNAME, ADMIN_PASSWORD))
    with pytest.raises(HarborUnreachable) as caught:
        connect(connection, timeout=0.2, retry=RetryPolicy(attempts=1)).current_user()
    deadline = time.monotonic() + 5
    while not harbor.requests and time.monotonic() < deadline:  # logged once it answers
        time.sleep(0.05)
    (request,) = harbor.requests
    assert str(caught.value).startswith(f"cannot reach Harbor at {harbor.url}: timed out")
    assert f"X-Request-Id {request.headers['x-request-id']}" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("application-collection", {"q": "name=~application-collection"}),
        ("suse+appco-mirror", {"q": "name=~appco-mirror"}),  # + turns into a space in Harbor
        ("\\appco", {"q": "name=~appco"}),  # an exact value would lose the backslash
        ("a,b%2Cc", {"q": "name=~2Cc"}),  # , separates; %2C would be unescaped into one
        ("+", {}),  # nothing safe to ask for: list all, compare here
    ],
)
def test_names_are_searched_by_a_part_harbors_q_parser_leaves_alone(name, query):
    """Issue 16 item 6: `lib/q/builder.go:parseKeywords` unescapes `q` a second time."""
    assert harbor_client_module.name_search(name) == query


def test_an_admin_by_sign_in_group_is_an_admin():
    """Issue 16 item 1: `common/security/local/context.go:IsSysAdmin`."""
    user = harbor.User.parse({"username": "dana", "sysadmin_flag": False,
                              "admin_role_in_auth": True})  # fmt: skip
    assert user.is_admin and not user.sysadmin_flag


def test_a_robots_expiry_and_permissions_are_read():
    robot = harbor.Robot.parse({
        "id": 7, "name": "robot$p+pull", "disable": False, "expires_at": 1000, "level": "project",
        "permissions": [{"kind": "project", "namespace": "p", "access": [
            {"resource": "repository", "action": "pull", "effect": ""}]}],
    })  # fmt: skip
    assert robot.expired(1000) and not robot.expired(999)
    assert robot.permissions == (
        harbor.RobotPermission("project", "p", frozenset({("repository", "pull")})),
    )
    assert not harbor.Robot.parse({"id": 1, "name": "r", "expires_at": -1}).expired(1e12)


def test_registry_accepts_only_what_v2_answers_200_to(harbor: HarborEmulator):
    """The proof that a Secret file still works: Harbor's `/v2/` with Basic credentials."""
    client = loopback_client(harbor)
    assert client.registry_accepts(ADMIN_USERNAME, ADMIN_PASSWORD)
    assert not client.registry_accepts("robot$p+pull", "not-the-secret")
    assert [r.path for r in harbor.requests[-2:]] == ["/v2/", "/v2/"]
