"""`setup` against the Harbor enterprises run (issue 16): admins by LDAP group, the auth proxy
or OIDC, system robots, robots made by hand, replication that copied nothing, names Harbor's
`q` parser changes, and a second workstation joining. Each test names its item."""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest

from postrender.bootstrap.plan import Plan, Replication, RobotPlan
from postrender.bootstrap.replication import lists_catalog
from postrender.commands.setup import setup
from postrender.endpoint import Endpoint
from postrender.errors import ConfigError, HarborAPIError, HarborConflict, ReplicationFailed
from postrender.harbor import RetryPolicy, connect
from postrender.secretfile import read_credentials
from tests.harbor_emulator import FakeUpstream, HarborEmulator
from tests.support.setup_runs import (
    assert_one_line_error,
    lines_of,
    make_plan,
    replication_plan,
    run_cli,
    run_setup,
)

ROBOT = "robot$application-collection+k8s-pull"
PULL_ONLY = [{"kind": "project", "namespace": "application-collection",
              "access": [{"resource": "repository", "action": "pull"}]}]  # fmt: skip


@pytest.fixture
def upstream(upstream_registry: FakeUpstream) -> FakeUpstream:
    return upstream_registry


def setup_as(harbor: HarborEmulator, plan: Plan, username: str, password: str) -> str:
    out = io.StringIO()
    client = connect(
        Endpoint.at_url(harbor.url, (username, password)), retry=RetryPolicy(attempts=1)
    )
    assert setup(client, plan, dry_run=False, out=out, sleep=lambda _: None) == 0
    return out.getvalue()


def robot_plan(harbor, upstream, tmp_path: Path, secret_out: str = "pull.json", **robot) -> Plan:
    wanted = RobotPlan("k8s-pull", tmp_path / secret_out, "harbor-pull", **robot)
    return make_plan(harbor, upstream, tmp_path, robot=wanted)


# -- who may run setup (items 1 and 2) ----------------------------------------------------------


def test_an_admin_by_ldap_group_or_auth_proxy_runs_setup(harbor, upstream, tmp_path):
    """Item 1: Harbor's IsSysAdmin is sysadmin_flag or admin_role_in_auth."""
    harbor.add_user("dana", "Ldap-Secret1", by_sign_in=True)
    output = setup_as(harbor, make_plan(harbor, upstream, tmp_path), "dana", "Ldap-Secret1")
    assert lines_of(output, "harbor") == [
        f"[harbor] {harbor.url}: ok (Harbor v2.15.2-080b0220, signed in as dana, system admin "
        "(by its sign-in group or auth proxy))"
    ]
    assert "[project] application-collection: created" in output


def test_an_oidc_users_cli_secret_is_refused_with_the_ways_in(harbor, upstream, tmp_path):
    """Item 1: Harbor takes an OIDC user's CLI secret on none of the API paths setup uses."""
    harbor.state.auth_mode = "oidc_auth"
    harbor.add_user("olga", "Cli-Secret-1", by_sign_in=True, oidc=True)
    with pytest.raises(HarborAPIError) as refused:
        setup_as(harbor, make_plan(harbor, upstream, tmp_path), "olga", "Cli-Secret-1")
    message = str(refused.value)
    assert "this Harbor (it signs users in with OIDC) takes on none of the API paths" in message
    assert "use Harbor's local admin account" in message
    assert "or a system robot account (--username 'robot$NAME')" in message
    assert "check --username and the password" not in message
    assert harbor.writes == []


SETUP_PERMISSIONS = [
    {"kind": "system", "namespace": "/", "access": [
        {"resource": resource, "action": action}
        for resource, actions in {
            "registry": "list read create update", "project": "create",
            "replication-policy": "list read create update",
            "replication": "list read create",
        }.items()
        for action in actions.split()
    ]},
    {"kind": "project", "namespace": "*", "access": [
        {"resource": resource, "action": action}
        for resource, actions in {
            "project": "read update", "robot": "list read create update", "repository": "pull",
        }.items()
        for action in actions.split()
    ]},
]  # fmt: skip


def test_a_system_robot_runs_setup_with_the_permissions_the_readme_lists(
    harbor, upstream, tmp_path
):
    """Item 2: /users/current answers 412 for a robot; setup goes on."""
    harbor.add_system_robot("setup-bot", "Robot-Secret-1", SETUP_PERMISSIONS)
    plan = robot_plan(harbor, upstream, tmp_path)
    output = setup_as(harbor, plan, "robot$setup-bot", "Robot-Secret-1")
    assert "signed in as a robot account, which needs system: registry" in output
    assert "[registry] application-collection: created" in output
    assert "[project] application-collection: created (private proxy cache)" in output
    assert f"[robot] {ROBOT}: created (pull-only on application-collection)" in output
    again = setup_as(harbor, plan, "robot$setup-bot", "Robot-Secret-1")
    assert f"[robot] {ROBOT}: unchanged" in again


def test_a_system_robot_missing_a_permission_gets_harbors_403_naming_it(
    harbor, upstream, tmp_path
):
    """Item 2: the later calls' 403s are Harbor's own word on what is missing."""
    permissions = [dict(SETUP_PERMISSIONS[0], access=[
        a for a in SETUP_PERMISSIONS[0]["access"] if a != {"resource": "registry",
                                                           "action": "create"}
    ])]  # fmt: skip
    harbor.add_system_robot("setup-bot", "Robot-Secret-1", permissions)
    with pytest.raises(HarborAPIError) as refused:
        setup_as(harbor, make_plan(harbor, upstream, tmp_path), "robot$setup-bot",
                 "Robot-Secret-1")  # fmt: skip
    assert refused.value.status == 403
    assert "POST /registries" in str(refused.value)
    assert "robot$setup-bot" in str(refused.value)


def test_a_system_robot_refused_on_the_project_is_told_what_setup_needs(
    harbor, upstream, tmp_path
):
    """Item 2: on a project Harbor's 403 is a bare "forbidden" (`RequireProjectAccess` names
    nothing), so setup says which permissions a robot needs."""
    robot_rights = [
        {"resource": "robot", "action": a} for a in ("list", "read", "create", "update")
    ]
    without_robots = [SETUP_PERMISSIONS[0], dict(SETUP_PERMISSIONS[1], access=[
        a for a in SETUP_PERMISSIONS[1]["access"] if a not in robot_rights
    ])]  # fmt: skip
    harbor.add_system_robot("setup-bot", "Robot-Secret-1", without_robots)
    with pytest.raises(HarborAPIError) as refused:
        setup_as(harbor, robot_plan(harbor, upstream, tmp_path), "robot$setup-bot",
                 "Robot-Secret-1")  # fmt: skip
    message = str(refused.value)
    assert message.startswith("Harbor refused GET /robots: 403 forbidden")
    assert message.endswith(
        ": a robot account needs these permissions for setup: system: registry "
        "list/read/create/update, project create, replication-policy list/read/create/update, "
        "replication list/read/create; on the project (or all projects): project read/update, "
        "robot list/read/create/update, repository pull"
    )


# -- robots made by hand (items 3 and 4) --------------------------------------------------------


def _made(harbor, upstream, tmp_path):
    """A robot setup made, its Secret file, and the emulator's record of it."""
    plan = robot_plan(harbor, upstream, tmp_path)
    run_setup(harbor, plan)
    (robot,) = harbor.state.robots.values()
    return plan, robot


def test_an_expired_robot_is_refused_even_for_rotation(harbor, upstream, tmp_path):
    """Item 3: Harbor takes an expired robot's credentials as anonymous."""
    plan, robot = _made(harbor, upstream, tmp_path)
    robot.duration, robot.expires_at = 30, int(time.time()) - 3600
    harbor.clear_log()
    expired = f"robot '{re.escape(ROBOT)}' exists, but it expired on"
    with pytest.raises(HarborConflict, match=expired):
        run_setup(harbor, plan)
    assert plan.robot is not None
    with pytest.raises(HarborConflict, match="re-run with --repair-robot"):
        run_setup(harbor, replace(plan, robot=replace(plan.robot, rotate=True)))
    assert harbor.writes == []


def test_a_disabled_robot_is_refused(harbor, upstream, tmp_path):
    """Item 3."""
    plan, robot = _made(harbor, upstream, tmp_path)
    robot.disable = True
    with pytest.raises(HarborConflict, match="it is disabled"):
        run_setup(harbor, plan)


def test_a_robot_that_can_push_or_delete_is_not_written_into_the_pull_secret(
    harbor, upstream, tmp_path
):
    """Item 4 (security): its credentials would reach every namespace applying the Secret."""
    plan, robot = _made(harbor, upstream, tmp_path)
    robot.permissions[0]["access"] += [{"resource": "repository", "action": "push"},
                                       {"resource": "artifact", "action": "delete"}]
    assert plan.robot is not None
    before = plan.robot.secret_out.read_bytes()
    for rotate in (False, True):
        rerun = replace(plan, robot=replace(plan.robot, rotate=rotate))
        with pytest.raises(
            HarborConflict, match=r"it can do more than pull \(artifact:delete, repository:push\)"
        ):
            run_setup(harbor, rerun)
    assert plan.robot.secret_out.read_bytes() == before


def test_repair_robot_makes_it_enabled_never_expiring_and_pull_only(harbor, upstream, tmp_path):
    """Items 3 and 4, with the explicit flag: PUT /robots/{id} as updateV2Robot wants it."""
    plan, robot = _made(harbor, upstream, tmp_path)
    robot.duration, robot.expires_at, robot.disable = 30, int(time.time()) - 60, True
    robot.permissions[0]["access"].append({"resource": "repository", "action": "push"})
    assert plan.robot is not None
    harbor.clear_log()

    output = run_setup(harbor, replace(plan, robot=replace(plan.robot, repair=True)))

    assert lines_of(output, "robot") == [
        f"[robot] {ROBOT}: updated (enabled, never expires, pull-only on application-collection)"
    ]
    assert (robot.expires_at, robot.disable, robot.permissions) == (-1, False, PULL_ONLY)
    assert "[pull-secret]" in output and "unchanged (Harbor accepts it)" in output
    assert [w.method for w in harbor.writes] == ["PUT"]


def test_a_robot_that_expires_later_is_kept_with_a_warning_that_repair_robot_follows(
    harbor, upstream, tmp_path
):
    """Harbor's UI makes expiring robots by default: usable now, dead on a date. The warning
    names --repair-robot as the way to stop that, so that flag must do it."""
    plan, robot = _made(harbor, upstream, tmp_path)
    robot.duration, robot.expires_at = 30, int(time.time()) + 86400
    assert plan.robot is not None

    kept = run_setup(harbor, plan)
    assert lines_of(kept, "robot") == [f"[robot] {ROBOT}: unchanged"]
    assert "pulls with it fail after that (--repair-robot makes it never expire)" in kept

    repaired = run_setup(harbor, replace(plan, robot=replace(plan.robot, repair=True)))
    assert lines_of(repaired, "robot") == [
        f"[robot] {ROBOT}: updated (enabled, never expires, pull-only on application-collection)"
    ]
    assert robot.expires_at == -1
    assert "expires on" not in run_setup(harbor, plan)


def test_a_dry_run_of_repair_robot_changes_nothing(harbor, upstream, tmp_path):
    plan, robot = _made(harbor, upstream, tmp_path)
    robot.disable = True
    assert plan.robot is not None
    harbor.clear_log()
    output = run_setup(harbor, replace(plan, robot=replace(plan.robot, repair=True)), dry_run=True)
    assert f"[robot] {ROBOT}: would update (enabled, never expires, pull-only" in output
    assert "unchanged (not checked: Harbor refuses it until the robot is repaired)" in output
    assert (harbor.writes, robot.disable) == ([], True)


# -- the Secret file: proven, kept, and what rotation means (second workstation) --------------


def test_unchanged_needs_harbor_to_accept_the_secret_files_credentials(harbor, upstream, tmp_path):
    """A rotation elsewhere (or one whose answer was lost) left a dead Secret file that setup
    called unchanged, exit 0."""
    plan, robot = _made(harbor, upstream, tmp_path)
    robot.secret = "Rotated-Elsewhere-1"
    with pytest.raises(ConfigError, match="Harbor refuses the credentials of robot") as refused:
        run_setup(harbor, plan)
    assert "--rotate-robot-secret, which invalidates every existing copy" in str(refused.value)


def test_a_second_workstation_keeps_the_copied_secret_file_and_rotates_nothing(
    harbor, upstream, tmp_path
):
    plan, robot = _made(harbor, upstream, tmp_path)
    assert plan.robot is not None
    copied = tmp_path / "second-workstation.json"
    copied.write_bytes(plan.robot.secret_out.read_bytes())
    secret, mtime = robot.secret, copied.stat().st_mtime_ns
    harbor.clear_log()

    output = run_setup(harbor, robot_plan(harbor, upstream, tmp_path, "second-workstation.json"))

    assert f"[pull-secret] {copied}: unchanged (Harbor accepts it)" in output
    assert (robot.secret, copied.stat().st_mtime_ns) == (secret, mtime)
    assert harbor.writes == []


def test_a_copied_secret_file_takes_the_secret_name_this_workstation_asks_for(
    harbor, upstream, tmp_path
):
    """The first workstation chose --pull-secret harbor-pull; the second asks for another
    name, which its config gives the post-renderer. A kept file still naming harbor-pull
    would create a Secret no pod refers to: the same credentials are written under the name
    asked for, and nothing is rotated."""
    plan, robot = _made(harbor, upstream, tmp_path)
    assert plan.robot is not None
    secret = robot.secret
    second = replace(plan, robot=replace(plan.robot, secret_name="application-collection"))
    before = plan.robot.secret_out.read_bytes()
    dry = run_setup(harbor, second, dry_run=True)
    assert plan.robot.secret_out.read_bytes() == before
    assert lines_of(dry, "pull-secret") == [
        f"[pull-secret] {plan.robot.secret_out}: would write (Secret application-collection)"
    ]

    output = run_setup(harbor, second)

    manifest = json.loads(plan.robot.secret_out.read_text())
    assert manifest["metadata"]["name"] == "application-collection"
    assert read_credentials(plan.robot.secret_out, plan.harbor_host) == (ROBOT, secret)
    assert lines_of(output, "pull-secret") == [
        f"[pull-secret] {plan.robot.secret_out}: updated (Secret application-collection)"
    ]
    assert robot.secret == secret


def test_a_second_workstation_without_the_file_is_told_to_copy_it(harbor, upstream, tmp_path):
    _made(harbor, upstream, tmp_path)
    with pytest.raises(ConfigError) as refused:
        run_setup(harbor, robot_plan(harbor, upstream, tmp_path, "new-laptop.json"))
    message = str(refused.value)
    assert "copy the Secret file setup wrote on the first workstation to this path" in message
    assert "--rotate-robot-secret, which invalidates every existing copy of the secret" in message


def test_rotation_says_that_every_existing_copy_stops_working(harbor, upstream, tmp_path):
    plan, _ = _made(harbor, upstream, tmp_path)
    assert plan.robot is not None
    output = run_setup(harbor, replace(plan, robot=replace(plan.robot, rotate=True)))
    assert (
        f"warning: robot '{ROBOT}' has a new secret: every copy of the old one (pull Secrets in "
        "clusters, node mirror configs, other workstations' Secret files) stops working now"
    ) in output


# -- replication that copied nothing, and the _catalog patterns (items 5 and 8) --------------


def test_a_replication_that_matches_nothing_fails_naming_the_filters(harbor, upstream, tmp_path):
    """Item 5: Harbor ends such a run Succeed, 0 of 0."""
    plan = make_plan(
        harbor, upstream, tmp_path, mode="replication", project="appco-mirror",
        replication=Replication("containers/etcd", filter_tag="3.5.99", replicate=True,
                                poll_interval=0.1),
    )  # fmt: skip
    with pytest.raises(ReplicationFailed) as failed:
        run_setup(harbor, plan)
    assert str(failed.value) == (
        "replication execution 1 of policy 'application-collection' copied nothing (no "
        "resources need to be replicated): nothing upstream matches --filter-name "
        "'containers/etcd' and --filter-tag '3.5.99'; check the repository names and tags (a "
        "pattern is matched against the upstream's catalog)"
    )


@pytest.mark.parametrize(
    ("filter_name", "catalog"),
    [
        ("containers/etcd", False),
        ("containers/{etcd,redis}", False),
        ("containers/etcd-{a,b}-x", False),
        ("containers/etcd,redis", True),  # a comma without braces
        ("containers/{etcd,{redis,x}}", True),  # two {
        ("containers/{etcd,redis", True),  # no }
        ("containers/etcd}", True),
        ("containers//etcd", True),  # an empty part
        ("containers/**", True),
        ("containers/etcd?", True),
    ],
)
def test_the_catalog_warning_follows_harbors_is_specific_path(filter_name, catalog):
    """Item 8: `pkg/reg/util/pattern.go:IsSpecificPathComponent`."""
    assert lists_catalog(filter_name) is catalog


def test_setup_warns_of_a_comma_outside_braces(harbor, upstream, tmp_path):
    plan = replication_plan(harbor, upstream, tmp_path)
    plan = replace(plan, replication=Replication("containers/etcd,redis"))
    assert "warning: --filter-name 'containers/etcd,redis' is a pattern" in run_setup(harbor, plan)


# -- names Harbor's q parser changes (item 6) --------------------------------------------------


@pytest.mark.parametrize("name", ["suse+appco", "\\appco", "Suse+AppCo 1", "a,b%2C[c", "{x}"])
def test_names_with_plus_or_a_leading_backslash_are_found_again(
    harbor, upstream, tmp_path, name
):
    plan = replication_plan(harbor, upstream, tmp_path)
    plan = replace(plan, registry_name=name, replication=Replication(
        "containers/etcd", policy_name=f"{name}-rule"))  # fmt: skip
    first = run_setup(harbor, plan)
    assert f"[registry] {name}: created" in first
    assert f"[policy] {name}-rule: created" in first
    again = run_setup(harbor, plan)
    assert f"[registry] {name}: unchanged" in again
    assert f"[policy] {name}-rule: unchanged" in again
    assert [r.name for r in harbor.state.registries.values()] == [name]


def test_the_cli_refuses_a_push_robot_in_one_line_and_repairs_it_when_asked(
    harbor, upstream, tmp_path
):
    robot_args = ("--robot", "k8s-pull", "--secret-out", str(tmp_path / "pull.json"))
    assert run_cli(harbor.url, upstream, tmp_path, *robot_args).returncode == 0
    (robot,) = harbor.state.robots.values()
    robot.permissions[0]["access"].append({"resource": "repository", "action": "push"})

    refused = run_cli(harbor.url, upstream, tmp_path, *robot_args)
    assert_one_line_error(refused, 1, "it can do more than pull (repository:push)",
                          "re-run with --repair-robot")  # fmt: skip
    repaired = run_cli(harbor.url, upstream, tmp_path, *robot_args, "--repair-robot")
    assert repaired.returncode == 0, repaired.stderr
    assert robot.permissions == PULL_ONLY
    assert robot.secret not in repaired.stdout + repaired.stderr
