"""A chart's Chart.yaml (and Chart.lock) read as Helm reads them, and the dependencies listed."""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from postrender.errors import ConfigError

if TYPE_CHECKING:
    from postrender.rewrite.rules import MirrorRule


def load(path: Path | IO[bytes]) -> Any:
    """`path` (or a file of a chart archive) as Helm reads it (sigs.k8s.io/yaml over yaml.v2):
    any BOM, a timestamp kept as the text written, `!!binary` as its bytes in a string."""
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
        return yaml.load(path.read_bytes() if isinstance(path, Path) else path.read())
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


def misses_dependencies(chart: str) -> bool:
    """Does the chart directory `chart` list a dependency its charts/ does not hold? Only then
    does Helm's `--dependency-update` fetch anything, and then every dependency (pkg/cmd
    install.go runInstall, upgrade.go: action.CheckDependencies compares names)."""
    chart_yaml = Path(chart) / "Chart.yaml"
    wanted = {str(e.get("name")) for e in dependencies(load(chart_yaml), chart_yaml)}
    return not wanted <= _subchart_names(Path(chart) / "charts")


def _subchart_names(charts: Path) -> set[str]:
    """The names of the charts in `charts` as Helm's loader finds them (pkg/chart/v2/loader
    load.go LoadFiles: a directory or a .tgz, none whose name starts with `_` or `.`); one it
    cannot read counts as absent."""
    names = set()
    for entry in sorted(charts.iterdir()) if charts.is_dir() else ():
        if entry.name[:1] in ("_", "."):
            continue
        try:
            metadata = _archived_chart_yaml(entry) if entry.suffix == ".tgz" else load(
                entry / "Chart.yaml")
        except ConfigError:
            continue
        if isinstance(metadata, dict) and metadata.get("name"):
            names.add(str(metadata["name"]))
    return names


def _archived_chart_yaml(archive: Path) -> Any:
    """The Chart.yaml at the top directory of a chart archive, loaded."""
    import tarfile

    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                if member.isfile() and member.name.split("/")[1:] == ["Chart.yaml"]:
                    extracted = tar.extractfile(member)
                    assert extracted is not None  # a regular file
                    return load(extracted)
    except (OSError, tarfile.TarError, EOFError):
        pass
    raise ConfigError(f"{archive}: no Chart.yaml")
