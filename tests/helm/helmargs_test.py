"""helmargs: the release a `helm template` command line describes, as fleet.yaml needs it."""

from __future__ import annotations

import pytest

from postrender.errors import ConfigError
from postrender.helm.args import CommandLine, Release, release_of, split_own


def parse(args: list[str], environ: dict[str, str]) -> Release:
    """What overlay reads from `helm template ARGS` (Helm 4's reading)."""
    return release_of(CommandLine.parse("template", args, 4), environ)


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


def test_a_short_flag_cluster_is_read_letter_by_letter_up_to_a_value_flag() -> None:
    """pflag's reading: `-gn ns` is `-g` and `-n ns`; `-gndemo` and `-gn=demo` give `-n` the
    rest; a chart after it is still the chart."""
    for cluster in (["-gn", "ns"], ["-gnns"], ["-gn=ns"]):
        line = CommandLine.parse("install", ["oci://u/chart", *cluster, "-f", "v.yaml"], 3)
        assert line.positionals() == ["oci://u/chart"]
        assert line.flags() == [("-g", None), ("-n", "ns"), ("-f", "v.yaml")]


def test_a_value_flag_takes_the_next_argument_whatever_it_looks_like() -> None:
    line = CommandLine.parse("template", ["demo", "c", "--kubeconfig", "-h", "-f", "--", "x"], 4)
    assert line.flags() == [("--kubeconfig", "-h"), ("-f", "--")]
    assert line.positionals() == ["demo", "c", "x"]


@pytest.mark.parametrize(
    ("major", "subcommand", "positionals"),
    [
        (4, "upgrade", ["demo", "chart"]),  # `--server-side auto`
        (4, "install", ["demo", "auto", "chart"]),  # a switch on install
        (3, "upgrade", ["demo", "auto", "chart"]),  # unknown to Helm 3: helm says so
    ],
)
def test_server_side_takes_a_value_only_on_helm_4_upgrade(
    major: int, subcommand: str, positionals: list[str]
) -> None:
    line = CommandLine.parse(subcommand, ["demo", "--server-side", "auto", "chart"], major)
    assert line.positionals() == positionals


def test_the_helm_major_is_asked_only_when_a_flag_reads_differently_on_each() -> None:
    asked: list[int] = []

    def major() -> int:
        asked.append(4)
        return 4

    CommandLine.parse("upgrade", ["demo", "chart", "-n", "ns", "--wait", "--version", "1"], major)
    assert asked == []
    line = CommandLine.parse("upgrade", ["demo", "--server-side", "true", "chart", "--color",
                                         "never"], major)  # fmt: skip
    assert (asked, line.positionals()) == ([4], ["demo", "chart"])


def test_own_options_and_help_are_split_from_helms_arguments_as_helm_reads_them() -> None:
    own = {"-o": True, "--warm": False}
    assert split_own("template", ["demo", "-o", "json", "c", "--warm", "-h"], 4, own) == (
        ["-o", "json", "--warm", "--help"], ["demo", "c"],
    )
    # a helm flag's value stays helm's, whatever it looks like; after `--` all is helm's
    args = ["demo", "c", "--kubeconfig", "-h", "--description", "--warm", "--", "-o"]
    assert split_own("template", args, 3, own) == ([], args)
    assert split_own("template", ["-fhooks.yaml", "-nh", "demo", "c"], 4, own) == (
        [], ["-fhooks.yaml", "-nh", "demo", "c"],
    )
