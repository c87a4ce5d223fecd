"""Every use of a private name of an upstream library lives in `tenant_rag._compat`.

A static scan of all of tenant_rag's own modules. The embedded server
(`tenant_rag.local`) is scanned too: it imports nothing of tenant_rag, so it
cannot use `_compat`, and must use no private upstream name at all.

* ``import x._y``, ``from x._y import ...`` and ``from x import _y`` of a
  package other than tenant_rag;
* attribute reads and writes ``obj._name`` and keyword arguments ``_name=``
  whose name tenant_rag does not define itself (so ``self._pinned`` is ours,
  ``index._vector_api`` is the SDK's);
* ``__dict__`` reads, which reach past an upstream object's public surface.

Each private name `_compat` uses has a canary in ``test_canaries.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tenant_rag"


def _modules(exclude: tuple[str, ...]) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith(exclude) or "/_grpc_gen/" in rel:
            continue
        yield rel, ast.parse(path.read_text(encoding="utf-8"))


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _defined_by_tenant_rag() -> set[str]:
    """Private names tenant_rag defines: functions, classes, assignments, self attributes."""
    names: set[str] = set()
    for _, tree in _modules(()):
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.add(node.target.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.Call) and _attr_name_arg(node) is not None:
                if _call_name(node) in ("setattr", "__setattr__"):
                    names.add(_attr_name_arg(node) or "")
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets
            ):
                names.update(c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant))
    return {n for n in names if isinstance(n, str) and _private(n)}


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _attr_name_arg(node: ast.Call) -> str | None:
    """The attribute name a getattr/setattr/hasattr/delattr call (or dict access) names."""
    name = _call_name(node)
    index = {"getattr": 1, "hasattr": 1, "setattr": 1, "delattr": 1, "__setattr__": 1}.get(
        name, 0 if name in ("setdefault", "get", "pop") else None
    )
    if index is None or len(node.args) <= index:
        return None
    arg = node.args[index]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def reaches(exclude: tuple[str, ...] = ("_compat/",)) -> list[str]:
    ours = _defined_by_tenant_rag()
    found = []
    for rel, tree in _modules(exclude):
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] != "tenant_rag" and any(_private(p) for p in parts):
                        found.append(f"{where} import {alias.name}")
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                parts = node.module.split(".")
                if parts[0] == "tenant_rag":
                    continue
                names = [a.name for a in node.names]
                if any(_private(p) for p in parts) or any(_private(n) for n in names):
                    found.append(f"{where} from {node.module} import {', '.join(names)}")
            elif isinstance(node, ast.Attribute):
                if node.attr == "__dict__":
                    if not (isinstance(node.value, ast.Name) and node.value.id == "self"):
                        found.append(f"{where} .__dict__")
                elif _private(node.attr) and node.attr not in ours:
                    found.append(f"{where} .{node.attr}")
            elif isinstance(node, ast.keyword) and node.arg and _private(node.arg):
                if node.arg not in ours:
                    found.append(f"{where} {node.arg}=")
            elif isinstance(node, ast.Call):
                name = _attr_name_arg(node)
                if name and _private(name) and name not in ours:
                    found.append(f"{where} '{name}'")
            elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
                key = node.slice.value
                if isinstance(key, str) and _private(key) and key not in ours:
                    found.append(f"{where} ['{key}']")
    return found


def test_no_private_upstream_name_outside_compat() -> None:
    assert reaches() == []


def test_the_scan_finds_a_reach() -> None:
    """The scan cannot pass vacuously: `_compat` itself is full of them."""
    inside = reaches(exclude=("chains/",))
    assert any("_compat/" in r for r in inside)
