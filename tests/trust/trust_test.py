"""Cosign signatures and DSSE attestations checked offline: keys made here, and the real
Application Collection key with one of its published attestations."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from postrender.errors import ConfigError
from postrender.trust import keys
from postrender.trust.cosign import (
    ATTESTATION,
    SIGNATURE,
    Layer,
    check_envelope,
    check_simple_signing,
    layers_of,
    tag_for,
    verdict,
)
from postrender.trust.keys import TrustedKey, parse_key, read_key, trusted_keys
from tests.support.cosign_signing import (
    Signer,
    artifact_manifest,
    envelope,
    signature_layer,
    simple_signing_payload,
)
from tests.support.oci_content import digest_of

APPCO = Path(__file__).parent / "appco-signing"
ETCD_AMD64 = "sha256:7e4ec052525fad97b54a66801e4c2a11887c0f42a1622148d7234e1164169753"
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def trusted(signer: Signer, name: str = "test key") -> TrustedKey:
    return parse_key(signer.pem, name)


def flip(data: bytes, at: int) -> bytes:
    """`data` with the byte at `at` changed to another printable one."""
    changed = bytearray(data)
    changed[at] = ord("A") if changed[at] != ord("A") else ord("B")
    return bytes(changed)


@pytest.fixture(scope="module", params=["rsa", "ecdsa"])
def signer(request: pytest.FixtureRequest) -> Signer:
    return Signer.rsa() if request.param == "rsa" else Signer.ecdsa()


def test_cosign_tags_name_the_digest() -> None:
    assert tag_for(DIGEST, SIGNATURE) == f"sha256-{'ab' * 32}.sig"
    assert tag_for(DIGEST, ATTESTATION) == f"sha256-{'ab' * 32}.att"


def test_a_signature_by_the_key_over_claims_naming_the_digest_verifies(signer: Signer) -> None:
    payload, annotations = signature_layer(signer, DIGEST)
    signature = annotations["dev.cosignproject.cosign/signature"]
    key = trusted(signer)
    assert check_simple_signing(payload, signature, DIGEST, [key]) is key


@pytest.mark.parametrize("at", [0, 40, -3])
def test_one_byte_changed_in_the_payload_is_invalid(signer: Signer, at: int) -> None:
    payload, annotations = signature_layer(signer, DIGEST)
    changed = flip(payload, at if at >= 0 else len(payload) + at)
    outcome = check_simple_signing(
        changed, annotations["dev.cosignproject.cosign/signature"], DIGEST, [trusted(signer)])
    assert outcome == "not signed by a trusted key (another key, or the payload was changed)"


def test_another_key_is_invalid_and_any_one_trusted_key_suffices(signer: Signer) -> None:
    payload, annotations = signature_layer(signer, DIGEST)
    signature = annotations["dev.cosignproject.cosign/signature"]
    stranger = trusted(Signer.ecdsa(), "stranger")
    assert isinstance(check_simple_signing(payload, signature, DIGEST, [stranger]), str)
    mine = trusted(signer, "mine")
    assert check_simple_signing(payload, signature, DIGEST, [stranger, mine]) is mine


def test_a_signed_payload_naming_another_digest_is_invalid(signer: Signer) -> None:
    payload, annotations = signature_layer(signer, OTHER)
    outcome = check_simple_signing(
        payload, annotations["dev.cosignproject.cosign/signature"], DIGEST, [trusted(signer)])
    assert outcome == f"signed, but for another digest ({OTHER})"


def test_a_signed_payload_of_another_type_is_invalid(signer: Signer) -> None:
    claims = json.loads(simple_signing_payload(DIGEST))
    claims["critical"]["type"] = "atomic container signature"
    payload, annotations = signature_layer(signer, DIGEST, json.dumps(claims).encode())
    outcome = check_simple_signing(
        payload, annotations["dev.cosignproject.cosign/signature"], DIGEST, [trusted(signer)])
    assert outcome == "signed, but its payload is not a 'cosign container image signature'"


def test_the_signature_covers_the_bytes_not_the_json(signer: Signer) -> None:
    """The same claims written with other spacing are other bytes: only the signed ones pass."""
    payload, annotations = signature_layer(signer, DIGEST)
    respaced = json.dumps(json.loads(payload), indent=1).encode()
    outcome = check_simple_signing(
        respaced, annotations["dev.cosignproject.cosign/signature"], DIGEST, [trusted(signer)])
    assert isinstance(outcome, str)


@pytest.mark.parametrize("signature", ["", "not base64!"])
def test_a_missing_or_unreadable_signature_annotation_is_invalid(signature: str) -> None:
    outcome = check_simple_signing(simple_signing_payload(DIGEST), signature, DIGEST,
                                   [trusted(Signer.ecdsa())])
    assert outcome == "no signature in its dev.cosignproject.cosign/signature annotation"


def test_a_dsse_attestation_subject_names_the_digest(signer: Signer) -> None:
    key = trusted(signer)
    assert check_envelope(envelope(signer, DIGEST), DIGEST, [key]) is key
    assert check_envelope(envelope(signer, OTHER), DIGEST, [key]) == (
        f"signed, but for another digest ({OTHER})")
    assert isinstance(check_envelope(envelope(Signer.ecdsa(), DIGEST), DIGEST, [key]), str)


def test_an_envelope_signature_in_url_safe_base64_verifies_as_cosign_takes_it(signer: Signer
                                                                              ) -> None:
    """go-securesystemslib's DSSE verifier decodes `sig` in either alphabet; cosign's subject
    check decodes `payload` as standard base64 only."""
    body = json.loads(envelope(signer, DIGEST))
    [entry] = body["signatures"]
    url_safe = base64.urlsafe_b64encode(base64.b64decode(entry["sig"])).decode()
    assert url_safe != entry["sig"]  # the alphabets really differ here
    entry["sig"] = url_safe
    key = trusted(signer)
    assert check_envelope(json.dumps(body).encode(), DIGEST, [key]) is key


def test_a_changed_envelope_payload_is_invalid(signer: Signer) -> None:
    body = json.loads(envelope(signer, DIGEST))
    statement = json.loads(base64.b64decode(body["payload"]))
    statement["predicateType"] = "https://example.com/other"
    body["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    outcome = check_envelope(json.dumps(body).encode(), DIGEST, [trusted(signer)])
    assert outcome == "not signed by a trusted key (another key, or the envelope was changed)"


def test_the_artifact_verdict_takes_any_layer_that_passes_and_checks_each_blob() -> None:
    signer, stranger = Signer.ecdsa(), Signer.ecdsa()
    good = signature_layer(signer, DIGEST)
    bad = signature_layer(stranger, DIGEST, simple_signing_payload(DIGEST, "elsewhere/x"))
    manifest = artifact_manifest(SIGNATURE, [bad, good])
    listed = layers_of(manifest, SIGNATURE)
    assert listed is not None
    assert [layer.digest for layer in listed] == [digest_of(bad[0]), digest_of(good[0])]
    fetched = list(zip(listed, [bad[0], good[0]], strict=True))
    found = verdict(SIGNATURE, fetched, DIGEST, [trusted(signer, "mine")])
    assert found.verified and found.detail.startswith("signed by mine (")
    swapped = [(listed[1], bad[0])]  # the blob served is not the one the manifest names
    assert verdict(SIGNATURE, swapped, DIGEST, [trusted(signer)]).detail == (
        f"layer {listed[1].digest} does not match its own digest")
    assert verdict(SIGNATURE, [], DIGEST, [trusted(signer)]).detail == (
        "the signature artifact holds no application/vnd.dev.cosign.simplesigning.v1+json layer")


def test_layers_of_reads_only_the_kind_asked_for() -> None:
    manifest = artifact_manifest(ATTESTATION, [(b"{}", {"predicateType": "x"})])
    assert layers_of(manifest, SIGNATURE) == []
    assert layers_of(manifest, ATTESTATION) == [
        Layer("application/vnd.dsse.envelope.v1+json", digest_of(b"{}"), {"predicateType": "x"})]
    assert layers_of(b"<html>", SIGNATURE) is None


def test_json_nested_past_the_recursion_limit_is_no_artifact_not_a_crash() -> None:
    """Whatever Harbor serves: a `.sig` manifest or a DSSE envelope of `[[[[…` is present but
    wrong (invalid), never an unexpected error."""
    bomb = b"[" * 100_000
    assert layers_of(bomb, SIGNATURE) is None
    assert check_envelope(bomb, DIGEST, [trusted(Signer.ecdsa())]) == (
        "the attestation is no DSSE envelope (not a JSON object)")


# -- Application Collection's real key and one of its published attestations -----------------

def test_the_real_appco_attestation_verifies_with_the_shipped_key() -> None:
    key = keys.appco_key()
    assert key.fingerprint == keys.APPCO_FINGERPRINT
    assert key.pem == (APPCO / "appco-pubkey.pem").read_text()
    vector = (APPCO / "etcd-3.5.12-amd64.att.json").read_bytes()
    assert check_envelope(vector, ETCD_AMD64, [key]) is key


@pytest.mark.parametrize("field", ["payload", "sig"])
def test_the_real_appco_attestation_fails_with_one_byte_changed(field: str) -> None:
    vector = (APPCO / "etcd-3.5.12-amd64.att.json").read_bytes()
    at = vector.index(f'"{field}":"'.encode()) + len(field) + 40
    outcome = check_envelope(flip(vector, at), ETCD_AMD64, [keys.appco_key()])
    assert outcome == "not signed by a trusted key (another key, or the envelope was changed)"


def test_the_real_appco_attestation_binds_only_its_own_digest() -> None:
    vector = (APPCO / "etcd-3.5.12-amd64.att.json").read_bytes()
    assert check_envelope(vector, DIGEST, [keys.appco_key()]) == (
        f"signed, but for another digest ({ETCD_AMD64})")


def test_a_shipped_key_that_is_not_the_pinned_one_is_refused(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setattr(keys, "APPCO_FINGERPRINT", "0" * 64)
    with pytest.raises(Exception, match="the install is damaged"):
        keys.appco_key()


# -- --key files ---------------------------------------------------------------------------

def test_key_files_replace_the_built_in_key(tmp_path: Path) -> None:
    signer = Signer.rsa()
    (tmp_path / "k.pem").write_bytes(signer.pem)
    [key] = trusted_keys([tmp_path / "k.pem"])
    assert key.name == f"--key {tmp_path / 'k.pem'}"
    assert [k.fingerprint for k in trusted_keys([])] == [keys.APPCO_FINGERPRINT]


@pytest.mark.parametrize(("content", "problem"), [
    (b"hello", "not a PEM public key (a 'BEGIN PUBLIC KEY' block)"),
    ("p384", "an ECDSA key on secp384r1; only P-256 is supported"),
    ("rsa1024", "an RSA key of 1024 bits; at least 2048 needed"),
    ("ed25519", "neither an RSA nor an ECDSA P-256 public key"),
    ("unknown", "neither an RSA nor an ECDSA P-256 public key"),
])
def test_a_key_file_cosign_would_not_take_is_one_readable_error(
    tmp_path: Path, content: bytes | str, problem: str
) -> None:
    made: dict[str, Callable[[], ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                             | ed25519.Ed25519PublicKey]] = {
        "p384": lambda: ec.generate_private_key(ec.SECP384R1()).public_key(),
        "rsa1024": lambda: rsa.generate_private_key(65537, 1024).public_key(),
        "ed25519": lambda: ed25519.Ed25519PrivateKey.generate().public_key(),
    }
    path = tmp_path / "key.pem"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content == "unknown":
        path.write_bytes(_unknown_algorithm_pem())
    else:
        path.write_bytes(made[content]().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    with pytest.raises(ConfigError) as raised:
        read_key(path)
    assert str(raised.value) == f"--key {path}: {problem}"


def test_a_key_file_of_two_keys_is_refused_not_half_trusted(tmp_path: Path) -> None:
    path = tmp_path / "rotation.pem"
    path.write_bytes(Signer.rsa().pem + Signer.rsa().pem)
    with pytest.raises(ConfigError) as raised:
        read_key(path)
    assert str(raised.value) == f"--key {path}: 2 PEM blocks; give each key with its own --key"


def _unknown_algorithm_pem() -> bytes:
    """A well-formed PEM public key whose algorithm OID no library knows (1.2.840.10045.2.9):
    cryptography raises UnsupportedAlgorithm for it, not ValueError."""
    der = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    id_ec_public_key = bytes.fromhex("2a8648ce3d0201")
    der = der.replace(id_ec_public_key, bytes.fromhex("2a8648ce3d0209"), 1)
    body = base64.encodebytes(der).decode()
    return f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n".encode()


def test_an_unreadable_key_file_is_one_readable_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--key .*absent\.pem: cannot read it \("):
        read_key(tmp_path / "absent.pem")
