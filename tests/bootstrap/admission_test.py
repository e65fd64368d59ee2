"""`setup --emit kyverno|kubewarden`: admission policies for the references the post-renderer
writes. Neither engine runs here: each policy is checked against its engine's published CRD
schema, kept as test data (`kyverno-crd/`, `kubewarden-crd/`; source and version in their
READMEs) with unknown fields refused, and by field tests; Kubewarden's module settings, which its
schema leaves open, against kubewarden/verify-image-signatures' `src/settings/`."""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from postrender.bootstrap.admission import (
    KUBEWARDEN,
    KUBEWARDEN_MODULE,
    KYVERNO,
    air_gap_needs,
    check_keys,
    policy,
)
from postrender.errors import ConfigError
from postrender.rewrite.rules import MirrorRule
from postrender.trust.keys import APPCO_FINGERPRINT, appco_key, parse_key
from tests.support.cosign_signing import Signer
from tests.support.setup_runs import assert_one_line_error, host_of, run_cli

RULE = MirrorRule("dp.apps.rancher.io", "harbor.example.com:8443", "appco")


def _load(text: str) -> dict[str, Any]:
    loaded = YAML(typ="safe").load(text)
    assert isinstance(loaded, dict)
    return loaded


def _closed(schema: Any) -> Any:
    """An OpenAPI schema of a CRD with unknown fields refused, as the API server prunes them
    (except where `x-kubernetes-preserve-unknown-fields` keeps them)."""
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    closed = {key: _closed(value) for key, value in schema.items()}
    if "properties" in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
        closed.setdefault("additionalProperties", False)
    return closed


def _schema_errors(crd_file: Path, document: dict[str, Any]) -> list[str]:
    """Where `document` breaks the `v1` schema of the CRD in `crd_file`, unknown fields too."""
    crd = _load(crd_file.read_text())
    [v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    validator = jsonschema.Draft7Validator(_closed(v1["schema"]["openAPIV3Schema"]))
    return sorted(f"{'.'.join(map(str, e.path))}: {e.message}"
                  for e in validator.iter_errors(document))


CRDS = Path(__file__).parent
KYVERNO_CRD = CRDS / "kyverno-crd" / "kyverno.io_clusterpolicies.yaml"
KUBEWARDEN_CRD = CRDS / "kubewarden-crd" / "policies.kubewarden.io_clusteradmissionpolicies.yaml"


def test_the_kyverno_policy_fits_kyvernos_clusterpolicy_schema():
    document = _load(policy(KYVERNO, RULE, [appco_key()], "harbor-pull"))
    assert _schema_errors(KYVERNO_CRD, document) == []
    [verify] = document["spec"]["rules"][0]["verifyImages"]
    verify["imageReferencez"] = verify.pop("imageReferences")  # it bites
    assert _schema_errors(KYVERNO_CRD, document) == [
        "spec.rules.0.verifyImages.0: Additional properties are not allowed "
        "('imageReferencez' was unexpected)"]


def test_the_kubewarden_policy_fits_kubewardens_clusteradmissionpolicy_schema():
    document = _load(policy(KUBEWARDEN, RULE, [appco_key()], "harbor-pull"))
    assert _schema_errors(KUBEWARDEN_CRD, document) == []
    document["spec"]["modul"] = document["spec"].pop("module")  # it bites
    assert _schema_errors(KUBEWARDEN_CRD, document) == [
        "spec: 'module' is a required property",
        "spec: Additional properties are not allowed ('modul' was unexpected)"]


def test_the_kyverno_policy_matches_the_rewritten_references_only():
    [rule] = _load(policy(KYVERNO, RULE, [appco_key()], "harbor-pull"))["spec"]["rules"]
    [verify] = rule["verifyImages"]
    patterns = verify["imageReferences"]
    rewritten = RULE.rewrite("dp.apps.rancher.io/containers/etcd:3.5.17")
    assert rewritten == "harbor.example.com:8443/appco/containers/etcd:3.5.17"
    # Kyverno's wildcard, like fnmatch's, lets `*` span `/`.
    assert any(fnmatch.fnmatchcase(rewritten, p) for p in patterns)
    for other in ("dp.apps.rancher.io/containers/etcd:3.5.17",
                  "harbor.example.com:8443/other/etcd:1"):
        assert not any(fnmatch.fnmatchcase(other, p) for p in patterns)


def test_the_kyverno_policy_works_in_an_air_gap_with_the_robots_secret():
    [rule] = _load(policy(KYVERNO, RULE, [appco_key()], "harbor-pull"))["spec"]["rules"]
    [verify] = rule["verifyImages"]
    assert verify["imageRegistryCredentials"] == {"secrets": ["harbor-pull"]}
    [attestor] = verify["attestors"]
    [entry] = attestor["entries"]
    assert entry["keys"]["rekor"]["ignoreTlog"] is True
    assert entry["keys"]["ctlog"] == {"ignoreSCT": True}
    assert parse_key(entry["keys"]["publicKeys"].encode(), "policy").fingerprint == (
        APPCO_FINGERPRINT)
    assert (verify["mutateDigest"], verify["verifyDigest"], verify["required"]) == (
        True, True, True)


def test_several_keys_mean_any_one_in_kyverno():
    keys = [parse_key(Signer.ecdsa().pem, "a"), parse_key(Signer.rsa().pem, "b")]
    [rule] = _load(policy(KYVERNO, RULE, keys, None))["spec"]["rules"]
    [verify] = rule["verifyImages"]
    [attestor] = verify["attestors"]
    assert attestor["count"] == 1
    assert [parse_key(e["keys"]["publicKeys"].encode(), "x").fingerprint
            for e in attestor["entries"]] == [k.fingerprint for k in keys]
    assert "imageRegistryCredentials" not in verify  # anonymous: no Secret named


def test_the_kubewarden_policy_has_verify_image_signatures_settings():
    document = _load(policy(KUBEWARDEN, RULE, [appco_key()], "harbor-pull"))
    assert (document["apiVersion"], document["kind"]) == (
        "policies.kubewarden.io/v1", "ClusterAdmissionPolicy")
    spec = document["spec"]
    assert spec["module"] == KUBEWARDEN_MODULE
    assert spec["mutating"] is True
    assert {r for rule in spec["rules"] for r in rule["resources"]} == {
        "pods", "replicationcontrollers", "deployments", "replicasets", "statefulsets",
        "daemonsets", "jobs", "cronjobs"}
    [signature] = spec["settings"]["signatures"]
    assert set(signature) == {"image", "pubKeys"}  # src/settings/pub_keys.rs: PubKeys
    assert signature["image"] == "harbor.example.com:8443/appco/*"
    [pem] = signature["pubKeys"]
    assert parse_key(pem.encode(), "policy").fingerprint == APPCO_FINGERPRINT
    assert set(spec["settings"]) == {"signatures", "modifyImagesWithDigest"}  # src/settings/mod.rs


def test_kubewarden_cannot_say_any_one_of_several_keys_so_it_is_refused():
    keys = [parse_key(Signer.ecdsa().pem, "a"), parse_key(Signer.ecdsa().pem, "b")]
    check_keys(KYVERNO, keys)
    check_keys(KUBEWARDEN, keys[:1])
    with pytest.raises(ConfigError, match="Kubewarden requires every key in pubKeys"):
        check_keys(KUBEWARDEN, keys)


def test_the_air_gap_needs_name_the_secret_and_module_but_no_secret_value():
    kyverno = " ".join(air_gap_needs(KYVERNO, "harbor-pull"))
    kubewarden = " ".join(air_gap_needs(KUBEWARDEN, "harbor-pull"))
    assert "'harbor-pull' into namespace 'kyverno'" in kyverno
    assert KUBEWARDEN_MODULE in kubewarden and "PolicyServer.spec.imagePullSecret" in kubewarden
    assert "anonymous" in " ".join(air_gap_needs(KYVERNO, None))


# -- setup --emit kyverno|kubewarden FILE [--key FILE]..., as an operator runs it -------------

def test_setup_emits_a_kyverno_policy_for_its_harbor_with_the_robots_secret(
    harbor, upstream_registry, tmp_path
):
    target = tmp_path / "policy.yaml"
    args = ("--robot", "ci", "--secret-out", str(tmp_path / "pull.json"), "--pull-secret",
            "harbor-pull", "--emit", "kyverno", str(target))
    result = run_cli(harbor.url, upstream_registry, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    assert f"[admission-policy] {target}: created (kyverno, 1 key)" in result.stdout
    assert "'harbor-pull' into namespace 'kyverno'" in result.stdout
    [rule] = _load(target.read_text())["spec"]["rules"]
    [verify] = rule["verifyImages"]
    assert verify["imageReferences"] == [f"{host_of(harbor.url)}/application-collection/*"]
    assert verify["imageRegistryCredentials"] == {"secrets": ["harbor-pull"]}
    (robot,) = harbor.state.robots.values()
    assert robot.secret not in target.read_text() + result.stdout  # names the Secret only
    again = run_cli(harbor.url, upstream_registry, tmp_path, *args)
    assert f"[admission-policy] {target}: unchanged" in again.stdout


def test_setup_emits_kubewarden_with_the_given_key(harbor, upstream_registry, tmp_path):
    key, target = tmp_path / "k.pem", tmp_path / "policy.yaml"
    signer = Signer.ecdsa()
    key.write_bytes(signer.pem)
    result = run_cli(harbor.url, upstream_registry, tmp_path, "--emit", "kubewarden",
                     str(target), "--key", str(key))
    assert result.returncode == 0, result.stderr
    [signature] = _load(target.read_text())["spec"]["settings"]["signatures"]
    assert [parse_key(p.encode(), "x").fingerprint for p in signature["pubKeys"]] == [
        parse_key(signer.pem, "k").fingerprint]
    assert KUBEWARDEN_MODULE in result.stdout


@pytest.mark.parametrize(("args", "needle"), [
    (["--key", "k.pem"], "--key needs --emit kyverno FILE or --emit kubewarden FILE"),
    (["--emit", "kubewarden", "p.yaml", "--key", "k.pem", "--key", "k2.pem"],
     "Kubewarden requires every key in pubKeys to have signed"),
    (["--emit", "kyverno", "p.yaml", "--key", "absent.pem"], "absent.pem: cannot read it"),
    (["--emit", "kyverno", "p.yaml", "--key", "bad.pem"], "not a PEM public key"),
])
def test_setup_refuses_keys_it_cannot_use_before_contacting_harbor(
    args, needle, harbor, upstream_registry, tmp_path
):
    for name in ("k.pem", "k2.pem"):
        (tmp_path / name).write_bytes(Signer.ecdsa().pem)
    (tmp_path / "bad.pem").write_text("hello")
    args = [str(tmp_path / a) if a.endswith(".pem") else a for a in args]
    result = run_cli(harbor.url, upstream_registry, tmp_path, *args)
    assert_one_line_error(result, 2, needle)
    assert harbor.requests == []


def test_setup_emits_a_policy_beside_node_mirror_files(harbor, upstream_registry, tmp_path):
    policy_file, hosts = tmp_path / "kyverno.yaml", tmp_path / "hosts.toml"
    result = run_cli(harbor.url, upstream_registry, tmp_path, "--emit", "containerd",
                     str(hosts), "--emit", "kyverno", str(policy_file))
    assert result.returncode == 0, result.stderr
    assert f"[admission-policy] {policy_file}: created (kyverno, 1 key)" in result.stdout
    assert hosts.is_file()
    assert "anonymous" in result.stdout  # no robot, no pull secret: said, not guessed
