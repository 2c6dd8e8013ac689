"""A validated dataset handed from one process to others: validate once, read many times.

``trialkit run`` validates the dataset once in the driver, then writes the validated tables with
:func:`write_validated` (Parquet, every column already in its contract type) into the build folder;
each notebook's ``trialkit.load`` of that folder (:func:`read_validated`) reads them back without
coercing or checking again; the repeated text columns of the long tables (``labs``, ``symptoms``)
come back as categoricals, with the same values, to keep every kernel's copy small. The folder carries ``validated.json``: the kit's version, the warnings
of the validation, and the SHA-256 of every table and of the study file. :func:`read_validated`
takes the fast path only when all of them match (same kit version, files untouched, and the study
file asked for is the one stored); otherwise ``load`` validates the folder like any Parquet dataset.

Examples
--------
>>> import tempfile, pathlib
>>> from trialkit.simulate import simulate
>>> trial = simulate(seed=3)
>>> folder = write_validated(trial, pathlib.Path(tempfile.mkdtemp()) / "validated")
>>> sorted(p.name for p in folder.iterdir())[:3], (folder / "validated.json").is_file()
(['adverse_events.parquet', 'events.parquet', 'infusions.parquet'], True)
>>> again = read_validated(folder)
>>> again.subjects.equals(trial.subjects), again.labs.astype(trial.labs.dtypes).equals(trial.labs)
(True, True)
>>> again.labs["parameter"].dtype.name, again.study.id == trial.study.id   # long tables: lean text columns
('category', True)
"""
from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from trialkit.data.io import sha256_file
from trialkit.data.trial import TABLES, Trial

if TYPE_CHECKING:
    from trialkit.study import Study

__all__ = ["STAMP", "HANDOFF_ENV", "write_validated", "read_validated"]

#: The stamp file of a validated hand-off folder.
STAMP = "validated.json"
#: Environment variable naming a hand-off folder: ``trialkit.load`` of the dataset it was made from
#: reads the folder instead (the report runner sets it for its kernels).
HANDOFF_ENV = "TRIALKIT_VALIDATED"
_GENERATOR = "trialkit validated dataset"


def _version() -> str:
    try:
        return metadata.version("trialkit")
    except metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return "unknown"


#: Long tables whose repeated text columns are read back as categoricals (see :func:`read_validated`).
LEAN_TABLES = ("labs", "symptoms")


def _read_table(path: Path, name: str) -> pd.DataFrame:
    """One table of a hand-off folder; the text columns of a long table (:data:`LEAN_TABLES`) as categoricals.

    A kernel holds the whole trial: at 100,000 subjects ``labs`` has 15 million rows, whose four text
    columns (subject, visit, parameter, unit) take about 60% of its memory as strings. As categoricals
    (integer codes and one copy of each distinct value) they take 7 bytes a row. pyarrow reads those
    columns dictionary-encoded (``read_dictionary``), so the strings of every row are never built (the
    read of that table peaks at about half the memory and takes a seventh of the time of reading strings
    and converting them), and the Arrow buffers are released column by column as pandas takes them
    (``self_destruct``). The categories are sorted, so that sorting and grouping order the values as the
    strings did; a column with more than one distinct value per two rows stays text.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if name not in LEAN_TABLES:
        return pd.read_parquet(path, engine="pyarrow")
    text = [f.name for f in pq.read_schema(path) if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    table = pq.read_table(path, read_dictionary=text)
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    for col in text:
        s = df[col]
        if not isinstance(s.dtype, pd.CategoricalDtype):  # pragma: no cover - pyarrow always decodes to one
            continue
        s = s.cat.remove_unused_categories()
        if len(s.cat.categories) * 2 <= len(s):
            df[col] = s.cat.reorder_categories(sorted(s.cat.categories))
        else:
            df[col] = s.astype(s.cat.categories.dtype)
    return df


def write_validated(trial: Trial, dest: str | Path, study_file: str | Path | None = None,
                    dataset: str | Path | None = None) -> Path:
    """Write a validated :class:`Trial` (tables as Parquet, dtypes kept) with its stamp into ``dest``.

    Parameters
    ----------
    trial : Trial
        Validated (``trialkit.load`` / ``build_trial`` / ``simulate`` returned it).
    dest : path
        A new folder.
    study_file : path, optional
        The study file to store as ``study.yaml`` (default: the trial's study written out). Give
        the file the readers will name, so that :func:`read_validated` recognises it.
    dataset : path, optional
        The dataset (folder or workbook) the tables were validated from: a reader must then name
        it (``read_validated(..., dataset=...)``) to get them.

    Returns
    -------
    Path
        ``dest``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from trialkit.simulate import simulate
    >>> folder = write_validated(simulate(seed=1), pathlib.Path(tempfile.mkdtemp()) / "v")
    >>> sorted(json.loads((folder / STAMP).read_text())["tables"])
    ['adverse_events', 'events', 'infusions', 'labs', 'subjects', 'symptoms']
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    hashes = {}
    for name, df in trial.tables().items():
        if df is None:
            continue
        path = dest / f"{name}.parquet"
        df.to_parquet(path, index=False, engine="pyarrow")
        hashes[name] = sha256_file(path)
    if study_file is None and trial.study.path and Path(trial.study.path).is_file():
        study_file = trial.study.path
    if study_file is not None:
        (dest / "study.yaml").write_bytes(Path(study_file).read_bytes())
    else:
        (dest / "study.yaml").write_text(trial.study.to_yaml(), encoding="utf-8", newline="\n")
    stamp = {"generator": _GENERATOR, "trialkit": _version(), "source": trial.source,
             "warnings": list(trial.warnings), "tables": hashes, "study": sha256_file(dest / "study.yaml"),
             "truth": trial.truth, "dataset": str(Path(dataset).resolve()) if dataset is not None else None}
    (dest / STAMP).write_text(json.dumps(stamp, indent=1, default=str) + "\n", encoding="utf-8")
    return dest


def read_validated(path: str | Path, study: str | Path | Study | None = None, dataset: str | Path | None = None) -> Trial | None:
    """The :class:`Trial` of a hand-off folder, or ``None`` when it is not one (or not intact).

    ``study``: the study file the caller asks for (a path), or ``None`` for the stored one; a
    different file, or a :class:`~trialkit.study.Study` object, means ``None`` (validate instead).
    ``dataset``: the dataset the caller asks for; it must be the one the folder was made from
    (when the folder records one).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> read_validated(tempfile.mkdtemp()) is None       # no stamp: an ordinary dataset folder
    True
    """
    from trialkit.study import load_study

    path = Path(path)
    try:
        stamp = json.loads((path / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("generator") != _GENERATOR or stamp.get("trialkit") != _version():
        return None
    if stamp.get("dataset") is not None and (dataset is None or str(Path(dataset).resolve()) != stamp["dataset"]):
        return None
    study_path = path / "study.yaml"
    if study is not None:
        if not isinstance(study, (str, Path)) or not Path(study).is_file():
            return None
        study_path = Path(study)
    try:
        if sha256_file(study_path) != stamp.get("study"):
            return None
        tables = {}
        for name, digest in (stamp.get("tables") or {}).items():
            if name not in TABLES or sha256_file(path / f"{name}.parquet") != digest:
                return None
            tables[name] = _read_table(path / f"{name}.parquet", name)
    except OSError:
        return None
    if not {"subjects", "labs", "events"} <= set(tables):
        return None
    import pyarrow as pa

    pa.default_memory_pool().release_unused()  # the Arrow buffers pandas did not keep, back to the system
    return Trial(study=load_study(study_path), source=stamp.get("source"), warnings=tuple(stamp.get("warnings", ())),
                 truth=stamp.get("truth"), **tables)
