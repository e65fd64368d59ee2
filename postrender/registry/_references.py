"""Find the Harbor references a rendered stream asks the cluster to pull, and chart targets.

A reference is `HARBOR_HOST/PROJECT/path[:tag][@digest]` wherever it stands (an image field,
an env value, a script) or `oci://HARBOR_HOST/PROJECT/path[:tag]` (a chart). Each is kept once,
in order of first appearance, whatever its project (one outside the mirror's is a typo
until Harbor says otherwise). Image-valued places naming any other registry are found too:
Harbor will not serve them.
"""

from __future__ import annotations

from typing import NamedTuple

from postrender.registry._image_values import image_values
from postrender.rewrite import imageref
from postrender.rewrite.mirrored import OCI, harbor_references
from postrender.rewrite.rules import MirrorRule

DOCKER_HUB = "docker.io"


class Target(NamedTuple):
    """One thing to resolve through Harbor: `repository` includes the project."""

    reference: str
    repository: str
    tag: str | None
    digest: str | None
    chart: bool
    prefix: bool = False  # an oci:// URL one level below the project: a repository prefix
    outside: bool = False  # on Harbor's host, but not under the mirror's project

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
    """Every distinct reference in `text` on Harbor's host, under any project."""
    targets: dict[str, Target] = {}
    project = rule.project + "/"
    for found in harbor_references(text, rule, every_project=True):
        parsed, chart = found.reference, found.chart
        shown = OCI + found.text if chart else found.text
        outside = not parsed.path.startswith(project)
        below = parsed.path.partition("/")[2] if outside else parsed.path.removeprefix(project)
        top = chart and parsed.tag is None and parsed.digest is None and "/" not in below
        targets.setdefault(
            shown, Target(shown, parsed.path, parsed.tag, parsed.digest, chart, top, outside)
        )
    return list(targets.values())


def unmirrored(text: str, rule: MirrorRule) -> list[Target]:
    """Every distinct image-valued place's reference on a registry that is neither Harbor nor
    the upstream (a short name means Docker Hub); `repository` starts with that registry."""
    mirrored = {_registry(rule.harbor_host), _registry(rule.upstream)}
    targets: dict[str, Target] = {}
    for place in image_values(text):
        value = place.value
        if not place.short_names and "/" not in value:
            continue
        try:
            parsed = imageref.parse(value)
        except ValueError:
            continue
        registry = parsed.domain or DOCKER_HUB
        if _registry(registry) not in mirrored:
            repository = f"{registry}/{parsed.path}"
            targets.setdefault(value, Target(value, repository, parsed.tag, parsed.digest, False))
    return list(targets.values())


def _registry(host: str) -> str:
    """A registry host as compared: letter case and HTTPS's own port (`:443`) make no other."""
    return host.lower().removesuffix(":443")


def chart_target(chart: str, version: str | None, rule: MirrorRule) -> Target | None:
    """The Harbor chart for a `helm template` chart argument, or None if it is not a mirror's.

    `oci://UPSTREAM/charts/x` maps to the Harbor project as Helm's is mapped
    (`MirrorRule.chart_url`); `oci://HARBOR/PROJECT/charts/x` is taken as it is; a local path
    or another registry is not Harbor's to check.
    """
    if not chart.startswith(OCI):
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
