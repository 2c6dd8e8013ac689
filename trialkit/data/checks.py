"""Cross-row and cross-table rules of the data contract (the per-column rules are in schema.py).

Each rule is a small vectorized function ``rule(tables, study, col)`` that reports through the
collector of :mod:`trialkit.data.load`; :func:`run_all` runs them all, skipping a rule whose columns
are missing or unparsable (that was reported already).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.data.schema import GRADE_PARAMETERS, PARAMETER_LIMITS
from trialkit.study import Study, normalize_unit

if TYPE_CHECKING:
    from trialkit.data.load import _Collector

__all__ = ["run_all", "sort_table", "UNIT_CONVERSIONS", "PLAUSIBLE"]

#: Alternative units with the factor from them to the SI unit: SI = other × factor (§4.0 of the
#: clinical reference: bilirubin 17.1, creatinine 88.4, albumin 10).
UNIT_CONVERSIONS: dict[str, dict[str, tuple[str, float]]] = {
    "TBIL": {"umol/l": ("mg/dl", 17.1), "mg/dl": ("umol/l", 1 / 17.1)},
    "CREAT": {"umol/l": ("mg/dl", 88.4), "mg/dl": ("umol/l", 1 / 88.4)},
    "ALB": {"g/l": ("g/dl", 10.0), "g/dl": ("g/l", 0.1)},
}

#: Values a living patient can have, per (parameter, unit) — outside this but inside it after the
#: usual conversion means a likely unit mix-up. Deliberately wide.
PLAUSIBLE: dict[tuple[str, str], tuple[float, float]] = {
    ("TBIL", "umol/l"): (2.0, 1500.0),
    ("TBIL", "mg/dl"): (0.1, 90.0),
    ("CREAT", "umol/l"): (15.0, 2500.0),
    ("CREAT", "mg/dl"): (0.15, 28.0),
    ("ALB", "g/l"): (8.0, 70.0),
    ("ALB", "g/dl"): (0.8, 7.0),
}

_SORT_KEYS = {
    "subjects": ["subject_id"],
    "labs": ["subject_id", "day", "parameter"],
    "events": ["subject_id", "day", "event"],
    "infusions": ["subject_id", "infusion", "hours_after"],
    "adverse_events": ["subject_id", "day", "term"],
    "symptoms": ["subject_id", "day", "symptom"],
}


def sort_table(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """The table in its canonical row order (stable), index reset; no copy work if already sorted.

    Examples
    --------
    >>> labs = pd.DataFrame({"subject_id": ["S002", "S001", "S001"], "day": [0, 7, 0],
    ...                      "parameter": ["TBIL", "INR", "TBIL"], "value": [172.8, 1.6, 277.5]})
    >>> sort_table("labs", labs)  # by subject_id, day, parameter
      subject_id  day parameter  value
    0       S001    0      TBIL  277.5
    1       S001    7       INR    1.6
    2       S002    0      TBIL  172.8
    """
    keys = [k for k in _SORT_KEYS[table] if k in df.columns]
    if not keys or len(df) < 2:
        return df.reset_index(drop=True)
    key = _combined_key([df[k] for k in keys], sort=True)
    if key is None:
        return df.sort_values(keys, kind="stable").reset_index(drop=True)
    if (np.diff(key) >= 0).all():
        return df.reset_index(drop=True)
    return df.take(np.argsort(key, kind="stable")).reset_index(drop=True)


class _Codes:
    """Integer codes of string columns, computed once per validation and shared by the rules.

    Hashing millions of strings is the expensive part of validating a large dataset; every rule
    that matches subjects or parameters works on these integer codes instead.
    """

    def __init__(self, tables):
        self.tables = tables
        self._cache = {}
        subjects = tables.get("subjects")
        ids = subjects["subject_id"] if subjects is not None and "subject_id" in subjects else pd.Series([], dtype=object)
        self.subject_index = pd.Index(ids.dropna().unique())

    def subject(self, table: str) -> np.ndarray:
        """Position of each row's subject in ``subjects`` (-1: unknown or empty)."""
        key = (table, "subject")
        if key not in self._cache:
            self._cache[key] = self.subject_index.get_indexer(self.tables[table]["subject_id"])
        return self._cache[key]

    def factorize(self, table: str, column: str):
        key = (table, column)
        if key not in self._cache:
            self._cache[key] = pd.factorize(self.tables[table][column])
        return self._cache[key]

    def per_subject(self, table: str, values: pd.Series) -> np.ndarray:
        """``values`` (indexed by subject_id) looked up for every row of ``table`` (NaN if none)."""
        table_values = np.full(len(self.subject_index) + 1, np.nan)
        pos = self.subject_index.get_indexer(values.index)
        table_values[pos[pos >= 0]] = values.to_numpy(dtype=float)[pos >= 0]
        return table_values[self.subject(table)]  # code -1 picks the trailing NaN


def _combined_key(columns: list, sort: bool = False) -> np.ndarray | None:
    """One int64 per row encoding the tuple of ``columns`` (None if it would overflow).

    With ``sort=True`` the codes follow the sorted order of each column, so ordering rows by the key
    orders them by the columns (missing values last).
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for c in columns:
        codes, uniques = pd.factorize(c, sort=sort, use_na_sentinel=True)
        n = len(uniques) + 1
        codes = np.where(codes < 0, n - 1, codes).astype(np.int64)
        span *= n
        if span >= 2**62:
            return None
        key = key * n + codes
    return key


def _has(tables, table, *cols) -> bool:
    df = tables.get(table)
    return df is not None and all(c in df.columns for c in cols)


# ---------------------------------------------------------------------------------------------
def _duplicates(tables, study, col, codes):
    keys = {
        "subjects": ["subject_id"],
        "labs": ["subject_id", "day", "parameter"],
        "symptoms": ["subject_id", "day", "symptom"],
        "infusions": ["subject_id", "infusion", "hours_after"],
    }
    for table, cols in keys.items():
        if not _has(tables, table, *cols):
            continue
        df = tables[table][cols]
        complete = df.notna().all(axis=1).to_numpy()
        packed = _combined_key([df[c] for c in cols], sort=True)
        key = (pd.DataFrame({0: packed}, index=df.index) if packed is not None
               else pd.DataFrame({i: pd.factorize(df[c])[0] for i, c in enumerate(cols)}, index=df.index))
        if packed is not None and bool((packed[1:] >= packed[:-1]).all()):
            # rows already in canonical order (every dataset the kit writes): duplicates are adjacent,
            # O(n) instead of a hash table over every row (cache-bound: ~50x slower per row at 15M rows)
            dup = np.r_[False, packed[1:] == packed[:-1]] & complete
        else:
            dup = key.duplicated(keep="first").to_numpy() & complete
        if not dup.any():
            continue
        dupkeys = key[dup].drop_duplicates()
        first_of = key[complete].reset_index().merge(dupkeys, on=list(key.columns)).groupby(
            list(key.columns), sort=False)["index"].min()
        what = "subject_id" if table == "subjects" else "(" + ", ".join(cols) + ")"
        dup_rows = key[dup].reset_index().merge(first_of.rename("first").reset_index(), on=list(key.columns))
        for first, grp in dup_rows.groupby("first", sort=True):
            shown = ", ".join(str(v) for v in df.loc[first])
            col.add_rows(table, cols[0] if len(cols) == 1 else None,
                         f"duplicated {what} = ({shown}), first at row {int(first) + 2}", grp["index"].tolist())
            if col.limit is not None and len(col.problems) > 10 * col.limit:
                break


def _unknown_subjects(tables, study, col, codes):
    if not _has(tables, "subjects", "subject_id"):
        return
    for table, df in tables.items():
        if table == "subjects" or "subject_id" not in df.columns:
            continue
        bad = df["subject_id"].notna().to_numpy() & (codes.subject(table) < 0)
        if bad.any():
            col.add_rows(table, "subject_id", "subject is not in subjects (never randomized)",
                         df.index[bad], df.loc[bad, "subject_id"])


def _days_before_randomization(tables, study, col, codes):
    lo = study.baseline_visit.window[0]
    for table, df in tables.items():
        if "day" not in df.columns or table == "events":
            continue
        floor = lo if table in ("labs", "symptoms") else 0
        bad = df["day"].notna() & (df["day"] < floor)
        if bad.any():
            allowed = f"the baseline window starts at day {lo}" if floor < 0 else "day 0 is randomization"
            col.add_rows(table, "day", f"day before randomization ({allowed})", df.index[bad], df.loc[bad, "day"])


def _subject_days(tables) -> tuple[pd.Series, pd.Series]:
    """Death day and last-contact day per subject (first occurrence)."""
    ev = tables["events"]
    ev = ev[ev["subject_id"].notna() & ev["day"].notna() & (ev["day"] >= 0)]  # bad days reported already
    death = ev[ev["event"] == "death"].groupby("subject_id")["day"].min()
    last = ev[ev["event"] == "last_contact"].groupby("subject_id")["day"].min()
    return death, last


def _events(tables, study, col, codes):
    if not _has(tables, "events", "subject_id", "event", "day"):
        return
    ev = tables["events"]
    for event in ("death", "transplant", "last_contact"):
        sub = ev[(ev["event"] == event) & ev["subject_id"].notna()]
        dup = sub.duplicated("subject_id", keep="first")
        if dup.any():
            col.add_rows("events", "event", f"more than one '{event}' event for this subject",
                         sub.index[dup], sub.loc[dup, "subject_id"])
    if _has(tables, "subjects", "subject_id"):
        subjects = tables["subjects"]
        have = set(ev.loc[ev["event"].isin(["last_contact", "death"]), "subject_id"].dropna())
        missing = subjects["subject_id"].notna() & ~subjects["subject_id"].isin(have)
        if missing.any():
            col.add_rows("subjects", "subject_id",
                         "no 'last_contact' (or 'death') event: the end of follow-up is unknown",
                         subjects.index[missing], subjects.loc[missing, "subject_id"])
    death, last = _subject_days(tables)
    both = pd.concat([death.rename("death"), last.rename("last")], axis=1).dropna()
    off = both[both["last"] != both["death"]]
    if len(off):
        rows = ev[(ev["event"] == "last_contact") & ev["subject_id"].isin(off.index)]
        col.add_rows("events", "day",
                     "last_contact must be the day of death for a subject who died",
                     rows.index, rows["day"])


def _after_death_or_last_contact(tables, study, col, codes):
    if not _has(tables, "events", "subject_id", "event", "day") or not _has(tables, "subjects", "subject_id"):
        return
    death, last = _subject_days(tables)
    for table, df in tables.items():
        if table == "subjects" or not {"subject_id", "day"} <= set(df.columns) or not len(df):
            continue
        day = df["day"].to_numpy(dtype=float, na_value=np.nan)
        d = codes.per_subject(table, death)
        with np.errstate(invalid="ignore"):
            bad_death = day > d  # NaN compares False
        if table == "events":
            bad_death &= (df["event"] != "last_contact").to_numpy()  # reported by _events
        if bad_death.any():
            col.add_rows(table, "day", "record after the subject's death", df.index[bad_death],
                         df.loc[bad_death, "day"])
        lc = codes.per_subject(table, last)
        with np.errstate(invalid="ignore"):
            bad_last = (day > lc) & ~bad_death
        if table == "events":
            bad_last &= (df["event"] != "death").to_numpy()
        if bad_last.any():
            col.add_rows(table, "day", "record after the subject's last_contact", df.index[bad_last],
                         df.loc[bad_last, "day"])


def _lab_units_and_values(tables, study, col, codes):
    if not _has(tables, "labs", "parameter", "value"):
        return
    labs = tables["labs"]
    pcodes, pnames = codes.factorize("labs", "parameter")
    value = labs["value"].to_numpy(dtype=float, na_value=np.nan)
    declared_norm = {p: normalize_unit(spec.unit) for p, spec in study.parameters.items()}
    has_unit = "unit" in labs.columns
    if has_unit:
        ucodes, unames = codes.factorize("labs", "unit")
        unorm = np.array([normalize_unit(u) for u in unames] + [normalize_unit(None)], dtype=object)
    for k, p in enumerate(pnames):
        if p not in study.parameters:
            continue  # unknown parameters were reported by the schema
        rows = np.flatnonzero(pcodes == k)
        spec = study.parameters[p]
        if has_unit:
            ok_unit = np.array([n == declared_norm[p] for n in unorm])
            bad_rows = rows[~ok_unit[ucodes[rows]]]
            if len(bad_rows):
                conv = UNIT_CONVERSIONS.get(p, {}).get(declared_norm[p])
                given = unorm[ucodes[bad_rows]]
                if conv is not None and (given == conv[0]).all():
                    msg = (f"unit contradicts the study file for {p} (declared {spec.unit}): likely unit "
                           f"mix-up; convert: {spec.unit} = {labs['unit'].iloc[bad_rows[0]]} × {conv[1]:g}")
                else:
                    msg = f"unit contradicts the study file for {p} (declared {spec.unit})"
                col.add_rows("labs", "unit", msg, labs.index[bad_rows], labs["unit"].iloc[bad_rows])
        v = value[rows]
        if spec.range is not None:
            lo, hi, lo_incl = spec.range[0], spec.range[1], True
        elif p in PARAMETER_LIMITS:
            lo, hi, lo_incl = PARAMETER_LIMITS[p]
        else:
            lo = hi = None
            lo_incl = True
        with np.errstate(invalid="ignore"):
            too_low = np.zeros(len(v), bool) if lo is None else ((v < lo) if lo_incl else (v <= lo))
            too_high = np.zeros(len(v), bool) if hi is None else (v > hi)
            negative = too_low & (v < 0) & (lo is not None and lo >= 0)
        bounds = " and ".join(b for b in (
            None if lo is None else f"{'>=' if lo_incl else '>'} {lo:g}",
            None if hi is None else f"<= {hi:g}") if b)
        for mask, msg in (
            (negative, f"impossible value for {p}: a concentration cannot be negative"),
            (too_low & ~negative, f"impossible value for {p}: expected {bounds} {spec.unit}"),
            (too_high, f"impossible value for {p}: expected {bounds} {spec.unit}"),
        ):
            if mask.any():
                col.add_rows("labs", "value", msg, labs.index[rows[mask]], v[mask])
        if p in GRADE_PARAMETERS:
            with np.errstate(invalid="ignore"):
                frac = ~np.isnan(v) & (v != np.floor(v))
            if frac.any():
                col.add_rows("labs", "value", f"{p} is a grade: expected a whole number",
                             labs.index[rows[frac]], v[frac])
    _unit_mixups(labs, study, col, codes)


_SHOW_UNIT = {"mg/dl": "mg/dL", "umol/l": "µmol/L", "g/dl": "g/dL", "g/l": "g/L"}


def _unit_mixups(labs, study, col, codes):
    """A likely unit mix-up: the values of a parameter, taken together, fit the other unit.

    The *distribution* decides (its median is implausible in the declared unit and ordinary in the
    other): then every such value is an error. A single implausible value in an otherwise ordinary
    distribution is a warning naming the row, which a study-file ``values`` entry accepts or
    excludes. The same rule applies to baseline values against ``baseline_expected``.
    """
    pcodes, pnames = codes.factorize("labs", "parameter")
    value = labs["value"].to_numpy(dtype=float, na_value=np.nan)
    accepted = labs.attrs.get("accepted", set())
    if "unit" in labs.columns:
        ucodes, unames = codes.factorize("labs", "unit")
        unorm = np.array([normalize_unit(u) for u in unames] + [normalize_unit(None)], dtype=object)
    for p, conv in UNIT_CONVERSIONS.items():
        if p not in study.parameters or p not in set(pnames):
            continue
        declared = normalize_unit(study.parameters[p].unit)
        if declared not in conv or (p, declared) not in PLAUSIBLE:
            continue
        other_key, factor = conv[declared]
        other = _SHOW_UNIT.get(other_key, other_key)
        rows = np.flatnonzero(pcodes == list(pnames).index(p))
        rows = rows[~np.isnan(value[rows])]
        if "unit" in labs.columns:
            rows = rows[unorm[ucodes[rows]] == declared]  # rows in a wrong unit were reported already
        v = value[rows]
        lo, hi = PLAUSIBLE[(p, declared)]
        olo, ohi = PLAUSIBLE[(p, other_key)]

        def fits_other(x, lo=lo, hi=hi, olo=olo, ohi=ohi):  # bound now: defined inside the loop
            return ((x < lo) | (x > hi)) & (x >= olo) & (x <= ohi) & (x > 0)

        odd = fits_other(v)
        unit_label = study.parameters[p].unit
        mixup = len(v) > 0 and bool(fits_other(np.array([np.median(v)]))[0])
        if odd.any() and mixup:
            col.add_rows("labs", "value",
                         f"{p} values are implausible in {unit_label} but ordinary in {other} (median "
                         f"{np.median(v):g}): likely unit mix-up ({unit_label} = {other} × {factor:g})",
                         labs.index[rows[odd]], v[odd])
        elif odd.any():
            for r, x in zip(labs.index[rows[odd]], v[odd]):
                if r not in accepted:
                    col.warn(f"labs row {int(r) + 2}: {p} = {x:g} {unit_label} is implausible (ordinary in {other}); "
                             "the other values are ordinary, so it is kept: accept or exclude it in the study "
                             "file's `values`")
        exp = study.baseline_expected.get(p)
        if exp and "day" in labs.columns:
            w = study.baseline_visit.window
            day = labs["day"].to_numpy(dtype=float, na_value=np.nan)[rows]
            base = (day >= w[0]) & (day <= w[1]) & ~odd
            emin, emax = exp.get("min"), exp.get("max")
            low = np.zeros(len(v), bool)
            if emin is not None:
                low |= base & (v < emin) & (v * factor >= emin)
            if emax is not None:
                low |= base & (v > emax) & (v * factor <= emax)
            # a mix-up when most baseline values miss the criteria but would meet them in the other unit
            if low.any() and low.sum() > 0.5 * base.sum():
                col.add_rows("labs", "value",
                             f"baseline {p} is outside what the inclusion criteria allow "
                             f"(baseline_expected {exp}) but would meet them as {other}: likely unit mix-up "
                             f"({unit_label} = {other} × {factor:g})",
                             labs.index[rows[low]], v[low])
            elif low.any():
                for r, x in zip(labs.index[rows[low]], v[low]):
                    if r not in accepted:
                        col.warn(f"labs row {int(r) + 2}: baseline {p} = {x:g} {unit_label} is outside "
                                 f"baseline_expected {exp}; kept: accept or exclude it in the study file's `values`")


def _visits_match_days(tables, study, col, codes):
    windows = {v.id: v.window for v in study.visits}
    for table in ("labs", "symptoms"):
        if not _has(tables, table, "visit", "day"):
            continue
        df = tables[table]
        vcodes, uniques = codes.factorize(table, "visit")
        bounds = np.array([windows.get(v, (np.nan, np.nan)) for v in uniques] + [(np.nan, np.nan)], dtype=float)
        lo = pd.Series(bounds[vcodes, 0], index=df.index)
        hi = pd.Series(bounds[vcodes, 1], index=df.index)
        out = df["visit"].notna() & lo.notna() & ((df["day"] < lo) | (df["day"] > hi))
        if out.any():
            col.warn(f"{table}: {int(out.sum())} row(s) carry a visit whose window does not contain their day "
                     f"(first: row {int(df.index[out][0]) + 2}); they keep the visit as recorded")


def _infusions_arm(tables, study, col, codes):
    if not (_has(tables, "infusions", "subject_id") and _has(tables, "subjects", "subject_id", "arm")):
        return
    infused = {a.id for a in study.arms if any(a.factors.get(f) for f, spec in study.factors.items()
                                                   if spec.kind == "infusion")}
    arm = tables["infusions"]["subject_id"].map(tables["subjects"].drop_duplicates("subject_id")
                                                  .set_index("subject_id")["arm"])
    bad = arm.notna() & ~arm.isin(infused)
    if bad.any():
        col.add_rows("infusions", "subject_id",
                     "subject's arm receives no infusion-kind treatment (study file factors)",
                     arm.index[bad], tables["infusions"].loc[bad, "subject_id"])


RULES = (_duplicates, _unknown_subjects, _days_before_randomization, _events, _after_death_or_last_contact,
         _lab_units_and_values, _visits_match_days, _infusions_arm)


def run_all(tables: dict[str, pd.DataFrame], study: Study, col: _Collector) -> None:
    """Run every cross-table rule; each skips itself when the columns it needs are absent.

    Examples
    --------
    Coerced tables with a duplicated lab, a lab of an unknown subject, a lab after death and a
    bilirubin apparently recorded in mg/dL; ``col`` collects the problems (the loader's collector).

    >>> from trialkit.data.load import _Collector
    >>> from trialkit.study import load_study
    >>> tables = {
    ...     "subjects": pd.DataFrame({"subject_id": ["S001", "S002"], "arm": ["control", "msc"]}),
    ...     "events": pd.DataFrame({"subject_id": ["S001", "S002", "S002"],
    ...                             "event": ["last_contact", "death", "last_contact"], "day": [336, 40, 40]}),
    ...     "labs": pd.DataFrame({"subject_id": ["S001", "S001", "S002", "S003"], "day": [0, 0, 56, 0],
    ...                           "visit": ["D0", "D0", "W8", "D0"], "parameter": "TBIL",
    ...                           "value": [250.0, 250.0, 1.2, 180.0], "unit": "umol/L"}),
    ... }
    >>> col = _Collector({})
    >>> run_all(tables, load_study(), col)
    >>> for problem in col.problems:
    ...     print(problem)
    labs, row 3: duplicated (subject_id, day, parameter) = (S001, 0, TBIL), first at row 2
    labs, row 5, column 'subject_id': value 'S003': subject is not in subjects (never randomized)
    labs, row 4, column 'day': value 56: record after the subject's death
    >>> col.warnings  # one implausible bilirubin among ordinary ones: a warning, not a unit mix-up
    ["labs row 4: TBIL = 1.2 umol/L is implausible (ordinary in mg/dL); the other values are ordinary, so it is kept: accept or exclude it in the study file's `values`"]
    """
    codes = _Codes(tables)
    for rule in RULES:
        rule(tables, study, col, codes)
