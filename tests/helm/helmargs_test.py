"""helmargs: the release a `helm template` command line describes, as fleet.yaml needs it."""

from __future__ import annotations

import pytest

from postrender.errors import ConfigError
from postrender.helm.args import parse


def test_parse_reads_name_chart_and_flags_in_any_order() -> None:
    release = parse(
        ["--include-crds", "-f", "a.yaml", "etcd", "--values=b.yaml", "--dry-run",
         "oci://dp.apps.rancher.io/charts/etcd", "-n", "db", "--version", "1.2.3", "-f", "c.yaml"],
        {},
    )
    assert (release.name, release.chart) == ("etcd", "oci://dp.apps.rancher.io/charts/etcd")
    assert (release.namespace, release.version) == ("db", "1.2.3")
    assert release.values_files == ["a.yaml", "b.yaml", "c.yaml"]  # Helm's precedence order
    assert release.sets == []


def test_parse_without_a_name_and_with_set_flags() -> None:
    release = parse(["./chart", "--set", "a=b", "--set-string=c=d"], {"HELM_NAMESPACE": "ns"})
    assert (release.name, release.chart, release.namespace) == (None, "./chart", "ns")
    assert release.sets == ["--set", "--set-string"]


@pytest.mark.parametrize("flag", ["--post-renderer", "--post-renderer-args", "--output-dir"])
def test_parse_refuses_flags_that_hide_the_rendered_stream(flag: str) -> None:
    with pytest.raises(ConfigError, match=f"{flag} is not allowed"):
        parse(["demo", "chart", flag, "x"], {})


def test_parse_names_a_flag_left_without_its_value() -> None:
    with pytest.raises(ConfigError, match="helm flag --values needs a value"):
        parse(["demo", "chart", "--values"], {})


def test_parse_reads_a_short_flag_with_its_value_attached() -> None:
    release = parse(["demo", "chart", "-ndb", "-fa.yaml", "-f=b.yaml", "-n=other"], {})
    assert release.namespace == "other"
    assert release.values_files == ["a.yaml", "b.yaml"]
