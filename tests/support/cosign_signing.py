"""Cosign-format signatures and attestations made in the tests, with keys made in the tests.

What cosign writes (sigstore/cosign at d6d86c22): the simple-signing payload of
`cmd/cosign/cli/sign/sign.go:signDigest` (compact JSON, keys in sigstore's
`payload.Cosign.MarshalJSON` order), a `.sig` image manifest with one layer per signature and
the base64 signature in the layer's `dev.cosignproject.cosign/signature` annotation
(`pkg/oci/static/signature.go`, `pkg/oci/empty/empty.go:Signatures`), and for attestations a
DSSE envelope over an in-toto statement as the layer blob (`pkg/types/payload.go`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from postrender.trust.cosign import LAYER_TYPES, SIGNATURE_ANNOTATION, pae, tag_for
from tests.support.oci_content import OCI_CONFIG, OCI_MANIFEST, Pusher, digest_of

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Signer:
    """A key pair made in the test; `pem` is its public half as `--key` takes it."""

    private: PrivateKey

    @classmethod
    def rsa(cls) -> Signer:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    @classmethod
    def ecdsa(cls) -> Signer:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, message: bytes) -> bytes:
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return self.private.sign(message, ec.ECDSA(hashes.SHA256()))


def simple_signing_payload(digest: str, reference: str = "dp.apps.rancher.io/containers/x"
                           ) -> bytes:
    """The claims cosign signs for `digest`, as Go's json.Marshal writes them."""
    return json.dumps(
        {"critical": {"identity": {"docker-reference": reference},
                      "image": {"docker-manifest-digest": digest},
                      "type": "cosign container image signature"},
         "optional": {"creator": "OBS"}},
        separators=(",", ":"),
    ).encode()


def envelope(signer: Signer, digest: str, predicate_type: str = "https://slsa.dev/provenance/v1"
             ) -> bytes:
    """A DSSE envelope over an in-toto statement whose one subject is `digest`."""
    statement = json.dumps({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": predicate_type,
        "subject": [{"name": "dp.apps.rancher.io/containers/x",
                     "digest": {"sha256": digest.removeprefix("sha256:")}}],
        "predicate": {},
    }).encode()
    payload_type = "application/vnd.in-toto+json"
    return json.dumps({
        "payloadType": payload_type,
        "payload": base64.b64encode(statement).decode(),
        "signatures": [{"keyid": "", "sig": base64.b64encode(
            signer.sign(pae(payload_type, statement))).decode()}],
    }).encode()


def artifact_manifest(kind: str, layers: list[tuple[bytes, dict[str, str]]]) -> bytes:
    """A `.sig`/`.att` image manifest over (blob, annotations) layers, with cosign's empty
    config."""
    config = b"{}"
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": LAYER_TYPES[kind], "digest": digest_of(blob), "size": len(blob),
                    "annotations": annotations} for blob, annotations in layers],
    }).encode()


def signature_layer(signer: Signer, digest: str, payload: bytes | None = None
                    ) -> tuple[bytes, dict[str, str]]:
    """One `.sig` layer: the payload (by default the claims for `digest`) and its signature."""
    payload = simple_signing_payload(digest) if payload is None else payload
    return payload, {SIGNATURE_ANNOTATION: base64.b64encode(signer.sign(payload)).decode()}


def push_artifact(pusher: Pusher, repository: str, digest: str, kind: str,
                  layers: list[tuple[bytes, dict[str, str]]]) -> str:
    """Push a `.sig`/`.att` for `digest` under cosign's tag; returns the artifact's digest."""
    for blob in [b"{}", *(blob for blob, _ in layers)]:
        pusher.blob(repository, blob)
    return pusher.manifest(repository, tag_for(digest, kind), OCI_MANIFEST,
                           artifact_manifest(kind, layers))


def sign(pusher: Pusher, repository: str, digest: str, signer: Signer) -> str:
    """Sign `digest` as `cosign sign --key` does and push the `.sig`."""
    return push_artifact(pusher, repository, digest, "signature", [signature_layer(signer, digest)])


def attest(pusher: Pusher, repository: str, digest: str, signer: Signer) -> str:
    """Attest `digest` as `cosign attest --key` does and push the `.att`."""
    return push_artifact(pusher, repository, digest, "attestation",
                         [(envelope(signer, digest), {"predicateType": "https://slsa.dev/provenance/v1"})])
