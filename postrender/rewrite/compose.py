"""Compose one document into nodes that know where every alias stands in the text.

ruamel's composers resolve an alias to its anchored node and forget where the `*alias` was, so
a change meant for one place of a shared node could only be applied to every place at once.
This composer builds the graph from parser events without recursion (deep nesting is fine),
keeps one node per anchor (an alias bomb stays small) and records each alias's own span, so the
rewrite can expand an alias at the one place that needs a different value, or refuse.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from postrender.errors import ManifestError

# libyaml follows YAML 1.1 in flow collections: a plain `image: host/x:1` inside `{…}` or `[…]`
# is refused at the `:`. Such a colon (not after a quote, not before a space or flow indicator)
# is a plain scalar's own character in YAML 1.2; a same-length stand-in lets libyaml read the
# text at full speed with every mark unchanged, and the values get their colon back.
_INNER_COLON = re.compile(r"(?<=[^\s\"':])(:)(?=[^\s,\[\]{}])")
_STAND_IN = "\ue000"
BOM = "\ufeff"
MAX_DEPTH = 10_000  # go-yaml's limit on nested collections, which Helm reads the output with


class Scalar:
    """A scalar, with the span of its own text (anchor and tag included)."""

    __slots__ = ("anchor", "end", "refs", "start", "style", "value")

    def __init__(self, value: str, start: int, end: int, style: str | None, anchor: str | None):
        self.value = value
        self.start = start
        self.end = end
        self.style = style or None  # libyaml reports plain as ""
        self.anchor = anchor
        self.refs = 0  # places in the text: the definition and each alias


class Collection:
    """A mapping or a sequence; `aliases` maps a child's position to its `*alias` span."""

    __slots__ = ("aliases", "anchor", "end", "flow", "refs", "start")

    def __init__(self, start: int, flow: bool, anchor: str | None):
        self.start = start
        self.end = start
        self.flow = flow
        self.anchor = anchor
        self.aliases: dict[int, tuple[int, int]] = {}
        self.refs = 0


class Sequence(Collection):
    __slots__ = ("items",)

    def __init__(self, start: int, flow: bool, anchor: str | None):
        super().__init__(start, flow, anchor)
        self.items: list[Node] = []

    def add(self, node: Node, alias: tuple[int, int] | None) -> None:
        if alias is not None:
            self.aliases[len(self.items)] = alias
        self.items.append(node)


class Mapping(Collection):
    """Pairs in order; alias positions count values only (aliased keys are never changed).
    `merges` holds the values of `<<` keys, whose mappings lend their keys to this one."""

    __slots__ = ("_index", "_key", "merges", "pairs")

    def __init__(self, start: int, flow: bool, anchor: str | None):
        super().__init__(start, flow, anchor)
        self.pairs: list[tuple[Node, Node]] = []
        self.merges: list[Node] = []
        self._index: dict[str, int] = {}
        self._key: Node | None = None

    def add(self, node: Node, alias: tuple[int, int] | None) -> None:
        key = self._key
        if key is None:
            self._key = node
            return
        self._key = None
        if alias is not None:
            self.aliases[len(self.pairs)] = alias
        if isinstance(key, Scalar):
            self._index.setdefault(key.value, len(self.pairs))
            if key.value == "<<" and key.style is None:
                self.merges.append(node)
        self.pairs.append((key, node))

    def local(self, key: str) -> int | None:
        """The position of `key` among this mapping's own pairs (the first, if repeated)."""
        return self._index.get(key)


Node = Scalar | Sequence | Mapping


class _Problem(Exception):
    def __init__(self, problem: str, line: int):
        super().__init__(problem)
        self.problem = problem
        self.line = line


class _TooDeep(_Problem):
    """Final: no other parser would read it either (and libyaml slows down with depth)."""


def _build(next_event: Callable[[], Any], restore: bool, base: int = 0) -> Node | None:
    """The first document's root; an alias reuses its anchor's node (the latest definition).
    `base` is added to every mark: the characters the parser read without counting them."""
    anchors: dict[str, Node] = {}
    stack: list[Sequence | Mapping] = []
    top: Sequence | Mapping | None = None
    root: Node | None = None
    documents = 0
    while True:
        event = next_event()
        kind = event.__class__
        node: Node
        alias = None
        if kind is ScalarEvent:
            value = event.value.replace(_STAND_IN, ":") if restore else event.value
            node = Scalar(value, event.start_mark.index + base, event.end_mark.index + base,
                          event.style, event.anchor)
            if event.anchor is not None:
                anchors[event.anchor] = node
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            cls = Mapping if kind is MappingStartEvent else Sequence
            node = cls(event.start_mark.index + base, bool(event.flow_style), event.anchor)
            if event.anchor is not None:
                anchors[event.anchor] = node
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            stack.pop().end = event.end_mark.index + base
            top = stack[-1] if stack else None
            continue
        elif kind is AliasEvent:
            found = anchors.get(event.anchor)
            if found is None:
                raise _Problem(f"found undefined alias {event.anchor!r}", event.start_mark.line)
            node, alias = found, (event.start_mark.index + base, event.end_mark.index + base)
        elif kind is DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Problem("expected a single document", event.start_mark.line)
            continue
        elif kind is StreamEndEvent:
            return root
        else:
            continue
        node.refs += 1
        if top is None:
            root = node
        else:
            top.add(node, alias)
        if alias is None and not isinstance(node, Scalar):
            if len(stack) == MAX_DEPTH:
                raise _TooDeep(f"nested more than {MAX_DEPTH} levels deep (Helm's own YAML "
                               "parser refuses that too)", event.start_mark.line)
            stack.append(node)
            top = node


def _c_build(text: str, restore: bool) -> Node | None:
    """libyaml skips a byte-order mark at the start of its input without counting it (editors
    on Windows write one), so the marks after it are one character short of the text's."""
    parser = CParser(text)
    try:
        return _build(parser.get_event, restore, 1 if text.startswith(BOM) else 0)
    finally:
        parser.dispose()


def _pure_build(text: str) -> Node | None:
    from ruamel.yaml import YAML

    with warnings.catch_warnings():  # a success must leave stderr empty
        warnings.simplefilter("ignore")
        return _build(iter(YAML(typ="safe", pure=True).parse(text)).__next__, False)


def _c_attempts(doc: str) -> Iterator[tuple[str, bool]]:
    """The texts libyaml is given, and whether values get their colon back: the stand-in text
    is only made if the document as written is refused (most are not)."""
    yield doc, False
    if _STAND_IN not in doc:
        stood_in = _INNER_COLON.sub(_STAND_IN, doc)
        if stood_in != doc:
            yield stood_in, True


def compose(doc: str, number: int, first_line: int) -> Node | None:
    """Compose with libyaml, then libyaml with flow colons stood in for, then pure Python."""
    try:
        for text, restore in _c_attempts(doc):
            try:
                return _c_build(text, restore)
            except _TooDeep:
                raise
            except (YAMLError, _Problem):
                pass
        return _pure_build(doc)
    except _Problem as exc:
        raise ManifestError(f"invalid YAML: {exc.problem}", document=number,
                            line=first_line + exc.line) from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = first_line + mark.line if mark is not None else first_line
        raise ManifestError(f"invalid YAML: {problem}", document=number, line=line) from None


def scalar_value(text: str) -> str | None:
    """What `text`, read alone as a YAML scalar, means (None: not a lone scalar)."""
    try:
        root = _c_build(text, False)
    except (YAMLError, _Problem):
        return None
    return root.value if isinstance(root, Scalar) else None


def embedded(text: str) -> Sequence | Mapping | None:
    """The collection a text value holds when that text is itself a JSON or YAML document (a
    sidecar injector's values in a ConfigMap, a config file in a block scalar), its marks
    counted in `text`; None for one line of prose, a lone scalar, or text libyaml cannot read."""
    body = text.strip().removeprefix(BOM)  # a file read in whole may start with one
    if not body.startswith(("{", "[")) and "\n" not in body:
        return None
    for attempt, restore in _c_attempts(text):
        try:
            root = _c_build(attempt, restore)
        except (YAMLError, _Problem):
            continue
        return root if isinstance(root, Sequence | Mapping) else None
    return None
