"""The pin pass: each Harbor reference by tag gains its locked digest and nothing else changes;
what the lock does not know, or knows by another digest, is refused."""

from __future__ import annotations

import pytest

from postrender.rewrite.pin import Pin, PinRefused, pin
from postrender.rewrite.rules import MirrorRule

A, B, C = ("sha256:" + letter * 64 for letter in "abc")
RULE = MirrorRule("dp.apps.rancher.io", "harbor.example.com:8443", "appco")
ETCD = "harbor.example.com:8443/appco/containers/etcd:3.5"
PINS = {ETCD: Pin(B, frozenset({A, B}))}


def test_every_reference_by_tag_gets_its_digest_and_no_other_byte_changes():
    text = (f"image: {ETCD}\n"
            f"args: ['--image={ETCD}', \"x {ETCD}, y\"]\n"
            f"script: |\n  crane pull {ETCD} /tmp\n"
            "other: docker.io/library/etcd:3.5\n")
    pinned = pin(text, RULE, PINS, where="lock.yaml")
    assert pinned.text == text.replace(ETCD, f"{ETCD}@{B}")
    assert pinned.not_pinned == []


def test_a_reference_with_a_known_digest_and_charts_are_left_alone():
    text = (f"image: {ETCD}@{A}\nchart: oci://harbor.example.com:8443/appco/charts/etcd:1.0\n"
            "repo: oci://harbor.example.com:8443/appco/charts\n")
    assert pin(text, RULE, PINS, where="lock.yaml").text == text


def test_a_reference_the_lock_lacks_is_refused_naming_it():
    with pytest.raises(PinRefused, match=r"^harbor.example.com:8443/appco/containers/redis:7 is "
                                         r"not in the lock file lock.yaml; re-run `helm "
                                         r"harbor-mirror verify --write-lock`"):
        pin("image: harbor.example.com:8443/appco/containers/redis:7\n", RULE, PINS,
            where="lock.yaml")


def test_a_reference_with_another_digest_is_refused():
    with pytest.raises(PinRefused, match=f"pins it to {B}, not this digest"):
        pin(f"image: {ETCD}@{C}\n", RULE, PINS, where="lock.yaml")


def test_a_bare_registry_host_cannot_carry_a_digest_and_is_listed():
    text = ("image:\n  registry: harbor.example.com:8443\n"
            "  repository: appco/containers/etcd\n  tag: '3.5'\n"
            "url: https://harbor.example.com:8443\n")
    pinned = pin(text, RULE, PINS, where="lock.yaml")
    assert pinned.text == text
    assert pinned.not_pinned == ["line 2: registry: harbor.example.com:8443"]
