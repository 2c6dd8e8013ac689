"""Where the kit's files are: its package data and the analysis project (``params/``, ``notebooks/``).

Package data — the page templates, the index headlines, the caption registry, the CITATION.cff
schema and the files ``trialkit init`` writes — live inside the ``trialkit`` package and are found
with :mod:`importlib.resources` (:func:`package_file`).

The default analysis project — the repository's top-level ``params/`` (study files, scenarios, run
parameters) and ``notebooks/`` — is kept once, at the top of the checkout. Building the package
(``setup.py``, e.g. ``pip install .``) copies it into the wheel as ``trialkit/_project/``; an
editable install reads it in the checkout (:func:`bundled_project`).

The project in use (:func:`project_root`) is the nearest folder, from the working folder up, that
holds ``params/`` and ``notebooks/`` (a project laid out by ``trialkit init``, or the checkout), else
the bundled one. Its
``params/`` is where a study file, scenario or run-parameters file named by a bare or relative path
is looked up, and the default study file is its ``params/study.yaml``.

Examples
--------
>>> root = project_root()
>>> is_project(root), (root / "params" / "study.yaml").is_file()
(True, True)
>>> sorted(p.name for p in (bundled_project() / "params" / "scenarios").glob("*.yaml"))[:2]
['default.yaml', 'large.yaml']
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["BUNDLE", "PROJECT_FOLDERS", "package_file", "checkout", "bundled_project", "is_project",
           "project_root"]

#: Folder of the built package holding the copy of the top-level ``params/`` and ``notebooks/``.
BUNDLE = "_project"
#: The folders that make an analysis project.
PROJECT_FOLDERS = ("params", "notebooks")


def package_file(*parts: str) -> Path:
    """A file or folder of the ``trialkit`` package (its package data), as a path on disk.

    Parameters
    ----------
    *parts : str
        Path components below the package folder, e.g. ``"report", "captions.yaml"``.

    Returns
    -------
    pathlib.Path
        The path (it may not exist: callers that need it check).

    Raises
    ------
    RuntimeError
        When the package is not installed as files (e.g. imported from a zip archive): the report
        templates must be readable by Jinja from a folder.

    Examples
    --------
    >>> package_file("report", "captions.yaml").is_file()
    True
    >>> package_file("report", "templates").is_dir()
    True
    """
    res = resources.files(__package__).joinpath(*parts)
    if not isinstance(res, Path):  # pragma: no cover - pip always installs a wheel as files
        raise RuntimeError(f"trialkit must be installed as files, not imported from an archive ({res})")
    return res


def checkout() -> Path | None:
    """The source checkout this package is imported from (an editable install), else None.

    A checkout is the folder above the ``trialkit`` package when it holds ``pyproject.toml``,
    ``params/`` and ``notebooks/``; an installed package (``site-packages/trialkit``) has none.

    Examples
    --------
    >>> root = checkout()
    >>> root is None or (root / "pyproject.toml").is_file()
    True
    """
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and is_project(root) else None


def is_project(folder: str | Path) -> bool:
    """Whether ``folder`` is an analysis project: it holds ``params/`` and ``notebooks/`` folders.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> is_project(tmp)
    False
    >>> for name in PROJECT_FOLDERS:
    ...     (tmp / name).mkdir()
    >>> is_project(tmp)
    True
    """
    folder = Path(folder)
    return all((folder / name).is_dir() for name in PROJECT_FOLDERS)


def bundled_project() -> Path:
    """The folder holding the kit's own ``params/`` and ``notebooks/``.

    The checkout for an editable install; ``trialkit/_project`` inside an installed package.

    Raises
    ------
    FileNotFoundError
        When neither is there (a package built without the build step of ``setup.py``).

    Examples
    --------
    >>> root = bundled_project()
    >>> sorted(p.name for p in (root / "notebooks").glob("0[12]_*.ipynb"))
    ['01_exploratory.ipynb', '02_safety.ipynb']
    >>> (root / "params" / "default.yaml").is_file()
    True
    """
    root = checkout()
    if root is not None:
        return root
    bundle = package_file(BUNDLE)
    if is_project(bundle):
        return bundle
    raise FileNotFoundError(2, "trialkit's default params/ and notebooks/ are missing from the installed package "
                               "(build it from the checkout: pip install .)", str(bundle))


def project_root(cwd: str | Path | None = None) -> Path:
    """The analysis project in use: the nearest project from the working folder up, else the bundled one.

    A project is a folder holding ``params/`` and ``notebooks/``: one laid out by ``trialkit
    init``, or the checkout (``make run``). It is looked for in the working folder and the folders
    above it (so a notebook running in ``notebooks/``, or a report kernel in ``outputs/``, finds its
    project); anywhere else the kit uses its own (:func:`bundled_project`).

    Parameters
    ----------
    cwd : path, optional
        The working folder (default: the process's).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> project_root(tmp) == bundled_project()          # not in a project: the kit's own
    True
    >>> (tmp / "params").mkdir(), (tmp / "notebooks").mkdir()
    (None, None)
    >>> project_root(tmp) == tmp.resolve(), project_root(tmp / "notebooks") == tmp.resolve()
    (True, True)
    """
    try:
        here = Path(cwd if cwd is not None else Path.cwd()).resolve()
    except FileNotFoundError:  # the working folder was removed
        return bundled_project()
    for folder in (here, *here.parents):
        if is_project(folder):
            return folder
    return bundled_project()
