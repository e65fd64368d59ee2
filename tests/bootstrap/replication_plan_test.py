"""The rules planned from a chart select exactly the release's repositories and tags, in
filters Harbor matches without listing the upstream's catalog."""

from __future__ import annotations

import re

import pytest

from postrender.bootstrap.replication_plan import (
    ChartRequest,
    Reference,
    plan_rules,
    signature_tag,
    wanted,
)
from postrender.errors import ConfigError
from tests.harbor_emulator.pattern import specific_path
from tests.harbor_emulator.transfer import matches

CHART = ChartRequest("oci://dp.apps.rancher.io/charts/etcd", "1.2.3+build.4", (),
                     "dp.apps.rancher.io", "appco")  # fmt: skip
INDEX = "sha256:" + "a" * 64
PLATFORM = "sha256:" + "b" * 64


def test_one_rule_per_repository_selects_only_that_repositorys_tags() -> None:
    """Upstream tags Harbor would see per repository: the chart's version must not be taken
    from the images' repositories, nor their tags from the chart's."""
    tags = wanted([
        Reference("containers/etcd", "3.5.17", None),
        Reference("containers/etcd", "1.2.3_build.4", None),
        Reference("containers/kubectl", "1.33.4", "sha256:" + "c" * 64),
        Reference("containers/etcd", "3.5.17", None),
        Reference("containers/busybox", None, None),
    ])  # fmt: skip
    rules = plan_rules(CHART, tags, {("containers/etcd", "3.5.17"): [INDEX, PLATFORM]})
    upstream = {
        "charts/etcd": ["1.2.2", "1.2.3_build.4", "3.5.17"],
        "containers/etcd": ["3.5.16", "3.5.17", "1.2.3_build.4", signature_tag(INDEX),
                            signature_tag(PLATFORM), "sha256-" + "d" * 64 + ".sig"],
        "containers/kubectl": ["1.33.4", "1.33.5"],
        "containers/busybox": ["latest", "15.6"],
        "containers/redis": ["1.33.4"],
    }  # fmt: skip

    selected = {
        repository: [tag for tag in listed if matches(rule.filter_tag, tag)]
        for rule in rules
        for repository, listed in upstream.items()
        if matches(rule.repository, repository)
    }

    assert selected == {
        "charts/etcd": ["1.2.3_build.4"],
        "containers/etcd": ["3.5.17", "1.2.3_build.4", signature_tag(INDEX),
                            signature_tag(PLATFORM)],
        "containers/kubectl": ["1.33.4"],
        "containers/busybox": ["latest"],
    }  # fmt: skip
    assert [rule.name for rule in rules] == [
        "appco:etcd:charts/etcd", "appco:etcd:containers/etcd",
        "appco:etcd:containers/kubectl", "appco:etcd:containers/busybox",
    ]  # fmt: skip


def test_filters_are_specific_paths_with_one_level_of_braces() -> None:
    """Harbor lists no `_catalog` for them (pattern.go:IsSpecificPath), and doublestar
    takes no nested braces."""
    tags = wanted([Reference(f"containers/x{n}", f"1.{n}", None) for n in range(3)]
                  + [Reference("containers/x0", "2.0", None)])  # fmt: skip
    for rule in plan_rules(CHART, tags, {("containers/x0", "2.0"): [INDEX]}):
        assert specific_path(rule.repository) == [rule.repository]
        assert not re.search(r"\{[^}]*\{", rule.filter_tag)
        assert rule.filter_tag.count("{") <= 1
    assert signature_tag(INDEX) == "sha256-" + "a" * 64 + ".sig"


def test_a_reference_by_digest_alone_cannot_be_planned() -> None:
    with pytest.raises(ConfigError, match=r"containers/etcd@sha256:a+ names no tag"):
        wanted([Reference("containers/etcd", None, INDEX)])


@pytest.mark.parametrize("version", ["1.x", "^1.2", ">=1.0.0", "1.2.*", "~1.2", " "])
def test_a_version_range_is_refused(version: str) -> None:
    with pytest.raises(ConfigError, match="must be one exact chart version"):
        ChartRequest(CHART.url, version, (), CHART.upstream_host)


def test_a_chart_tag_is_the_version_as_helm_pushes_it() -> None:
    assert (CHART.repository, CHART.name, CHART.tag) == ("charts/etcd", "etcd", "1.2.3_build.4")
    assert ChartRequest(CHART.url, "1.0.0-xyz", (), CHART.upstream_host).tag == "1.0.0-xyz"


def test_attestation_tags_come_beside_the_signature_tags_when_asked_for() -> None:
    attesting = ChartRequest(CHART.url, "1.0.0", (), CHART.upstream_host, attestations=True)
    (chart_rule,) = plan_rules(attesting, {}, {("charts/etcd", "1.0.0"): [INDEX]})
    (plain_rule,) = plan_rules(CHART, {}, {("charts/etcd", "1.2.3_build.4"): [INDEX]})

    signatures = f"{signature_tag(INDEX)},{signature_tag(INDEX, 'att')}"
    assert chart_rule.filter_tag == f"{{1.0.0,{signatures}}}"
    assert plain_rule.filter_tag == f"{{1.2.3_build.4,{signature_tag(INDEX)}}}"


def test_a_release_naming_its_own_chart_keeps_the_chart_version_in_the_rule() -> None:
    tags = wanted([Reference("charts/etcd", "1.0.0", None)])  # e.g. a Flux HelmRepository
    (chart,) = plan_rules(CHART, tags, {})
    assert chart.tags == ("1.2.3_build.4", "1.0.0")
