"""``manifest.json``: what a run used and produced (inputs, versions, commit, file hashes).

The only file of a report that holds times; every other file is a pure function of the inputs.
"""
from __future__ import annotations

import json
import platform
import re
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata as _md
from pathlib import Path
from typing import TYPE_CHECKING

from trialkit.data.io import sha256_file
from trialkit.report.folders import BUILD_MARKER, SIGNATURE

if TYPE_CHECKING:
    from trialkit.report.jobs import NotebookResult
    from trialkit.report.params import RunParams

__all__ = ["write_manifest", "sha256_file", "package_versions", "git_commit"]


# ------------------------------------------------------------------------------------------------
# manifest.json
# ------------------------------------------------------------------------------------------------
def package_versions() -> dict[str, str | None]:
    """Installed versions of trialkit's declared (locked) runtime dependencies, plus the kit's own.

    Examples
    --------
    >>> versions = package_versions()       # e.g. {'distributed': '...', ..., 'trialkit': '0.1.0'}
    >>> {"pandas", "papermill", "trialkit"} <= set(versions)
    True
    >>> list(versions) == sorted(versions, key=str.lower)
    True
    """
    out: dict[str, str | None] = {}
    try:
        reqs = _md.requires("trialkit") or []
    except _md.PackageNotFoundError:  # pragma: no cover - not installed
        reqs = []
    for r in reqs:
        if "extra ==" in r:
            continue
        name = re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0]
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            out[name] = None
    try:
        out["trialkit"] = _md.version("trialkit")
    except _md.PackageNotFoundError:  # pragma: no cover
        pass
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def git_commit(root: str | Path) -> dict | None:
    """``{"commit", "dirty"}`` of the checkout at ``root``; None outside git or without git.

    Examples
    --------
    A throw-away repository with one commit, then an uncommitted change:

    >>> import subprocess, tempfile, pathlib
    >>> repo = pathlib.Path(tempfile.mkdtemp())
    >>> git = ["git", "-C", str(repo), "-c", "user.name=demo", "-c", "user.email=demo@example.org",
    ...        "-c", "commit.gpgsign=false"]
    >>> _ = subprocess.run(git + ["init", "-q"], check=True)
    >>> _ = (repo / "analysis.py").write_text("x = 1\\n")
    >>> _ = subprocess.run(git + ["add", "analysis.py"], check=True)
    >>> _ = subprocess.run(git + ["commit", "-q", "-m", "first"], check=True)
    >>> info = git_commit(repo)
    >>> sorted(info), len(info["commit"]), info["dirty"]
    (['commit', 'dirty'], 40, False)
    >>> _ = (repo / "analysis.py").write_text("x = 2\\n")
    >>> git_commit(repo)["dirty"]
    True
    >>> git_commit(tempfile.mkdtemp()) is None       # not a git checkout
    True
    """
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _display_path(path: Path, root: Path, report_dir: Path) -> str:
    path = Path(path).resolve()
    for base in (report_dir.resolve(), root.resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.as_posix()


def write_manifest(report_dir: str | Path, *, name: str, params: RunParams, inputs: list[tuple[str, Path]], notebooks: list[Path],
                   results: Sequence[NotebookResult], injected: dict, started: datetime, finished: datetime,
                   wall_seconds: float, jobs: int,
                   root: str | Path, t0: float | None = None) -> dict:
    """Write ``manifest.json``: parameters, input hashes, versions, git commit, times, durations, outputs.

    Per notebook: ``seconds`` executing its cells (kernel start-up and imports, which overlap the
    preparation, excluded) and ``started_after`` (seconds from the start of the run).

    Input paths inside the report folder (the simulated ``data/``) are relative to it; inside the
    checkout, relative to the checkout; else absolute. This is the only output that records times.

    Examples
    --------
    >>> import datetime as dt, json, tempfile, pathlib
    >>> from trialkit.report.jobs import NotebookResult
    >>> from trialkit.report.params import RunParams
    >>> root = pathlib.Path(tempfile.mkdtemp())          # stands for the checkout
    >>> (root / "notebooks").mkdir(), (root / "report").mkdir(), (root / "report" / "data").mkdir()
    (None, None, None)
    >>> _ = (root / "notebooks" / "01_safety.ipynb").write_text("{}")
    >>> _ = (root / "report" / "data" / "subjects.csv").write_text("subject_id\\nS001\\n")
    >>> _ = (root / "report" / "index.html").write_text("<h1>demo</h1>\\n")
    >>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    >>> m = write_manifest(root / "report", name="demo", params=RunParams(),
    ...                    inputs=[("data", root / "report" / "data" / "subjects.csv")],
    ...                    notebooks=[root / "notebooks" / "01_safety.ipynb"],
    ...                    results=[NotebookResult("01_safety", status="done", seconds=1.234, cells=3)],
    ...                    injected={"01_safety": {"alpha": 0.05}}, started=t0, finished=t0 + dt.timedelta(seconds=5),
    ...                    wall_seconds=5.0, jobs=1, root=root)
    >>> [(i["role"], i["path"]) for i in m["inputs"]]
    [('data', 'data/subjects.csv'), ('notebook', 'notebooks/01_safety.ipynb')]
    >>> m["notebooks"]
    [{'name': '01_safety', 'status': 'done', 'seconds': 1.23, 'cells': 3, 'started_after': None}]
    >>> [o["path"] for o in m["outputs"]], m["started"], m["wall_seconds"]     # data/ is hashed as an input
    (['index.html'], '2026-01-01T00:00:00+00:00', 5.0)
    >>> json.loads((root / "report" / "manifest.json").read_text())["report"]
    'demo'
    """
    report_dir, root = Path(report_dir), Path(root)
    files = list(inputs)
    if params.source and Path(params.source).is_file():
        files.append(("params", Path(params.source)))
    files += [("notebook", Path(nb)) for nb in notebooks]
    seen = set()
    input_rows = []
    for role, path in files:
        key = (role, Path(path).resolve())
        if key in seen:
            continue
        seen.add(key)
        input_rows.append({"role": role, "path": _display_path(path, root, report_dir), "sha256": sha256_file(path)})
    outputs = []
    for p in sorted(report_dir.rglob("*")):
        if p.is_file() and p.name not in ("manifest.json", BUILD_MARKER) and "data" not in p.relative_to(report_dir).parts[:1]:
            outputs.append({"path": p.relative_to(report_dir).as_posix(), "sha256": sha256_file(p)})
    manifest = {
        "generator": SIGNATURE,  # marks the folder as a report the kit wrote (and may replace)
        "report": name,
        "parameters": {k: v for k, v in params.as_dict().items()},
        "injected_parameters": injected,
        "inputs": input_rows,
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": Path(sys.executable).name,  # the interpreter's name only: no machine path in a report
        "git": git_commit(root),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 2),
        "jobs": jobs,
        "notebooks": [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 2), "cells": r.cells,
                       "started_after": (round(r.started - t0, 2) if t0 is not None and r.started else None)}
                      for r in results],
        "outputs": outputs,
    }
    (report_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                                              encoding="utf-8", newline="\n")
    return manifest
