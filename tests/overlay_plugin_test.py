"""`helm harbor-mirror overlay` through the installed plugin, on Helm 4 and Helm 3.

Helm keeps `-n` for itself (it becomes HELM_NAMESPACE) and hands the plugin HELM_BIN; the
overlay must still render the release the user named and write the same files as the bare CLI.
"""

from __future__ import annotations

from pathlib import Path

from tests.fixtures_charts_test import CHARTS
from tests.fixtures_plugin import Plugin
from tests.kustomize_emulation import overlay_cli, read_yaml
from tests.rewrite_oracle import HARBOR_HOST, HARBOR_SECRET

CHART = CHARTS / "widget-operator"


def test_overlay_through_helm_equals_the_bare_cli(
    plugin: Plugin,
    helm4: Path,
    tmp_path: Path,
) -> None:
    through_helm = tmp_path / "via-helm"
    done = plugin.env.run(
        "harbor-mirror", "overlay", "--layout", "fleet", "--out", through_helm,
        "--harbor-host", HARBOR_HOST, "--pull-secret", HARBOR_SECRET,
        "demo", CHART, "-n", "demo-ns",
    )
    assert done.returncode == 0, done.stderr
    bare = tmp_path / "bare"
    made = overlay_cli(
        "--layout", "fleet", "--out", bare, "--pull-secret", HARBOR_SECRET,
        "demo", CHART, "-n", "demo-ns", tmp_path=tmp_path, helm=helm4,
    )
    assert made.returncode == 0, made.stderr
    assert read_yaml(through_helm / "fleet.yaml")["defaultNamespace"] == "demo-ns"
    for name in ("fleet.yaml", "harbor-mirror/kustomization.yaml"):
        assert read_yaml(through_helm / name) == read_yaml(bare / name), name
