"""The package reads like the pipeline: one folder per stage, and no import loops between modules."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

STAGES = ("knowledge", "index", "answer", "serve")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def import_graph(packages: tuple[str, ...] = ("guide", "evals")) -> dict[str, set[str]]:
    """Every import between the project's modules, lazy ones inside functions included (not TYPE_CHECKING)."""
    modules = {_module_name(p): p for pkg in packages for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        here = name.split(".") if is_pkg else name.split(".")[:-1]

        def visit(node: ast.AST, name: str = name, here: list[str] = here) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and _is_type_checking(child):
                    continue
                if isinstance(child, ast.ImportFrom):
                    base = here[: len(here) - child.level + 1] if child.level else []
                    target = ".".join([*base, *(child.module.split(".") if child.module else [])])
                    for alias in child.names:
                        full = f"{target}.{alias.name}"
                        dep = full if full in modules else target
                        if dep in modules and dep != name:
                            graph[name].add(dep)
                elif isinstance(child, ast.Import):
                    for alias in child.names:
                        if alias.name in modules and alias.name != name:
                            graph[name].add(alias.name)
                visit(child)

        visit(ast.parse(path.read_text()))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            # A package's __init__ importing its own submodules is how packages work, not a loop.
            if node.startswith(dep + "."):
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state and (found := dfs(dep)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := dfs(node)):
            return found
    return []


def test_no_import_loops():
    cycle = find_cycle(import_graph())
    assert not cycle, "import loop: " + " -> ".join(cycle)


def test_the_loop_finder_finds_a_loop():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_one_folder_per_stage_and_stages_point_forward():
    """knowledge -> index -> answer -> serve: a stage never imports a later one."""
    for stage in STAGES:
        assert (ROOT / "guide" / stage / "__init__.py").exists()
    assert not [p.name for p in (ROOT / "guide").glob("*.py")
                if p.stem not in {"__init__", "__main__", "cli", "config", "core", "reply", "offline"}]
    order = {f"guide.{s}": i for i, s in enumerate(STAGES)}
    for module, deps in import_graph(("guide",)).items():
        stage = next((order[s] for s in order if module.startswith(s + ".") or module == s), None)
        if stage is None:
            continue
        for dep in deps:
            later = next((order[s] for s in order if dep.startswith(s + ".") or dep == s), None)
            assert later is None or later <= stage, f"{module} (an earlier stage) imports {dep}"
