"""Build step: ship the repository's top-level ``params/`` and ``notebooks/`` inside the package.

They stay the single source in the repository (one copy, at the top of the checkout); building the
package (``pip install .``, ``pip wheel .``) copies them into the built package as
``trialkit/_project/params`` and ``trialkit/_project/notebooks``, where :mod:`trialkit.resources`
finds them with ``importlib.resources``. An editable install (``make install``) copies nothing: the
kit reads them in the checkout. Everything else about the package is declared in pyproject.toml.
"""
from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
BUNDLE = Path("trialkit") / "_project"
#: What is copied: the run parameters, study files and scenarios, and the notebooks.
PROJECT_FILES = {"params": ("*.yaml", "scenarios/*.yaml"), "notebooks": ("[0-9][0-9]_*.ipynb",)}


def project_files() -> list[tuple[Path, Path]]:
    """``(source, path inside the build folder)`` for every bundled file."""
    pairs = []
    for folder, patterns in PROJECT_FILES.items():
        found = sorted({p for pattern in patterns for p in (HERE / folder).glob(pattern) if p.is_file()})
        if not found:
            raise FileNotFoundError(f"{HERE / folder}: no {', '.join(patterns)} to bundle into the package")
        pairs += [(p, BUNDLE / folder / p.relative_to(HERE / folder)) for p in found]
    return pairs


class BuildPyWithProject(build_py):
    """``build_py`` that also copies ``params/`` and ``notebooks/`` into ``trialkit/_project/``."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # editable: read in the checkout (trialkit.resources)
            return
        for src, rel in project_files():
            dest = Path(self.build_lib) / rel
            self.mkpath(str(dest.parent))
            self.copy_file(str(src), str(dest), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if not getattr(self, "editable_mode", False):
            outputs += [str(Path(self.build_lib) / rel) for _, rel in project_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyWithProject})
