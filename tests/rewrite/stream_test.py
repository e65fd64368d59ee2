"""The stream engine on literal YAML: what changes, what stays byte for byte, what fails."""

from __future__ import annotations

import base64
import json

import pytest
from ruamel.yaml import YAML

from postrender.errors import ManifestError, RewriteError
from postrender.rewrite.rules import Rules
from postrender.rewrite.stream import decode, rewrite_stream, split_documents
from postrender.settings import Settings

H = "harbor.example.com/application-collection"
RULES = Rules.from_settings(Settings(harbor_host="harbor.example.com", pull_secret="harbor-pull"))
KEEP_NAMES = Rules.from_settings(Settings(harbor_host="harbor.example.com"))


def rewrite(text: str, rules: Rules = RULES) -> str:
    return rewrite_stream(text, rules).text


CASES = {
    "plain image": (
        "spec:\n  image: dp.apps.rancher.io/containers/etcd:3.5\n",
        f"spec:\n  image: {H}/containers/etcd:3.5\n",
    ),
    "quotes kept": (
        "a: \"dp.apps.rancher.io/c/x:1\"\nb: 'dp.apps.rancher.io/c/y:1'\n",
        f"a: \"{H}/c/x:1\"\nb: '{H}/c/y:1'\n",
    ),
    "comments and non-ASCII kept": (
        "# größe ✓\nimage: dp.apps.rancher.io/c/x:1  # ünïcode\nz: ~\n",
        f"# größe ✓\nimage: {H}/c/x:1  # ünïcode\nz: ~\n",
    ),
    "args in a flow sequence": (
        "args: [--reloader=dp.apps.rancher.io/c/r:1, \"--x\"]\n",
        f"args: [--reloader={H}/c/r:1, \"--x\"]\n",
    ),
    "literal block scalar": (
        "data:\n  run.sh: |\n    pull dp.apps.rancher.io/c/x:1\n    echo done\n",
        f"data:\n  run.sh: |\n    pull {H}/c/x:1\n    echo done\n",
    ),
    "folded plain scalar across lines": (
        "note: see\n  dp.apps.rancher.io/c/x:1 and\n  more\n",
        f"note: see\n  {H}/c/x:1 and\n  more\n",
    ),
    "escaped double-quoted scalar": (
        'cfg: "{\\"image\\": \\"dp.apps.rancher.io/c/x:1\\"}\\n"\n',
        f'cfg: "{{\\"image\\": \\"{H}/c/x:1\\"}}\\n"\n',
    ),
    "oci chart URL": (
        "spec:\n  url: oci://dp.apps.rancher.io/charts/etcd\n",
        f"spec:\n  url: oci://{H}/charts/etcd\n",
    ),
    "split registry/repository form": (
        "image:\n  registry: dp.apps.rancher.io\n  repository: containers/etcd\n  tag: '1'\n",
        "image:\n  registry: harbor.example.com\n"
        "  repository: application-collection/containers/etcd\n  tag: '1'\n",
    ),
    "anchors and aliases": (
        "a: &img dp.apps.rancher.io/c/x:1\nb: *img\n",
        f"a: &img {H}/c/x:1\nb: *img\n",
    ),
    "near misses untouched": (
        "a: notdp.apps.rancher.io/c/x\nb: dp.apps.rancher.io.evil/c/x\n",
        "a: notdp.apps.rancher.io/c/x\nb: dp.apps.rancher.io.evil/c/x\n",
    ),
    "other registries untouched": (
        "a: registry.suse.com/bci/bci-busybox:15.6\nb: dp.apps.rancher.io/c/x\n",
        f"a: registry.suse.com/bci/bci-busybox:15.6\nb: {H}/c/x\n",
    ),
    "CRLF line endings": (
        "a: 1\r\nimage: dp.apps.rancher.io/c/x:1\r\n",
        f"a: 1\r\nimage: {H}/c/x:1\r\n",
    ),
    "pull secrets object form": (
        "imagePullSecrets:\n- name: application-collection\n- name: corp\n",
        "imagePullSecrets:\n- name: harbor-pull\n- name: corp\n",
    ),
    "pull secrets bare strings": (
        "imagePullSecrets:\n  - application-collection\n  - corp\n",
        "imagePullSecrets:\n  - harbor-pull\n  - corp\n",
    ),
    "duplicate dropped in a block sequence": (
        "imagePullSecrets:\n- name: application-collection\n- name: harbor-pull\nnext: 1\n",
        "imagePullSecrets:\n- name: harbor-pull\nnext: 1\n",
    ),
    "duplicate dropped mid-sequence": (
        "s:\n  imagePullSecrets:\n  - name: harbor-pull\n  - name: application-collection\n"
        "  - name: corp\n",
        "s:\n  imagePullSecrets:\n  - name: harbor-pull\n  - name: corp\n",
    ),
    "duplicate dropped in a flow sequence": (
        "imagePullSecrets: [{name: application-collection}, {name: harbor-pull}]\n",
        "imagePullSecrets: [{name: harbor-pull}]\n",
    ),
    "pull secret env list": (
        "env:\n- name: DEFAULT_IMAGE_PULL_SECRETS\n  value: application-collection, corp\n",
        "env:\n- name: DEFAULT_IMAGE_PULL_SECRETS\n  value: harbor-pull, corp\n",
    ),
    "pull secret env list with padding": (
        "env:\n- name: PULL_SECRETS\n  value: ' application-collection , corp '\n",
        "env:\n- name: PULL_SECRETS\n  value: ' harbor-pull , corp '\n",
    ),
    "escaped host in a double-quoted scalar": (
        'image: "\\x64p.apps.rancher.io/c/x:1"\n',
        f'image: "{H}/c/x:1"\n',
    ),
    "pull secret env single": (
        'env:\n- name: PULL_SECRET_NAME\n  value: "application-collection"\n',
        'env:\n- name: PULL_SECRET_NAME\n  value: "harbor-pull"\n',
    ),
    "secret name elsewhere untouched": (
        "metadata:\n  name: application-collection\n",
        "metadata:\n  name: application-collection\n",
    ),
}


@pytest.mark.parametrize(("source", "expected"), CASES.values(), ids=CASES.keys())
def test_rewrite_changes_only_the_values(source: str, expected: str) -> None:
    assert rewrite(source) == expected
    assert rewrite(expected) == expected  # idempotent


def test_untouched_documents_are_byte_identical() -> None:
    stream = (
        "---\n# Source: a.yaml\nkind: ConfigMap\ndata:\n  x: 'y'   # comment\n"
        "---\n---\n# only a comment\n"
        "---\nkind: Pod\nspec:\n  image: dp.apps.rancher.io/c/x:1\n"
        "...\n---  \nkind: Other\nlist: [ a,  b ]\nnull1:\nnull2: null\n"
    )
    out = rewrite(stream)
    assert out == stream.replace("dp.apps.rancher.io/c/x:1", f"{H}/c/x:1")


def test_secret_names_kept_without_a_harbor_secret() -> None:
    source = "imagePullSecrets:\n- name: application-collection\nimage: dp.apps.rancher.io/c/x\n"
    assert rewrite(source, KEEP_NAMES) == source.replace("dp.apps.rancher.io", H)


@pytest.mark.parametrize("key", ["dp.apps.rancher.io", "https://DP.Apps.Rancher.IO/v2/"])
def test_dockerconfigjson_secret_moves_the_upstream_auth_to_harbor(key: str) -> None:
    # A registry host is the same in any letter case, in an auths key as in an image.
    config = {"auths": {key: {"auth": "dXNlcjp0b2tlbg=="}, "other.io": {}}}
    encoded = base64.b64encode(json.dumps(config).encode()).decode()
    source = (
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/dockerconfigjson\n"
        f"data:\n  .dockerconfigjson: {encoded}\n"
    )
    out = rewrite(source)
    moved = json.loads(base64.b64decode(out.split(".dockerconfigjson: ")[1]))
    assert list(moved["auths"]) == ["harbor.example.com", "other.io"]
    assert moved["auths"]["harbor.example.com"] == {"auth": "dXNlcjp0b2tlbg=="}


def test_report_lists_every_change_with_document_and_path() -> None:
    stream = (
        "kind: ConfigMap\nmetadata:\n  name: a\ndata:\n  x: 'y'\n---\n"
        "kind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  template:\n"
        "    spec:\n      imagePullSecrets:\n      - name: application-collection\n"
        "      - name: harbor-pull\n"
        "      containers:\n      - image: dp.apps.rancher.io/c/x:1\n"
    )
    report = rewrite_stream(stream, RULES).report()
    assert [(r["document"], r["kind"], r["name"], r["namespace"]) for r in report] == [
        (2, "Deployment", "web", "prod")
    ] * 3
    assert {r["apiVersion"] for r in report} == {None}
    assert {(r["path"], r["pointer"], r["before"], r["after"]) for r in report} == {
        (
            "spec.template.spec.imagePullSecrets[0].name",
            "/spec/template/spec/imagePullSecrets/0/name",
            "application-collection",
            "harbor-pull",
        ),
        (
            "spec.template.spec.imagePullSecrets[1]",
            "/spec/template/spec/imagePullSecrets/1",
            "harbor-pull",
            None,
        ),
        (
            "spec.template.spec.containers[0].image",
            "/spec/template/spec/containers/0/image",
            "dp.apps.rancher.io/c/x:1",
            f"{H}/c/x:1",
        ),
    }


def test_report_quotes_keys_that_contain_dots() -> None:
    stream = "metadata:\n  annotations:\n    example.com/image: dp.apps.rancher.io/c/x\n"
    [entry] = rewrite_stream(stream, RULES).report()
    assert entry["path"] == "metadata.annotations['example.com/image']"
    assert entry["pointer"] == "/metadata/annotations/example.com~1image"


def test_strict_fails_on_a_mention_the_rules_leave() -> None:
    stream = "kind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  note: from dp.apps.rancher.io\n"
    with pytest.raises(RewriteError, match=r"document 1 \(ConfigMap/cfg\) data.note"):
        rewrite_stream(stream, RULES, strict=True)
    assert rewrite_stream(stream, RULES).text == stream


def test_strict_passes_when_everything_is_rewritten() -> None:
    stream = "image: dp.apps.rancher.io/c/x:1\n"
    assert rewrite_stream(stream, RULES, strict=True).text == f"image: {H}/c/x:1\n"


def test_invalid_yaml_names_document_and_line() -> None:
    stream = "a: 1\n---\nb: 2\nimage: dp.apps.rancher.io/c/x\n  bad: [\n"
    with pytest.raises(ManifestError, match=r"^stdin document 2, line 5: invalid YAML"):
        rewrite_stream(stream, RULES)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a: 1\n---\nb: \x00\x01", r"document 2, line 3: binary data"),
        (b"a: 1\nb: \xff\xfe\n", r"document 1, line 2: not UTF-8 text \(byte 0xff\)"),
    ],
)
def test_decode_rejects_binary_and_non_utf8(data: bytes, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        decode(data)


def test_split_documents_covers_the_stream_exactly() -> None:
    stream = "a: 1\n---\nb: 2\n...\nc: 3\n--- # x\nd: |\n  ---x\n"
    spans = split_documents(stream)
    assert "".join(stream[s:e] for s, e in spans) == stream
    assert [stream[s:e] for s, e in spans] == [
        "a: 1\n",
        "---\nb: 2\n...\n",
        "c: 3\n",
        "--- # x\nd: |\n  ---x\n",
    ]


@pytest.mark.parametrize(
    "lead",
    ["", "# Source: chart/templates/pod.yaml\n", "%YAML 1.2\n---\n", "---\n", "\n\n"],
    ids=["document", "comment", "directive", "start marker", "blank lines"],
)
@pytest.mark.parametrize(
    "body",
    [
        'kind: Pod\nspec:\n  image: "dp.apps.rancher.io/c/x:1"\n'
        "  again: &i dp.apps.rancher.io/c/y:1\n  alias: *i\n",
        "{kind: Pod, spec: {image: dp.apps.rancher.io/c/x:1, again: dp.apps.rancher.io/c/y:1}}\n",
    ],
    ids=["block", "flow"],
)
def test_a_byte_order_mark_before_the_first_document_leaves_every_splice_in_place(
    lead: str, body: str
) -> None:
    """Editors on Windows start a file with U+FEFF; the parser skips it without counting it."""
    stream = "\ufeff" + lead + body + "---\nimage: dp.apps.rancher.io/c/z:1\n"
    expected = stream.replace("dp.apps.rancher.io", H)
    assert rewrite(stream) == expected
    assert [r.path for r in rewrite_stream(stream, RULES).rewrites] == (
        ["spec.image", "spec.again", "image"]
    )


def test_a_json_text_value_that_starts_with_a_byte_order_mark_is_searched() -> None:
    """`.Files.Get` of a JSON file an editor on Windows saved: one line, U+FEFF first."""
    stream = 'values: |-\n  \ufeff{"hub": "dp.apps.rancher.io", "imagePullSecrets": ' \
        '["application-collection"]}\n'
    assert rewrite(stream) == (
        f'values: |-\n  \ufeff{{"hub": "{H}", "imagePullSecrets": ["harbor-pull"]}}\n'
    )


@pytest.mark.parametrize("escape", ["\\u0085", "\\u2028", "\\u2029", "\\ufeff"])
def test_a_rewritten_double_quoted_value_keeps_characters_yaml_reads_otherwise_escaped(
    escape: str,
) -> None:
    """Helm's `quote` escapes NEL, LS and PS (Go calls them unprintable); written out literally
    they are line breaks to YAML 1.1, which a quoted scalar folds to a space."""
    stream = f'values: "{{\\"hub\\": \\"dp.apps.rancher.io\\", \\"note\\": \\"a{escape}b\\"}}"\n'
    before = YAML(typ="safe").load(stream)["values"]
    out = rewrite(stream)
    assert YAML(typ="safe").load(out)["values"] == before.replace("dp.apps.rancher.io", H)
    assert escape in out


def test_credentials_in_an_upstream_url_reach_neither_the_output_nor_the_report() -> None:
    stream = (
        "url: oci://robot:s3cr3t@dp.apps.rancher.io/charts/etcd\n"
        "image: dp.apps.rancher.io:443/containers/etcd:3.5\n"
        "other: oci://me:pa55@charts.example.com/x and dp.apps.rancher.io/c/x\n"
    )
    result = rewrite_stream(stream, RULES)
    assert result.text == (
        f"url: oci://{H}/charts/etcd\nimage: {H}/containers/etcd:3.5\n"
        f"other: oci://me:pa55@charts.example.com/x and {H}/c/x\n"  # not ours to change
    )
    report = json.dumps(result.report())
    assert "s3cr3t" not in report and "pa55" not in report
    assert "oci://***@dp.apps.rancher.io/charts/etcd" in report


def test_credentials_in_a_json_text_url_with_escaped_slashes_stay_out_of_the_report() -> None:
    """JSON may write a URL's slashes as `\\/`; the text value's report entry quotes it whole."""
    stream = 'values: \'{"chart": "oci:\\/\\/robot:s3cr3t@dp.apps.rancher.io\\/charts\\/etcd"}\'\n'
    result = rewrite_stream(stream, RULES)
    assert result.text == f'values: \'{{"chart": "oci://{H}/charts/etcd"}}\'\n'
    report = json.dumps(result.report())
    assert "s3cr3t" not in report
    assert "oci:\\\\/\\\\/***@dp.apps.rancher.io" in report
