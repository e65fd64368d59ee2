"""`helm harbor-mirror verify` and the post-renderer's `--verify` through the installed plugin.

The plugin is installed into real Helm 4 and Helm 3 (tests/support/fixtures_plugin.py); Harbor
is the emulator with a proxy-cache project of the real upstream registry.
"""

from __future__ import annotations

from tests.support.fixtures_plugin import Plugin
from tests.support.fixtures_registry import ADMIN_ENV, CHART, pin_values


def _template(plugin, mirror, *args):
    """`helm template` with the post-renderer; its credentials and CA come from the environment."""
    return plugin.env.run(
        "template", "demo", CHART, "--post-renderer", "harbor-mirror", *args,
        extra_env={**ADMIN_ENV, "HARBOR_MIRROR_CA_FILE": mirror.harbor.ca_file},
    )


def test_helm_harbor_mirror_verify_renders_with_helm_itself(
    plugin: Plugin, mirror
) -> None:
    done = plugin.env.run(
        "harbor-mirror", "verify", "demo", CHART, *pin_values(mirror),
        "--harbor-host", mirror.host, "--ca-file", mirror.harbor.ca_file, extra_env=ADMIN_ENV,
    )
    assert done.returncode == 0, done.stderr
    rows = [row.split() for row in done.stdout.splitlines()[1:5]]
    assert [row[1] for row in rows[:3]] == ["ok", "ok", "ok"]
    # the chart's log shipper stays on registry.suse.com, which Harbor does not serve
    assert rows[3][:3] == ["registry.suse.com/bci/bci-busybox:15.6", "not", "mirrored"]


def test_post_renderer_verify_fails_the_render_when_an_image_is_missing(
    plugin: Plugin, mirror
) -> None:
    args = ["--post-renderer-args", f"--harbor-host={mirror.host}",
            "--post-renderer-args", "--verify", *pin_values(mirror)]
    passed = _template(plugin, mirror, *args)
    assert passed.returncode == 0, passed.stderr
    assert f"image: {mirror.host}/application-collection/containers/etcd:3.5.17-1.2" in (
        passed.stdout
    )
    failed = _template(plugin, mirror, *args, "--set", "images.etcd.tag=9.9.9")
    assert failed.returncode != 0
    assert failed.stdout == ""
    reason = "containers/etcd:9.9.9: missing"
    if plugin.major == 4:  # Helm 4 drops the plugin's stderr; `helm harbor-mirror` keeps it
        shown = plugin.env.run("harbor-mirror")
        assert reason in shown.stdout.replace("\n  ", " ")
    else:
        assert reason in failed.stderr
