"""What `setup` should make Harbor look like, validated before anything is sent."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from postrender import settings
from postrender.bootstrap import tagfilter
from postrender.bootstrap.replication_plan import ChartRequest, chart_rule
from postrender.errors import ConfigError
from postrender.helmhome import default_config_file

Mode = Literal["proxy-cache", "replication"]
MODES: tuple[Mode, ...] = ("proxy-cache", "replication")
DEFAULT_UPSTREAM_URL = "https://dp.apps.rancher.io"
DEFAULT_NAME = "application-collection"

# Harbor's own rule for project and robot names.
_HARBOR_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def base_url(option: str, value: str) -> str:
    """`scheme://host[:port]` with no path, query or trailing slash; anything else is bad input."""
    not_a_url = ConfigError(f"{option} {value!r} is not an http(s) URL such as https://host[:port]")
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # e.g. an unclosed [ of an IPv6 address
        raise not_a_url from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise not_a_url
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigError(f"{option} {value!r} must be just scheme://host[:port] (no path)")
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ConfigError(f"{option} {value!r} has an invalid port") from None
    return f"{parts.scheme}://{parts.netloc.lower()}"


def host_of(url: str) -> str:
    """`host[:port]` as a registry client names it: the default port of the scheme is dropped."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.netloc.rpartition("@")[2]
    return host.rsplit(":", 1)[0] if parts.port == default else host


def positive_seconds(option: str, value: float) -> float:
    """A wait or timeout: NaN, infinity and zero pass float parsing but break sockets and sleep."""
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{option} must be a positive number of seconds")
    return value


def searchable_name(option: str, value: str, max_length: int) -> str:
    """A registry endpoint or policy name: Harbor takes any 1 to `max_length` characters, and
    setup finds each again by a part its `q` parser leaves alone (`harbor.name_search`)."""
    if not value.strip() or len(value) > max_length:
        raise ConfigError(f"{option} {value!r} must be 1 to {max_length} characters")
    return value


def harbor_name(option: str, value: str, max_length: int = 255) -> str:
    if len(value) > max_length or not _HARBOR_NAME.match(value):
        raise ConfigError(
            f"{option} {value!r} is not a valid Harbor name (lower-case letters, digits and "
            f"single . _ - between them, at most {max_length} characters)"
        )
    return value


@dataclass(frozen=True)
class Replication:
    """A pull-based replication rule and whether to run it now."""

    filter_name: str
    filter_tag: str | None = None
    policy_name: str = DEFAULT_NAME
    replicate: bool = False
    poll_interval: float = 2.0
    # How long --replicate follows a run; the run goes on in Harbor after that.
    wait: float = 3600.0

    def __post_init__(self) -> None:
        if not self.filter_name.strip():
            raise ConfigError("--filter-name must not be empty (e.g. containers/etcd)")
        if self.filter_tag is not None and not self.filter_tag.strip():
            raise ConfigError("--filter-tag must not be empty when given")
        searchable_name("--policy-name", self.policy_name, 256)
        positive_seconds("--poll-interval", self.poll_interval)
        positive_seconds("--replicate-timeout", self.wait)


@dataclass(frozen=True)
class RobotPlan:
    """A pull-only robot on the project and where its pull Secret manifest goes."""

    name: str
    secret_out: Path
    secret_name: str
    rotate: bool = False
    repair: bool = False  # make an existing robot enabled, never-expiring and pull-only

    def __post_init__(self) -> None:
        harbor_name("--robot", self.name)


@dataclass(frozen=True)
class Plan:
    """The desired state; secrets are kept out of repr."""

    harbor_url: str
    upstream_username: str | None = None
    upstream_token: str | None = field(default=None, repr=False)
    upstream_url: str = DEFAULT_UPSTREAM_URL
    upstream_host_override: str | None = None  # when Harbor reaches the upstream by another URL
    registry_name: str = DEFAULT_NAME
    project: str = DEFAULT_NAME  # replication: the destination namespace
    public: bool = False
    mode: Mode = "proxy-cache"
    replication: Replication | None = None  # with a chart: the first step, the chart's rule
    chart: ChartRequest | None = None  # replication planned from this chart and its values
    robot: RobotPlan | None = None
    pull_secret: str | None = None
    config_path: Path = field(default_factory=lambda: Path(default_config_file()))
    ca_file: Path | None = None  # remembered in the config file for Helm and verify

    def __post_init__(self) -> None:
        object.__setattr__(self, "harbor_url", base_url("--harbor-url", self.harbor_url))
        object.__setattr__(self, "upstream_url", base_url("--upstream-url", self.upstream_url))
        searchable_name("--registry-name", self.registry_name, 64)
        harbor_name("--project" if self.mode == "proxy-cache" else "--dest-namespace", self.project)
        if self.mode not in MODES:
            raise ConfigError(f"--mode {self.mode!r} must be one of {', '.join(MODES)}")
        if (self.mode == "replication") != (self.replication is not None):
            raise ConfigError(
                "--mode replication needs --chart or --filter-name (and only it takes them)"
            )
        if self.upstream_username is not None and not self.upstream_username.strip():
            raise ConfigError("--upstream-username must not be empty")
        upstream_flag = "--upstream-host" if self.upstream_host_override else "--upstream-url"
        settings.validate(
            self.post_renderer_settings(),
            {"harbor_host": "--harbor-url", "upstream": upstream_flag},
        )

    @property
    def warnings(self) -> list[str]:
        """What Harbor accepts but serves badly: Helm charts through a proxy-cache project
        whose name has a `_` (a maintainer's note on goharbor/harbor#17355); a replication tag
        filter written by hand that drops the signatures (`tagfilter`)."""
        if self.mode == "proxy-cache" and "_" in self.project:
            return [f"--project {self.project!r} has a '_': Harbor may not proxy Helm charts "
                    "through such a project (goharbor/harbor#17355); prefer '-' or '.'"]
        by_hand = self.replication if self.chart is None else None  # --chart adds them itself
        dropped = tagfilter.warning(by_hand.filter_tag) if by_hand else None
        return [dropped] if dropped else []

    @property
    def harbor_host(self) -> str:
        return host_of(self.harbor_url)

    @property
    def upstream_host(self) -> str:
        """The registry host charts name: what the post-renderer rewrites."""
        return self.upstream_host_override or host_of(self.upstream_url)

    def post_renderer_settings(self) -> settings.Settings:
        """What the post-renderer will use; validated now so a written config always loads."""
        return settings.Settings(
            harbor_host=self.harbor_host,
            project=self.project,
            upstream=self.upstream_host,
            pull_secret=self.pull_secret,
        )


@dataclass(frozen=True)
class PlanOptions:
    """`setup`'s options that shape the plan, typed as click passes them (same names), so a
    missing or extra option fails at once instead of being read back with casts."""

    harbor_url: str
    upstream_url: str
    upstream_host: str | None
    upstream_username: str | None
    registry_name: str
    project: str
    public: bool
    mode: Mode
    filter_name: str | None
    filter_tag: str | None
    dest_namespace: str | None
    policy_name: str | None
    replicate: bool
    poll_interval: float
    replicate_timeout: float
    robot: str | None
    pull_secret: str | None
    secret_out: Path | None
    rotate_robot_secret: bool
    repair_robot: bool
    config: Path | None
    ca_file: Path | None
    chart: str | None
    chart_version: str | None
    values_files: tuple[str, ...]
    set_values: tuple[str, ...]
    set_strings: tuple[str, ...]
    set_jsons: tuple[str, ...]
    set_files: tuple[str, ...]
    namespace: str | None
    kube_version: str | None
    api_versions: tuple[str, ...]
    attestations: bool

    def values_args(self) -> tuple[str, ...]:
        """The Helm values arguments, as `helm template` takes them (Helm merges each kind in
        its own fixed order, so only the order within a kind matters)."""
        repeated = (("--values", self.values_files), ("--set", self.set_values),
                    ("--set-string", self.set_strings), ("--set-json", self.set_jsons),
                    ("--set-file", self.set_files), ("--api-versions", self.api_versions))
        args = [arg for flag, values in repeated for value in values for arg in (flag, value)]
        single = (("--namespace", self.namespace), ("--kube-version", self.kube_version))
        args += [arg for flag, value in single if value is not None for arg in (flag, value)]
        return tuple(args)


def plan_from_options(options: PlanOptions, environ: Mapping[str, str]) -> Plan:
    """Turn parsed options into a validated Plan, still without the upstream token; bad input
    raises one ConfigError naming the option."""
    project = options.project
    if options.mode == "replication":
        project = options.dest_namespace or project
    chart = _chart(options)
    return Plan(
        harbor_url=options.harbor_url,
        upstream_username=options.upstream_username or None,
        upstream_url=options.upstream_url,
        upstream_host_override=options.upstream_host or None,
        registry_name=options.registry_name,
        project=project,
        public=options.public,
        mode=options.mode,
        replication=_replication(options, chart),
        chart=chart,
        robot=_robot(options),
        pull_secret=options.pull_secret or None,
        config_path=options.config or Path(default_config_file(environ)),
        ca_file=options.ca_file,
    )


def _chart(options: PlanOptions) -> ChartRequest | None:
    """`--chart` with its `--version` and values arguments, which only it takes."""
    if not options.chart:
        given = [flag for flag, value in (("--version", options.chart_version),
                                          ("values arguments", options.values_args())) if value]
        if given:
            raise ConfigError(f"{given[0]} only applies with --chart (--mode replication)")
        if options.attestations:
            raise ConfigError("--attestations only applies with --chart (--mode replication)")
        return None
    if options.mode != "replication":
        raise ConfigError("--chart only applies to --mode replication")
    if options.filter_name or options.filter_tag:
        raise ConfigError(
            "--chart plans the rules' filters from the chart: give --chart or --filter-name "
            "(and --filter-tag), not both"
        )
    if not options.chart_version:
        raise ConfigError(
            "--chart needs --version V: Harbor cannot list the upstream's versions for a rule"
        )
    _refuse_swallowed_options(options.values_args())
    upstream = options.upstream_host or host_of(base_url("--upstream-url", options.upstream_url))
    return ChartRequest(options.chart, options.chart_version, options.values_args(), upstream,
                        options.policy_name or options.registry_name, options.attestations)


def _refuse_swallowed_options(values_args: tuple[str, ...]) -> None:
    """A values argument whose value is an option (`--set --dry-run`, its value forgotten):
    the parser took the option as the value, as Helm's would, so setup ran without it (a dry
    run that changed Harbor) and Helm failed only after the chart was copied."""
    spelled = {"--values": "-f/--values", "--namespace": "-n/--namespace"}
    for flag, value in zip(values_args[::2], values_args[1::2], strict=True):
        if value.startswith("-") and value != "-":  # `-f -`: the values on stdin
            raise ConfigError(f"{spelled.get(flag, flag)} took {value!r} as its value: give "
                              "it a value of its own")


def _replication(options: PlanOptions, chart: ChartRequest | None) -> Replication | None:
    if options.mode != "replication":
        only = {
            "--filter-name": options.filter_name,
            "--filter-tag": options.filter_tag,
            "--dest-namespace": options.dest_namespace,
            "--policy-name": options.policy_name,
            "--replicate": options.replicate or None,
        }
        given = [flag for flag, value in only.items() if value is not None]
        if given:
            raise ConfigError(f"{given[0]} only applies to --mode replication")
        return None
    policy_name = options.policy_name or options.registry_name
    filter_name, filter_tag = options.filter_name, options.filter_tag or None
    if chart is not None:
        first = chart_rule(chart)
        filter_name, filter_tag, policy_name = first.repository, first.filter_tag, first.name
    if not filter_name:
        raise ConfigError(
            "--mode replication needs --chart CHART --version V, or --filter-name (e.g. "
            "containers/etcd or 'containers/{etcd,redis}')"
        )
    return Replication(
        filter_name=filter_name,
        filter_tag=filter_tag,
        policy_name=policy_name,
        replicate=options.replicate,
        poll_interval=options.poll_interval,
        wait=options.replicate_timeout,
    )


def _robot(options: PlanOptions) -> RobotPlan | None:
    if not options.robot:
        if options.secret_out is not None:
            raise ConfigError("--secret-out needs --robot NAME")
        if options.rotate_robot_secret:
            raise ConfigError("--rotate-robot-secret needs --robot NAME")
        if options.repair_robot:
            raise ConfigError("--repair-robot needs --robot NAME")
        return None
    if options.secret_out is None:
        raise ConfigError(
            "--robot needs --secret-out FILE: Harbor shows a robot's secret only once, so it "
            "goes straight into a pull Secret manifest"
        )
    return RobotPlan(
        name=options.robot,
        secret_out=options.secret_out,
        secret_name=options.pull_secret or settings.DEFAULT_UPSTREAM_PULL_SECRET,
        rotate=options.rotate_robot_secret,
        repair=options.repair_robot,
    )
