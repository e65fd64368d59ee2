"""The post-render path stays light: Helm starts it once per release, so what it imports is
paid on every `helm install`. httpx (the Harbor client's dependency) and click (the human
commands' parser) and cryptography (the signature checks') must never load there."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.startup import SMALL_MANIFEST, postrender_probe
from postrender import lock
from tests.support.rewrite_oracle import TARGET


def test_postrender_never_imports_httpx_click_or_cryptography(tmp_path: Path) -> None:
    probe = postrender_probe(sys.executable, SMALL_MANIFEST, tmp_path)
    assert probe.exit_code == 0
    # The probe really rewrote (so the whole engine ran), with the pull secret renamed.
    assert f"image: {TARGET}/containers/etcd:3.5.14-7.7" in probe.stdout
    assert "- name: harbor-pull" in probe.stdout
    heavy = ("httpx", "httpcore", "click", "cryptography")
    assert [name for name in probe.modules if name.split(".")[0] in heavy] == []


def test_postrender_with_a_lock_reads_it_with_no_heavy_import(tmp_path: Path) -> None:
    reference, digest = f"{TARGET}/containers/etcd:3.5.14-7.7", "sha256:" + "a" * 64
    lock_file = tmp_path / "lock.yaml"
    lock.Lock({reference: lock.ImageLock(digest)}).write(lock_file)
    plain = postrender_probe(sys.executable, SMALL_MANIFEST, tmp_path)
    probe = postrender_probe(sys.executable, SMALL_MANIFEST, tmp_path, "--lock", str(lock_file))
    assert probe.exit_code == 0
    assert f"image: {reference}@{digest}" in probe.stdout
    heavy = ("httpx", "httpcore", "click", "cryptography")
    assert [name for name in probe.modules if name.split(".")[0] in heavy] == []
    added = sorted(set(probe.modules) - set(plain.modules))
    assert [name for name in added if not name.startswith("postrender.")] == []
