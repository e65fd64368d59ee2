"""What a `helm template` command line says about the release, for writing GitOps manifests.

The arguments themselves go to Helm unchanged; this only reads the release name, chart,
namespace, version, repository and values files out of them, so a Fleet `fleet.yaml` or a Flux
`HelmRelease` patch describes the same release the overlay was computed for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from postrender.errors import ConfigError

# Flags of helm template/install/upgrade/pull and the global flags that take a value; every
# other flag is a switch (`--dry-run`, `--wait`: their optional value needs `=`).
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
        "--content-cache", "--color", "--colour", "-o", "--output", "--history-max",
        "-d", "--destination", "--untardir",
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


def _scan(args: Sequence[str]) -> Iterator[tuple[int, str, str | None]]:
    """(index, flag or "", value) for each flag and each positional (flag "") of `args`."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            for rest in range(index + 1, len(args)):
                yield rest, "", args[rest]
            return
        if not arg.startswith("-") or arg == "-":
            yield index, "", arg
            index += 1
            continue
        flag, has_value, value = arg.partition("=")
        if not has_value and len(arg) > 2 and arg[1] != "-" and arg[:2] in VALUE_FLAGS:
            flag, has_value, value = arg[:2], "=", arg[2:]  # `-ndemo`, as pflag reads it
        if flag in VALUE_FLAGS and not has_value:
            index += 1
            yield index - 1, flag, args[index] if index < len(args) else None
        else:
            yield index, flag, value if has_value else None
        index += 1


def positional_indexes(args: Sequence[str]) -> list[int]:
    """Where the positional arguments (release name, chart) stand in a helm command line."""
    return [index for index, flag, _ in _scan(args) if not flag]


def flags_of(args: Sequence[str]) -> list[tuple[str, str | None]]:
    """Every flag of a helm command line with its value (None for a switch), in order."""
    return [(flag, value) for _, flag, value in _scan(args) if flag]


def switch_indexes(args: Sequence[str], switch: str) -> list[int]:
    """Where `switch` stands as a flag of its own: not as another flag's value
    (`--post-renderer-args --verify`), not after `--`."""
    return [index for index, flag, value in _scan(args) if flag == switch and value is None]


def parse(args: Sequence[str], environ: Mapping[str, str]) -> Release:
    """Read `helm template [NAME] CHART [flags]`; refuses flags the overlay cannot work with.

    Run as `helm harbor-mirror overlay`, Helm keeps `-n` for itself and passes it on as
    HELM_NAMESPACE, which the `helm template` run from here reads too.
    """
    positionals: list[str] = []
    given: list[tuple[str, str]] = []  # (flag, value) in command-line order
    for _, flag, value in _scan(args):
        if not flag:
            assert value is not None
            positionals.append(value)
            continue
        if flag in REFUSED:
            raise ConfigError(f"overlay: {flag} is not allowed here: {REFUSED[flag]}")
        if flag not in VALUE_FLAGS:
            continue
        if value is None:
            raise ConfigError(f"overlay: helm flag {flag} needs a value")
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
