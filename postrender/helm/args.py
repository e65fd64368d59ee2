"""Helm's command line as the helm that runs it reads it: the one parse every command uses.

The arguments go to Helm unchanged; the wrappers, `verify`, `overlay` and `dependency` only need
to know where the positionals (release name, chart, chart directory) stand and which value each
flag was given, and that depends on which flags take a value. Helm reads its command line with
pflag: a flag that takes a value takes the next argument whatever it looks like (`--kubeconfig
-h`), a short-flag cluster is read letter by letter up to the first letter that takes a value,
which takes the rest or the next argument (`-gn ns`, `-ndemo`), `=` gives a value to any flag
(`--dry-run=client`, `-n=demo`), and `--` ends the flags. Which flags take a value differs per
subcommand and per Helm major; `VALUE_FLAGS` is read from the pinned Helms' `--help`
(tests/helm/helm_flags_test.py fails when it and the help disagree).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from postrender.errors import ConfigError

# Value-taking flags, by what Helm's `--help` shows. A flag shown as `--name type[=default]`
# (`--dry-run`, Helm 4's `--wait`) is a switch: its value needs `=`.
_GLOBAL = frozenset(
    {
        "--burst-limit", "--kube-apiserver", "--kube-as-group", "--kube-as-user",
        "--kube-ca-file", "--kube-context", "--kube-tls-server-name", "--kube-token",
        "--kubeconfig", "-n", "--namespace", "--qps", "--registry-config",
        "--repository-cache", "--repository-config",
    }
)
_GLOBAL_SINCE_4 = frozenset({"--color", "--colour", "--content-cache"})
_REGISTRY = frozenset(
    {"--ca-file", "--cert-file", "--key-file", "--keyring", "--password", "--username"}
)
_CHART = _REGISTRY | {"--repo", "--version"}
_RELEASE = _CHART | {
    "-f", "--values", "--set", "--set-string", "--set-file", "--set-json", "--set-literal",
    "--description", "-l", "--labels", "--post-renderer", "--post-renderer-args", "--timeout",
}  # fmt: skip
_OF_SUBCOMMAND = {
    "install": _RELEASE | {"--name-template", "-o", "--output"},
    "upgrade": _RELEASE | {"--history-max", "-o", "--output"},
    "template": _RELEASE | {
        "--name-template", "-a", "--api-versions", "--kube-version", "--output-dir", "-s",
        "--show-only",
    },
    "pull": _CHART | {"-d", "--destination", "--untardir"},
    "dependency build": _REGISTRY,
    "dependency update": _REGISTRY,
}
# Helm 4.1.4's `upgrade --server-side` takes "true", "false" or "auto"; its `install
# --server-side` is a switch, and Helm 3 has neither.
_OF_SUBCOMMAND_SINCE_4 = {"upgrade": frozenset({"--server-side"})}

VALUE_FLAGS: dict[tuple[int, str], frozenset[str]] = {
    **{(3, name): _GLOBAL | flags for name, flags in _OF_SUBCOMMAND.items()},
    **{
        (4, name): _GLOBAL | _GLOBAL_SINCE_4 | flags | _OF_SUBCOMMAND_SINCE_4.get(name, set())
        for name, flags in _OF_SUBCOMMAND.items()
    },
}
SUBCOMMANDS = tuple(_OF_SUBCOMMAND)
_HELP = ("-h", "--help")

Major = int | Callable[[], int]
"""Helm's major, or how to ask for it: asked only when a flag in the command line takes a value
on one major and not on the other."""


class Arg(NamedTuple):
    """One flag with its value (None for a switch), or one positional (flag "", its value)."""

    start: int  # where it stands in the arguments (a cluster's flags share it)
    flag: str
    value: str | None
    end: int  # the index of the last argument it takes: its value may be the next one


def _value_flags(subcommand: str, major: Major) -> Callable[[str], bool]:
    """Whether a flag of `helm SUBCOMMAND` takes a value; the major is asked at most once."""
    if subcommand not in _OF_SUBCOMMAND:
        raise ConfigError(f"{subcommand!r} is not one of {', '.join(SUBCOMMANDS)}")
    known: list[int] = [major] if isinstance(major, int) else []

    def takes_value(flag: str) -> bool:
        on_3, on_4 = flag in VALUE_FLAGS[3, subcommand], flag in VALUE_FLAGS[4, subcommand]
        if on_3 == on_4:
            return on_3
        if not known:
            assert not isinstance(major, int)
            known.append(major())
        return flag in VALUE_FLAGS[known[0], subcommand]

    return takes_value


def _short_cluster(arg: str, takes_value: Callable[[str], bool]) -> tuple[list[Arg], bool]:
    """The flags of `-abc` as pflag reads them, and whether the last one takes the next arg."""
    flags: list[Arg] = []
    for position in range(1, len(arg)):
        flag, rest = "-" + arg[position], arg[position + 1 :]
        if rest.startswith("="):
            return [*flags, Arg(0, flag, rest[1:], 0)], False
        if takes_value(flag):
            return [*flags, Arg(0, flag, rest or None, 0)], not rest
        flags.append(Arg(0, flag, None, 0))
    return flags, False


def _scan(
    args: Sequence[str], takes_value: Callable[[str], bool], own: Mapping[str, bool]
) -> Iterator[Arg]:
    """Every flag and positional of `args` in order. `own` names the options of a command of
    ours that come among helm's (name → takes a value); they are read whole, before helm's."""
    index = 0
    while index < len(args):
        arg = args[index]
        name, has_value, value = arg.partition("=")
        if arg == "--":
            yield from (Arg(rest, "", args[rest], rest) for rest in range(index + 1, len(args)))
            return
        if name in own:
            found = [Arg(index, name, value if has_value else None, index)]
            wants_next = own[name] and not has_value
        elif not arg.startswith("-") or arg == "-":
            found, wants_next = [Arg(index, "", arg, index)], False
        elif arg.startswith("--"):
            found = [Arg(index, name, value if has_value else None, index)]
            wants_next = not has_value and takes_value(name)
        else:
            cluster, wants_next = _short_cluster(arg, takes_value)
            found = [flag._replace(start=index, end=index) for flag in cluster]
        if wants_next and index + 1 < len(args):
            index += 1
            found[-1] = found[-1]._replace(value=args[index], end=index)
        yield from found
        index += 1


@dataclass(frozen=True)
class CommandLine:
    """`helm SUBCOMMAND ARGS`, parsed once (the arguments themselves go to helm unchanged)."""

    subcommand: str
    args: tuple[str, ...]
    parsed: tuple[Arg, ...]
    dangling: str | None  # a last flag that takes a value and was given none

    @classmethod
    def parse(cls, subcommand: str, args: Sequence[str], major: Major) -> CommandLine:
        takes_value = _value_flags(subcommand, major)
        parsed = tuple(_scan(args, takes_value, {}))
        last = parsed[-1] if parsed else None
        dangling = last.flag if last and last.flag and last.value is None else None
        return cls(subcommand, tuple(args), parsed,
                   dangling if dangling and takes_value(dangling) else None)  # fmt: skip

    def positional_indexes(self) -> list[int]:
        """Where the positional arguments (release name, chart) stand."""
        return [arg.start for arg in self.parsed if not arg.flag]

    def positionals(self) -> list[str]:
        return [self.args[index] for index in self.positional_indexes()]

    def flags(self) -> list[tuple[str, str | None]]:
        """Every flag with its value (None for a switch or a value left out), in order."""
        return [(arg.flag, arg.value) for arg in self.parsed if arg.flag]

    def values(self, *flags: str) -> list[str]:
        """The values given to any of `flags`, in command-line order (Helm's precedence)."""
        return [value for flag, value in self.flags() if flag in flags and value is not None]

    def last(self, *flags: str) -> str | None:
        """The value Helm uses for a flag given more than once: the last one."""
        found = self.values(*flags)
        return found[-1] if found else None

    def switch_indexes(self, switch: str) -> list[int]:
        """Where `switch` stands as a flag of its own: not as another flag's value
        (`--post-renderer-args --verify`), not after `--`."""
        return [arg.start for arg in self.parsed if arg.flag == switch and arg.value is None]

    def flag_indexes(self, flag: str) -> set[int]:
        """Where `flag` and its value stand (one argument for `--flag=value`, else two)."""
        return {index for arg in self.parsed if arg.flag == flag
                for index in range(arg.start, arg.end + 1)}

    def without(self, indexes: set[int]) -> list[str]:
        """The arguments without those at `indexes`."""
        return [arg for index, arg in enumerate(self.args) if index not in indexes]


def split_own(
    subcommand: str, args: Sequence[str], major: Major, own: Mapping[str, bool]
) -> tuple[list[str], list[str]]:
    """(a command's own options with their values, helm's arguments in their order) of a
    command of ours that takes helm's arguments beside a few options (name → takes a value).
    `-h` or `--help` as a flag of its own asks for help (given as `--help`); as another flag's
    value it is that value."""
    ours_or_help = {**own, **dict.fromkeys(_HELP, False)}
    ours: list[str] = []
    taken: set[int] = set()
    for arg in _scan(args, _value_flags(subcommand, major), ours_or_help):
        if arg.flag in ours_or_help and args[arg.start].partition("=")[0] == arg.flag:
            taken.update(range(arg.start, arg.end + 1))
            ours += ["--help"] if arg.flag in _HELP else args[arg.start : arg.end + 1]
    return ours, [arg for index, arg in enumerate(args) if index not in taken]


# Flags that would change what `overlay` reads: it needs the rendered stream itself, on stdout.
REFUSED = {
    "--post-renderer": "the overlay replaces the post-renderer; render without it",
    "--post-renderer-args": "the overlay replaces the post-renderer; render without it",
    "--output-dir": "the overlay reads the rendered stream from helm's stdout",
}
_SETS = ("--set", "--set-string", "--set-file", "--set-json", "--set-literal")


class Release(NamedTuple):
    """The release as `helm template` would render it, for writing GitOps manifests: a Fleet
    `fleet.yaml` or a Flux `HelmRelease` patch describes the release the overlay was made for."""

    name: str | None
    chart: str | None
    namespace: str | None
    version: str | None
    repo: str | None
    values_files: list[str]
    sets: list[str]  # the --set* flags given, by name (their values are not carried)


class Chart(NamedTuple):
    """The `oci://` chart argument of a command line and its `--version` (None: the newest)."""

    url: str
    version: str | None


def oci_chart(line: CommandLine) -> Chart | None:
    """The chart of `install|upgrade|template [NAME] CHART`, if it is an `oci://` one."""
    positionals = line.positionals()
    if not positionals or not positionals[-1].startswith("oci://"):
        return None
    return Chart(positionals[-1], line.last("--version"))


def release_of(line: CommandLine, environ: Mapping[str, str]) -> Release:
    """Read `helm template [NAME] CHART [flags]`; refuses flags the overlay cannot work with.

    Run as `helm harbor-mirror overlay`, Helm keeps `-n` for itself and passes it on as
    HELM_NAMESPACE, which the `helm template` run from here reads too.
    """
    for flag, _ in line.flags():
        if flag in REFUSED:
            raise ConfigError(f"overlay: {flag} is not allowed here: {REFUSED[flag]}")
    if line.dangling:
        raise ConfigError(f"overlay: helm flag {line.dangling} needs a value")
    positionals = line.positionals()
    return Release(
        name=positionals[0] if len(positionals) >= 2 else None,
        chart=positionals[-1] if positionals else None,
        namespace=line.last("-n", "--namespace") or environ.get("HELM_NAMESPACE") or None,
        version=line.last("--version"),
        repo=line.last("--repo"),
        values_files=line.values("-f", "--values"),
        sets=sorted({flag for flag, _ in line.flags() if flag in _SETS}),
    )
