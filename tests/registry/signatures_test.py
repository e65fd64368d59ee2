"""Signatures verified through Harbor: content signed here in cosign's format is pushed to a real
`docker-registry` upstream and checked through the emulator's proxy-cache project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postrender.endpoint import Endpoint
from postrender.errors import ConfigError, VerifyFailed
from postrender.registry import Check, Signing, require_signed, verify
from postrender.registry._signatures import SignatureRecord
from postrender.rewrite.rules import MirrorRule
from postrender.trust.cosign import ATTESTATION, SIGNATURE, tag_for
from postrender.trust.keys import parse_key
from tests.harbor_emulator import ADMIN_PASSWORD, ADMIN_USERNAME, HarborEmulator
from tests.support.fixtures_signed import PROJECT, Signed

UPSTREAM_HOST = "dp.apps.rancher.io"


@pytest.fixture
def harbor(signed_harbor: HarborEmulator) -> HarborEmulator:
    return signed_harbor


def _host(harbor: HarborEmulator) -> str:
    return harbor.url.removeprefix("https://")


def _verify(harbor: HarborEmulator, signed: Signed, *references: str, kinds=(SIGNATURE,),
            keys=None, warm=False, platforms=frozenset(), record: Path | None = None
            ) -> list[Check]:
    host = _host(harbor)
    text = "".join(f"image: {host}/{PROJECT}/{ref}\n" for ref in references
                   if not ref.startswith("charts/"))
    charts = [ref for ref in references if ref.startswith("charts/")]
    text += "".join(f"chart: oci://{host}/{PROJECT}/{ref}\n" for ref in charts)
    assert harbor.ca_file is not None
    endpoint = Endpoint(host, PROJECT, harbor.ca_file, credentials=(ADMIN_USERNAME, ADMIN_PASSWORD))
    signing = Signing(tuple(kinds), keys or [signed.key], platforms, warm)
    return verify(text, MirrorRule(UPSTREAM_HOST, host, PROJECT), endpoint, warm_cache=warm,
                  platforms=platforms, signing=signing, record=record)


def _results(checks: list[Check], kind: str = SIGNATURE) -> dict[str, str]:
    return {c.target.repository.split("/", 1)[1]: c.trust[kind].result for c in checks}


def test_signed_images_and_charts_verify_through_harbor(harbor, signed):
    checks = _verify(harbor, signed, "containers/app:1.0", "containers/plain:1.0",
                     "charts/x:0.1.0")
    assert _results(checks) == {"containers/app": "verified", "containers/plain": "verified",
                                "charts/x": "verified"}
    app = checks[0].as_dict()["signature"]
    assert isinstance(app, dict)
    assert app["digest"] == signed.images["containers/app:1.0"].digest
    assert [(p["platform"], p["result"]) for p in app["platforms"]] == [
        ("linux/amd64", "verified"), ("linux/arm64", "verified")]
    require_signed(checks)


@pytest.mark.parametrize(("image", "result", "detail"), [
    ("containers/tampered:1.0", "invalid", "not signed by a trusted key"),
    ("containers/stranger:1.0", "invalid", "not signed by a trusted key"),
    ("containers/elsewhere:1.0", "invalid", "signed, but for another digest (sha256:"),
    ("containers/unsigned:1.0", "missing", "no sha256-"),
])
def test_tampering_is_invalid_and_a_gap_is_missing(harbor, signed, image, result, detail):
    [check] = _verify(harbor, signed, image)
    trust = check.trust[SIGNATURE]
    assert (trust.result, detail in trust.detail) == (result, True), trust.detail
    if result == "missing":
        assert "tag filter may drop" in trust.detail  # the gap says where signatures get lost
    with pytest.raises(VerifyFailed, match=f"{image}: signature {result}"):
        require_signed([check])


def test_a_layer_harbor_cannot_serve_is_a_gap_even_when_the_others_fail(harbor, signed):
    """The layer Harbor could not fetch may be the one the trusted key signed: a gap, not
    tampering, though the layer it did serve is another key's."""
    [check] = _verify(harbor, signed, "containers/cosigned:1.0")
    trust = check.trust[SIGNATURE]
    assert trust.result == "missing", trust.detail
    assert "Harbor could not serve 1 of its 2 layers" in trust.detail
    [either] = _verify(harbor, signed, "containers/cosigned:1.0",
                       keys=[parse_key(signed.stranger.pem, "stranger")])
    assert either.trust[SIGNATURE].result == "verified"  # a layer that verifies still suffices


def test_another_key_fails_and_any_one_of_several_keys_suffices(harbor, signed):
    stranger = parse_key(signed.stranger.pem, "stranger")
    [alone] = _verify(harbor, signed, "containers/plain:1.0", keys=[stranger])
    [either] = _verify(harbor, signed, "containers/plain:1.0", keys=[stranger, signed.key])
    assert alone.trust[SIGNATURE].result == "invalid"
    assert either.trust[SIGNATURE].result == "verified"


def test_platforms_signed_and_the_index_not_is_missing_not_verified(harbor, signed):
    [check] = _verify(harbor, signed, "containers/halfsigned:1.0")
    trust = check.trust[SIGNATURE]
    assert trust.result == "missing"
    assert [p.result for p in trust.platforms] == ["verified", "verified"]


def test_with_platform_the_others_are_not_checked(harbor, signed):
    [check] = _verify(harbor, signed, "containers/app:1.0", platforms=frozenset({"linux/arm64"}))
    trust = check.trust[SIGNATURE]
    assert trust.result == "verified"
    assert [(p.platform, p.result) for p in trust.platforms] == [
        ("linux/amd64", "not checked"), ("linux/arm64", "verified")]


def test_with_platform_naming_none_of_the_index_nothing_is_verified(harbor, signed):
    """The index verifies, but no platform --platform names is there to verify: as --warm
    refuses it, so does the check (a gap, not tampering)."""
    [check] = _verify(harbor, signed, "containers/app:1.0", platforms=frozenset({"linux/s390x"}))
    trust = check.trust[SIGNATURE]
    assert trust.own.result == "verified"
    assert trust.result == "missing"
    assert trust.detail == "the signed index lists no manifest for --platform linux/s390x"


def test_attestations_are_checked_per_platform(harbor, signed):
    checks = _verify(harbor, signed, "containers/app:1.0", "containers/plain:1.0",
                     "containers/unsigned:1.0", kinds=(SIGNATURE, ATTESTATION))
    assert _results(checks, ATTESTATION) == {"containers/app": "verified",
                                             "containers/plain": "verified",
                                             "containers/unsigned": "missing"}
    app = checks[0].trust[ATTESTATION]
    assert app.own.result == "not checked"
    assert [p.result for p in app.platforms] == ["verified", "verified"]


def test_references_harbor_does_not_serve_are_not_checked(harbor, signed):
    text = (f"image: registry.example.com/other:1\n"
            f"image: {_host(harbor)}/{PROJECT}/containers/plain:1.0\n"
            f"url: oci://{_host(harbor)}/{PROJECT}/charts/x\n")  # versions listed, no one chart
    assert harbor.ca_file is not None
    endpoint = Endpoint(_host(harbor), PROJECT, harbor.ca_file,
                      credentials=(ADMIN_USERNAME, ADMIN_PASSWORD))
    checks = verify(text, MirrorRule(UPSTREAM_HOST, _host(harbor), PROJECT), endpoint,
                    signing=Signing((SIGNATURE,), [signed.key]))
    assert [c.trust[SIGNATURE].result for c in checks] == ["verified", "not checked",
                                                           "not checked"]
    assert checks[1].trust[SIGNATURE].detail == (
        "a chart URL without one version: no one chart to check")
    require_signed(checks)  # a reference not through Harbor does not fail the run


def test_after_warm_the_signatures_verify_with_the_upstream_stopped(harbor, signed, tmp_path):
    record = tmp_path / "signatures.json"
    references = ("containers/app:1.0", "containers/plain:1.0", "charts/x:0.1.0")
    warmed = _verify(harbor, signed, *references, kinds=(SIGNATURE, ATTESTATION), warm=True,
                     record=record)
    assert _results(warmed) == dict.fromkeys(
        ["containers/app", "containers/plain", "charts/x"], "verified")
    upstream = signed.upstream.registry
    upstream.stop()
    try:
        offline = _verify(harbor, signed, *references, kinds=(SIGNATURE, ATTESTATION),
                          record=record)
        unrecorded = _verify(harbor, signed, "containers/app:1.0")
    finally:
        upstream.start()
    app = signed.images["containers/app:1.0"]
    assert offline[0].digest != app.digest  # Harbor now serves its own rebuilt list ...
    assert offline[0].trust[SIGNATURE].own.digest == app.digest  # ... checked as the upstream's
    assert _results(offline) == _results(warmed)
    assert _results(offline, ATTESTATION) == {"containers/app": "verified",
                                              "containers/plain": "verified",
                                              "charts/x": "missing"}
    gap = unrecorded[0].trust[SIGNATURE]  # no record: a gap, never tampering
    assert gap.result == "missing"
    assert "run verify --warm --signatures while the upstream answers" in gap.detail


def test_harbors_list_must_name_only_signed_manifests(harbor, signed, tmp_path):
    """A recorded signed index whose platforms Harbor's list does not match: the extra
    manifest is invalid, not a gap."""
    record = tmp_path / "signatures.json"
    host = _host(harbor)
    _verify(harbor, signed, "containers/app:1.0", warm=True, record=record)
    recorded = json.loads(record.read_text())
    reference = f"{host}/{PROJECT}/containers/app:1.0"
    index = json.loads(recorded["indexes"][reference])
    dropped = index["manifests"].pop()
    recorded["indexes"][reference] = json.dumps(index)
    record.write_text(json.dumps(recorded))
    upstream = signed.upstream.registry
    upstream.stop()
    try:
        [check] = _verify(harbor, signed, "containers/app:1.0", record=record)
    finally:
        upstream.start()
    trust = check.trust[SIGNATURE]
    assert trust.result == "invalid"  # the doctored record no longer matches any signature ...
    extra = [p for p in trust.platforms if p.digest == dropped["digest"]]
    assert [p.result for p in extra] == ["invalid"]  # ... and Harbor names an unsigned manifest


def test_a_signature_tag_is_an_ordinary_tag_through_the_proxy(harbor, signed):
    """What the verifier relies on: Harbor serves `sha256-<hex>.sig` from its upstream."""
    plain = signed.images["containers/plain:1.0"]
    [check] = _verify(harbor, signed, "containers/plain:1.0")
    assert check.trust[SIGNATURE].result == "verified"
    stored = harbor.state.store.content(PROJECT)
    assert tag_for(plain.digest, SIGNATURE) in stored.tags["containers/plain"]


def test_after_warm_signatures_are_read_by_digest_sparing_the_upstream(harbor, signed, tmp_path):
    """A read by tag costs Harbor an upstream HEAD; by the digest warming recorded, none."""
    record = tmp_path / "signatures.json"
    _verify(harbor, signed, "containers/plain:1.0", warm=True, record=record)
    plain = signed.images["containers/plain:1.0"]
    tag = tag_for(plain.digest, SIGNATURE)
    recorded = json.loads(record.read_text())["artifacts"]
    artifact = recorded[f"{PROJECT}/containers/plain:{tag}"]
    before = len(harbor.requests)
    [check] = _verify(harbor, signed, "containers/plain:1.0", record=record)
    asked = [r.path for r in harbor.requests[before:] if "/manifests/" in r.path]
    assert check.trust[SIGNATURE].result == "verified"
    assert f"/v2/{PROJECT}/containers/plain/manifests/{artifact}" in asked
    assert not any(path.endswith(f"/manifests/{tag}") for path in asked)


def test_a_signature_record_nested_too_deep_says_to_delete_it(tmp_path: Path) -> None:
    path = tmp_path / "signatures.json"
    path.write_text("[" * 200_000)
    with pytest.raises(ConfigError, match="not a record of verified signatures; delete it"):
        SignatureRecord(path)
