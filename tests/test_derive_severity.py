"""trialkit.derive.severity.add_scores on a hand-built Trial (units and visits), and
trialkit.derive.visits.assign_visits, the one visit-window rule that add_scores, the change-from-baseline
datasets, the symptom datasets and the visit status all use."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from trialkit.data.trial import Trial
from trialkit.derive.severity import add_scores
from trialkit.derive.visits import assign_visits
from trialkit.scores import clif_c_aclf, clif_c_of, cossh_aclf_ii, meld
from trialkit.study import Parameter, load_study

# ------------------------------------------------------------------------------------------
# add_scores on a hand-built Trial
# ------------------------------------------------------------------------------------------
D0_FULL = {"TBIL": 442.5, "INR": 2.08, "CREAT": 81.0, "NA": 134.0, "ALB": 30.0, "ASCITES": 1.0, "HE": 0.0,
           "WBC": 8.0, "NEUT": 5.0, "UREA": 5.0, "ALT": 200.0}


def _lab_rows():
    rows = []
    for sid in ("S1", "S2", "S3"):
        rows += [(sid, 0, "D0", p, v) for p, v in D0_FULL.items()]
    rows += [
        # S1 D7: TBIL + CREAT scheduled, INR unscheduled on day 8 (empty visit -> D7 window [5, 9])
        ("S1", 7, "D7", "TBIL", 300.0), ("S1", 7, "D7", "CREAT", 80.0), ("S1", 8, "", "INR", 2.0),
        # S1: INR at D14 only, TBIL on day 20 unscheduled (-> D21): never combined
        ("S1", 14, "D14", "INR", 1.5), ("S1", 20, None, "TBIL", 171.0),
        # S1 day 10: outside every window (D7 [5, 9], D14 [11, 17]) -> dropped
        ("S1", 10, "", "CREAT", 900.0),
        # S1 D28: scheduled TBIL wins over an unscheduled one in the same window
        ("S1", 28, "D28", "TBIL", 171.0), ("S1", 26, "", "TBIL", 999.0),
        ("S1", 28, "D28", "INR", 1.5), ("S1", 28, "D28", "CREAT", 70.0),
        # S2 D3: two unscheduled INR in the window [2, 4]: the closer to day 3 wins
        ("S2", 2, "", "TBIL", 300.0), ("S2", 3, "", "CREAT", 80.0), ("S2", 2, "", "INR", 9.0),
        ("S2", 4, "D3", "INR", 2.0),
    ]
    return pd.DataFrame(rows, columns=["subject_id", "day", "visit", "parameter", "value"]).assign(unit="")


@pytest.fixture
def trial():
    study = load_study()
    subjects = pd.DataFrame({"subject_id": ["S1", "S2", "S3"], "arm": ["control", "msc", "pe"],
                             "age": [40.0, 50.0, 16.0], "sex": ["M", "F", "M"]})
    events = pd.DataFrame({"subject_id": ["S1", "S2", "S3"], "event": "last_contact", "day": 336})
    return Trial(study=study, subjects=subjects, labs=_lab_rows(), events=events)


def _row(df, sid, visit):
    r = df[(df.subject_id == sid) & (df.visit == visit)]
    assert len(r) == 1, (sid, visit)
    return r.iloc[0]


def test_add_scores_columns_and_d0(trial):
    out = add_scores(trial)
    assert list(out.columns) == ["subject_id", "visit", "day", "meld", "meld_na", "meld_3", "child_pugh_points",
                                 "child_pugh_class", "albi", "albi_grade", "clif_c_of", "aclf_grade",
                                 "clif_c_aclf", "cossh_aclf_ii"]
    r = _row(out, "S1", "D0")
    # REF 4.4 SI vector (442.5, 2.08, 81, 134, 30, male): MELD 27, MELD-Na 28, MELD 3.0 29
    assert (r.day, r.meld, r.meld_na, r.meld_3) == (0, 27, 28, 29)
    assert (r.child_pugh_points, r.child_pugh_class) == (10, "C")      # 3 + 2 + 2 + 2 + 1
    assert r.albi == pytest.approx(0.66 * math.log10(442.5) - 0.085 * 30) and r.albi_grade == 3
    assert r.cossh_aclf_ii == pytest.approx(cossh_aclf_ii(2.08, 0, 5, 442.5, 5, 40))
    assert np.isnan(r.clif_c_of) and np.isnan(r.aclf_grade) and np.isnan(r.clif_c_aclf)
    # S2 is female; S3 is a 16-year-old male: the MELD 3.0 female term applies to both
    assert _row(out, "S2", "D0").meld_3 == 30 and _row(out, "S3", "D0").meld_3 == 30
    assert out["child_pugh_class"].dtype == "category"


def test_add_scores_visit_pairing(trial):
    out = add_scores(trial)
    s1 = out[out.subject_id == "S1"]
    assert s1.visit.tolist() == ["D0", "D7", "D14", "D21", "D28"]
    assert s1.day.tolist() == [0, 7, 14, 21, 28]                       # nominal visit days
    assert _row(out, "S1", "D7").meld == meld(300, 2.0, 80)            # unscheduled INR -> D7
    # TBIL of D21 and INR of D14 are never paired with each other or with D7/D28 values
    assert np.isnan(_row(out, "S1", "D14").meld) and np.isnan(_row(out, "S1", "D21").meld)
    assert _row(out, "S1", "D28").meld == meld(171, 1.5, 70) == 20      # scheduled TBIL, not 999
    assert _row(out, "S2", "D3").meld == meld(300, 2.0, 80)            # INR on day 4 (scheduled), not day 2
    # the day-10 creatinine (outside every window) is used nowhere
    assert len(out) == 3 + 4 + 1


def test_add_scores_clif_when_requested(trial):
    out = add_scores(trial, clif_missing_as_normal=True)
    r = _row(out, "S1", "D0")
    of = clif_c_of(bilirubin=442.5, creatinine=81, encephalopathy=0, inr=2.08, missing_as_normal=True)
    assert r.clif_c_of == of.loc[0, "clif_c_of"] == 3 + 1 + 1 + 2 + 1 + 1
    assert r.aclf_grade == 0                                           # single liver failure, Cr < 1.5
    assert r.clif_c_aclf == pytest.approx(clif_c_aclf(9, 40, 8))


def test_add_scores_units_from_study(trial):
    study = trial.study
    params = dict(study.parameters, TBIL=Parameter("TBIL", "mg/dL"), CREAT=Parameter("CREAT", "mg/dL"),
                  ALB=Parameter("ALB", "g/dL"))
    labs = trial.labs.copy()
    for p, f in (("TBIL", 17.1), ("CREAT", 88.4), ("ALB", 10.0)):
        labs.loc[labs.parameter == p, "value"] /= f
    conv = Trial(study=replace(study, parameters=params), subjects=trial.subjects, labs=labs, events=trial.events)
    pd.testing.assert_frame_equal(add_scores(conv), add_scores(trial), check_exact=False, rtol=1e-12)
    bad = Trial(study=replace(study, parameters=dict(study.parameters, TBIL=Parameter("TBIL", "mg%"))),
                subjects=trial.subjects, labs=trial.labs, events=trial.events)
    with pytest.raises(ValueError, match=r"parameter TBIL: add_scores cannot convert unit 'mg%'"):
        add_scores(bad)


def test_add_scores_absent_parameters(trial):
    study = trial.study
    params = {k: v for k, v in study.parameters.items() if k not in ("ALB", "NEUT")}
    labs = trial.labs[~trial.labs.parameter.isin(["ALB", "NEUT"])]
    t = Trial(study=replace(study, parameters=params), subjects=trial.subjects, labs=labs, events=trial.events)
    r = _row(add_scores(t), "S1", "D0")
    assert (r.meld, r.meld_na) == (27, 28)
    assert all(np.isnan(r[c]) for c in ("meld_3", "child_pugh_points", "albi", "albi_grade", "cossh_aclf_ii"))
    # labs naming a score parameter the study file lacks: the unit is unknown
    t = Trial(study=replace(study, parameters=params), subjects=trial.subjects, labs=trial.labs, events=trial.events)
    with pytest.raises(ValueError, match="labs contain parameter ALB but the study file does not declare it"):
        add_scores(t)


def test_add_scores_empty_labs(trial):
    t = Trial(study=trial.study, subjects=trial.subjects, labs=trial.labs.iloc[:0], events=trial.events)
    out = add_scores(t)
    assert out.empty and "meld" in out.columns


def test_add_scores_nullable_dtypes(trial):
    # what a loader may produce: Int64 days, Float64 values, string columns with <NA>
    labs = trial.labs.astype({"day": "Int64", "value": "Float64", "visit": "string", "parameter": "string"})
    subjects = trial.subjects.astype({"age": "Float64", "sex": "string", "subject_id": "string"})
    t = Trial(study=trial.study, subjects=subjects, labs=labs, events=trial.events)
    pd.testing.assert_frame_equal(add_scores(t).drop(columns=["subject_id", "visit"]),
                                  add_scores(trial).drop(columns=["subject_id", "visit"]))


# ------------------------------------------------------------------------------------------
# the visit-window rule
# ------------------------------------------------------------------------------------------
def test_assign_visits_rule():
    """Windows (study.yaml: D3 [2, 4], D7 [5, 9], D14 [11, 17]): a label is kept, an unscheduled day
    goes to its window, a day between windows or an unknown label is dropped; per series and visit the
    scheduled row wins, then the closest to the nominal day, then the earliest, then input order."""
    rows = pd.DataFrame([
        ("a", "ALT", 4, "", 1.0),      # -> D3
        ("a", "ALT", 10, "", 2.0),     # between D7 and D14: dropped
        ("a", "ALT", 6, "", 3.0),      # D7, unscheduled, 1 day off
        ("a", "ALT", 9, "D7", 4.0),    # D7, scheduled (2 days off): wins
        ("a", "ALT", 13, None, 5.0),   # D14, 1 day off
        ("a", "ALT", 15, "", 6.0),     # D14, 1 day off, later: loses the tie
        ("a", "TBIL", 14, "", 7.0),    # another series, its own D14
        ("a", "TBIL", 14, " ", 8.0),   # same day, same series: the first in input order wins
        ("a", "ALT", 30, "X9", 9.0),   # a visit the study file does not have: dropped
        ("b", "ALT", 3, "D3", 10.0),
    ], columns=["subject_id", "parameter", "day", "visit", "value"])
    before = rows.copy()
    out = assign_visits(rows, load_study())
    pd.testing.assert_frame_equal(rows, before)  # the input is not modified
    assert out.columns.tolist() == ["subject_id", "parameter", "day", "visit", "visit_day", "value"]
    assert out[["subject_id", "parameter", "visit", "value"]].values.tolist() == [
        ["a", "ALT", "D3", 1.0], ["a", "ALT", "D7", 4.0], ["a", "ALT", "D14", 5.0], ["a", "TBIL", "D14", 7.0],
        ["b", "ALT", "D3", 10.0]]
    assert out["visit_day"].tolist() == [3, 7, 14, 14, 3] and out["visit_day"].dtype == "int64"
    every = assign_visits(rows, load_study(), one_per_visit=False)
    assert len(every) == 8 and set(every["value"]) == set(rows["value"]) - {2.0, 9.0}
    sym = rows.rename(columns={"parameter": "symptom"})
    got = assign_visits(sym, load_study(), keys=("subject_id", "symptom"))
    assert got["value"].tolist() == out["value"].tolist()


def test_every_caller_uses_the_one_rule(trial):
    """add_scores, change-from-baseline values, symptom visits and the visit status place rows alike."""
    from trialkit.derive.change import symptom_visits, visit_values
    from trialkit.derive.status import visit_status

    placed = assign_visits(trial.labs, trial.study)
    vv = visit_values(trial, ["TBIL", "INR"])
    a = placed[placed["parameter"].isin(["TBIL", "INR"])].set_index(["subject_id", "parameter", "visit"])["value"]
    b = vv.set_index(["subject_id", "parameter", "visit"])["value"]
    assert a.sort_index().to_dict() == b.sort_index().to_dict() and len(a) > 10
    # the MELD of add_scores at each visit uses exactly the placed TBIL, INR and CREAT
    wide = placed.pivot(index=["subject_id", "visit"], columns="parameter", values="value")
    sc = add_scores(trial).set_index(["subject_id", "visit"])
    both = wide[["TBIL", "INR", "CREAT"]].dropna().join(sc["meld"])
    assert len(both) >= 4
    np.testing.assert_array_equal(both["meld"], meld(both["TBIL"], both["INR"], both["CREAT"]))
    # visit status: "observed" exactly where a placed TBIL row exists
    vs = visit_status(trial, ["TBIL"])
    seen = set(map(tuple, placed.loc[placed["parameter"] == "TBIL", ["subject_id", "visit"]].values.tolist()))
    obs = vs[vs["status"] == "observed"]
    assert set(zip(obs["subject_id"], obs["visit"])) == seen
    sy = trial.labs.rename(columns={"parameter": "symptom", "value": "score"}).assign(score=1)
    t = Trial(study=trial.study, subjects=trial.subjects, labs=trial.labs, events=trial.events, symptoms=sy)
    sv = symptom_visits(t)
    assert len(sv) == len(assign_visits(sy, trial.study, keys=("subject_id", "symptom")))
