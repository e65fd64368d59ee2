"""Could Harbor have written this list itself?

A proxy cache stores a multi-arch index only as a list it rebuilds (`controller/proxy/
manifestcache.go:ManifestListCache.updateManifestList`, with distribution v2.8.2's
`manifestlist.FromDescriptors`): the children it holds, each as a `ManifestDescriptor`, under
`schemaVersion` and a media type taken from the first child, in Go's `json.MarshalIndent` with
three spaces, the index's own annotations gone. Harbor serves that list for a tag once it serves
from what it stores (the upstream marked unhealthy, or answering 429): its digest is Harbor's,
and nobody signed it. A list whose bytes are not that re-encoding of themselves cannot be it; a
list whose bytes are may be Harbor's, or an upstream's written the same way (`docker manifest
push` uses the same function), so only other evidence tells those apart.
"""

from __future__ import annotations

import json
from typing import Any

from postrender.registry._client import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST

# distribution.Descriptor's JSON fields in struct order; all `omitempty`
_DESCRIPTOR = ("mediaType", "size", "digest", "urls", "annotations")
# manifestlist.PlatformSpec: architecture and os always written, the rest `omitempty`
_PLATFORM_ALWAYS = ("architecture", "os")
_PLATFORM_OPTIONAL = ("os.version", "os.features", "variant", "features")
_GO_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def in_harbors_rebuilt_form(index: bytes) -> bool:
    """Are `index`'s bytes exactly what Harbor would write for the children it names?"""
    try:
        document = json.loads(index)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    children = document.get("manifests") if isinstance(document, dict) else None
    if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
        return False
    return _go_indented(_list_of(children)) == index


def _list_of(children: list[dict[str, Any]]) -> dict[str, Any]:
    """`FromDescriptors`: an OCI index when the first child is an OCI manifest, else a Docker
    list, holding each child as a `ManifestDescriptor`."""
    first = children[0].get("mediaType") if children else None
    return {"schemaVersion": 2, "mediaType": OCI_INDEX if first == OCI_MANIFEST else DOCKER_LIST,
            "manifests": [_descriptor(child) for child in children]}


def _descriptor(child: dict[str, Any]) -> dict[str, Any]:
    """The embedded descriptor's set fields, then the list's own `platform`, which hides the
    descriptor's (Go's shallower field wins), with maps in sorted key order as Go writes them."""
    written = {key: _sorted(child[key]) for key in _DESCRIPTOR if child.get(key)}
    platform = child.get("platform")
    platform = platform if isinstance(platform, dict) else {}
    spec = {key: platform.get(key, "") for key in _PLATFORM_ALWAYS}
    spec.update((key, platform[key]) for key in _PLATFORM_OPTIONAL if platform.get(key))
    written["platform"] = spec
    return written


def _sorted(value: Any) -> Any:
    return dict(sorted(value.items())) if isinstance(value, dict) else value


def _go_indented(document: dict[str, Any]) -> bytes:
    """`json.MarshalIndent(v, "", "   ")`: UTF-8 kept, and `<`, `>`, `&`, U+2028, U+2029
    escaped, as Go's encoder does (outside strings JSON has none of them)."""
    return json.dumps(document, indent=3, ensure_ascii=False).translate(_GO_ESCAPES).encode()
