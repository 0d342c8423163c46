"""The mnd.* modules import each other without circles: every import counts, at module level or inside a function."""
import ast
from pathlib import Path

from tests.conftest import REPO

STAGES = ("base", "pipeline", "quantize", "targets", "engine")


def module_files() -> dict:
    files = {}
    for stage in STAGES:
        for path in (REPO / stage).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(("mnd", *(parts[:-1] if parts[-1] == "__init__" else parts)))
            files[name] = path
    return files


def imported(path: Path, modules: set) -> set:
    """mnd modules named by the file's imports; `from package import module` counts as the module."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                         for alias in node.names)
    return {name for name in names if name in modules}


def import_graph() -> dict:
    files = module_files()
    return {name: imported(path, set(files)) - {name} for name, path in files.items()}


def find_cycle(graph: dict) -> list | None:
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_graph_sees_the_packages():
    graph = import_graph()
    assert {"mnd.pipeline.cli", "mnd.quantize.ptq", "mnd.targets.host"} <= set(graph)
    assert "mnd.base.errors" in set().union(*graph.values())


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
