"""The package's layout (issue 24): every module imports, and the graph of `logitcheck.*`
imports has no cycle (dependencies point downward: cli -> api/analyses -> checks/inference
-> compute -> io, DESIGN.md).

The graph is built from the source with ast: module-level imports are its edges (those under
`if TYPE_CHECKING:` are not: they never run). A second graph adds the imports made inside
functions (the lazy ones that keep the start fast), which must not close a cycle either.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import logitcheck

PACKAGE = Path(logitcheck.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["logitcheck", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The logitcheck modules an import statement loads (a name imported from a package
    is the submodule where there is one, else the package)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                 for a in node.names]
    out = []
    for name in names:
        while name not in MODULES and "." in name:  # `import logitcheck.x.y` -> a module
            name = name.rpartition(".")[0]
        if name in MODULES and name != module:
            out.append(name)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    """module -> the logitcheck modules it imports at module level (lazy: in functions too,
    leaving out `logitcheck` itself, whose public names load on first use)."""
    graph: dict[str, set[str]] = {}

    for module, path in MODULES.items():
        edges: set[str] = set()

        def visit(nodes: list[ast.stmt], module: str = module, path: Path = path,
                  edges: set[str] = edges) -> None:
            for node in nodes:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    edges.update(_targets(module, path, node))
                elif isinstance(node, ast.If):
                    if not _is_type_checking(node.test):
                        visit(node.body)
                        visit(node.orelse)
                elif isinstance(node, ast.Try):
                    for block in (node.body, node.orelse, node.finalbody,
                                  *(h.body for h in node.handlers)):
                        visit(block)
                elif isinstance(node, ast.With):
                    visit(node.body)
                elif lazy and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef
                                         | ast.ClassDef):
                    visit([n for n in ast.walk(node) if isinstance(n, ast.stmt) and n is not node
                           and not isinstance(n, ast.If | ast.Try | ast.With)])

        visit(ast.parse(path.read_text(encoding="utf-8")).body)
        if lazy:
            edges.discard("logitcheck")
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_every_module_imports():
    found = {m.name for m in pkgutil.walk_packages(logitcheck.__path__, "logitcheck.")}
    found.discard("logitcheck._kernel")  # the C extension (when built): no Python imports
    assert found | {"logitcheck"} == set(MODULES)  # the graph covers what Python sees
    for name in sorted(MODULES):
        importlib.import_module(name)


def test_the_graph_sees_the_imports():
    graph = import_graph()
    # relative, absolute, `from . import module` and package-level imports are all edges
    assert "logitcheck.checks.registry" in graph["logitcheck.checks.activation"]
    assert "logitcheck.checks.activation" in graph["logitcheck.checks"]
    assert "logitcheck.compute.chunks" in graph["logitcheck.compute.dask_engine"]
    assert "logitcheck.gate.baseline" in graph["logitcheck.gate"]
    # a lazy import is an edge of the lazy graph only
    assert "logitcheck.compute.dask_engine" not in graph["logitcheck.compute.engine"]
    assert "logitcheck.compute.dask_engine" in import_graph(lazy=True)["logitcheck.compute.engine"]


@pytest.mark.parametrize("lazy", [False, True], ids=["module-level", "with-lazy-imports"])
def test_no_import_cycle(lazy):
    cycle = find_cycle(import_graph(lazy))
    assert cycle is None, " -> ".join(cycle or [])


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


#: modules over 500 lines, and why they are not split further
LONG_MODULES = {
    "logitcheck.api": "check() and Checker (the streaming API) with their one option table",
    "logitcheck.io": "open_logits/open_labels: the format dispatch and the Source/Labels types",
}


def test_no_long_module_without_a_reason():
    long = {m for m, p in MODULES.items()
            if len(p.read_text(encoding="utf-8").splitlines()) > 520}
    assert long <= set(LONG_MODULES), sorted(long - set(LONG_MODULES))
