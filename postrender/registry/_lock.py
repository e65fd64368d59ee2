"""A lock from what verify found (`--write-lock`), and a release checked against one (`--lock`).

What Harbor answers for a tag while the upstream answers is the upstream's digest: an index
comes from Harbor's Redis cache under that digest (`controller/proxy/controller.go:
UseLocalManifest`). Harbor stores that index only as a list it rebuilds under a digest of its
own (`manifestcache.go:ManifestListCache.push`, `updateManifestList`), which it serves for the
tag once it serves from what it stores (the upstream marked unhealthy, or answering 429). That
list is never a pin: it is recorded as `harbor` beside the upstream digest that an earlier lock
or `--warm --signatures` learned, and with neither a list Harbor could have written is refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from postrender.errors import VerifyFailed
from postrender.lock import ChartLock, ImageLock, Lock, with_platform
from postrender.registry._check import OK, Check, json_object, platform_of
from postrender.registry._client import INDEX_TYPES, RegistryClient, TokenRefused
from postrender.registry._rebuilt_form import in_harbors_rebuilt_form
from postrender.registry._trust import VERIFIED
from postrender.rewrite import imageref
from postrender.rewrite.mirrored import OCI

STALE = "stale"


def lock_of(
    checks: Iterable[Check], platforms: frozenset[str], previous: Lock,
    signature: Callable[[str, str], str | None] | None = None,
    upstream_index: Callable[[str], bytes | None] = lambda reference: None,
) -> Lock:
    """The lock entries of every image reference with a tag and no digest, and every chart
    with a version, that resolved; `platforms` picks an index's pin when it names one.
    `signature(repository, cosign tag)` is the digest `--warm --signatures` recorded for that
    tag, if any; each image keeps those of its own digests. `upstream_index(reference)` is
    the upstream index `--warm --signatures` recorded for it, if any."""
    images: dict[str, ImageLock] = {}
    charts: dict[str, ChartLock] = {}
    for check in checks:
        target = check.target
        if check.result != OK or not check.digest or target.digest is not None:
            continue
        if target.chart:  # signed as an image is: it keeps those of its digest
            chart = ChartLock(check.digest)
            if signature is not None:
                chart = chart._replace(signatures=_signatures_of(target.repository, chart,
                                                                 signature))
            charts[target.reference] = chart
            continue
        image = _image_lock(check, previous.images.get(target.reference),
                            upstream_index(target.reference))
        if signature is not None:
            image = image._replace(signatures=_signatures_of(target.repository, image, signature))
        images[target.reference] = with_platform(image, platforms)
    return Lock(images, charts)


def _image_lock(check: Check, old: ImageLock | None, recorded: bytes | None) -> ImageLock:
    """What the tag names upstream. That is the digest Harbor served, unless Harbor served a
    list it rebuilt: an earlier entry (`old`) or the recorded upstream index tells the upstream
    digest then, a verified signature or a form Harbor never writes says there is none to
    tell, and with none of these the list could be Harbor's, which is refused."""
    served = ImageLock(check.digest, platforms=platform_digests(check.index))
    if check.media_type not in INDEX_TYPES:
        return served
    known = [old] if old is not None else []
    if recorded is not None:
        known.append(ImageLock("sha256:" + hashlib.sha256(recorded).hexdigest(),
                               platforms=platform_digests(recorded)))
    for upstream in known:
        if upstream.upstream == check.digest:
            return served
        if rebuilt(upstream, check.digest, check.index):
            return upstream._replace(harbor=check.digest)
    if _signed(check) or not in_harbors_rebuilt_form(check.index):
        return served
    raise VerifyFailed(
        f"{check.target.reference}: Harbor serves {check.digest}, a list in the form Harbor "
        "rebuilds a proxied index in (its own, served while it does not reach the upstream, or "
        "an upstream index written alike), and nothing shows it is the upstream's signed "
        "index: run verify --signatures --write-lock while Harbor reaches the upstream (or "
        "--warm --signatures then, which records the upstream index, and --write-lock later); "
        "the lock is unchanged")


def _signed(check: Check) -> bool:
    """Did `--signatures` verify a signature on the very digest Harbor served?"""
    if not check.trust:
        return False
    from postrender.trust.cosign import SIGNATURE  # loads cryptography: only after a check

    trust = check.trust.get(SIGNATURE)
    return trust is not None and trust.own.result == VERIFIED and trust.own.digest == check.digest


def _signatures_of(
    repository: str, entry: ImageLock | ChartLock, signature: Callable[[str, str], str | None]
) -> dict[str, str]:
    """Cosign tag → digest of the recorded signatures and attestations of the image's or
    chart's digests (`sha256-<hex>.sig`, `.att`: cosign's tag scheme)."""
    tags = [digest.replace(":", "-", 1) + suffix for digest in sorted(entry.known)
            for suffix in (".sig", ".att")]
    return {tag: digest for tag in tags if (digest := signature(repository, tag))}


def locked_signatures(lock: Lock) -> dict[tuple[str, str], str]:
    """(repository, cosign tag) → digest for every signature the lock records, so a check
    reads each by its digest: Harbor answers that from what it stores."""
    found = {}
    entries: list[tuple[str, ImageLock | ChartLock]] = [*lock.images.items(),
                                                        *lock.charts.items()]
    for reference, entry in entries:
        repository = imageref.parse(reference.removeprefix(OCI)).path
        found.update({(repository, tag): digest for tag, digest in entry.signatures.items()})
    return found


def platform_digests(index: bytes) -> dict[str, str]:
    """`os/arch[/variant]` → manifest digest of every platform an index lists."""
    body = json_object(index) if index else None
    entries = body.get("manifests") if body is not None else None
    if not isinstance(entries, list):
        return {}
    return {platform_of(entry): entry["digest"] for entry in entries
            if isinstance(entry, dict) and isinstance(entry.get("digest"), str)
            and platform_of(entry)}


def rebuilt(locked: ImageLock, digest: str, index: bytes) -> bool:
    """Is the list Harbor serves under `digest` its own rebuild of the locked index: another
    digest, naming only manifests the locked index names, in the form Harbor writes? (An
    upstream that re-pushes the tag with fewer platforms names a subset too: a moved tag.)"""
    children = set(platform_digests(index).values())
    return (digest != locked.upstream and bool(children)
            and children <= set(locked.platforms.values()) and in_harbors_rebuilt_form(index))


def check_tags(client: RegistryClient, checks: Iterable[Check], lock: Lock) -> int:
    """Fail as `stale` every pinned image or chart whose tag names other content in Harbor now.

    The one check that asks by tag, so through a proxy cache it costs one upstream request per
    tag; the count of tags asked is returned so the caller can say so.
    """
    asked = 0
    for check in checks:
        target = check.target
        if target.digest is None or target.tag is None or check.failed:
            continue
        locked = _locked(lock, target.reference.rpartition("@")[0], chart=target.chart)
        if locked is None:
            continue
        asked += 1
        try:
            current = _tag_digest(client, target.repository, target.tag, locked)
        except TokenRefused:
            continue  # the by-digest check already said what the credentials are worth
        if current is not None and current not in locked.known:
            check.fail(STALE, f"the tag {target.tag} names {current} in Harbor now, the lock "
                              f"{locked.upstream}: re-run verify --write-lock with --update-lock "
                              "to take it (asked by tag)")
    return asked


def _locked(lock: Lock, tagged: str, *, chart: bool) -> ImageLock | None:
    """The lock's entry for a reference by tag; a chart's as an image Harbor stores with its
    own bytes (one digest, no index of its own to rebuild), as it stores a chart."""
    if not chart:
        return lock.images.get(tagged)
    found = lock.charts.get(tagged)
    return ImageLock(found.digest) if found is not None else None


def _tag_digest(
    client: RegistryClient, repository: str, tag: str, locked: ImageLock
) -> str | None:
    """The digest Harbor names for `tag` (None when it does not answer), taking its own
    rebuild of the locked index as the locked digest."""
    response = client.head_manifest(repository, tag)
    digest = str(response.headers.get("docker-content-digest", ""))
    if response.status_code != 200 or not digest:
        return None
    if digest in locked.known or response.headers.get("content-type") not in INDEX_TYPES:
        return digest
    served = client.get_manifest(repository, digest)
    if served.status_code == 200 and rebuilt(locked, digest, served.content):
        return locked.upstream
    return digest
