"""An independent model of what the post-renderer must change, for the corpus and chart tests.

It shares no code with `postrender/`: its own boundary regex, its own walk over parsed YAML,
its own runner for the real `harbor-mirror` process. When the two disagree, a test fails.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bench.startup import isolated_env

UPSTREAM = "dp.apps.rancher.io"
HARBOR_HOST = "harbor.example.com"
PROJECT = "application-collection"
UPSTREAM_SECRET = "application-collection"
HARBOR_SECRET = "harbor-pull"
TARGET = f"{HARBOR_HOST}/{PROJECT}"

# The upstream host as the domain of a reference: nothing host-like right before it (an
# `oci://` scheme is fine, with or without a URL's credentials, which go with the host), maybe
# HTTPS's own port, then a `/` and a path.
_REFERENCE = re.compile(
    r"(?:(?<=oci://)[^\s/@]+@|(?<=://)|(?<![A-Za-z0-9._/-]))dp\.apps\.rancher\.io(?::443)?"
    r"(?=/[a-z0-9])"
)
# The host as a whole value, in any letter case, maybe with HTTPS's own port and a `/`.
_ALONE = re.compile(r"(?i:dp\.apps\.rancher\.io)(?::443)?/?")
# Any mention of the host name that is not part of a longer host name.
_MENTION = re.compile(r"(?<![A-Za-z0-9.-])dp\.apps\.rancher\.io(?![A-Za-z0-9-]|\.[A-Za-z0-9])")
# Fields that hold a Kubernetes object's name: the host spelled there is a name.
_OBJECT_NAME_KEYS = frozenset({"name", "generateName", "namespace", "serviceAccountName",
                               "secretName", "claimName", "nodeName", "hostname", "subdomain"})
_SECRET_WORD = re.compile(r"(?<![A-Za-z0-9._-])application-collection(?![A-Za-z0-9._-])")

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURE_CHARTS = REPO_ROOT / "charts-fixtures"
FIXTURE_CHART_NAMES = sorted(p.parent.name for p in FIXTURE_CHARTS.glob("*/expected-images.txt"))
CORPUS = REPO_ROOT.parent / "shared" / "corpus"
CLI = Path(sys.executable).with_name("harbor-mirror")


def harbor(text: str) -> str:
    """`text` with every upstream reference moved under the Harbor prefix."""
    return _REFERENCE.sub(TARGET, text)


def upstream_mentions(text: str) -> list[str]:
    """Each line that still names the upstream host (a failure message, not just a count)."""
    return [line.strip() for line in text.splitlines() if _MENTION.search(line)]


def rename_secret_word(text: str) -> str:
    """The upstream pull-secret name, where it stands as a whole word, renamed."""
    return _SECRET_WORD.sub(HARBOR_SECRET, text)


def postrender(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed `harbor-mirror postrender` the way Helm does: stdin in, stdout out.
    Helm homes point at an empty place, so a developer's own config cannot change the result."""
    return subprocess.run(
        [str(CLI), "postrender", "--harbor-host", HARBOR_HOST, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=isolated_env(Path(tempfile.gettempdir()) / "harbor-mirror-tests-home"),
        check=False,
        timeout=300,
    )


def postrender_ok(stdin: str, *args: str) -> str:
    """stdout of a post-render that must succeed; its stderr in the failure message."""
    result = postrender(stdin, *args)
    assert result.returncode == 0, f"harbor-mirror exited {result.returncode}: {result.stderr}"
    return result.stdout


def _safe_yaml() -> YAML:
    """Safe loader that, like Kubernetes tooling, reads the YAML 1.1 value key `=` as a string."""
    yaml = YAML(typ="safe")
    yaml.constructor.add_constructor(
        "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
    )
    return yaml


def load_all(text: str) -> list[Any]:
    return list(_safe_yaml().load_all(text))


def expected_document(document: Any, rename: bool) -> Any:
    """What the post-renderer must turn one parsed document into, by the product's rules."""
    return _expect(document, rename, key=None)


class TextDocument:
    """What a text value that is itself JSON or YAML must read as: the references in its text
    moved, then the product's rules applied to the document it holds. Equal to any string
    that parses to that document (the layout is the byte checks' business)."""

    def __init__(self, expected: Any):
        self.expected = expected

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TextDocument):
            return bool(self.expected == other.expected)
        return isinstance(other, str) and _text_document(other) == self.expected

    def __repr__(self) -> str:
        return f"TextDocument({self.expected!r})"


def _text_document(text: str) -> Any:
    """The collection `text` holds when it is JSON or YAML (None: prose or a lone scalar)."""
    if not text.strip().startswith(("{", "[")) and "\n" not in text.strip():
        return None
    try:
        loaded = _safe_yaml().load(text)
    except YAMLError:
        return None
    return loaded if isinstance(loaded, dict | list) else None


def _expect(node: Any, rename: bool, key: str | None, in_labels: bool = False) -> Any:
    if isinstance(node, str):
        if _ALONE.fullmatch(node):  # a registry setting of its own, unless a name or label
            if "/" not in node and (in_labels or key in _OBJECT_NAME_KEYS):
                return node
            return TARGET + ("/" if node.endswith("/") else "")
        moved = harbor(node)
        inner = _text_document(moved)
        if inner is None:
            return moved
        expected = _expect(inner, rename, None)
        return moved if expected == inner else TextDocument(expected)
    if isinstance(node, list):
        items = [_expect(item, rename, None) for item in node]
        if key == "imagePullSecrets" and rename:
            return _renamed_pull_secrets(items)
        return items
    if isinstance(node, dict):
        labels = key in ("labels", "matchLabels")
        out = {name: _expect(value, rename, name, labels) for name, value in node.items()}
        _split_form(node, out)
        if rename and _is_pull_secret_env(out):
            out["value"] = _rename_list(out["value"])
        data = out.get("data")
        if out.get("type") == "kubernetes.io/dockerconfigjson" and isinstance(data, dict):
            data[".dockerconfigjson"] = _moved_auths(data[".dockerconfigjson"])
        return out
    return node


def _split_form(before: dict[str, Any], out: dict[str, Any]) -> None:
    if before.get("registry") == UPSTREAM and isinstance(before.get("repository"), str):
        out["registry"] = HARBOR_HOST
        out["repository"] = f"{PROJECT}/{before['repository']}"


def _is_pull_secret_env(item: dict[str, Any]) -> bool:
    name = item.get("name")
    return isinstance(name, str) and "PULL_SECRET" in name and isinstance(item.get("value"), str)


def _rename_list(value: str) -> str:
    names = [name.strip() for name in value.split(",")]
    if UPSTREAM_SECRET not in names:
        return value
    separator = ", " if ", " in value else ","
    renamed = [HARBOR_SECRET if name == UPSTREAM_SECRET else name for name in names]
    return separator.join(dict.fromkeys(renamed))  # first of each name kept


def _renamed_pull_secrets(entries: list[Any]) -> list[Any]:
    """Renamed, then only the first entry of each name kept (a reference is its name)."""
    renamed: list[Any] = []
    names: set[Any] = set()
    for entry in entries:
        if entry == UPSTREAM_SECRET:
            entry = HARBOR_SECRET
        elif isinstance(entry, dict) and entry.get("name") == UPSTREAM_SECRET:
            entry = {**entry, "name": HARBOR_SECRET}
        name = entry.get("name") if isinstance(entry, dict) else entry
        if name not in names:
            renamed.append(entry)
            names.add(name)
    return renamed


def _moved_auths(encoded: str) -> str:
    """Compare by meaning: the decoded config with the upstream key under the Harbor host."""
    config = json.loads(base64.b64decode(encoded))
    config["auths"] = {
        (HARBOR_HOST if key.removeprefix("https://").rstrip("/") == UPSTREAM else key): value
        for key, value in config["auths"].items()
    }
    return json.dumps(config, sort_keys=True)


def decoded_auths(document: dict[str, Any]) -> dict[str, Any]:
    """A dockerconfigjson Secret's `auths`, decoded."""
    config = json.loads(base64.b64decode(document["data"][".dockerconfigjson"]))
    auths: dict[str, Any] = config["auths"]
    return auths


def normalise_secrets(document: Any) -> Any:
    """Decode dockerconfigjson payloads so two documents compare by meaning, not by JSON layout."""
    if isinstance(document, dict) and document.get("type") == "kubernetes.io/dockerconfigjson":
        data = dict(document.get("data") or {})
        if ".dockerconfigjson" in data:
            payload = data[".dockerconfigjson"]
            if not payload.startswith("{"):
                payload = base64.b64decode(payload).decode("utf-8")
            data[".dockerconfigjson"] = json.dumps(json.loads(payload), sort_keys=True)
        return {**document, "data": data}
    return document


_PATH_TOKEN = re.compile(r"""\.?([^.\[\]'"]+)|\[(\d+)\]|\[(?:"([^"]+)"|'([^']+)')\]""")


def path_parts(path: str) -> tuple[str | int, ...]:
    """`spec.containers[0].image` or `data["defrag.sh"]` (either quote) as its keys and indexes."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        assert match is not None, f"bad path {path!r} at {position}"
        key, index, double, single = match.groups()
        name = key or double or single
        parts.append(int(index) if index is not None else name)
        position = match.end()
    return tuple(parts)


def at_path(document: Any, path: str) -> Any:
    """The value at a path as `path_parts` reads it."""
    node = document
    for part in path_parts(path):
        node = node[part]
    return node


def find_object(documents: list[Any], kind_name: str) -> Any:
    """The one document whose `Kind/name` is `kind_name`."""
    kind, _, name = kind_name.partition("/")
    found = [
        document
        for document in documents
        if isinstance(document, dict)
        and document.get("kind") == kind
        and (document.get("metadata") or {}).get("name") == name
    ]
    assert len(found) == 1, f"{kind_name}: {len(found)} documents"
    return found[0]
