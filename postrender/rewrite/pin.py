"""Pin each Harbor image reference to the digest a lock file gives it: `H/P/path:TAG` becomes
`H/P/path:TAG@sha256:…`, the one change made to the rewritten stream.

A reference that already carries a digest is checked, not changed. A place that cannot carry a
digest (a bare registry host beside a `repository:` key) stays by tag and is listed as not
pinned. A reference the lock does not know, or whose digest names other content, is refused:
pulling it would ask the upstream, or pull something the lock was not written for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from postrender.errors import HarborMirrorError
from postrender.rewrite import imageref
from postrender.rewrite.mirrored import harbor_references
from postrender.rewrite.rules import MirrorRule
from postrender.rewrite.stream import Rewrite

RERUN = "re-run `helm harbor-mirror verify --write-lock` with the release's arguments"


class PinRefused(HarborMirrorError):
    """A Harbor reference the lock cannot pin: missing from it, or with another digest."""


class Pin(NamedTuple):
    """The digest a reference is pulled by, and every digest that names the same content."""

    digest: str
    known: frozenset[str]


class Pinned(NamedTuple):
    """The pinned stream, and the places left by tag (`line N: text`)."""

    text: str
    not_pinned: list[str]


def pin(text: str, rule: MirrorRule, pins: Mapping[str, Pin], *, where: str) -> Pinned:
    """Add each reference's locked digest after its tag; `where` names the lock in errors."""
    out: list[str] = []
    last = 0
    for found_at in harbor_references(text, rule):
        if found_at.chart:
            continue  # an oci:// chart URL: the wrappers fetch the chart by its digest
        candidate, parsed = found_at.text, found_at.reference
        by_tag = candidate if parsed.digest is None else candidate.rpartition("@")[0]
        found = pins.get(by_tag)
        if parsed.digest is not None:
            if found is not None and parsed.digest not in found.known:
                raise PinRefused(f"{candidate}: the lock file {where} pins it to {found.digest}, "
                                 f"not this digest; {RERUN}")
            continue
        if found is None:
            raise PinRefused(f"{candidate} is not in the lock file {where}; {RERUN}")
        end = found_at.start + len(candidate)
        out += [text[last:end], "@", found.digest]
        last = end
    out.append(text[last:])
    return Pinned("".join(out), _unpinnable(text, rule))


def pin_rewrites(
    rewrites: Sequence[Rewrite], rule: MirrorRule, pins: Mapping[str, Pin], *, where: str
) -> tuple[list[Rewrite], list[str]]:
    """Each rewritten value with its references pinned (what --report and an overlay's patches
    say), and the values that are a bare Harbor host, which no digest fits."""
    pinned, bare = [], []
    for rewrite in rewrites:
        if rewrite.after == rule.harbor_host:
            bare.append(f"{rewrite.kind}/{rewrite.name} {rewrite.path}: {rewrite.after}")
        elif rewrite.after is not None:
            rewrite = rewrite._replace(after=pin(rewrite.after, rule, pins, where=where).text)
        pinned.append(rewrite)
    return pinned, bare


def _unpinnable(text: str, rule: MirrorRule) -> list[str]:
    """Every place where the Harbor host stands as a bare registry value: a split
    `registry`/`repository` pair, which has no field a digest could go in."""
    places = []
    value = re.compile(r"""^[ \t-]*[^:#]+:[ \t]*["']?""" + re.escape(rule.harbor_host)
                       + r"""["']?[ \t]*(?:#.*)?$""", re.IGNORECASE)
    for match in imageref.mention_pattern(rule.harbor_host).finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        line = text[start : end if end >= 0 else None].rstrip("\r")
        if value.match(line):
            places.append(f"line {text.count(chr(10), 0, start) + 1}: {line.strip()[:200]}")
    return places
