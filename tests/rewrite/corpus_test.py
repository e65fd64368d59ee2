"""The post-renderer over real charts (`../shared/corpus`), checked against their inventories.

Each corpus file runs once through the real `harbor-mirror postrender` process per pull-secret
setting; the tests then compare input and output line by line, value by value and by the
`--report`, all against the hand-checked `*.images.txt` inventories.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from tests.support.rewrite_oracle import (
    CORPUS,
    HARBOR_SECRET,
    UPSTREAM,
    UPSTREAM_SECRET,
    expected_document,
    harbor,
    load_all,
    normalise_secrets,
    postrender_ok,
    rename_secret_word,
    upstream_mentions,
)

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no shared corpus at {CORPUS}")

STEMS = sorted(path.name.removesuffix(".yaml") for path in CORPUS.glob("*.yaml"))
FILENAME = "postrenderer.helm.sh/postrender-filename"


class Occurrence(NamedTuple):
    """One Section 2 row: an image reference at a line of the corpus file."""

    ref: str
    line: int
    obj: str
    path: str
    upstream: bool


class SecretRef(NamedTuple):
    """One Section 4 row: a pull-secret name at a line of the corpus file."""

    line: int
    obj: str
    path: str
    name: str


@dataclass(frozen=True)
class Inventory:
    unique: list[str]
    occurrences: list[Occurrence]
    secrets: list[SecretRef]

    @classmethod
    def read(cls, path: Path) -> Inventory:
        unique: list[str] = []
        occurrences: list[Occurrence] = []
        secrets: list[SecretRef] = []
        section = 1
        for raw in path.read_text(encoding="utf-8").splitlines():
            heading = re.match(r"# Section (\d)", raw)
            if heading:
                section = int(heading.group(1))
            elif not raw.startswith("#"):
                unique.append(raw.strip())
            elif "\t" in raw:
                columns = raw.removeprefix("# ").split("\t")
                if section == 2:
                    ref, line, obj, yaml_path, _where, upstream = columns
                    is_upstream = upstream == "upstream"
                    occurrences.append(Occurrence(ref, int(line), obj, yaml_path, is_upstream))
                elif section == 4:
                    line, obj, yaml_path, name, _hook = columns
                    # "…env[2].value (env var PULL_SECRET_NAME)": the path is what comes first.
                    secrets.append(SecretRef(int(line), obj, yaml_path.split(" (")[0], name))
        return cls(unique, occurrences, secrets)

    def renamed(self, rename: bool) -> list[SecretRef]:
        return [secret for secret in self.secrets if rename and secret.name == UPSTREAM_SECRET]


class Run(NamedTuple):
    """One corpus file through the post-renderer with one pull-secret setting."""

    stem: str
    rename: bool
    before: str
    after: str
    report: list[dict[str, Any]]
    inventory: Inventory


@pytest.fixture(scope="module", params=STEMS)
def stem(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module", params=[True, False], ids=["pull-secret", "names-kept"])
def run(request: pytest.FixtureRequest, stem: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Post-render each corpus file once per setting, shared by every test that looks at it."""
    rename = bool(request.param)
    before = (CORPUS / f"{stem}.yaml").read_text(encoding="utf-8")
    report_file = tmp_path_factory.mktemp("report") / "report.json"
    # --strict too: on real charts it must find nothing left over, so it must not fail.
    args = ["--strict", "--report", str(report_file)]
    args += ["--pull-secret", HARBOR_SECRET] if rename else []
    after = postrender_ok(before, *args)
    report = json.loads(report_file.read_text(encoding="utf-8"))
    inventory = Inventory.read(CORPUS / f"{stem}.images.txt")
    return Run(stem, rename, before, after, report, inventory)


def test_corpus_inventory_matches_its_file(stem: str) -> None:
    """Guard for the line checks below: each inventoried line holds what the inventory says."""
    lines = (CORPUS / f"{stem}.yaml").read_text(encoding="utf-8").split("\n")
    inventory = Inventory.read(CORPUS / f"{stem}.images.txt")
    assert inventory.occurrences
    for occurrence in inventory.occurrences:
        assert occurrence.ref in lines[occurrence.line - 1], occurrence
    for secret in inventory.secrets:
        assert secret.name in lines[secret.line - 1], secret


def test_corpus_leaves_no_upstream_reference(run: Run) -> None:
    assert UPSTREAM in run.before
    assert upstream_mentions(run.after) == []
    assert UPSTREAM not in run.after


def test_corpus_rewrites_every_inventoried_reference_at_its_line(run: Run) -> None:
    lines = run.after.split("\n")
    for occurrence in run.inventory.occurrences:
        line = lines[occurrence.line - 1]
        if occurrence.upstream:
            assert harbor(occurrence.ref) in line, occurrence
            assert occurrence.ref not in line, occurrence
        else:
            assert occurrence.ref in line, occurrence
    for ref in run.inventory.unique:
        assert harbor(ref) in run.after


def test_corpus_renames_pull_secrets_only_when_asked(run: Run) -> None:
    lines = run.after.split("\n")
    for secret in run.inventory.secrets:
        line = lines[secret.line - 1]
        expected = HARBOR_SECRET if secret in run.inventory.renamed(run.rename) else secret.name
        assert re.search(rf"(?<![\w.-]){re.escape(expected)}(?![\w.-])", line), (secret, line)


def test_corpus_changes_only_the_rewritten_values(run: Run) -> None:
    """Same lines, and each changed one differs only by the Harbor prefix or the secret name."""
    before = run.before.split("\n")
    after = run.after.split("\n")
    assert len(after) == len(before)
    image_lines = {o.line for o in run.inventory.occurrences if o.upstream}
    secret_lines = {s.line for s in run.inventory.renamed(run.rename)}
    wrong = []
    for number, (old, new) in enumerate(zip(before, after, strict=True), start=1):
        expected = harbor(old) if number in image_lines else old
        expected = rename_secret_word(expected) if number in secret_lines else expected
        if new != expected:
            wrong.append((number, old, new))
    assert wrong == []


def test_corpus_output_parses_to_input_with_expected_values(run: Run) -> None:
    before = load_all(run.before)
    after = load_all(run.after)
    assert len(after) == len(before)
    for number, (old, new) in enumerate(zip(before, after, strict=True), start=1):
        assert normalise_secrets(new) == expected_document(old, run.rename), f"document {number}"


def test_corpus_keeps_document_order_and_filename_annotations(run: Run) -> None:
    def identities(text: str) -> list[tuple[Any, ...]]:
        return [
            (doc["kind"], meta.get("name"), (meta.get("annotations") or {}).get(FILENAME))
            for doc in load_all(text)
            if isinstance(doc, dict) and (meta := doc.get("metadata"))
        ]

    before = identities(run.before)
    assert identities(run.after) == before
    if ".postrender-input" in run.stem:
        assert all(filename for *_, filename in before)


def test_corpus_report_lists_each_rewrite_once(run: Run) -> None:
    """--report names exactly the inventoried values: every image occurrence and renamed secret."""
    reported = sorted((f"{e['kind']}/{e['name']}", e["path"]) for e in run.report)
    expected = sorted(
        [(o.obj, o.path) for o in run.inventory.occurrences if o.upstream]
        + [(s.obj, s.path) for s in run.inventory.renamed(run.rename)]
    )
    assert reported == expected
    for entry in run.report:
        if entry["before"] != UPSTREAM_SECRET:
            assert entry["after"] == harbor(entry["before"]), entry


def test_corpus_rewrite_is_idempotent(run: Run) -> None:
    args = ["--pull-secret", HARBOR_SECRET] if run.rename else []
    assert postrender_ok(run.after, *args) == run.after
