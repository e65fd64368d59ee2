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
        # other hosts and look-alike hosts are not Harbor's references
        ("b: notharbor.example:8443/appco/x:1\nc: dp.apps.rancher.io/containers/x:1\n", []),
        ("a: harbor.example:8443/appco/x:1\nb: harbor.example:8443/appco/x:1\n",
         [("harbor.example:8443/appco/x:1", "appco/x", "1")]),
    ],
)
def test_find_references(text, expected):
    found = [(t.reference, t.repository, t.manifest) for t in find(text, RULE)]
    assert found == expected


def test_find_keeps_references_outside_the_project_and_marks_them():
    """A one-letter typo in a chart's registry value is a reference Harbor must be asked for."""
    text = ("a: harbor.example:8443/aplication-collection/containers/etcd:3.5\n"
            "b: harbor.example:8443/appco/containers/etcd:3.5\n"
            "c: oci://HARBOR.example:8443/other/charts\n")
    assert [(t.repository, t.outside, t.prefix) for t in find(text, RULE)] == [
        ("aplication-collection/containers/etcd", True, False),
        ("appco/containers/etcd", False, False),
        ("other/charts", True, True),
    ]


def test_chart_url_maps_upstream_charts_only():
    assert RULE.chart_url("oci://dp.apps.rancher.io/charts/etcd") == (
        "oci://harbor.example:8443/appco/charts/etcd"
    )
    for spelled in ("oci://dp.apps.rancher.io:443/charts/etcd",
                    "oci://user:pass@dp.apps.rancher.io/charts/etcd",
                    "oci://user:pass@DP.apps.rancher.io:443/charts/etcd"):
        assert RULE.chart_url(spelled) == "oci://harbor.example:8443/appco/charts/etcd"
    assert RULE.chart_url("oci://registry.suse.com/charts/etcd") is None
    assert RULE.chart_url("oci://user:pass@registry.suse.com/charts/etcd") is None
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            (
                "containers:\n"
                "  - name: a\n    image: registry.suse.com/bci/bci-busybox:15.6\n"
                '  - image: "busybox:1.36"  # Docker Hub\n'
                "  - image: harbor.example:8443/appco/containers/etcd:3.5\n"
                "  - image: HARBOR.example:8443/other/x:1\n"
                "    env:\n      - {name: X, value: 'registry.suse.com/bci/not-an-image-field:1'}\n"
                "initContainers:\n  - image: 'registry.suse.com/bci/bci-busybox:15.6'\n"
                "  - image: dp.apps.rancher.io/containers/left:1\n"
            ),
            [
                ("registry.suse.com/bci/bci-busybox:15.6", "registry.suse.com/bci/bci-busybox"),
                ("busybox:1.36", "docker.io/busybox"),
            ],
            id="image fields",
        ),
        pytest.param(
            (
                "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n"
                "      - {name: a, image: quay.io/prometheus/node-exporter:v1.8}\n"  # flow style
                "      - name: b\n"
                "        args: ['--config-reloader-image=ghcr.io/acme/reloader:2', --log=info,"
                " '--image-pull-policy=Always', '--image=busybox:1.36']\n"
                "        env:\n"
                "        - {name: PROMETHEUS_CONFIG_RELOADER_IMAGE,"
                " value: 'quay.io/acme/reloader:1'}\n"
                "        - {name: DEFAULT_IMAGE_TAG, value: '1.2.3'}\n"  # not an image
                "        - {name: IMAGE_PULL_POLICY, value: IfNotPresent}\n"
                "        - {name: NOTE, value: 'see registry.suse.com/bci/prose:1'}\n"  # free text
                "---\nkind: Widget\nspec:\n  sidecarImage: gcr.io/acme/sidecar:3\n"
                "  imageTag: '7'\n  description: pulls docker.io/library/redis:7 at start\n"
                "  imageFile: images/logo.png\n  imageRef: quay.io/acme/ref:1\n"
                "  env:\n  - {name: LOGO_IMAGE_PATH, value: assets/logo.png}\n"
                "---\nkind: ConfigMap\ndata:\n"
                "  values: '{\"global\": {\"proxy\": {\"image\": \"istio/proxyv2:1.22\"}}}'\n"
                "  run.sh: |\n    docker pull registry.suse.com/bci/script:1\n"
                "  config.yaml: |\n    sidecar:\n      image: nginx\n"
                "  apply.yaml: |\n    kind: A\n    ---\n    kind: B\n    image: quay.io/b/c:1\n"
            ),
            [
                ("quay.io/prometheus/node-exporter:v1.8", "quay.io/prometheus/node-exporter"),
                ("ghcr.io/acme/reloader:2", "ghcr.io/acme/reloader"),
                ("busybox:1.36", "docker.io/busybox"),
                ("quay.io/acme/reloader:1", "quay.io/acme/reloader"),
                ("gcr.io/acme/sidecar:3", "gcr.io/acme/sidecar"),
                ("quay.io/acme/ref:1", "quay.io/acme/ref"),
                ("istio/proxyv2:1.22", "docker.io/istio/proxyv2"),
                ("nginx", "docker.io/nginx"),
                ("quay.io/b/c:1", "quay.io/b/c"),
            ],
            id="every image-valued place, no free text",
        ),
    ],
)
def test_unmirrored_reads_image_valued_places_on_other_registries(text, expected):
    """Docker Hub short names count only under an `image` key; prose never counts."""
    assert [(t.reference, t.repository) for t in unmirrored(text, RULE)] == expected


def test_unmirrored_takes_the_https_port_as_the_same_registry():
    """`HOST:443` is HOST: verify checks it through Harbor, so it is not also 'not mirrored'."""
    rule = MirrorRule("dp.apps.rancher.io", "harbor.example", "appco")
    text = ("- image: harbor.example:443/appco/containers/etcd:3.5\n"
            "- image: DP.apps.rancher.io:443/containers/etcd:3.5\n"
            "- image: harbor.example:8443/appco/containers/etcd:3.5\n")
    assert [t.reference for t in unmirrored(text, rule)] == [
        "harbor.example:8443/appco/containers/etcd:3.5"
    ]
    assert [t.reference for t in find(text, rule)] == [
        "harbor.example:443/appco/containers/etcd:3.5"
    ]


def test_a_chart_url_one_level_below_the_project_is_a_prefix():
    text = ("a: oci://harbor.example:8443/appco/charts\n"
            "b: oci://harbor.example:8443/appco/charts/etcd\n"
            "c: oci://harbor.example:8443/appco/charts:1.0\n")
    assert [(t.repository, t.prefix) for t in find(text, RULE)] == [
        ("appco/charts", True), ("appco/charts/etcd", False), ("appco/charts", False),
    ]
