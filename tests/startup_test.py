"""The post-render path stays light: Helm starts it once per release, so what it imports is
paid on every `helm install`. httpx (the Harbor client's dependency) and click (the human
commands' parser) and cryptography (the signature checks') must never load there."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.startup import SMALL_MANIFEST, postrender_probe
from tests.support.rewrite_oracle import TARGET


def test_postrender_never_imports_httpx_click_or_cryptography(tmp_path: Path) -> None:
    probe = postrender_probe(sys.executable, SMALL_MANIFEST, tmp_path)
    assert probe.exit_code == 0
    # The probe really rewrote (so the whole engine ran), with the pull secret renamed.
    assert f"image: {TARGET}/containers/etcd:3.5.14-7.7" in probe.stdout
    assert "- name: harbor-pull" in probe.stdout
    heavy = ("httpx", "httpcore", "click", "cryptography")
    assert [name for name in probe.modules if name.split(".")[0] in heavy] == []
