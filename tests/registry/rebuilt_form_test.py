"""Telling the list Harbor rebuilds a proxied index into from an upstream's index.

The emulator's `Manifest.rebuilt` models Harbor's `updateManifestList` with distribution's
`FromDescriptors` independently of the code under test, so it is the oracle here.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from postrender.registry._rebuilt_form import in_harbors_rebuilt_form
from tests.harbor_emulator.store import DOCKER_LIST, OCI_INDEX, OCI_MANIFEST, Manifest

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
_WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789.-", min_size=1, max_size=12)
_PLATFORM = st.fixed_dictionaries(
    {"os": st.sampled_from(["linux", "windows"]),
     "architecture": st.sampled_from(["amd64", "arm64", "s390x", "ppc64le"])},
    optional={"variant": st.sampled_from(["v7", "v8"]), "os.version": _WORD},
)
_CHILD = st.fixed_dictionaries(
    {"mediaType": st.sampled_from([OCI_MANIFEST, DOCKER_MANIFEST]),
     "digest": _HEX.map(lambda hex_: "sha256:" + hex_),
     "size": st.integers(1, 10**6),
     "platform": _PLATFORM},
    optional={"annotations": st.dictionaries(_WORD, _WORD, max_size=3)},
)


def upstream_index(children: list[dict[str, object]], annotations: dict[str, str]) -> Manifest:
    """An index as a build tool writes it: compact JSON, the index's own annotations."""
    document: dict[str, object] = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                                   "manifests": children}
    if annotations:
        document["annotations"] = annotations
    return Manifest(OCI_INDEX, json.dumps(document, separators=(",", ":")).encode())


@given(st.lists(_CHILD, min_size=1, max_size=5), st.dictionaries(_WORD, _WORD, max_size=2),
       st.data())
def test_harbors_rebuild_is_recognised_and_the_upstream_index_is_not(children, annotations,
                                                                     data):
    upstream = upstream_index(children, annotations)
    kept = data.draw(st.sets(st.sampled_from([str(c["digest"]) for c in children]), min_size=1))
    assert in_harbors_rebuilt_form(upstream.rebuilt(kept).body)
    assert not in_harbors_rebuilt_form(upstream.body)


def test_a_list_written_indented_but_keeping_the_index_annotations_is_not_harbors():
    child = {"mediaType": OCI_MANIFEST, "size": 5, "digest": "sha256:" + "a" * 64,
             "platform": {"architecture": "amd64", "os": "linux"}}
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child],
                "annotations": {"org.opencontainers.image.created": "2026-01-01"}}
    assert not in_harbors_rebuilt_form(json.dumps(document, indent=3).encode())
    del document["annotations"]
    assert in_harbors_rebuilt_form(json.dumps(document, indent=3).encode())


def test_the_media_type_follows_the_first_child_as_harbor_writes_it():
    child = {"mediaType": DOCKER_MANIFEST, "size": 5, "digest": "sha256:" + "b" * 64,
             "platform": {"architecture": "arm64", "os": "linux"}}
    for media_type, recognised in ((DOCKER_LIST, True), (OCI_INDEX, False)):
        document = {"schemaVersion": 2, "mediaType": media_type, "manifests": [child]}
        assert in_harbors_rebuilt_form(json.dumps(document, indent=3).encode()) is recognised


def test_go_escapes_are_part_of_the_form():
    child = {"mediaType": OCI_MANIFEST, "size": 5, "digest": "sha256:" + "c" * 64,
             "annotations": {"note": "a<b & é"},
             "platform": {"architecture": "amd64", "os": "linux"}}
    document = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}
    as_go = json.dumps(document, indent=3, ensure_ascii=False).replace("<", "\\u003c").replace(
        "&", "\\u0026").encode()
    assert in_harbors_rebuilt_form(as_go)
    assert not in_harbors_rebuilt_form(json.dumps(document, indent=3).encode())  # é as \u00e9


def test_what_is_not_a_json_index_is_not_harbors():
    for body in (b"", b"<html>", b"[]", b'{"manifests": {}}', b"\xff\xfe", b"[" * 5000):
        assert not in_harbors_rebuilt_form(body)
