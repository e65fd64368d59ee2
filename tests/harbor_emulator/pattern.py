"""Which name filters name their repositories outright, as Harbor judges it
(`pkg/reg/util/pattern.go:IsSpecificPath`, `IsSpecificPathComponent`), so that a pull
replication asks the upstream for those repositories' tags without listing its `_catalog`
(`pkg/reg/adapter/native/adapter.go:listRepositories`).

Harbor splits the filter at every `/` first and judges each component alone: a component is
specific when it has none of `*?[\\]^`, and either none of `{},` or exactly one `{` before the
last `}` (no nesting). So `containers/{etcd,redis}` names two repositories, while a brace that
spans a `/` (`{charts/etcd,containers/etcd}`) leaves `{charts` without its `}`, and Harbor
falls back to the catalog.
"""

from __future__ import annotations

_NOT_SPECIFIC = set("*?[\\]^/")


def specific_component(component: str) -> list[str] | None:
    """`IsSpecificPathComponent`: the names one component stands for, or None."""
    if not component or _NOT_SPECIFIC & set(component):
        return None
    if not set("{},") & set(component):
        return [component]
    start, end = component.find("{"), component.rfind("}")
    if component.count("{") > 1 or start < 0 or end < 0 or start > end:
        return None
    head, tail = component[:start], component[end + 1 :]
    return [head + alternative + tail for alternative in component[start + 1 : end].split(",")]


def specific_path(path: str) -> list[str] | None:
    """`IsSpecificPath`: every repository the filter names (the product of its components'
    alternatives), or None when Harbor must list the catalog to know."""
    if not path:
        return None
    names: list[str] = []
    for component in path.split("/"):
        alternatives = specific_component(component)
        if alternatives is None:
            return None
        names = [f"{n}/{a}" for n in names for a in alternatives] if names else alternatives
    return names
