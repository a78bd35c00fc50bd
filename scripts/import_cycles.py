"""List the import cycles among the product packages, ``TYPE_CHECKING`` imports included.

Run from the repository's root: ``python scripts/import_cycles.py``; exits 1 when there is a
cycle. ``from pkg import submodule`` counts as a dependency on the submodule (a package's
``__init__`` running first is not counted as a cycle).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("app", "api", "detectors", "incidents")


def module_name(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(module: str, path: Path, modules: set[str]) -> set[str]:
    """The product modules ``module`` imports, anywhere in its file."""
    found: set[str] = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module:
                found.add(target)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    files = {module_name(p): p for package in PACKAGES for p in Path(package).rglob("*.py")}
    graph = {module: imports(module, path, set(files)) for module, path in files.items()}
    found = cycles(graph)
    for component in found:
        print("cycle:", " ".join(component))
    print(f"{len(found)} import cycle(s) among {len(files)} modules")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
