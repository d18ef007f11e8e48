"""The architecture as DESIGN.md §5 draws it, checked on the source: dependencies point one
way, no import cycle, only the plugin imports pytest, and no module or function grows past
what a newcomer can read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "evalgate"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

#: the layers, lowest first: a module may import its own layer (without a cycle between
#: units) and the layers below it, never one above
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"errors", "_io", "_files", "config", "records"}),  # foundations
    frozenset({"metrics", "stats", "data", "models", "spec"}),  # leaf libraries
    frozenset({"families"}),
    frozenset({"engine"}),
    frozenset({"verdict", "report", "registry", "promotion", "mlflow_registry"}),
    frozenset({"output", "compare", "cli", "cli_report", "plugin"}),  # front ends
)


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        yield ".".join(parts), path


def unit_of(module: str) -> str:
    """``evalgate.families.bias.check`` → ``families``; ``evalgate`` → ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports_of(module: str, path: Path) -> set[str]:
    """The evalgate modules (and ``pytest``) that ``module`` imports at run time, anywhere in
    its body (imports inside functions too; ``if TYPE_CHECKING:`` blocks not)."""
    tree = ast.parse(path.read_text("utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _type_checking(node):
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from . import perturb`` imports the submodule; a name that is no module
            # (a function, a class) is the module ``base`` itself
            found.update(f"{base}.{a.name}" for a in node.names)
            if not all(_is_module(f"{base}.{a.name}") for a in node.names):
                found.add(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").is_file() or (ROOT / rel / "__init__.py").is_file()


def graph() -> dict[str, set[str]]:
    known = dict(modules())
    out = {}
    for module, path in known.items():
        imported = imports_of(module, path)
        out[module] = {m for m in imported if m in known and m != module}
        if any(m == "pytest" or m.startswith(("pytest.", "_pytest")) for m in imported):
            out[module].add("pytest")
    return out


def test_only_the_plugin_imports_pytest() -> None:
    users = sorted(m for m, deps in graph().items() if "pytest" in deps)
    assert users and all(u == "evalgate.plugin" or u.startswith("evalgate.plugin.")
                         for u in users), users


def test_no_import_cycle_between_modules() -> None:
    g = {m: deps - {"pytest"} for m, deps in graph().items()}
    cycles = [c for c in _components(g) if len(c) > 1]
    assert not cycles, f"import cycles: {cycles}"


def test_dependencies_point_one_way() -> None:
    layer = {unit: i for i, units in enumerate(LAYERS) for unit in units}
    wrong, units = [], {}
    for module, deps in graph().items():
        mine = unit_of(module)
        if mine in ("__init__", "__main__"):
            continue
        assert mine in layer, f"{module}: unit {mine!r} is in no layer of this test"
        for dep in deps - {"pytest"}:
            theirs = unit_of(dep)
            if theirs == "__init__" or theirs == mine:
                continue
            if layer[theirs] > layer[mine]:
                wrong.append(f"{module} → {dep} ({mine} is below {theirs})")
            units.setdefault(mine, set()).add(theirs)
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)
    cycles = [c for c in _components(units) if len(c) > 1]
    assert not cycles, f"units that import each other: {cycles}"


def test_no_module_is_too_long() -> None:
    long = {str(p.relative_to(ROOT)): n for _, p in modules()
            if (n := len(p.read_text("utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


def test_no_function_is_too_long() -> None:
    long = []
    for _, path in modules():
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({n})")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_walk_sees_relative_and_function_level_imports(tmp_path: Path) -> None:
    """The checker itself: a relative import inside a function counts, a TYPE_CHECKING one
    does not."""
    src = tmp_path / "mod.py"
    src.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                   "    from ..engine import Gate\n"
                   "def f():\n    from ..report import render\n    import pytest\n")
    found = imports_of("evalgate.families.mod", src)
    assert "evalgate.report.render" in found and "pytest" in found
    assert not any(m.startswith("evalgate.engine") for m in found)


def _components(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    for v in list(g):
        if v not in index:
            strong(v)
    return out


