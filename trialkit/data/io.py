"""Writing a dataset: tables as CSV, Parquet or one Excel workbook, atomically and deterministically.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "ds"
>>> write_tables({"subjects": pd.DataFrame({"subject_id": ["S1"], "age": [40.5]})}, out, "csv")
>>> sorted(p.name for p in out.iterdir())
['subjects.csv']
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from trialkit.data.trial import TABLES, Trial

__all__ = ["write_tables", "write_dataset", "atomic_dir", "FORMATS"]

FORMATS = ("csv", "parquet", "xlsx")


class atomic_dir:
    """Context manager: build a directory in a temporary sibling, then swap it into place.

    On an exception the temporary directory is removed and any existing target is left untouched.
    """

    def __init__(self, target: str | Path):
        self.target = Path(target)

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.tmp-", dir=self.target.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        old = None
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
            os.replace(self.target, old)
        os.replace(self.tmp, self.target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


def _for_output(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out


def write_tables(tables: dict[str, pd.DataFrame | None], out_dir: str | Path, fmt: str = "csv",
                 extra_files: dict[str, str] | None = None) -> None:
    """Write tables to ``out_dir`` (replaced atomically) as ``<table>.csv``/``.parquet`` or ``trial.xlsx``.

    Output is deterministic: rows and columns as given, dates as ``YYYY-MM-DD``, floats with
    Python's shortest round-trip repr (CSV), no index. ``extra_files`` maps file names to text
    written beside the tables (e.g. ``study.yaml``).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    present = {k: v for k, v in tables.items() if v is not None}
    with atomic_dir(out_dir) as tmp:
        if fmt == "xlsx":
            with pd.ExcelWriter(tmp / "trial.xlsx", engine="openpyxl") as xw:
                for name, df in present.items():
                    _for_output(df).to_excel(xw, sheet_name=name, index=False)
        for name, df in present.items():
            if fmt == "csv":
                _for_output(df).to_csv(tmp / f"{name}.csv", index=False, lineterminator="\n")
            elif fmt == "parquet":
                df.to_parquet(tmp / f"{name}.parquet", index=False)
        for fname, text in (extra_files or {}).items():
            (tmp / fname).write_text(text, encoding="utf-8")


def write_dataset(trial: Trial, out_dir: str | Path, fmt: str = "csv", *, with_study: bool = True) -> None:
    """Write a Trial's tables (and its study file as ``study.yaml``) to ``out_dir``."""
    extra = {"study.yaml": trial.study.to_yaml()} if with_study else None
    write_tables({t: getattr(trial, t) for t in TABLES}, out_dir, fmt, extra)
