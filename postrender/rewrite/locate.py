"""Find what to change in one composed document: a walk over ruamel nodes that yields changes.

The walk only selects nodes and computes their new values from the string rules; turning a
change into text is splice.py's job.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from postrender.rewrite.rules import DOCKERCONFIG_TYPE, Rules
from postrender.rewrite.yamlpath import Path


class Change(NamedTuple):
    """Give scalar `node` the value `after`; `how` tells splice how the source may be edited."""

    node: ScalarNode
    path: Path
    before: str
    after: str
    how: Literal["mirror", "value"]


class Drop(NamedTuple):
    """Remove item `position` of `sequence`: a duplicate pull secret the rename created."""

    sequence: SequenceNode
    position: int
    path: Path
    before: str


class Leftover(NamedTuple):
    """An upstream mention the rules leave in place (what --strict reports)."""

    path: Path
    value: str


class Findings(NamedTuple):
    """What one document needs: the changes, the removals, and (for --strict) what remains."""

    changes: list[Change]
    drops: list[Drop]
    leftovers: list[Leftover]


def _child(mapping: MappingNode, key: str) -> Node | None:
    for key_node, value_node in mapping.value:
        if key_node.value == key:
            return value_node  # type: ignore[no-any-return]
    return None


def _scalar(mapping: MappingNode, key: str) -> ScalarNode | None:
    node = _child(mapping, key)
    return node if isinstance(node, ScalarNode) else None


def _value(mapping: MappingNode, key: str) -> str | None:
    node = _scalar(mapping, key)
    return node.value if node is not None else None


class Identity(NamedTuple):
    """What selects a document as a patch target: apiVersion, kind, name, namespace."""

    api_version: str | None
    kind: str | None
    name: str | None
    namespace: str | None


def identity(root: Node | None) -> Identity:
    """The document's apiVersion, kind, metadata.name and metadata.namespace, where present."""
    if not isinstance(root, MappingNode):
        return Identity(None, None, None, None)
    metadata = _child(root, "metadata")
    name = namespace = None
    if isinstance(metadata, MappingNode):
        name, namespace = _value(metadata, "name"), _value(metadata, "namespace")
    return Identity(_value(root, "apiVersion"), _value(root, "kind"), name, namespace)


class _Walk:
    def __init__(self, rules: Rules, strict: bool):
        self.rules = rules
        self.strict = strict
        self.found = Findings([], [], [])
        self.path: list[str | int] = []
        self.handled: set[int] = set()

    def change(self, node: ScalarNode, after: str, how: Literal["mirror", "value"]) -> None:
        self.handled.add(id(node))
        if after != node.value:
            self.found.changes.append(Change(node, tuple(self.path), node.value, after, how))
        self.check(after)

    def check(self, value: str) -> None:
        mirror = self.rules.mirror
        if self.strict and mirror.upstream in value and mirror.mentions(value):
            self.found.leftovers.append(Leftover(tuple(self.path), value))

    def node(self, node: Node) -> None:
        if isinstance(node, ScalarNode):
            if id(node) in self.handled:
                return
            value = node.value
            if self.rules.mirror.upstream in value:
                self.change(node, self.rules.mirror.rewrite(value), "mirror")
        elif isinstance(node, MappingNode):
            self.mapping(node)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.path.append(index)
                self.node(item)
                self.path.pop()

    def mapping(self, node: MappingNode) -> None:
        self.split_form(node)
        if self.rules.secret is not None:
            self.pull_secret_env(node)
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else "?"
            self.path.append(key)
            if key == "imagePullSecrets" and isinstance(value_node, SequenceNode):
                self.image_pull_secrets(value_node)
            self.node(value_node)
            self.path.pop()

    def with_key(self, key: str, node: ScalarNode, after: str) -> None:
        self.path.append(key)
        self.change(node, after, "value")
        self.path.pop()

    def split_form(self, node: MappingNode) -> None:
        """`registry: U` + `repository: path` → `registry: HARBOR` + `repository: PROJECT/path`."""
        registry, repository = _scalar(node, "registry"), _scalar(node, "repository")
        if registry is None or registry.value != self.rules.mirror.upstream:
            return
        if repository is None or not repository.value:
            return
        mirror = self.rules.mirror
        self.with_key("registry", registry, mirror.harbor_host)
        self.with_key("repository", repository, f"{mirror.project}/{repository.value}")

    def pull_secret_env(self, node: MappingNode) -> None:
        """An env var whose name says it carries pull-secret names (one, or a comma list)."""
        name = _scalar(node, "name")
        value = _scalar(node, "value")
        if name is None or value is None or "PULL_SECRET" not in name.value.upper():
            return
        assert self.rules.secret is not None
        self.with_key("value", value, self.rules.secret.rename_list(value.value))

    def image_pull_secrets(self, sequence: SequenceNode) -> None:
        """Rename `{name: old}` and bare `old` entries; drop the duplicates that creates."""
        secret = self.rules.secret
        if secret is None:
            return
        entries: list[tuple[int, ScalarNode, bool]] = []  # index, name node, object form
        for index, item in enumerate(sequence.value):
            if isinstance(item, ScalarNode):
                entries.append((index, item, False))
            elif isinstance(item, MappingNode) and (name := _scalar(item, "name")) is not None:
                entries.append((index, name, True))
        if not any(node.value == secret.old for _, node, _ in entries):
            return
        seen_new = False
        for index, node, object_form in entries:
            if node.value not in (secret.old, secret.new):
                continue
            self.path.append(index)
            if seen_new:
                self.handled.add(id(node))
                self.found.drops.append(Drop(sequence, index, tuple(self.path), node.value))
            else:
                seen_new = True
                if object_form:
                    self.with_key("name", node, secret.new)
                else:
                    self.change(node, secret.new, "value")
            self.path.pop()

    def docker_config(self, root: MappingNode) -> None:
        """A chart-rendered dockerconfigjson Secret: move the upstream's `auths` key to Harbor."""
        if _value(root, "kind") != "Secret" or _value(root, "type") != DOCKERCONFIG_TYPE:
            return
        for section, move in (
            ("data", self.rules.move_auths_base64),
            ("stringData", self.rules.move_auths),
        ):
            mapping = _child(root, section)
            if not isinstance(mapping, MappingNode):
                continue
            payload = _scalar(mapping, ".dockerconfigjson")
            if payload is not None:
                self.path.append(section)
                self.with_key(".dockerconfigjson", payload, move(payload.value))
                self.path.pop()


def locate(root: Node | None, rules: Rules, *, strict: bool = False) -> Findings:
    """Everything to change in one document (and, with `strict`, what would still mention U)."""
    walk = _Walk(rules, strict)
    if isinstance(root, MappingNode):
        walk.docker_config(root)
    if root is not None:
        walk.node(root)
    return walk.found
