"""The place rules, one table row each: a YAML snippet in, the post-renderer's text out.

A new rule in postrender/rewrite/place_rules.py is one more row here; the tests below fail
until it has one, and a row fails if its output does not need its rule.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from postrender.rewrite import place_rules
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import rewrite_stream
from postrender.settings import Settings

H = "harbor.example.com/application-collection"
RULES = Rules.from_settings(Settings(harbor_host="harbor.example.com", pull_secret="harbor-pull"))


class Row(NamedTuple):
    rule: Callable[..., Any]
    before: str
    after: str


def _auths(host: str) -> str:
    return json.dumps({"auths": {host: {"auth": "dTpw"}}})


ROWS = [
    Row(
        place_rules.image_references,
        "containers:\n- name: etcd\n  image: dp.apps.rancher.io/containers/etcd:3.5 # pinned\n",
        f"containers:\n- name: etcd\n  image: {H}/containers/etcd:3.5 # pinned\n",
    ),
    Row(
        place_rules.registry_alone,
        "env:\n- name: OPERATOR_CONTAINERREGISTRY\n  value: \"DP.apps.rancher.io/\"\n"
        "- name: NOTE\n  value: pulls from dp.apps.rancher.io\n",
        f"env:\n- name: OPERATOR_CONTAINERREGISTRY\n  value: \"{H}/\"\n"
        "- name: NOTE\n  value: pulls from dp.apps.rancher.io\n",
    ),
    Row(
        place_rules.documents_in_text,
        "data:\n  values: |-\n    {\n      \"imagePullSecrets\": [\"application-collection\","
        " \"corp\"],\n      \"hub\": \"dp.apps.rancher.io\"\n    }\n  other: x\n",
        "data:\n  values: |-\n    {\n      \"imagePullSecrets\": [\"harbor-pull\", \"corp\"],"
        f"\n      \"hub\": \"{H}\"\n    }}\n  other: x\n",
    ),
    Row(
        place_rules.dockerconfigjson_auths,
        "kind: Secret\ntype: kubernetes.io/dockerconfigjson\nstringData:\n"
        f"  .dockerconfigjson: '{_auths('dp.apps.rancher.io')}'\n",
        "kind: Secret\ntype: kubernetes.io/dockerconfigjson\nstringData:\n"
        f"  .dockerconfigjson: '{_auths('harbor.example.com')}'\n",
    ),
    Row(
        place_rules.registry_and_repository,
        "image:\n  registry: dp.apps.rancher.io\n  repository: containers/etcd\n  tag: '3.5'\n",
        "image:\n  registry: harbor.example.com\n"
        "  repository: application-collection/containers/etcd\n  tag: '3.5'\n",
    ),
    Row(
        place_rules.pull_secret_env,
        "env:\n- name: DEFAULT_IMAGE_PULL_SECRETS\n  value: application-collection, corp\n",
        "env:\n- name: DEFAULT_IMAGE_PULL_SECRETS\n  value: harbor-pull, corp\n",
    ),
    Row(
        place_rules.image_pull_secrets,
        "imagePullSecrets:\n- name: application-collection\n- corp\n- name: harbor-pull\n",
        "imagePullSecrets:\n- name: harbor-pull\n- corp\n",
    ),
]
IDS = [row.rule.__name__ for row in ROWS]


def tabled_rules() -> set[Callable[..., Any]]:
    """Every rule the walk iterates, from every table."""
    return {
        *place_rules.VALUE_RULES,
        *place_rules.DOCUMENT_RULES,
        *(rule for _, rule in place_rules.MAPPING_RULES),
        *place_rules.KEY_RULES.values(),
    }


def without(monkeypatch: pytest.MonkeyPatch, rule: Callable[..., Any]) -> None:
    """Take `rule` out of whichever table holds it, for this test only."""
    tables = place_rules
    monkeypatch.setattr(tables, "VALUE_RULES", tuple(r for r in tables.VALUE_RULES if r != rule))
    documents = tuple(r for r in tables.DOCUMENT_RULES if r != rule)
    monkeypatch.setattr(tables, "DOCUMENT_RULES", documents)
    mappings = tuple((key, r) for key, r in tables.MAPPING_RULES if r != rule)
    monkeypatch.setattr(tables, "MAPPING_RULES", mappings)
    keys = {key: r for key, r in tables.KEY_RULES.items() if r != rule}
    monkeypatch.setattr(tables, "KEY_RULES", keys)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_place_rule_rewrites_its_snippet(row: Row) -> None:
    assert rewrite_stream(row.before, RULES).text == row.after


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_place_rule_row_needs_its_rule(row: Row, monkeypatch: pytest.MonkeyPatch) -> None:
    without(monkeypatch, row.rule)
    assert row.rule not in tabled_rules()
    assert rewrite_stream(row.before, RULES).text != row.after


def test_place_rules_each_have_a_row() -> None:
    assert tabled_rules() == {row.rule for row in ROWS}


def test_a_dockerconfigjson_nested_past_the_recursion_limit_is_left_as_it_is() -> None:
    """A chart's `.dockerconfigjson` of `[[[[…` is no registry login to move, as text that is no
    JSON is not: passed on, not an 'unexpected error' out of the post-renderer."""
    deep = "[" * 100_000 + "]" * 100_000
    stream = ("kind: Secret\ntype: kubernetes.io/dockerconfigjson\nstringData:\n"
              f"  .dockerconfigjson: '{deep}'\n")  # fmt: skip
    assert rewrite_stream(stream, RULES).text == stream
