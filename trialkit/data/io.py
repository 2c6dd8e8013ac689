"""Deterministic, atomic writing of dataset tables (CSV, Parquet or one Excel workbook).

Same tables in, same bytes out: the column order is the DataFrame's, rows are written as given
(the simulator sorts them), floats are written with Python's shortest round-trip representation
(values are already rounded to clinical precision), dates as ``YYYY-MM-DD``, booleans as
``True``/``False``, line endings ``\\n``. Excel workbooks get fixed document timestamps and fixed
zip-entry dates so they too are byte-identical. Files are written into a temporary folder beside
the target and moved into place only when everything succeeded (:class:`atomic_dir`).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from types import TracebackType

    from trialkit.data.trial import Trial

__all__ = ["write_tables", "write_dataset", "atomic_dir", "replace_dir", "sha256_file", "FORMATS"]

FORMATS = ("csv", "parquet", "xlsx")
_EXCEL_MAX_ROWS = 1_048_575  # data rows per sheet (one header row)
_FIXED_TIME = _dt.datetime(2000, 1, 1)


def _date_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if pd.api.types.is_datetime64_any_dtype(df[c])]


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, lineterminator="\n", date_format="%Y-%m-%d", encoding="utf-8")


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    out = df.copy()
    for c in _date_columns(out):  # calendar dates, not timestamps
        out[c] = out[c].dt.date
    out.to_parquet(path, index=False, engine="pyarrow", compression="snappy")


def _write_xlsx(tables: dict[str, pd.DataFrame], path: Path) -> None:
    from openpyxl import Workbook

    too_big = {k: len(v) for k, v in tables.items() if len(v) > _EXCEL_MAX_ROWS}
    if too_big:
        raise ValueError(f"tables too large for an Excel sheet ({too_big} rows; the limit is {_EXCEL_MAX_ROWS}); "
                         "write CSV or Parquet instead")
    wb = Workbook(write_only=True)
    wb.properties.created = wb.properties.modified = _FIXED_TIME
    wb.properties.creator = "trialkit"
    for name, df in tables.items():
        ws = wb.create_sheet(title=name)
        ws.append([str(c) for c in df.columns])
        cols = []
        for c in df.columns:
            s = df[c]
            if pd.api.types.is_datetime64_any_dtype(s):
                cols.append(s.dt.strftime("%Y-%m-%d").astype(object).where(s.notna(), None).tolist())
            else:
                obj = s.astype(object)
                cols.append(obj.where(s.notna(), None).tolist())
        for row in zip(*cols):
            ws.append([v.item() if isinstance(v, np.generic) else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    # re-pack with fixed entry dates and document times, so equal tables give equal bytes
    buf.seek(0)
    with zipfile.ZipFile(buf) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _fix_core_times(data)
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            zout.writestr(zi, data)


def _fix_core_times(xml: bytes) -> bytes:
    import re

    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>" + stamp + rb"\g<2>", xml)


def _write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write ``tables`` into the existing folder ``out_dir`` as ``<table>.<fmt>`` (or ``trial.xlsx``).

    Parameters
    ----------
    tables : dict of str to DataFrame
        Table name to table; written in the given column and row order.
    out_dir : str or Path
        An existing folder.
    fmt : {"csv", "parquet", "xlsx"}
        ``xlsx`` writes one workbook ``trial.xlsx`` with a sheet per table.

    Returns
    -------
    list of Path
        The files written.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> d = tempfile.mkdtemp()
    >>> [p.name for p in _write_tables({"subjects": pd.DataFrame({"subject_id": ["S1"]})}, d)]
    ['subjects.csv']
    """
    out_dir = Path(out_dir)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    if fmt == "xlsx":
        path = out_dir / "trial.xlsx"
        _write_xlsx(tables, path)
        return [path]
    written = []
    for name, df in tables.items():
        path = out_dir / f"{name}.{fmt}"
        (_write_csv if fmt == "csv" else _write_parquet)(df, path)
        written.append(path)
    return written


class atomic_dir:
    """Context manager: yields a temporary folder that replaces ``target`` on success.

    On an exception the temporary folder is removed and ``target`` is left untouched. If ``target``
    exists it must be empty unless ``overwrite`` is true (then it is replaced as a whole).
    """

    def __init__(self, target: str | Path, overwrite: bool = False) -> None:
        self.target = Path(target)
        self.overwrite = overwrite

    def __enter__(self) -> Path:
        t = self.target
        if t.exists() and not t.is_dir():
            raise FileExistsError(f"{t} exists and is not a folder")
        if t.is_dir() and any(t.iterdir()) and not self.overwrite:
            raise FileExistsError(f"{t} is not empty; choose a new folder or pass overwrite=True")
        t.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{t.name}.tmp-", dir=t.parent))
        return self.tmp

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        replace_dir(self.tmp, self.target)
        return False


def replace_dir(src: str | Path, target: str | Path) -> None:
    """Move the finished folder ``src`` to ``target``, replacing any folder there as a whole.

    The old ``target`` is renamed aside first (same file system: atomic), ``src`` renamed into its
    place, and the old one removed last; if the second rename fails the old folder is put back.

    Examples
    --------
    >>> import tempfile
    >>> base = Path(tempfile.mkdtemp())
    >>> (base / "new").mkdir()
    >>> _ = (base / "new" / "subjects.csv").write_text("subject_id")
    >>> (base / "ds").mkdir()
    >>> _ = (base / "ds" / "old.csv").write_text("stale")
    >>> replace_dir(base / "new", base / "ds")
    >>> sorted(p.name for p in base.iterdir()), sorted(p.name for p in (base / "ds").iterdir())
    (['ds'], ['subjects.csv'])
    """
    src, t = Path(src), Path(target)
    os.chmod(src, 0o755)
    old = None
    if t.exists():
        old = t.parent / f".{t.name}.old-{os.getpid()}"
        os.replace(t, old)
    try:
        os.replace(src, t)
    except BaseException:
        if old is not None:
            os.replace(old, t)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_tables(tables: dict[str, pd.DataFrame | None], out_dir: str | Path, fmt: str = "csv",
                 extra_files: dict[str, str] | None = None, *, overwrite: bool = True) -> list[Path]:
    """Write tables (``None`` entries skipped) and extra text files to ``out_dir``, atomically.

    ``extra_files`` maps file names to text written beside the tables (e.g. ``study.yaml``).
    ``out_dir`` is replaced as a whole (``overwrite=True``) or must not hold anything yet.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "ds"
    >>> [p.name for p in write_tables({"subjects": pd.DataFrame({"subject_id": ["S1"]})}, out)]
    ['subjects.csv']
    """
    present = {k: v for k, v in tables.items() if v is not None}
    with atomic_dir(out_dir, overwrite=overwrite) as tmp:
        written = _write_tables(present, tmp, fmt)
        for fname, text in (extra_files or {}).items():
            (tmp / fname).write_text(text, encoding="utf-8", newline="\n")
    return [Path(out_dir) / p.name for p in written]


def write_dataset(trial: Trial, out_dir: str | Path, fmt: str = "csv", *, with_study: bool = True,
                  overwrite: bool = True) -> list[Path]:
    """Write a Trial's tables (and its study file as ``study.yaml``) to ``out_dir``.

    Examples
    --------
    >>> import tempfile
    >>> from trialkit.data.load import load
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> out = Path(tempfile.mkdtemp()) / "ds"
    >>> [p.name for p in write_dataset(trial, out)]
    ['subjects.csv', 'labs.csv', 'events.csv', 'infusions.csv', 'adverse_events.csv', 'symptoms.csv']
    >>> (out / "study.yaml").is_file()
    True

    The files load back into the same tables:

    >>> back = load(out)
    >>> all(back.tables()[name].equals(table) for name, table in trial.tables().items())
    True
    """
    extra = {"study.yaml": trial.study.to_yaml()} if with_study else None
    return write_tables(trial.tables(), out_dir, fmt, extra, overwrite=overwrite)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "abc.txt"
    >>> _ = f.write_bytes(b"abc")
    >>> sha256_file(f)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
