"""The Harbor references a rewritten stream holds, wherever they stand: what verify asks Harbor
for and what the lock's pin pass pins, found by one scan."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from postrender.rewrite import imageref
from postrender.rewrite.rules import MirrorRule

# The characters a reference can be made of; the run is cut where the reference must end.
_RUN = re.compile(r"[A-Za-z0-9._:/@\[\]-]+")
_TRAILING = ".:/@-"
OCI = "oci://"


class Found(NamedTuple):
    """One reference on Harbor's host: where it starts, its text (without `oci://`),
    its parts, and whether it is an `oci://` chart URL."""

    start: int
    text: str
    reference: imageref.Reference
    chart: bool


def harbor_references(
    text: str, rule: MirrorRule, *, every_project: bool = False
) -> Iterator[Found]:
    """Every `HARBOR_HOST/PROJECT/path[:tag][@digest]` in `text`, in order; with
    `every_project`, also those under any other project of Harbor's host."""
    project = rule.project + "/"
    for offset, _ in imageref.find_host(text, rule.harbor_host):
        run = _RUN.match(text, offset)
        if run is None:
            continue
        candidate = run.group().rstrip(_TRAILING)
        try:
            parsed = imageref.parse(candidate)
        except ValueError:
            continue
        if every_project or parsed.path.startswith(project):
            yield Found(offset, candidate, parsed, text[max(0, offset - len(OCI)) : offset] == OCI)
