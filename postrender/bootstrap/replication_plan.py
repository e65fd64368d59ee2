"""Replication planned from a chart: exactly the repositories and tags one release pulls, as
Harbor pull rules that select that set and nothing more.

Harbor's rule has one name filter and one tag filter for every repository it names
(`pkg/reg/filter`), so one rule per repository is the only way to keep each repository to its
own tags: `containers/etcd` with `3.5.17-1.2` must not also take a `0.1.0` that only the chart
needs. Each rule's name filter is the repository itself, a specific path that Harbor lists no
`_catalog` for (`pkg/reg/util/pattern.go:IsSpecificPath`), and its tag filter is the planned
tags in one level of braces (doublestar takes no nested braces) plus, once Harbor holds them,
cosign's `sha256-<hex>.sig` tags of exactly their digests. Rules are named after the chart and
the repository, so another chart adds rules of its own and never narrows an earlier chart's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from postrender.errors import ConfigError

CHARTS = "charts/"


def signature_tag(digest: str, suffix: str = "sig") -> str:
    """cosign's tag for the signatures (`sig`) or attestations (`att`) of `digest`
    (`pkg/oci/remote/remote.go:SignatureTag`, `AttestationTag`)."""
    algorithm, _, hexadecimal = digest.partition(":")
    return f"{algorithm}-{hexadecimal}.{suffix}"


@dataclass(frozen=True)
class ChartRequest:
    """`--chart oci://UPSTREAM/charts/NAME --version V` and the values arguments for Helm."""

    url: str
    version: str
    values_args: tuple[str, ...] = ()
    upstream_host: str = ""
    policy_prefix: str = "application-collection"  # the rules are named <prefix>:<chart>:<repo>
    attestations: bool = False  # copy the `.att` tags beside the `.sig` tags
    repository: str = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        path = parts.path.strip("/")
        if (
            parts.scheme != "oci"
            or parts.netloc.lower() != self.upstream_host.lower()
            or not path.startswith(CHARTS)
        ):
            raise ConfigError(
                f"--chart {self.url!r} must be the upstream's chart URL, "
                f"oci://{self.upstream_host}/charts/NAME"
            )
        ranged = set(self.version) & set("*^~<>=|, ") or {"x", "X"} & set(self.version.split("."))
        if not self.version.strip() or ranged:
            raise ConfigError(
                f"--version {self.version!r} must be one exact chart version: Harbor cannot list "
                "the upstream's versions for a rule"
            )
        object.__setattr__(self, "repository", path)

    @property
    def name(self) -> str:
        return self.repository.rpartition("/")[2]

    @property
    def tag(self) -> str:
        """The tag Helm pushes a chart version under (OCI tags have no `+`)."""
        return self.version.replace("+", "_")


@dataclass(frozen=True)
class Reference:
    """One upstream reference the release pulls: path below the upstream host, tag, digest."""

    repository: str
    tag: str | None
    digest: str | None


@dataclass(frozen=True)
class Rule:
    """One repository's rule: its planned tags, and the signature tags of their digests."""

    name: str
    repository: str
    tags: tuple[str, ...]
    signatures: tuple[str, ...] = ()

    @property
    def filter_tag(self) -> str:
        selected = [*self.tags, *self.signatures]
        return selected[0] if len(selected) == 1 else "{" + ",".join(selected) + "}"

    def described(self) -> str:
        return f"name={self.repository}, tag={self.filter_tag}"


def rule_name(chart: ChartRequest, repository: str) -> str:
    """`<policy name>:<chart>:<repository>`: one chart's rule for one repository."""
    return f"{chart.policy_prefix}:{chart.name}:{repository}"


def chart_rule(chart: ChartRequest) -> Rule:
    """The first step: the chart version alone, which the rest of the plan is read from."""
    return Rule(rule_name(chart, chart.repository), chart.repository, (chart.tag,))


def wanted(references: Iterable[Reference]) -> dict[str, tuple[str, ...]]:
    """repository → the tags the release pulls from it, in order of first appearance. A rule
    selects tags, so a reference by digest alone cannot be planned."""
    tags: dict[str, list[str]] = {}
    for reference in references:
        if reference.tag is None and reference.digest is not None:
            raise ConfigError(
                f"{reference.repository}@{reference.digest} names no tag, and a replication "
                "rule selects tags: give the image a tag in the values as well, or use "
                "--mode proxy-cache"
            )
        tag = reference.tag or "latest"
        listed = tags.setdefault(reference.repository, [])
        if tag not in listed:
            listed.append(tag)
    return {repository: tuple(listed) for repository, listed in tags.items()}


def plan_rules(
    chart: ChartRequest,
    tags: Mapping[str, Sequence[str]],
    digests: Mapping[tuple[str, str], Sequence[str]],
) -> list[Rule]:
    """One rule per repository, the chart's first; `digests` maps (repository, tag) to the
    digests Harbor already holds for it (an index and its platforms), whose signature tags
    (and attestation tags, when asked for) the rule selects too."""
    planned: dict[str, tuple[str, ...]] = {chart.repository: (chart.tag,)}
    for repository, listed in tags.items():  # the release may name its own chart too
        planned[repository] = tuple(dict.fromkeys([*planned.get(repository, ()), *listed]))
    rules = []
    suffixes = ("sig", "att") if chart.attestations else ("sig",)
    for repository, selected in planned.items():
        signatures = [
            signature_tag(digest, suffix)
            for tag in selected
            for digest in digests.get((repository, tag), ())
            for suffix in suffixes
        ]
        rules.append(Rule(
            rule_name(chart, repository), repository, tuple(selected),
            tuple(dict.fromkeys(signatures)),
        ))  # fmt: skip
    return rules


def to_run(rules: Sequence[Rule], missing: Sequence[tuple[str, str]]) -> list[Rule]:
    """The rules with something to copy: the only ones the first pass starts."""
    return [rule for rule in rules if any(repo == rule.repository for repo, _ in missing)]


def first_pass_cost(rules: Sequence[Rule]) -> str:
    """What running `rules` makes Harbor ask the upstream: a tag list each, then each selected
    manifest, pulled before Harbor looks whether it holds it (`transfer.go:copyArtifact`);
    what the manifests name is known only once they are copied."""
    if not rules:
        return "none"
    manifests = sum(len(rule.tags) for rule in rules)
    return (f"{len(rules)} tag lists and {manifests} manifests, plus one per platform "
            "manifest and blob Harbor lacks")


def signature_pass_cost(rules: Sequence[Rule]) -> str:
    """The signature pass runs `rules` again: a tag list each, each planned manifest pulled
    once more (and found in Harbor), and each signature the upstream has."""
    if not rules:
        return "none"
    manifests = sum(len(rule.tags) for rule in rules)
    return (f"{len(rules)} tag lists and {manifests} manifests, plus two per signature the "
            "upstream has")
