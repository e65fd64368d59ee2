"""The table of Helm's value-taking flags is what the pinned Helms' `--help` says.

A flag missing from the table reads its value as a positional (a chart, a chart directory); an
extra one swallows the next argument. Both Helms are asked, for every subcommand the command
line is parsed for.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from postrender.helm.args import SUBCOMMANDS, VALUE_FLAGS

# `  -f, --values strings   specify values…`: a type word after the name takes a value; a type
# with `[=default]` (`--dry-run string[="unset"]`) only takes one given with `=`.
_FLAG_LINE = re.compile(r"^\s+(?:-(\S), )?--([\w-]+)(?: ([^\s\[]+)(\[=[^\]]*\])?)?(?:\s{2,}|$)")


def value_flags_in_help(text: str) -> set[str]:
    """The flags `helm … --help` shows with a value type and no `[=…]`, long and short."""
    found: set[str] = set()
    for line in text.splitlines():
        match = _FLAG_LINE.match(line)
        if match and match.group(3) and not match.group(4):
            short, long = match.group(1), match.group(2)
            found |= {f"--{long}", *([f"-{short}"] if short else [])}
    return found


def _help(helm: Path, subcommand: str) -> str:
    done = subprocess.run([str(helm), *subcommand.split(), "--help"], capture_output=True,
                          text=True, check=True, timeout=60)  # fmt: skip
    return done.stdout


def test_the_help_reader_sees_value_flags_switches_and_optional_values() -> None:
    text = (
        "Flags:\n"
        "  -f, --values strings             specify values\n"
        "      --server-side string         must be true, false or auto\n"
        "      --dry-run string[=\"unset\"]   simulate\n"
        "      --wait WaitStrategy[=watcher] wait\n"
        "  -g, --generate-name              generate the name\n"
        "      --kubeconfig string\n"
    )
    assert value_flags_in_help(text) == {"-f", "--values", "--server-side", "--kubeconfig"}


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
@pytest.mark.parametrize("major", [3, 4])
def test_value_flags_table_matches_helm_help(
    major: int, subcommand: str, request: pytest.FixtureRequest
) -> None:
    helm: Path = request.getfixturevalue(f"helm{major}")
    in_help = value_flags_in_help(_help(helm, subcommand))
    table = VALUE_FLAGS[major, subcommand]

    assert "--namespace" in in_help  # the help was read at all
    assert sorted(in_help - table) == [], f"missing from VALUE_FLAGS[{major}, {subcommand!r}]"
    assert sorted(table - in_help) == [], f"not a value flag of helm {major} {subcommand}"


def test_the_majors_differ_where_helm_4_changed_a_flag() -> None:
    """Helm 4.1.4's `upgrade --server-side` takes a value, its `install --server-side` is a
    switch; Helm 3 has neither."""
    assert "--server-side" in VALUE_FLAGS[4, "upgrade"]
    assert "--server-side" not in VALUE_FLAGS[4, "install"]
    assert "--server-side" not in VALUE_FLAGS[3, "upgrade"]
