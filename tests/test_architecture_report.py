"""The report package is split by job: no private name crosses a module, no import cycle, no module over
600 lines of code. Read from the source with ``ast`` (nothing is imported), including imports inside
functions, so a lazy import cannot hide a cycle.
"""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

REPORT = Path(__file__).resolve().parent.parent / "trialkit" / "report"
PACKAGE = "trialkit.report"
MAX_CODE_LINES = 600
MODULES = {p.stem: p for p in sorted(REPORT.glob("*.py"))}


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    tree = ast.parse(source)
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    code: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            code.update(range(tok.start[0], tok.end[0] + 1))
    return len(code - docstrings)


def imports(path: Path) -> list[tuple[str, str | None, int]]:
    """Every ``(module, name, line)`` the file imports (``name`` None for ``import module``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found += [(node.module, a.name, node.lineno) for a in node.names]
    return found


def report_dependencies(path: Path) -> set[str]:
    """The modules of ``trialkit.report`` this file imports (``from trialkit.report import x`` counts x)."""
    deps = set()
    for module, name, _ in imports(path):
        if module == PACKAGE and name in MODULES:
            deps.add(name)
        elif module.startswith(PACKAGE + "."):
            deps.add(module.split(".")[2])
    deps.discard(path.stem)
    deps.discard("__init__")
    return deps


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_checks_catch_what_they_look_for(tmp_path):
    assert code_lines('"""Doc.\n\nMore."""\n# comment\n\nx = 1\n\n\ndef f():\n    """Doc."""\n    return """a\nb"""\n') == 4
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    f = tmp_path / "m.py"
    f.write_text("import os\nfrom trialkit.report import runner\n\ndef g():\n    from trialkit.report.x import _y\n")
    assert imports(f) == [("os", None, 1), ("trialkit.report", "runner", 2), ("trialkit.report.x", "_y", 5)]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_is_imported_from_another_module(name):
    private = [f"line {line}: from {module} import {imported}" for module, imported, line in imports(MODULES[name])
               if imported and imported.startswith("_") and not imported.startswith("__")]
    assert not private, f"trialkit/report/{name}.py imports private names: {'; '.join(private)}"


def test_no_import_cycle():
    graph = {name: report_dependencies(path) for name, path in MODULES.items() if name != "__init__"}
    assert graph["runner"] >= {"params", "notebooks", "kernels", "progress", "jobs"}  # the graph is read
    cycle = find_cycle(graph)
    assert cycle is None, f"import cycle in trialkit/report: {' -> '.join(cycle)}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_600_lines_of_code(name):
    n = code_lines(MODULES[name].read_text(encoding="utf-8"))
    assert n <= MAX_CODE_LINES, f"trialkit/report/{name}.py has {n} lines of code (at most {MAX_CODE_LINES})"
