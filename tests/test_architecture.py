"""The layers of docs/design.md, enforced: import-linter's contract plus what it cannot say.

* ``lint-imports`` checks the layers contract in pyproject.toml (apps on top,
  then lifecycle, chains, the stores/ingestion/LlamaIndex siblings, models,
  the tenancy core, errors, and the embedded server at the bottom).
* Every top-level part of ``tenant_rag`` is placed in that contract, so a new
  package cannot sit outside it unnoticed.
* The embedded server (`tenant_rag.local`) imports nothing else of tenant_rag,
  not even the root package: it must run, and be tested, on its own.
* No import cycles between the parts of tenant_rag, at the first two levels
  (``tenant_rag.chat`` and ``tenant_rag.chat.routes``, say).

Imports inside functions count: grimp reads every import statement.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("tenant_rag", include_external_packages=False, cache_dir=None)


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layered,) = [c for c in contracts if c["type"] == "layers"]
    return [name.strip() for layer in layered["layers"] for name in layer.split("|")]


def _part(module: str, depth: int) -> str:
    return ".".join(module.split(".")[:depth])


def test_the_import_linter_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency; run make venv"
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " 0 broken" in proc.stdout


def test_every_top_level_part_is_in_the_layers_contract(graph: grimp.ImportGraph) -> None:
    parts = {_part(m, 2) for m in graph.modules} - {"tenant_rag"}
    assert parts - set(_layers()) == set()


def test_the_embedded_server_imports_nothing_else_of_tenant_rag(
    graph: grimp.ImportGraph,
) -> None:
    outside = sorted(
        f"{module} -> {imported}"
        for module in graph.modules
        if module == "tenant_rag.local" or module.startswith("tenant_rag.local.")
        for imported in graph.find_modules_directly_imported_by(module)
        if imported != "tenant_rag.local" and not imported.startswith("tenant_rag.local.")
    )
    assert outside == []


def _cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(v: str) -> Iterator[list[str]]:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                yield from visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                yield sorted(component)

    for v in sorted(edges):
        if v not in index:
            yield from visit(v)


@pytest.mark.parametrize("depth", [2, 3])
def test_no_import_cycles_between_parts(graph: grimp.ImportGraph, depth: int) -> None:
    """Modules collapsed to ``tenant_rag.X`` (depth 2) or ``tenant_rag.X.Y`` (depth 3).

    A package importing its own children (an ``__init__`` re-exporting) is not a cycle.
    """
    edges: dict[str, set[str]] = {}
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            a, b = _part(module, depth), _part(imported, depth)
            if a != b and not b.startswith(a + ".") and not a.startswith(b + "."):
                edges.setdefault(a, set()).add(b)
    assert list(_cycles(edges)) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The check above cannot pass vacuously."""
    assert list(_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}})) == [["a", "b", "c"]]
