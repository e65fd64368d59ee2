"""The whole check: find the references in a rewritten stream, ask Harbor for each, warm;
images on other registries are listed as not mirrored."""

from __future__ import annotations

from collections.abc import Sequence

from postrender.endpoint import Endpoint
from postrender.errors import VerifyFailed
from postrender.registry._access import registry_client
from postrender.registry._check import NOT_MIRRORED, Check, check, not_mirrored
from postrender.registry._references import Target, find, unmirrored
from postrender.registry._warm import warm
from postrender.rewrite.rules import MirrorRule


def verify(
    text: str,
    rule: MirrorRule,
    endpoint: Endpoint,
    *,
    charts: Sequence[Target] = (),
    warm_cache: bool = False,
    platforms: frozenset[str] = frozenset(),
    concurrency: int = 4,
) -> list[Check]:
    """One Check per distinct reference (the given charts first), in order of appearance,
    then one per image Harbor will not serve."""
    targets = {target.reference: target for target in [*charts, *find(text, rule)]}
    client = registry_client(endpoint)
    try:
        checks = [check(client, target) for target in targets.values()]
        if warm_cache:
            warm(client, checks, platforms, concurrency=concurrency)
    finally:
        client.close()
    return checks + [not_mirrored(target) for target in unmirrored(text, rule)]


def require_resolved(checks: Sequence[Check], *, strict: bool = False) -> None:
    """Raise VerifyFailed naming the first failure when any reference does not resolve
    (with `strict`, also when one is not mirrored)."""
    failed = [c for c in checks if c.failed or (strict and c.result == NOT_MIRRORED)]
    if failed:
        first = failed[0]
        raise VerifyFailed(
            f"{len(failed)} of {len(checks)} references do not resolve through Harbor; "
            f"first: {first.target.reference}: {first.result} ({first.detail})"
        )
