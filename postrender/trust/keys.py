"""The public keys a signature may be made with: PEM files given with `--key`, or Application
Collection's own key shipped in this package and pinned by its fingerprint.

Keys are read as cosign reads them (sigstore `pkg/signature/verifier.go`, `LoadVerifier`): an
RSA key verifies RSASSA-PKCS1-v1_5 with SHA-256 (Application Collection's scheme), an ECDSA
P-256 key (cosign's default) verifies an ASN.1 DER `(r, s)` with SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from postrender.errors import ConfigError, HarborMirrorError

# sha256 of the DER SubjectPublicKeyInfo of the key SUSE publishes at
# https://apps.rancher.io/ap-pubkey.pem (RSA 2048). A shipped file that does not match it is a
# damaged install, never a new trust root: a rotated key is given with --key (README).
APPCO_FINGERPRINT = "c670f35d705baaf34029935294f6bc3e5da3e99ecd521a6f2c4b3d6f96f3d8be"
APPCO_KEY_FILE = "appco-pubkey.pem"
APPCO_KEY_NAME = "Application Collection's key (built in)"
_MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class TrustedKey:
    """One public key; `name` says where it came from, `fingerprint` is sha256 of its DER."""

    name: str
    fingerprint: str
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey

    @property
    def pem(self) -> str:
        """The key as a PEM `PUBLIC KEY` block, as policies and cosign take it."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def verifies(self, signature: bytes, message: bytes) -> bool:
        """Whether `signature` is this key's signature over `message` (SHA-256)."""
        try:
            if isinstance(self.public_key, rsa.RSAPublicKey):
                self.public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                self.public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def parse_key(pem: bytes, name: str) -> TrustedKey:
    """The key in `pem`; ConfigError naming `name` when it is none cosign would take. A file
    of several keys (an old and a new one during a rotation) would silently trust only the
    first, so it is refused."""
    blocks = pem.count(b"-----BEGIN ")
    if blocks > 1:
        raise ConfigError(f"{name}: {blocks} PEM blocks; give each key with its own --key")
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise ConfigError(f"{name}: not a PEM public key (a 'BEGIN PUBLIC KEY' block)") from None
    except UnsupportedAlgorithm:  # a well-formed key of an algorithm cryptography does not know
        raise ConfigError(f"{name}: neither an RSA nor an ECDSA P-256 public key") from None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ConfigError(f"{name}: an ECDSA key on {key.curve.name}; only P-256 is supported")
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise ConfigError(f"{name}: an RSA key of {key.key_size} bits; at least 2048 needed")
    else:
        raise ConfigError(f"{name}: neither an RSA nor an ECDSA P-256 public key")
    der = key.public_bytes(serialization.Encoding.DER,
                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return TrustedKey(name, hashlib.sha256(der).hexdigest(), key)


def read_key(path: Path) -> TrustedKey:
    """The key in the PEM file at `path` (`--key`)."""
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"--key {path}: cannot read it ({error.strerror})") from None
    return parse_key(pem, f"--key {path}")


def appco_key() -> TrustedKey:
    """Application Collection's key as shipped, checked against the fingerprint pinned here."""
    pem = resources.files("postrender.trust").joinpath(APPCO_KEY_FILE).read_bytes()
    key = parse_key(pem, APPCO_KEY_NAME)
    if key.fingerprint != APPCO_FINGERPRINT:
        raise HarborMirrorError(
            f"{APPCO_KEY_NAME} has fingerprint {key.fingerprint}, not the pinned "
            f"{APPCO_FINGERPRINT}: the install is damaged; reinstall, or give the key with --key"
        )
    return key


def trusted_keys(paths: list[Path]) -> list[TrustedKey]:
    """The keys of `--key` (any one of them suffices, as with cosign); none given: AppCo's."""
    return [read_key(path) for path in paths] if paths else [appco_key()]
