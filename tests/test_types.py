"""Types: every public function of ``trialkit/`` has complete type hints, and mypy is clean on the package.

"Public" is read from the source with ``ast``: every function whose name has no leading underscore,
at module level or as a method of a class whose name has none, whether or not ``__all__`` lists it
(``__init__`` of a public class included). Every module of ``trialkit/`` is counted; none may miss one.

mypy runs on all of ``trialkit/`` with the project's settings (``[tool.mypy]`` in pyproject.toml).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "trialkit"
MODULES = sorted(KIT.rglob("*.py"))


def _untyped(path: Path, root: Path = ROOT) -> list[str]:
    """``module:line name (what is missing)`` for every public function without complete hints."""
    missing = []

    def visit(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_") and not (prefix and node.name == "__init__"):
                    continue
                a = node.args
                params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
                if prefix and params and params[0].arg in ("self", "cls"):
                    params = params[1:]
                bare = [p.arg for p in params if p.annotation is None]
                if node.returns is None:
                    bare.append("return")
                if bare:
                    missing.append(f"{path.relative_to(root)}:{node.lineno} {prefix}{node.name} ({', '.join(bare)})")

    visit(ast.parse(path.read_text(encoding="utf-8")).body, "")
    return missing


def test_every_module_is_counted():
    names = {str(f.relative_to(KIT)) for f in MODULES}
    assert {"__init__.py", "cli.py", "tables/safety.py", "report/runner.py", "data/load.py"} <= names
    assert len(names) > 90


def test_public_functions_are_fully_annotated():
    missing = [m for f in MODULES for m in _untyped(f)]
    assert len(missing) == 0, "public functions without complete type hints:\n" + "\n".join(missing)


def test_the_count_sees_a_missing_hint(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f(x: int, y) -> int: ...\ndef g(x: int): ...\ndef _h(x): ...\n"
                   "class C:\n    def m(self, z: int) -> None: ...\n    def __init__(self, a) -> None: ...\n")
    found = [m.split(" ", 1)[1] for m in _untyped(src, tmp_path)]
    assert found == ["f (y)", "g (return)", "C.__init__ (a)"]


def test_mypy_is_clean_on_the_package():
    res = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), str(KIT)],
                         capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
