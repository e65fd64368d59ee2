"""`setup --mode replication --chart`: copy the chart version first, read from it (rendered
through Harbor with the user's values, as `verify` renders) exactly what the release pulls,
write one rule per repository selecting just that, run them, add the signature tags of the
digests copied, and check every reference through Harbor. The workstation never reads the
upstream: everything it learns comes from Harbor."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TextIO

from postrender import registry
from postrender.bootstrap.outcome import report
from postrender.bootstrap.plan import Plan, Replication
from postrender.bootstrap.replication import ensure_policy, replicate
from postrender.bootstrap.replication_plan import (
    ChartRequest,
    Reference,
    Rule,
    chart_rule,
    first_pass_cost,
    plan_rules,
    signature_pass_cost,
    to_run,
    wanted,
)
from postrender.endpoint import Endpoint
from postrender.errors import ReplicationFailed
from postrender.harbor import HarborClient, Policy, Registry
from postrender.helm.args import CommandLine
from postrender.helm.harbor import Harbor
from postrender.helm.render import helm_major, render
from postrender.rewrite.rules import MirrorRule, Rules
from postrender.rewrite.stream import rewrite_stream

Artifact = tuple[str, str]  # (repository below the project, tag)


class PlannedReplication:
    """One setup run's replication of one chart; see the module docstring for the steps."""

    def __init__(
        self,
        client: HarborClient,
        plan: Plan,
        upstream_endpoint: Registry | None,
        harbor: Endpoint,
        *,
        project_exists: bool,
        dry_run: bool,
        out: TextIO,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        assert plan.chart is not None and plan.replication is not None
        self.client, self.plan, self.upstream_endpoint = client, plan, upstream_endpoint
        self.chart: ChartRequest = plan.chart
        self.base: Replication = plan.replication
        self.dry_run, self.out, self.sleep = dry_run, out, sleep
        self.project_exists = project_exists  # a dry run may plan a project Harbor lacks
        self.mirror = MirrorRule(plan.upstream_host, plan.harbor_host, plan.project)
        self.harbor = replace(harbor, project=plan.project)  # setup's own login: /v2/ and Helm

    def run(self, environ: Mapping[str, str]) -> None:
        copied_chart = self._chart_step()
        if copied_chart is None:
            return
        rendered = self._rendered(environ)
        tags = wanted(self._references(rendered))
        artifacts = list(dict.fromkeys([(self.chart.repository, self.chart.tag), *(
            (repository, tag) for repository, listed in tags.items() for tag in listed
        )]))  # fmt: skip
        before = self._held(artifacts)
        rules = plan_rules(self.chart, tags, before)
        running = to_run(rules, [artifact for artifact in artifacts if not before[artifact]])
        self._report_plan(rules, before, running)
        stored = {rule.name: self._stored_tag_filter(rule.name) for rule in rules}
        policies = {rule.name: self._ensure(rule) for rule in rules}
        subject = f"{self.chart.repository}:{self.chart.tag}"
        if self.dry_run or not self.base.replicate:
            outcome = "would run" if self.base.replicate else "has to run"
            report(self.out, "replicate", subject, f"{outcome} {len(running)} of {len(rules)} "
                   "rules", "" if self.base.replicate else "--replicate runs them")  # fmt: skip
            return
        for rule in running:
            replicate(self.client, policies[rule.name], self._replication(rule),
                      dry_run=False, out=self.out, sleep=self.sleep)
        after = self._held(artifacts)
        self._require_copied(rules, after)
        signatures = self._signature_pass(tags, rules, policies, stored, after)
        self._check(rendered)
        copied = copied_chart + sum(bool(after[a]) and not before[a] for a in artifacts)
        report(self.out, "replicate", subject, f"copied {copied} of {len(artifacts)} planned "
               f"artifacts", f"{len(artifacts) - copied} were in Harbor already; {signatures} "
               "signature tags in Harbor")  # fmt: skip

    # -- the steps --------------------------------------------------------------------------

    def _chart_step(self) -> int | None:
        """1 when this run copied the chart version, 0 when Harbor had it, None in a dry run
        where it has not: nothing more can be planned without it."""
        key = (self.chart.repository, self.chart.tag)
        subject = f"{self.chart.repository}:{self.chart.tag}"
        if self._held([key])[key]:
            report(self.out, "chart", subject, "in Harbor", f"{self.plan.project}/{key[0]}")
            return 0
        first = chart_rule(self.chart)
        if self.dry_run:
            report(self.out, "chart", subject, "not in Harbor yet", (
                f"the first step copies {subject}, 1 artifact; upstream requests: "
                f"{first_pass_cost([first])}"
            ))  # fmt: skip
            self.out.write(
                "The images are planned from the chart once Harbor holds it (this workstation "
                "never reads the upstream): run setup without --dry-run, then again with it.\n"
            )
            self._ensure(first)
            return None
        replicate(self.client, self._ensure(first), self._replication(first),
                  dry_run=False, out=self.out, sleep=self.sleep)
        if not self._held([key])[key]:
            raise ReplicationFailed(
                f"chart {subject} is not in Harbor after rule {first.name!r} "
                f"({first.described()}) ran: the upstream has no such chart version; check "
                "--chart and --version"
            )
        return 1

    def _check(self, rendered: str) -> None:
        """Every reference of the release (and the chart) asked for through Harbor, as
        `verify` asks; the first that does not resolve fails the run."""
        chart = registry.chart_target(self.chart.url, self.chart.version, self.mirror)
        checks = registry.verify(rendered, self.mirror, self.harbor,
                                 charts=[chart] if chart is not None else [])  # fmt: skip
        for check in checks:
            if check.noted:
                report(self.out, "check", check.target.reference, check.result, check.detail)
        registry.require_resolved(checks)
        resolved = sum(not check.noted for check in checks)
        report(self.out, "check", f"{resolved} references", "resolve through Harbor")

    def _rendered(self, environ: Mapping[str, str]) -> str:
        """The release as `verify` sees it: rendered from Harbor's copy, then rewritten."""
        chart = self.chart
        args = [chart.name, chart.url, "--version", chart.version, *chart.values_args]
        line = CommandLine.parse("template", args, lambda: helm_major(environ))
        text = render(line, environ, Harbor(self.mirror, self.harbor))
        return rewrite_stream(text, Rules.from_settings(self.plan.post_renderer_settings())).text

    def _references(self, rendered: str) -> list[Reference]:
        below = self.plan.project + "/"
        return [
            Reference(target.repository.removeprefix(below), target.tag, target.digest)
            for target in registry.find(rendered, self.mirror)
            if not (target.chart and target.tag is None and target.digest is None)
        ]

    def _report_plan(
        self, rules: Sequence[Rule], held: Mapping[Artifact, list[str]], running: Sequence[Rule]
    ) -> None:
        missing = [artifact for artifact, digests in held.items() if not digests]
        report(self.out, "plan", f"{self.chart.name} {self.chart.version}", (
            f"{len(rules)} repositories, {len(held)} artifacts "
            f"({len(held) - len(missing)} in Harbor, {len(missing)} to copy)"
        ))  # fmt: skip
        for rule in rules:
            states = ", ".join(
                f"{tag} {'in Harbor' if held[(rule.repository, tag)] else 'to copy'}"
                for tag in rule.tags
            )
            report(self.out, "plan", rule.repository, states, f"rule {rule.name!r}")
        report(self.out, "plan", "upstream requests", first_pass_cost(running),
               f"then the signature pass: {signature_pass_cost(running)}")

    def _require_copied(self, rules: Sequence[Rule], held: Mapping[Artifact, list[str]]) -> None:
        """A run that left out a planned artifact: Harbor copies every listed tag its filter
        matches, so the upstream does not list that one."""
        lost = [(rule, tag) for rule in rules for tag in rule.tags
                if not held[(rule.repository, tag)]]  # fmt: skip
        if lost:
            rule, tag = lost[0]
            raise ReplicationFailed(
                f"{len(lost)} planned artifacts are not in Harbor after the run; first: "
                f"{rule.repository}:{tag}: rule {rule.name!r} ({rule.described()}) ran without "
                "copying it, so the upstream lists no such tag (check the tags in the values)"
            )

    def _signature_pass(
        self, tags: Mapping[str, Sequence[str]], rules: Sequence[Rule],
        policies: Mapping[str, Policy | None], stored: Mapping[str, str | None],
        held: Mapping[Artifact, list[str]],
    ) -> int:  # fmt: skip
        """Put the `.sig` (and `.att`) tags of the digests now known into each rule, and run
        the rules whose tag filter this setup run changed (`stored` is what Harbor had before)
        while Harbor lacks some of those tags; the number of them in Harbor. A digest the
        upstream has no signature for is reported, not a failure, and tried again only when
        the rule changes."""
        signed = plan_rules(self.chart, tags, held)
        found = 0
        for old, rule in zip(rules, signed, strict=True):
            policy = self._ensure(rule) if rule != old else policies[rule.name]
            wanted_tags = [(rule.repository, tag) for tag in rule.signatures]
            present = sum(bool(d) for d in self._held(wanted_tags).values())
            if present < len(wanted_tags) and rule.filter_tag != stored[rule.name]:
                replicate(self.client, policy, self._replication(rule),
                          dry_run=False, out=self.out, sleep=self.sleep)
                present = sum(bool(d) for d in self._held(wanted_tags).values())
            found += present
            if present < len(wanted_tags):
                report(self.out, "signatures", rule.repository,
                       f"{present} of {len(wanted_tags)} in Harbor",
                       "the upstream has no such tag for the others")
        return found

    # -- helpers ----------------------------------------------------------------------------

    def _replication(self, rule: Rule) -> Replication:
        return replace(self.base, filter_name=rule.repository, filter_tag=rule.filter_tag,
                       policy_name=rule.name)

    def _ensure(self, rule: Rule) -> Policy | None:
        planned = replace(self.plan, replication=self._replication(rule))
        return ensure_policy(self.client, planned, self.upstream_endpoint, dry_run=self.dry_run,
                             out=self.out)

    def _stored_tag_filter(self, name: str) -> str | None:
        """The tag filter of the rule of that name as Harbor holds it now, if any."""
        policy = self.client.find_policy(name)
        filters = policy.body.get("filters") if policy is not None else None
        return next((str(f.get("value")) for f in filters or []
                     if isinstance(f, dict) and f.get("type") == "tag"), None)  # fmt: skip

    def _held(self, artifacts: Sequence[Artifact]) -> dict[Artifact, list[str]]:
        if not self.project_exists:
            return {artifact: [] for artifact in artifacts}
        below = self.plan.project + "/"
        found = registry.held(self.harbor, [(below + repo, tag) for repo, tag in artifacts])
        return {artifact: found[(below + artifact[0], artifact[1])] for artifact in artifacts}
