"""The package reads off its folder tree: stages as sub-packages, imports pointing one way.

The graph is built from the source with `ast` (nothing is imported). Layers, highest first:
a module may import its own layer and any lower one, never a higher one, and no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "perfxl"

#: highest first; a top-level module is its own layer
LAYERS = [
    {"cli", "__main__", "terminal"},
    {"analysis"},
    {"run"},
    {"write"},
    {"review"},
    {"read"},
    {"ooxml"},
    {"spec", "model"},
    {"findings", "resources"},
    {"parallel"},
    {"pool"},
    {"__init__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1] or parts
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """perfxl modules imported by `path` (module `name`), anywhere in the file."""
    tree = ast.parse(path.read_text("utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # `from pkg import mod` imports the module; `from mod import name` the module itself
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("perfxl"):
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) for name, path in modules.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_layer():
    assert {_layer(m) for m in _graph()} <= set(RANK), "a new sub-package needs its place in LAYERS"


def test_imports_never_point_up():
    upward = sorted(f"{m} → {t}" for m, targets in _graph().items() for t in targets
                    if RANK[_layer(t)] < RANK[_layer(m)])
    assert upward == []


def test_no_import_cycles():
    graph = _graph()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_ooxml_knows_nothing_of_perfxl():
    graph = _graph()
    leaks = sorted(f"{m} → {t}" for m, targets in graph.items() if _layer(m) == "ooxml"
                   for t in targets if _layer(t) != "ooxml")
    assert leaks == []


def test_modules_are_small_and_say_what_they_own():
    for name, path in _modules().items():
        text = path.read_text("utf-8")
        lines = text.count("\n")
        assert lines <= 450, f"{name} has {lines} lines: split it by responsibility"
        if path.name != "__main__.py":
            doc = ast.get_docstring(ast.parse(text))
            assert doc, f"{name} has no docstring saying what it owns"


def test_the_graph_sees_cycles_and_upward_imports(tmp_path, monkeypatch):
    """The checker itself: a fake package with a cycle and an upward import is caught."""
    pkg = tmp_path / "perfxl"
    (pkg / "write").mkdir(parents=True)
    (pkg / "run").mkdir()
    (pkg / "__init__.py").write_text('"""x"""\n')
    (pkg / "write" / "__init__.py").write_text('"""x"""\n')
    (pkg / "run" / "__init__.py").write_text('"""x"""\n')
    (pkg / "write" / "a.py").write_text('"""x"""\nfrom perfxl.run import b\n')
    (pkg / "run" / "b.py").write_text('"""x"""\nfrom perfxl.write.a import thing\nfrom . import c\n')
    (pkg / "run" / "c.py").write_text('"""x"""\nfrom .b import y\n')
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    graph = _graph()
    assert graph["perfxl.write.a"] == {"perfxl.run.b"}
    assert graph["perfxl.run.b"] == {"perfxl.write.a", "perfxl.run.c"}
    assert graph["perfxl.run.c"] == {"perfxl.run.b"}
    upward = [f"{m} → {t}" for m, ts in graph.items() for t in ts if RANK[_layer(t)] < RANK[_layer(m)]]
    assert upward == ["perfxl.write.a → perfxl.run.b"]
