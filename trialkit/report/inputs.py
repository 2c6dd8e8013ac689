"""Incremental re-runs: what each notebook depends on, and reusing unchanged notebooks.

For every notebook, ``trialkit run`` records in ``manifest.json`` (``notebooks[].inputs_sha256``)
one SHA-256 over everything its outputs depend on:

- the notebook file itself and the parameters injected into it (``alpha``, ``dataset``, its
  ``notebook_parameters`` …);
- the run's inputs: every data file analysed (the simulated ``data/`` or the dataset's files), the
  study file, the scenario files (with every file it ``extends``), and the ``study.yaml`` and
  ``scenario.yaml`` the notebooks read (horizons and ``n_subjects`` applied);
- how the page is rendered (the ``code`` parameter);
- the software: ``requirements-lock.txt``, every file of the ``trialkit`` package, the Python version.

The next run into the same folder re-executes only the notebooks whose hash changed and copies
the others from the previous report (:func:`reuse_outputs`): the executed notebook, its page, and
the tables and figures it saved (the files named by its ``save_table`` / ``save_figure`` calls,
``tables/<name>.*`` and ``figures/<name>.*``), each checked against the previous manifest's
SHA-256 first (an edited file is not reused: its notebook runs again). The report is still
numbered, checked for subject identifiers and published atomically as a whole; ``--force``
re-executes everything. Outputs are deterministic, so a reused notebook is byte-identical to a
re-executed one.

Examples
--------
>>> import tempfile, pathlib
>>> tmp = pathlib.Path(tempfile.mkdtemp())
>>> _ = (tmp / "01_a.ipynb").write_text("{}")
>>> _ = (tmp / "data.csv").write_text("x\\n1\\n")
>>> h1 = notebook_hashes([tmp / "01_a.ipynb"], {"01_a": {"alpha": 0.05}}, [("data", tmp / "data.csv")], tmp)
>>> h2 = notebook_hashes([tmp / "01_a.ipynb"], {"01_a": {"alpha": 0.01}}, [("data", tmp / "data.csv")], tmp)
>>> len(h1["01_a"]), h1 == h2
(64, False)
"""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
from pathlib import Path

from trialkit.data.io import sha256_file
from trialkit.resources import package_file

__all__ = ["notebook_hashes", "source_digest", "previous_manifest", "notebook_files", "reuse_outputs",
           "record_hashes"]

_PACKAGE = package_file()


def source_digest(package: str | None = None, lock: str | None = None) -> str:
    """SHA-256 over the ``trialkit`` package's files (path and content), the lock file and the Python version.

    Computed afresh on every call (a few hundred small files): a session that edits the library
    between two runs gets a new digest.

    Examples
    --------
    >>> len(source_digest()), source_digest() == source_digest()
    (64, True)
    """
    from trialkit.report.folders import project_root

    pkg = Path(package) if package else _PACKAGE
    lock_path = Path(lock) if lock else project_root() / "requirements-lock.txt"
    h = hashlib.sha256()
    for p in sorted(pkg.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".pyo"):
            h.update(p.relative_to(pkg).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(b"lock\0" + (lock_path.read_bytes() if lock_path.is_file() else b""))
    h.update(platform.python_version().encode())
    return h.hexdigest()


def notebook_hashes(notebooks: list[Path], injected: dict[str, dict], inputs: list[tuple[str, Path]],
                    build: Path, *, code: str = "fold") -> dict[str, str]:
    """Per notebook stem, the SHA-256 of everything its outputs depend on (module docstring).

    ``inputs`` are the run's input files as ``(role, path)``; files inside ``build`` are named by
    their path relative to it, others by file name (their content is what counts).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("01_a.ipynb", "02_b.ipynb"):
    ...     _ = (tmp / name).write_text(name)
    >>> nbs = [tmp / "01_a.ipynb", tmp / "02_b.ipynb"]
    >>> before = notebook_hashes(nbs, {}, [], tmp)
    >>> _ = (tmp / "02_b.ipynb").write_text("edited")
    >>> after = notebook_hashes(nbs, {}, [], tmp)
    >>> before["01_a"] == after["01_a"], before["02_b"] == after["02_b"]
    (True, False)
    """
    build = Path(build)
    common = hashlib.sha256()
    rows = []
    for role, path in inputs:
        path = Path(path)
        shown = path.relative_to(build).as_posix() if path.resolve().is_relative_to(build.resolve()) else path.name
        rows.append(f"{role}\0{shown}\0{sha256_file(path)}")
    for name in ("study.yaml", "scenario.yaml"):
        if (build / name).is_file():
            rows.append(f"written\0{name}\0{sha256_file(build / name)}")
    common.update("\n".join(sorted(rows)).encode())
    common.update(f"\ncode={code}\nsoftware={source_digest()}\n".encode())
    out = {}
    for nb in notebooks:
        h = common.copy()
        h.update(Path(nb).read_bytes())
        h.update(json.dumps(injected.get(Path(nb).stem, {}), sort_keys=True, default=str).encode())
        out[Path(nb).stem] = h.hexdigest()
    return out


def previous_manifest(target: Path) -> dict | None:
    """The manifest of the report already at ``target``, or None (no report, unreadable).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> previous_manifest(pathlib.Path(tempfile.mkdtemp())) is None
    True
    """
    try:
        m = json.loads((Path(target) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and isinstance(m.get("notebooks"), list) else None


def notebook_files(report: Path, stem: str) -> list[str]:
    """The files of notebook ``stem`` in a report: its ``.ipynb`` and ``.html``, and the tables and
    figures its captions name (``tables/<name>.*``, ``figures/<name>.*``), relative to ``report``.

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> from trialkit.report.captions import caption_output
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> cap = nbformat.from_dict(caption_output("table", "demo_counts"))
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[cap])]),
    ...                str(report / "01_demo.ipynb"))
    >>> (report / "tables").mkdir()
    >>> for name in ("demo_counts.csv", "demo_counts.html", "demo_counts_more.csv"):
    ...     _ = (report / "tables" / name).write_text("x")
    >>> notebook_files(report, "01_demo")
    ['01_demo.ipynb', '01_demo.html', 'tables/demo_counts.csv', 'tables/demo_counts.html']
    """
    from trialkit.report.captions import KINDS, collect_captions

    report = Path(report)
    files = [f"{stem}.ipynb", f"{stem}.html"]
    for c in collect_captions(report, [stem]):
        folder = KINDS[c["kind"]][1]
        files += sorted(p.relative_to(report).as_posix() for p in (report / folder).glob(f"{c['name']}.*")
                        if p.is_file())
    return list(dict.fromkeys(files))


def reuse_outputs(target: Path, build: Path, hashes: dict[str, str], previous: dict | None) -> list[str]:
    """Copy from the previous report at ``target`` into ``build`` every notebook whose hash is unchanged.

    A notebook is reused only if the previous run executed (or reused) it with the same hash and
    every one of its files is still there with the SHA-256 the previous manifest recorded.
    Returns the stems reused.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> reuse_outputs(pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp()), {"01_a": "0" * 64}, None)
    []
    """

    if previous is None:
        return []
    target, build = Path(target), Path(build)
    recorded = {o["path"]: o["sha256"] for o in previous.get("outputs", []) if isinstance(o, dict)}
    before = {n.get("name"): n for n in previous["notebooks"] if isinstance(n, dict)}
    reused = []
    for stem, h in hashes.items():
        old = before.get(stem) or {}
        if old.get("status") not in ("done", "reused") or old.get("inputs_sha256") != h:
            continue
        files = old.get("files") or []
        if f"{stem}.ipynb" not in files or not all(
                (target / f).is_file() and recorded.get(f) == sha256_file(target / f) for f in files):
            continue
        for f in files:
            (build / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target / f, build / f)
        reused.append(stem)
    return reused


def record_hashes(report: Path, manifest: dict, hashes: dict[str, str]) -> dict:
    """Add each notebook's ``inputs_sha256`` and ``files`` to ``manifest`` and rewrite ``manifest.json``.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> m = record_hashes(report, {"notebooks": [{"name": "01_a", "status": "reused"}]}, {"01_a": "ab"})
    >>> m["notebooks"], json.loads((report / "manifest.json").read_text()) == m
    ([{'name': '01_a', 'status': 'reused', 'inputs_sha256': 'ab', 'files': ['01_a.ipynb', '01_a.html']}], True)
    """
    report = Path(report)
    for n in manifest.get("notebooks", []):
        if n.get("name") in hashes:
            n["inputs_sha256"] = hashes[n["name"]]
            n["files"] = notebook_files(report, n["name"])
    (report / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                                          encoding="utf-8", newline="\n")
    return manifest
