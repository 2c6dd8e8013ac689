"""Cross-row and cross-table rules of the data contract (the per-column rules are in schema.py).

Each rule is a small vectorized function ``rule(tables, study, col)`` that reports through the
collector of :mod:`trialkit.data.load`; :func:`run_all` runs them all, skipping a rule whose columns
are missing or unparsable (that was reported already).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from trialkit.data.schema import GRADE_PARAMETERS, PARAMETER_LIMITS
from trialkit.study import Study, normalize_unit, normalize_units

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
    """The table in its canonical row order (stable), index reset."""
    keys = [k for k in _SORT_KEYS[table] if k in df.columns]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def _has(tables, table, *cols) -> bool:
    df = tables.get(table)
    return df is not None and all(c in df.columns for c in cols)


# ---------------------------------------------------------------------------------------------
def _duplicates(tables, study, col):
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
        complete = df.notna().all(axis=1)
        dup = df.duplicated(keep="first") & complete
        if not dup.any():
            continue
        # row number of the first occurrence of each duplicated key, for the message
        first_idx = df[complete].reset_index().groupby(cols, sort=False)["index"].transform("min")
        first_idx.index = df.index[complete]
        what = "subject_id" if table == "subjects" else "(" + ", ".join(cols) + ")"
        for first in pd.unique(first_idx[dup]):
            rows = df.index[dup & (first_idx.reindex(df.index) == first)]
            key = ", ".join(str(v) for v in df.loc[first])
            col.add_rows(table, cols[0] if len(cols) == 1 else None,
                         f"duplicated {what} = ({key}), first at row {int(first) + 2}", rows)
            if col.limit is not None and len(col.problems) > 10 * col.limit:
                break


def _unknown_subjects(tables, study, col):
    if not _has(tables, "subjects", "subject_id"):
        return
    known = pd.Index(tables["subjects"]["subject_id"].dropna().unique())
    for table, df in tables.items():
        if table == "subjects" or "subject_id" not in df.columns:
            continue
        bad = df["subject_id"].notna() & ~df["subject_id"].isin(known)
        if bad.any():
            col.add_rows(table, "subject_id", "subject is not in subjects (never randomized)",
                         df.index[bad], df.loc[bad, "subject_id"])


def _days_before_randomization(tables, study, col):
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


def _events(tables, study, col):
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


def _after_death_or_last_contact(tables, study, col):
    if not _has(tables, "events", "subject_id", "event", "day"):
        return
    death, last = _subject_days(tables)
    for table, df in tables.items():
        if table == "subjects" or not {"subject_id", "day"} <= set(df.columns):
            continue
        d = df["subject_id"].map(death)
        bad_death = df["day"].notna() & d.notna() & (df["day"] > d)
        if table == "events":
            bad_death &= df["event"] != "last_contact"  # reported by _events
        if bad_death.any():
            col.add_rows(table, "day", "record after the subject's death", df.index[bad_death],
                         df.loc[bad_death, "day"])
        lc = df["subject_id"].map(last)
        bad_last = df["day"].notna() & lc.notna() & (df["day"] > lc) & ~bad_death
        if table == "events":
            bad_last &= df["event"] != "death"
        if bad_last.any():
            col.add_rows(table, "day", "record after the subject's last_contact", df.index[bad_last],
                         df.loc[bad_last, "day"])


def _lab_units_and_values(tables, study, col):
    if not _has(tables, "labs", "parameter", "value"):
        return
    labs = tables["labs"]
    params = labs["parameter"]
    known = params.isin(list(study.parameters))
    declared_norm = {p: normalize_unit(spec.unit) for p, spec in study.parameters.items()}
    if "unit" in labs.columns:
        unit_norm = normalize_units(labs["unit"])
        expected = params.map(declared_norm)
        bad = known & (unit_norm != expected)
        for p in params[bad].unique():
            m = bad & (params == p)
            declared = study.parameters[p].unit
            conv = UNIT_CONVERSIONS.get(p, {}).get(declared_norm[p])
            given = unit_norm[m]
            if conv is not None and (given == conv[0]).all():
                msg = (f"unit contradicts the study file for {p} (declared {declared}): likely unit "
                       f"mix-up; convert: {declared} = {labs.loc[m, 'unit'].iloc[0]} × {conv[1]:g}")
            else:
                msg = f"unit contradicts the study file for {p} (declared {declared})"
            col.add_rows("labs", "unit", msg, labs.index[m], labs.loc[m, "unit"])
    value = labs["value"]
    for p in params[known].unique():
        m = (params == p) & value.notna()
        v = value[m]
        spec = study.parameters[p]
        if spec.range is not None:
            lo, hi, lo_incl = spec.range[0], spec.range[1], True
        elif p in PARAMETER_LIMITS:
            lo, hi, lo_incl = PARAMETER_LIMITS[p]
        else:
            lo = hi = None
            lo_incl = True
        too_low = pd.Series(False, index=v.index)
        if lo is not None:
            too_low = (v < lo) if lo_incl else (v <= lo)
        too_high = (v > hi) if hi is not None else pd.Series(False, index=v.index)
        bounds = " and ".join(b for b in (
            None if lo is None else f"{'>=' if lo_incl else '>'} {lo:g}",
            None if hi is None else f"<= {hi:g}") if b)
        negative = too_low & (v < 0) & (lo is not None) & (lo >= 0)
        for mask, msg in (
            (negative, f"impossible value for {p}: a concentration cannot be negative"),
            (too_low & ~negative, f"impossible value for {p}: expected {bounds} {spec.unit}"),
            (too_high, f"impossible value for {p}: expected {bounds} {spec.unit}"),
        ):
            if mask.any():
                col.add_rows("labs", "value", msg, v.index[mask], v[mask])
        if p in GRADE_PARAMETERS:
            frac = v != np.floor(v)
            if frac.any():
                col.add_rows("labs", "value", f"{p} is a grade: expected a whole number", v.index[frac], v[frac])
    _unit_mixups(labs, study, col)


_SHOW_UNIT = {"mg/dl": "mg/dL", "umol/l": "µmol/L", "g/dl": "g/dL", "g/l": "g/L"}


def _unit_mixups(labs, study, col):
    """Values in the declared unit that only make sense in the other one."""
    unit_norm = normalize_units(labs["unit"]) if "unit" in labs.columns else None
    for p, conv in UNIT_CONVERSIONS.items():
        if p not in study.parameters:
            continue
        declared = normalize_unit(study.parameters[p].unit)
        if declared not in conv or (p, declared) not in PLAUSIBLE:
            continue
        other_key, factor = conv[declared]
        other = _SHOW_UNIT.get(other_key, other_key)
        m = (labs["parameter"] == p) & labs["value"].notna()
        if unit_norm is not None:
            m &= unit_norm == declared  # rows in a wrong unit were reported already
        v = labs.loc[m, "value"]
        lo, hi = PLAUSIBLE[(p, declared)]
        olo, ohi = PLAUSIBLE[(p, other_key)]
        odd = ((v < lo) | (v > hi)) & (v >= olo) & (v <= ohi) & (v > 0)
        if odd.any():
            col.add_rows("labs", "value",
                         f"{p} is implausible in {study.parameters[p].unit} but ordinary in {other}: likely "
                         f"unit mix-up ({study.parameters[p].unit} = {other} × {factor:g})",
                         v.index[odd], v[odd])
        exp = study.baseline_expected.get(p)
        if exp and "day" in labs.columns:
            w = study.baseline_visit.window
            base = v[labs.loc[v.index, "day"].between(w[0], w[1]) & ~odd]
            emin, emax = exp.get("min"), exp.get("max")
            low = pd.Series(False, index=base.index)
            if emin is not None:
                low |= (base < emin) & (base * factor >= emin)
            if emax is not None:
                low |= (base > emax) & (base * factor <= emax)
            if low.any():
                col.add_rows("labs", "value",
                             f"baseline {p} is outside what the inclusion criteria allow "
                             f"(baseline_expected {exp}) but would meet them as {other}: likely unit mix-up "
                             f"({study.parameters[p].unit} = {other} × {factor:g})",
                             base.index[low], base[low])


def _visits_match_days(tables, study, col):
    windows = {v.id: v.window for v in study.visits}
    for table in ("labs", "symptoms"):
        if not _has(tables, table, "visit", "day"):
            continue
        df = tables[table]
        codes, uniques = pd.factorize(df["visit"])
        bounds = np.array([windows.get(v, (np.nan, np.nan)) for v in uniques] + [(np.nan, np.nan)], dtype=float)
        lo = pd.Series(bounds[codes, 0], index=df.index)
        hi = pd.Series(bounds[codes, 1], index=df.index)
        out = df["visit"].notna() & lo.notna() & ((df["day"] < lo) | (df["day"] > hi))
        if out.any():
            col.warn(f"{table}: {int(out.sum())} row(s) carry a visit whose window does not contain their day "
                     f"(first: row {int(df.index[out][0]) + 2}); they keep the visit as recorded")


def _infusions_arm(tables, study, col):
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


def run_all(tables: dict[str, pd.DataFrame], study: Study, col) -> None:
    """Run every cross-table rule; each skips itself when the columns it needs are absent."""
    for rule in RULES:
        rule(tables, study, col)
