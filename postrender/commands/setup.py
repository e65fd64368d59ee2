"""`harbor-mirror setup`: bootstrap Harbor as an Application Collection mirror, idempotently."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from postrender.bootstrap.admission import FORMATS as ADMISSION_FORMATS
from postrender.bootstrap.admission import check_keys, ensure_admission_policy
from postrender.bootstrap.check import check_harbor, robot_refusals_explained, version_at_least
from postrender.bootstrap.configfile import ensure_config, remembered_secret_file
from postrender.bootstrap.emit import Emit, check_emit, ensure_node_mirrors
from postrender.bootstrap.nodemirror import FORMATS as NODE_MIRROR_FORMATS
from postrender.bootstrap.outcome import report, warn
from postrender.bootstrap.plan import (
    DEFAULT_NAME,
    DEFAULT_UPSTREAM_URL,
    MODES,
    Plan,
    PlanOptions,
    plan_from_options,
    positive_seconds,
)
from postrender.bootstrap.project import ensure_project
from postrender.bootstrap.registry import ensure_registry
from postrender.bootstrap.replication import ensure_policy, replicate
from postrender.bootstrap.robot import ensure_robot
from postrender.commands.setup_chart import PlannedReplication
from postrender.endpoint import PASSWORD_ENV, USERNAME_ENV, Endpoint
from postrender.errors import ConfigError, HarborError, keep_secret
from postrender.harbor import HarborClient, connect
from postrender.helmhome import default_config_file

if TYPE_CHECKING:
    from postrender.trust.keys import TrustedKey

TOKEN_ENV = "HARBOR_MIRROR_UPSTREAM_TOKEN"


def setup(
    client: HarborClient,
    plan: Plan,
    *,
    dry_run: bool,
    out: TextIO,
    sleep: Callable[[float], None] = time.sleep,
    endpoint: Endpoint | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Bring Harbor to `plan`, one reported step at a time; raises on the first failure.
    `endpoint` is setup's own way into Harbor, which a plan from a chart reads `/v2/` and
    renders with."""
    checked = check_harbor(client, plan.harbor_url, out)
    if plan.mode == "replication" and not version_at_least(checked.version, 2, 3):
        raise HarborError(
            "replication mode needs Harbor 2.3 or newer (for 'no flattening'); "
            f"this is {checked.version}"
        )
    with robot_refusals_explained(checked.robot):
        registry = ensure_registry(client, plan, dry_run=dry_run, out=out)
        for message in plan.warnings:
            warn(out, message)
        project = ensure_project(client, plan, registry, dry_run=dry_run, out=out)
        policy = None
        if plan.replication is not None and plan.chart is None:
            policy = ensure_policy(client, plan, registry, dry_run=dry_run, out=out)
        if plan.robot is not None:
            ensure_robot(client, plan, project, dry_run=dry_run, out=out)
        ensure_config(plan, dry_run=dry_run, out=out)
        if plan.chart is not None:
            assert endpoint is not None
            PlannedReplication(client, plan, registry, endpoint,
                               project_exists=project is not None, dry_run=dry_run, out=out,
                               sleep=sleep).run(environ)
        elif plan.replication is not None and plan.replication.replicate:
            replicate(client, policy, plan.replication, dry_run=dry_run, out=out, sleep=sleep)
    _next_steps(plan, dry_run, out)
    return 0


def install_command(plan: Plan) -> str:
    """The install line that works where only Harbor reaches the upstream: the wrapper fetches
    the chart from Harbor as the robot; names the config only when it is not the default."""
    line = (
        f"helm harbor-mirror install <release> oci://{plan.upstream_host}/charts/<chart> "
        "--version <version>"
    )
    if plan.config_path != Path(default_config_file()):
        line = f"HARBOR_MIRROR_CONFIG={plan.config_path} {line}"
    return line


def _next_steps(plan: Plan, dry_run: bool, out: TextIO) -> None:
    if dry_run:
        out.write("Dry run: nothing was changed.\n")
    out.write("Next:\n")
    secret_file = plan.robot.secret_out if plan.robot else remembered_secret_file(plan)
    if secret_file is not None:
        out.write(f"  kubectl apply -n <namespace> -f {secret_file}\n")
    elif not plan.public:
        ca = f" --ca-file {plan.ca_file}" if plan.ca_file else ""
        out.write(
            f"  helm registry login {plan.harbor_host}{ca}   # private project: Helm needs a "
            "login (or re-run setup with --robot NAME --secret-out FILE)\n"
        )
    out.write(f"  {install_command(plan)}\n")
    out.flush()


# -- command line -------------------------------------------------------------------------


def _password(from_stdin: bool, environ: Mapping[str, str]) -> str:
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
        if not secret:
            raise ConfigError("--password-stdin: stdin held no password")
        return secret
    if environ.get(PASSWORD_ENV):
        return environ[PASSWORD_ENV]
    if sys.stdin.isatty():
        return str(click.prompt("Harbor password", hide_input=True, err=True))
    raise ConfigError(
        f"no Harbor password: set {PASSWORD_ENV}, pipe it with --password-stdin, "
        "or run in a terminal to be asked"
    )


def _token(environ: Mapping[str, str]) -> str | None:
    """The upstream token if given; None keeps the one Harbor already has."""
    if environ.get(TOKEN_ENV):
        return environ[TOKEN_ENV]
    if sys.stdin.isatty():
        answer = click.prompt(
            "Upstream access token (Enter keeps the one Harbor has)",
            hide_input=True, default="", show_default=False, err=True,
        )  # fmt: skip
        return str(answer) or None
    return None


def _plain_http_checked(harbor_url: str, plain_http: bool) -> None:
    """An http:// Harbor gets the admin password (and the upstream token) in clear text: only
    when --plain-http asks for it, and said before any credential is asked for or sent."""
    if harbor_url.startswith("http://") and not plain_http:
        raise ConfigError(
            f"--harbor-url {harbor_url} is plain HTTP, which would send the admin password "
            "unencrypted: use https:// or pass --plain-http"
        )
    if plain_http and not harbor_url.startswith("http://"):
        raise ConfigError(f"--plain-http: --harbor-url {harbor_url} is not an http:// URL")
    if plain_http:
        warn(sys.stderr, f"{harbor_url} is plain HTTP (--plain-http): the admin password and "
             "the upstream token cross the network unencrypted")  # fmt: skip


_FILE = click.Path(dir_okay=False, path_type=Path)


def _admission_keys(policies: tuple[Emit, ...], keys: tuple[Path, ...]) -> list[TrustedKey]:
    """The keys of the admission policies to emit, read before Harbor is contacted."""
    if not policies:
        if keys:
            raise ConfigError("--key needs --emit kyverno FILE or --emit kubewarden FILE")
        return []
    from postrender.trust.keys import trusted_keys

    trusted = trusted_keys(list(keys))
    for fmt, _ in policies:
        check_keys(fmt, trusted)
    return trusted


class _SetupCommand(click.Command):
    """Names the Helm arguments `--chart` takes when a flag is not one of setup's: every other
    Helm flag (`--repo`, `--devel`, `--post-renderer` …) would change what the plan is read
    from, and setup's own flags (`--dry-run`, `--ca-file`, `--timeout`) keep their meaning."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as error:
            raise ConfigError(
                f"setup has no option {error.option_name}; with --chart, Helm is given only "
                "-f/--values, --set, --set-string, --set-json, --set-file, -n/--namespace, "
                "--kube-version and --api-versions"
            ) from None


@click.command(
    "setup",
    cls=_SetupCommand,
    short_help="Bootstrap Harbor as a mirror of Application Collection (idempotent).",
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--harbor-url", required=True, envvar="HARBOR_MIRROR_HARBOR_URL", show_envvar=True,
              metavar="URL", help="Harbor's address, e.g. https://core.harbor.domain.")
@click.option("--username", default="admin", show_default=True, envvar=USERNAME_ENV,
              show_envvar=True, help="Harbor system admin (local, LDAP or auth-proxy admin) or "
              f"system robot 'robot$NAME'. Password: ${PASSWORD_ENV}, --password-stdin, or a "
              "hidden prompt.")
@click.option("--password-stdin", is_flag=True, help="Read the Harbor password from stdin.")
@click.option("--upstream-url", default=DEFAULT_UPSTREAM_URL, show_default=True, metavar="URL",
              help="Registry Harbor mirrors.")
@click.option("--upstream-host", metavar="HOST[:PORT]",
              help="Registry host the charts name, rewritten by the post-renderer "
              "(default: the host of --upstream-url).")
@click.option("--upstream-username", envvar="HARBOR_MIRROR_UPSTREAM_USERNAME", show_envvar=True,
              help=f"Upstream user or service account. Token: ${TOKEN_ENV} or a hidden prompt.")
@click.option("--registry-name", default=DEFAULT_NAME, show_default=True,
              help="Harbor registry endpoint name.")
@click.option("--project", default=DEFAULT_NAME, show_default=True,
              help="Proxy-cache project (replication: default destination namespace).")
@click.option("--public", is_flag=True, help="Make the project public (default private).")
@click.option("--mode", type=click.Choice(MODES), default="proxy-cache", show_default=True)
@click.option("--chart", metavar="CHART", help="Replication: plan the rules from this chart, "
              "oci://UPSTREAM/charts/NAME: exactly the repositories and tags its release pulls, "
              "the chart and their signatures.")
@click.option("--version", "chart_version", metavar="VERSION",
              help="With --chart: the one chart version to replicate.")
@click.option("-f", "--values", "values_files", multiple=True, metavar="FILE",
              help="With --chart: values for Helm, as helm template takes them (repeatable).")
@click.option("--set", "set_values", multiple=True, metavar="KEY=VALUE",
              help="With --chart: as helm's --set (repeatable).")
@click.option("--set-string", "set_strings", multiple=True, metavar="KEY=VALUE",
              help="With --chart: as helm's --set-string (repeatable).")
@click.option("--set-json", "set_jsons", multiple=True, metavar="KEY=JSON",
              help="With --chart: as helm's --set-json (repeatable).")
@click.option("--set-file", "set_files", multiple=True, metavar="KEY=FILE",
              help="With --chart: as helm's --set-file (repeatable).")
@click.option("-n", "--namespace", metavar="NAMESPACE",
              help="With --chart: the release's namespace, as helm's -n.")
@click.option("--kube-version", metavar="VERSION",
              help="With --chart: as helm template's --kube-version.")
@click.option("--api-versions", multiple=True, metavar="GROUP/VERSION",
              help="With --chart: as helm template's --api-versions (repeatable).")
@click.option("--attestations", is_flag=True, help="With --chart: also copy cosign's "
              "sha256-<digest>.att attestation tags of the planned digests.")
@click.option("--filter-name", metavar="PATTERN",
              help="Replication by hand: repositories to pull, e.g. 'containers/*' (a whole "
              "namespace).")
@click.option("--filter-tag", metavar="PATTERN", help="Replication: tags to pull, e.g. '3.5.*'.")
@click.option("--dest-namespace", metavar="PROJECT",
              help="Replication: Harbor project to copy into (default --project).")
@click.option("--policy-name", help="Replication: rule name (default --registry-name).")
@click.option("--replicate", is_flag=True, help="Replication: run the rule now and follow it.")
@click.option("--poll-interval", type=float, default=2.0, show_default=True, metavar="SECONDS",
              help="Replication: how often to check a running execution.")
@click.option("--replicate-timeout", type=float, default=3600.0, show_default=True,
              metavar="SECONDS", help="Replication: stop following a run after this long "
              "(exit 1; the run goes on in Harbor).")
@click.option("--robot", metavar="NAME", help="Ensure a pull-only robot account on the project.")
@click.option("--pull-secret", metavar="NAME",
              help="Name of the Harbor pull Secret (written by --secret-out; used by the "
              "post-renderer). Default: keep the charts' names.")
@click.option("--secret-out", type=_FILE, metavar="FILE",
              help="Write the robot's kubernetes.io/dockerconfigjson Secret here (mode 0600).")
@click.option("--rotate-robot-secret", is_flag=True,
              help="Issue a new secret for an existing robot: every existing copy of the old "
              "one (clusters, other workstations) stops working.")
@click.option("--repair-robot", is_flag=True,
              help="Make an existing --robot that is disabled, expiring or not exactly "
              "pull-only on the project enabled, never-expiring and pull-only.")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--config", type=_FILE, envvar="HARBOR_MIRROR_CONFIG", show_envvar=True,
              metavar="FILE", help="Post-renderer config file to write. "
              "Default <Helm config home>/harbor-mirror/config.yaml.")
@click.option("--ca-file", type=_FILE, metavar="FILE", help="CA certificate(s) to trust (PEM).")
@click.option("--insecure-skip-tls-verify", is_flag=True,
              help="Do not verify Harbor's TLS certificate (tests only).")
@click.option("--plain-http", is_flag=True,
              help="Allow an http:// --harbor-url: the admin password goes unencrypted.")
@click.option("--timeout", type=float, default=30.0, show_default=True, metavar="SECONDS",
              help="Per-request timeout.")
@click.option("--emit", type=(click.Choice((*NODE_MIRROR_FORMATS, *ADMISSION_FORMATS)), _FILE),
              multiple=True, metavar="FORMAT FILE", help="Also write a node mirror config "
              "(repeatable, mode 0600): RKE2/K3s registries.yaml, containerd hosts.toml, CRI-O "
              "registries.conf drop-in, or auth: the node auth file with the robot's "
              "credentials; or an admission policy verifying signatures on the rewritten "
              "references: kyverno (a ClusterPolicy) or kubewarden (a ClusterAdmissionPolicy).")
@click.option("--emit-credentials", is_flag=True,
              help="With --emit rke2: embed the robot's credentials (from --secret-out, or "
              "the Secret file the config remembers).")
@click.option("--node-ca-file", type=_FILE, metavar="PATH",
              help="Where the nodes keep Harbor's CA, named in the --emit files "
              "(default: the absolute path of --ca-file).")
@click.option("--key", "keys", type=_FILE, multiple=True, metavar="FILE",
              help="With --emit kyverno|kubewarden: PEM public key the policy verifies with "
              "(repeatable: any one suffices). Default: Application Collection's key, built in.")
def cli(
    username: str, password_stdin: bool, timeout: float, insecure_skip_tls_verify: bool,
    plain_http: bool, dry_run: bool, emit: tuple[Emit, ...], emit_credentials: bool,
    node_ca_file: Path | None, keys: tuple[Path, ...], **plan_options: Any,
) -> int:
    """Bootstrap Harbor as an idempotent mirror of SUSE Application Collection.

    Ensures the registry endpoint, the proxy-cache project (or a pull replication rule),
    optionally a pull-only robot with its Secret manifest, and writes the config the
    post-renderer reads. Every step prints created / updated / unchanged.
    """
    environ = os.environ
    # bad input fails before any prompt
    plan = plan_from_options(PlanOptions(**plan_options), environ)
    nodes = tuple(e for e in emit if e[0] not in ADMISSION_FORMATS)
    policies = tuple(e for e in emit if e[0] in ADMISSION_FORMATS)
    check_emit(plan, emit, emit_credentials, node_ca_file)
    trusted = _admission_keys(policies, keys)
    timeout = positive_seconds("--timeout", timeout)
    endpoint = Endpoint.at_url(
        plan.harbor_url, project=plan.project,
        ca_file=str(plan.ca_file) if plan.ca_file else None,
        insecure_skip_tls_verify=insecure_skip_tls_verify,
    )
    endpoint.tls_verify()  # a bad --ca-file is reported before anyone types a secret
    _plain_http_checked(plan.harbor_url, plain_http)
    password = keep_secret(_password(password_stdin, environ), username=username)
    token = _token(environ)
    plan = replace(plan, upstream_token=token and keep_secret(token))
    if endpoint.insecure_skip_tls_verify:
        report(sys.stderr, "tls", plan.harbor_url, "NOT verified (--insecure-skip-tls-verify)")
    endpoint = replace(endpoint, credentials=(username, password))
    client = connect(endpoint, timeout=timeout)
    code = setup(client, plan, dry_run=dry_run, out=sys.stdout, endpoint=endpoint)
    if nodes:
        ensure_node_mirrors(plan, nodes, embed_credentials=emit_credentials,
                            node_ca_file=node_ca_file, dry_run=dry_run, out=sys.stdout)
    for fmt, path in policies:
        ensure_admission_policy(plan, fmt, path, trusted, dry_run=dry_run, out=sys.stdout)
    return code
