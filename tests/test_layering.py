"""vdm's modules import downward only: no two modules import each other in a circle.

Every import counts, at module level and inside functions (a function-local
import that dodges a cycle still is one); only imports under
``if TYPE_CHECKING:`` are left out, since they never run.  ``from pkg import
name`` counts as an import of ``pkg.name`` when that is a module and of
``pkg`` (its ``__init__``) otherwise.

Run as a script (``python tests/test_layering.py``) it prints the figures
issue #10 tracks: the cycles, the functions and methods defined under the
same name in both backends, and the lines of each backend.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import vdm

PACKAGE_ROOT = Path(vdm.__file__).resolve().parent
SOURCE_ROOT = PACKAGE_ROOT.parent


def module_name(path: Path) -> str:
    """The dotted module name of ``path`` (a file under vdm/)."""
    parts = list(path.relative_to(SOURCE_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    """Every module of the vdm package, by dotted name."""
    return {module_name(p): p for p in sorted(PACKAGE_ROOT.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, skipping ``if TYPE_CHECKING:`` bodies."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports_of_statement(other)
            continue
        yield from _imports_of_statement(child)


def _imports_of_statement(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The vdm modules that module ``name`` (file ``path``) imports."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = name.split(".")
            if not is_package:
                anchor.pop()
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            found.add(submodule if submodule in modules else base)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    """Module name -> the vdm modules it imports."""
    modules = all_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of ``graph`` with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        # Tarjan's algorithm, iterative so deep graphs cannot overflow the stack.
        nonlocal counter
        work: list[tuple[str, Iterator[str]]] = []
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work.append((start, iter(sorted(graph[start]))))
        while work:
            node, edges = work[-1]
            advanced = False
            for target in edges:
                if target not in index:
                    index[target] = low[target] = counter
                    counter += 1
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                    advanced = True
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            if advanced:
                continue
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
                    found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def same_named_functions() -> list[str]:
    """Functions and methods defined under the same name in both backends.

    A method counts by its bare name (``Repository.restore`` and a function
    ``restore`` are the same name); dunder methods do not count.
    """
    def names(folder: str) -> set[str]:
        found: set[str] = set()
        for path in (PACKAGE_ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not (
                        node.name.startswith("__") and node.name.endswith("__")):
                    found.add(node.name)
        return found
    return sorted(names("sqlalchemy") & names("sqlobject"))


def backend_lines(folder: str) -> int:
    """Lines of Python in ``vdm/<folder>``."""
    return sum(len(p.read_text().splitlines()) for p in (PACKAGE_ROOT / folder).rglob("*.py"))


def test_the_import_graph_sees_function_local_imports() -> None:
    tree = ast.parse(
        "import vdm.errors\n"
        "def f():\n    from vdm import states\n"
        "if TYPE_CHECKING:\n    import vdm.naming\n"
    )
    assert [type(n).__name__ for n in _imports(tree)] == ["Import", "ImportFrom"]


def test_the_cycle_finder_finds_a_circle_and_only_that() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_vdm_modules_import_each_other_in_no_circle() -> None:
    found = cycles(import_graph())
    assert found == [], "import cycles among vdm's modules:\n" + "\n".join(
        " <-> ".join(component) for component in found)


if __name__ == "__main__":
    graph = import_graph()
    print("import cycles:", len(cycles(graph)))
    for component in cycles(graph):
        print("  ", " ".join(component))
    shared = same_named_functions()
    print("same-named functions in both backends:", len(shared))
    print("  ", " ".join(shared))
    sa, so = backend_lines("sqlalchemy"), backend_lines("sqlobject")
    print(f"backend lines: sqlalchemy {sa} + sqlobject {so} = {sa + so}")
