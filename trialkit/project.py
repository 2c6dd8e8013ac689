"""``trialkit init DIR``: lay out a new analysis project in any folder.

The project gets copies of the kit's own ``params/`` (run parameters ``default.yaml``, the default
study files and the simulation scenarios) and ``notebooks/`` (:func:`trialkit.resources.bundled_project`),
and the files of ``trialkit/project_template/``: a commented study-file template for a new trial
(``params/study_template.yaml``), a ``README.md`` and a ``Makefile`` with the two commands (run the
report, re-check the notebooks) and a ``.gitignore``. ``trialkit run params/default.yaml`` then works
in it at once: run in the project (or below it), the kit reads the project's ``params/`` and
``notebooks/`` (:func:`trialkit.resources.project_root`).

``DIR`` must not exist or be empty: nothing is ever overwritten.

Examples
--------
>>> import tempfile, pathlib
>>> dest = pathlib.Path(tempfile.mkdtemp()) / "my-analysis"
>>> written = init_project(dest)
>>> sorted(p.name for p in dest.iterdir())
['.gitignore', 'Makefile', 'README.md', 'notebooks', 'params']
>>> (dest / "params" / "default.yaml").is_file(), (dest / "params" / "study_template.yaml").is_file()
(True, True)
"""
from __future__ import annotations

import shutil
from pathlib import Path

from trialkit.errors import TrialkitError
from trialkit.resources import PROJECT_FOLDERS, bundled_project, package_file

__all__ = ["ProjectExistsError", "init_project", "TEMPLATE"]

#: The package folder whose files ``init_project`` adds to the bundled ``params/`` and ``notebooks/``.
TEMPLATE = ("project_template",)
_RENAMED = {"gitignore": ".gitignore"}  # kept without the dot in the package (build tools skip dot files)
_SKIPPED = ("__pycache__", ".ipynb_checkpoints")


class ProjectExistsError(TrialkitError):
    """The folder given to ``trialkit init`` exists and is not empty."""


def _files(root: Path) -> list[Path]:
    """Files below ``root`` (relative paths, sorted), leaving out caches and checkpoints."""
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and not any(part in _SKIPPED for part in p.relative_to(root).parts))


def _plan() -> dict[Path, Path]:
    """``{path in the new project: source file}`` for every file ``init_project`` writes."""
    plan: dict[Path, Path] = {}
    bundle = bundled_project()
    for folder in PROJECT_FOLDERS:
        for rel in _files(bundle / folder):
            if folder == "notebooks" and (rel.parent != Path(".") or rel.suffix != ".ipynb"):
                continue  # the notebooks only, not a checkout's scratch files
            plan[Path(folder) / rel] = bundle / folder / rel
    template = package_file(*TEMPLATE)
    for rel in _files(template):
        dest = rel.with_name(_RENAMED.get(rel.name, rel.name))
        if dest in plan:  # pragma: no cover - a template file may not shadow a bundled one
            raise RuntimeError(f"trialkit's project template and bundled project both hold {dest}")
        plan[dest] = template / rel
    return plan


def init_project(dest: str | Path) -> list[Path]:
    """Lay out a new analysis project in ``dest`` (module docstring); return the files written.

    Parameters
    ----------
    dest : path
        A folder that does not exist (created, with its parents) or is empty.

    Returns
    -------
    list of pathlib.Path
        The files written, in ``dest``.

    Raises
    ------
    ProjectExistsError
        ``dest`` exists and is not empty, or is a file: nothing is written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> dest = pathlib.Path(tempfile.mkdtemp())            # an empty folder is fine
    >>> files = init_project(dest)
    >>> sorted(p.name for p in (dest / "notebooks").iterdir())[:2]
    ['01_exploratory.ipynb', '02_safety.ipynb']
    >>> init_project(dest)
    Traceback (most recent call last):
    ...
    trialkit.project.ProjectExistsError: ...: the folder is not empty; trialkit init writes only into a new or empty folder (nothing was changed)
    """
    dest = Path(dest).expanduser()
    if dest.exists() or dest.is_symlink():
        if not dest.is_dir():
            raise ProjectExistsError(f"{dest}: exists and is not a folder; trialkit init writes only into a new or "
                                     "empty folder (nothing was changed)")
        if any(dest.iterdir()):
            raise ProjectExistsError(f"{dest}: the folder is not empty; trialkit init writes only into a new or "
                                     "empty folder (nothing was changed)")
        created = False
    else:
        dest.mkdir(parents=True)
        created = True
    plan = _plan()
    written: list[Path] = []
    try:
        for rel, src in plan.items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(src, "rb") as fin, open(target, "xb") as fout:  # "x": never overwrite
                shutil.copyfileobj(fin, fout)
            written.append(target)
    except BaseException:  # leave nothing half-made: remove what this call wrote
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for p in reversed(written):
                p.unlink(missing_ok=True)
            for d in sorted({p.parent for p in written}, key=lambda d: -len(d.parts)):
                if d != dest and d.is_dir() and not any(d.iterdir()):
                    d.rmdir()
        raise
    return written
