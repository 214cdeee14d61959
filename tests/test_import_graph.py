"""No import cycle anywhere in the package.

Every module of ``iota_publisher`` (and of ``drivers/``, installed as
``iota_publisher.drivers``) is parsed with :mod:`ast`, and every import of a
package module is an edge, wherever it sits: at the top of a module, inside a
function, or inside a ``try``. A function-level import is only a deferred one:
a cycle through it is still a cycle (the two modules cannot be understood, or
tested, apart), so it counts. Two kinds of import are left out, because they
never run or cannot be read from the source: imports under
``if TYPE_CHECKING:``, and ``importlib.import_module`` with a computed name
(the driver registry).

``from pkg import name`` is an edge to the submodule ``pkg.name`` when there is
one, else to ``pkg`` itself (its ``__init__``). Importing ``pkg.mod`` runs
``pkg/__init__`` first, but that implicit step is not an edge: a package
importing its own submodules would otherwise always be a cycle.
"""

from __future__ import annotations

import ast
import itertools
from collections import deque
from pathlib import Path

import iota_publisher.drivers

import iota_publisher

Edge = tuple[str, str, int]  # target module, file, line


def _modules() -> dict[str, Path]:
    """Module name -> source file, for the package and its drivers."""
    roots = {
        "iota_publisher": Path(iota_publisher.__file__).parent,
        "iota_publisher.drivers": Path(iota_publisher.drivers.__file__).parent,
    }
    found: dict[str, Path] = {}
    for prefix, root in roots.items():
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([prefix, *parts])] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree, except those under ``if TYPE_CHECKING:``."""
    nodes: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            nodes.append(node)
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """``name`` or its longest prefix that is a package module."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _shown(path: Path) -> str:
    root = Path(iota_publisher.__file__).parent.parent
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def import_graph() -> dict[str, list[Edge]]:
    modules = _modules()
    graph: dict[str, list[Edge]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        edges: list[Edge] = []
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [_known(alias.name, modules) for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [
                    _known(f"{source}.{alias.name}", modules)
                    if f"{source}.{alias.name}" in modules
                    else _known(source, modules)
                    for alias in node.names
                ]
            for target in targets:
                if target is not None and target != name:
                    edges.append((target, _shown(path), node.lineno))
        graph[name] = edges
    return graph


def find_cycles(graph: dict[str, list[Edge]]) -> list[list[str]]:
    """One shortest cycle per strongly connected component of more than one module."""
    succ = {n: sorted({t for t, _, _ in edges if t in graph}) for n, edges in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0

    for start in sorted(succ):
        if start in index:
            continue
        # iterative Tarjan
        work = [(start, iter(succ[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))

    cycles = []
    for component in components:
        members = set(component)
        first = component[0]
        # breadth-first from `first` back to itself, inside the component
        previous: dict[str, str] = {}
        queue = deque([first])
        found = None
        while queue and found is None:
            node = queue.popleft()
            for child in succ[node]:
                if child not in members:
                    continue
                if child == first:
                    found = node
                    break
                if child not in previous:
                    previous[child] = node
                    queue.append(child)
        path = [first]
        node = found
        while node is not None and node != first:
            path.append(node)
            node = previous[node]
        cycles.append([first, *reversed(path[1:]), first])
    return sorted(cycles)


def _describe(cycle: list[str], graph: dict[str, list[Edge]]) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in itertools.pairwise(cycle):
        where = next(f"{f}:{line}" for t, f, line in graph[source] if t == target)
        lines.append(f"    {source} imports {target} at {where}")
    return "\n".join(lines)


def test_no_import_cycle():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(_describe(c, graph) for c in cycles)


def test_the_walk_sees_the_whole_package():
    graph = import_graph()
    assert {"iota_publisher", "iota_publisher.cli", "iota_publisher.drivers.bme280"} <= set(graph)
    targets = {name: {t for t, _, _ in edges} for name, edges in graph.items()}
    # relative, from-package and function-level imports all become edges
    assert "iota_publisher.errors" in targets["iota_publisher.drivers._base"]
    assert "iota_publisher.drivers._i2c" in targets["iota_publisher.drivers.bme280"]
    assert "iota_publisher.agent" in targets["iota_publisher.cli._run"]  # inside `run`
    assert "iota_publisher.cli._common" in targets["iota_publisher.cli._sandbox"]


def test_a_cycle_is_found_and_named():
    def edges(*targets):
        return [(t, "f.py", 1) for t in targets]

    graph = {
        "a": edges("b"),
        "b": edges("c"),
        "c": edges("a", "d"),
        "d": edges(),
        "e": edges("f"),
        "f": edges("e"),
    }
    assert find_cycles(graph) == [["a", "b", "c", "a"], ["e", "f", "e"]]
    assert find_cycles({"a": edges("b"), "b": edges()}) == []


# Private modules still imported from outside their package (importer prefix, private module).
# Each has, or is to get, a public name: trinary's tryte checks are exported by
# iota_publisher.trinary, check_mwm by iota_publisher.pow. Shrink this list; never grow it.
KNOWN_PRIVATE_IMPORTS = {
    ("iota_publisher.marketplace", "iota_publisher.trinary._codec"),
    ("iota_publisher.node", "iota_publisher.trinary._codec"),
    ("iota_publisher.testing", "iota_publisher.sandbox._http"),
}


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def private_imports(graph: dict[str, list[Edge]]) -> list[tuple[str, str, str]]:
    """(importer, private module, where) for each private module imported from outside
    the package that holds it (``iota_publisher._http`` is private to all of iota_publisher,
    ``iota_publisher.trinary._codec`` to iota_publisher.trinary)."""
    found = []
    for source, edges in graph.items():
        for target, path, line in edges:
            parts = target.split(".")
            private = [i for i, p in enumerate(parts) if p.startswith("_") and not p.endswith("__")]
            if private and not _inside(source, ".".join(parts[: private[0]])):
                found.append((source, target, f"{path}:{line}"))
    return sorted(found)


def test_no_new_private_import_across_packages():
    unknown = [
        found
        for found in private_imports(import_graph())
        if not any(
            _inside(found[0], importer) and found[1] == module
            for importer, module in KNOWN_PRIVATE_IMPORTS
        )
    ]
    assert not unknown, "import the public name instead:\n" + "\n".join(
        f"    {source} imports {target} at {where}" for source, target, where in unknown
    )


def test_a_private_import_is_found():
    graph = {
        "p.a": [("p.q._impl", "p/a.py", 3), ("p._shared", "p/a.py", 4), ("p.q", "p/a.py", 5)],
        "p.q.b": [("p.q._impl", "p/q/b.py", 1)],
    }
    assert private_imports(graph) == [("p.a", "p.q._impl", "p/a.py:3")]
