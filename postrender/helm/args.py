"""What a `helm template` command line says about the release, for writing GitOps manifests.

The arguments themselves go to Helm unchanged; this only reads the release name, chart,
namespace, version, repository and values files out of them, so a Fleet `fleet.yaml` or a Flux
`HelmRelease` patch describes the same release the overlay was computed for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from postrender.errors import ConfigError

# `helm template` and global flags that take a value; every other flag is a switch.
VALUE_FLAGS = frozenset(
    {
        "-f", "--values", "-n", "--namespace", "--set", "--set-string", "--set-file",
        "--set-json", "--set-literal", "--version", "--repo", "--username", "--password",
        "--ca-file", "--cert-file", "--key-file", "--keyring", "--kube-version",
        "--api-versions", "-a", "--show-only", "-s", "--name-template", "--output-dir",
        "--post-renderer", "--post-renderer-args", "--description", "--timeout", "--labels",
        "-l", "--kube-context", "--kubeconfig", "--registry-config", "--repository-config",
        "--repository-cache", "--burst-limit", "--qps", "--kube-apiserver", "--kube-as-user",
        "--kube-as-group", "--kube-ca-file", "--kube-token", "--kube-tls-server-name",
        "--content-cache", "--color", "--colour",
    }
)
# Flags that would change what `overlay` reads: it needs the rendered stream itself, on stdout.
REFUSED = {
    "--post-renderer": "the overlay replaces the post-renderer; render without it",
    "--post-renderer-args": "the overlay replaces the post-renderer; render without it",
    "--output-dir": "the overlay reads the rendered stream from helm's stdout",
}
_SETS = ("--set", "--set-string", "--set-file", "--set-json", "--set-literal")


class Release(NamedTuple):
    """The release as `helm template` would render it."""

    name: str | None
    chart: str | None
    namespace: str | None
    version: str | None
    repo: str | None
    values_files: list[str]
    sets: list[str]  # the --set* flags given, by name (their values are not carried)


def parse(args: Sequence[str], environ: Mapping[str, str]) -> Release:
    """Read `helm template [NAME] CHART [flags]`; refuses flags the overlay cannot work with.

    Run as `helm harbor-mirror overlay`, Helm keeps `-n` for itself and passes it on as
    HELM_NAMESPACE, which the `helm template` run from here reads too.
    """
    positionals: list[str] = []
    given: list[tuple[str, str]] = []  # (flag, value) in command-line order
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--":
            positionals.extend(rest)
            break
        if not arg.startswith("-") or arg == "-":
            positionals.append(arg)
            continue
        flag, has_value, value = arg.partition("=")
        if not has_value and len(arg) > 2 and arg[1] != "-" and arg[:2] in VALUE_FLAGS:
            flag, has_value, value = arg[:2], "=", arg[2:]  # `-ndemo`, as pflag reads it
        if flag in REFUSED:
            raise ConfigError(f"overlay: {flag} is not allowed here: {REFUSED[flag]}")
        if flag not in VALUE_FLAGS:
            continue
        if not has_value:
            if not rest:
                raise ConfigError(f"overlay: helm flag {flag} needs a value")
            value = rest.pop(0)
        given.append((flag, value))

    def every(*flags: str) -> list[str]:
        return [value for flag, value in given if flag in flags]

    def last(*flags: str) -> str | None:
        found = every(*flags)
        return found[-1] if found else None

    name = positionals[0] if len(positionals) >= 2 else None
    chart = positionals[-1] if positionals else None
    return Release(
        name=name,
        chart=chart,
        namespace=last("-n", "--namespace") or environ.get("HELM_NAMESPACE") or None,
        version=last("--version"),
        repo=last("--repo"),
        values_files=every("-f", "--values"),
        sets=sorted({flag for flag, _ in given if flag in _SETS}),
    )
