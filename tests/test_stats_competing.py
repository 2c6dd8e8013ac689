"""trialkit.stats.competing: Aalen-Johansen against R's survival package, data rules, model guard."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.data.trial import Trial
from trialkit.stats.competing import (aalen_johansen, cause_specific_cox, cif_at, competing_risks_data,
                                      event_counts)
from trialkit.study import load_study

REF = Path(__file__).parent / "reference"


def test_aalen_johansen_against_R():
    """R 4.2.2, survival 3.5.3: survfit(Surv(time, factor(status)) ~ group) (tests/reference/competing_risks.R).

    Estimate, infinitesimal-jackknife standard error and the log-scale 95% CI, at every distinct
    time of each group, for each of the three competing causes; tolerance 1e-6 relative.
    """
    meta = json.loads((REF / "competing_risks_expected.json").read_text())
    assert meta["conf.type"] == "log"
    data = pd.read_csv(REF / "competing_risks_data.csv")
    expected = pd.read_csv(REF / "competing_risks_expected.csv")
    got = aalen_johansen(data["time"], data["status"], group=data["group"],
                         causes=["hcc", "death", "transplant"], censor="censored")
    m = expected.merge(got, on=["group", "state", "time"], how="outer", suffixes=("_r", ""), indicator=True)
    assert (m["_merge"] == "both").all(), "same times and states as R"
    assert len(m) == len(expected) == 177
    np.testing.assert_array_equal(m["n_risk_r"], m["n_risk"])
    for col in ("estimate", "se", "ci_low", "ci_high"):
        r, py = m[f"{col}_r"].to_numpy(float), m[col].to_numpy(float)
        np.testing.assert_array_equal(np.isnan(r), np.isnan(py), err_msg=col)
        ok = ~np.isnan(r)
        np.testing.assert_allclose(py[ok], r[ok], rtol=1e-6, atol=1e-12, err_msg=col)
    assert m["estimate"].max() > 0.1 and m["se"].max() > 0.01  # the fixture is not trivial


def test_aalen_johansen_single_cause_is_one_minus_kaplan_meier():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(1)
    t = rng.integers(1, 40, 60)
    e = rng.random(60) < 0.6
    cif = aalen_johansen(t, e.astype(int))
    km = KaplanMeierFitter().fit(t, e)
    s = km.survival_function_.iloc[:, 0]
    np.testing.assert_allclose(cif["estimate"].to_numpy(), 1 - s.loc[cif["time"]].to_numpy(), atol=1e-12)


def test_cifs_and_survival_sum_to_one():
    data = pd.read_csv(REF / "competing_risks_data.csv")
    d = data[data["group"] == "control"]
    cif = aalen_johansen(d["time"], d["status"], censor="censored")
    total = cif.groupby("time")["estimate"].sum()
    # all-cause Kaplan-Meier by hand
    times = np.sort(d["time"].unique())
    surv, s = [], 1.0
    for tt in times:
        at_risk = (d["time"] >= tt).sum()
        events = ((d["time"] == tt) & (d["status"] != "censored")).sum()
        s *= 1 - events / at_risk
        surv.append(s)
    np.testing.assert_allclose(total.to_numpy() + np.array(surv), 1.0, atol=1e-12)


def test_group_order_and_cif_at():
    g = pd.Categorical(["b", "a", "b", "a"], categories=["a", "b"])
    cif = aalen_johansen([1, 2, 3, 4], [1, 1, 0, 2], group=g)
    assert list(pd.unique(cif["group"])) == ["a", "b"]
    at = cif_at(cif, [0, 2, 10]).query("group == 'a' and state == 1")
    assert at["estimate"].tolist() == [0.0, 0.5, 0.5]
    assert at["n_events"].tolist() == [0, 1, 1]
    assert np.isnan(at["ci_low"].iloc[0])
    # subjects at risk at the requested time: a = {2: cause 1, 4: cause 2}
    at = cif_at(cif, [2, 3, 4, 5]).query("group == 'a' and state == 2")
    assert at["n_risk"].tolist() == [2, 1, 1, 0]
    # all-cause events (not only this state's) leave the risk set
    cif2 = aalen_johansen([1, 1, 1, 5], [1, 2, 0, 1])
    assert cif_at(cif2, [3]).query("state == 1")["n_risk"].tolist() == [1]


def _trial(events, arms=("control", "msc", "pe", "pe_msc")):
    ids = sorted(set(events["subject_id"]))
    subj = pd.DataFrame({"subject_id": ids, "arm": [arms[i % len(arms)] for i in range(len(ids))]})
    return Trial(study=load_study(), subjects=subj, labs=pd.DataFrame(), events=events)


def test_competing_risks_data_rules():
    ev = pd.DataFrame({
        "subject_id": ["a", "a", "b", "b", "c", "c", "d", "e", "e", "e"],
        "event": ["hcc", "last_contact", "transplant", "last_contact", "hcc", "death", "last_contact",
                  "transplant", "hcc", "last_contact"],
        "day": [100, 200, 30, 30, 50, 50, 500, 40, 90, 300]})
    d = competing_risks_data(_trial(ev)).set_index("subject_id")
    assert d.loc["a", ["time", "status"]].tolist() == [100, "hcc"]
    assert d.loc["b", ["time", "status"]].tolist() == [30, "transplant"]
    assert d.loc["c", ["time", "status"]].tolist() == [50, "hcc"]          # tie: event of interest wins
    assert d.loc["d", ["time", "status"]].tolist() == [336, "censored"]    # censored at the horizon
    assert d.loc["e", ["time", "status"]].tolist() == [40, "transplant"]   # HCC after LT does not count
    assert d["msc"].tolist() == [False, True, False, True, False]
    d2 = competing_risks_data(_trial(ev), horizon=60).set_index("subject_id")
    assert d2.loc["a", ["time", "status"]].tolist() == [60, "censored"]
    counts = event_counts(d.reset_index(), order=["control", "msc", "pe", "pe_msc"])
    assert counts["group"].tolist() == ["control", "msc", "pe", "pe_msc", "total"]
    assert counts.set_index("group").loc["total", ["n", "hcc", "transplant", "censored"]].tolist() == [5, 2, 2, 1]
    no_hcc = d[d["status"] != "hcc"].reset_index()
    c2 = event_counts(no_hcc, states=["hcc", "death", "transplant"])
    assert c2.columns.tolist() == ["group", "n", "hcc", "death", "transplant", "censored"]
    assert (c2["hcc"] == 0).all() and c2["n"].iloc[-1] == 3
    with pytest.raises(ValueError):
        event_counts(d.reset_index(), states=["death"])


def test_guard_declines_with_few_events():
    d = pd.DataFrame({"time": np.arange(1, 21), "status": ["hcc"] * 4 + ["censored"] * 16,
                      "msc": [1, 0] * 10})
    fit = cause_specific_cox(d, "hcc", ["msc"])
    assert not fit.fitted and fit.n_events == 4 and fit.table.empty
    assert "4 hcc event(s) < min_events = 5" in fit.message
    assert cause_specific_cox(d, "hcc", ["msc"], min_events=4).fitted


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # lifelines' pandas-4 notices (reference fit)
def test_guard_declines_when_a_level_has_no_event_and_fits_otherwise():
    from lifelines import CoxPHFitter

    d = pd.DataFrame({"time": np.arange(1, 31), "status": (["hcc", "censored", "death"] * 10),
                      "msc": [1] * 15 + [0] * 15})
    d.loc[d["msc"] == 0, "status"] = "censored"
    fit = cause_specific_cox(d, "hcc", ["msc"])
    assert not fit.fitted and "msc = 0" in fit.message
    d = pd.DataFrame({"time": np.arange(1, 41), "status": (["hcc", "censored", "death", "censored"] * 10),
                      "msc": [1, 0, 0, 1, 0] * 8})
    fit = cause_specific_cox(d, "hcc", ["msc"])
    assert fit.fitted and fit.table["n_events"].iloc[0] == 10
    ref = CoxPHFitter().fit(d.assign(e=(d["status"] == "hcc").astype(int))[["time", "e", "msc"]], "time", "e")
    assert fit.table["estimate"].iloc[0] == pytest.approx(float(np.exp(ref.params_["msc"])))
    assert fit.table["ci_low"].iloc[0] < fit.table["estimate"].iloc[0] < fit.table["ci_high"].iloc[0]
