"""Fetch cosign signatures and attestations through Harbor and check them (`--signatures`,
`--attestations`), so a verified row means the bytes Harbor serves are the ones the vendor signed.

Everything is asked of Harbor, never the upstream: `sha256-<hex>.sig`/`.att` are ordinary tags
to a proxy cache (`server/middleware/repoproxy/proxy.go:handleManifest`), stored once fetched, so
`--warm` makes them answer with the upstream gone. A multi-arch image is checked as cosign does
(each manifest on its own), with one Harbor twist: a proxy stores an index rebuilt under a
digest of its own (`controller/proxy/manifestcache.go:ManifestListCache.push`), which nobody
signed. While the upstream answers, a tag resolves to the upstream digest; `--warm` records
that index (`SignatureRecord`), so later, with Harbor serving its own list, the signature is
checked on the recorded upstream digest and Harbor's list must name only manifests the signed
index names, each verified on its own. A gap is `missing`, present-but-wrong is `invalid`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from postrender.errors import ConfigError
from postrender.files import atomic_write
from postrender.helmhome import cache_home
from postrender.registry._check import NOT_MIRRORED, SKIPPED, Check, json_object, platform_of
from postrender.registry._client import INDEX_TYPES, RegistryClient, TokenRefused
from postrender.registry._trust import (
    INVALID,
    MISSING,
    NOT_CHECKED,
    VERIFIED,
    Finding,
    Signing,
    Trust,
    not_checked,
)
from postrender.trust.cosign import ATTESTATION, SIGNATURE, layers_of, tag_for, verdict
from postrender.trust.keys import trusted_keys

MAX_LAYER = 64 << 20  # an SBOM attestation is a few MiB; a layer larger than this is refused
GAP_HINT = (
    "a proxy cache: the upstream has none, or Harbor could not fetch it (is the upstream up?); "
    "a replicated project: the rule's tag filter may drop the sha256-*.sig/.att tags (README, "
    "\"Signatures through Harbor\")"
)


def signing_for(
    signatures: bool, attestations: bool, keys: Iterable[Path], *,
    platforms: frozenset[str] = frozenset(), warm: bool = False,
) -> Signing | None:
    """What `--signatures`/`--attestations` ask to check, with the `--key` files (read now),
    else Application Collection's key; None when neither is asked for."""
    kinds = tuple(kind for kind, wanted in ((SIGNATURE, signatures),
                                            (ATTESTATION, attestations)) if wanted)
    if not kinds:
        return None
    return Signing(kinds, trusted_keys(list(keys)), platforms, warm)


def record_file(environ: Mapping[str, str] = os.environ) -> Path:
    """Where `--warm --signatures` keeps what it verified, for later checks with the upstream
    gone or spared: `<Helm cache home>/harbor-mirror/signatures.json`."""
    return Path(cache_home(environ), "harbor-mirror", "signatures.json")


class SignatureRecord:
    """What `--warm --signatures` learned through Harbor while the upstream answered: each
    multi-arch image's upstream index (the bytes, by reference, so its digest and platforms
    can be checked again offline), and the digest of each `.sig`/`.att` manifest (by
    repository and tag), so a later check reads it by digest: a proxy answers that from its
    cache without asking the upstream (`controller/proxy/controller.go:UseLocalManifest`),
    where a read by tag costs an upstream HEAD."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._indexes: dict[str, str] = {}
        self._artifacts: dict[str, str] = {}
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
                self._indexes = {str(k): str(v) for k, v in loaded["indexes"].items()}
                self._artifacts = {str(k): str(v) for k, v in loaded["artifacts"].items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
                raise ConfigError(f"{path}: not a record of verified signatures; delete it and "
                                  "run verify --warm --signatures again") from None

    def index(self, reference: str) -> bytes | None:
        found = self._indexes.get(reference)
        return found.encode() if found is not None else None

    def put_index(self, reference: str, index: bytes) -> None:
        self._indexes[reference] = index.decode()

    def artifact(self, repository: str, tag: str) -> str | None:
        return self._artifacts.get(f"{repository}:{tag}")

    def put_artifact(self, repository: str, tag: str, digest: str) -> None:
        self._artifacts[f"{repository}:{tag}"] = digest

    def save(self) -> None:
        data = json.dumps({"indexes": self._indexes, "artifacts": self._artifacts}, indent=1,
                          sort_keys=True).encode()
        atomic_write(self.path, data, mode=0o644, option="signature record")


def check_trust(
    client: RegistryClient, checks: Iterable[Check], signing: Signing,
    record: SignatureRecord | None = None, *, concurrency: int = 4,
) -> None:
    """Fill in `check.trust[kind]` for every check, `concurrency` references at once; with
    `signing.warm`, record the upstream index of each multi-arch image whose signature
    verified."""
    jobs = [(check, kind) for check in checks for kind in signing.kinds]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        found = list(pool.map(
            lambda job: _reference(client, job[0], job[1], signing, record), jobs))
    for (check, kind), trust in zip(jobs, found, strict=True):
        check.trust[kind] = trust
    if record is not None and signing.warm:
        record.save()


def _reference(client: RegistryClient, check: Check, kind: str, signing: Signing,
               record: SignatureRecord | None) -> Trust:
    if check.result == NOT_MIRRORED:
        return not_checked("not pulled through Harbor")
    if check.result == SKIPPED or (not check.failed and not check.digest):
        return not_checked("a chart URL without one version: no one chart to check")
    if check.failed:
        return Trust(Finding(MISSING, f"Harbor does not serve the reference itself "
                                      f"({check.result})", check.digest))
    repository = check.target.repository
    if check.media_type not in INDEX_TYPES:
        return Trust(_check_digest(client, repository, check.digest, kind, signing,
                                   record))
    if kind != SIGNATURE:  # Application Collection attests each platform, not the index
        own = Finding(NOT_CHECKED, "an index carries no attestation of its own; each "
                                   "platform's is checked", check.digest)
        return Trust(own, _platforms(client, repository, check.index, check.index, kind,
                                     signing, record))
    own, signed_index = _index(client, check, signing, record)
    if own.result == VERIFIED and signing.warm and record is not None:
        record.put_index(check.target.reference, signed_index)
    return Trust(own, _platforms(client, repository, check.index, signed_index, kind, signing,
                                 record))


def _index(client: RegistryClient, check: Check, signing: Signing,
           record: SignatureRecord | None) -> tuple[Finding, bytes]:
    """The index's own signature finding, and the index whose platforms it vouches for: the
    one Harbor served, or, when Harbor serves its own unsigned rebuilt list, the upstream
    index recorded while warming."""
    repository = check.target.repository
    own = _check_digest(client, repository, check.digest, SIGNATURE, signing, record)
    recorded = record.index(check.target.reference) if record is not None else None
    if own.result != MISSING:
        return own, check.index
    if recorded is None or _digest_of(recorded) == check.digest:
        return Finding(MISSING, f"{own.detail}; if Harbor serves its own rebuilt list (the "
                                "upstream down), run verify --warm --signatures while the "
                                "upstream answers, to record the upstream index",
                       own.digest), check.index
    upstream = _check_digest(client, repository, _digest_of(recorded), SIGNATURE, signing,
                             record)
    return Finding(upstream.result, f"{upstream.detail}; Harbor serves its own rebuilt list "
                                    f"{check.digest}, checked against it",
                   upstream.digest), recorded


def _platforms(client: RegistryClient, repository: str, served: bytes, signed: bytes,
               kind: str, signing: Signing, record: SignatureRecord | None) -> list[Finding]:
    """Each platform of the signed index: Harbor's list must name it (or leave it out only
    when `--platform` does), must name nothing else, and each carries its own signature."""
    served_children = _children(served)
    signed_children = _children(signed)
    findings = [
        Finding(INVALID, "Harbor's index names a manifest the signed index does not",
                digest, platform)
        for digest, platform in served_children.items() if digest not in signed_children
    ]
    for digest, platform in signed_children.items():
        if signing.platforms and platform not in signing.platforms:
            findings.append(Finding(NOT_CHECKED, "not among --platform", digest, platform))
        elif digest not in served_children:
            findings.append(Finding(MISSING, "the index Harbor serves does not list it (trimmed "
                                             "to the platforms it stored)", digest, platform))
        else:
            found = _check_digest(client, repository, digest, kind, signing, record)
            findings.append(Finding(found.result, found.detail, digest, platform))
    if signing.platforms and not signing.platforms & set(signed_children.values()):
        # as --warm fails on it: none of the named platforms is there to verify
        named = ", ".join(sorted(signing.platforms))
        findings.append(Finding(MISSING, f"the signed index lists no manifest for --platform "
                                         f"{named}"))
    return findings


def _children(index: bytes) -> dict[str, str]:
    """digest → `os/arch[/variant]` of every manifest an index lists."""
    entries = (json_object(index) or {}).get("manifests")
    listed = entries if isinstance(entries, list) else []
    return {entry["digest"]: platform_of(entry) for entry in listed
            if isinstance(entry, dict) and isinstance(entry.get("digest"), str)}


def _check_digest(client: RegistryClient, repository: str, digest: str, kind: str,
                  signing: Signing, record: SignatureRecord | None) -> Finding:
    """Fetch `digest`'s `.sig`/`.att` through Harbor (by the digest recorded while warming,
    else by its tag) and check it."""
    tag = tag_for(digest, kind)
    try:
        known = record.artifact(repository, tag) if record is not None else None
        response = client.get_manifest(repository, known) if known else None
        if response is None or response.status_code != 200:
            response = client.get_manifest(repository, tag)
        if response.status_code != 200:
            return Finding(MISSING, f"no {tag} through Harbor ({response.status_code}): "
                                    f"{GAP_HINT}", digest)
        layers = layers_of(response.content, kind)
        if layers is None:
            return Finding(INVALID, f"{tag} is no image manifest", digest)
        fetched = [(layer, blob) for layer in layers
                   if (blob := _blob(client, repository, layer.digest)) is not None]
        if signing.warm:
            _warm_config(client, repository, response.content)
            if record is not None:
                record.put_artifact(repository, tag, _digest_of(response.content))
    except TokenRefused as refused:
        return Finding(MISSING, f"{tag}: {refused}", digest)
    found = verdict(kind, fetched, digest, signing.keys)
    unserved = len(layers) - len(fetched)
    if unserved and not found.verified:  # the layer Harbor could not serve may be the good one
        return Finding(MISSING, f"{tag}: Harbor could not serve {unserved} of its {len(layers)} "
                                f"layers: {GAP_HINT}", digest)
    return Finding(VERIFIED if found.verified else INVALID, found.detail, digest)


def _blob(client: RegistryClient, repository: str, digest: str) -> bytes | None:
    """A signature layer's bytes through Harbor, or None when it cannot be had."""
    with client.stream_blob(repository, digest) as response:
        if response.status_code != 200:
            return None
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_LAYER:
                return None
    return bytes(data)


def _warm_config(client: RegistryClient, repository: str, manifest: bytes) -> None:
    """Pull the artifact's config blob too: Harbor stores a proxied manifest only once every
    blob it names is local (`controller/proxy/manifestcache.go:ManifestCache.CacheContent`)."""
    config = (json_object(manifest) or {}).get("config")
    digest = config.get("digest") if isinstance(config, dict) else None
    if isinstance(digest, str) and client.head_blob(repository, digest).status_code != 200:
        _blob(client, repository, digest)


def _digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()

