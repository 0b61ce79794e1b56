"""The import graph of Cosource's packages, and the arrows it must not have.

``python scripts/import_graph.py`` prints every forbidden arrow and every import cycle inside
``engine``, and exits 1 if there is any (``tests/test_import_graph.py`` runs it in ``make test``).
Imports are read with ``ast``, nothing is executed: every ``import`` counts, including those inside
functions (a lazy import is still an arrow); only those under ``if TYPE_CHECKING:`` are left out
of the cycle check, as they never run. Layers (docs/architecture.md, "The layers"):
``api -> runtime -> webhooks -> engine``, ``api -> webhooks``, ``api -> engine``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "runtime", "webhooks", "engine")

# What each layer must never import (top-level names of packages and third-party libraries).
FORBIDDEN: dict[str, frozenset[str]] = {
    "engine": frozenset({"api", "runtime", "webhooks", "strawberry", "starlette"}),
    "webhooks": frozenset({"api", "runtime", "strawberry", "starlette"}),
    "runtime": frozenset({"api", "strawberry", "starlette"}),
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (or module.name for `from module import name`)
    line: int
    type_checking: bool


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, is_package: bool, level: int, name: str | None) -> str:
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def imports_of(path: Path, root: Path = ROOT) -> Iterator[Import]:
    module = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))

    def visit(node: ast.AST, guarded: bool) -> Iterator[Import]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from visit_stmt(stmt, True)
                for stmt in child.orelse:
                    yield from visit_stmt(stmt, guarded)
                continue
            yield from visit_stmt(child, guarded)

    def visit_stmt(node: ast.AST, guarded: bool) -> Iterator[Import]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, alias.name, node.lineno, guarded)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node.level, node.module)
            for alias in node.names:
                # `from engine import events` imports the module engine.events.
                yield Import(module, f"{base}.{alias.name}", node.lineno, guarded)
        else:
            yield from visit(node, guarded)

    yield from visit(tree, False)


def source_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> Iterator[Path]:
    for package in packages:
        yield from sorted((root / package).rglob("*.py"))


def _known(target: str, modules: set[str]) -> str | None:
    """The module of ours ``target`` names (``engine.events.EventType`` -> ``engine.events``)."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def forbidden_arrows(all_imports: Iterable[Import]) -> list[str]:
    found = []
    for imp in all_imports:
        layer = imp.source.split(".")[0]
        top = imp.target.split(".")[0]
        if top in FORBIDDEN.get(layer, frozenset()):
            found.append(f"{imp.source}:{imp.line} imports {imp.target} ({layer} -> {top})")
    return found


def cycles(all_imports: Iterable[Import], package: str = "engine") -> list[list[str]]:
    """Strongly connected components of more than one module (or a module importing itself)."""
    imports = list(all_imports)
    modules = {i.source for i in imports}
    graph: dict[str, set[str]] = {m: set() for m in modules if m.split(".")[0] == package}
    for imp in imports:
        if imp.type_checking or imp.source not in graph:
            continue
        target = _known(imp.target, modules)
        if target is None or target not in graph:
            continue
        graph[imp.source].add(target)
        # Importing a.b.c runs a/__init__ and a/b/__init__ first.
        parts = target.split(".")
        for end in range(1, len(parts)):
            parent = ".".join(parts[:end])
            if parent in graph and parent != imp.source:
                graph[imp.source].add(parent)

    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0

    def strongconnect(node: str) -> None:  # Tarjan, recursive: the graph has ~100 nodes
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                strongconnect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return result


def check(root: Path = ROOT) -> list[str]:
    """Every problem, one line each; empty when the graph is clean."""
    all_imports = [imp for path in source_files(root) for imp in imports_of(path, root)]
    problems = forbidden_arrows(all_imports)
    problems += ["import cycle in engine: " + " <-> ".join(c) for c in cycles(all_imports)]
    return problems


def main() -> int:
    problems = check()
    for problem in problems:
        print(problem)
    if not problems:
        print("import graph: no forbidden arrow, no cycle in engine")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
