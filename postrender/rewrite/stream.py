"""The stream engine: split into documents, skip those with nothing to rewrite, compose, splice.

Only documents whose text could hold something to rewrite (Rules.needles, the upstream host in
another letter case, or an escape that could spell one) are parsed at all; every other byte
goes out as it came in.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple, NoReturn

from postrender.errors import ManifestError, RewriteError
from postrender.rewrite import locate, splice
from postrender.rewrite.compose import compose
from postrender.rewrite.imageref import hide_credentials
from postrender.rewrite.places import Refusal
from postrender.rewrite.rules import Rules
from postrender.rewrite.yamlpath import Path, dotted, pointer

# Escapes that can spell a host or name in a double-quoted scalar without its text standing in
# the source: \x64, \u0064, \U00000064, and a line break escaped inside a word.
_HIDING_ESCAPE = re.compile(r"\\(?:[xuU]|\r?\n)")
# A document starts at a `---` line and ends after a `...` line (YAML forbids both at column 0
# inside any scalar, so a text split is exact).
_BOUNDARY = re.compile(r"^(?:(---)|\.\.\.)(?=[ \t\r\n]|\Z)[^\n]*\n?", re.M)
# Lines that may stand before a document's `---`: directives, comments, blank lines.
_PROLOGUE = re.compile(r"(?:[ \t]*(?:[%#][^\n]*)?\n)*")
SHOWN_MAX = 200  # characters of a value a message quotes


class Rewrite(NamedTuple):
    """One changed value, as --report lists it."""

    document: int
    api_version: str | None
    kind: str | None
    name: str | None
    namespace: str | None
    path: str  # for people: spec.containers[0].image
    pointer: str  # for JSON patches: /spec/containers/0/image
    before: str
    after: str | None  # None: the entry was removed

    def as_dict(self) -> dict[str, object]:
        entry = self._asdict()
        entry["apiVersion"] = entry.pop("api_version")
        return entry


class Result(NamedTuple):
    text: str
    rewrites: list[Rewrite]

    def report(self) -> list[dict[str, object]]:
        """The --report entries: one JSON object per changed or removed value; a Secret's data
        (a chart's registry credentials) is named, never written out, nor is a URL's password."""
        entries = [rewrite.as_dict() for rewrite in self.rewrites]
        for entry in entries:
            if secret_value(entry["kind"], str(entry["pointer"])):  # type: ignore[arg-type]
                entry["before"] = entry["after"] = "(Secret data, not shown)"
            for side in ("before", "after"):
                if isinstance(value := entry[side], str):
                    entry[side] = hide_credentials(value)
        return entries


def decode(data: bytes) -> str:
    """The stream as text, or a ManifestError saying where it stops being UTF-8 text."""
    nul = data.find(b"\x00")
    if nul >= 0:
        _raise_at(data, nul, "binary data (NUL byte), not a YAML manifest stream")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        _raise_at(data, exc.start, f"not UTF-8 text (byte 0x{data[exc.start]:02x})")


def _raise_at(data: bytes, offset: int, problem: str) -> NoReturn:
    """Name the document and line where byte `offset` stands, counted as split_documents does."""
    before = data[:offset].decode("utf-8", errors="replace")
    document = max(len(split_documents(before + "\n")), 1)
    raise ManifestError(problem, document=document, line=before.count("\n") + 1)


def split_documents(text: str) -> list[tuple[int, int]]:
    """`(start, end)` of each document; together they cover `text` exactly. Directives and
    comments before a `---` belong to the document it starts (a `%TAG` line is part of it)."""
    cuts = [0]
    for match in _BOUNDARY.finditer(text):
        cut = match.start() if match.group(1) else match.end()
        if match.group(1) and _PROLOGUE.fullmatch(text, cuts[-1], cut):
            continue  # the text since the last cut only leads into this document
        cuts.append(cut)
    cuts.append(len(text))
    return [(start, end) for start, end in itertools.pairwise(cuts) if end > start]


def rewrite_stream(text: str, rules: Rules, *, strict: bool = False) -> Result:
    """Rewrite every document of `text`; raises RewriteError if a change cannot be made safely
    or (under `strict`) if upstream mentions remain."""
    rewrites: list[Rewrite] = []
    pieces: list[str] = []
    leftovers: list[str] = []
    first_line = 1
    upstream = rules.mirror.upstream
    for number, (start, end) in enumerate(split_documents(text), start=1):
        doc = text[start:end]
        hidden = _HIDING_ESCAPE.search(doc) is not None
        folded = hidden or doc.count(upstream) != _ascii_lower(doc).count(upstream)
        if folded or any(needle in doc for needle in rules.needles):
            root = compose(doc, number, first_line)
            ident = locate.identity(root)
            try:
                found = locate.locate(root, rules, strict=strict, folded=folded)
            except Refusal as refusal:
                where = f"document {number} ({ident.kind}/{ident.name}) {dotted(refusal.path)}"
                raise RewriteError(f"{where}: {refusal.problem}") from None
            doc = splice.findings(doc, found, rules.mirror)
            edited: list[tuple[Path, str, str | None]]
            edited = [(c.path, c.before, c.after) for c in found.changes]
            edited += [(d.path, d.before, None) for d in found.drops]
            rewrites.extend(
                Rewrite(number, *ident, dotted(path), pointer(path), before, after)
                for path, before, after in edited
            )
            leftovers.extend(
                f"document {number} ({ident.kind}/{ident.name}) {dotted(left.path)}: "
                + _shown(ident.kind, left.path, left.value)
                for left in found.leftovers
            )
        pieces.append(doc)
        first_line += text.count("\n", start, end)
    if leftovers:
        raise RewriteError(
            f"--strict: {len(leftovers)} upstream mention(s) would remain, first at {leftovers[0]}"
        )
    return Result("".join(pieces), rewrites)


def _ascii_lower(text: str) -> str:
    """`text` with A-Z lowered and nothing else, as hosts compare; `str.lower` also folds every
    other script, which is several times slower on text that is not all ASCII."""
    if text.isascii():
        return text.lower()
    return text.encode("utf-8", "surrogatepass").lower().decode("utf-8", "surrogatepass")


def secret_value(kind: str | None, path: Path | str) -> bool:
    """A value under a Secret's `data` or `stringData` (a path, or its JSON pointer)."""
    if isinstance(path, str):
        return kind == "Secret" and path.startswith(("/data/", "/stringData/"))
    return kind == "Secret" and bool(path) and path[0] in ("data", "stringData")


def _shown(kind: str | None, path: Path, value: str) -> str:
    """A value as a message may quote it: Secret data withheld, long values cut short."""
    if secret_value(kind, path):
        return "(Secret data, not shown)"
    value = hide_credentials(value)
    if len(value) > SHOWN_MAX:
        return repr(value[:SHOWN_MAX]) + f"… ({len(value)} characters)"
    return repr(value)

