"""trialkit.stats.competing: Aalen-Johansen against R's survival package, one estimator for every notebook,
model guard."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.derive.tte import competing_risks
from trialkit.simulate import simulate
from trialkit.stats.competing import aalen_johansen, cause_specific_cox, cif_at, cumulative_incidence

REF = Path(__file__).parent / "reference"
NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
ARMS = ["control", "msc", "pe", "pe_msc"]


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


def test_cumulative_incidence_against_R(tte, R):
    """R 4.2.2, survival 3.5.3: summary(survfit(Surv(time, factor(status)) ~ arm), times = ...) (efficacy.R).

    Death with LT competing, at four times in each arm: estimate, std.err (infinitesimal jackknife)
    and the log-scale 95% CI, to 1e-6 relative, for both causes.
    """
    cr = tte.assign(status=tte["status"].map({0: "censored", 1: "death", 2: "transplant"}))
    c = cumulative_incidence(cr, [28, 84, 168, 336], groups=ARMS, causes=["death", "transplant"])
    assert len(c) == 32
    for r in c.itertuples():
        key = f"{r.group}@{int(r.time)}" + (":lt" if r.state == "transplant" else "")
        for col, name in (("estimate", ""), ("se", ":std.err"), ("ci_low", ":lower"), ("ci_high", ":upper")):
            want, got = R[("aj", key + name)], getattr(r, col)
            if np.isnan(want):  # R: no interval while the estimate is 0
                assert np.isnan(got) and r.estimate == 0, (key, col)
            else:
                assert abs(got - want) <= 1e-6 * max(abs(want), 1e-12), (key, col, got, want)
    assert c["se"].max() > 0.05 and c["ci_low"].notna().sum() > 20  # not trivial


def test_cumulative_incidence_ties_are_exact_and_competing_events_always_compete():
    """Tied days: no jitter, the same answer every time; censoring on an event day stays at risk (R);
    a cause left out of ``causes`` still competes (it is never treated as censoring)."""
    d = pd.DataFrame({"arm": "a", "time": [5.0, 5, 5, 8, 8, 10],
                      "status": ["hcc", "death", "censored", "hcc", "censored", "censored"]})
    c1 = cumulative_incidence(d, [5, 8, 10], causes=["hcc"])
    assert c1.equals(cumulative_incidence(d, [5, 8, 10], causes=["hcc"]))
    # by hand: day 5: 6 at risk, 1 cause, 1 competing -> CIF 1/6; S = 4/6; day 8: 3 at risk, 1 cause
    assert np.allclose(c1["estimate"], [1 / 6, 1 / 6 + (4 / 6) * (1 / 3), 1 / 6 + (4 / 6) * (1 / 3)])
    assert c1["n_events"].tolist() == [1, 2, 2] and c1["state"].eq("hcc").all()
    both = cumulative_incidence(d, [5, 8, 10])
    pd.testing.assert_frame_equal(both[both["state"] == "hcc"].reset_index(drop=True), c1)
    none = cumulative_incidence(d.assign(status=["censored", "death"] * 3), [10], causes=["hcc"])
    assert none.empty or none["estimate"].eq(0).all()


def test_notebooks_02_and_03_read_one_estimator_and_give_the_same_hcc_numbers():
    """Safety (02) and efficacy (03) both build the other declared event (HCC in the default study)
    with derive.tte.competing_risks and read it with stats.competing.cumulative_incidence; no other
    Aalen-Johansen is left in the kit."""
    import trialkit.stats.survival as S

    for nb in ("02_safety.ipynb", "03_efficacy.ipynb"):
        code = "\n".join("".join(c["source"]) for c in json.loads((NOTEBOOKS / nb).read_text())["cells"]
                         if c["cell_type"] == "code")
        assert "cumulative_incidence(" in code and "competing_risks(trial, cause=ev" in code, nb
        assert "AalenJohansen" not in code and "competing_risks_data" not in code, nb
    assert not hasattr(S, "cumulative_incidence")
    trial = simulate(seed=3)
    hcc = competing_risks(trial, cause="hcc", competing=["death", "transplant"], horizon="primary")
    # 02: every cause at the horizon; 03: HCC on a grid of weeks that ends at the horizon
    safety = cumulative_incidence(hcc, [336], groups=trial.study.arm_ids, causes=["hcc", "death", "transplant"])
    efficacy = cumulative_incidence(hcc, [28, 84, 168, 336], groups=trial.study.arm_ids, causes=["hcc"])
    a = safety[safety["state"] == "hcc"].set_index("group")
    b = efficacy[efficacy["time"] == 336].set_index("group")
    pd.testing.assert_frame_equal(a, b)


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
