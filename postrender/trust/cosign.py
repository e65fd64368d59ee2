"""Cosign's signature (`.sig`) and attestation (`.att`) artifacts, checked against a digest.

Formats (sigstore/cosign, `specs/SIGNATURE_SPEC.md`): the artifact sits under the tag
`sha256-<hex>.sig` (or `.att`) in the signed manifest's repository (`pkg/oci/remote/remote.go`,
`SignatureTag`, `AttestationTag`); it is an image manifest with one layer per signature.
- A signature layer (`application/vnd.dev.cosign.simplesigning.v1+json`) holds the signed
  payload as its blob, the signature in base64 in the `dev.cosignproject.cosign/signature`
  annotation. The payload's `critical.image.docker-manifest-digest` must name the digest and
  its `critical.type` be cosign's (`pkg/cosign/verifiers.go`, `SimpleClaimVerifier`); the
  `docker-reference` is ignored, as cosign does: it names the upstream, never Harbor.
- An attestation layer (`application/vnd.dsse.envelope.v1+json`) is a DSSE envelope whose
  signature covers `PAE(payloadType, payload)` (DSSE `protocol.md`); one of its in-toto
  subjects must carry the digest (`IntotoSubjectClaimVerifier`; the subject's name is not
  compared).
One layer that passes suffices (`pkg/cosign/verify.go`, `verifySignatures`), and so does a
signature by any one trusted key. Signatures are checked over the bytes as fetched, never over
re-serialised JSON.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from postrender.trust.keys import TrustedKey

SIGNATURE = "signature"
ATTESTATION = "attestation"
LAYER_TYPES = {
    SIGNATURE: "application/vnd.dev.cosign.simplesigning.v1+json",
    ATTESTATION: "application/vnd.dsse.envelope.v1+json",
}
_TAG_SUFFIXES = {SIGNATURE: "sig", ATTESTATION: "att"}
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_CLAIM_TYPE = "cosign container image signature"
IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def tag_for(digest: str, kind: str) -> str:
    """`sha256:<hex>` → `sha256-<hex>.sig` (SIGNATURE) or `.att` (ATTESTATION)."""
    return f"{digest.replace(':', '-', 1)}.{_TAG_SUFFIXES[kind]}"


@dataclass(frozen=True)
class Layer:
    """One layer descriptor of a `.sig`/`.att` manifest."""

    media_type: str
    digest: str
    annotations: dict[str, str]


@dataclass(frozen=True)
class Verdict:
    """Whether the artifact checks for the digest; `detail` names the key or why not."""

    verified: bool
    detail: str


def layers_of(manifest: bytes, kind: str) -> list[Layer] | None:
    """The layers of `kind` a `.sig`/`.att` manifest lists; None when it is no image manifest."""
    body = _json_object(manifest)
    listed = body.get("layers") if body is not None else None
    if not isinstance(listed, list):
        return None
    found = []
    for entry in listed:
        if not isinstance(entry, dict) or entry.get("mediaType") != LAYER_TYPES[kind]:
            continue
        digest = entry.get("digest")
        annotations = entry.get("annotations") or {}
        if isinstance(digest, str) and isinstance(annotations, dict):
            found.append(Layer(LAYER_TYPES[kind], digest,
                               {str(k): str(v) for k, v in annotations.items()}))
    return found


def verdict(
    kind: str, fetched: Sequence[tuple[Layer, bytes]], digest: str, keys: Sequence[TrustedKey]
) -> Verdict:
    """Verified when one layer's blob is signed by one of `keys` and names `digest`."""
    if not fetched:
        return Verdict(False, f"the {kind} artifact holds no {LAYER_TYPES[kind]} layer")
    reasons = []
    for layer, blob in fetched:
        if "sha256:" + hashlib.sha256(blob).hexdigest() != layer.digest:
            reasons.append(f"layer {layer.digest} does not match its own digest")
            continue
        if kind == SIGNATURE:
            outcome = check_simple_signing(
                blob, layer.annotations.get(SIGNATURE_ANNOTATION, ""), digest, keys)
        else:
            outcome = check_envelope(blob, digest, keys)
        if isinstance(outcome, TrustedKey):
            return Verdict(True, f"signed by {outcome.name} ({outcome.fingerprint[:16]}…)")
        reasons.append(outcome)
    return Verdict(False, "; ".join(dict.fromkeys(reasons)))


def check_simple_signing(
    payload: bytes, signature: str, digest: str, keys: Sequence[TrustedKey]
) -> TrustedKey | str:
    """The key that signed a simple-signing `payload` naming `digest`, or why none did."""
    raw = _base64(signature)
    if not raw:
        return f"no signature in its {SIGNATURE_ANNOTATION} annotation"
    signer = _signer(raw, payload, keys)
    if signer is None:
        return "not signed by a trusted key (another key, or the payload was changed)"
    critical = (_json_object(payload) or {}).get("critical")
    critical = critical if isinstance(critical, dict) else {}
    if critical.get("type") != COSIGN_CLAIM_TYPE:
        return f"signed, but its payload is not a {COSIGN_CLAIM_TYPE!r}"
    image = critical.get("image")
    named = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if named != digest:
        return f"signed, but for another digest ({named or 'none'})"
    return signer


def check_envelope(envelope: bytes, digest: str, keys: Sequence[TrustedKey]) -> TrustedKey | str:
    """The key that signed a DSSE `envelope` whose statement has `digest` as a subject, or why
    none did."""
    body = _json_object(envelope)
    if body is None:
        return "the attestation is no DSSE envelope (not a JSON object)"
    payload_type = body.get("payloadType")
    payload = _base64(body.get("payload"))  # standard only: IntotoSubjectClaimVerifier's
    signatures = body.get("signatures")
    if payload_type != IN_TOTO_PAYLOAD_TYPE or payload is None or not isinstance(signatures, list):
        return f"the attestation is no DSSE envelope of {IN_TOTO_PAYLOAD_TYPE}"
    message = pae(payload_type, payload)
    signer = None
    for entry in signatures:
        raw = _dsse_base64(entry.get("sig")) if isinstance(entry, dict) else None
        signer = signer or (_signer(raw, message, keys) if raw else None)
    if signer is None:
        return "not signed by a trusted key (another key, or the envelope was changed)"
    subjects = _subject_digests(payload)
    if digest not in subjects:
        return f"signed, but for another digest ({', '.join(subjects) or 'none'})"
    return signer


def _subject_digests(statement: bytes) -> list[str]:
    """`sha256:<hex>` of every subject of an in-toto statement (names are not compared)."""
    subjects = (_json_object(statement) or {}).get("subject")
    found = []
    for subject in subjects if isinstance(subjects, list) else []:
        digests = subject.get("digest") if isinstance(subject, dict) else None
        hex_digest = digests.get("sha256") if isinstance(digests, dict) else None
        if isinstance(hex_digest, str):
            found.append(f"sha256:{hex_digest}")
    return found


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what an envelope's signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _signer(signature: bytes, message: bytes, keys: Sequence[TrustedKey]) -> TrustedKey | None:
    return next((key for key in keys if key.verifies(signature, message)), None)


def _base64(value: Any, altchars: bytes | None = None) -> bytes | None:
    """Standard base64 as cosign writes it (or with `altchars`); None when `value` is not that."""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        return None


def _dsse_base64(value: Any) -> bytes | None:
    """An envelope's `sig`: DSSE allows standard or URL-safe base64 (`envelope.md`), and
    go-securesystemslib's verifier, which cosign uses, decodes both (`b64Decode`). The payload
    is read as standard base64 only, as cosign's `IntotoSubjectClaimVerifier` reads it."""
    decoded = _base64(value)
    return decoded if decoded is not None else _base64(value, altchars=b"-_")


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: `[[[[…` nested
        return None
    return value if isinstance(value, dict) else None
