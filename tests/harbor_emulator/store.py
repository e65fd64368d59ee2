"""What Harbor's local registry holds per project, and its Redis manifest-list cache.

One store for everything `/v2/` serves locally: what a proxy project cached
(`registry_proxy.py`) and what a replication copied in (`transfer.py`).

Indexes follow `controller/proxy/manifestcache.go:ManifestListCache`: a proxied index goes
into the Redis cache at once (`CacheContent`) and is pushed locally only once every child
manifest is local (`push`, `updateManifestList`); when Harbor's wait runs out (20 x 20 s) it
pushes the index trimmed to the children present, or nothing when none are. What it pushes is
always a rebuilt list (`Manifest.rebuilt`), under a digest of its own unless the upstream wrote
those very bytes; the upstream's bytes stay only in the Redis cache, under the upstream
digest. The emulator checks that condition whenever a manifest is stored, and `settle()`
stands for the wait running out.
The push is by digest, never under a tag: `controller.go:ProxyManifest` fills in the digest
before `CacheContent`, and `push` is given `getReference`, which prefers it. The trimmed digest
is remembered under the digest the *request* named (`cacheTrimmedDigest` reads the request's
artifact info), so after a GET by tag it is under "" and no `EnsureTag` finds it.

A proxied HEAD by tag caches nothing, but Harbor keeps trying for 10 minutes to put that tag
on the digest the upstream named, once it is local (`repoproxy/proxy.go:proxyManifestHead`,
`controller.go:EnsureTag`, which follows an index's trimmed digest): `ensure_tag` here, done
as soon as the manifest is stored. Harbor waits 10 s before each try; the emulator does not.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """One manifest or index as stored: media type and the exact bytes."""

    media_type: str
    body: bytes

    @property
    def digest(self) -> str:
        return digest_of(self.body)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    def children(self) -> list[dict[str, object]]:
        """An index's manifest descriptors (none for a manifest)."""
        return list(json.loads(self.body).get("manifests") or []) if self.is_index else []

    def blobs(self) -> list[str]:
        """A manifest's config and layer digests (none for an index)."""
        if self.is_index:
            return []
        document = json.loads(self.body)
        descriptors = [document.get("config") or {}, *(document.get("layers") or [])]
        return [str(d["digest"]) for d in descriptors if d.get("digest")]

    def rebuilt(self, keep: set[str]) -> Manifest:
        """The list Harbor pushes locally: `updateManifestList` keeps the children in `keep`,
        and distribution v2.8.2's `manifestlist.FromDescriptors` writes a new document
        (`json.MarshalIndent(m, "", "   ")`: an OCI index when the first child is an OCI
        manifest, else a Docker list; the index's own annotations dropped), so its digest is
        the upstream's only when every child is kept and the upstream wrote its index so too
        (as `docker manifest push` does)."""
        kept = [_descriptor(child) for child in self.children() if child.get("digest") in keep]
        first = kept[0].get("mediaType") if kept else None
        media_type = OCI_INDEX if first == OCI_MANIFEST else DOCKER_LIST
        document = {"schemaVersion": 2, "mediaType": media_type, "manifests": kept}
        return Manifest(media_type, _marshal_indent(document))


_GO_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def _marshal_indent(document: dict[str, object]) -> bytes:
    """Go's `json.MarshalIndent(v, "", "   ")` (encoding/json `encodeState.string`): UTF-8
    written as it is, and only `<`, `>`, `&`, U+2028 and U+2029 escaped among printable text."""
    text = json.dumps(document, indent=3, ensure_ascii=False)
    return text.translate(_GO_ESCAPES).encode()


def _descriptor(child: dict[str, object]) -> dict[str, object]:
    """One `manifestlist.ManifestDescriptor` as Go encodes it: the descriptor's fields in their
    struct order, empty ones left out, a map's keys sorted (encoding/json `mapEncoder.encode`),
    then `platform` (a `PlatformSpec`, always written)."""
    written = {key: child[key] for key in ("mediaType", "size", "digest", "urls", "annotations")
               if child.get(key)}
    annotations = written.get("annotations")
    if isinstance(annotations, dict):
        written["annotations"] = dict(sorted(annotations.items()))
    platform = child.get("platform")
    platform = platform if isinstance(platform, dict) else {}
    spec: dict[str, object] = {"architecture": platform.get("architecture", ""),
                               "os": platform.get("os", "")}
    spec.update((key, platform[key]) for key in
                ("os.version", "os.features", "variant", "features") if platform.get(key))
    written["platform"] = spec
    return written


@dataclass
class _Waiting:
    """An index cached in Redis whose local push waits for its children; `requested` is the
    digest the request named ("" when it named a tag)."""

    repository: str
    requested: str
    index: Manifest


@dataclass
class Content:
    """One project's artifacts: manifests by (repository, digest), tags, blobs, Redis lists."""

    manifests: dict[tuple[str, str], Manifest] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    lists: dict[tuple[str, str], Manifest] = field(default_factory=dict)
    waiting: list[_Waiting] = field(default_factory=list)
    tagging: set[tuple[str, str, str]] = field(default_factory=set)  # (repository, digest, tag)
    trimmed: dict[str, str] = field(default_factory=dict)  # requested digest -> pushed digest

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The local artifact for a tag or digest (`controller/proxy/local.go:GetManifest`)."""
        if not reference.startswith("sha256:"):
            reference = self.tags.get(repository, {}).get(reference, "")
        return self.manifests.get((repository, reference))

    def repositories(self) -> set[str]:
        return {repository for repository, _ in self.manifests}

    def put_manifest(self, repository: str, manifest: Manifest, tag: str | None = None) -> None:
        """Store a manifest (and tag it); any index waiting for it may now be pushed."""
        self._store(repository, manifest, tag)
        self._push_ready(timed_out=False)

    def ensure_tag(self, repository: str, digest: str, tag: str) -> None:
        """`EnsureTag`: put `tag` on `digest` now if it is local, else once it is."""
        self.tagging.add((repository, digest, tag))
        self._apply_tags()

    def _store(self, repository: str, manifest: Manifest, tag: str | None) -> None:
        self.manifests[(repository, manifest.digest)] = manifest
        if tag:
            self.tags.setdefault(repository, {})[tag] = manifest.digest
        self._apply_tags()

    def _apply_tags(self) -> None:
        for wanted in list(self.tagging):
            repository, digest, tag = wanted
            digest = self.trimmed.get(digest, digest)
            if (repository, digest) in self.manifests:
                self.tags.setdefault(repository, {})[tag] = digest
                self.tagging.discard(wanted)

    def cache_list(self, repository: str, requested: str, index: Manifest) -> None:
        """`ManifestListCache.CacheContent`: Redis at once, the local push once children exist;
        `requested` is the request's digest, "" for a tag."""
        self.lists[(repository, index.digest)] = index
        self.waiting.append(_Waiting(repository, requested, index))
        self._push_ready(timed_out=False)

    def settle(self) -> None:
        """Harbor's wait for an index's children ran out: push what can be pushed, trimmed."""
        self._push_ready(timed_out=True)

    def _push_ready(self, *, timed_out: bool) -> None:
        still: list[_Waiting] = []
        for item in self.waiting:
            wanted = {str(c.get("digest")) for c in item.index.children()}
            present = {d for d in wanted if (item.repository, d) in self.manifests}
            if present != wanted and not timed_out:
                still.append(item)
                continue
            pushed = item.index.rebuilt(present) if present else None
            if pushed is not None:  # under its own (rebuilt) digest, with no tag
                self.trimmed[item.requested] = pushed.digest  # cacheTrimmedDigest
                self._store(item.repository, pushed, None)
        self.waiting = still


@dataclass
class Store:
    """Every project's `Content`, by project name."""

    projects: dict[str, Content] = field(default_factory=dict)

    def content(self, project: str) -> Content:
        return self.projects.setdefault(project, Content())

    def settle(self) -> None:
        for content in self.projects.values():
            content.settle()
