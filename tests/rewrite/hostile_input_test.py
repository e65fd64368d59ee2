"""Hostile and odd input (issue 12, items 1-7, 9, 10): the right output or a clean refusal.

Each case runs the real `harbor-mirror postrender` process and reads its output back with a
YAML 1.2 loader that expands aliases and merge keys, as Kubernetes does, so a test sees what a
cluster would get. A refusal must be exit 1 or 2, one line on stderr, nothing on stdout.
"""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bench.startup import isolated_env
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import rewrite_stream
from postrender.settings import Settings
from tests.support.rewrite_oracle import CLI, HARBOR_HOST, HARBOR_SECRET, TARGET, postrender

RENAME = ("--pull-secret", HARBOR_SECRET)
PROJECT_PATH = "application-collection/containers"


def load_all(text: str) -> list[Any]:
    """YAML 1.2 as Kubernetes reads it (libyaml refuses `x:1` in flow style, and reused anchors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(YAML(typ="safe", pure=True).load_all(text))


def rewritten(source: str, *args: str) -> list[Any]:
    """The output of a post-render that must succeed, parsed; it must also be a fixed point."""
    result = postrender(source, *args)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    again = postrender(result.stdout, *args)
    assert again.stdout == result.stdout, "a second run changed the output"
    return load_all(result.stdout)


def refused(source: str, *args: str) -> str:
    """stderr of a post-render that must refuse cleanly."""
    result = postrender(source, *args)
    assert result.returncode in (1, 2), result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


# --- 1. duplicate pull secrets that are aliases or anchors --------------------------------------


def test_an_aliased_duplicate_pull_secret_is_removed_and_the_list_keeps_one_entry() -> None:
    source = (
        "kind: Pod\nspec:\n  imagePullSecrets:\n  - &n application-collection\n  - *n\n"
        "  - harbor-pull\n  containers:\n  - image: dp.apps.rancher.io/containers/etcd:1\n"
    )
    [pod] = rewritten(source, *RENAME)
    assert pod["spec"]["imagePullSecrets"] == [HARBOR_SECRET]


def test_an_aliased_duplicate_mapping_entry_leaves_valid_yaml_with_one_entry() -> None:
    source = (
        "kind: Pod\nspec:\n  imagePullSecrets:\n  - &s {name: application-collection}\n"
        "  - *s\n  containers:\n  - image: dp.apps.rancher.io/containers/etcd:1\n"
    )
    [pod] = rewritten(source, *RENAME)
    assert pod["spec"]["imagePullSecrets"] == [{"name": HARBOR_SECRET}]


@pytest.mark.parametrize(
    ("entry", "use"),
    [
        ("&n application-collection", "note: *n"),
        ("&n {name: application-collection}", "other: [*n]"),
    ],
    ids=["name", "entry"],
)
def test_removing_an_anchored_duplicate_that_an_alias_still_uses_is_refused(
    entry: str, use: str
) -> None:
    source = f"kind: Pod\nspec:\n  imagePullSecrets:\n  - harbor-pull\n  - {entry}\n  {use}\n"
    message = refused(source, *RENAME)
    assert "spec.imagePullSecrets[1]" in message and "*n" in message


def test_a_secret_name_aliased_outside_the_pull_secrets_keeps_its_meaning_there() -> None:
    source = (
        "kind: Pod\nmetadata:\n  name: &n application-collection\n"
        "spec:\n  imagePullSecrets: [*n, corp]\n"
    )
    [pod] = rewritten(source, *RENAME)
    assert pod["metadata"]["name"] == "application-collection"
    assert pod["spec"]["imagePullSecrets"] == [HARBOR_SECRET, "corp"]


def test_a_pull_secret_list_shared_with_another_key_is_refused() -> None:
    source = "kind: Pod\nkeep: &l\n- application-collection\nspec:\n  imagePullSecrets: *l\n"
    assert "spec.imagePullSecrets" in refused(source, *RENAME)


def test_a_secret_name_aliased_as_a_mapping_key_is_refused_not_renamed_there() -> None:
    source = (
        "kind: Pod\nspec:\n  imagePullSecrets:\n  - name: &n application-collection\n"
        "metadata:\n  annotations:\n    *n : keep\n"
    )
    message = refused(source, *RENAME)
    assert "spec.imagePullSecrets[0].name" in message and "*n" in message


def test_an_image_anchored_on_a_mapping_key_is_rewritten_where_an_alias_uses_it() -> None:
    source = (
        "kind: Pod\nmetadata:\n  annotations:\n    &i dp.apps.rancher.io/c/x:1 : a\n"
        "spec:\n  containers:\n  - image: *i\n"
    )
    [pod] = rewritten(source)
    assert pod["spec"]["containers"] == [{"image": f"{TARGET}/c/x:1"}]
    assert pod["metadata"]["annotations"] == {"dp.apps.rancher.io/c/x:1": "a"}


# --- 2. split registry/repository through merge keys and aliases ---------------------------------


def test_a_registry_merged_in_with_a_local_repository_gets_the_project() -> None:
    source = (
        "base: &b\n  registry: dp.apps.rancher.io\n  repository: containers/a\n"
        "img:\n  <<: *b\n  repository: containers/b\n"
    )
    [doc] = rewritten(source)
    assert doc["base"] == {"registry": HARBOR_HOST, "repository": f"{PROJECT_PATH}/a"}
    assert doc["img"] == {"registry": HARBOR_HOST, "repository": f"{PROJECT_PATH}/b"}


def test_an_aliased_repository_shared_with_a_docker_hub_pair_is_left_alone_there() -> None:
    source = (
        "one:\n  registry: dp.apps.rancher.io\n  repository: &r containers/a\n"
        "two:\n  registry: docker.io\n  repository: *r\n"
    )
    [doc] = rewritten(source)
    assert doc["one"] == {"registry": HARBOR_HOST, "repository": f"{PROJECT_PATH}/a"}
    assert doc["two"] == {"registry": "docker.io", "repository": "containers/a"}


def test_a_merged_registry_that_must_change_in_one_place_only_is_refused() -> None:
    source = (
        "base: &b\n  registry: dp.apps.rancher.io\nimg:\n  <<: *b\n  repository: containers/b\n"
    )
    assert "img.registry" in refused(source)


# --- 3. escapes in double-quoted scalars -------------------------------------------------------


def test_escaped_line_break_and_newline_escape_rewrite_the_right_reference() -> None:
    # To YAML: "\n" + "dp…/c/x x" + "dp…/c/y": only the first is a reference (x stands before
    # the second once the escaped line break joins the lines), though the text shows the opposite.
    source = 'a: "\\ndp.apps.rancher.io/c/x x\\\n  dp.apps.rancher.io/c/y"\n'
    [doc] = rewritten(source)
    assert doc == {"a": f"\n{TARGET}/c/x xdp.apps.rancher.io/c/y"}


@pytest.mark.parametrize(
    ("source", "args", "key", "expected"),
    [
        ("spec:\n  x: |2\n      dp.apps.rancher.io/c/x:1\n  y: after\n", (), "x",
         f"  {TARGET}/c/x:1\n"),
        ("spec:\n  imagePullSecrets:\n  - name: >-\n      application-collection\n"
         "  y: after\n", RENAME, "imagePullSecrets", [{"name": HARBOR_SECRET}]),
    ],
    ids=["indentation-indicator", "folded-secret-name"],
)
def test_a_block_scalar_written_out_quoted_keeps_the_next_key_on_its_own_line(
    source: str, args: tuple[str, ...], key: str, expected: object
) -> None:
    # A block scalar that cannot be edited in place (its indentation indicator counts from the
    # parent's indentation; a renamed secret is written as a value) is replaced by a quoted one.
    [doc] = rewritten(source, *args)
    assert doc["spec"] == {key: expected, "y": "after"}


# --- 4, 5. deep nesting and alias bombs ----------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "a:\n" + "".join("  " * (n + 1) + f"k{n}:\n" for n in range(500))
        + "  " * 501 + "image: dp.apps.rancher.io/c/x:1\n",
        "a: " + "[" * 500 + "dp.apps.rancher.io/c/x:1" + "]" * 500 + "\n",
        "a: " + "{k: " * 500 + "dp.apps.rancher.io/c/x:1" + "}" * 500 + "\n",
    ],
    ids=["block", "flow-sequence", "flow-mapping"],
)
def test_a_document_nested_500_levels_deep_is_rewritten(source: str) -> None:
    result = postrender(source)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == source.replace("dp.apps.rancher.io", TARGET)


def test_a_document_nested_deeper_than_helm_reads_is_refused_quickly(tmp_path: Path) -> None:
    source = "a: " + "[" * 200_000 + "dp.apps.rancher.io/c/x:1" + "]" * 200_000 + "\n"
    try:  # libyaml slows down with depth: this many levels took minutes
        result = subprocess.run(
            [str(CLI), "postrender", "--harbor-host", HARBOR_HOST], input=source,
            capture_output=True, text=True, env=isolated_env(tmp_path), timeout=60, check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("200,000 nested levels were not refused in 60 s")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.count("\n") == 1
    assert "document 1, line 1: invalid YAML: nested more than 10000 levels" in result.stderr


def test_an_alias_bomb_is_rewritten_without_expanding_it(tmp_path: Path) -> None:
    lines = ["kind: ConfigMap", "data:", "  image: &a0 dp.apps.rancher.io/c/x:1"]
    lines += [f"  a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 11)]
    source = "\n".join(lines) + "\n"
    try:  # walking every alias (9**10 visits) would take hours
        result = subprocess.run(
            [str(CLI), "postrender", "--harbor-host", HARBOR_HOST], input=source,
            capture_output=True, text=True, env=isolated_env(tmp_path), timeout=60, check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("an alias bomb of ten levels did not finish in 60 s")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == source.replace("dp.apps.rancher.io", TARGET)


# --- 6, 7. directives, duplicate anchors -------------------------------------------------------


def test_a_stream_with_a_tag_directive_is_rewritten() -> None:
    source = (
        "%TAG !e! tag:example.com,2000:\n---\nkind: Pod\n"
        "image: !e!ref dp.apps.rancher.io/c/x:1\n"
    )
    result = postrender(source)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == source.replace("dp.apps.rancher.io", TARGET)


def test_an_error_after_a_tag_directive_names_the_only_document() -> None:
    source = "%TAG !e! tag:example.com,2000:\n---\nimage: dp.apps.rancher.io/c/x\n  bad: [\n"
    message = refused(source)
    assert "document 1, line 4" in message


def test_a_reused_anchor_in_flow_style_leaves_stderr_empty() -> None:
    source = (
        "a: &x dp.apps.rancher.io/c/x:1\nb: &x [dp.apps.rancher.io/c/y:1, {k: v}]\nc: *x\n"
    )
    [doc] = rewritten(source)
    assert doc == {"a": f"{TARGET}/c/x:1", "b": [f"{TARGET}/c/y:1", {"k": "v"}],
                   "c": [f"{TARGET}/c/y:1", {"k": "v"}]}


# --- 9. the upstream in any case, paths over the grammar's limit --------------------------------


def test_the_upstream_host_is_matched_in_any_case() -> None:
    [doc] = rewritten("image: DP.APPS.RANCHER.IO/containers/etcd:1\n")
    assert doc == {"image": f"{TARGET}/containers/etcd:1"}


@pytest.mark.parametrize("lookalike", ["dp.app\u017f.rancher.io", "dp.apps.rancher.\u0131o"])
def test_a_host_that_only_unicode_case_folding_equates_with_the_upstream_is_left_alone(
    lookalike: str,
) -> None:
    # Python's case-insensitive matching reads U+017F as `s` and U+0131 as `i`; DNS does not.
    source = f'args: "--a=dp.apps.rancher.io/c/x:1 --b={lookalike}/c/y:1"\n'
    [doc] = rewritten(source)
    assert doc == {"args": f"--a={TARGET}/c/x:1 --b={lookalike}/c/y:1"}


def test_strict_flags_an_upper_case_mention_of_the_upstream() -> None:
    assert "DP.Apps.Rancher.IO" in refused("data:\n  r: from DP.Apps.Rancher.IO\n", "--strict")


@pytest.mark.parametrize(
    "source",
    [
        f"image: dp.apps.rancher.io/{'a' * 240}:1\n",
        f"image:\n  registry: dp.apps.rancher.io\n  repository: {'a' * 240}\n",
    ],
    ids=["reference", "split-form"],
)
def test_a_rewrite_that_makes_a_path_too_long_is_refused(source: str) -> None:
    assert "255" in refused(source)


# --- 10. flow style goes through libyaml --------------------------------------------------------


def test_flow_style_documents_do_not_need_the_pure_python_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from postrender.rewrite import compose  # here: the module is what the fix added

    def no_pure_parser(text: str) -> None:
        raise AssertionError(f"pure-Python parser used for {text!r}")

    monkeypatch.setattr(compose, "_pure_build", no_pure_parser)
    source = (
        "{apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: "
        "[{name: a, image: dp.apps.rancher.io/c/x:1, args: [--x=http://a:1/b]}]}}\n"
    )
    rules = Rules.from_settings(Settings(harbor_host=HARBOR_HOST))
    out = rewrite_stream(source, rules).text
    assert load_all(out) == load_all(source.replace("dp.apps.rancher.io", TARGET))


def test_a_block_style_document_is_parsed_once_without_the_colon_stand_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from postrender.rewrite import compose

    built: list[bool] = []
    c_build = compose._c_build

    def counting(text: str, restore: bool) -> object:
        built.append(restore)
        return c_build(text, restore)

    monkeypatch.setattr(compose, "_c_build", counting)
    monkeypatch.setattr(compose, "_INNER_COLON", None)  # any use of the stand-in fails
    source = "kind: Pod\nspec:\n  containers:\n  - image: dp.apps.rancher.io/c/x:1\n"
    rules = Rules.from_settings(Settings(harbor_host=HARBOR_HOST))
    assert rewrite_stream(source, rules).text == source.replace("dp.apps.rancher.io", TARGET)
    assert built == [False]
