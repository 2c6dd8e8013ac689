"""The study file describes the trial: horizons with units, declared events and endpoints, optional
tables, value decisions; lab thresholds computed in the declared unit."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from conftest import tiny_tables
from trialkit.data.load import build_trial
from trialkit.derive.tte import time_to_event
from trialkit.errors import StudyFileError
from trialkit.study import default_study_path, load_study, parse_days, study_from_dict
from trialkit.tables.safety import shift_table, uln_for

MINI = {"arms": [{"id": "c", "factors": {"d": False}}, {"id": "t", "factors": {"d": True}}], "control_arm": "c",
        "factors": {"d": {"label": "Drug", "kind": "continuous"}}, "horizons": {"primary": "10 years"}}


@pytest.mark.parametrize("text,days", [("10 years", 3652.5), ("48 weeks", 336), ("6 months", 182.625),
                                       ("1 year", 365.25), (12.5, 12.5), ("30 days", 30), ("2y", 730.5)])
def test_horizons_read_with_documented_day_lengths(text, days):
    assert parse_days(text) == days
    assert study_from_dict({**MINI, "horizons": {"primary": text}}).horizons["primary"] == days


@pytest.mark.parametrize("bad", ["10 decades", "ten years", "-3 days", 0, True, "10y later"])
def test_a_horizon_that_is_not_a_duration_is_a_clear_error(bad):
    with pytest.raises(StudyFileError, match=r"horizons\.primary: expected a positive number of days"):
        study_from_dict({**MINI, "horizons": {"primary": bad}}, "s.yaml")


def test_defaults_of_a_minimal_study():
    s = study_from_dict(MINI)
    assert s.visit_ids == ["BL"] and s.parameters == {} and s.event_names == ["death"]
    assert s.primary_endpoint.name == "Overall survival" and s.horizons["secondary"] == 3652.5
    assert s.factors["d"].kind == "continuous"


def test_primary_endpoint_with_competing_and_censoring_events():
    s = study_from_dict({**MINI, "horizons": {"primary": 100},
                         "events": {"death": {}, "relapse": {}, "transplant": {}, "withdrawal_of_consent": {}},
                         "endpoints": {"primary": {"name": "Relapse-free", "events": ["relapse"],
                                                   "competing": ["death"], "censor": ["transplant"]}}})
    subjects = pd.DataFrame({"subject_id": list("abcde"), "arm": ["c", "t", "c", "t", "c"]})
    events = pd.DataFrame({"subject_id": list("abcde") + list("abcde"),
                           "event": ["relapse", "death", "transplant", "withdrawal_of_consent", "relapse"]
                           + ["last_contact"] * 5,
                           "day": [10, 20, 30, 40, 150, 50, 20, 60, 40, 160]})
    d = time_to_event(subjects, events, s, endpoint="primary")
    assert d["time"].tolist() == [10, 20, 30, 40, 100] and d["event"].tolist() == [1, 0, 0, 0, 0]


@pytest.mark.parametrize("spec,msg", [
    ({"events": ["death"], "endpoints": {"primary": {"events": ["relapse"]}}}, "expected a list of declared events"),
    ({"events": {"last_contact": {}}}, "always allowed"),
    ({"endpoints": {"primary": {"events": ["death"], "censor": ["death"]}}}, "listed twice"),
    ({"factors": {"d": {"kind": "oral"}}}, "expected one of infusion, procedure, continuous"),
])
def test_study_file_errors_name_the_key(spec, msg):
    with pytest.raises(StudyFileError, match=msg):
        study_from_dict({**MINI, **spec}, "s.yaml")


def test_default_study_declares_its_own_events_and_endpoint():
    s = load_study()
    assert s.event_names == ["death", "transplant", "hcc"] and s.other_events == ["hcc"]
    assert s.primary_endpoint.events == ("death", "transplant")
    assert s.immune_markers == ("TH1", "TH2") and s.condition.startswith("HBV")


def test_grades_are_identical_in_mg_dl_and_umol_l():
    """The same bilirubin values in µmol/L and in mg/dL (study file declaring mg/dL) give the same
    ULN (17.1 µmol/L = 1.0 mg/dL) and the same CTCAE shift table."""
    t = tiny_tables()
    t["labs"] = t["labs"][t["labs"]["parameter"].isin(["TBIL", "ALT"])].reset_index(drop=True)
    factor = [1.0, 3.0, 12.0, 0.5]  # spread the subjects over the grades
    for i, sid in enumerate(t["subjects"]["subject_id"]):
        m = (t["labs"]["subject_id"] == sid) & (t["labs"]["parameter"] == "TBIL")
        t["labs"].loc[m, "value"] = t["labs"].loc[m, "value"] / 300 * 17.1 * factor[i]
    raw = yaml.safe_load(default_study_path().read_text())
    raw["baseline_expected"] = {}  # these values are not the default trial's (its inclusion criteria)
    raw["parameters"]["TBIL"].pop("uln")
    umol = build_trial(t, study_from_dict(raw))
    raw["parameters"]["TBIL"] = {"unit": "mg/dL", "label": "Total bilirubin"}  # no uln: the default, converted
    mg_tables = {k: v.copy() for k, v in t.items()}
    m = mg_tables["labs"]["parameter"] == "TBIL"
    mg_tables["labs"].loc[m, "value"] = mg_tables["labs"].loc[m, "value"] / 17.1
    mg_tables["labs"].loc[m, "unit"] = "mg/dL"
    mg = build_trial(mg_tables, study_from_dict(raw))
    assert uln_for(mg.study, "TBIL") == pytest.approx(1.0) and uln_for(umol.study, "TBIL") == 17.1
    a = shift_table(umol, "TBIL").drop(columns="uln")
    b = shift_table(mg, "TBIL").drop(columns="uln")
    pd.testing.assert_frame_equal(a, b)
    assert a[[c for c in a.columns if c.startswith("grade_")]].to_numpy().sum() > 0


def test_pbc_grades_and_scores_are_identical_in_mg_dl_and_umol_l():
    """The Mayo Clinic PBC trial's own labs (bilirubin in mg/dL, albumin in g/dL, as measured) and the same
    labs in SI units (× 17.1 µmol/L, × 10 g/L) give identical CTCAE shift tables (bilirubin and AST, ULN
    derived in the declared unit) and identical ALBI scores and grades at every visit."""
    import realdata

    from trialkit.derive.severity import add_scores

    tables, raw = realdata.pbc_trial()
    mg = build_trial(tables, study_from_dict(raw))
    si_tables = {k: v.copy() for k, v in tables.items()}
    labs = si_tables["labs"]
    for p, factor, unit in (("TBIL", 17.1, "µmol/L"), ("ALB", 10.0, "g/L")):
        m = labs["parameter"] == p
        labs.loc[m, "value"] = labs.loc[m, "value"] * factor
        labs.loc[m, "unit"] = unit
        raw["parameters"][p]["unit"] = unit
    si = build_trial(si_tables, study_from_dict(raw))
    assert uln_for(mg.study, "TBIL") == pytest.approx(1.0) and uln_for(si.study, "TBIL") == pytest.approx(17.1)
    assert len(mg.labs) == len(si.labs) == len(tables["labs"]) - 1  # the one excluded albumin, in either unit
    for p in ("TBIL", "AST"):
        a, b = shift_table(mg, p).drop(columns="uln"), shift_table(si, p).drop(columns="uln")
        pd.testing.assert_frame_equal(a, b)
        assert a[[c for c in a.columns if c.startswith("grade_") and c != "grade_0"]].to_numpy().sum() > 0
    s_mg, s_si = add_scores(mg), add_scores(si)
    assert s_mg["albi"].notna().sum() > 1000
    pd.testing.assert_frame_equal(s_mg, s_si, check_exact=False, rtol=1e-12)
    assert s_mg["albi_grade"].equals(s_si["albi_grade"])


def test_estimands_of_a_one_event_endpoint_in_years():
    """The PBC trial's estimands read its horizons in years and its one-event endpoint without
    "whichever comes first"."""
    import realdata

    from trialkit.derive.tte import estimands

    study = study_from_dict(realdata.pbc_trial()[1])
    variable = estimands(study).set_index("endpoint")["variable"]
    assert variable["Primary: survival"] == "Survival: time to death, up to year 10"
    assert variable["Secondary: labs and scores"].startswith("change from baseline at each visit to year 5 ")
