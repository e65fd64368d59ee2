"""A node's place in a document, written for people (dotted) and for JSON patches (RFC 6901)."""

from __future__ import annotations

Path = tuple[str | int, ...]


def dotted(parts: Path) -> str:
    """`spec.containers[0].image`; keys that are not plain words are quoted: `a['x.io/y']`."""
    out = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part and all(c.isalnum() or c in "_-" for c in part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{part!r}]")
    return "".join(out)


def pointer(parts: Path) -> str:
    """`/spec/containers/0/image`, with `~` and `/` escaped as RFC 6901 asks."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def from_pointer(text: str) -> tuple[str, ...]:
    """The parts of an RFC 6901 pointer, as text (a sequence index stays a digit string)."""
    return tuple(part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:])
