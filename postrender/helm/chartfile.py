"""A chart's Chart.yaml (and Chart.lock) read as Helm reads them, and the dependencies listed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from postrender.errors import ConfigError


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
