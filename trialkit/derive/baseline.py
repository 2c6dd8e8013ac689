"""The baseline analysis dataset (ADaM ADSL-like): one row per randomized subject.

Baseline rule: for each lab parameter, the **last** value measured in the baseline visit's window
(``study.baseline_visit.window``, e.g. days -3 to 0) and not after randomization (day 0), from rows
labelled with the baseline visit or unlabelled: a window that extends past day 0 never lets a
post-randomization value become baseline. Severity scores (MELD, MELD-Na, MELD 3.0, Child-Pugh, ALBI, CLIF-C, COSSH-ACLF II) are
computed by :func:`trialkit.derive.severity.add_scores` from exactly those baseline values, so the scores
and the labs of a row always agree.

Column names: subject columns keep their (lower-case) names; lab parameters keep the study file's
names (upper case, e.g. ``TBIL``, ``ASCITES``), so a lab grade never collides with the subject
column of the same meaning (``ascites``); scores use :data:`trialkit.derive.severity.SCORE_COLUMNS`.

Examples
--------
>>> import pandas as pd
>>> from trialkit.data.trial import Trial
>>> from trialkit.study import load_study
>>> labs = pd.DataFrame({"subject_id": "s1", "day": [-2, 0, 7], "visit": ["", "D0", "D7"],
...                      "parameter": "TBIL", "value": [250.0, 300.0, 200.0], "unit": "umol/L"})
>>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["s1"], "arm": ["msc"]}),
...           labs=labs, events=pd.DataFrame(columns=["subject_id", "event", "day"]))
>>> baseline_labs(t)
  subject_id   TBIL
0         s1  300.0
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.derive.status import follow_up_status

if TYPE_CHECKING:
    from trialkit.data.trial import Trial

__all__ = ["baseline_labs", "baseline_symptoms", "baseline_dataset", "STATUS_COLUMNS"]

STATUS_COLUMNS = ["treatment", "died", "transplanted", "follow_up", "lost_to_follow_up", "completed",
                  "analysed", "outcome"]
_NOT_BASELINE = {"randomization_date"}


def _baseline_rows(trial: Trial, parameters: Sequence[str] | None = None) -> pd.DataFrame:
    """The lab rows chosen as baseline: one per (subject, parameter), the last in the window."""
    study = trial.study
    bv = study.baseline_visit
    labs = trial.labs
    if parameters is not None:
        labs = labs[labs["parameter"].isin(list(parameters))]
    visit = labs["visit"].astype(object).where(labs["visit"].notna(), "").astype(str).str.strip()
    day = labs["day"]
    keep = (day >= bv.window[0]) & (day <= min(bv.window[1], 0)) & visit.isin(["", bv.id])
    rows = labs.loc[keep, ["subject_id", "day", "parameter", "value", "unit"]].copy()
    rows["subject_id"] = rows["subject_id"].astype(object)
    rows["parameter"] = rows["parameter"].astype(object)
    rows = rows.sort_values(["subject_id", "parameter", "day"], kind="stable")
    return rows.drop_duplicates(["subject_id", "parameter"], keep="last")


def baseline_labs(trial: Trial, parameters: Sequence[str] | None = None) -> pd.DataFrame:
    """Baseline lab values, wide: one row per subject, one column per parameter.

    Parameters
    ----------
    trial : Trial
    parameters : list of str, optional
        Parameters to include (default: every parameter of the study file present in the labs).

    Returns
    -------
    DataFrame
        ``subject_id`` (every randomized subject, ``trial.subjects`` order), then one float column
        per parameter in study-file order; NaN where no value fell in the baseline window.

    Examples
    --------
    ``s1``'s TBIL on day 0 is later than the one on day -2 and wins; ``s2``'s only TBIL is on day 3,
    after randomization, so it has none:

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> labs = pd.DataFrame({"subject_id": ["s1", "s1", "s1", "s1", "s2", "s2"], "day": [-2, 0, 0, 7, -1, 3],
    ...                      "visit": ["", "D0", "D0", "D7", "", "D3"],
    ...                      "parameter": ["TBIL", "TBIL", "ALB", "TBIL", "ALB", "TBIL"],
    ...                      "value": [250.0, 300.0, 30.0, 200.0, 28.0, 400.0],
    ...                      "unit": ["umol/L", "umol/L", "g/L", "umol/L", "g/L", "umol/L"]})
    >>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["s1", "s2"], "arm": ["msc", "control"]}),
    ...           labs=labs, events=pd.DataFrame())
    >>> baseline_labs(t)
      subject_id   TBIL   ALB
    0         s1  300.0  30.0
    1         s2    NaN  28.0
    >>> baseline_labs(t, ["ALB"])
      subject_id   ALB
    0         s1  30.0
    1         s2  28.0
    """
    rows = _baseline_rows(trial, parameters)
    order = [p for p in trial.study.parameters if parameters is None or p in parameters]
    present = set(rows["parameter"])
    if parameters is None:
        order = [p for p in order if p in present]
    wide = rows.pivot(index="subject_id", columns="parameter", values="value")
    wide = wide.reindex(index=trial.subjects["subject_id"].astype(object).to_numpy(), columns=order)
    wide = wide.astype(float)
    wide.columns.name = None
    return wide.rename_axis("subject_id").reset_index()


def baseline_symptoms(trial: Trial) -> pd.DataFrame | None:
    """Baseline symptom scores, wide: ``subject_id`` and ``symptom_<name>`` (0-3) per study symptom.

    Same rule as the labs: the last score in the baseline window (rows labelled with the baseline
    visit or unlabelled). ``None`` when the dataset has no ``symptoms`` table.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> sy = pd.DataFrame({"subject_id": ["s1", "s1", "s1", "s2"], "day": [-1, 0, 7, 0],
    ...                    "visit": ["", "D0", "D7", "D0"], "symptom": ["fatigue", "fatigue", "fatigue", "leg_edema"],
    ...                    "score": [3, 2, 1, 1]})
    >>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["s1", "s2"], "arm": ["msc", "control"]}),
    ...           labs=pd.DataFrame(), events=pd.DataFrame(), symptoms=sy)
    >>> baseline_symptoms(t)[["subject_id", "symptom_fatigue", "symptom_leg_edema"]]
      subject_id  symptom_fatigue  symptom_leg_edema
    0         s1              2.0                NaN
    1         s2              NaN                1.0
    >>> baseline_symptoms(t.with_tables(symptoms=None)) is None
    True
    """
    if not trial.has("symptoms"):
        return None
    bv = trial.study.baseline_visit
    sy = trial.symptoms
    assert sy is not None  # trial.has("symptoms") said so
    visit = sy["visit"].astype(object).where(sy["visit"].notna(), "").astype(str).str.strip()
    keep = (sy["day"] >= bv.window[0]) & (sy["day"] <= min(bv.window[1], 0)) & visit.isin(["", bv.id])
    rows = sy.loc[keep, ["subject_id", "day", "symptom", "score"]].astype({"subject_id": object, "symptom": object})
    rows = rows.sort_values(["subject_id", "symptom", "day"], kind="stable").drop_duplicates(
        ["subject_id", "symptom"], keep="last")
    names = list(trial.study.symptoms) or sorted(rows["symptom"].unique())
    wide = rows.pivot(index="subject_id", columns="symptom", values="score").reindex(
        index=trial.subjects["subject_id"].astype(object).to_numpy(), columns=names)
    wide.columns = [f"symptom_{c}" for c in wide.columns]
    return wide.astype(float).rename_axis("subject_id").reset_index()


def baseline_dataset(trial: Trial, *, horizon: str | float = "primary", clif_missing_as_normal: bool = False,
                     scores: bool = True) -> pd.DataFrame:
    """One row per randomized subject: arm, factors, demographics, baseline labs and scores, status.

    Parameters
    ----------
    trial : Trial
    horizon : "primary", "secondary" or int
        Horizon of the follow-up status columns (see :func:`trialkit.derive.status.follow_up_status`).
    clif_missing_as_normal : bool, default False
        Passed to :func:`trialkit.derive.severity.add_scores`: the data format records no mean arterial
        pressure, vasopressors or respiratory failure, so CLIF-C OF and the EASL-CLIF ACLF grade
        are NaN unless these are assumed normal (then the grade is a lower bound).
    scores : bool, default True
        Add the baseline severity scores.

    Returns
    -------
    DataFrame
        ``subject_id``, ``arm``, ``arm_label``, one boolean column per study factor, every column of
        ``trial.subjects`` except ``subject_id``, ``arm``, ``randomization_date`` and the
        ``<factor>_doses`` exposure columns; baseline labs (upper-case parameter names); the
        score columns of :data:`trialkit.derive.severity.SCORE_COLUMNS`; baseline symptom scores
        ``symptom_<name>`` when the dataset has a ``symptoms`` table; then the status columns
        :data:`STATUS_COLUMNS` and ``<factor>_received`` (doses). Input tables are not modified.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> bl = baseline_dataset(example())
    >>> bl.shape
    (120, 57)
    >>> bl[["subject_id", "arm", "msc", "pe", "age", "TBIL", "meld", "outcome"]].head(3)
      subject_id      arm    msc     pe   age   TBIL  meld   outcome
    0       S001       pe  False   True  42.0  260.3  23.0  survivor
    1       S002   pe_msc   True   True  54.0  263.1  24.0      died
    2       S003  control  False  False  28.0  391.4  25.0  survivor
    """
    study = trial.study
    subj = trial.subjects
    out = pd.DataFrame({"subject_id": subj["subject_id"].astype(object).to_numpy(),
                        "arm": subj["arm"].astype(object).to_numpy()})
    out["arm_label"] = out["arm"].map(study.arm_labels)
    factors = study.arm_factors().set_index("arm")
    for f in study.factor_names:
        out[f] = out["arm"].map(factors[f]).astype(bool)
    doses = {f"{f}_doses" for f in study.factor_names}
    for c in subj.columns:
        if c in ("subject_id", "arm") or c in _NOT_BASELINE or c in doses or c in out.columns:
            continue
        out[c] = subj[c].to_numpy()
    labs = baseline_labs(trial)
    out = out.merge(labs, on="subject_id", how="left", validate="one_to_one")
    if scores:
        from trialkit.derive.severity import SCORE_COLUMNS, add_scores

        rows = _baseline_rows(trial)
        bl = trial.labs.loc[rows.index].copy()
        bl["visit"] = study.baseline_visit.id
        sc = add_scores(trial.with_tables(labs=bl), clif_missing_as_normal=clif_missing_as_normal)
        sc = sc.loc[sc["visit"] == study.baseline_visit.id, ["subject_id", *SCORE_COLUMNS]]
        sc = sc.assign(subject_id=sc["subject_id"].astype(object))
        out = out.merge(sc, on="subject_id", how="left", validate="one_to_one")
        for c in SCORE_COLUMNS:
            if c not in out.columns:
                out[c] = np.nan
    sy = baseline_symptoms(trial)
    if sy is not None:
        out = out.merge(sy, on="subject_id", how="left", validate="one_to_one")
    st = follow_up_status(trial, horizon)
    keep = ["subject_id", *STATUS_COLUMNS, *[f"{f}_received" for f in study.factor_names]]
    return out.merge(st[keep], on="subject_id", how="left", validate="one_to_one")
