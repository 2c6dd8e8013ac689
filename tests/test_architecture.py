"""The kit's layering, read from the source with ``ast`` (every import, including function-level ones).

Layers run one way: cli → report → (tables, plots, models, design) → stats → derive → (scores, data)
→ study. ``simulate`` sits beside the analysis: it may import study, data, scores and derive, and only
the packages that run simulations (design, models — from one module —, report, cli and the top-level
``datasets``) import it. docs/architecture.md states the same rules in prose.
"""
from __future__ import annotations

import ast
import io
import tokenize
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "trialkit"

# What each package may import from the kit (besides itself and the utilities ``errors``, ``_lazy``,
# ``resources``, ``yamlcheck``).
# The top-level package ``trialkit`` (its ``__init__``) and ``datasets`` are the public entry points.
ALLOWED = {
    "study": set(),
    "scores": set(),
    "data": {"study"},
    "derive": {"study", "scores", "data"},
    "stats": {"study", "derive", "scores", "data"},
    "simulate": {"study", "data", "scores", "derive"},
    "tables": {"study", "data", "scores", "derive", "stats"},
    "plots": {"study", "data", "scores", "derive", "stats"},
    "models": {"study", "data", "scores", "derive", "stats", "simulate"},
    "design": {"study", "data", "scores", "derive", "stats", "simulate"},
    "datasets": {"study", "data", "simulate"},
    "report": {"study", "data", "scores", "derive", "stats", "simulate", "tables", "plots", "models",
               "design", "datasets"},
    "cli": {"study", "data", "scores", "derive", "stats", "simulate", "tables", "plots", "models",
            "design", "datasets", "report", "project"},
    "trialkit": {"study", "data", "datasets", "simulate"},
    "project": set(),  # `trialkit init`: copies package data only
}
UTILITIES = {"errors", "_lazy", "resources", "yamlcheck"}
PLOTTING = ("matplotlib", "seaborn", "trialkit.plots")
MAX_CODE_LINES = 600
# Modules still over MAX_CODE_LINES, each waiting for a named issue (not silently allowed: the test
# below fails once a listed module is back under the limit, so the list only shrinks).
WAITING: dict[str, str] = {}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(["trialkit", *parts])
        package = parts[0] if parts else "trialkit"
        if package in ("study", "scores", "cli", "errors", "_lazy", "datasets", "yamlcheck"):
            package = parts[0]
        yield path, name, package


def _imports(path: Path):
    """``(module imported, [names], line)`` for every absolute import in ``path``, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [a.name for a in node.names], node.lineno


def _kit_package(module: str, names: list[str]) -> list[str]:
    """The kit packages an import reaches (``from trialkit import simulate`` reaches ``simulate``)."""
    parts = module.split(".")
    if parts[0] != "trialkit":
        return []
    if len(parts) > 1:
        return [parts[1]]
    return [n for n in names if (ROOT / n).is_dir() or (ROOT / f"{n}.py").exists()] or ["trialkit"]


def _graph():
    edges: dict[str, set[str]] = defaultdict(set)
    where: dict[tuple[str, str], str] = {}
    for path, name, package in _modules():
        for module, names, line in _imports(path):
            for target in _kit_package(module, names):
                if target != package:
                    edges[package].add(target)
                    where.setdefault((package, target), f"{name}:{line} imports {module}")
    return edges, where


def test_no_private_name_crosses_a_package():
    offenders = []
    for path, name, package in _modules():
        for module, names, line in _imports(path):
            targets = _kit_package(module, names)
            if not targets or targets == [package]:
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            private += [p for p in module.split(".") if p.startswith("_") and p not in UTILITIES]
            if private:
                offenders.append(f"{name}:{line} takes {private} from {module}")
    assert offenders == []


def test_each_package_imports_only_what_its_layer_allows():
    edges, where = _graph()
    offenders = [where[(src, dst)] for src, dsts in sorted(edges.items()) for dst in sorted(dsts)
                 if dst not in UTILITIES and dst not in ALLOWED[src]]
    assert offenders == []


@pytest.mark.parametrize("package", ["data", "scores", "derive", "stats", "tables", "plots", "study"])
def test_analysis_packages_never_import_the_simulator(package):
    edges, where = _graph()
    assert "simulate" not in edges.get(package, set()), where.get((package, "simulate"))


def test_stats_imports_no_analysis_or_report_layer():
    edges, where = _graph()
    bad = edges.get("stats", set()) & {"tables", "plots", "models", "design", "report", "simulate",
                                       "cli", "datasets"}
    assert bad == set(), [where[("stats", b)] for b in sorted(bad)]


def test_design_draws_nothing():
    offenders = [f"{name}:{line} imports {module}"
                 for path, name, package in _modules() if package == "design"
                 for module, _names, line in _imports(path)
                 if module.startswith(PLOTTING)]
    assert offenders == []


def test_models_imports_the_simulator_from_one_module():
    users = sorted({name for path, name, package in _modules() if package == "models"
                    for module, names, _line in _imports(path)
                    if "simulate" in _kit_package(module, names)})
    assert len(users) <= 1, users


def test_no_import_cycle_between_packages():
    edges, where = _graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if nxt in UTILITIES:
                continue
            if state.get(nxt) == 1:
                loop = stack[stack.index(nxt):] + [nxt]
                cycles.append(" → ".join(loop))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    tree = ast.parse(source)
    doc_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                doc_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                        tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        lines.update(range(tok.start[0], tok.end[0] + 1))
    return len(lines - doc_lines)


def test_code_lines_counts_neither_docstrings_nor_comments():
    source = '"""Doc\n\nmore."""\n# a comment\n\ndef f(x):\n    """Doc."""\n    return (x +\n            1)  # c\n'
    assert code_lines(source) == 3


def test_no_module_over_600_lines_of_code():
    sizes = {str(path.relative_to(ROOT)): code_lines(path.read_text(encoding="utf-8"))
             for path, _name, _package in _modules()}
    over = {rel: n for rel, n in sorted(sizes.items()) if n > MAX_CODE_LINES and rel not in WAITING}
    assert over == {}
    back_under = [rel for rel in WAITING if sizes.get(rel, 0) <= MAX_CODE_LINES]
    assert back_under == [], f"remove {back_under} from WAITING: they are under {MAX_CODE_LINES} now"


def test_the_simulator_is_a_plain_package_and_a_plain_function():
    """No class swap: the package is an ordinary module; ``trialkit.simulate(...)`` is a function."""
    import sys
    import types

    import trialkit
    from trialkit.simulate import simulate

    package = sys.modules["trialkit.simulate"]
    assert type(package) is types.ModuleType
    assert isinstance(trialkit.simulate, types.FunctionType)
    assert isinstance(simulate, types.FunctionType) and simulate.__module__ == "trialkit.simulate.core"
    assert trialkit.simulate(seed=3, n_subjects=8).subjects.equals(simulate(seed=3, n_subjects=8).subjects)


DOC = ROOT.parent / "docs" / "architecture.md"


def _doc_section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_the_architecture_doc_states_the_enforced_layers():
    """docs/architecture.md's table of what each package may import is ALLOWED, row for row."""
    stated = {}
    for line in _doc_section("Packages and what each may import").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            stated[cells[0].strip("`")] = set() if cells[1] == "nothing" else {
                c.strip().strip("`") for c in cells[1].split(",")}
    assert stated == ALLOWED


def test_the_architecture_doc_describes_every_report_module():
    section = _doc_section("The report package")
    modules = sorted(p.stem for p in (ROOT / "report").glob("*.py") if p.stem != "__init__")
    assert [m for m in modules if f"`{m}.py`" not in section] == []
