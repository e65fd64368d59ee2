"""Every place a rewrite shows once a document's aliases and `<<` merges are expanded.

The engine changes a shared value once, where the text holds it (at its anchor), and reports
it there; kustomize reads the document expanded, so a patch must name each place an alias or a
merge repeats that value. Those places come from walking the document before and after the
rewrite side by side, both read as kustomize reads them; the entries the engine removed tell
how a list's items line up (a shared list loses the same items at each of its places).
"""

from __future__ import annotations

from typing import Any

from postrender.errors import ManifestError
from postrender.rewrite.stream import Rewrite
from postrender.rewrite.yamlpath import Path, dotted, from_pointer, pointer

MAX_VISITS = 100_000  # nodes of one expanded document walked: past that, an alias bomb


def every_place(changes: list[Rewrite], before: Any, after: Any) -> list[Rewrite]:
    """`changes` (one document's, as the engine reports them) at every place of the expanded
    document: replacements in document order, then removals."""
    removed = _removed(changes, before)
    first = changes[0]
    ident = (first.document, first.api_version, first.kind, first.name, first.namespace)
    replaced: list[Rewrite] = []
    dropped: list[Rewrite] = []
    visits = 0
    stack: list[tuple[Path, Any, Any]] = [((), before, after)]
    while stack:
        path, old, new = stack.pop()
        visits += 1
        if visits > MAX_VISITS:
            raise ManifestError(
                f"its aliases expand to more than {MAX_VISITS} nodes, each of which kustomize "
                "would patch on its own; write the document out without them",
                document=first.document,
            )
        if isinstance(old, dict) and isinstance(new, dict):
            stack.extend(((*path, key), old[key], new[key]) for key in reversed(old) if key in new)
        elif isinstance(old, list) and isinstance(new, list):
            gone = removed.get(id(old), set())
            kept = [index for index in range(len(old)) if index not in gone]
            pairs = list(zip(kept, new, strict=True))
            stack.extend(((*path, index), old[index], item) for index, item in reversed(pairs))
            dropped.extend(
                Rewrite(*ident, dotted((*path, i)), pointer((*path, i)), old[i], None)
                for i in sorted(gone)
            )
        elif old != new:
            replaced.append(Rewrite(*ident, dotted(path), pointer(path), old, new))
    return replaced + dropped


def _removed(changes: list[Rewrite], before: Any) -> dict[int, set[int]]:
    """id(list) → the positions the engine removed from it (the same list object stands at
    each of its places once read)."""
    removed: dict[int, set[int]] = {}
    for change in changes:
        if change.after is not None:
            continue
        *parent, position = from_pointer(change.pointer)
        node = before
        for part in parent:
            node = node[int(part)] if isinstance(node, list) else node[part]
        removed.setdefault(id(node), set()).add(int(position))
    return removed
