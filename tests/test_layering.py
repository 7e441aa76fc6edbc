"""Import rules, read from the source (AST, no import is executed): domain/ never imports
orchestrator/ or api/, and orchestrator/lifecycles and orchestrator/tasks import each other in no
cycle (canvases name tasks by their dotted names)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _module_name(path: Path) -> str:
    parts = list(path.resolve().relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> Iterator[str]:
    """Every module `path` imports, at any depth of its code (lazy imports in functions too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    yield from _names(ast.parse(path.read_text(), str(path)), package=package)


def _names(tree: ast.AST, *, package: str) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_it_finds_no_domain_module_that_imports_orchestrator_or_api():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in _sources("domain")
        for name in _imports(path)
        if _within(name, "orchestrator") or _within(name, "api")
    ]
    assert offenders == []


def _graph(*packages: str) -> dict[str, set[str]]:
    modules = {_module_name(p): p for pkg in packages for p in _sources(pkg)}
    return {
        name: {
            target
            for imported in _imports(path)
            for target in modules
            if target != name and (imported == target or imported.startswith(target + "."))
        }
        for name, path in modules.items()
    }


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of `graph`, or [] (depth-first search with an explicit path)."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return []
        for nxt in sorted(graph[node]):
            found = visit(nxt, [*path, node])
            if found:
                return found
        done.add(node)
        return []

    for start in sorted(graph):
        found = visit(start, [])
        if found:
            return found
    return []


def test_it_finds_no_import_cycle_among_lifecycles_and_tasks():
    graph = _graph("orchestrator/lifecycles", "orchestrator/tasks")
    assert _cycle(graph) == []
    # Neither side imports the other at all: they meet in orchestrator/apps.py only.
    crossing = [
        (a, b)
        for a, targets in graph.items()
        for b in targets
        if a.split(".")[1] != b.split(".")[1]
    ]
    assert crossing == []


def test_the_checks_see_an_import_written_inside_a_function():
    # The old domain/releases/services.py imported orchestrator.lifecycles inside a function.
    source = "def f():\n    from orchestrator.lifecycles import releases\n"
    tree = ast.parse(source)
    assert "orchestrator.lifecycles" in set(_names(tree, package="domain.releases"))
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
