"""A registry host alone as a value, and text values that are themselves JSON or YAML.

Operators take the registry as a setting of its own and put it before the images they make at
run time; sidecar injectors carry their values as JSON inside a ConfigMap. Both leaked the
upstream (issue 17): the host alone was not a reference, and a pull-secret name inside text was
not in an `imagePullSecrets` list of the document.
"""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from postrender.errors import RewriteError
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import rewrite_stream
from postrender.settings import Settings

H = "harbor.example.com/application-collection"
RULES = Rules.from_settings(Settings(harbor_host="harbor.example.com", pull_secret="harbor-pull"))
KEEP_NAMES = Rules.from_settings(Settings(harbor_host="harbor.example.com"))


def rewrite(text: str, rules: Rules = RULES) -> str:
    return rewrite_stream(text, rules).text


def load(text: str) -> object:
    return YAML(typ="safe", pure=True).load(text)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('value: "dp.apps.rancher.io"\n', f'value: "{H}"\n'),
        ("value: DP.Apps.Rancher.IO\n", f"value: {H}\n"),
        ("value: 'dp.apps.rancher.io/'\n", f"value: '{H}/'\n"),
        ("value: dp.apps.rancher.io:443\n", f"value: {H}\n"),
        ("hubs: [dp.apps.rancher.io, quay.io]\n", f"hubs: [{H}, quay.io]\n"),
        ("metadata:\n  annotations:\n    example.com/registry: dp.apps.rancher.io  # the hub\n",
         f"metadata:\n  annotations:\n    example.com/registry: {H}  # the hub\n"),
        # a registry with no repository beside it is one more setting of its own
        ("image:\n  registry: dp.apps.rancher.io\n  name: containers/etcd\n",
         f"image:\n  registry: {H}\n  name: containers/etcd\n"),
        # beside a repository the split-form rule gives it Harbor's host and the path the project
        ("image:\n  registry: dp.apps.rancher.io\n  repository: containers/etcd\n",
         "image:\n  registry: harbor.example.com\n"
         "  repository: application-collection/containers/etcd\n"),
    ],
)
def test_the_upstream_host_alone_becomes_the_harbor_prefix(source: str, expected: str) -> None:
    assert rewrite(source) == expected
    assert rewrite_stream(source, RULES, strict=True).text == expected  # nothing left behind
    assert rewrite(expected) == expected


@pytest.mark.parametrize(
    "source",
    [
        "note: pulled from dp.apps.rancher.io\n",
        "value: ' dp.apps.rancher.io'\n",
        "value: dp.apps.rancher.io//\n",
        "value: dp.apps.rancher.io:5000\n",
        "value: notdp.apps.rancher.io\n",
        "value: dp.apps.rancher.io.evil\n",
        "value: https://dp.apps.rancher.io\n",
    ],
)
def test_prose_and_other_hosts_are_left_alone(source: str) -> None:
    assert rewrite(source) == source


def test_an_anchored_host_is_harbors_host_beside_a_repository_and_the_prefix_elsewhere() -> None:
    source = (
        "image:\n  registry: &r dp.apps.rancher.io\n  repository: containers/etcd\n"
        "env:\n- name: OPERATOR_REGISTRY\n  value: *r\n"
    )
    assert load(rewrite(source)) == {
        "image": {"registry": "harbor.example.com",
                  "repository": "application-collection/containers/etcd"},
        "env": [{"name": "OPERATOR_REGISTRY", "value": H}],
    }


SIDECAR_VALUES = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: sidecar-injector
data:
  values: |-
    {
      "global": {
        "hub": "dp.apps.rancher.io/containers",
        "registry": "dp.apps.rancher.io",
        "imagePullSecrets": [
          "application-collection",
          "corp"
        ],
        "proxy": {"image": "proxyv2", "note": "application-collection is our secret"}
      }
    }
  config: |
    policy: enabled
    imagePullSecrets:
    - name: application-collection
    - name: harbor-pull
    env:
    - name: DEFAULT_PULL_SECRETS
      value: application-collection,corp
    note: pulled from dp.apps.rancher.io
  inline: '{"imagePullSecrets": [{"name": "application-collection"}]}'
  prose: the application-collection secret, from dp.apps.rancher.io
"""


def test_pull_secrets_in_json_and_yaml_text_are_renamed_in_place() -> None:
    out = rewrite(SIDECAR_VALUES)
    assert out == (
        SIDECAR_VALUES
        .replace('"dp.apps.rancher.io/containers"', f'"{H}/containers"')
        .replace('"registry": "dp.apps.rancher.io"', f'"registry": "{H}"')
        .replace('          "application-collection",', '          "harbor-pull",')
        .replace("    - name: application-collection\n    - name: harbor-pull\n",
                 "    - name: harbor-pull\n")
        .replace("value: application-collection,corp", "value: harbor-pull,corp")
        .replace('[{"name": "application-collection"}]', '[{"name": "harbor-pull"}]')
    )
    report = rewrite_stream(SIDECAR_VALUES, RULES).report()
    assert [entry["path"] for entry in report] == ["data.values", "data.config", "data.inline"]


def test_without_a_harbor_secret_the_names_in_text_are_kept() -> None:
    out = load(rewrite(SIDECAR_VALUES, KEEP_NAMES))
    assert isinstance(out, dict)
    values = json.loads(out["data"]["values"])["global"]
    assert values["imagePullSecrets"] == ["application-collection", "corp"]
    assert values["registry"] == H


def test_json_text_with_escapes_still_reads_as_the_renamed_json() -> None:
    value = {"imagePullSecrets": ["application-collection"], "hub": "dp.apps.rancher.io",
             "path": "C:\\images\u00e9"}
    source = f"data:\n  values: {json.dumps(json.dumps(value))}\n"
    out = load(rewrite(source))
    assert isinstance(out, dict)
    assert json.loads(out["data"]["values"]) == {
        "imagePullSecrets": ["harbor-pull"], "hub": H, "path": "C:\\images\u00e9",
    }


def test_text_nested_deeper_than_the_rules_search_is_left_and_nothing_breaks() -> None:
    inner = '{"imagePullSecrets": ["application-collection"]}\n'
    for _ in range(200):  # each level is YAML text holding the next one in a block scalar
        inner = "b: 1\na: |\n" + "".join(f"  {line}\n" for line in inner.splitlines())
    source = "data:\n  v: |\n" + "".join(f"    {line}\n" for line in inner.splitlines())
    assert rewrite(source) == source


def test_a_refusal_inside_text_names_the_value_and_the_place_in_it() -> None:
    text = "shared: &s [application-collection]\nimagePullSecrets: *s\n"
    source = "kind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  config: " + json.dumps(text) + "\n"
    with pytest.raises(RewriteError, match=r"\(ConfigMap/cfg\) data\.config\.imagePullSecrets"):
        rewrite(source)


def test_every_document_of_multi_document_text_is_searched() -> None:
    # an operator's ConfigMap of manifests it applies: the second document's split registry
    # and registry setting leaked before, as only single-document text was parsed
    first = ("apiVersion: apps/v1\nkind: Deployment\nspec:\n  imagePullSecrets:\n"
             "    - name: application-collection\n")
    second = ("kind: Widget\nspec:\n  image:\n    registry: dp.apps.rancher.io\n"
              "    repository: containers/b\n  hub: dp.apps.rancher.io\n")
    text = f"{first}---\n{second}"
    source = "kind: ConfigMap\ndata:\n  apply.yaml: |\n" + "".join(
        f"    {line}\n" for line in text.splitlines())
    out = rewrite(source)
    config = load(out)
    assert isinstance(config, dict)
    applied = list(YAML(typ="safe", pure=True).load_all(config["data"]["apply.yaml"]))
    assert applied[0]["spec"]["imagePullSecrets"] == [{"name": "harbor-pull"}]
    assert applied[1]["spec"] == {
        "image": {"registry": "harbor.example.com",
                  "repository": "application-collection/containers/b"},
        "hub": H}
    assert out.count("\n") == source.count("\n")  # edited in place, line for line
