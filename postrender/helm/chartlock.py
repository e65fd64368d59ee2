"""Helm's `Chart.lock` digest, so a lock resolved through Harbor still matches the user's
Chart.yaml: `helm dependency build` refuses a lock whose digest is not the one Helm computes.

Helm's `resolver.HashReq`: sha256 of Go's `json.Marshal([2][]*chart.Dependency{req, lock})`,
where `chart.Dependency` marshals its fields in this order (`omitempty` on all but name and
repository) and Go escapes `<`, `>`, `&`, U+2028 and U+2029 in strings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

_FIELDS = (  # (JSON name, omitted when empty)
    ("name", False), ("version", True), ("repository", False), ("condition", True),
    ("tags", True), ("enabled", True), ("import-values", True), ("alias", True),
)  # fmt: skip
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}  # fmt: skip


def _dependency(entry: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, omit_empty in _FIELDS:
        value = entry.get(name)
        if value is None and not omit_empty:
            value = ""
        if omit_empty and value in (None, "", [], False):
            continue
        out[name] = _sorted(value)
    return out


def _sorted(value: object) -> object:
    """Go marshals a map with its keys sorted (import-values entries are maps)."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def digest(
    requirements: Sequence[Mapping[str, object]], locked: Sequence[Mapping[str, object]]
) -> str:
    """`sha256:…` as Helm writes it into Chart.lock for these Chart.yaml and lock entries."""
    data = json.dumps(
        [[_dependency(d) for d in requirements], [_dependency(d) for d in locked]],
        separators=(",", ":"), ensure_ascii=False,
    )  # fmt: skip
    for char, escaped in _GO_ESCAPES.items():
        data = data.replace(char, escaped)
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()
