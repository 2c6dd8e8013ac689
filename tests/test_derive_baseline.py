"""trialkit.derive: the baseline dataset, follow-up status, CONSORT counts, missing data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

import trialkit
from trialkit import scores
from trialkit.data.trial import Trial
from trialkit.derive import (assign_visits, baseline_dataset, baseline_labs, consort_counts, follow_up_status,
                             missing_summary, visit_status)
from trialkit.study import load_study


@pytest.fixture(scope="module")
def sim():
    return trialkit.open_dataset("simulate", seed=11)


def two_arm_trial(tmp_path, seed=5):
    """A simulated trial on a two-arm study file (one factor, other horizon and visits)."""
    raw = dict(load_study().raw)
    raw["factors"] = {"msc": raw["factors"]["msc"]}
    raw["arms"] = [{"id": "soc", "label": "Standard care", "factors": {"msc": False}},
                   {"id": "cells", "label": "Cells", "factors": {"msc": True}}]
    raw["control_arm"] = "soc"
    raw["horizons"] = {"primary": 168, "secondary": 84}
    raw["visits"] = [v for v in raw["visits"] if v["day"] <= 168]
    sp = tmp_path / "two.yaml"
    sp.write_text(yaml.safe_dump(raw))
    sc = tmp_path / "two_scenario.yaml"
    sc.write_text(yaml.safe_dump({"name": "two_arm", "extends": "default", "study": str(sp),
                                  "allocation": {"ratio": {"soc": 1, "cells": 1}, "total": 40},
                                  "effects": {"msc": {"hr": 0.6}}, "reactions": {"msc": {"fever": 0.05}}}))
    return trialkit.open_dataset("simulate", scenario=str(sc), seed=seed)


def hand_trial(**tables) -> Trial:
    """A hand-made Trial on the default study (tables not validated: the rules under test only)."""
    base = {"subjects": pd.DataFrame(columns=["subject_id", "arm"]), "labs": pd.DataFrame(
        columns=["subject_id", "day", "visit", "parameter", "value", "unit"]),
        "events": pd.DataFrame(columns=["subject_id", "event", "day"])}
    base.update(tables)
    return Trial(study=load_study(), **base)


# ---------------------------------------------------------------------------------------------
# baseline rule
# ---------------------------------------------------------------------------------------------
def test_baseline_never_after_randomization_even_if_window_extends_past_day_0():
    from trialkit.study import study_from_dict

    raw = dict(load_study().raw)
    raw["visits"] = [dict(v) for v in raw["visits"]]
    raw["visits"][0]["window"] = [-3, 1]
    study = study_from_dict(raw)
    labs = pd.DataFrame({"subject_id": ["a", "a"], "day": [0, 1], "visit": ["D0", "D0"],
                         "parameter": ["TBIL", "TBIL"], "value": [250.0, 400.0], "unit": ""})
    t = hand_trial(subjects=pd.DataFrame({"subject_id": ["a"], "arm": ["control"]}), labs=labs)
    t = Trial(study=study, subjects=t.subjects, labs=t.labs, events=t.events)
    assert baseline_labs(t).loc[0, "TBIL"] == 250.0


def test_baseline_is_last_value_in_baseline_window():
    labs = pd.DataFrame({
        "subject_id": ["a", "a", "a", "a", "b", "b"],
        "day": [-3, -1, 3, 0, -4, 2],
        "visit": ["", "", "D3", "", "", "D3"],
        "parameter": ["TBIL", "TBIL", "TBIL", "INR", "TBIL", "TBIL"],
        "value": [200.0, 250.0, 999.0, 1.8, 300.0, 400.0], "unit": ""})
    t = hand_trial(subjects=pd.DataFrame({"subject_id": ["a", "b"], "arm": ["control", "msc"]}), labs=labs)
    bl = baseline_labs(t)
    assert bl.columns.tolist() == ["subject_id", "TBIL", "INR"]           # study-file order
    assert bl.loc[0, "TBIL"] == 250.0                                      # last in [-3, 0], not day 3
    assert bl.loc[0, "INR"] == 1.8
    assert np.isnan(bl.loc[1, "TBIL"])                                     # day -4 is outside the window


def test_baseline_labs_match_independent_pandas(sim):
    bl = baseline_labs(sim).set_index("subject_id")
    lo, hi = sim.study.baseline_visit.window
    labs = sim.labs.astype({"visit": object})
    m = labs[(labs["day"] >= lo) & (labs["day"] <= hi) & (labs["visit"].isna() | (labs["visit"] == "D0")
                                                          | (labs["visit"] == ""))]
    expected = m.sort_values("day").groupby(["subject_id", "parameter"])["value"].last().unstack()
    expected.index = expected.index.astype(object)
    got = bl.reindex(columns=expected.columns)
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index().astype(float), check_names=False,
                                  check_index_type=False)


def test_baseline_dataset_columns_and_scores(sim):
    before = {k: v.copy() for k, v in sim.tables().items()}
    b = baseline_dataset(sim)
    assert len(b) == sim.n_subjects and b["subject_id"].is_unique
    for f in sim.study.factor_names:
        assert b[f].dtype == bool
        assert f"{f}_doses" not in b.columns and f"{f}_received" in b.columns
    assert "randomization_date" not in b.columns
    assert {"age", "sex", "TBIL", "INR", "meld", "meld_na", "child_pugh_class", "outcome"} <= set(b.columns)
    # the score is computed from exactly the baseline labs of the same row
    expected = scores.meld(b["TBIL"], b["INR"], b["CREAT"])
    np.testing.assert_allclose(b["meld"].to_numpy(float), expected.to_numpy(float))
    expected_na = scores.meld_na(b["TBIL"], b["INR"], b["CREAT"], b["NA"])
    np.testing.assert_allclose(b["meld_na"].to_numpy(float), expected_na.to_numpy(float))
    assert (b["arm_label"] == b["arm"].map(sim.study.arm_labels)).all()
    for k, v in sim.tables().items():
        pd.testing.assert_frame_equal(v, before[k])                        # inputs untouched


# ---------------------------------------------------------------------------------------------
# follow-up status and CONSORT
# ---------------------------------------------------------------------------------------------
def test_follow_up_status_rules():
    subj = pd.DataFrame({
        "subject_id": list("abcdefgh"),
        "arm": ["pe_msc", "pe_msc", "msc", "control", "pe", "msc", "pe", "control"],
        "msc_doses": [4, 2, 0, 0, 0, 4, 0, 0], "pe_doses": [3, 3, 0, 0, 1, 0, 3, 0]})
    ev = pd.DataFrame({
        "subject_id": ["a", "b", "b", "c", "d", "e", "e", "f", "f", "g", "h", "h"],
        "event": ["last_contact", "death", "last_contact", "last_contact", "last_contact", "transplant",
                  "last_contact", "transplant", "death", "last_contact", "last_contact", "death"],
        "day": [325, 50, 50, 100, 200, 20, 20, 30, 90, 0, 400, 400],
        "detail": ["", "", "died", "withdrew", "lost", "", "transplanted", "", "", "", "", ""]})
    st = follow_up_status(hand_trial(subjects=subj, events=ev)).set_index("subject_id")
    assert st["treatment"].to_dict() == {"a": "full", "b": "partial", "c": "none", "d": "no_active_treatment",
                                         "e": "partial", "f": "full", "g": "full", "h": "no_active_treatment"}
    assert st["follow_up"].to_dict() == {"a": "completed", "b": "died", "c": "withdrew", "d": "lost",
                                         "e": "transplanted", "f": "died", "g": "censored", "h": "completed"}
    # g's follow-up ended without a recorded reason: censored, not lost to follow-up
    assert st.loc["d", "lost_to_follow_up"] and not st.loc["g", "lost_to_follow_up"]
    assert st["outcome"].to_dict() == {"a": "survivor", "b": "died", "c": "survivor", "d": "survivor",
                                       "e": "transplanted", "f": "transplanted", "g": "survivor", "h": "survivor"}
    assert st.loc["f", "died"] and st.loc["f", "transplanted"]
    assert not st.loc["h", "died"]                                          # death after the horizon (336)
    assert st["analysed"].to_dict() == {k: k != "g" for k in "abcdefgh"}     # g: no follow-up at all
    assert st.loc["c", "lost_to_follow_up"] and not st.loc["e", "lost_to_follow_up"]
    assert st.loc["b", "msc_planned"] == 4 and st.loc["b", "pe_planned"] == 3 and st.loc["c", "pe_planned"] == 0


def test_treatment_unknown_without_doses_column():
    subj = pd.DataFrame({"subject_id": ["a", "b"], "arm": ["msc", "control"]})
    ev = pd.DataFrame({"subject_id": ["a", "b"], "event": "last_contact", "day": [336, 336]})
    st = follow_up_status(hand_trial(subjects=subj, events=ev))
    assert st["treatment"].tolist() == ["unknown", "no_active_treatment"]


def test_consort_counts_against_direct_counts(sim):
    c = consort_counts(sim).set_index("arm")
    study, s, ev = sim.study, sim.subjects, sim.events
    h = study.horizons["primary"]
    assert c.index.tolist() == [*study.arm_ids, "total"]
    for arm in study.arm_ids:
        ids = set(s.loc[s["arm"] == arm, "subject_id"])
        assert c.loc[arm, "allocated"] == len(ids)
        died = set(ev.loc[(ev["event"] == "death") & (ev["day"] <= h), "subject_id"]) & ids
        lt = set(ev.loc[(ev["event"] == "transplant") & (ev["day"] <= h), "subject_id"]) & ids
        assert c.loc[arm, "died"] == len(died) and c.loc[arm, "transplanted"] == len(lt)
        sa = s[s["arm"] == arm]
        active = [f for f in study.factor_names if study.arm(arm).factors[f]]
        if active:
            full = np.logical_and.reduce([sa[f"{f}_doses"] >= len(study.dosing_days(arm, f)) for f in active])
            none = np.logical_and.reduce([sa[f"{f}_doses"] == 0 for f in active])
            assert c.loc[arm, "received_full"] == int(full.sum())
            assert c.loc[arm, "received_none"] == int(none.sum())
            assert c.loc[arm, "received_partial"] == len(sa) - int(full.sum()) - int(none.sum())
        else:
            assert c.loc[arm, "no_active_treatment"] == len(sa)
    parts = ["received_full", "received_partial", "received_none", "no_active_treatment", "treatment_unknown"]
    assert (c[parts].sum(axis=1) == c["allocated"]).all()
    fu = ["died", "ended_at_transplant", "withdrew", "lost", "censored", "completed"]
    assert (c[fu].sum(axis=1) == c["allocated"]).all()
    assert (c.drop(index="total").sum(numeric_only=True) == c.loc["total"].drop("label")).all()


def test_two_arm_study(tmp_path):
    t = two_arm_trial(tmp_path)
    c = consort_counts(t)
    assert c["arm"].tolist() == ["soc", "cells", "total"]
    assert c.loc[0, "no_active_treatment"] == c.loc[0, "allocated"]
    b = baseline_dataset(t)
    assert "pe" not in b.columns and b["msc"].tolist() == (b["arm"] == "cells").tolist()
    vs = visit_status(t, horizon="primary")
    assert set(vs["visit"]) == {v.id for v in t.study.visits if v.day <= 168}


# ---------------------------------------------------------------------------------------------
# missing data
# ---------------------------------------------------------------------------------------------
def test_visit_status_reasons():
    subj = pd.DataFrame({"subject_id": ["a", "b", "c", "d"], "arm": ["control", "msc", "pe", "pe_msc"]})
    ev = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "c", "d"],
                       "event": ["death", "last_contact", "transplant", "last_contact", "last_contact", "last_contact"],
                       "day": [8, 8, 12, 12, 10, 336]})
    labs = pd.DataFrame({"subject_id": ["a", "b", "c", "d", "d"], "day": [0, 0, 0, 0, 6],
                         "visit": ["D0", "D0", "D0", "D0", ""], "parameter": "ALT", "value": 100.0, "unit": "U/L"})
    vs = visit_status(hand_trial(subjects=subj, labs=labs, events=ev), ["ALT"])
    get = vs.set_index(["subject_id", "visit"])["status"]
    assert get[("a", "D0")] == "observed"
    assert get[("a", "D7")] == "died"            # death day 8 before the D7 window closes (day 9)
    assert get[("a", "D3")] == "missed"
    assert get[("b", "D14")] == "transplanted" and get[("b", "D7")] == "missed"
    assert get[("c", "D14")] == "dropout"        # follow-up ended day 10 < window start 11
    assert get[("d", "D7")] == "observed"        # unscheduled day 6 placed in D7 [5, 9]
    assert get[("d", "W48")] == "missed"
    summ = missing_summary(vs, by=["arm"])
    assert summ["arm"].tolist() == ["control", "msc", "pe", "pe_msc"]
    assert (summ[["observed", "died", "transplanted", "dropout", "missed"]].sum(axis=1) == summ["expected"]).all()
    assert summ.set_index("arm").loc["pe_msc", "observed"] == 2


def test_missing_summary_against_direct_counts(sim):
    vs = visit_status(sim, ["TBIL", "ALT"], horizon="secondary")
    summ = missing_summary(vs, by=["arm", "visit"]).set_index(["arm", "visit"])
    n_arm = sim.subjects["arm"].value_counts()
    obs = assign_visits(sim.labs[sim.labs["parameter"].isin(["TBIL", "ALT"])], sim.study)
    obs = obs.merge(sim.subjects[["subject_id", "arm"]].astype(object), on="subject_id")
    direct = obs.groupby(["arm", "visit"]).size()
    for (arm, visit), row in summ.iterrows():
        assert row["expected"] == 2 * n_arm[arm]
        assert row["observed"] == direct.get((arm, visit), 0)
    assert summ["pct_observed"].between(0, 100).all()


def test_baseline_symptoms():
    subj = pd.DataFrame({"subject_id": ["a", "b"], "arm": ["control", "msc"]})
    sy = pd.DataFrame({"subject_id": ["a", "a", "a", "b"], "day": [-2, 0, 7, 3],
                       "visit": ["", "D0", "D7", "D3"], "symptom": ["fatigue", "fatigue", "fatigue", "leg_edema"],
                       "score": [3, 2, 0, 1]})
    t = hand_trial(subjects=subj, symptoms=sy)
    from trialkit.derive.baseline import baseline_symptoms

    b = baseline_symptoms(t).set_index("subject_id")
    assert b.columns.tolist() == [f"symptom_{s}" for s in load_study().symptoms]
    assert b.loc["a", "symptom_fatigue"] == 2 and np.isnan(b.loc["b", "symptom_leg_edema"])
    assert baseline_symptoms(t.with_tables(symptoms=None)) is None
    full = baseline_dataset(t, scores=False)
    assert full.loc[0, "symptom_fatigue"] == 2
    assert not any(c.startswith("symptom_") for c in baseline_dataset(t.with_tables(symptoms=None), scores=False))
