"""Which Harbor references `verify` finds in a rewritten stream, and how chart URLs map."""

from __future__ import annotations

import pytest

from postrender.registry import chart_target, find
from postrender.registry._references import unmirrored
from postrender.rewrite.rules import MirrorRule

RULE = MirrorRule("dp.apps.rancher.io", "harbor.example:8443", "appco")
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("image: harbor.example:8443/appco/containers/etcd:3.5\n",
         [("harbor.example:8443/appco/containers/etcd:3.5", "appco/containers/etcd", "3.5")]),
        ('args: ["--image=harbor.example:8443/appco/containers/x:1.0."]',
         [("harbor.example:8443/appco/containers/x:1.0", "appco/containers/x", "1.0")]),
        (f"value: harbor.example:8443/appco/containers/x@{DIGEST}",
         [(f"harbor.example:8443/appco/containers/x@{DIGEST}", "appco/containers/x", DIGEST)]),
        ("image: harbor.example:8443/appco/containers/y",
         [("harbor.example:8443/appco/containers/y", "appco/containers/y", "latest")]),
        ("url: oci://harbor.example:8443/appco/charts/etcd:1.2.3",
         [("oci://harbor.example:8443/appco/charts/etcd:1.2.3", "appco/charts/etcd", "1.2.3")]),
        ("url: oci://harbor.example:8443/appco/charts",
         [("oci://harbor.example:8443/appco/charts", "appco/charts", None)]),
        # other projects, other hosts and look-alike hosts are not Harbor's references
        ("a: harbor.example:8443/other/x:1\nb: notharbor.example:8443/appco/x:1\n"
         "c: dp.apps.rancher.io/containers/x:1\n", []),
        ("a: harbor.example:8443/appco/x:1\nb: harbor.example:8443/appco/x:1\n",
         [("harbor.example:8443/appco/x:1", "appco/x", "1")]),
    ],
)
def test_find_references(text, expected):
    found = [(t.reference, t.repository, t.manifest) for t in find(text, RULE)]
    assert found == expected


def test_chart_url_maps_upstream_charts_only():
    assert RULE.chart_url("oci://dp.apps.rancher.io/charts/etcd") == (
        "oci://harbor.example:8443/appco/charts/etcd"
    )
    assert RULE.chart_url("oci://registry.suse.com/charts/etcd") is None
    assert RULE.chart_url("dp.apps.rancher.io/charts/etcd") is None


def test_chart_target_takes_upstream_and_harbor_urls_with_their_version():
    upstream = chart_target("oci://dp.apps.rancher.io/charts/etcd", "1.0.0", RULE)
    assert upstream is not None
    assert (upstream.repository, upstream.manifest) == ("appco/charts/etcd", "1.0.0")
    harbor = chart_target("oci://harbor.example:8443/appco/charts/etcd", None, RULE)
    assert harbor is not None
    assert (harbor.repository, harbor.manifest, harbor.chart) == ("appco/charts/etcd", None, True)
    assert chart_target("./charts/etcd", "1.0.0", RULE) is None


@pytest.mark.parametrize(
    "chart",
    ["oci://other.example/x?dp.apps.rancher.io/charts/etcd",
     "oci://other.example/x:dp.apps.rancher.io/charts/etcd"],
)  # fmt: skip
def test_chart_target_checks_only_a_chart_helm_fetches_from_harbor(chart):
    """The chart of another registry that only mentions the upstream further on is not mapped
    for Helm (`MirrorRule.chart_url`), so verify has no Harbor chart to check either."""
    assert RULE.chart_url(chart) is None
    assert chart_target(chart, "1.0.0", RULE) is None


@pytest.mark.parametrize(
    ("version", "manifest"),
    [
        ("1.0.0", "1.0.0"),
        ("1.0.0+build.7", "1.0.0_build.7"),  # Helm pushes and pulls `+` as `_`
        ("^1.0", None),  # ranges name no single tag: the chart's versions are listed
        (">=1.0.0 <2", None),
        ("1.x", None),
        ("1.2.*", None),
    ],
)
def test_chart_target_asks_for_the_tag_helm_pulls(version, manifest):
    target = chart_target("oci://dp.apps.rancher.io/charts/etcd", version, RULE)
    assert target is not None
    assert (target.repository, target.manifest) == ("appco/charts/etcd", manifest)


def test_unmirrored_finds_image_fields_on_other_registries():
    text = (
        "containers:\n"
        "  - name: a\n    image: registry.suse.com/bci/bci-busybox:15.6\n"
        '  - image: "busybox:1.36"  # Docker Hub\n'
        "  - image: harbor.example:8443/appco/containers/etcd:3.5\n"
        "  - image: HARBOR.example:8443/other/x:1\n"
        "    env:\n      - {name: X, value: 'registry.suse.com/bci/not-an-image-field:1'}\n"
        "initContainers:\n  - image: 'registry.suse.com/bci/bci-busybox:15.6'\n"
        "  - image: dp.apps.rancher.io/containers/left:1\n"
    )
    found = [(t.reference, t.repository) for t in unmirrored(text, RULE)]
    assert found == [
        ("registry.suse.com/bci/bci-busybox:15.6", "registry.suse.com/bci/bci-busybox"),
        ("busybox:1.36", "docker.io/busybox"),
    ]


def test_a_chart_url_one_level_below_the_project_is_a_prefix():
    text = ("a: oci://harbor.example:8443/appco/charts\n"
            "b: oci://harbor.example:8443/appco/charts/etcd\n"
            "c: oci://harbor.example:8443/appco/charts:1.0\n")
    assert [(t.repository, t.prefix) for t in find(text, RULE)] == [
        ("appco/charts", True), ("appco/charts/etcd", False), ("appco/charts", False),
    ]
