"""The stages as the layout: every import of the package, read with `ast`, goes to its own stage
or an earlier one, and no module imports itself back through others.

Order: commands, errors, _human, outputs, progress (below all) -> read -> store -> analysis -> render ->
workflows -> cli. `live` (the sampler the `sample` command calls, against a live server) sits
beside workflows; `testing` (a throwaway redis-server) is a top layer of its own. Imports under
`if TYPE_CHECKING:` are not imports at run time and are left out; imports inside functions
count, and each must say why it is there (`# lazy: ...`): start-up speed, never a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "monitorlens"

LAYERS = {
    "commands": 0, "errors": 0, "_human": 0, "outputs": 0, "progress": 0,
    "read": 1, "store": 2, "analysis": 3, "render": 4, "workflows": 5, "live": 5, "cli": 6, "__main__": 6,
    "testing": 7,
}

KNOWN_CYCLES: set[tuple[str, ...]] = set()  # none left


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def imports_of(path: Path) -> set[str]:
    """The package modules that ``path`` imports at run time (absolute names)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "monitorlens"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] != "monitorlens":
                continue
            for alias in node.names:  # `from . import breakdowns` imports a module
                sub = f"{target}.{alias.name}"
                found.add(sub if MODULES.get(sub) else target)
    return found - {name}


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def layer(name: str) -> int | None:
    """The stage of a module (None: the package's ``__init__``, the lazy public API)."""
    parts = name.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else None


def test_every_module_has_a_stage():
    assert {n.split(".")[1] for n in MODULES if "." in n} <= set(LAYERS)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if layer(n) is not None))
def test_no_import_from_a_later_stage(name):
    later = sorted(t for t in GRAPH[name] if layer(t) is not None and layer(t) > layer(name))
    assert not later, f"{name} (stage {layer(name)}) imports later stages: {later}"


def test_no_import_cycle():
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(GRAPH.get(node, ())):
            if nxt not in MODULES or nxt == "monitorlens":
                continue
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(MODULES):
        if name not in state:
            visit(name, [name])
    cycles = [c for c in cycles if tuple(sorted(set(c))) not in KNOWN_CYCLES]
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_layer_test_sees_a_violation(tmp_path):
    """The reader of imports is not blind: relative and absolute imports both resolve."""
    assert "monitorlens.analysis.analyze" in GRAPH["monitorlens.render.summary"]
    assert "monitorlens.read.schema" in GRAPH["monitorlens.analysis.analyze"]
    assert "monitorlens.workflows" in GRAPH["monitorlens.cli"]


def test_every_import_inside_a_function_says_why():
    """A function-local import of the package is for start-up speed (``ingest`` never loads
    pandas) and says so on its line with ``# lazy: ...``; one that only dodged a cycle goes."""
    silent = []
    for path in MODULES.values():
        lines = path.read_text().splitlines()
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                ours = (isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("monitorlens"))) \
                    or (isinstance(node, ast.Import) and any(a.name.startswith("monitorlens") for a in node.names))
                if ours and "# lazy:" not in lines[node.lineno - 1] and "# lazy:" not in lines[node.lineno - 2]:
                    silent.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not silent, "function-local imports without '# lazy: why': " + ", ".join(silent)


# build_report in workflows is the render function plus the deprecated snapshots=/connections=.
SHARED_NAMES = {"build_report"}


def test_one_public_name_one_meaning():
    """No public module-level name is defined in two modules (with two meanings)."""
    where: dict[str, list[str]] = {}
    for name, path in MODULES.items():
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                names = []
            for n in names:
                if not n.startswith("_"):
                    where.setdefault(n, []).append(name)
    twice = {n: m for n, m in where.items() if len(m) > 1 and n not in SHARED_NAMES}
    assert not twice, f"names defined in more than one module: {twice}"
