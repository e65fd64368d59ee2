"""Find the Harbor references a rendered stream asks the cluster to pull, and chart targets.

A reference is `HARBOR_HOST/PROJECT/path[:tag][@digest]` wherever it stands (an image field,
an env value, a script) or `oci://HARBOR_HOST/PROJECT/path[:tag]` (a chart). Each is kept once,
in order of first appearance. `image:` fields naming any other registry are found too: Harbor
will not serve them.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from postrender.rewrite import imageref
from postrender.rewrite.rules import MirrorRule

# The characters a reference can be made of; the run is cut where the reference must end.
_RUN = re.compile(r"[A-Za-z0-9._:/@\[\]-]+")
_TRAILING = ".:/@-"
_OCI = "oci://"
# The value of a block-style `image:` key, as Kubernetes pod specs (and Helm's output) write it.
_IMAGE_FIELD = re.compile(r"""^[ \t]*(?:-[ \t]+)?["']?image["']?[ \t]*:[ \t]*["']?([^\s"'#]+)""",
                          re.MULTILINE)
DOCKER_HUB = "docker.io"


class Target(NamedTuple):
    """One thing to resolve through Harbor: `repository` includes the project."""

    reference: str
    repository: str
    tag: str | None
    digest: str | None
    chart: bool
    prefix: bool = False  # an oci:// URL one level below the project: a repository prefix

    @property
    def manifest(self) -> str | None:
        """The manifest reference Harbor is asked for: the digest wins (the kubelet pulls it),
        then the tag; an image without either means `latest`, a chart URL without one none."""
        if self.digest is not None:
            return self.digest
        if self.tag is not None:
            return self.tag
        return None if self.chart else "latest"


def find(text: str, rule: MirrorRule) -> list[Target]:
    """Every distinct Harbor reference in `text` under `rule`'s project."""
    targets: dict[str, Target] = {}
    project = rule.project + "/"
    for offset in imageref.find_host(text, rule.harbor_host):
        run = _RUN.match(text, offset)
        if run is None:
            continue
        candidate = run.group().rstrip(_TRAILING)
        try:
            parsed = imageref.parse(candidate)
        except ValueError:
            continue
        if not parsed.path.startswith(project):
            continue
        chart = text[max(0, offset - len(_OCI)) : offset] == _OCI
        shown = _OCI + candidate if chart else candidate
        below = parsed.path.removeprefix(project)
        top = chart and parsed.tag is None and parsed.digest is None and "/" not in below
        targets.setdefault(
            shown, Target(shown, parsed.path, parsed.tag, parsed.digest, chart, top)
        )
    return list(targets.values())


def unmirrored(text: str, rule: MirrorRule) -> list[Target]:
    """Every distinct `image:` value on a registry that is neither Harbor nor the upstream
    (no registry means Docker Hub); `repository` starts with that registry."""
    mirrored = {rule.harbor_host.lower(), rule.upstream.lower()}
    targets: dict[str, Target] = {}
    for match in _IMAGE_FIELD.finditer(text):
        value = match.group(1)
        try:
            parsed = imageref.parse(value)
        except ValueError:
            continue
        registry = parsed.domain or DOCKER_HUB
        if registry.lower() not in mirrored:
            repository = f"{registry}/{parsed.path}"
            targets.setdefault(value, Target(value, repository, parsed.tag, parsed.digest, False))
    return list(targets.values())


def chart_target(chart: str, version: str | None, rule: MirrorRule) -> Target | None:
    """The Harbor chart for a `helm template` chart argument, or None if it is not a mirror's.

    `oci://UPSTREAM/charts/x` maps to the Harbor project as Helm's is mapped
    (`MirrorRule.chart_url`); `oci://HARBOR/PROJECT/charts/x` is taken as it is; a local path
    or another registry is not Harbor's to check.
    """
    if not chart.startswith(_OCI):
        return None
    url = rule.chart_url(chart) or chart
    tag = _chart_tag(version)
    found = find(url if tag is None else f"{url}:{tag}", rule)
    return found[0] if found else None


def _chart_tag(version: str | None) -> str | None:
    """The tag Helm pulls for `--version`: it stores a `+` as `_`, as OCI tags have no `+`.

    A range (`^1.2`, `>=1 <2`, `1.x`, `1.2.*`) names no one tag: None, so the versions are listed.
    """
    if version is None:
        return None
    tag = version.replace("+", "_")
    try:
        imageref.parse(f"chart:{tag}")
    except ValueError:
        return None
    return None if {"x", "X", "*"} & set(tag.split(".")) else tag
