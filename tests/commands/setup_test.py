"""`harbor-mirror setup` against the Harbor emulator over loopback, as an operator runs it."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from postrender.bootstrap.plan import Plan, Replication, RobotPlan
from postrender.bootstrap.replication import replicate
from postrender.commands.setup import setup
from postrender.endpoint import Endpoint
from postrender.errors import (
    ConfigError,
    HarborAPIError,
    HarborConflict,
    HarborResponseError,
    ReplicationFailed,
)
from postrender.harbor import Policy, connect
from tests.harbor_emulator import (
    ADMIN_PASSWORD,
    ADMIN_USERNAME,
    FakeUpstream,
    HarborEmulator,
)
from tests.support.fixtures_harbor import serving_upstream
from tests.support.setup_runs import (
    HARBOR_MIRROR,
    UPSTREAM_HOST,
    assert_one_line_error,
    cli_env,
    host_of,
    lines_of,
    make_plan,
    replication_plan,
    run_cli,
    run_setup,
)

CHART_ARG = f"oci://{UPSTREAM_HOST}/charts/etcd"


def secret_file_auth(path: Path, harbor: HarborEmulator) -> dict[str, str]:
    """The registry login a pull Secret manifest holds for this Harbor."""
    manifest = json.loads(path.read_text())
    config = json.loads(base64.b64decode(manifest["data"][".dockerconfigjson"]))
    entry: dict[str, str] = config["auths"][host_of(harbor.url)]
    return entry


@pytest.fixture
def upstream(upstream_registry: FakeUpstream) -> FakeUpstream:
    return upstream_registry


@pytest.fixture
def second_upstream() -> Iterator[FakeUpstream]:
    with serving_upstream() as other:
        yield other


# -- the happy path ---------------------------------------------------------------------------


def test_setup_first_run_creates_endpoint_project_and_config(harbor, upstream, tmp_path):
    plan = make_plan(harbor, upstream, tmp_path)
    output = run_setup(harbor, plan)

    (registry,) = harbor.state.registries.values()
    assert (registry.name, registry.type, registry.url) == (
        "application-collection", "docker-registry", upstream.url,
    )  # fmt: skip
    assert (registry.access_key, registry.access_secret) == (upstream.username, upstream.token)
    assert registry.insecure is False
    project = harbor.state.project_by_name("application-collection")
    assert project is not None and project.registry_id == registry.id
    assert project.metadata["public"] == "false"
    assert lines_of(output, "registry") == [
        f"[registry] application-collection: created ({upstream.url}, tested)"
    ]
    assert "[project] application-collection: created (private proxy cache)" in output
    assert plan.config_path.read_text().endswith(
        f'harborHost: "{host_of(harbor.url)}"\nproject: "application-collection"\n'
        f'mode: "proxy-cache"\nupstream: "{UPSTREAM_HOST}"\n'
    )
    assert output.rstrip().endswith(
        f"HARBOR_MIRROR_CONFIG={plan.config_path} helm harbor-mirror install <release> "
        f"oci://{UPSTREAM_HOST}/charts/<chart> --version <version>"
    )


def test_setup_idempotent(harbor, upstream, tmp_path):
    plan = make_plan(harbor, upstream, tmp_path, robot=RobotPlan(
        "k8s-pull", tmp_path / "pull-secret.json", "harbor-pull"))  # fmt: skip
    run_setup(harbor, plan)
    harbor.clear_log()

    output = run_setup(harbor, plan)

    assert harbor.writes == []
    steps = [line for line in output.splitlines() if line.startswith("[")]
    assert all(line.split(": ", 1)[1].startswith(("unchanged", "ok")) for line in steps), output


@pytest.mark.parametrize(("project", "warned"), [("app_co", True), ("app-co", False)])
def test_setup_warns_that_charts_may_not_proxy_through_a_project_with_underscore(
    harbor, upstream, tmp_path, project, warned
):
    output = run_setup(harbor, make_plan(harbor, upstream, tmp_path, project=project))
    assert f"[project] {project}: created" in output
    warning = f"warning: --project '{project}' has a '_': Harbor may not proxy Helm charts"
    assert (warning in output) is warned


def test_setup_never_sends_harbors_cookie_back(harbor, upstream, tmp_path):
    run_setup(harbor, make_plan(harbor, upstream, tmp_path))
    assert len(harbor.writes) >= 2  # more than one write: a kept `sid` would have earned a 403
    assert all("cookie" not in {key.lower() for key in r.headers} for r in harbor.requests)


def test_setup_dry_run_sends_no_writes(harbor, upstream, tmp_path):
    plan = make_plan(harbor, upstream, tmp_path, robot=RobotPlan(
        "k8s-pull", tmp_path / "pull-secret.json", "harbor-pull"))  # fmt: skip
    output = run_setup(harbor, plan, dry_run=True)

    assert harbor.writes == []
    assert "[registry] application-collection: would create" in output
    assert "[project] application-collection: would create (private proxy cache)" in output
    assert "[robot] k8s-pull: would create" in output
    assert "Dry run: nothing was changed." in output
    assert not plan.config_path.exists()
    assert not (tmp_path / "pull-secret.json").exists()


@pytest.mark.parametrize("version", ["v2.15.2", "main"])  # main clears a secret not resent
def test_setup_new_upstream_url_updates_the_endpoint(
    harbor, upstream, second_upstream, tmp_path, version
):
    harbor.version = version
    run_setup(harbor, make_plan(harbor, upstream, tmp_path))
    moved = make_plan(harbor, second_upstream, tmp_path)
    harbor.clear_log()

    dry = run_setup(harbor, moved, dry_run=True)
    assert harbor.writes == []
    assert "[registry] application-collection: would update (token, url)" in dry

    output = run_setup(harbor, moved)
    (registry,) = harbor.state.registries.values()
    assert (registry.url, registry.access_secret) == (second_upstream.url, second_upstream.token)
    assert "[registry] application-collection: updated (token, url, tested)" in output
    [put] = harbor.writes
    assert put.method == "PUT"
    # Harbor's main clears the stored secret on a URL change without one (UpdateRegistry)
    assert put.json()["access_secret"] == second_upstream.token


def test_setup_new_upstream_url_without_token_is_refused(
    harbor, upstream, second_upstream, tmp_path
):
    assert run_cli(harbor.url, upstream, tmp_path).returncode == 0
    harbor.clear_log()
    result = run_cli(harbor.url, second_upstream, tmp_path, HARBOR_MIRROR_UPSTREAM_TOKEN="")
    assert_one_line_error(
        result, 2, "moving registry endpoint 'application-collection' to "
        f"{second_upstream.url} needs the upstream access token again",
    )
    assert harbor.writes == []
    assert result.stdout.count("[registry]") == 0


def test_setup_new_token_updates_the_endpoint_and_the_same_token_does_not(
    harbor, upstream, tmp_path
):
    run_setup(harbor, make_plan(harbor, upstream, tmp_path))
    upstream.token = "rotated-token-2"
    harbor.clear_log()

    output = run_setup(harbor, make_plan(harbor, upstream, tmp_path))

    (registry,) = harbor.state.registries.values()
    assert registry.access_secret == "rotated-token-2"
    assert "[registry] application-collection: updated (token, tested)" in output
    harbor.clear_log()
    assert "unchanged" in lines_of(run_setup(harbor, make_plan(harbor, upstream, tmp_path)),
                                   "registry")[0]  # fmt: skip
    assert harbor.writes == []


def test_setup_without_token_keeps_the_stored_one(harbor, upstream, tmp_path):
    run_setup(harbor, make_plan(harbor, upstream, tmp_path))
    harbor.clear_log()
    output = run_setup(harbor, make_plan(harbor, upstream, tmp_path, upstream_token=None))
    assert harbor.writes == []
    assert "[registry] application-collection: unchanged" in output


# -- existing things Harbor cannot convert ----------------------------------------------------


def test_setup_existing_normal_project_fails_with_the_explanation(harbor, upstream, tmp_path):
    client = connect(Endpoint.at_url(harbor.url, (ADMIN_USERNAME, ADMIN_PASSWORD)))
    client.create_project({"project_name": "application-collection", "metadata": {}})

    result = run_cli(harbor.url, upstream, tmp_path)

    assert_one_line_error(
        result, 1,
        "project 'application-collection' already exists as a normal project",
        "Harbor cannot turn an existing project into a proxy cache",
    )  # fmt: skip
    assert "[registry] application-collection: created" in result.stdout


def test_setup_replication_into_a_proxy_project_is_refused(harbor, upstream, tmp_path):
    run_setup(harbor, make_plan(harbor, upstream, tmp_path))
    plan = make_plan(harbor, upstream, tmp_path, mode="replication",
                     replication=Replication("containers/etcd"))  # fmt: skip
    with pytest.raises(HarborConflict, match="silently skips replicating into proxy-cache"):
        run_setup(harbor, plan)


# -- failures an operator meets: one line, right exit code, no secret -------------------------


def test_setup_bad_harbor_password(harbor, upstream, tmp_path):
    result = run_cli(harbor.url, upstream, tmp_path, HARBOR_MIRROR_HARBOR_PASSWORD="wrong-pw")
    assert_one_line_error(result, 1, "GET /users/current: 401", "did not accept the username")
    assert "wrong-pw" not in result.stderr + result.stdout


def test_setup_non_admin_user(harbor, upstream, tmp_path):
    harbor.add_user("dev", "Dev12345pw")
    result = run_cli(harbor.url, upstream, tmp_path, "--username", "dev",
                     HARBOR_MIRROR_HARBOR_PASSWORD="Dev12345pw")  # fmt: skip
    assert_one_line_error(result, 1, "user 'dev' is not a Harbor system administrator")
    assert harbor.writes == []


def test_setup_bad_upstream_token(harbor, upstream, tmp_path):
    result = run_cli(harbor.url, upstream, tmp_path,
                     HARBOR_MIRROR_UPSTREAM_TOKEN="not-the-token")  # fmt: skip
    assert_one_line_error(
        result, 1, "POST /registries: 400 the registry is unhealthy",
        f"Harbor could not sign in to {upstream.url}/v2/", "HARBOR_MIRROR_UPSTREAM_TOKEN",
    )  # fmt: skip
    assert "not-the-token" not in result.stderr + result.stdout
    assert harbor.state.registries == {}


def test_setup_unreachable_harbor(upstream, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = run_cli(url, upstream, tmp_path)
    assert_one_line_error(result, 1, f"cannot reach Harbor at {url}: connection failed")


def test_an_http_harbor_is_refused_unless_plain_http_says_so(harbor, upstream, tmp_path):
    """An http:// Harbor would get the admin password in clear text without a word."""
    command = [str(HARBOR_MIRROR), "setup", "--harbor-url", harbor.url, "--upstream-url",
               upstream.url, "--upstream-username", upstream.username]  # fmt: skip
    refused = subprocess.run(command, env=cli_env(tmp_path, upstream), capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, timeout=60)  # fmt: skip
    assert_one_line_error(
        refused, 2, f"--harbor-url {harbor.url} is plain HTTP, which would send the admin "
        "password unencrypted: use https:// or pass --plain-http",
    )  # fmt: skip
    assert refused.stdout == ""
    assert harbor.requests == []  # nothing, the password least of all, went out

    allowed = subprocess.run([*command, "--plain-http"], env=cli_env(tmp_path, upstream),
                             capture_output=True, text=True, stdin=subprocess.DEVNULL,
                             timeout=60)  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stderr.splitlines()[0] == (
        f"warning: {harbor.url} is plain HTTP (--plain-http): the admin password and the "
        "upstream token cross the network unencrypted"
    )


def test_plain_http_with_an_https_harbor_is_refused(harbor_tls, upstream, tmp_path):
    result = run_cli(harbor_tls.url, upstream, tmp_path, "--plain-http")
    assert_one_line_error(
        result, 2, f"--plain-http: --harbor-url {harbor_tls.url} is not an http:// URL"
    )
    assert harbor_tls.requests == []


def test_setup_tls_fails_without_the_ca_and_works_with_it(harbor_tls, upstream, tmp_path):
    result = run_cli(harbor_tls.url, upstream, tmp_path)
    assert_one_line_error(result, 1, "cannot verify the TLS certificate", "--ca-file")

    result = run_cli(harbor_tls.url, upstream, tmp_path, "--ca-file", harbor_tls.ca_file)
    assert result.returncode == 0, result.stderr
    assert "[project] application-collection: created" in result.stdout
    # No robot, a private project: the login line it prints must trust the same CA to work.
    login = f"  helm registry login {host_of(harbor_tls.url)} --ca-file {harbor_tls.ca_file}   #"
    assert login in result.stdout


def test_setup_rides_out_a_short_429_storm(harbor, upstream, tmp_path):
    harbor.inject_fault("/registries", status=429, retry_after=0, count=3)
    result = run_cli(harbor.url, upstream, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(harbor.state.registries) == 1


def test_setup_gives_up_on_an_endless_429_storm(harbor, upstream, tmp_path):
    harbor.inject_fault("/users/current", status=429, retry_after=0, count=100)
    result = run_cli(harbor.url, upstream, tmp_path)
    assert_one_line_error(result, 1, "GET /users/current: 429", "X-Request-Id")


def test_setup_secrets_never_appear_in_output(harbor, upstream, tmp_path):
    result = run_cli(harbor.url, upstream, tmp_path, "--robot", "k8s-pull",
                     "--secret-out", str(tmp_path / "s.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    (robot,) = harbor.state.robots.values()
    config = (tmp_path / "helm" / "harbor-mirror" / "config.yaml").read_text()
    for secret in (ADMIN_PASSWORD, upstream.token, robot.secret):
        assert secret not in result.stdout + result.stderr
        assert secret not in config  # the README: the config file holds no secrets
    # without --pull-secret the Secret is named like the charts' own pull secret
    manifest = json.loads((tmp_path / "s.json").read_text())
    assert manifest["metadata"]["name"] == "application-collection"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mode", "replication"],
         "--mode replication needs --chart CHART --version V, or --filter-name"),
        (["--filter-name", "containers/etcd"], "--filter-name only applies to --mode replication"),
        (["--robot", "k8s"], "--robot needs --secret-out FILE"),
        (["--secret-out", "x.json"], "--secret-out needs --robot NAME"),
        (["--repair-robot"], "--repair-robot needs --robot NAME"),
        (["--project", "Bad_Name!"], "--project 'Bad_Name!' is not a valid Harbor name"),
        (["--registry-name", "x" * 65], "--registry-name 'xxxx"),
        (["--mode", "replication", "--filter-name", "containers/etcd", "--policy-name", " "],
         "--policy-name ' ' must be 1 to 256 characters"),
        (["--chart", CHART_ARG, "--version", "1.0.0"],
         "--chart only applies to --mode replication"),
        (["--mode", "replication", "--chart", CHART_ARG], "--chart needs --version V"),
        (["--mode", "replication", "--chart", CHART_ARG, "--version", "^1.2"],
         "--version '^1.2' must be one exact chart version"),
        (["--mode", "replication", "--chart", CHART_ARG, "--version", "1.x"],
         "--version '1.x' must be one exact chart version"),
        (["--mode", "replication", "--chart", "oci://registry.example.com/charts/etcd",
          "--version", "1.0.0"], "must be the upstream's chart URL, oci://dp.apps.rancher.io/"),
        (["--mode", "replication", "--chart", f"oci://{UPSTREAM_HOST}/containers/etcd",
          "--version", "1.0.0"], "must be the upstream's chart URL"),
        (["--mode", "replication", "--chart", CHART_ARG, "--version", "1.0.0",
          "--filter-name", "containers/etcd"],
         "give --chart or --filter-name (and --filter-tag), not both"),
        (["--mode", "replication", "--filter-name", "containers/etcd", "--attestations"],
         "--attestations only applies with --chart"),
        (["--mode", "replication", "--filter-name", "containers/etcd", "--set", "a=b"],
         "values arguments only applies with --chart"),
        (["--mode", "replication", "--filter-name", "containers/etcd", "--version", "1.0.0"],
         "--version only applies with --chart"),
        (["--mode", "replication", "--chart", CHART_ARG, "--version", "1.0.0", "--set",
          "--dry-run"], "--set took '--dry-run' as its value"),
        (["--mode", "replication", "--chart", CHART_ARG, "--version", "1.0.0", "-f",
          "--namespace=demo"], "-f/--values took '--namespace=demo' as its value"),
        (["--timeout", "-1"], "--timeout must be a positive number of seconds"),
        (["--timeout", "nan"], "--timeout must be a positive number of seconds"),
        (["--mode", "replication", "--filter-name", "containers/etcd", "--poll-interval", "inf"],
         "--poll-interval must be a positive number of seconds"),
    ],
)
def test_setup_bad_input_exits_2_before_contacting_harbor(harbor, upstream, tmp_path, args, needle):
    result = run_cli(harbor.url, upstream, tmp_path, *args)
    assert_one_line_error(result, 2, needle)
    assert harbor.requests == []


def test_setup_refuses_helm_flags_that_are_not_values_arguments(harbor, upstream, tmp_path):
    """--chart takes Helm's values arguments only; a flag that would change what Helm renders
    from (or where it fetches) is refused before anything is sent."""
    for flag in (["--repo", "https://charts.example.com"], ["--devel"], ["--post-renderer", "x"]):
        result = run_cli(harbor.url, upstream, tmp_path, "--mode", "replication", "--chart",
                         CHART_ARG, "--version", "1.0.0", *flag)
        assert_one_line_error(result, 2, f"setup has no option {flag[0]}; with --chart, Helm "
                              "is given only -f/--values, --set")
        assert result.stdout == ""
    assert harbor.requests == []


def test_setup_refuses_a_password_option_and_a_url_without_scheme(harbor, upstream, tmp_path):
    result = run_cli(harbor.url, upstream, tmp_path, "--password", "Harbor12345")
    assert result.returncode == 2
    assert "Harbor12345" not in result.stderr
    result = run_cli("core.harbor.domain", upstream, tmp_path)
    assert_one_line_error(result, 2, "--harbor-url 'core.harbor.domain' is not an http(s) URL")


def test_setup_help_lists_the_options():
    result = subprocess.run([str(HARBOR_MIRROR), "setup", "--help"], capture_output=True,
                            text=True, timeout=30)  # fmt: skip
    assert result.returncode == 0
    for option in ("--harbor-url", "--password-stdin", "--mode", "--replicate", "--dry-run",
                   "--ca-file", "--insecure-skip-tls-verify", "--secret-out"):  # fmt: skip
        assert option in result.stdout


def test_setup_reads_the_password_from_stdin(harbor, upstream, tmp_path):
    env = cli_env(tmp_path, upstream)
    del env["HARBOR_MIRROR_HARBOR_PASSWORD"]
    command = [str(HARBOR_MIRROR), "setup", "--harbor-url", harbor.url, "--plain-http",
               "--upstream-url", upstream.url, "--upstream-username", upstream.username,
               "--password-stdin"]
    result = subprocess.run(command, env=env, input=ADMIN_PASSWORD + "\n", capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    del env["HARBOR_MIRROR_UPSTREAM_TOKEN"]
    result = subprocess.run(command[:-1], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert_one_line_error(result, 2, "no Harbor password", "--password-stdin")


def test_a_bad_ca_file_is_reported_before_the_password_prompt(harbor_tls, upstream, tmp_path):
    # In a terminal setup asks for the password; a typo in --ca-file must not cost a typed secret.
    env = cli_env(tmp_path, upstream)
    del env["HARBOR_MIRROR_HARBOR_PASSWORD"]
    missing = tmp_path / "no-such-ca.pem"
    main, terminal = os.openpty()
    try:
        result = subprocess.run(
            [str(HARBOR_MIRROR), "setup", "--harbor-url", harbor_tls.url, "--upstream-url",
             upstream.url, "--ca-file", str(missing)],
            env=env, stdin=terminal, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        os.close(terminal)
        os.close(main)
    assert_one_line_error(result, 2, f"--ca-file {missing}: no such file")
    assert "password" not in result.stderr.lower()
    assert harbor_tls.requests == []


# -- concurrency -------------------------------------------------------------------------------


def test_two_setups_at_once_end_with_one_endpoint_and_one_project(harbor, upstream, tmp_path):
    # Both runs see nothing, then both create: one gets 409 and must re-read.
    harbor.inject_fault("/registries", method="POST", delay=0.3, count=2)
    harbor.inject_fault("/projects", method="POST", delay=0.3, count=2)
    results: list[str | BaseException] = []

    def one_run(index: int) -> None:
        try:
            results.append(run_setup(harbor, make_plan(harbor, upstream, tmp_path / str(index))))
        except BaseException as error:  # reported below
            results.append(error)

    threads = [threading.Thread(target=one_run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(isinstance(r, str) for r in results), results
    assert len(harbor.state.registries) == 1
    assert [p.name for p in harbor.state.projects.values()] == ["application-collection"]
    created = [r for r in results if "[registry] application-collection: created" in str(r)]
    assert len(created) == 1
    posts = [w for w in harbor.writes if w.method == "POST" and w.path.endswith("/registries")]
    assert len(posts) == 2  # the loser's create got 409 and re-read instead of failing


# -- replication -------------------------------------------------------------------------------


def test_setup_replication_policy_keeps_paths_and_follows_the_run(harbor, upstream, tmp_path):
    output = run_setup(harbor, replication_plan(harbor, upstream, tmp_path, replicate=True))

    (policy,) = harbor.state.policies.values()
    assert policy.dest_namespace == "appco-mirror"
    assert policy.dest_namespace_replace_count == 0  # no flattening: containers/etcd stays
    assert policy.filters == [{"type": "name", "value": "containers/{etcd,redis}"}]
    assert policy.enabled and not policy.deletion
    assert policy.trigger == {"type": "manual"}
    assert "[policy] application-collection: created" in output
    progress = lines_of(output, "replicate")
    assert progress[0] == "[replicate] application-collection: started (execution 1)"
    assert progress[-1] == (
        "[replicate] execution 1: Succeed, 2 succeeded, 0 failed, 0 in progress of 2"
    )
    config = (tmp_path / "helm" / "harbor-mirror" / "config.yaml").read_text()
    assert 'project: "appco-mirror"\nmode: "replication"\n' in config


def test_setup_replication_rerun_changes_nothing_and_warns_on_wildcards(
    harbor, upstream, tmp_path
):
    plan = replication_plan(harbor, upstream, tmp_path)
    run_setup(harbor, plan)
    harbor.clear_log()
    assert "[policy] application-collection: unchanged" in run_setup(harbor, plan)
    assert harbor.writes == []

    wildcard = replace(plan, replication=Replication("containers/**"))
    output = run_setup(harbor, wildcard)
    assert "warning: --filter-name 'containers/**' is a pattern" in output
    assert "[policy] application-collection: updated" in output
    assert [w.method for w in harbor.writes] == ["PUT"]


def test_setup_failed_replication_prints_task_logs_and_exits_1(harbor, upstream, tmp_path):
    upstream.break_manifest("containers/etcd", "3.5.14")
    result = run_cli(harbor.url, upstream, tmp_path, "--mode", "replication",
                     "--filter-name", "containers/etcd", "--dest-namespace", "appco-mirror",
                     "--replicate", "--poll-interval", "0.1")  # fmt: skip

    assert_one_line_error(result, 1, "replication execution 1 of policy 'application-collection'",
                          "ended Failed with 1 of 1 tasks failed")  # fmt: skip
    assert "--- task" in result.stdout and "containers/etcd:3.5.14" in result.stdout
    (execution,) = harbor.state.executions.values()
    (failed,) = [task for task in execution.tasks if task.outcome == "Failed"]
    assert failed.log.strip().splitlines()[0] in result.stdout


# -- what setup leaves for the post-renderer and the cluster -----------------------------------


def test_written_config_drives_the_post_renderer_with_no_options(harbor, upstream, tmp_path):
    result = run_cli(harbor.url, upstream, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith(
        f"helm harbor-mirror install <release> oci://{UPSTREAM_HOST}/charts/<chart> "
        "--version <version>"
    )
    manifest = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n" \
               f"  - name: x\n    image: {UPSTREAM_HOST}/containers/x:1\n"

    rendered = subprocess.run([str(HARBOR_MIRROR), "postrender"], input=manifest,
                              env=cli_env(tmp_path, upstream), capture_output=True, text=True,
                              timeout=30)  # fmt: skip

    assert rendered.returncode == 0, rendered.stderr
    mirrored = f"{host_of(harbor.url)}/application-collection/containers/x:1"
    assert f"image: {mirrored}\n" in rendered.stdout


def test_pull_secret_manifest_is_valid_private_and_names_the_harbor_host(
    harbor, upstream, tmp_path
):
    secret_out = tmp_path / "pull-secret.json"
    plan = make_plan(harbor, upstream, tmp_path, pull_secret="harbor-pull",
                     robot=RobotPlan("k8s-pull", secret_out, "harbor-pull"))  # fmt: skip
    output = run_setup(harbor, plan)

    (robot,) = harbor.state.robots.values()
    assert robot.permissions == [{"kind": "project", "namespace": "application-collection",
                                  "access": [{"resource": "repository", "action": "pull"}]}]
    assert stat.S_IMODE(secret_out.stat().st_mode) == 0o600
    manifest = json.loads(secret_out.read_text())
    assert (manifest["kind"], manifest["type"], manifest["metadata"]["name"]) == (
        "Secret", "kubernetes.io/dockerconfigjson", "harbor-pull")  # fmt: skip
    entry = secret_file_auth(secret_out, harbor)
    username = "robot$application-collection+k8s-pull"
    assert (entry["username"], entry["password"]) == (username, robot.secret)
    assert base64.b64decode(entry["auth"]).decode() == f"{username}:{robot.secret}"
    assert f"[robot] {username}: created" in output
    assert 'pullSecret: "harbor-pull"' in plan.config_path.read_text()


def test_existing_robot_without_its_secret_file_says_how_to_rotate(harbor, upstream, tmp_path):
    first = RobotPlan("k8s-pull", tmp_path / "first.json", "harbor-pull")
    run_setup(harbor, make_plan(harbor, upstream, tmp_path, robot=first))
    (robot,) = harbor.state.robots.values()
    old_secret = robot.secret

    lost = replace(first, secret_out=tmp_path / "lost.json")
    with pytest.raises(ConfigError, match="re-run with --rotate-robot-secret"):
        run_setup(harbor, make_plan(harbor, upstream, tmp_path, robot=lost))

    output = run_setup(harbor, make_plan(harbor, upstream, tmp_path,
                                         robot=replace(lost, rotate=True)))  # fmt: skip
    assert "[robot] robot$application-collection+k8s-pull: updated (new secret)" in output
    assert robot.secret != old_secret
    assert secret_file_auth(tmp_path / "lost.json", harbor)["password"] == robot.secret


@pytest.mark.parametrize("rotate", [False, True])
def test_a_secret_out_that_cannot_be_written_is_refused_before_harbor_makes_a_secret(
    harbor, upstream, tmp_path, rotate
):
    """Harbor shows a robot's secret once, when it is made (or rotated): a Secret file that
    could not be written then would lose it for good, and a rotation would also have broken
    every copy of the old one. So the path is tried first and Harbor's robot left alone."""
    first = RobotPlan("k8s-pull", tmp_path / "first.json", "harbor-pull")
    if rotate:
        run_setup(harbor, make_plan(harbor, upstream, tmp_path, robot=first))
    secrets = {name: robot.secret for name, robot in harbor.state.robots.items()}
    (tmp_path / "a-file").write_text("")
    unwritable = replace(first, secret_out=tmp_path / "a-file" / "pull.json", rotate=rotate)
    with pytest.raises(ConfigError, match=r"--secret-out .*pull\.json: cannot write there"):
        run_setup(harbor, make_plan(harbor, upstream, tmp_path, robot=unwritable))
    assert {name: robot.secret for name, robot in harbor.state.robots.items()} == secrets


def test_setup_refuses_an_endpoint_of_another_type(harbor, upstream, tmp_path):
    client = connect(Endpoint.at_url(harbor.url, (ADMIN_USERNAME, ADMIN_PASSWORD)))
    client.create_registry({
        "name": "application-collection", "type": "harbor", "url": upstream.url,
        "credential": {"type": "basic", "access_key": upstream.username,
                       "access_secret": upstream.token},
    })  # fmt: skip
    with pytest.raises(HarborConflict, match="Harbor cannot change an endpoint's type"):
        run_setup(harbor, make_plan(harbor, upstream, tmp_path))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_replication_progress_redraws_one_line_on_a_terminal(harbor, upstream, tmp_path):
    plan = replication_plan(harbor, upstream, tmp_path, replicate=True)
    out = Terminal()
    client = connect(Endpoint.at_url(harbor.url, (ADMIN_USERNAME, ADMIN_PASSWORD)))
    setup(client, plan, dry_run=False, out=out)
    progress = out.getvalue().split("started (execution 1)\n", 1)[1].split("\n", 1)[0]
    assert progress.startswith("\r\x1b[K[replicate] execution 1: ")
    assert progress.endswith("Succeed, 2 succeeded, 0 failed, 0 in progress of 2")


def test_an_endpoint_harbor_accepts_but_then_does_not_list_is_reported(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": "/api/v2.0/registries/7"})
        if request.url.path.endswith("/users/current"):
            return httpx.Response(200, json={"username": "admin", "sysadmin_flag": True})
        if request.url.path.endswith("/systeminfo"):
            return httpx.Response(200, json={"harbor_version": "v2.15.2"})
        return httpx.Response(200, json=[])  # the endpoint list stays empty

    client = connect(Endpoint.at_url("https://harbor.test", ("admin", "pw")),
                     transport=httpx.MockTransport(handler))  # fmt: skip
    plan = Plan(harbor_url="https://harbor.test", upstream_username="u", upstream_token="t",
                config_path=tmp_path / "config.yaml")  # fmt: skip
    with pytest.raises(HarborResponseError) as caught:
        setup(client, plan, dry_run=False, out=io.StringIO())
    assert str(caught.value) == (
        "registry endpoint 'application-collection' was accepted but cannot be found again"
    )
    assert not plan.config_path.exists()


def test_setup_keeps_an_admins_insecure_endpoint_and_takes_a_new_upstream_username(
    harbor, upstream, tmp_path
):
    """Issue 16 item 7: turning certificate checks off is how an admin reaches the upstream
    through a TLS-inspecting proxy; setup used to turn them back on, which Harbor refuses."""
    client = connect(Endpoint.at_url(harbor.url, (ADMIN_USERNAME, ADMIN_PASSWORD)))
    client.create_registry({
        "name": "application-collection", "type": "docker-registry", "url": upstream.url,
        "insecure": True, "credential": {"type": "basic", "access_key": upstream.username,
                                         "access_secret": upstream.token},
    })  # fmt: skip
    upstream.username = "new-service-account"
    harbor.clear_log()

    output = run_setup(harbor, make_plan(harbor, upstream, tmp_path, upstream_token=None))

    (registry,) = harbor.state.registries.values()
    assert (registry.insecure, registry.access_key) == (True, "new-service-account")
    assert registry.access_secret == upstream.token  # no token given: the stored one is kept
    assert lines_of(output, "registry") == [
        "[registry] application-collection: updated (username, tested)"
    ]
    assert "insecure" not in harbor.writes[0].json()

    again = run_setup(harbor, make_plan(harbor, upstream, tmp_path, upstream_token=None))
    assert lines_of(again, "registry") == [
        f"[registry] application-collection: unchanged ({upstream.url}, remote certificate not "
        "verified (as set in Harbor))"
    ]


def test_setup_public_turns_an_existing_private_project_public(harbor, upstream, tmp_path):
    run_setup(harbor, make_plan(harbor, upstream, tmp_path))
    public = make_plan(harbor, upstream, tmp_path, public=True)
    harbor.clear_log()

    dry = run_setup(harbor, public, dry_run=True)
    assert "[project] application-collection: would update (make it public)" in dry
    assert harbor.writes == []

    output = run_setup(harbor, public)
    project = harbor.state.project_by_name("application-collection")
    assert project is not None and project.metadata["public"] == "true"
    assert "[project] application-collection: updated (made public)" in output
    assert [w.method for w in harbor.writes] == ["PUT"]


def test_setup_leaves_a_config_file_it_did_not_write_alone(harbor, upstream, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("image:\n  repository: dp.apps.rancher.io/containers/etcd\n")
    result = run_cli(harbor.url, upstream, tmp_path, "--config", str(values))
    assert_one_line_error(result, 2, f"config file {values}: unknown key 'image'",
                          "setup did not write it, so it is left alone")  # fmt: skip
    assert values.read_text() == "image:\n  repository: dp.apps.rancher.io/containers/etcd\n"


def test_setup_repairs_its_own_damaged_config_file(harbor, upstream, tmp_path):
    plan = make_plan(harbor, upstream, tmp_path)
    run_setup(harbor, plan)
    plan.config_path.write_text(plan.config_path.read_text() + "harborHost: [\n")
    output = run_setup(harbor, plan)
    assert f"[config] {plan.config_path}: updated" in output
    assert "[\n" not in plan.config_path.read_text()


def test_setup_against_something_that_is_not_harbor_says_so(tmp_path):
    answer = httpx.Response(404, text="<html><body>404 page not found</body></html>")
    client = connect(Endpoint.at_url("https://www.test", ("admin", "pw")),
                     transport=httpx.MockTransport(lambda request: answer))  # fmt: skip
    with pytest.raises(HarborAPIError) as caught:
        setup(client, Plan(harbor_url="https://www.test"), dry_run=True, out=io.StringIO())
    assert str(caught.value).startswith("Harbor refused GET /users/current: 404 Not Found")
    assert str(caught.value).endswith(": is --harbor-url the address of a Harbor v2 server?")


def test_a_failed_execution_with_a_multi_line_status_text_is_still_a_one_line_error():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, headers={"Location": "/api/v2.0/replication/executions/5"})
        if request.url.path.endswith("/executions/5"):
            return httpx.Response(200, json={"id": 5, "status": "Failed", "total": 1, "failed": 1,
                                             "status_text": "pull failed:\n  401 Unauthorized\n"})
        return httpx.Response(200, json=[])  # nothing running, no task listed

    client = connect(Endpoint.at_url("https://harbor.test", ("admin", "pw")),
                     transport=httpx.MockTransport(handler))  # fmt: skip
    with pytest.raises(ReplicationFailed) as caught:
        replicate(client, Policy(1, "application-collection", {}), Replication("containers/etcd"),
                  dry_run=False, out=io.StringIO(), sleep=lambda _: None)  # fmt: skip
    assert str(caught.value) == (
        "replication execution 5 of policy 'application-collection' ended Failed with 1 of 1 "
        "tasks failed: pull failed: 401 Unauthorized (task logs above)"
    )


def test_replicate_stops_following_a_run_that_outlasts_the_replicate_timeout():
    # A run that never ends used to be polled forever; now setup says where it goes on.
    polls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/executions/7"):
            polls.append(request.url.path)
            return httpx.Response(200, json={"id": 7, "status": "InProgress", "total": 3,
                                             "in_progress": 3})  # fmt: skip
        return httpx.Response(200, json=[{"id": 7, "status": "InProgress"}])  # running: join it

    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    client = connect(Endpoint.at_url("https://harbor.test", ("admin", "pw")),
                     transport=httpx.MockTransport(handler))  # fmt: skip
    rule = Replication("containers/etcd", poll_interval=2.0, wait=60.0)
    with pytest.raises(ReplicationFailed) as caught:
        replicate(client, Policy(1, "application-collection", {}), rule, dry_run=False,
                  out=io.StringIO(), sleep=sleep, clock=lambda: now[0])  # fmt: skip
    assert str(caught.value).startswith(
        "replication execution 7 of policy 'application-collection' is still running after 60 s"
        " (--replicate-timeout); it goes on in Harbor"
    )
    assert len(polls) == 31  # one at the start, then every 2 s up to the 60 s mark


def test_a_replicate_timeout_that_is_not_positive_is_bad_input(harbor, upstream, tmp_path):
    result = run_cli(harbor.url, upstream, tmp_path, "--mode", "replication", "--filter-name",
                     "containers/etcd", "--replicate-timeout", "0")  # fmt: skip
    assert_one_line_error(result, 2, "--replicate-timeout must be a positive number of seconds")
    assert harbor.requests == []
