"""Dependencies point one way: rest/ and schema/ call resolvers/, resolvers/ call backends/
through interfaces; models, errors, config and matching import nothing above them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kintogql"

# layer -> kintogql subpackages/modules it must not import
FORBIDDEN = {
    "backends": {"resolvers", "rest", "schema", "app", "cli"},
    "resolvers": {"rest", "schema", "app", "cli"},
    "rest": {"schema", "cli"},
    "schema": {"rest", "cli"},
    "models": {"backends", "resolvers", "rest", "schema", "app", "config"},
    "errors": {"backends", "resolvers", "rest", "schema", "app", "config", "models"},
    "config": {"backends", "resolvers", "rest", "schema", "app"},
    "matching": {"backends", "resolvers", "rest", "schema", "app"},
    "http_body": {"backends", "resolvers", "rest", "schema", "app"},
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n.split(".")[1] for n in names if n.startswith("kintogql.") and n.count(".") >= 1}


def layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if layer_of(p) in FORBIDDEN)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_only_layers_below_it(path: Path) -> None:
    wrong = imported_modules(path) & FORBIDDEN[layer_of(path)]
    assert not wrong, f"{path.relative_to(PACKAGE)} imports {sorted(wrong)}"
