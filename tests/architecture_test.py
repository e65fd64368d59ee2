"""The layers docs/architecture.md draws hold in the code: every import of the project, at the top
of a module or inside a function, points down the table below, never up or sideways."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "postrender"

# unit -> the units it may import (besides itself). A unit is a subpackage or a top-level module;
# rewrite/imageref.py (the reference grammar) is its own unit, a stdlib-only leaf settings
# validates hosts and projects with.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "helmhome": set(),
    "rewrite.imageref": set(),
    "yamlfile": {"errors"},
    "settings": {"errors", "helmhome", "rewrite.imageref", "yamlfile"},
    "files": {"errors"},
    "lock": {"errors", "files", "rewrite", "yamlfile"},
    "secretfile": {"errors"},
    "endpoint": {"errors", "secretfile", "settings"},
    "rewrite": {"rewrite.imageref", "errors", "settings"},
    "helm": {"rewrite", "lock", "endpoint", "files", "errors", "settings", "helmhome"},
    "harbor": {"endpoint", "errors"},
    "trust": {"errors"},
    "registry": {"harbor", "trust", "endpoint", "lock", "rewrite", "rewrite.imageref", "files",
                 "errors", "settings", "helmhome"},
    "gitops": {"rewrite", "rewrite.imageref", "helm", "files", "errors", "settings"},
    "bootstrap": {"harbor", "trust", "rewrite", "helm", "helmhome", "files", "secretfile",
                  "settings", "errors"},
    "commands": {"*"},
    "cli": {"commands", "errors"},
    "__init__": set(),
}


def unit_of(module: str) -> str:
    """`postrender.settings` -> `settings`, `postrender.rewrite.stream` -> `rewrite`."""
    parts = module.split(".")[1:] or ["__init__"]
    if parts[:2] == ["rewrite", "imageref"]:
        return "rewrite.imageref"
    return parts[0]


def is_module(name: str) -> bool:
    """Whether `postrender.x.y` names a module or package of ours (not a function in one)."""
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> set[str]:
    """Every `postrender…` module the file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("postrender"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("postrender"):
            module = node.module or ""
            # `from postrender.rewrite import imageref` imports the module …rewrite.imageref.
            found.update(f"{module}.{alias.name}" if is_module(f"{module}.{alias.name}")
                         else module for alias in node.names)  # fmt: skip
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
    assert {unit_of(target) for target in engine} <= {
        "rewrite", "rewrite.imageref", "errors", "settings"
    }
    assert "postrender.rewrite.rules" in engine  # the walk above really read the engine


def test_every_package_says_what_it_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        missing = f"{init.parent.name}/__init__.py does not say what it may import"
        assert "import" in doc.lower(), missing


# A class holding one of each describes a way to reach Harbor: only `endpoint.Endpoint` may.
_WHERE = {"host", "harbor_host", "url", "harbor_url"}
_WHO = {"credentials", "username", "password"}


def attributes_of(cls: ast.ClassDef) -> set[str]:
    """Its fields (class-level names, `self.x =` with the leading `_` dropped) and properties."""
    names: set[str] = set()
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.FunctionDef) and any(
            isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list
        ):
            names.add(node.name)
    for child in ast.walk(cls):
        targets = child.targets if isinstance(child, ast.Assign) else [getattr(child, "target", 0)]
        names.update(
            target.attr.lstrip("_") for target in targets
            if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
            and target.value.id == "self"
        )  # fmt: skip
    return names


def test_one_endpoint_type_says_where_harbor_is_and_who_we_are() -> None:
    """Helm, the `/v2/` checks and setup take one frozen `Endpoint`; a twin holding a host and
    credentials of its own would let them disagree again (verify's helm template once ignored
    the username/password pair its `/v2/` checks used)."""
    holders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = attributes_of(node)
                if names & _WHERE and names & _WHO:
                    holders.append(f"{module_name(path)}.{node.name}")
    assert holders == ["postrender.endpoint.Endpoint"]
