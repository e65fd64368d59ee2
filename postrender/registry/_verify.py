"""The whole check: find the references in a rewritten stream, ask Harbor for each, warm;
images on other registries are listed as not mirrored."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from postrender.endpoint import Endpoint
from postrender.errors import VerifyFailed
from postrender.lock import Lock
from postrender.registry import _lock
from postrender.registry._access import registry_client
from postrender.registry._check import NOT_MIRRORED, Check, check, not_mirrored, outside_project
from postrender.registry._references import Target, find, unmirrored
from postrender.registry._trust import INVALID, MISSING, Signing
from postrender.registry._warm import warm
from postrender.rewrite.pin import RERUN, PinRefused
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
    signing: Signing | None = None,
    record: Path | None = None,
    lock: Lock | None = None,
) -> list[Check]:
    """One Check per distinct reference (the given charts first), in order of appearance,
    then one per image Harbor will not serve. With `signing`, each also carries its signature
    (attestation) results, fetched through Harbor; `record` is the file where what warming
    verified is kept for later checks (`SignatureRecord`), to which the signatures `lock`
    records are added, so each is read by its digest."""
    targets = {target.reference: target for target in [*charts, *find(text, rule)]}
    client = registry_client(endpoint)
    try:
        checks = [check(client, target) for target in targets.values()]
        if warm_cache:
            warm(client, checks, platforms, concurrency=concurrency)
        checks += [not_mirrored(target) for target in unmirrored(text, rule)]
        if signing is not None:
            from postrender.registry._signatures import SignatureRecord, check_trust

            known = SignatureRecord(record) if record else None
            if known is not None and lock is not None:
                for (repository, tag), digest in _lock.locked_signatures(lock).items():
                    known.put_artifact(repository, tag, digest)
            check_trust(client, checks, signing, known, concurrency=concurrency)
    finally:
        client.close()
    return [outside_project(c, rule.project) if c.target.outside else c for c in checks]


def check_tags(endpoint: Endpoint, checks: Sequence[Check], lock: Lock) -> int:
    """Mark every pinned image whose tag now names other content `stale`; the count of tags
    asked for by tag (each a request to the upstream through a proxy cache)."""
    client = registry_client(endpoint)
    try:
        return _lock.check_tags(client, checks, lock)
    finally:
        client.close()


def pinned_chart(target: Target, lock: Lock, *, where: str) -> Target:
    """The chart asked for by the digest the lock gives its version. A version the lock lacks
    is refused, as the wrappers' `--lock` refuses it: asked by tag, it would pass here and
    fail the install (`where` names the lock)."""
    locked = lock.charts.get(target.reference)
    if locked is None and target.tag is not None and target.digest is None:
        raise PinRefused(f"the chart {target.reference} is not in the lock file {where}; {RERUN}")
    if locked is None:
        return target
    return target._replace(reference=f"{target.reference}@{locked.digest}", digest=locked.digest)


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


def require_signed(checks: Sequence[Check]) -> None:
    """Raise VerifyFailed naming the first one when any reference Harbor serves is not verified
    (its signature or attestation invalid or missing)."""
    failed = [(c, kind, trust) for c in checks for kind, trust in c.trust.items()
              if trust.result in (INVALID, MISSING)]
    if failed:
        first, kind, trust = failed[0]
        raise VerifyFailed(
            f"{len(failed)} signature checks through Harbor are not verified; first: "
            f"{first.target.reference}: {kind} {trust.result} ({trust.detail})"
        )
