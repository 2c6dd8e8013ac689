"""Analysis datasets: time to event per estimand, competing risks, change from baseline, worst-rank
and symptom inputs (trialkit.derive.tte, trialkit.derive.change)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from trialkit.data.trial import Trial
from trialkit.derive.change import (
    analysis_visits,
    available_parameters,
    baseline_values,
    change_from_baseline,
    parameter_label,
    symptom_outcomes,
    symptom_visits,
    target_visit,
    visit_values,
    worst_rank_inputs,
)
from trialkit.derive.tte import competing_risks, estimands, event_days, factor_columns, horizon_days, time_to_event
from trialkit.study import load_study, study_from_dict


def two_arm_study(horizons=None, visits=None):
    raw = dict(load_study().raw)
    raw["factors"] = {"msc": raw["factors"]["msc"]}
    raw["arms"] = [{"id": "soc", "label": "SOC", "factors": {"msc": False}},
                   {"id": "cells", "label": "MSC", "factors": {"msc": True}}]
    raw["control_arm"] = "soc"
    if horizons:
        raw["horizons"] = horizons
    if visits:
        raw["visits"] = visits
    return study_from_dict(yaml.safe_load(yaml.safe_dump(raw)))


SUBJECTS = pd.DataFrame({"subject_id": list("abcdefg"),
                         "arm": ["control", "msc", "pe", "pe_msc", "control", "msc", "pe"]})
EVENTS = pd.DataFrame([
    ("a", "death", 40), ("a", "last_contact", 40),                          # death
    ("b", "transplant", 20), ("b", "death", 60), ("b", "last_contact", 60),  # LT, then death
    ("c", "last_contact", 400),                                              # followed beyond the horizon
    ("d", "transplant", 30), ("d", "death", 30), ("d", "last_contact", 30),  # death on the day of LT
    ("e", "death", 350), ("e", "last_contact", 350),                         # death after the horizon
    ("f", "last_contact", 100),                                              # lost to follow-up
    ("g", "transplant", 90), ("g", "hcc", 50), ("g", "last_contact", 300),  # HCC then LT, alive
], columns=["subject_id", "event", "day"])


@pytest.mark.parametrize("endpoint, times, events", [
    ("transplant_free", [40, 20, 336, 30, 336, 100, 90], [1, 1, 0, 1, 0, 0, 1]),
    ("death_lt_censored", [40, 20, 336, 30, 336, 100, 90], [1, 0, 0, 1, 0, 0, 0]),
    ("overall", [40, 60, 336, 30, 336, 100, 300], [1, 1, 0, 1, 0, 0, 0]),
])
def test_time_to_event_per_endpoint(endpoint, times, events):
    d = time_to_event(SUBJECTS, EVENTS, load_study(), endpoint=endpoint)
    assert d["time"].tolist() == times
    assert d["event"].tolist() == events
    assert d["subject_id"].tolist() == list("abcdefg")
    assert d[["msc", "pe"]].values.tolist() == [[0, 0], [1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]]


def test_horizon_argument_and_trial_input(tables):
    study = load_study()
    t = Trial(study=study, subjects=SUBJECTS, labs=pd.DataFrame(), events=EVENTS)
    d = time_to_event(t, horizon=35)
    assert d["time"].tolist() == [35, 20, 35, 30, 35, 35, 35]
    assert d["event"].tolist() == [0, 1, 0, 1, 0, 0, 0]
    assert time_to_event(t, horizon=None)["time"].tolist()[2] == 400
    assert horizon_days(study, "secondary") == 168
    with pytest.raises(KeyError, match="horizons"):
        time_to_event(t, horizon="tertiary")
    with pytest.raises(ValueError, match="endpoint"):
        time_to_event(t, endpoint="pfs")


def test_inputs_are_not_modified():
    s, e = SUBJECTS.copy(), EVENTS.copy()
    time_to_event(s, e, load_study())
    competing_risks(s, e, load_study(), cause="hcc", competing=["death"])
    pd.testing.assert_frame_equal(s, SUBJECTS)
    pd.testing.assert_frame_equal(e, EVENTS)


def test_missing_follow_up_is_an_error():
    e = EVENTS[EVENTS["subject_id"] != "f"]
    with pytest.raises(ValueError, match="neither last_contact nor death"):
        event_days(SUBJECTS, e)


def test_competing_risks_coding():
    study = load_study()
    d = competing_risks(SUBJECTS, EVENTS, study, cause="death", competing=["transplant"])
    # d: death on the LT day counts as death
    assert d["status"].tolist() == ["death", "transplant", "censored", "death", "censored", "censored",
                                    "transplant"]
    assert d["time"].tolist() == [40, 20, 336, 30, 336, 100, 90]
    h = competing_risks(SUBJECTS, EVENTS, study, cause="hcc", competing=["death", "transplant"])
    assert h["status"].tolist() == ["death", "transplant", "censored", "death", "censored", "censored", "hcc"]
    assert h["time"].tolist()[-1] == 50
    assert (h["event"] == (h["status"] == "hcc")).all() and h["event"].dtype == "int64"
    with pytest.raises(ValueError, match="itself"):
        competing_risks(SUBJECTS, EVENTS, study, cause="death", competing=["death"])


def test_competing_risks_rules_on_a_trial():
    """Ties go to the cause, an HCC after LT does not count, follow-up is censored at the horizon."""
    ev = pd.DataFrame({
        "subject_id": ["a", "a", "b", "b", "c", "c", "d", "e", "e", "e"],
        "event": ["hcc", "last_contact", "transplant", "last_contact", "hcc", "death", "last_contact",
                  "transplant", "hcc", "last_contact"],
        "day": [100, 200, 30, 30, 50, 50, 500, 40, 90, 300]})
    subj = pd.DataFrame({"subject_id": list("abcde"), "arm": ["control", "msc", "pe", "pe_msc", "control"]})
    t = Trial(study=load_study(), subjects=subj, labs=pd.DataFrame(), events=ev)
    d = competing_risks(t, cause="hcc", competing=["death", "transplant"]).set_index("subject_id")
    assert d.loc["a", ["time", "status"]].tolist() == [100, "hcc"]
    assert d.loc["b", ["time", "status"]].tolist() == [30, "transplant"]
    assert d.loc["c", ["time", "status"]].tolist() == [50, "hcc"]          # tie: the cause wins
    assert d.loc["d", ["time", "status"]].tolist() == [336, "censored"]    # censored at the horizon
    assert d.loc["e", ["time", "status"]].tolist() == [40, "transplant"]   # HCC after LT does not count
    assert d["msc"].tolist() == [0, 1, 0, 1, 0] and d["event"].tolist() == [1, 0, 1, 0, 0]
    d2 = competing_risks(t, cause="hcc", competing=["death", "transplant"], horizon=60).set_index("subject_id")
    assert d2.loc["a", ["time", "status"]].tolist() == [60, "censored"]


def test_factor_columns_follow_the_study_file():
    two = two_arm_study()
    d = factor_columns(pd.DataFrame({"subject_id": ["x", "y"], "arm": ["soc", "cells"]}), two)
    assert list(d.columns) == ["subject_id", "arm", "msc"]
    assert d["msc"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="not in the study file"):
        factor_columns(pd.DataFrame({"subject_id": ["x"], "arm": ["pe"]}), two)


def test_estimands_read_the_design():
    e = estimands(load_study())
    assert list(e.columns) == ["endpoint", "population", "variable", "intercurrent_events", "summary_measure"]
    assert "week 48" in e.loc[0, "variable"] and "composite" in e.loc[0, "intercurrent_events"]
    two = two_arm_study(horizons={"primary": 360, "secondary": 180})
    e2 = estimands(two, survival_endpoint="death_lt_censored")
    assert "day 360" in e2.loc[0, "variable"] and "hypothetical" in e2.loc[0, "intercurrent_events"]
    assert "2 arms" in e2.loc[0, "population"]
    with pytest.raises(ValueError):
        estimands(two, survival_endpoint="x")


# ------------------------------------------------------------------------------------------------
# change from baseline
# ------------------------------------------------------------------------------------------------
def lab_trial(study=None):
    study = study or load_study()
    subjects = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["control", "msc", "pe"], "age": [40.0, 50, 60],
                             "sex": ["M", "F", "M"]})
    rows = [("a", 0, "D0", "ALT", 200.0), ("a", 7, "D7", "ALT", 100.0), ("a", 170, "", "ALT", 50.0),
            ("a", 300, "W48", "ALT", 40.0),                      # after the secondary horizon
            ("b", -1, "D0", "ALT", 100.0), ("b", 8, "", "ALT", 80.0), ("b", 7, "D7", "ALT", 90.0),
            ("b", 84, "W12", "ALT", 60.0),                       # after b's transplant (day 60)
            ("c", 7, "D7", "ALT", 70.0),                         # no baseline
            ("a", 0, "D0", "ALB", 30.0), ("a", 168, "W24", "ALB", 34.0),
            ("a", 0, "D0", "TH1", 20.0), ("a", 0, "D0", "TH2", 5.0), ("a", 7, "D7", "TH1", 18.0),
            ("a", 7, "D7", "TH2", 6.0)]
    labs = pd.DataFrame(rows, columns=["subject_id", "day", "visit", "parameter", "value"]).assign(unit="")
    events = pd.DataFrame({"subject_id": ["a", "b", "b", "c", "c"],
                           "event": ["last_contact", "transplant", "last_contact", "death", "last_contact"],
                           "day": [336, 60, 336, 100, 100]})
    return Trial(study=study, subjects=subjects, labs=labs, events=events)


def test_change_from_baseline_scales_visits_and_transplant():
    d = change_from_baseline(lab_trial(), ["ALT", "ALB"], log=["ALT"])
    alt = d[d["parameter"] == "ALT"]
    # a: D7 and W24 (the unscheduled day-170 value falls in the W24 window); W48 is beyond the horizon
    assert alt.loc[alt["subject_id"] == "a", "visit"].tolist() == ["D7", "W24"]
    assert np.allclose(alt.loc[alt["subject_id"] == "a", "change"], np.log([100 / 200, 50 / 200]))
    assert np.allclose(alt.loc[alt["subject_id"] == "a", "baseline"], np.log(200))
    # b: the scheduled D7 value wins over the unscheduled day-8 one; W12 is after the transplant
    assert alt.loc[alt["subject_id"] == "b", "value_raw"].tolist() == [90.0]
    assert "c" not in set(d["subject_id"])  # no baseline
    alb = d[d["parameter"] == "ALB"]
    assert alb["change"].tolist() == [4.0] and (alb["scale"] == "identity").all()
    assert d.groupby("subject_id")["survivor"].first().to_dict() == {"a": True, "b": False}
    kept = change_from_baseline(lab_trial(), ["ALT"], log=["ALT"], after_transplant="keep")
    assert kept.loc[kept["subject_id"] == "b", "visit"].tolist() == ["D7", "W12"]


def test_ratio_parameter_and_labels():
    t = lab_trial()
    v = visit_values(t, ["TH1_TH2"])
    assert v["value"].tolist() == [4.0, 3.0]
    d = change_from_baseline(t, ["TH1_TH2"], log=["TH1_TH2"])
    assert np.isclose(d["change"].iloc[0], np.log(3 / 4))
    assert parameter_label(t.study, "ALB") == "Albumin"
    assert parameter_label(t.study, "MELD") == "MELD"
    assert available_parameters(t, ["ALT", "TH1_TH2", "PT", "MELD"]) == ["ALT", "TH1_TH2"]
    with pytest.raises(KeyError, match="unknown parameter"):
        visit_values(t, ["XYZ"])


def test_log_of_non_positive_values_is_refused():
    t = lab_trial()
    labs = t.labs.copy()
    labs.loc[1, "value"] = 0.0
    with pytest.raises(ValueError, match="log-transformed"):
        change_from_baseline(t.with_tables(labs=labs), ["ALT"], log=["ALT"])


def test_visits_follow_the_study_file():
    study = load_study()
    assert analysis_visits(study) == ["D3", "D7", "D14", "D21", "D28", "W8", "W12", "W24"]
    two = two_arm_study(horizons={"primary": 360, "secondary": 90},
                        visits=[{"id": "B", "day": 0, "window": [-3, 0]}, {"id": "M1", "day": 30, "window": [20, 40]},
                                {"id": "M3", "day": 90, "window": [80, 100]}, {"id": "M12", "day": 360,
                                                                               "window": [340, 380]}])
    assert analysis_visits(two) == ["M1", "M3"] and target_visit(two) == "M3"
    assert target_visit(two, "primary") == "M12"


def test_baseline_values_include_subject_columns_and_scores():
    b = baseline_values(lab_trial(), ["ALT", "ALB"])
    alt = b.set_index("subject_id")["ALT"]
    assert alt["a"] == 200.0 and alt["b"] == 100.0 and np.isnan(alt["c"])
    assert {"age", "sex", "msc", "pe"} <= set(b.columns)
    assert b.loc[b["subject_id"] == "a", "ALB"].item() == 30.0


def test_worst_rank_inputs():
    t = lab_trial()
    w = worst_rank_inputs(t, "ALT", log=["ALT"])
    # a survivor with a W24 value; b transplanted on day 60 (an event); c has no baseline
    assert w["subject_id"].tolist() == ["a", "b"]
    assert w["event"].tolist() == [0, 1] and w["event_day"].tolist()[1] == 60
    assert np.isclose(w["change"].iloc[0], np.log(50 / 200)) and np.isnan(w["change"].iloc[1])
    # drop a's W24 value: dropped, or carried forward from D7
    t2 = t.with_tables(labs=t.labs[~((t.labs["subject_id"] == "a") & (t.labs["day"] == 170))])
    assert worst_rank_inputs(t2, "ALT", log=["ALT"])["subject_id"].tolist() == ["b"]
    lo = worst_rank_inputs(t2, "ALT", log=["ALT"], missing="locf")
    assert np.isclose(lo["change"].iloc[0], np.log(0.5)) and lo["imputed"].tolist() == [True, False]


def test_symptom_outcomes_count_death_as_not_improved():
    t = lab_trial()
    sym = pd.DataFrame([("a", 0, "D0", "fatigue", 2), ("a", 168, "W24", "fatigue", 1),
                        ("b", 0, "D0", "fatigue", 3), ("c", 0, "D0", "fatigue", 1), ("c", 30, "D28", "fatigue", 0),
                        ("a", 0, "D0", "leg_edema", 0), ("a", 170, "", "leg_edema", 0)],
                       columns=["subject_id", "day", "visit", "symptom", "score"])
    t = t.with_tables(symptoms=sym)
    o = symptom_outcomes(t)
    f = o[o["symptom"] == "fatigue"].set_index("subject_id")
    assert f.loc["a", "improved"] == 1.0
    assert f.loc["b", "event"] == 1 and f.loc["b", "improved"] == 0.0  # transplanted: not improved
    assert f.loc["c", "event"] == 1 and f.loc["c", "improved"] == 0.0  # died on day 100
    le = o[o["symptom"] == "leg_edema"]
    assert le["score"].tolist() == [0.0] and le["improved"].tolist() == [0.0]
    sv = symptom_visits(t)
    assert sv.loc[(sv["symptom"] == "leg_edema"), "visit"].tolist() == ["D0", "W24"]
    with pytest.raises(ValueError, match="no symptoms table"):
        symptom_visits(lab_trial())


def test_available_parameters_lists_only_computable_scores():
    """A score is available only when every lab it needs is measured (as add_scores computes it)."""
    import trialkit as tk
    from trialkit.derive.change import SCORE_INPUTS, available_parameters, visit_values

    trial = tk.simulate(seed=3)
    for score, need in SCORE_INPUTS.items():
        for missing in sorted(need):
            t = trial.with_tables(labs=trial.labs[trial.labs["parameter"] != missing])
            assert available_parameters(t, [score]) == [], (score, missing)
        assert available_parameters(trial, [score]) == [score]
        assert visit_values(trial, [score])["value"].notna().any(), score


def test_landmark_days_leave_out_landmarks_the_horizon_row_reports():
    from trialkit.derive.tte import landmark_days

    study = load_study()
    assert landmark_days(study, [4, 12, 24, 48]) == [28.0, 84.0, 168.0, 336.0]      # week 48 is the horizon
    assert landmark_days(study, [47.5, 48]) == [336.0]                                # day 332.5: < a week before
    assert landmark_days(study, [47, 60]) == [329.0, 336.0]                           # a week before; after: out
    assert landmark_days(study, [52, 260], horizon=1826.25) == [364.0, 1826.25]      # not 260 and 260.9
    assert landmark_days(study, [4], horizon=None) == [28.0]                          # no horizon: no extra row


def test_horizon_label_names_the_unit_the_horizon_was_set_in():
    from trialkit.derive.tte import horizon_label, horizon_text

    assert [horizon_label(d) for d in (336, 168, 1826.25, 2922, 3652.5, 100, 0.5)] == [
        "week 48", "week 24", "year 5", "year 8", "year 10", "day 100", "day 0.5"]
    assert horizon_text(1826.25) == "day 1826.25 (year 5)" and horizon_text(90) == "day 90"
    study = study_from_dict({**load_study().raw, "horizons": {"primary": "5 years", "secondary": "48 weeks"}})
    est = estimands(study)
    text = " ".join(est["variable"]) + " ".join(est["summary_measure"])
    assert "up to year 5" in text and "1826" not in text
