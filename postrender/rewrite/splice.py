"""Turn changes into text: edit only the spans of the changed scalars, keeping their style.

Node marks are character offsets into the document text, so everything here works on `str`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ruamel.yaml.nodes import MappingNode, Node, SequenceNode

from postrender.rewrite.locate import Change, Drop
from postrender.rewrite.rules import MirrorRule

# Anchors and tags stand before a scalar's own text inside the node's span.
_PROPERTIES = re.compile(r"(?:[&!][^\s]*\s+)*")
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# Plain scalars YAML 1.1 or 1.2 would read as something other than a string.
_NOT_A_STRING = re.compile(
    r"(?:~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE"
    r"|on|On|ON|off|Off|OFF|[-+]?(?:[0-9][0-9_:.eE+-]*|\.inf|\.Inf|\.INF)|\.nan|\.NaN|\.NAN)\Z"
)


def _plain_ok(value: str) -> bool:
    """Can `value` stand as a plain scalar and still read back as this string?"""
    if not value or value != value.strip() or "\n" in value or _NOT_A_STRING.match(value):
        return False
    if ": " in value or " #" in value or value.endswith(":"):
        return False
    first, second = value[0], value[1:2]
    return first not in _INDICATORS or (first in "-?:" and second not in ("", " "))


def _double_quoted(value: str) -> str:
    import json  # JSON strings are valid YAML double-quoted scalars

    return json.dumps(value, ensure_ascii=False)


def _quote(value: str, style: str | None) -> str:
    """`value` as a scalar in `style` where that style can carry it, else double-quoted."""
    if style is None and _plain_ok(value):
        return value
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    return _double_quoted(value)


def render_change(text: str, change: Change, mirror: MirrorRule) -> tuple[int, int, str]:
    """The span of `change.node` in `text` and the source text that replaces it."""
    node = change.node
    start, end = node.start_mark.index, node.end_mark.index
    span = text[start:end]
    cut = _PROPERTIES.match(span).end()  # type: ignore[union-attr]  # `*` always matches
    head, body = span[:cut], span[cut:]
    style = node.style or None  # the C composer reports plain as ""
    quoted = style in ("'", '"')
    inner = body[1:-1] if quoted and len(body) >= 2 else body
    # The common case: the source holds the value verbatim, so only the content changes.
    if style in (None, "'", '"') and inner == change.before:
        return start, end, head + _quote(change.after, style)
    # Folded, escaped or block text: edit the source in place when it holds the same matches.
    if change.how == "mirror" and mirror.count(body) == mirror.count(change.before):
        return start, end, head + mirror.rewrite(body)
    return start, end, head + _double_quoted(change.after)


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _last_scalar_end(node: Node) -> int:
    """Where a node's last piece of text ends (block collections' end marks run past it)."""
    while isinstance(node, (MappingNode, SequenceNode)) and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    return int(node.end_mark.index)


def render_drop(text: str, drop: Drop) -> tuple[int, int, str] | None:
    """The span that removes one sequence item with its indicator, or None if unsure."""
    items = drop.sequence.value
    item = items[drop.position]
    if drop.sequence.flow_style:
        previous = items[drop.position - 1]  # a drop always follows the entry it duplicates
        return previous.end_mark.index, item.end_mark.index, ""
    start = _line_start(text, item.start_mark.index)
    if text[start : item.start_mark.index].strip() != "-":
        return None
    if drop.position + 1 < len(items):
        end = _line_start(text, items[drop.position + 1].start_mark.index)
    else:
        end = _line_end(text, _last_scalar_end(item))
    return start, end, ""


def apply(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """Splice non-overlapping `(start, end, replacement)` edits into `text`."""
    pieces: list[str] = []
    position = 0
    for start, end, replacement in sorted(set(edits)):
        if start < position:
            continue  # an alias's second visit of the same node
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)
