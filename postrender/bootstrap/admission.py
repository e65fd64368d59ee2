"""Admission policies that verify signatures on the references the post-renderer writes
(`setup --emit kyverno|kubewarden FILE`).

Application Collection's own recipes match `dp.apps.rancher.io/*`, which no rewritten pod names
any more; these match `HARBOR_HOST/PROJECT/*` (both engines' `*` spans `/`), check the same keys
as `verify --signatures`, fetch signatures through Harbor with the robot's pull Secret, and skip
every transparency-log and certificate-log check, which an air gap cannot reach. Field names:
Kyverno `api/kyverno/v1/image_verification_types.go` (`kyverno.io/v1` ClusterPolicy);
kubewarden/verify-image-signatures `src/settings/mod.rs`, `src/settings/pub_keys.rs`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from postrender.bootstrap.outcome import Outcome, report
from postrender.bootstrap.plan import Plan
from postrender.errors import ConfigError
from postrender.files import atomic_write
from postrender.rewrite.rules import MirrorRule, Rules

if TYPE_CHECKING:
    from postrender.trust.keys import TrustedKey

KYVERNO = "kyverno"
KUBEWARDEN = "kubewarden"
FORMATS = (KYVERNO, KUBEWARDEN)
POLICY_NAME = "harbor-mirror-verify-signatures"
KYVERNO_NAMESPACE = "kyverno"  # where Kyverno reads imageRegistryCredentials.secrets from
# The policy module Kubewarden's PolicyServer downloads (latest release tag when written).
KUBEWARDEN_MODULE = "ghcr.io/kubewarden/policies/verify-image-signatures:v1.0.4"
# Kyverno types `keys.rekor.url` as required even when the log is ignored; it is never contacted.
_REKOR_UNUSED = "https://rekor.sigstore.dev"
# The workload kinds verify-image-signatures reads images from (its metadata.yml rules).
_WORKLOADS = [
    ("", ["pods", "replicationcontrollers"]),
    ("apps", ["deployments", "replicasets", "statefulsets", "daemonsets"]),
    ("batch", ["jobs", "cronjobs"]),
]


def ensure_admission_policy(
    plan: Plan, fmt: str, path: Path, keys: Sequence[TrustedKey], *, dry_run: bool, out: TextIO
) -> None:
    """Write the policy (mode 0644: public keys only), then what the engine needs in an air gap.

    The pull Secret is the robot's (`--robot`), else `--pull-secret`: the one the
    post-renderer puts on the rewritten pods, so the engine pulls signatures as they do."""
    secret = plan.robot.secret_name if plan.robot is not None else plan.pull_secret
    rule = Rules.from_settings(plan.post_renderer_settings()).mirror
    text = policy(fmt, rule, keys, secret)
    note = f"{fmt}, {len(keys)} key{'s' if len(keys) > 1 else ''}"
    if path.is_file() and _current(path) == text:
        outcome = Outcome.UNCHANGED
    else:
        outcome = Outcome.update(dry_run) if path.exists() else Outcome.create(dry_run)
        if not dry_run:
            atomic_write(path, text.encode("utf-8"), mode=0o644, option="--emit")
    report(out, "admission-policy", str(path), outcome, note)
    for need in air_gap_needs(fmt, secret):
        report(out, "admission-policy", "air gap", "to do", need)


def _current(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def policy(fmt: str, rule: MirrorRule, keys: Sequence[TrustedKey], secret: str | None) -> str:
    """The policy as YAML; `secret` is the robot's pull Secret name (None: anonymous pulls)."""
    if fmt == KYVERNO:
        return _dump(_kyverno(rule, keys, secret))
    return _dump(_kubewarden(rule, keys))


def air_gap_needs(fmt: str, secret: str | None) -> list[str]:
    """What the engine itself needs to work in an air gap, for the user to do (no secrets)."""
    if fmt == KYVERNO:
        pull = (f"copy the robot's pull Secret {secret!r} into namespace {KYVERNO_NAMESPACE!r} "
                "(imageRegistryCredentials are read from Kyverno's own namespace)"
                if secret else "the project must allow anonymous pulls (no pull Secret given)")
        return [
            pull,
            "trust Harbor's CA in Kyverno's admission controller if Harbor's certificate is "
            "private",
            "disable Kyverno's Sigstore TUF root refresh or give it a cached root (kyverno#8691); "
            "the policy itself asks no transparency log",
        ]
    pull = (f"copy the robot's pull Secret {secret!r} into the PolicyServer's namespace and name "
            "it in PolicyServer.spec.imagePullSecret" if secret
            else "the project must allow anonymous pulls (no pull Secret given)")
    return [
        f"mirror the policy module {KUBEWARDEN_MODULE} into a registry the PolicyServer reaches "
        "and change spec.module to it",
        pull,
        "trust Harbor's CA in the PolicyServer's sourceAuthorities if Harbor's certificate is "
        "private",
    ]


def check_keys(fmt: str, keys: Sequence[TrustedKey]) -> None:
    """Refuse what an engine cannot say: Kubewarden's `pubKeys` means every key must have
    signed, so "any one of these keys" has no Kubewarden policy."""
    if fmt == KUBEWARDEN and len(keys) > 1:
        raise ConfigError(
            f"--emit kubewarden: {len(keys)} keys given, but Kubewarden requires every key in "
            "pubKeys to have signed (AND), not any one of them; give one --key, or use "
            "--emit kyverno (count: 1)"
        )


def _images(rule: MirrorRule) -> str:
    return f"{rule.target_prefix}/*"


def _kyverno(rule: MirrorRule, keys: Sequence[TrustedKey], secret: str | None) -> dict[str, Any]:
    verify: dict[str, Any] = {
        "imageReferences": [_images(rule)],
        "type": "Cosign",
        "failureAction": "Enforce",
        "mutateDigest": True,
        "verifyDigest": True,
        "required": True,
        "attestors": [{
            "count": 1,  # any one key suffices, as with cosign and verify --signatures
            "entries": [{"keys": {
                "publicKeys": LiteralScalarString(key.pem),
                "signatureAlgorithm": "sha256",
                "rekor": {"url": _REKOR_UNUSED, "ignoreTlog": True},
                "ctlog": {"ignoreSCT": True},
            }} for key in keys],
        }],
    }
    if secret:
        verify["imageRegistryCredentials"] = {"secrets": [secret]}
    return {
        "apiVersion": "kyverno.io/v1",
        "kind": "ClusterPolicy",
        "metadata": {"name": POLICY_NAME, "annotations": {
            "policies.kyverno.io/description":
                f"Images pulled through Harbor ({rule.target_prefix}) must carry a signature by "
                "a trusted key; written by helm-harbor-mirror setup --emit kyverno.",
        }},
        "spec": {
            "background": False,
            "webhookTimeoutSeconds": 30,
            "rules": [{
                "name": "verify-signatures-through-harbor",
                "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
                "verifyImages": [verify],
            }],
        },
    }


def _kubewarden(rule: MirrorRule, keys: Sequence[TrustedKey]) -> dict[str, Any]:
    return {
        "apiVersion": "policies.kubewarden.io/v1",
        "kind": "ClusterAdmissionPolicy",
        "metadata": {"name": POLICY_NAME},
        "spec": {
            "module": KUBEWARDEN_MODULE,
            "mode": "protect",
            "mutating": True,
            "rules": [{"apiGroups": [group], "apiVersions": ["v1"], "resources": resources,
                       "operations": ["CREATE", "UPDATE"]} for group, resources in _WORKLOADS],
            "settings": {
                "modifyImagesWithDigest": True,
                "signatures": [{"image": _images(rule),
                                "pubKeys": [LiteralScalarString(key.pem) for key in keys]}],
            },
        },
    }


def _dump(document: dict[str, Any]) -> str:
    yaml = YAML()
    yaml.width = 1 << 16
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()
