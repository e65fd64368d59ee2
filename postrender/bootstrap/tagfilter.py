"""Does a replication rule's tag filter keep cosign's signature tags?

Harbor's pull replication from a plain registry sees `sha256-<hex>.sig`/`.att` as ordinary tags
(`pkg/reg/adapter/native/adapter.go`, `FetchArtifacts`) and applies the tag filter to them like
to any tag (`pkg/reg/filter/artifact.go`, `artifactTagFilter`), so `3.5.*` copies the images
and drops their signatures (goharbor/harbor#19406). Patterns are doublestar's
(`pkg/reg/util/pattern.go`, `Match`): `*`, `**`, `?`, `[...]`, `{a,b}`, `\\` escapes; a tag has no
`/`, so `*` and `**` both match any run of characters in it.
"""

from __future__ import annotations

import re

# What a signature and an attestation tag look like (any digest will do for the test).
_SIGNATURE_TAGS = (f"sha256-{'0' * 64}.sig", f"sha256-{'0' * 64}.att")
SIGNATURE_PATTERN = "sha256-*"


def keeps_signatures(pattern: str | None) -> bool:
    """Whether a tag filter (None or "": every tag) matches signature and attestation tags."""
    if not pattern:
        return True
    try:
        matcher = re.compile(_regex(pattern) + r"\Z", re.DOTALL)
    except re.error:
        return False  # Harbor would refuse such a pattern too
    return all(matcher.match(tag) for tag in _SIGNATURE_TAGS)


def keeping_signatures(pattern: str) -> str:
    """The filter that also keeps every signature and attestation tag."""
    if pattern.startswith("{") and _group_end(pattern, 0) == len(pattern) - 1:
        return f"{pattern[:-1]},{SIGNATURE_PATTERN}}}"
    return f"{{{pattern},{SIGNATURE_PATTERN}}}"


def warning(pattern: str | None) -> str | None:
    """The setup warning for a tag filter that drops signatures, naming the one that keeps them."""
    if keeps_signatures(pattern):
        return None
    assert pattern is not None
    return (f"--filter-tag {pattern!r} does not match cosign's sha256-<digest>.sig/.att tags, "
            "so replication copies the images without their signatures and verify "
            f"--signatures reports them missing: use --filter-tag "
            f"{keeping_signatures(pattern)!r} to keep them")


def _regex(pattern: str) -> str:
    """doublestar's pattern as a Python regular expression (for a tag: no `/` in it)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
            while i + 1 < len(pattern) and pattern[i + 1] == "*":
                i += 1
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise re.error("unclosed [")
            body = pattern[i + 1:end]
            negated = body[:1] in ("!", "^")
            out.append("[" + ("^" if negated else "") + body[negated:].replace("\\", "\\\\") + "]")
            i = end
        elif char == "{":
            end = _group_end(pattern, i)
            alternatives = _split_top(pattern[i + 1:end])
            out.append("(?:" + "|".join(_regex(a) for a in alternatives) + ")")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _group_end(pattern: str, start: int) -> int:
    """The index of the `}` closing the `{` at `start`."""
    depth = 0
    for i in range(start, len(pattern)):
        if pattern[i] == "{":
            depth += 1
        elif pattern[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise re.error("unclosed {")


def _split_top(body: str) -> list[str]:
    """`a,{b,c},d` → [`a`, `{b,c}`, `d`]: commas outside nested groups."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in body:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += (char == "{") - (char == "}")
        current.append(char)
    parts.append("".join(current))
    return parts
