"""The install paths stay in step: pyproject.toml, requirements-lock.txt and environment.yml."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names that differ from PyPI names
CONDA_NAME = {"great-tables": "great-tables"}  # conda-forge spells it great_tables; _norm folds _ to -


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pyproject_deps() -> set[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        deps += extra
    return {_norm(re.split(r"[<>=!~\[; ]", d, maxsplit=1)[0]) for d in deps}


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements-lock.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def _environment() -> tuple[dict[str, str], list]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = {}, []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
            continue
        name, _, version = dep.partition("=")
        conda[_norm(name)] = version
    return conda, pip


def test_lock_pins_every_dependency_exactly():
    pins = _lock()
    missing = sorted(_pyproject_deps() - set(pins))
    assert not missing, f"requirements-lock.txt lacks {missing}: run `make lock`"


def test_environment_yml_matches_pyproject_and_lock():
    conda, pip = _environment()
    assert conda.pop("python") == "3.11"
    assert "pip" in conda and conda.pop("pip") == ""
    names = {CONDA_NAME.get(n, n) for n in _pyproject_deps()}
    assert set(conda) == names, (
        f"environment.yml differs from pyproject.toml: only in environment.yml {sorted(set(conda) - names)}, "
        f"only in pyproject.toml {sorted(names - set(conda))}")
    pins = _lock()
    wrong = {n: (v, pins[n]) for n, v in conda.items() if pins.get(n) != v}
    assert not wrong, f"environment.yml versions differ from the lock file (env, lock): {wrong}"
    assert pip == ["-e ."], "the package itself is installed with `pip install -e .`"


def test_python_version_is_pinned_consistently():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["requires-python"].startswith(">=3.11")
    assert "python-version 3.11" in (ROOT / "Makefile").read_text()


def test_console_script_is_declared():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert meta["scripts"]["trialkit"] == "trialkit.cli:main"
