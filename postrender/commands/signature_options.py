"""`--signatures`, `--attestations` and `--key FILE` of `verify`: what to check, with which keys,
and the columns and lines that show it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from postrender.errors import ConfigError

if TYPE_CHECKING:
    from postrender.registry import Check, Signing

F = TypeVar("F", bound=Callable[..., Any])
_FILE = click.Path(dir_okay=False, path_type=Path)


def signature_options(command: F) -> F:
    """Add `--signatures`, `--attestations` and `--key` to a click command."""
    for add in reversed([
        click.option("--signatures", is_flag=True,
                     help="Also fetch each reference's cosign signature (sha256-<digest>.sig) "
                     "through Harbor and check it: the index and every platform of a "
                     "multi-platform image, and the chart."),
        click.option("--attestations", is_flag=True,
                     help="Also check the cosign attestations (.att: provenance, SBOMs, scans) "
                     "of every platform and chart the same way."),
        click.option("--key", "keys", type=_FILE, multiple=True, metavar="FILE",
                     help="With --signatures/--attestations: PEM public key to trust (RSA or "
                     "ECDSA P-256; repeatable, any one suffices). Default: Application "
                     "Collection's key, built in."),
    ]):
        command = add(command)
    return command


def signing(
    signatures: bool, attestations: bool, keys: Sequence[Path], *, platforms: frozenset[str],
    warm: bool,
) -> Signing | None:
    """What to check, or None when neither option was given; keys are read now, before any
    request, so a bad key file is one error with nothing on stdout."""
    if not (signatures or attestations):
        if keys:
            raise ConfigError("--key needs --signatures or --attestations")
        return None
    from postrender.registry._signatures import signing_for

    return signing_for(signatures, attestations, keys, platforms=platforms, warm=warm)


def columns(checks: Sequence[Check]) -> tuple[str, ...]:
    """The table's extra column titles: one per kind checked."""
    kinds = _kinds(checks)
    return tuple(kind.upper() for kind in kinds)


def cells(check: Check, checks: Sequence[Check]) -> tuple[str, ...]:
    return tuple(check.trust[kind].result if kind in check.trust else "-"
                 for kind in _kinds(checks))


def notes(checks: Sequence[Check]) -> list[str]:
    """One line per reference whose signature or attestation is not verified, saying why."""
    return [f"{c.target.reference}: {kind} {trust.result}: {trust.detail}"
            for c in checks for kind, trust in c.trust.items()
            if trust.result in ("invalid", "missing")]


def _kinds(checks: Sequence[Check]) -> list[str]:
    return list(dict.fromkeys(kind for c in checks for kind in c.trust))
