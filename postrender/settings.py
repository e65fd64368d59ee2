"""Post-renderer settings: options > HARBOR_MIRROR_* environment > config file > defaults.

The post-renderer runs once per Helm release, so its options are parsed here with a few lines
of code instead of click: its start-up time is part of every `helm install`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from postrender.errors import ConfigError
from postrender.helmhome import default_config_file
from postrender.rewrite import imageref

DEFAULT_UPSTREAM = "dp.apps.rancher.io"
DEFAULT_PROJECT = "application-collection"
DEFAULT_UPSTREAM_PULL_SECRET = "application-collection"

_SECRET_NAME = re.compile(r"^[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$")


class Option(NamedTuple):
    """One post-renderer option; `key` is its name in the config file (None: not in the file)."""

    flag: str
    env: str | None
    key: str | None
    metavar: str | None  # None for a flag that takes no value
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("--harbor-host", "HARBOR_MIRROR_HARBOR_HOST", "harborHost", "HOST[:PORT]",
           "Harbor registry host the mirror is served from (required)."),
    Option("--project", "HARBOR_MIRROR_PROJECT", "project", "NAME",
           f"Harbor project (replication: destination namespace). Default {DEFAULT_PROJECT}."),
    Option("--upstream", "HARBOR_MIRROR_UPSTREAM", "upstream", "HOST",
           f"Upstream registry host to rewrite. Default {DEFAULT_UPSTREAM}."),
    Option("--upstream-pull-secret", "HARBOR_MIRROR_UPSTREAM_PULL_SECRET", "upstreamPullSecret",
           "NAME", f"Pull-secret name the charts use. Default {DEFAULT_UPSTREAM_PULL_SECRET}."),
    Option("--pull-secret", "HARBOR_MIRROR_PULL_SECRET", "pullSecret", "NAME",
           "Harbor pull-secret name to use instead. Default: keep the chart's names."),
    Option("--ca-file", "HARBOR_MIRROR_CA_FILE", "caFile", "FILE",
           "CA certificate(s) Harbor's TLS is checked against (--verify, the helm wrappers). "
           "Default: the one setup was given."),
    Option("--secret-file", "HARBOR_MIRROR_SECRET_FILE", "secretFile", "FILE",
           "The robot's Secret manifest (--verify, the helm wrappers). "
           "Default: the one setup --secret-out wrote."),
    Option("--config", "HARBOR_MIRROR_CONFIG", None, "FILE",
           "Config file written by setup. Default <Helm config home>/harbor-mirror/config.yaml."),
    Option("--report", None, None, "FILE", "Write every rewrite as a JSON list to FILE."),
    Option("--strict", None, None, None, "Fail when an upstream mention would remain."),
    Option("--verify", None, None, None,
           "Fail unless every rewritten reference resolves through Harbor (see verify --help)."),
    Option("--signatures", None, None, None,
           "With --verify: also fail unless each one's cosign signature verifies through Harbor."),
    Option("--attestations", None, None, None,
           "With --verify: also fail unless each one's cosign attestations verify."),
    Option("--key", None, None, "FILE[:FILE...]",
           "With --signatures: PEM public key(s) to trust, any one suffices. "
           "Default: Application Collection's, built in."),
    Option("--lock", "HARBOR_MIRROR_LOCK", None, "FILE",
           "Pin each Harbor image reference by tag to the digest the lock FILE gives it "
           "(written by verify --write-lock); refuse references it lacks."),
)
_BY_FLAG = {option.flag: option for option in OPTIONS}
CONFIG_KEYS = frozenset(option.key for option in OPTIONS if option.key) | {"mode"}


class Settings(NamedTuple):
    """Everything the rewrite needs, resolved and validated."""

    harbor_host: str
    project: str = DEFAULT_PROJECT
    upstream: str = DEFAULT_UPSTREAM
    upstream_pull_secret: str = DEFAULT_UPSTREAM_PULL_SECRET
    pull_secret: str | None = None
    report: str | None = None
    strict: bool = False
    verify: bool = False
    signatures: bool = False
    attestations: bool = False
    keys: str | None = None  # os.pathsep-separated PEM files
    ca_file: str | None = None  # paths only: setup remembers them, the secrets stay in the files
    secret_file: str | None = None
    lock: str | None = None  # a lock file's path: references by tag pinned to its digests


def parse_argv(argv: Sequence[str]) -> dict[str, str | bool]:
    """Parse `--flag value`, `--flag=value` and bare flags into {flag: value}."""
    given: dict[str, str | bool] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        flag, has_value, value = arg.partition("=")
        option = _BY_FLAG.get(flag)
        if option is None:
            raise ConfigError(f"unknown option {arg!r} for harbor-mirror postrender (see --help)")
        if option.metavar is None:
            if has_value:
                raise ConfigError(f"option {flag} takes no value")
            given[flag] = True
            continue
        if not has_value:
            if not args:
                raise ConfigError(f"option {flag} needs a value ({option.metavar})")
            value = args.pop(0)
        given[flag] = value
    return given


def read_config_file(path: str) -> dict[str, str]:
    """Load the setup-written config file; unknown keys are an error so typos do not go unseen."""
    from postrender.yamlfile import read_yaml

    data = read_yaml(path, "config file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: expected a mapping of settings")
    unknown = sorted(str(key) for key in data if key not in CONFIG_KEYS)
    if unknown:
        raise ConfigError(f"config file {path}: unknown key {unknown[0]!r}")
    bad = [key for key, value in data.items() if value is not None and not isinstance(value, str)]
    if bad:
        raise ConfigError(f"config file {path}: {bad[0]} must be a string")
    return {key: value for key, value in data.items() if value is not None}


def resolve(
    argv: Sequence[str], environ: Mapping[str, str] = os.environ, *, host_option: bool = True
) -> Settings:
    """The post-renderer's settings from its command line (see `resolve_given`)."""
    return resolve_given(parse_argv(argv), environ, host_option=host_option)


def resolve_given(
    given: Mapping[str, str | bool | None],
    environ: Mapping[str, str] = os.environ,
    *,
    host_option: bool = True,
) -> Settings:
    """Merge the four sources in precedence order and validate the result.

    `given` maps flags (`--harbor-host`) to the values the user gave, as `parse_argv` or click
    hands them over; None or False stands for an option not given. `host_option` False: the
    command takes no --harbor-host (the wrappers, login, dependency), so no message offers it.
    """

    def pick(flag: str) -> str | None:
        value = given.get(flag)
        if value == "":  # `--harbor-host "$UNSET"`: never fall back to another Harbor quietly
            raise ConfigError(f"{flag} is empty: give it a value, or leave it out")
        if isinstance(value, str):
            return value
        env = _BY_FLAG[flag].env
        return (environ.get(env) or None) if env else None

    explicit_config = pick("--config")
    config_path = explicit_config or default_config_file(environ)
    file_values: dict[str, str] = {}
    if explicit_config or os.path.isfile(config_path):
        file_values = read_config_file(config_path)

    def value(flag: str) -> str | None:
        key = _BY_FLAG[flag].key
        return pick(flag) or (file_values.get(key) if key else None)

    harbor_host = value("--harbor-host")
    if not harbor_host:
        ways = ("pass --harbor-host (or set HARBOR_MIRROR_HARBOR_HOST)" if host_option
                else "set HARBOR_MIRROR_HARBOR_HOST")
        raise ConfigError(f"no Harbor host configured: run `helm harbor-mirror setup` or {ways}; "
                          f"looked in {config_path}")
    report = pick("--report")
    settings = Settings(
        harbor_host=harbor_host,
        project=value("--project") or DEFAULT_PROJECT,
        upstream=value("--upstream") or DEFAULT_UPSTREAM,
        upstream_pull_secret=value("--upstream-pull-secret") or DEFAULT_UPSTREAM_PULL_SECRET,
        pull_secret=value("--pull-secret"),
        report=report,
        strict=bool(given.get("--strict")),
        verify=bool(given.get("--verify")),
        signatures=bool(given.get("--signatures")),
        attestations=bool(given.get("--attestations")),
        keys=pick("--key"),
        ca_file=value("--ca-file"),
        secret_file=value("--secret-file"),
        lock=pick("--lock"),
    )
    validate(settings)
    if (settings.signatures or settings.attestations or settings.keys) and not settings.verify:
        raise ConfigError("--signatures, --attestations and --key go with --verify")
    if settings.keys and not (settings.signatures or settings.attestations):
        raise ConfigError("--key needs --signatures or --attestations")
    return settings


def validate(settings: Settings, flags: Mapping[str, str] | None = None) -> None:
    """Reject values that would produce invalid image references or secret names.

    `flags` names the option each field came from when the caller is not the post-renderer
    (setup takes the Harbor host from --harbor-url), so the message points at what to change.
    """
    flag = {
        "harbor_host": "--harbor-host",
        "upstream": "--upstream",
        "project": "--project",
        "upstream_pull_secret": "--upstream-pull-secret",
        "pull_secret": "--pull-secret",
        **(flags or {}),
    }
    for field in ("harbor_host", "upstream"):
        host = getattr(settings, field)
        if not imageref.is_domain(host):
            raise ConfigError(f"{flag[field]} {host!r} is not HOST[:PORT] (no scheme, no path)")
        if not imageref.reads_as_registry_host(host):
            raise ConfigError(
                f"{flag[field]} {host!r} would not read as a registry host: image references "
                f"{host}/… mean Docker Hub unless the host has a dot or a port or is localhost"
            )
    if settings.harbor_host.lower() == settings.upstream.lower():
        raise ConfigError(f"{flag['harbor_host']} {settings.harbor_host!r} is the upstream itself")
    if not imageref.is_path(settings.project):
        raise ConfigError(f"{flag['project']} {settings.project!r} is not a valid Harbor project")
    for field in ("upstream_pull_secret", "pull_secret"):
        name = getattr(settings, field)
        if name is not None and (len(name) > 253 or not _SECRET_NAME.match(name)):
            raise ConfigError(f"{flag[field]} {name!r} is not a valid Kubernetes secret name")


def help_text() -> str:
    """The post-renderer's --help, from the same table the parser uses."""
    lines = [
        "Usage: harbor-mirror postrender [OPTIONS] < rendered.yaml",
        "",
        "  Rewrite upstream image and pull-secret references in a rendered manifest",
        "  stream (stdin) to the Harbor mirror; writes the result on stdout.",
        "",
        "Options:",
    ]
    for option in OPTIONS:
        left = option.flag + (f" {option.metavar}" if option.metavar else "")
        env = f" [env {option.env}]" if option.env else ""
        lines.append(f"  {left:<34} {option.help}{env}")
    lines.append(f"  {'-h, --help':<34} Show this message and exit.")
    return "\n".join(lines) + "\n"
