"""A chart's Chart.yaml (and Chart.lock) read as Helm reads them, and the dependencies listed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from postrender.errors import ConfigError

if TYPE_CHECKING:
    from postrender.rewrite.rules import MirrorRule


def load(path: Path) -> Any:
    """`path` as Helm reads it (sigs.k8s.io/yaml over yaml.v2): any BOM, a timestamp kept as the
    text written, `!!binary` as its bytes in a string."""
    from ruamel.yaml import YAML
    from ruamel.yaml.constructor import SafeConstructor
    from ruamel.yaml.error import YAMLError

    class HelmConstructor(SafeConstructor):
        def construct_yaml_binary(self, node: Any) -> str:
            return bytes(super().construct_yaml_binary(node)).decode("utf-8", "replace")

    HelmConstructor.add_constructor(
        "tag:yaml.org,2002:timestamp", SafeConstructor.construct_yaml_str
    )
    HelmConstructor.add_constructor(
        "tag:yaml.org,2002:binary", HelmConstructor.construct_yaml_binary
    )
    yaml = YAML(typ="safe", pure=False)
    yaml.Constructor = HelmConstructor
    try:
        return yaml.load(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except YAMLError:
        raise ConfigError(f"{path}: not valid YAML") from None


def dependencies(document: Any, path: Path) -> list[dict[str, Any]]:
    """The `dependencies` entries of a loaded Chart.yaml or Chart.lock (none: an empty list)."""
    entries = document.get("dependencies") if isinstance(document, dict) else None
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError(f"{path}: dependencies must be a list of mappings")
    return entries


def names_upstream_dependency(chart: str, rule: MirrorRule) -> bool:
    """Does the chart directory `chart` list a dependency on the upstream's `oci://` charts?
    (An archive or a URL: no, Helm updates no dependencies of those.)"""
    chart_yaml = Path(chart) / "Chart.yaml"
    if not chart_yaml.is_file():
        return False
    entries = dependencies(load(chart_yaml), chart_yaml)
    return any(rule.chart_url(str(e.get("repository") or "")) is not None for e in entries)
