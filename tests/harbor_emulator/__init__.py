"""A stateful Harbor v2.0 API emulator for tests and the demo (never imported by the product).

Faithful to the real API (`../shared/reference/harbor-api.md`, swagger v2.15.2), not to any
client. Its core, `HarborEmulator.handle(Request) -> Response`, is served on a loopback socket
(HTTP or HTTPS) or used through `HarborEmulator.transport()` (an `httpx.MockTransport`).

Pytest fixtures (`tests/support/fixtures_harbor.py`)
-------------------------------------------
``upstream_registry`` -> `FakeUpstream` on http://127.0.0.1:<free port>
    ``.url``, ``.username``, ``.token`` (the right credentials), ``.repositories``
    (``{"containers/etcd": ["3.5.14", ...], ...}``; ``.add_repository(name, tags)``),
    ``.break_manifest(repo, tag)`` (500: its repository's copy fails), ``.catalog_enabled = False``
    (``/v2/_catalog`` 404s, so wildcard rules fail), ``.requests`` / ``.paths``.
``harbor`` -> `HarborEmulator` served over HTTP on 127.0.0.1
    ``.url`` (base URL, no ``/api/v2.0``), admin ``ADMIN_USERNAME``/``ADMIN_PASSWORD``
    (``admin``/``Harbor12345``), ``.add_user(name, password, admin=False, by_sign_in=False,
    oidc=False)`` (``by_sign_in``: admin through an LDAP group or the auth proxy;
    ``oidc``: the password is an OIDC CLI secret, with ``.state.auth_mode = "oidc_auth"``),
    ``.add_system_robot(name, secret, permissions)``,
    ``.inject_fault(path=None, *, status=None, count=1, retry_after=None, delay=0.0,
    method=None)`` (path like ``"/registries"`` or the full ``"/api/v2.0/registries"``),
    ``.fail_copies("containers/etcd:3.5.*")`` (the replication task of a repository with a
    matching ``repo:tag`` fails, with any upstream), ``.requests`` / ``.writes`` (`Request`:
    ``method``, ``path``, ``query``, ``headers``, ``body``, ``.json()``), ``.exchanges``
    (request + `Response`), ``.clear_log()``,
    ``.state`` (`State`: ``registries``, ``projects``, ``policies``, ``executions``,
    ``robots``, ``users``, ``store`` (what `/v2/` holds per project: `store.Content`);
    ``execution_seconds`` is 0.3 here), ``.transport()``,
    ``.token_seconds`` (registry token lifetime, 1800 = Harbor's 30 min; set e.g. 1 to see
    tokens expire), ``.version`` (the Harbor release to behave as, below),
    ``.health_check()`` (re-check every endpoint's health now, as Harbor does every 5 min;
    the emulator also does it once 300 s of its clock have passed), ``.settle()`` (Harbor's
    background waits ran out: cached indexes are pushed trimmed to the children present).
``.version`` values: ``"v2.15.2"`` (default); any ``"vX.Y.Z"``; ``"main"`` (goharbor/harbor
    main c50c7ddd, VERSION v2.16.0, which also stands for release-2.15.0 = v2.15.3). What
    differs: from v2.10 robot permissions are checked against `rbac` ScopeProject; from
    v2.15.3 a ping by ``id`` ignores ``url``/``insecure``/``ca_certificate``; on main a
    registry update that changes the URL without ``access_secret`` clears the stored secret.
``harbor_tls`` -> the same over HTTPS; ``.ca_file`` is the PEM of the test CA to trust.
``harbor_ca`` -> the session's `trustme.CA`.

To check what a client sends against the official swagger:
``Spec.load(path).request_problems(request)`` (`tests.harbor_emulator.spec`; the test suite
loads ``../shared/reference/harbor-swagger-v2.15.2.yaml``). Without a socket:
``httpx.Client(transport=harbor.transport(), base_url="http://harbor.test/api/v2.0")``.
The registry data plane (``/v2/``, token service, proxy cache) is in ``registry_proxy.py``
and ``registry_token.py``, what it holds in ``store.py``; each handler names the Harbor source
file and function it follows (`../shared/reference/harbor-behaviour.md` has the audit).

Outside pytest: ``HarborEmulator(url=..., execution_seconds=1.0, clock=time.monotonic)``
(a fake clock makes executions finish when a test says so), served by
``LoopbackServer(emulator.handle, port=0, ssl_context=tls_context(ca))``; set
``emulator.url = server.url``.

Reproduced: basic auth that silently falls back to anonymous; ``users/current`` 401;
``POST /users`` (admin only) for local non-admin users;
admin-only registries/replication (403 for other users); ``systeminfo`` without the version
for anonymous; registries whose create/update/ping really ``GET <url>/v2/`` (400
``the registry is unhealthy``), 409 on duplicate names, flat ``RegistryUpdate``, masked
secrets, ``q=name=`` exact vs fuzzy ``name=``; ``X-Total-Count``/``Link`` paging with
``page_size`` <= 100 (else 422); 201 + relative ``Location``; projects (HEAD exists check,
``X-Is-Resource-Name``, string ``metadata.public``, ``registry_id`` only for admins and
ignored by PUT, 404/403/401 by caller); pull replication policies (``deletion``, omitted
``dest_namespace_replace_count`` = -1, PUT replaces all, 409) and executions (412 when
disabled, InProgress -> Succeed/Failed over ``execution_seconds``, one task per repository
(``containers/etcd [3 item(s) in total]``) with text logs, a flattening error failing the
execution with no task, upstream listing via ``_catalog`` only for wildcard names, destination
projects created, proxy-cache destinations skipped, ``single_active_replication``, and the
selected artifacts really copied into the destination project, where ``/v2/`` serves them);
robots (secret only in the create response and a PATCH refresh, 409, permissions checked
against Harbor's own list); a ``sid`` cookie on every response that earns ``403 CSRF token
invalid`` on a write that sends it back; ``X-Request-Id`` echoed or made up;
``{"errors":[...]}`` bodies with 5xx messages hidden. On ``/v2/``: the token service's
empty-grant tokens for bad credentials, expiring tokens, ``Basic realm="harbor"`` for a
refused request that carried ``Authorization``, Basic auth accepted directly; proxy projects
with HEAD caching nothing, GET by tag answering an empty ``Docker-Content-Digest``, upstream
failures falling back to local content, ``tags/list`` always 200, indexes in a Redis-like
cache until their children are local, HEAD's background ``EnsureTag``.

Also (issue 16): admins by sign-in (``admin_role_in_auth``); OIDC CLI secrets only on the
API paths ``oidc_cli.go:valid`` lists; robots calling the API with their permissions (system
ones need them for every admin API; ``users/current`` answers them 412); expired robots
anonymous; ``PUT /robots`` wanting the listed name; ``q`` unescaped a second time; a proxy
project's ``max_upstream_conn`` (``.state.upstream_blob_seconds`` is how long an upstream blob
streams, ``.state.upstream_limit_on_project`` counts per project).

Not reproduced: CSRF tokens (any kept ``sid`` is refused), LDAP or OIDC sign-in itself (users
are arranged with their result), project members other than the owner,
``project_creation_restriction``, quotas, retention runs, label filters (accepted, not
applied), scheduled/event triggers firing,
bearer-token challenges in the upstream health check (the fake upstream uses basic auth),
pushes through ``/v2/`` (only replication writes content), Harbor's timing: its 60 s JWT
leeway, the 20 s waits before a proxied manifest is stored (the emulator stores a single
manifest at once; Harbor waits for its blobs and after 10 x 20 s fetches missing ones
itself), blobs stored by a second background fetch (here at once), the Redis list cache's
7-day expiry, copies spread over time (a run copies at its start; only its tasks' statuses
follow the clock), and the 30 s refresh of execution statuses.
"""

from __future__ import annotations

from .core import ADMIN_PASSWORD, ADMIN_USERNAME, HarborEmulator
from .server import LoopbackServer, tls_context, write_ca
from .state import State
from .upstream import FakeUpstream
from .wire import API_PREFIX, Exchange, Request, Response

__all__ = [
    "ADMIN_PASSWORD",
    "ADMIN_USERNAME",
    "API_PREFIX",
    "Exchange",
    "FakeUpstream",
    "HarborEmulator",
    "LoopbackServer",
    "Request",
    "Response",
    "State",
    "tls_context",
    "write_ca",
]
