"""Turn changes into text: edit only the spans of the changed scalars, keeping their style.

Node marks are character offsets into the document text, so everything here works on `str`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from postrender.rewrite.compose import Mapping, Scalar, Sequence, scalar_value
from postrender.rewrite.places import Change, Drop, Findings
from postrender.rewrite.rules import MirrorRule

# Anchors and tags stand before a scalar's own text inside the node's span.
_PROPERTIES = re.compile(r"(?:[&!][^\s]*\s+)*")
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# What JSON leaves unescaped but YAML must not read literally: line breaks to YAML 1.1 (NEL,
# LS, PS), which a quoted scalar folds to a space, and characters YAML does not allow.
_UNSAFE_LITERALLY = re.compile("[\x7f-\x9f\u2028\u2029\ufeff]")
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

    return _UNSAFE_LITERALLY.sub(
        lambda match: f"\\u{ord(match[0]):04x}", json.dumps(value, ensure_ascii=False)
    )


def _quote(value: str, style: str | None) -> str:
    """`value` as a scalar in `style` where that style can carry it, else double-quoted."""
    if style is None and _plain_ok(value):
        return value
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    return _double_quoted(value)


def render_change(text: str, change: Change, mirror: MirrorRule) -> tuple[int, int, str]:
    """The span of `change.node` (or of its alias) in `text` and the source text replacing it."""
    if change.alias is not None:  # the alias now stands for another value: write that value
        return change.alias[0], change.alias[1], _double_quoted(change.after)
    node = change.node
    start, end = node.start, node.end
    span = text[start:end]
    cut = _PROPERTIES.match(span).end()  # type: ignore[union-attr]  # `*` always matches
    head, body = span[:cut], span[cut:]
    style = node.style
    quoted = style in ("'", '"')
    inner = body[1:-1] if quoted and len(body) >= 2 else body
    # The common case: the source holds the value verbatim, so only the content changes.
    if style in (None, "'", '"') and inner == change.before:
        return start, end, head + _quote(change.after, style)
    # Folded, escaped or block text: edit the source in place if it then reads as the value.
    if change.how == "mirror":
        edited = mirror.rewrite(body)
        if scalar_value(edited) == change.after:
            return start, end, head + edited
    if style == "|" and (literal := _literal_edit(body, change.before, change.after)):
        return start, end, head + literal
    return start, end, head + _double_quoted(change.after) + _block_tail(body, style)


def _literal_edit(body: str, before: str, after: str) -> str | None:
    """A literal block scalar's source with the stretch where `after` differs from `before`
    written in, indented as the block is; None if the block then does not read as `after`
    (an explicit indentation indicator, a change in its trailing line breaks)."""
    lines = body.split("\n")  # the header (`|-`…), then the content lines
    indent = next((len(line) - len(line.lstrip(" ")) for line in lines[1:] if line.strip()), 0)
    same_start, same_end = _unchanged_ends(before, after)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)

    def source(offset: int) -> int:
        """Where the value's character `offset` stands in `body`."""
        row = before.count("\n", 0, offset) + 1
        column = offset - (before.rfind("\n", 0, offset) + 1)
        if row >= len(lines):
            return len(body)
        return starts[row] + (column + indent if column else min(indent, len(lines[row])))

    new = after[same_start : len(after) - same_end]
    new = re.sub(r"\n(?=[^\n])", "\n" + " " * indent, new)
    edited = body[: source(same_start)] + new + body[source(len(before) - same_end) :]
    return edited if scalar_value(edited) == after else None


def _unchanged_ends(before: str, after: str) -> tuple[int, int]:
    """How many characters `before` and `after` share at the start, then at the end."""
    room = min(len(before), len(after))
    start = next((i for i in range(room) if before[i] != after[i]), room)
    room -= start
    end = next((i for i in range(room) if before[-1 - i] != after[-1 - i]), room)
    return start, end


def _block_tail(body: str, style: str | None) -> str:
    """A block scalar's span runs past its last line break, into the next line's indentation:
    a value written in its place must keep that, or the next key joins its line."""
    if style not in ("|", ">"):
        return ""
    tail = body[body.rfind("\n"):] if "\n" in body else ""
    return tail if not tail.strip() else ""


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    newline = text.find("\n", index)
    return len(text) if newline < 0 else newline + 1


def _slot_start(sequence: Sequence, position: int) -> int:
    alias = sequence.aliases.get(position)
    return alias[0] if alias else sequence.items[position].start


def _slot_end(parent: Sequence | Mapping, position: int) -> int:
    """Where the text at a child's place ends (block collections' end marks run past it)."""
    while True:
        alias = parent.aliases.get(position)
        if alias:
            return alias[1]
        node = parent.items[position] if isinstance(parent, Sequence) else parent.pairs[position][1]
        if isinstance(node, Scalar) or node.flow:
            return node.end
        parent = node
        position = len(parent.items if isinstance(parent, Sequence) else parent.pairs) - 1


def render_drop(text: str, drop: Drop) -> tuple[int, int, str] | None:
    """The span that removes one sequence item with its indicator, or None if unsure."""
    sequence, position = drop.sequence, drop.position
    if sequence.flow:  # a drop always follows the entry it duplicates
        return _slot_end(sequence, position - 1), _slot_end(sequence, position), ""
    item_start = _slot_start(sequence, position)
    start = _line_start(text, item_start)
    if text[start:item_start].strip() != "-":
        return None
    if position + 1 < len(sequence.items):
        end = _line_start(text, _slot_start(sequence, position + 1))
    else:
        end = _line_end(text, _slot_end(sequence, position))
    return start, end, ""


def apply(text: str, edits: Iterable[tuple[int, int, str]]) -> str:
    """Splice non-overlapping `(start, end, replacement)` edits into `text`."""
    pieces: list[str] = []
    position = 0
    for start, end, replacement in sorted(set(edits)):
        if start < position:
            continue  # a change inside an entry that a drop removes
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def findings(text: str, found: Findings, mirror: MirrorRule) -> str:
    """`text` with every change and removal of `found` made."""
    edits = [render_change(text, change, mirror) for change in found.changes]
    edits.extend(edit for drop in found.drops if (edit := render_drop(text, drop)))
    return apply(text, edits) if edits else text
