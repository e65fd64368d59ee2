"""Find what to change in one composed document: a walk that visits each node once.

The walk calls the place rules (place_rules.py) where each applies and notes every scalar
that could change (it mentions the upstream host, or stands in more than one place); places.py
then settles what each place of each scalar gets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from postrender.rewrite import place_rules
from postrender.rewrite.compose import Mapping, Node, Scalar, Sequence
from postrender.rewrite.place_rules import Scope
from postrender.rewrite.places import Findings, Place, Places, own_value
from postrender.rewrite.rules import Rules
from postrender.rewrite.yamlpath import Path


class Identity(NamedTuple):
    """What selects a document as a patch target: apiVersion, kind, name, namespace."""

    api_version: str | None
    kind: str | None
    name: str | None
    namespace: str | None


def identity(root: Node | None) -> Identity:
    """The document's apiVersion, kind, metadata.name and metadata.namespace, where present."""
    if not isinstance(root, Mapping):
        return Identity(None, None, None, None)
    position = root.local("metadata")
    metadata = root.pairs[position][1] if position is not None else None
    name = namespace = None
    if isinstance(metadata, Mapping):
        name, namespace = own_value(metadata, "name"), own_value(metadata, "namespace")
    return Identity(own_value(root, "apiVersion"), own_value(root, "kind"), name, namespace)


def locate(
    root: Node | None, rules: Rules, *, strict: bool = False, folded: bool = False,
    depth: int = 0,
) -> Findings:
    """Everything to change in one document (and, with `strict`, what would still mention U).

    `folded`: the document may spell the upstream host in another case, so look for it in
    every case (host names are case-insensitive). `depth`: how many text values the document
    is nested in (0 for a document of the stream)."""
    upstream = rules.mirror.upstream
    mentions: Callable[[str], bool] = (
        (lambda v: upstream in v.lower()) if folded else (lambda v: upstream in v)
    )
    if rules.secret is not None:  # text that is JSON or YAML may hold the name in a list
        names_host, secret = mentions, rules.secret.old

        def mentions(value: str) -> bool:
            return names_host(value) or secret in value

    if root is None:
        return Findings([], [], [])
    scope = Scope(rules, Places(), mentions, depth)
    if isinstance(root, Mapping):
        for document_rule in place_rules.DOCUMENT_RULES:
            document_rule(root, scope)
    _walk(root, scope)
    mirror = rules.mirror

    def remains(value: str) -> bool:
        """What --strict reports: a value that still names the upstream host."""
        return mentions(value) and mirror.mentions(value)

    return scope.places.decide(scope.free, remains if strict else None)


def _walk(root: Node, scope: Scope) -> None:
    """Depth first, each collection once: its mapping rules, then its values in order (a
    collection under a key rule's key is handed to that rule at each place it stands)."""
    places, mentions = scope.places, scope.mentions
    if isinstance(root, Scalar):
        places.note(root, Place((0, 0), (), None, None))
        return
    mapping_rules, key_rules = place_rules.MAPPING_RULES, place_rules.KEY_RULES
    seen = {id(root)}
    stack: list[tuple[Sequence | Mapping, Path]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        pending: list[tuple[Sequence | Mapping, Path]] = []
        steps: range | list[str | int]
        if isinstance(node, Sequence):
            steps, children = range(len(node.items)), node.items
        else:
            if node.merges:
                places.note_merged(node, path)
            for trigger, rule in mapping_rules:
                if node.merges or node.local(trigger) is not None:
                    rule(node, path, scope)
            steps = [key.value if isinstance(key, Scalar) else "?" for key, _ in node.pairs]
            children = [value for _, value in node.pairs]
        for position, child in enumerate(children):
            if isinstance(child, Scalar):
                if child.refs > 1 or mentions(child.value):
                    place = Place((id(node), position), (*path, steps[position]),
                                  node.aliases.get(position), None)
                    places.note(child, place)
                continue
            step = steps[position]
            key_rule = key_rules.get(step) if isinstance(step, str) else None
            if key_rule is not None:
                key_rule(child, (*path, step), scope)
            if id(child) not in seen:
                seen.add(id(child))
                pending.append((child, (*path, step)))
        stack.extend(reversed(pending))
