"""Reading a dataset (CSV / Parquet directory or Excel workbook) into a validated :class:`Trial`.

Validation collects **every** problem before failing: unreadable files, missing tables and columns,
values that do not parse, values outside the contract (pandera, lazily), and the cross-table rules of
:mod:`trialkit.data.checks`. Input files are only ever opened for reading.

Examples
--------
>>> import trialkit
>>> from trialkit.data.load import load, validate
>>> report = validate("no/such/folder")
>>> report.ok, report.problems[0].message
(False, 'dataset not found')
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from trialkit.data import checks
from trialkit.data.handoff import HANDOFF_ENV, read_validated
from trialkit.data.ids import ambiguity_note
from trialkit.data.schema import columns_for, pandera_schema
from trialkit.data.trial import REQUIRED_TABLES, TABLES, Trial
from trialkit.errors import StudyFileError, ValidationError
from trialkit.study import Study, default_study_path, load_study

__all__ = ["Problem", "Report", "load", "validate", "build_trial", "read_tables", "infer_column", "MAX_PER_RULE"]

#: How many rows are listed for one rule in one column before the rest are summarised.
MAX_PER_RULE = 20
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
#: Largest whole number a float holds exactly (2**53 - 1); integer columns beyond it are refused.
MAX_EXACT_INT = 2**53 - 1


@dataclass(frozen=True)
class Problem:
    """One validation problem: where it is (file, table, row, column), the value and what was expected.

    ``row`` counts the header as row 1 (CSV line number / spreadsheet row); ``None`` when the problem
    concerns a whole file, table or column.
    """

    table: str | None
    message: str
    row: int | None = None
    column: str | None = None
    value: Any = None
    file: str | None = None
    count: int = 1  # >1 for a summary line standing for several rows

    def __str__(self) -> str:
        where = self.file or (self.table or "dataset")
        parts = [where]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        head = ", ".join(parts)
        val = "" if self.value is None else f"value {_show(self.value)}: "
        return f"{head}: {val}{self.message}"


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Report:
    """Result of :func:`validate`: the problems, the trial when there are none, and warnings."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    trial: Trial | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def text(self) -> str:
        """Human-readable listing of every problem."""
        n = len(self.problems)
        lines = [f"{self.source}: {n} problem{'s' if n != 1 else ''} found"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class _Collector:
    """Accumulates problems, listing at most MAX_PER_RULE rows per (table, column, message)."""

    def __init__(self, files: dict[str, str], limit: int | None = MAX_PER_RULE):
        self.files = files
        self.limit = limit
        self.problems: list[Problem] = []
        self.warnings: list[str] = []

    def add(self, table, message, row=None, column=None, value=None):
        self.problems.append(Problem(table, message, row, column, value, self.files.get(table, table)))

    def add_rows(self, table: str, column: str | None, message: str, rows, values=None):
        """One problem per offending row (``rows`` are frame index labels), capped per rule."""
        rows = list(rows)
        values = [None] * len(rows) if values is None else list(values)
        shown = rows if self.limit is None else rows[: self.limit]
        for r, v in zip(shown, values):
            v = None if (v is not None and not isinstance(v, str) and pd.isna(v)) else v
            self.add(table, message, _rownum(r), column, _py(v))
        rest = len(rows) - len(shown)
        if rest > 0:
            self.problems.append(Problem(
                table, f"{message} — and {rest} more row{'s' if rest > 1 else ''} with this problem "
                f"(rows {_rownum(rows[len(shown)])}…{_rownum(rows[-1])}; `--all` lists them)",
                None, column, None, self.files.get(table, table), count=rest))

    def warn(self, text: str):
        self.warnings.append(text)


def _rownum(index_label) -> int:
    return int(index_label) + 2


def _py(v):
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return v


# ---------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------
def _read_csv(path: Path, table: str, col: _Collector) -> pd.DataFrame | None:
    name = str(path)
    raw = path.read_bytes()
    if not raw.strip():
        col.add(table, "file is empty (expected a header row and data)")
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col.add(table, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} at line {line} "
                       f"(save the file as UTF-8 CSV)", row=line)
        return None
    # Ragged rows: count fields per line with the csv module, report every mismatch.
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        col.add(table, "file is empty (expected a header row and data)")
        return None
    width = len(header)
    if width == 1:
        sep = next((c for c in (";", "\t", "|") if c in header[0]), None)
        if sep is not None:
            name = {"\t": "tab", ";": "semicolon", "|": "pipe"}[sep]
            col.add(table, f"the header is one column holding {name}s: the file looks {name}-separated; save it "
                           "as comma-separated CSV (in Excel: CSV UTF-8, comma delimited)")
            return None
    ragged = _ragged_lines(raw, width) if reader.line_num == 1 else None
    if ragged is None:  # quotes, bare carriage returns, NUL bytes or huge lines: the csv module decides
        ragged = []
        try:
            for fields in reader:
                if fields and len(fields) != width:
                    ragged.append((reader.line_num, len(fields)))
        except csv.Error as exc:
            col.add(table, f"unreadable CSV: {exc}")
            return None
    for line, n in ragged[: MAX_PER_RULE if col.limit else None]:
        col.add(table, f"row has {n} fields, the header has {width}", row=line)
    if ragged:
        if col.limit and len(ragged) > MAX_PER_RULE:
            col.add(table, f"and {len(ragged) - MAX_PER_RULE} more rows with the wrong number of fields")
        return None
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        col.add(table, f"duplicated column name(s) in the header: {', '.join(dupes)}")
        return None
    df = _read_csv_text(text, raw, width)
    if df is None:
        try:
            df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""],
                             skip_blank_lines=True)
        except (pd.errors.ParserError, ValueError) as exc:  # pragma: no cover - csv module caught it
            col.add(table, f"unreadable CSV: {exc}")
            return None
    del name
    return df


#: Longest line (bytes) the fast paths take; the csv module refuses fields beyond 131,072 characters.
_FAST_LINE = 100_000
#: Rows from which a CSV file is parsed by pyarrow (multi-threaded) rather than pandas' own parser.
_ARROW_ROWS = 100_000


def _plain(raw: bytes) -> np.ndarray | None:
    """The bytes of a CSV file (without a UTF-8 BOM) when no quoting, NUL byte or bare carriage return can
    make its lines differ from its records; else ``None``."""
    b = np.frombuffer(raw, dtype=np.uint8)
    if raw.startswith(b"\xef\xbb\xbf"):
        b = b[3:]
    if not len(b) or b"\"" in raw or b"\x00" in raw:
        return None
    cr = np.flatnonzero(b == 13)
    if len(cr) and not ((cr + 1 < len(b)).all() and (b[np.minimum(cr + 1, len(b) - 1)] == 10).all()):
        return None
    return b


def _ragged_lines(raw: bytes, width: int) -> list[tuple[int, int]] | None:
    """(line number, number of fields) of every non-blank line after the header whose number of fields is
    not ``width``, counted with numpy on the bytes (separators per line), or ``None`` when the file needs
    the csv module (see :func:`_plain`). Same answer as ``csv.reader`` for such files, which holds for
    files written by the kit and by spreadsheets when no cell needs quoting; about 50x faster on
    15 million lines. UTF-8 never uses the bytes of ``,``, ``\\n`` or ``\\r`` inside a multi-byte character."""
    b = _plain(raw)
    if b is None:
        return None
    nl = np.flatnonzero(b == 10)
    starts = np.r_[0, nl + 1]
    ends = np.r_[nl, len(b)]
    if starts[-1] == len(b):  # the file ends with a newline: no last line after it
        starts, ends = starts[:-1], ends[:-1]
    if (ends - starts).max(initial=0) > _FAST_LINE:
        return None
    fields = np.empty(len(starts), dtype=np.int64)
    step = max(1, len(starts) // max(1, len(b) // 2**26))  # blocks of about 64 MB: memory stays bounded
    for i in range(0, len(starts), step):  # separators before each line end minus before its start
        j = min(i + step, len(starts))
        lo, hi = starts[i], ends[j - 1]
        commas = np.flatnonzero(b[lo:hi] == 44)  # positions in the block, sorted
        fields[i:j] = (np.searchsorted(commas, ends[i:j] - lo) - np.searchsorted(commas, starts[i:j] - lo)) + 1
    length = ends - starts - ((ends > starts) & (b[np.maximum(ends - 1, 0)] == 13))
    bad = np.flatnonzero((length > 0) & (fields != width))
    bad = bad[bad > 0]  # the header is line 1
    return [(int(i) + 1, int(fields[i])) for i in bad]


def _read_csv_text(text: str, raw: bytes, width: int) -> pd.DataFrame | None:
    """A large plain CSV file (see :func:`_plain`) read by pyarrow's parser, all columns as text: the table
    pandas' parser returns (``dtype=str``, only empty cells missing), in half the time and without Python
    string objects. ``None`` (pandas' parser then) for small or quoted files and whatever pyarrow refuses."""
    if raw.count(b"\n") < _ARROW_ROWS or _plain(raw) is None:
        return None
    try:
        df = pd.read_csv(io.BytesIO(text.encode("utf-8")), dtype=str, keep_default_na=False, na_values=[""],
                         skip_blank_lines=True, engine="pyarrow")
    except Exception:  # noqa: BLE001 - pyarrow raises several types; pandas' parser gives the message
        return None
    return df if df.shape[1] == width else None


def _read_parquet(path: Path, table: str, col: _Collector) -> pd.DataFrame | None:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        col.add(table, f"unreadable Parquet file: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        return None


def read_tables(path: str | Path, col: _Collector | None = None) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Read the tables of a dataset (directory of CSV/Parquet, or an Excel workbook) without checks.

    Returns the tables by name and the file each came from. Problems (unreadable files, a table given
    twice) go to the collector; the caller decides what is missing.

    Examples
    --------
    >>> import tempfile
    >>> from trialkit.simulate import write_simulation
    >>> out = Path(tempfile.mkdtemp()) / "ds"
    >>> _ = write_simulation(out, seed=1)
    >>> tables, files = read_tables(out)
    >>> sorted(tables)
    ['adverse_events', 'events', 'infusions', 'labs', 'subjects', 'symptoms']
    >>> Path(files["labs"]).name
    'labs.csv'
    >>> tables["subjects"].iloc[0, :5].tolist()  # CSV cells as text: not yet coerced
    ['S001', 'pe', '2012-11-12', '42.0', 'M']
    """
    p = Path(path)
    files: dict[str, str] = {}
    col = col if col is not None else _Collector(files)
    tables: dict[str, pd.DataFrame] = {}
    if p.is_file() and p.suffix.lower() in EXCEL_SUFFIXES:
        try:
            sheets = pd.read_excel(p, sheet_name=None, dtype=object, keep_default_na=False, na_values=[""])
        except Exception as exc:
            col.files["dataset"] = str(p)
            col.add("dataset", f"unreadable Excel workbook: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            return tables, files
        for sheet, df in sheets.items():
            key = str(sheet).strip().lower()
            if key in TABLES:
                files[key] = col.files[key] = f"{p}[{sheet}]"
                tables[key] = df.dropna(how="all")
        return tables, files
    if p.is_file():
        col.files["dataset"] = str(p)
        col.add("dataset", "expected a directory of CSV/Parquet tables or an Excel workbook (.xlsx)")
        return tables, files
    if p.is_dir() and not any((p / f"{t}{ext}").is_file() for t in TABLES for ext in (".csv", ".parquet", ".pq")):
        books = sorted(f for f in p.iterdir() if f.suffix.lower() in EXCEL_SUFFIXES and not f.name.startswith("~$"))
        if len(books) == 1:  # a dataset folder holding one workbook (as `simulate --format xlsx` writes it)
            return read_tables(books[0], col)
        if len(books) > 1:
            col.files["dataset"] = str(p)
            col.add("dataset", f"the folder holds no CSV/Parquet tables but {len(books)} workbooks "
                               f"({', '.join(b.name for b in books)}); give the workbook to use")
            return tables, files
    for table in TABLES:
        found = [f for f in (p / f"{table}.csv", p / f"{table}.parquet", p / f"{table}.pq") if f.is_file()]
        if len(found) > 1:
            col.files[table] = str(found[0])
            col.add(table, f"table given twice: {', '.join(f.name for f in found)} (keep one)")
            continue
        if not found:
            continue
        f = found[0]
        files[table] = col.files[table] = str(f)
        df = _read_csv(f, table, col) if f.suffix == ".csv" else _read_parquet(f, table, col)
        if df is not None:
            tables[table] = df
    return tables, files


# ---------------------------------------------------------------------------------------------
# Coercion: every column to its contract type, reporting what does not parse
# ---------------------------------------------------------------------------------------------
#: Spellings of "missing" accepted in number, date and boolean columns (R writes NA, SAS writes ".").
#: Text columns keep them literally: NA is the sodium parameter.
MISSING_TOKENS = ("NA", "N/A", "NaN", "nan", "NULL", "null", ".")
_TRUE = {"true", "t", "yes", "y", "1", "1.0"}
_FALSE = {"false", "f", "no", "n", "0", "0.0"}


def _text(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))  # ids read from Excel/Parquet as floats: 101.0 -> "101"
    return str(v).strip() or None


_STR = "str" if pd.__version__ >= "3" else object


def _as_str(s: pd.Series) -> pd.Series:
    """Text of every cell (stripped; empty -> missing), converting each distinct value once."""
    if pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s):
        out = s.str.strip()
        return out.mask(out == "")
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    table = np.array([_text(u) for u in uniques] + [None], dtype=object)
    return pd.Series(table[codes], index=s.index, dtype=_STR)


def _as_value_text(s: pd.Series) -> pd.Series:
    text = _as_str(s)
    return text.mask(text.isin(MISSING_TOKENS))


#: Plain decimal numbers, which every parser reads as the same (nearest) double.
_DECIMAL = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?$"


def _to_float(text: pd.Series) -> pd.Series:
    """``pd.to_numeric(text, errors="coerce")`` as float64. A pyarrow-backed text column whose cells are
    all plain decimal numbers (:data:`_DECIMAL`) is cast by pyarrow (7x faster on 15 million cells; same
    doubles, both parsers round correctly); anything else goes through ``pd.to_numeric``."""
    arr = getattr(text.array, "_pa_array", None)
    if arr is not None and len(text) >= _ARROW_ROWS:
        import pyarrow as pa
        import pyarrow.compute as pc

        ok = pc.match_substring_regex(arr, _DECIMAL)
        if pc.all(pc.or_kleene(ok, pc.is_null(arr))).as_py():
            try:
                out = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
            except pa.ArrowInvalid:  # pragma: no cover - e.g. an exponent beyond the double range
                out = None
            if out is not None:
                return pd.Series(out, index=text.index, name=text.name, dtype="float64")
    return pd.to_numeric(text, errors="coerce").astype("float64")


def _coerce(df: pd.DataFrame, table: str, study: Study, col: _Collector) -> pd.DataFrame:
    out = df.copy()
    out.columns = [str(c).strip() for c in out.columns]
    present = set(out.columns)
    for spec in columns_for(table, study):
        if spec.name not in present:
            if spec.required:
                col.add(table, "required column is missing", column=spec.name)
            continue
        s = out[spec.name]
        if spec.kind == "str":
            new = _as_str(s)
            bad = pd.Series(False, index=s.index)
        elif spec.kind in ("int", "float"):
            if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                new = s.astype("float64")
            else:
                text = _as_value_text(s)
                new = _to_float(text)
                bad = text.notna() & new.isna()
                if bad.any():
                    col.add_rows(table, spec.name, "expected a number", s.index[bad], text[bad])
            bad = new.notna() & ~np.isfinite(new)
            if bad.any():
                col.add_rows(table, spec.name, "expected a finite number", s.index[bad], new[bad])
                new = new.mask(bad)
            if spec.kind == "int":
                frac = new.notna() & (new != np.floor(new))
                if frac.any():
                    col.add_rows(table, spec.name, "expected a whole number", s.index[frac], new[frac])
                    new = new.mask(frac)
                huge = new.notna() & (new.abs() > MAX_EXACT_INT)
                if huge.any():  # beyond 2**53 a float is no exact whole number (1e20 would not even fit int64)
                    col.add_rows(table, spec.name, f"expected a whole number between -{MAX_EXACT_INT} and "
                                 f"{MAX_EXACT_INT}", s.index[huge], new[huge])
                    new = new.mask(huge)
                new = new.round().astype("Int64")
                if not new.isna().any():
                    new = new.astype("int64")
        elif spec.kind == "date":
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                col.add(table, f"expected dates without a time zone (the column holds times in {s.dtype.tz}); "
                               "write plain dates YYYY-MM-DD", column=spec.name)
                new = s.dt.tz_localize(None).astype("datetime64[ns]")
            elif pd.api.types.is_datetime64_any_dtype(s):
                new = pd.to_datetime(s).astype("datetime64[ns]")
            else:
                text = s.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
                text = _as_value_text(text)
                zoned = text.str.contains(r"T.*(?:[+-]\d\d:?\d\d|Z)$|[+-]\d\d:\d\d$", regex=True, na=False)
                if zoned.any():
                    col.add_rows(table, spec.name, "expected a date YYYY-MM-DD without a time zone",
                                 s.index[zoned], text[zoned])
                    text = text.mask(zoned)
                new = pd.to_datetime(text, errors="coerce", format="ISO8601").astype("datetime64[ns]")
                bad = text.notna() & new.isna()
                if bad.any():
                    col.add_rows(table, spec.name, "expected a date YYYY-MM-DD", s.index[bad], text[bad])
            new = new.dt.normalize()
        elif spec.kind == "bool":
            if pd.api.types.is_bool_dtype(s):
                new = s.astype("boolean")
            else:
                text = _as_value_text(s).str.lower()
                new = pd.Series(pd.NA, index=s.index, dtype="boolean")
                new[text.isin(_TRUE)] = True
                new[text.isin(_FALSE)] = False
                bad = text.notna() & new.isna()
                if bad.any():
                    col.add_rows(table, spec.name, "expected true/false (or yes/no, 1/0)",
                                 s.index[bad], s[bad])
        else:  # pragma: no cover - contract typo
            raise AssertionError(spec.kind)
        if spec.nonempty:
            if spec.kind == "str":
                empty = new.isna()
            elif pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
                empty = _as_value_text(s).isna()
            else:
                empty = s.isna()
            if empty.any():
                col.add_rows(table, spec.name, "required value is empty", s.index[empty])
        out[spec.name] = new
    if table == "subjects":
        known = {spec.name for spec in columns_for(table, study)}
        for name in out.columns:
            if name not in known:
                out[name] = infer_column(out[name])
    return out


def infer_column(s: pd.Series) -> pd.Series:
    """A trial's own ``subjects`` column (one the format does not define) read from text (CSV, Excel)
    gets the type its values show, as Parquet would keep it: ``true``/``false`` -> boolean, all numbers ->
    integers (whole) or floats, anything else (and zero-padded codes such as ``007``) stays text. Missing cells stay missing.

    Examples
    --------
    >>> infer_column(pd.Series(["3", "", "12"])).tolist(), infer_column(pd.Series(["3", "1.5"])).dtype
    ([3, <NA>, 12], dtype('float64'))
    >>> infer_column(pd.Series(["True", "false"])).tolist(), infer_column(pd.Series(["II", "3"])).tolist()
    ([True, False], ['II', '3'])
    >>> infer_column(pd.Series(["007", "012"])).tolist()  # zero-padded codes stay labels
    ['007', '012']
    """
    if not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
        return s
    text = _as_value_text(s)
    given = text.notna()
    if not given.any():
        return s
    lower = text[given].str.lower()
    if lower.isin(("true", "false")).all():
        out = pd.Series(pd.NA, index=s.index, dtype="boolean")
        out[given] = lower.eq("true").to_numpy()
        return out
    if text[given].str.match(r"^[+-]?0[0-9]").any():  # zero-padded codes ("007") are labels, not numbers
        return s
    num = pd.to_numeric(text, errors="coerce")
    if num[given].isna().any() or not np.isfinite(num[given]).all():
        return s
    if (num[given] == np.floor(num[given])).all() and (num[given].abs() <= MAX_EXACT_INT).all():
        whole = num.round().astype("Int64")
        return whole.astype("int64") if not whole.isna().any() else whole
    return num.astype("float64")


def _run_schema(df: pd.DataFrame, table: str, study: Study, col: _Collector) -> None:
    schema = pandera_schema(table, study, set(df.columns))
    try:
        schema.validate(df, lazy=True, inplace=True)  # df is _coerce's own copy: no second copy
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases
        fc = fc[fc["index"].notna()]
        for (column, check), grp in fc.groupby(["column", "check"], sort=False):
            idx = grp["index"].astype("int64")
            col.add_rows(table, column, str(check), idx, grp["failure_case"])


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def _resolve_study(path: Path, study) -> Study:
    if isinstance(study, Study):
        return study
    if study is not None:
        return load_study(study)
    own = (path if path.is_dir() else path.parent) / "study.yaml"
    return load_study(own if own.is_file() else default_study_path())


def _apply_value_decisions(labs: pd.DataFrame, study: Study, col: _Collector) -> pd.DataFrame:
    """Drop the lab rows the study file's ``values`` entries exclude (each listed as a warning, so the
    report says what was excluded); mark accepted rows in ``labs.attrs["accepted"]`` (row labels)."""
    decisions = getattr(study, "value_decisions", ())
    if not decisions or not {"subject_id", "parameter", "day"} <= set(labs.columns):
        return labs
    key = (labs["subject_id"].astype(str) + "\x1f" + labs["parameter"].astype(str) + "\x1f"
           + pd.to_numeric(labs["day"], errors="coerce").astype("Int64").astype(str))
    drop: list[Any] = []
    accepted: list[Any] = []
    for d in decisions:
        hit = labs.index[key == f"{d['subject_id']}\x1f{d['parameter']}\x1f{int(d['day'])}"]
        if len(hit) == 0:
            col.warn(f"study file `values`: no lab row for subject {d['subject_id']}, {d['parameter']}, day {d['day']} "
                     f"({d['action']} has no effect)")
            continue
        for r in hit:
            text = (f"labs row {_rownum(r)}: {d['parameter']} = {labs.at[r, 'value']} (subject {d['subject_id']}, day "
                    f"{d['day']}) {'excluded' if d['action'] == 'exclude' else 'accepted'} by the study file"
                    + (f": {d['reason']}" if d["reason"] else ""))
            col.warn(text)
            (drop if d["action"] == "exclude" else accepted).append(r)
    out = labs.drop(index=drop)
    out.attrs["accepted"] = set(accepted)
    return out


def _validate_tables(tables: dict[str, pd.DataFrame], study: Study, col: _Collector) -> dict[str, pd.DataFrame]:
    coerced: dict[str, pd.DataFrame] = {}
    for table in REQUIRED_TABLES:
        if table not in tables and table not in col.files:
            col.add(table, f"required table '{table}' is missing (expected {table}.csv, {table}.parquet "
                           f"or a sheet named {table})")
    for table, df in tables.items():
        df = df.reset_index(drop=True)
        if table in REQUIRED_TABLES and len(df) == 0:
            col.add(table, "table has no rows")
        c = _coerce(df, table, study, col)
        if table == "labs":
            c = _apply_value_decisions(c, study, col)
        _run_schema(c, table, study, col)
        coerced[table] = c
    checks.run_all(coerced, study, col)
    if "labs" in coerced:  # the accepted rows matter only to the checks; a set in attrs breaks to_parquet
        coerced["labs"].attrs.pop("accepted", None)
    subjects = coerced.get("subjects")
    if subjects is not None and "subject_id" in subjects.columns:
        note = ambiguity_note(subjects["subject_id"].dropna())
        if note:
            col.warn(note)
    return coerced


def _finish(coerced: dict[str, pd.DataFrame], study: Study, source: str, col: _Collector, **extra) -> Trial:
    tables = {}
    if coerced.get("labs") is None:  # labs are optional: a study without labs gets an empty, typed table
        coerced["labs"] = _coerce(pd.DataFrame(columns=[c.name for c in columns_for("labs", study)]), "labs", study, col)
    for table in TABLES:
        df = coerced.get(table)
        if df is not None:
            df = checks.sort_table(table, df)
        tables[table] = df
    return Trial(study=study, source=source, warnings=tuple(col.warnings), **tables, **extra)


def validate(path: str | Path, study: Study | str | Path | None = None, *, limit: int | None = MAX_PER_RULE) -> Report:
    """Validate a dataset on disk and report every problem.

    Parameters
    ----------
    path : str or Path
        A directory of ``<table>.csv`` / ``<table>.parquet`` files, or an Excel workbook.
    study : Study, str or Path, optional
        The study file. Default: ``study.yaml`` inside the dataset directory if present, else
        ``params/study.yaml``.
    limit : int or None
        Rows listed per rule before the rest are summarised; ``None`` lists all.

    Returns
    -------
    Report
        ``report.ok``, ``report.problems`` (list of :class:`Problem`), ``report.trial`` when ok.

    Examples
    --------
    A simulated dataset with three defects: a sex written ``male``, a lab value that is not a
    number, and no ``events`` table.

    >>> import tempfile
    >>> from trialkit.simulate import write_simulation
    >>> out = Path(tempfile.mkdtemp()) / "ds"
    >>> _ = write_simulation(out, seed=1)
    >>> validate(out).ok
    True
    >>> subjects = pd.read_csv(out / "subjects.csv", dtype=str, keep_default_na=False)
    >>> subjects.loc[1, "sex"] = "male"
    >>> subjects.to_csv(out / "subjects.csv", index=False)
    >>> labs = pd.read_csv(out / "labs.csv", dtype=str, keep_default_na=False)  # NA is sodium, not missing
    >>> labs.loc[0, "value"] = "n/a?"
    >>> labs.to_csv(out / "labs.csv", index=False)
    >>> (out / "events.csv").unlink()
    >>> report = validate(out)
    >>> report.ok, len(report.problems), report.trial is None
    (False, 3, True)
    >>> for p in report.problems:
    ...     print(p.table, p.row, p.column, repr(p.value), "->", p.message)
    subjects 3 sex 'male' -> expected sex: one of M, F
    labs 2 value 'n/a?' -> expected a number
    events None None None -> required table 'events' is missing (expected events.csv, events.parquet or ...)
    >>> print(str(report.problems[0]).replace(str(out), "<ds>"))  # row 3 = line 3 of the CSV file
    <ds>/subjects.csv, row 3, column 'sex': value 'male': expected sex: one of M, F
    """
    p = Path(path)
    col = _Collector({}, limit)
    if not p.exists():
        col.files["dataset"] = str(p)
        col.add("dataset", "dataset not found")
        return Report(str(p), col.problems)
    try:
        st = _resolve_study(p, study)
    except StudyFileError as exc:
        return Report(str(p), [Problem(None, str(exc))])
    tables, files = read_tables(p, col)
    coerced = _validate_tables(tables, st, col)
    order = {t: i for i, t in enumerate(("dataset",) + TABLES)}
    problems = sorted(col.problems, key=lambda q: (order.get(q.table or "", 99),
                                                   float("inf") if q.count > 1 else (q.row or 0)))
    report = Report(str(p), problems, warnings=col.warnings)
    if report.ok:
        report.trial = _finish(coerced, st, str(p), col)
    return report


def load(path: str | Path, study: Study | str | Path | None = None) -> Trial:
    """Load and validate a dataset; the one entry point every notebook uses.

    Parameters
    ----------
    path : str or Path
        Dataset directory (CSV/Parquet) or Excel workbook; see ``docs/data-format.md``.
    study : Study, str or Path, optional
        Study file (default: the dataset's own ``study.yaml``, else ``params/study.yaml``).

    Returns
    -------
    Trial
        With ``truth`` read from the folder's ``truth.json`` when there is one (datasets written by
        the simulator); the per-subject latent variables are never written, so ``latent`` is None.

    Raises
    ------
    ValidationError
        Listing every problem found (``exc.problems``).

    Examples
    --------
    >>> import tempfile
    >>> from trialkit.simulate import write_simulation
    >>> out = Path(tempfile.mkdtemp()) / "ds"
    >>> _ = write_simulation(out, seed=1)
    >>> trial = load(out)  # with the dataset's own study.yaml
    >>> trial.study.id, trial.arm_sizes().tolist(), len(trial.labs)
    ('NCT01724398', [30, 30, 30, 30], 17637)
    >>> "hazard_ratios" in trial.truth  # a simulated dataset's truth.json comes along
    True
    >>> trial.subjects[["subject_id", "arm", "randomization_date", "age"]].head(2)
      subject_id     arm randomization_date   age
    0       S001      pe         2012-11-12  42.0
    1       S002  pe_msc         2012-11-22  54.0

    A folder without the required tables:

    >>> try:
    ...     load(tempfile.mkdtemp())
    ... except ValidationError as exc:
    ...     print(len(exc.problems), exc.problems[0].message)
    2 required table 'subjects' is missing (expected subjects.csv, subjects.parquet or a sheet named subjects)
    """
    if os.environ.get(HANDOFF_ENV):  # a report kernel: the driver validated this dataset once already
        handed = read_validated(os.environ[HANDOFF_ENV], study, dataset=path)
        if handed is not None:
            return handed
    report = validate(path, study)
    if not report.ok:
        raise ValidationError(report.problems, source=report.source)
    assert report.trial is not None  # a valid report holds its trial
    truth = _read_truth(Path(path))
    if truth is not None:
        from dataclasses import replace

        return replace(report.trial, truth=truth)
    return report.trial


def _read_truth(path: Path) -> dict | None:
    """A simulated dataset's ``truth.json`` (the simulator's true effects), if the folder has one."""
    f = path / "truth.json"
    if not (path.is_dir() and f.is_file()):
        return None
    import json

    try:
        truth = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValidationError([Problem(None, f"not readable JSON ({exc})", file=str(f))],
                              source=str(path)) from None
    return truth if isinstance(truth, dict) else None


def build_trial(tables: dict[str, pd.DataFrame], study: Study, source: str = "memory", *,
                truth: dict | None = None, latent: pd.DataFrame | None = None) -> Trial:
    """Coerce and validate in-memory tables into a Trial (the simulator's path to a Trial).

    Raises
    ------
    ValidationError
        Listing every problem found.

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> tables = trial.tables()
    >>> build_trial(tables, trial.study).arm_sizes().tolist()
    [30, 30, 30, 30]
    >>> subjects = tables["subjects"].copy()
    >>> subjects.loc[0, "arm"] = "placebo"
    >>> build_trial({**tables, "subjects": subjects}, trial.study)
    Traceback (most recent call last):
    ...
    trialkit.errors.ValidationError: memory: 1 problem found:
    subjects, row 2, column 'arm': value 'placebo': expected an arm of the study file: one of control, msc, pe, pe_msc
    """
    col = _Collector({t: t for t in tables})
    coerced = _validate_tables({k: v for k, v in tables.items() if v is not None}, study, col)
    if col.problems:
        raise ValidationError(col.problems, source=source)
    return _finish(coerced, study, source, col, truth=truth, latent=latent)
