"""Severity scores for every subject at every visit of a trial (units and visits handled here).

The formulas are :mod:`trialkit.scores`; this module turns a :class:`~trialkit.data.trial.Trial`'s
lab rows into their inputs: each row placed in a visit by the kit's one window rule
(:func:`trialkit.derive.visits.assign_visits`), values converted to SI from the units the study
file declares, age and sex from the subjects table.

Examples
--------
>>> import pandas as pd
>>> from trialkit.data.trial import Trial
>>> from trialkit.study import load_study
>>> labs = pd.DataFrame({"subject_id": "S1", "day": 0, "visit": "D0", "parameter": ["TBIL", "ALB"],
...                      "value": [100.0, 30.0], "unit": ""})
>>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["S1"], "sex": ["F"], "age": [50.0]}),
...           labs=labs, events=pd.DataFrame())
>>> add_scores(t)[["visit", "albi", "albi_grade"]].round(3)
  visit  albi  albi_grade
0    D0 -1.23         3.0
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from trialkit.derive.visits import assign_visits
from trialkit.scores import (
    ALBUMIN_G_L_PER_G_DL,
    BILIRUBIN_UMOL_PER_MG_DL,
    CREATININE_UMOL_PER_MG_DL,
    albi,
    child_pugh,
    clif_c_aclf,
    clif_c_of,
    cossh_aclf_ii,
    meld,
    meld_3,
    meld_na,
)
from trialkit.study import normalize_unit

if TYPE_CHECKING:
    from trialkit.data.trial import Trial

__all__ = ["add_scores", "convert_unit", "SCORE_COLUMNS", "SCORE_INPUTS", "SCORE_LABELS"]

_COUNT = {"10^9/l": 1.0, "10^3/ul": 1.0, "10^3/µl": 1.0, "10^3/μl": 1.0}
# parameter -> {normalized unit: factor to the SI unit the score functions take}
_TO_SI = {
    "TBIL": {"umol/l": 1.0, "mg/dl": BILIRUBIN_UMOL_PER_MG_DL},
    "CREAT": {"umol/l": 1.0, "mg/dl": CREATININE_UMOL_PER_MG_DL},
    "ALB": {"g/l": 1.0, "g/dl": ALBUMIN_G_L_PER_G_DL},
    "INR": {"ratio": 1.0},
    "NA": {"mmol/l": 1.0, "meq/l": 1.0},
    "UREA": {"mmol/l": 1.0},
    "WBC": _COUNT,
    "NEUT": _COUNT,
    "ASCITES": {"grade": 1.0},
    "HE": {"grade": 1.0},
}
# the score columns of add_scores, in order
SCORE_COLUMNS = ["meld", "meld_na", "meld_3", "child_pugh_points", "child_pugh_class", "albi",
                 "albi_grade", "clif_c_of", "aclf_grade", "clif_c_aclf", "cossh_aclf_ii"]
#: display names of the score columns of add_scores (axis labels, legends)
SCORE_LABELS = {"meld": "MELD", "meld_na": "MELD-Na", "meld_3": "MELD 3.0", "child_pugh_points": "Child-Pugh points",
                "child_pugh_class": "Child-Pugh class", "albi": "ALBI", "albi_grade": "ALBI grade",
                "clif_c_of": "CLIF-C OF", "aclf_grade": "ACLF grade", "clif_c_aclf": "CLIF-C ACLF",
                "cossh_aclf_ii": "COSSH-ACLF II"}
# the lab parameters each score column of add_scores needs (what it passes to the formula; age and sex
# come from subjects; CLIF-C's unrecorded organ data are not labs)
SCORE_INPUTS = {"meld": {"TBIL", "INR", "CREAT"}, "meld_na": {"TBIL", "INR", "CREAT", "NA"},
                "meld_3": {"TBIL", "INR", "CREAT", "NA", "ALB"},
                "child_pugh_points": {"TBIL", "ALB", "INR", "ASCITES", "HE"}, "albi": {"TBIL", "ALB"},
                "cossh_aclf_ii": {"INR", "HE", "NEUT", "TBIL", "UREA"}}


def convert_unit(value: float, parameter: str, from_unit: str, to_unit: str) -> float:
    """Convert a value of ``parameter`` between two units the score tables know (e.g. TBIL µmol/L ↔ mg/dL).

    Raises ``ValueError`` when either unit is not known for the parameter.

    Examples
    --------
    >>> convert_unit(17.1, "TBIL", "umol/L", "mg/dL"), convert_unit(1.0, "TBIL", "mg/dL", "µmol/L")
    (1.0, 17.1)
    >>> convert_unit(40.0, "ALT", "U/L", "IU/L")
    40.0
    """
    src, dst = normalize_unit(from_unit), normalize_unit(to_unit)
    if src == dst:
        return float(value)
    table = _TO_SI.get(parameter, {})
    if src not in table or dst not in table:
        raise ValueError(f"{parameter}: cannot convert {from_unit!r} to {to_unit!r}")
    return float(value) * table[src] / table[dst]


def _si_factors(study, labs):
    factors = {}
    for p, table in _TO_SI.items():
        if p not in study.parameters:
            if (labs["parameter"] == p).any():
                raise ValueError(f"labs contain parameter {p} but the study file does not declare it "
                                 "(so its unit is unknown)")
            continue
        unit = study.parameters[p].unit
        if normalize_unit(unit) not in table:
            raise ValueError(f"parameter {p}: add_scores cannot convert unit {unit!r} of the study "
                             f"file; expected one of {sorted(table)}")
        factors[p] = table[normalize_unit(unit)]
    return factors


def _by_subject_visit(lab: pd.DataFrame) -> pd.DataFrame:
    """``lab.pivot(index=["subject_id", "visit"], columns="parameter", values="value")``, columns
    ``_TO_SI``, index reset: the same table, built on integer codes (pivoting a (subject, visit)
    MultiIndex of 11 million rows costs a gigabyte at 100,000 subjects). Falls back to the pivot
    for a missing key or duplicated values (the pivot then says what is wrong)."""
    sid, vis = lab["subject_id"], lab["visit"]
    categorical = isinstance(sid.dtype, pd.CategoricalDtype)
    # pivot orders subjects as its MultiIndex level does: by category for a categorical, else sorted
    s_code, s_uniq = (sid.cat.codes.to_numpy().astype(np.int64), None) if categorical else pd.factorize(sid, sort=True)
    v_code, v_uniq = pd.factorize(vis, sort=True)
    p_pos = pd.Index(list(_TO_SI)).get_indexer(lab["parameter"])
    n_v, n_p = max(len(v_uniq), 1), len(_TO_SI)
    if (s_code < 0).any() or (v_code < 0).any() or (p_pos < 0).any():
        wide = lab.pivot(index=["subject_id", "visit"], columns="parameter", values="value")
        wide = wide.reindex(columns=list(_TO_SI)).reset_index()
        wide.columns.name = None
        return wide
    pairs, row = np.unique(s_code * n_v + v_code, return_inverse=True)
    del s_code, v_code
    cell = row.reshape(-1) * n_p + p_pos
    if len(cell) and np.bincount(cell).max() > 1:
        return _by_subject_visit(lab.assign(parameter=None))  # duplicates: let pivot raise its error
    values = np.full((len(pairs), n_p), np.nan)
    values.reshape(-1)[cell] = lab["value"].to_numpy(dtype=float)
    subject = (pd.Categorical.from_codes(pairs // n_v, dtype=sid.dtype) if categorical
               else pd.Index(s_uniq).take(pairs // n_v))
    out = pd.DataFrame({"subject_id": subject, "visit": pd.Index(v_uniq).take(pairs % n_v)})
    return pd.concat([out, pd.DataFrame(values, columns=list(_TO_SI))], axis=1)


def add_scores(trial: Trial, *, bilirubin_cutpoints: Literal["exact", "chinese"] = "exact",
               clif_missing_as_normal: bool = False) -> pd.DataFrame:
    """Every severity score for every subject at every visit, from that visit's labs only.

    Steps:

    1. Lab rows of the score parameters (TBIL, INR, CREAT, NA, ALB, UREA, WBC, NEUT and the
       clinical grades ASCITES, HE) are placed in a visit by the kit's one window rule,
       :func:`trialkit.derive.visits.assign_visits`: their ``visit`` column, or, when that is
       empty, the visit whose window contains ``day``. Rows outside every window, or naming a
       visit the study file does not have, are dropped. Values are only ever combined within one
       (subject, visit).
    2. If a parameter has several rows in one visit, the scheduled one (non-empty ``visit``) is
       used, then the one closest to the nominal day, then the earliest (the same rule).
    3. Values are converted to SI from the unit the study file declares for each parameter
       (``trial.study.parameters[p].unit``; TBIL umol/L or mg/dL, CREAT umol/L or mg/dL, ALB g/L
       or g/dL, counts 10^9/L, UREA mmol/L). An unknown unit raises ``ValueError``. A parameter
       absent from the study file or the data leaves the scores that need it NaN.
    4. Sex (``'F'`` = female) and age at randomization come from ``trial.subjects``.

    Assumptions: the data format records no dialysis, so MELD scores assume none. MAP,
    vasopressors, PaO2/FiO2 and RRT are not recorded either, so CLIF-C OF, the ACLF grade and
    CLIF-C ACLF are NaN unless ``clif_missing_as_normal=True`` (see :func:`clif_c_of`).

    Parameters
    ----------
    trial : Trial
    bilirubin_cutpoints : {"exact", "chinese"}
        Child-Pugh SI bilirubin cut-points, see :func:`child_pugh`.
    clif_missing_as_normal : bool, default False

    Returns
    -------
    DataFrame
        One row per (subject, visit) with at least one score parameter: ``subject_id``,
        ``visit``, ``day`` (the visit's nominal study day, not the measurement day), then
        ``meld``, ``meld_na``, ``meld_3``, ``child_pugh_points``, ``child_pugh_class``, ``albi``,
        ``albi_grade``, ``clif_c_of``, ``aclf_grade``, ``clif_c_aclf``, ``cossh_aclf_ii``; sorted
        by subject and day.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> labs = pd.DataFrame({"subject_id": "S1", "day": [0, 0, 0, 8], "visit": ["D0", "D0", "D0", ""],
    ...                      "parameter": ["TBIL", "INR", "CREAT", "TBIL"],
    ...                      "value": [442.5, 2.08, 81, 300], "unit": ""})
    >>> subjects = pd.DataFrame({"subject_id": ["S1"], "sex": ["M"], "age": [40.0]})
    >>> t = Trial(study=load_study(), subjects=subjects, labs=labs, events=pd.DataFrame())
    >>> add_scores(t)[["subject_id", "visit", "day", "meld", "meld_na"]]
      subject_id visit  day  meld  meld_na
    0         S1    D0    0  27.0      NaN
    1         S1    D7    7   NaN      NaN
    """
    study, labs = trial.study, trial.labs
    factors = _si_factors(study, labs)
    lab = labs.loc[labs["parameter"].isin(list(factors)),
                   ["subject_id", "day", "visit", "parameter", "value"]]
    lab = assign_visits(lab, study, keys=("subject_id", "parameter"))
    nominal = {vis.id: vis.day for vis in study.visits}
    lab["value"] = lab["value"].astype(float) * lab["parameter"].map(factors).astype(float)
    wide = _by_subject_visit(lab)
    wide["day"] = wide["visit"].map(nominal).astype("int64")
    subj = trial.subjects.set_index("subject_id")
    nan = pd.Series(np.nan, index=subj.index)  # age and sex are optional columns of subjects
    sex = wide["subject_id"].map(subj.get("sex", nan).astype(object).str.upper().str.strip())
    female = sex.map({"F": 1.0, "M": 0.0}).astype(float)
    age = wide["subject_id"].map(subj.get("age", nan)).astype(float)

    c = {p: wide[p].astype(float) for p in _TO_SI}
    out = wide[["subject_id", "visit", "day"]].copy()
    out["meld"] = meld(c["TBIL"], c["INR"], c["CREAT"])
    out["meld_na"] = meld_na(c["TBIL"], c["INR"], c["CREAT"], c["NA"])
    out["meld_3"] = meld_3(c["TBIL"], c["INR"], c["CREAT"], c["NA"], c["ALB"], female, age)
    cp = child_pugh(bilirubin=c["TBIL"], albumin=c["ALB"], inr=c["INR"], ascites=c["ASCITES"],
                    encephalopathy=c["HE"], bilirubin_cutpoints=bilirubin_cutpoints)
    out["child_pugh_points"], out["child_pugh_class"] = cp["points"], cp["class"]
    ab = albi(c["TBIL"], c["ALB"])
    out["albi"], out["albi_grade"] = ab["score"], ab["grade"]
    of = clif_c_of(bilirubin=c["TBIL"], creatinine=c["CREAT"], encephalopathy=c["HE"], inr=c["INR"],
                   missing_as_normal=clif_missing_as_normal)
    out["clif_c_of"], out["aclf_grade"] = of["clif_c_of"], of["aclf_grade"]
    out["clif_c_aclf"] = clif_c_aclf(of["clif_c_of"], age, c["WBC"])
    out["cossh_aclf_ii"] = cossh_aclf_ii(c["INR"], c["HE"], c["NEUT"], c["TBIL"], c["UREA"], age)
    out = out.sort_values(["subject_id", "day"], kind="stable").reset_index(drop=True)
    return out[["subject_id", "visit", "day", *SCORE_COLUMNS]]
