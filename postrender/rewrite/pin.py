"""Pin each Harbor image reference to the digest a lock file gives it: `H/P/path:TAG` becomes
`H/P/path:TAG@sha256:…`, the one change made to the rewritten stream.

A reference that already carries a digest is checked, not changed. A place that cannot carry a
digest stays by tag and is listed as not pinned: a registry value (the host, or host/project)
beside a `repository:` key, and an `oci://` chart URL in a manifest (a Flux source, an Argo CD
Application), whose reader asks for the chart by the tag or version beside it in fields of its
own. A reference the lock does not know, or whose digest names other content, is refused:
pulling it would ask the upstream, or pull something the lock was not written for.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from postrender.errors import HarborMirrorError, RewriteError
from postrender.rewrite import imageref
from postrender.rewrite.mirrored import harbor_references
from postrender.rewrite.rules import MirrorRule
from postrender.rewrite.stream import Rewrite

RERUN = "re-run `helm harbor-mirror verify --write-lock` with the release's arguments"
BARE_HOST = "a registry apart from its repository: no place for a digest"
CHART_URL = "an oci:// chart URL: its reader asks for the chart by tag"
# Where the wrappers have the post-renderer copy its `not pinned` lines: Helm drops the
# stderr of a post-renderer that succeeds (Helm 3 and 4 alike). Only a file of this name in a
# private directory of this prefix is written to.
NOT_PINNED_FILE_ENV = "HARBOR_MIRROR_NOT_PINNED_FILE"
NOT_PINNED_DIR_PREFIX = "harbor-mirror-not-pinned-"
NOT_PINNED_FILE_NAME = "not-pinned"


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
    pinned, unpinned = _pin(text, rule, pins, where)
    return Pinned(pinned, [f"{_line_number(text, start)}: {shown} ({reason})"
                           for start, shown, reason in unpinned])


def _pin(
    text: str, rule: MirrorRule, pins: Mapping[str, Pin], where: str
) -> tuple[str, list[tuple[int, str, str]]]:
    """The pinned text, and where (offset), what to show and why each place stays by tag: a
    registry value's line, a chart URL alone (the rest of its line may be a password)."""
    out: list[str] = []
    last = 0
    unpinned = [(start, line, BARE_HOST) for start, line in _bare_hosts(text, rule)]
    for found_at in harbor_references(text, rule):
        candidate, parsed = found_at.text, found_at.reference
        if found_at.chart:
            # the wrappers fetch their own chart by its digest; one a manifest names is the
            # business of whoever reads that manifest, by the version it gives beside the URL
            if parsed.digest is None:
                unpinned.append((found_at.start, f"oci://{candidate}", CHART_URL))
            continue
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
    return "".join(out), sorted(unpinned)


def pin_rewrites(
    rewrites: Sequence[Rewrite], rule: MirrorRule, pins: Mapping[str, Pin], *, where: str
) -> tuple[list[Rewrite], list[str]]:
    """Each rewritten value with its references pinned (what --report and an overlay's patches
    say), and the places in them that stay by tag (`Kind/name path: value (why)`)."""
    pinned, unpinned = [], []
    for rewrite in rewrites:
        place = f"{rewrite.kind}/{rewrite.name} {rewrite.path}"
        if rewrite.after in (rule.harbor_host, rule.target_prefix):
            unpinned.append(f"{place}: {rewrite.after} ({BARE_HOST})")
        elif rewrite.after is not None:
            after, left = _pin(rewrite.after, rule, pins, where)
            unpinned += [f"{place} {_line_number(rewrite.after, start)}: {shown} ({reason})"
                         if "\n" in rewrite.after.strip() else f"{place}: {shown} ({reason})"
                         for start, shown, reason in left]  # fmt: skip
            rewrite = rewrite._replace(after=after)
        pinned.append(rewrite)
    return pinned, unpinned


def say_not_pinned(
    places: Sequence[str], *, strict: bool, environ: Mapping[str, str] = os.environ
) -> None:
    """Each place left by tag, as `not pinned: PLACE` on stderr (and in the file the wrappers
    name, to show after helm); with --strict, refused instead. The one wording for
    postrender, the wrappers and overlay."""
    if places and strict:
        raise RewriteError(f"{len(places)} Harbor references cannot carry a digest "
                           f"(--strict with --lock), first {places[0]}")
    lines = "".join(f"harbor-mirror: not pinned: {place}\n" for place in places)
    sys.stderr.write(lines)
    relay = environ.get(NOT_PINNED_FILE_ENV)
    if relay and lines and _is_relay(relay):
        # on failure only the wrapper's copy is lost: stderr has them
        with contextlib.suppress(OSError):
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
            with open(os.open(relay, flags, 0o600), "a", encoding="utf-8") as file:
                file.write(lines)


def _is_relay(path: str) -> bool:
    """Whether `path` is a relay file as the wrappers make it, so that a variable a user left
    set cannot have us append to any other file: named so, in a directory named so that is
    ours alone (not a symlink, no access for others)."""
    directory, name = os.path.split(path)
    try:
        status = os.lstat(directory)
    except OSError:
        return False
    return (name == NOT_PINNED_FILE_NAME
            and os.path.basename(directory).startswith(NOT_PINNED_DIR_PREFIX)
            and stat.S_ISDIR(status.st_mode) and status.st_uid == os.getuid()
            and not status.st_mode & 0o077)  # fmt: skip


def _line_number(text: str, start: int) -> str:
    """`line N` for the place at `start`."""
    return f"line {text.count(chr(10), 0, start) + 1}"


def _bare_hosts(text: str, rule: MirrorRule) -> list[tuple[int, str]]:
    """Every place where the Harbor host (or host/project, as Helm 3's `global.imageRegistry`
    gives it) stands as a registry value alone: a split `registry`/`repository` pair, which
    has no field a digest could go in."""
    places = []
    value = re.compile(r"""^[ \t-]*[^:#]+:[ \t]*["']?""" + re.escape(rule.harbor_host)
                       + f"(?:/{re.escape(rule.project)})?"
                       + r"""/?["']?[ \t]*(?:#.*)?$""", re.IGNORECASE)
    for match in imageref.mention_pattern(rule.harbor_host).finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        end = text.find("\n", match.end())
        line = text[start : end if end >= 0 else None].rstrip("\r")
        if value.match(line):
            places.append((match.start(), line.strip()[:200]))
    return places
