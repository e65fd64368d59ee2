"""The fixture charts rendered by real Helm 4 and Helm 3, through the post-renderer.

Each chart in `charts-fixtures/` has an `expected-images.txt` written by hand; these tests hold
the rendered chart to it (so a chart edit that drops a case shows up) and the post-renderer's
output to the rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.support.fixtures_helm import HelmEnv
from tests.support.rewrite_oracle import (
    FIXTURE_CHART_NAMES,
    FIXTURE_CHARTS,
    HARBOR_HOST,
    HARBOR_SECRET,
    PROJECT,
    UPSTREAM,
    UPSTREAM_SECRET,
    TextDocument,
    at_path,
    decoded_auths,
    expected_document,
    find_object,
    harbor,
    load_all,
    normalise_secrets,
    path_parts,
    postrender_ok,
    upstream_mentions,
)

_DOCUMENT_START = re.compile(r"^---[^\n]*\n", re.M)


class Row(NamedTuple):
    """One line of a chart's expected-images.txt."""

    what: str
    obj: str
    path: str
    value: str


def read_inventory(chart: str) -> list[Row]:
    text = (FIXTURE_CHARTS / chart / "expected-images.txt").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return [Row(*line.split("\t")) for line in lines]


class Rendered(NamedTuple):
    chart: str
    before: str
    after: str
    report: list[dict[str, Any]]
    rows: list[Row]


@pytest.fixture(params=["helm4", "helm3"])
def helm(request: pytest.FixtureRequest, helm_env: Callable[[Path], HelmEnv]) -> HelmEnv:
    return helm_env(request.getfixturevalue(request.param))


@pytest.fixture(params=FIXTURE_CHART_NAMES)
def rendered(request: pytest.FixtureRequest, helm: HelmEnv, tmp_path: Path) -> Rendered:
    """`helm template` of one chart (CRDs included), piped through `harbor-mirror postrender`."""
    chart = str(request.param)
    result = helm.run("template", "demo", FIXTURE_CHARTS / chart, "-n", "demo-ns", "--include-crds")
    assert result.returncode == 0, result.stderr
    report_file = tmp_path / "report.json"
    args = ["--pull-secret", HARBOR_SECRET, "--report", str(report_file)]
    after = postrender_ok(result.stdout, *args)
    report = json.loads(report_file.read_text(encoding="utf-8"))
    return Rendered(chart, result.stdout, after, report, read_inventory(chart))


def _documents(text: str) -> list[Any]:
    return [doc for doc in load_all(text) if doc is not None]


def _mentions(node: Any, path: tuple[str | int, ...] = ()) -> set[tuple[str | int, ...]]:
    """Paths of every scalar that names the upstream host, walked without the engine."""
    if isinstance(node, dict):
        return {p for key, value in node.items() for p in _mentions(value, (*path, key))}
    if isinstance(node, list):
        return {p for index, value in enumerate(node) for p in _mentions(value, (*path, index))}
    if isinstance(node, str) and upstream_mentions(node):
        return {path}
    return set()


def test_chart_renders_everything_its_inventory_lists(rendered: Rendered) -> None:
    """Guard: the hand-written inventory and the chart agree, so the checks below cover it all."""
    documents = _documents(rendered.before)
    for row in rendered.rows:
        value = at_path(find_object(documents, row.obj), row.path)
        if row.what == "split-registry":
            assert value == {**value, "registry": UPSTREAM, "repository": row.value}
        elif row.what == "auths":
            assert row.value in decoded_auths(find_object(documents, row.obj))
        else:
            assert row.value in value, row
    inventoried = {
        (row.obj, path_parts(row.path) + (("registry",) if row.what == "split-registry" else ()))
        for row in rendered.rows
        if row.what in ("image", "split-registry", "registry", "text")
    }
    found = {
        (f"{doc['kind']}/{doc['metadata']['name']}", path)
        for doc in documents
        if doc.get("type") != "kubernetes.io/dockerconfigjson"
        for path in _mentions(doc)
    }
    assert found == inventoried


def test_chart_references_all_rewritten(rendered: Rendered) -> None:
    assert upstream_mentions(rendered.after) == []
    before = _documents(rendered.before)
    after = _documents(rendered.after)
    for row in rendered.rows:
        old = at_path(find_object(before, row.obj), row.path)
        new = at_path(find_object(after, row.obj), row.path)
        if row.what == "image":
            assert harbor(row.value) in new, row
            assert new == harbor(old), row
        elif row.what == "split-registry":
            assert new == {**old, "registry": HARBOR_HOST, "repository": f"{PROJECT}/{row.value}"}
        elif row.what == "secret":
            assert HARBOR_SECRET in new.split(","), row
            assert row.value not in new.split(","), row
        elif row.what == "auths":
            auths = decoded_auths(find_object(after, row.obj))
            assert auths == {HARBOR_HOST: decoded_auths(find_object(before, row.obj))[UPSTREAM]}
        elif row.what == "registry":
            assert new == f"{HARBOR_HOST}/{PROJECT}", row
        elif row.what == "text":
            expected = expected_document(old, rename=True)
            assert isinstance(expected, TextDocument), row
            assert new == expected, row
            assert row.value not in new, row
        else:
            assert new == old, row


def test_chart_output_parses_to_input_with_expected_values(rendered: Rendered) -> None:
    before = _documents(rendered.before)
    after = _documents(rendered.after)
    assert [normalise_secrets(doc) for doc in after] == [
        expected_document(doc, rename=True) for doc in before
    ]


def test_chart_documents_without_rewrites_are_byte_identical(rendered: Rendered) -> None:
    """The CRD, with its `image` schema keys and YAML 1.1 `- =`, must pass through untouched."""
    before = _DOCUMENT_START.split(rendered.before)
    after = _DOCUMENT_START.split(rendered.after)
    assert len(after) == len(before)
    untouched = [
        (old, new)
        for old, new in zip(before, after, strict=True)
        if all(expected_document(doc, rename=True) == doc for doc in load_all(old))
    ]
    assert untouched
    for old, new in untouched:
        assert new == old


def test_chart_report_names_every_inventoried_rewrite(rendered: Rendered) -> None:
    """Each rewrite once, and nothing else: a split pair as its two keys, `keep` rows never."""
    entries = [(f"{e['kind']}/{e['name']}", path_parts(e["path"])) for e in rendered.report]
    reported = set(entries)
    for row in rendered.rows:
        if row.what in ("image", "secret"):
            assert (row.obj, path_parts(row.path)) in reported, row
    expected = []
    for row in rendered.rows:
        if row.what == "split-registry":
            expected += [
                (row.obj, path_parts(f"{row.path}.{key}")) for key in ("registry", "repository")
            ]
        elif row.what != "keep":
            expected.append((row.obj, path_parts(row.path)))
    assert sorted(entries, key=str) == sorted(expected, key=str)


@pytest.mark.parametrize("chart", FIXTURE_CHART_NAMES)
def test_chart_drops_pull_secrets_duplicated_by_the_rename(
    chart: str, helm4: Path, helm_env: Callable[[Path], HelmEnv]
) -> None:
    """A release that already lists the Harbor secret ends up with it once, in every form."""
    both = (
        f"global.imagePullSecrets[0].name={UPSTREAM_SECRET},"
        f"global.imagePullSecrets[1].name={HARBOR_SECRET}"
    )
    chart_dir = FIXTURE_CHARTS / chart
    result = helm_env(helm4).run("template", "demo", chart_dir, "-n", "demo-ns", "--set", both)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(HARBOR_SECRET) > 1
    after = postrender_ok(result.stdout, "--pull-secret", HARBOR_SECRET)
    before = _documents(result.stdout)
    expected = [expected_document(doc, rename=True) for doc in before]
    assert [normalise_secrets(doc) for doc in _documents(after)] == expected
    assert expected != [normalise_secrets(doc) for doc in before]
