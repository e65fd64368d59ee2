"""The layers docs/architecture.md draws hold in the code: every import of the project, at the top
of a module or inside a function, points down the table below, never up or sideways."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "postrender"

# unit -> the units it may import (besides itself). A unit is a subpackage or a top-level module;
# helm/paths.py is its own unit because settings reads Helm's homes from it and it imports nothing.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "helm.paths": set(),
    "settings": {"errors", "helm.paths"},
    "files": {"errors"},
    "lock": {"errors", "files", "rewrite"},
    "secretfile": {"errors"},
    "rewrite": {"errors", "settings"},
    "helm": {"rewrite", "lock", "secretfile", "errors", "settings", "helm.paths"},
    "harbor": {"errors"},
    "registry": {"harbor", "lock", "rewrite", "secretfile", "errors", "settings"},
    "gitops": {"rewrite", "helm", "helm.paths", "files", "errors", "settings"},
    "bootstrap": {"harbor", "rewrite", "helm", "helm.paths", "files", "secretfile", "settings",
                  "errors"},
    "commands": {"*"},
    "cli": {"commands", "helm.paths", "errors"},
    "__init__": set(),
}


def unit_of(module: str) -> str:
    """`postrender.helm.paths` -> `helm.paths`, `postrender.rewrite.stream` -> `rewrite`."""
    parts = module.split(".")[1:] or ["__init__"]
    if parts[:2] == ["helm", "paths"]:
        return "helm.paths"
    return parts[0]


def imports_of(path: Path) -> set[str]:
    """Every `postrender…` module the file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("postrender"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("postrender"):
            module = node.module or ""
            # `from postrender import settings` imports the module postrender.settings.
            found.update(f"{module}.{alias.name}" if module == "postrender" else module
                         for alias in node.names)
    return found


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def test_every_import_points_down_the_layers() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = unit_of(module_name(path))
        allowed = ALLOWED[source]
        for target in sorted(imports_of(path)):
            unit = unit_of(target)
            if unit in (source, "__init__") or "*" in allowed or unit in allowed:
                continue
            wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {target}")
    assert wrong == []


def test_the_rewrite_engine_depends_on_nothing_but_errors_and_settings() -> None:
    engine = {target for path in (PACKAGE / "rewrite").glob("*.py") for target in imports_of(path)}
    assert {unit_of(target) for target in engine} <= {"rewrite", "errors", "settings"}
    assert "postrender.rewrite.rules" in engine  # the walk above really read the engine


def test_every_package_says_what_it_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        missing = f"{init.parent.name}/__init__.py does not say what it may import"
        assert "import" in doc.lower(), missing
