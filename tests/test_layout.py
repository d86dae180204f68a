"""The checkout's own layering: bench/ → harness/ ← tests/, and no import cycle anywhere.

harness/ (pass/fail proofs and the servers they start) imports neither bench/ nor tests/;
bench/ (figures) and tests/ import harness/, never each other. Every import counts, at the top
of a module, inside a function or under TYPE_CHECKING, and so does a module named in a string
(`python -m harness.fake_app`), since a subprocess depends on it as much as an import does.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("bench", "harness", "tests")
FORBIDDEN = {"harness": {"bench", "tests"}, "bench": {"tests"}, "tests": {"bench"}}


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == Path(__file__):  # names modules to check the graph, not to use them
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _named(tree: ast.Module) -> Iterator[str]:
    """Every module a file imports or names in a string (docstrings aside)."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and "." in node.value  # a dotted module name, not a folder's ("var" / "bench")
            and id(node) not in docstrings
        ):
            yield node.value.partition(":")[0]  # "harness.standin_app:create_app"


def import_graph() -> dict[str, set[str]]:
    """Each module of bench/, harness/ and tests/ → the modules of those three it depends on."""
    modules = _modules()
    return {
        name: {m for m in _named(ast.parse(path.read_text())) if m in modules and m != name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


GRAPH = import_graph()


def test_the_graph_sees_the_known_edges() -> None:
    assert "harness.server" in GRAPH["bench.queries"]
    assert "harness.fake_app" in GRAPH["harness.server"]  # by `python -m`
    assert "harness.soak" in GRAPH["tests.e2e.test_load"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_what_it_may(package: str) -> None:
    wrong = sorted(
        f"{name} → {target}"
        for name, targets in GRAPH.items()
        if name.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in FORBIDDEN[package]
    )
    assert wrong == []


def test_no_import_cycle() -> None:
    assert cycles(GRAPH) == []
