"""The package's layers import downward only (DESIGN.md): the root (records, client, patterns)
← index/ ← search/ ← api/; and neither index/ nor search/ imports FastAPI or click or touches
os.environ (configuration comes in at the edge, as settings). Read from the source (ast), so
an import inside a function or under TYPE_CHECKING counts as much as one at the top.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Folder → the import name it installs as (pyproject.toml's package-dir).
LAYERS = {
    "policy_search": ROOT / "policy_search",
    "policy_search.index": ROOT / "index",
    "policy_search.search": ROOT / "search",
    "policy_search.api": ROOT / "api",
}
FORBIDDEN = {
    "policy_search": ("policy_search.index", "policy_search.search", "policy_search.api"),
    "policy_search.index": ("policy_search.search", "policy_search.api", "fastapi", "click"),
    "policy_search.search": ("policy_search.api", "fastapi", "click"),
}
# `python -m policy_search` is the command itself: the one root module that is the edge.
EDGE = {ROOT / "policy_search" / "__main__.py"}


def _modules(layer: str) -> Iterator[tuple[str, Path]]:
    """(module name, path) of every Python file of a layer (the root's records/ included)."""
    folder = LAYERS[layer]
    for path in sorted(folder.rglob("*.py")):
        if path in EDGE:
            continue
        parts = path.relative_to(folder).with_suffix("").parts
        yield ".".join((layer, *parts)), path


def _imports(module: str, tree: ast.Module, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, module) of every import in the tree, relative ones resolved."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)


def _environ(tree: ast.Module) -> Iterator[int]:
    """Lines that touch the process environment: os.environ, os.getenv, os.putenv."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv"}:
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                yield node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            yield from (node.lineno for a in node.names if a.name in {"environ", "getenv"})


def _violations(layer: str) -> list[str]:
    found = []
    for module, path in _modules(layer):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(ROOT)
        for line, name in _imports(module, tree, path.name == "__init__.py"):
            for banned in FORBIDDEN[layer]:
                if name == banned or name.startswith(banned + "."):
                    found.append(f"{where}:{line} imports {name}")
        if layer != "policy_search":
            found += [f"{where}:{line} touches os.environ" for line in _environ(tree)]
    return sorted(set(found))


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_each_layer_imports_only_the_layers_below_it(layer: str) -> None:
    assert _violations(layer) == []


def test_the_scan_sees_what_it_forbids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A module that breaks each rule, in a function and by a relative import, is caught."""
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "bad.py").write_text(
        "import os\n"
        "from ..api import app\n"
        "def f():\n"
        "    import click\n"
        "    from policy_search.search.searcher import Searcher\n"
        "    return os.environ.get('X'), os.getenv('Y')\n",
        encoding="utf-8",
    )
    monkeypatch.setitem(LAYERS, "policy_search.index", folder)
    monkeypatch.setattr("tests.test_layering.ROOT", tmp_path)
    found = _violations("policy_search.index")
    assert [f.split(" ", 1)[1] for f in found] == [
        "imports policy_search.api",
        "imports policy_search.api.app",
        "imports click",
        "imports policy_search.search.searcher",
        "imports policy_search.search.searcher.Searcher",
        "touches os.environ",
    ]
