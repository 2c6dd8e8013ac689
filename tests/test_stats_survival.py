"""Survival analysis (trialkit.stats.survival) against R and against the simulator's truth.

Reference numbers: ``tests/reference/efficacy.R`` (R 4.2.2, survival 3.5.3) on the committed
``tests/reference/efficacy_tte.csv`` (default scenario, seed 2012), written to
``tests/reference/efficacy_r.csv``. Tolerance: 1e-6 relative (agreement is ~1e-10 in practice).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.derive.tte import time_to_event
from trialkit.stats import survival as S
from trialkit.study import load_study, study_from_dict

TOL = 1e-6
ARMS = ["control", "msc", "pe", "pe_msc"]
R_ARM = {"msc": "armmsc", "pe": "armpe", "pe_msc": "armpe_msc"}
R_ARM_INV = {v: k for k, v in R_ARM.items()}


def close(a, b, tol=TOL):
    return abs(a - b) <= tol * max(abs(b), 1e-12)


def test_km_survival_at_times_against_R(tte, R):
    """R: summary(survfit(Surv(time, event) ~ arm, conf.type = "log-log"), times = ...)."""
    s = S.survival_at(tte, [28, 84, 168, 336], groups=ARMS)
    assert len(s) == 16
    for r in s.itertuples():
        k = f"{r.group}@{int(r.time)}"
        assert close(r.survival, R[("km", k + ":surv")]), k
        assert close(r.ci_low, R[("km", k + ":lower")]), k
        assert close(r.ci_high, R[("km", k + ":upper")]), k
        assert r.n_at_risk == R[("km", k + ":n.risk")], k


def test_km_table_steps(tte):
    k = S.km_table(tte, groups=ARMS)
    c = k[k["group"] == "control"]
    assert c["survival"].iloc[0] == 1.0 and c["n_at_risk"].iloc[0] == 30
    assert (np.diff(c["survival"]) <= 1e-15).all()
    assert int(c["n_event"].sum()) == int(tte.loc[tte["arm"] == "control", "event"].sum())
    assert ((c["ci_low"] <= c["survival"] + 1e-12) & (c["survival"] <= c["ci_high"] + 1e-12)).all()


def test_number_at_risk_matches_R(tte, R):
    n = S.number_at_risk(tte, [0, 28, 84, 168, 336], groups=ARMS)
    assert n.loc["control", 0] == 30
    for a in ARMS:
        for t in (28, 84, 168, 336):
            assert n.loc[a, t] == R[("km", f"{a}@{t}:n.risk")]


def test_logrank_against_R(tte, R):
    """R: survdiff(Surv(time, event) ~ arm)$chisq, global and each arm vs control."""
    lr = S.logrank(tte, groups=ARMS)
    assert lr["comparison"].tolist() == ["global", "msc vs control", "pe vs control", "pe_msc vs control"]
    assert close(lr["statistic"].iloc[0], R[("logrank", "global")]) and lr["df"].iloc[0] == 3
    for r in lr.iloc[1:].itertuples():
        assert close(r.statistic, R[("logrank", r.group)])


@pytest.mark.parametrize("block, fitter", [
    ("cox_arm", lambda d, s: S.cox_arm(d, s)),
    ("cox_factorial", lambda d, s: S.cox_factorial(d, s)),
    ("cox_main", lambda d, s: S.cox_factorial(d, s, interaction=False)),
])
def test_cox_against_R(tte, R, block, fitter):
    """R: coxph(Surv(time, event) ~ arm | msc * pe | msc + pe, ties = "efron"): coef, se, z, loglik, LR test."""
    fit = fitter(tte, load_study())
    names = R_ARM if block == "cox_arm" else {}
    for r in fit.table.itertuples():
        key = names.get(r.term, r.term)
        assert close(r.coef, R[(block, key + ":coef")]), key
        assert close(r.se, R[(block, key + ":se")]), key
        assert close(r.z, R[(block, key + ":z")]), key
        assert close(r.estimate, np.exp(R[(block, key + ":coef")]))
    assert close(fit.loglik, R[(block, "loglik")])
    assert close(fit.lr_test()["statistic"], R[(block, "lrt")])


def test_cox_table_columns_and_labels(tte):
    fit = S.cox_factorial(tte, load_study())
    t = fit.table
    assert t["term"].tolist() == ["msc", "pe", "msc:pe"]
    assert t["label"].tolist() == ["UC-MSC", "Plasma exchange", "UC-MSC × Plasma exchange"]
    assert {"estimate", "ci_low", "ci_high", "coef", "se", "z", "p_value", "n", "events"} <= set(t.columns)
    assert (t["ci_low"] < t["estimate"]).all() and (t["estimate"] < t["ci_high"]).all()
    arm = S.cox_arm(tte, load_study()).table
    assert arm["label"].tolist()[2] == "PE + UC-MSC vs Conventional care"


def test_arm_model_equals_saturated_factorial_model(tte):
    """Arm indicators and msc + pe + msc:pe span the same design: PE+MSC's HR is exp(sum of terms)."""
    arm = S.cox_arm(tte, load_study()).table.set_index("term")
    fac = S.cox_factorial(tte, load_study()).table.set_index("term")
    assert np.isclose(arm.loc["pe_msc", "coef"], fac["coef"].sum(), rtol=1e-9)
    assert np.isclose(arm.loc["msc", "coef"], fac.loc["msc", "coef"], rtol=1e-9)


def test_factorial_terms_skip_what_the_arms_cannot_identify(tte):
    """Three arms, two factors, no combination arm: the interaction is not estimable and is left out."""
    raw = dict(load_study().raw)
    raw["arms"] = [a for a in raw["arms"] if a["id"] != "pe_msc"]
    three = study_from_dict(raw)
    d = tte[tte["arm"] != "pe_msc"]
    assert S.cox_factorial(d, three).table["term"].tolist() == ["msc", "pe"]


REF = Path(__file__).parent / "reference"
ROSSI_COVARIATES = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def zph_R():
    """R's cox.zph table (tests/reference/ph_test.R, its printed output in ph_test_output.txt)."""
    meta = json.loads((REF / "ph_test_expected.json").read_text())
    assert meta["survival"] >= "3.0"  # the exact score test
    return pd.read_csv(REF / "ph_test_expected.csv")


def _zph_fits(tte):
    rossi = pd.read_csv(REF / "rossi.csv")
    return {"efficacy_arm": S.cox_arm(tte, load_study()), "efficacy_factorial": S.cox_factorial(tte, load_study()),
            "rossi": S.cox_model(rossi, ROSSI_COVARIATES, duration="week", event="arrest")}


@pytest.mark.parametrize("terms", [True, False])
def test_ph_test_against_R_cox_zph(tte, zph_R, terms):
    """R 4.2.2, survival 3.5.3: cox.zph(coxph(..., ties = "efron"), transform = "km", terms = terms).

    Chi-square, df and p per term and GLOBAL, to 1e-6 relative, on the efficacy fixture (arm as one
    3-df term, or one test per arm; the factorial msc * pe model) and on a real trial (Rossi
    recidivism data, 432 subjects, 114 arrests, seven covariates, tied weeks).
    """
    fits = _zph_fits(tte)
    for name, fit in fits.items():
        exp = zph_R[(zph_R["model"] == name) & (zph_R["terms"] == terms)].reset_index(drop=True)
        got = S.ph_test(fit, terms=terms)
        want_terms = [R_ARM_INV.get(t, t) for t in exp["term"]]
        assert got["term"].tolist() == want_terms, name
        assert got["df"].tolist() == exp["df"].tolist(), name
        np.testing.assert_allclose(got["statistic"], exp["chisq"], rtol=TOL, err_msg=name)
        np.testing.assert_allclose(got["p_value"], exp["p"], rtol=TOL, err_msg=name)
    # not a trivial check: Rossi's age and work experience violate PH at 5%, the arms do not
    r = S.ph_test(fits["rossi"]).set_index("term")
    assert r.loc["age", "p_value"] < 0.05 and r.loc["wexp", "p_value"] < 0.05


def test_ph_test_exact_differs_from_the_approximation(tte):
    """The default is the exact test; the pre-3.0 approximation only by name (they differ on real data)."""
    rossi = _zph_fits(tte)["rossi"]
    exact, approx = S.ph_test(rossi), S.ph_test(rossi, method="approximate")
    assert abs(exact["statistic"].iloc[-1] - approx["statistic"].iloc[-1]) > 1e-3
    assert abs(exact.set_index("term").loc["age", "statistic"] - approx.set_index("term").loc["age", "statistic"]) > 1
    with pytest.raises(ValueError, match="method"):
        S.ph_test(rossi, method="grambsch")


def test_ph_test_against_R_approximation(tte, R):
    """Grambsch-Therneau approximation (old cox.zph, km transform) computed in R from Schoenfeld residuals."""
    for block, fit in [("zph_cox_arm", S.cox_arm(tte, load_study())),
                       ("zph_cox_factorial", S.cox_factorial(tte, load_study()))]:
        ph = S.ph_test(fit, method="approximate")
        assert ph["term"].iloc[-1] == "GLOBAL" and ph["df"].iloc[-1] == len(fit.table)
        for r in ph.itertuples():
            key = R_ARM.get(r.term, r.term) if block == "zph_cox_arm" else r.term
            assert close(r.statistic, R[(block, key)]), (block, key)
        # R's current exact score test differs by definition, but not by much
        assert abs(ph["statistic"].iloc[-1] - R[("zph_new_" + block[4:], "GLOBAL")]) < 0.1


def test_ph_verdict_wording():
    bad = pd.DataFrame({"term": ["msc", "GLOBAL"], "statistic": [9.0, 9.0], "df": [1, 1], "p_value": [0.003, 0.003]})
    v = S.ph_verdict(bad)
    assert v.startswith("The hazards do not look proportional (mainly msc)") and "RMST" in v
    ok = bad.assign(p_value=[0.5, 0.5])
    assert S.ph_verdict(ok).startswith("No evidence against proportional hazards")


def test_rmst_against_R(tte, R):
    """R: summary(survfit(...), rmean = 336)$table[, c("rmean", "se(rmean)")]."""
    r = S.rmst(tte, 336, groups=ARMS)
    for x in r.itertuples():
        assert close(x.estimate, R[("rmst", f"{x.group}:rmean")])
        assert close(x.se, R[("rmst", f"{x.group}:se")])
    d = S.rmst_difference(tte, 336, groups=ARMS)
    pm = d.set_index("group").loc["pe_msc"]
    assert close(pm["estimate"], R[("rmst", "pe_msc:rmean")] - R[("rmst", "control:rmean")])
    assert close(pm["se"], np.hypot(R[("rmst", "pe_msc:se")], R[("rmst", "control:se")]))


def test_rmst_of_a_known_curve():
    d = pd.DataFrame({"arm": "a", "time": [10.0, 20.0, 30.0, 40.0], "event": [1, 1, 1, 1]})
    # S = 1 on [0,10), .75 on [10,20), .5 on [20,30), .25 on [30,40): area to 35 = 10 + 7.5 + 5 + 1.25
    assert np.isclose(S.rmst(d, 35)["estimate"].item(), 23.75)


def test_event_counts_of_a_time_to_event_and_a_competing_risks_dataset(tte):
    """One event count for both datasets: totals add up, states keep their order, unknown states fail."""
    c = S.event_counts(tte, groups=ARMS, total=True).set_index("group")
    assert c.index.tolist() == [*ARMS, "total"] and c.columns.tolist() == ["n", "events", "censored", "follow_up_days"]
    assert c.loc["total", "n"] == len(tte) and c.loc["total", "events"] == tte["event"].sum()
    assert (c["events"] + c["censored"] == c["n"]).all()
    assert c.loc["total", "follow_up_days"] == pytest.approx(tte["time"].sum())
    cr = tte.assign(status=tte["status"].map({0: "censored", 1: "death", 2: "transplant"}))
    k = S.event_counts(cr, groups=ARMS, status="status", states=["hcc", "death", "transplant"], total=True)
    assert k.columns.tolist() == ["group", "n", "hcc", "death", "transplant", "censored", "follow_up_days"]
    assert (k["hcc"] == 0).all() and k["death"].iloc[-1] == (tte["status"] == 1).sum()
    assert (k["death"] + k["transplant"]).tolist() == c["events"].tolist()  # transplant-free = death or LT
    with pytest.raises(ValueError, match="not in states"):
        S.event_counts(cr, status="status", states=["death"])


def test_two_arm_design():
    raw = dict(load_study().raw)
    raw["factors"] = {"msc": raw["factors"]["msc"]}
    raw["arms"] = [{"id": "soc", "label": "SOC", "factors": {"msc": False}},
                   {"id": "cells", "label": "MSC", "factors": {"msc": True}}]
    raw["control_arm"] = "soc"
    two = study_from_dict(raw)
    rng = np.random.default_rng(4)
    d = pd.DataFrame({"arm": np.repeat(["soc", "cells"], 40)})
    d["msc"] = (d["arm"] == "cells").astype(int)
    d["time"] = np.ceil(rng.exponential(200 * np.exp(0.5 * d["msc"])))
    d["event"] = (d["time"] < 300).astype(int)
    d["time"] = d["time"].clip(upper=300)
    assert S.cox_arm(d, two).table["term"].tolist() == ["cells"]
    assert S.cox_factorial(d, two).table["term"].tolist() == ["msc"]
    assert np.isclose(S.cox_arm(d, two).table["coef"].item(), S.cox_factorial(d, two).table["coef"].item())
    lr = S.logrank(d, groups=["soc", "cells"])
    assert lr["statistic"].iloc[0] == pytest.approx(lr["statistic"].iloc[1])


@pytest.fixture(scope="module")
def large():
    return tk.simulate(scenario="large")


def test_hazard_ratios_recover_the_truth_in_a_large_trial(large):
    """4,000 simulated subjects (params/scenarios/large.yaml): the unadjusted factorial Cox model's
    95% CIs hold the true log hazard ratios of every term, and the arm model's the true arm HRs."""
    tte = time_to_event(large, endpoint="transplant_free")
    truth = large.truth
    fac = S.cox_factorial(tte, large.study).table.set_index("term")
    for term, log_hr in truth["log_hazard_ratios"].items():
        r = fac.loc[term.replace("*", ":")]
        assert r["ci_low"] <= np.exp(log_hr) <= r["ci_high"], (term, r["estimate"], np.exp(log_hr))
        assert r["ci_high"] / r["ci_low"] < 1.6  # and the intervals are narrow
    arm = S.cox_arm(tte, large.study).table.set_index("term")
    for a, hr in truth["hazard_ratios"]["arms_vs_control"].items():
        if a != large.study.control_arm:
            assert arm.loc[a, "ci_low"] <= hr <= arm.loc[a, "ci_high"], (a, arm.loc[a, "estimate"], hr)
    km = S.survival_at(tte, [168], groups=large.study.arm_ids)
    for r in km.itertuples():
        assert r.ci_low <= truth["survival"][r.group]["secondary"] <= r.ci_high


def test_cox_term_without_events_is_not_estimable():
    """An arm without events: the partial likelihood has no finite maximum. The table says so (NaN and
    a note) instead of reporting the optimizer's stopping point as a hazard ratio near 0."""
    d = pd.DataFrame({"time": [5., 8, 12, 3, 9, 15, 20, 7, 4, 11], "event": [1, 1, 0, 1, 0, 0, 0, 0, 1, 1],
                      "x": [0, 0, 0, 0, 1, 1, 1, 1, 0, 0], "z": [1, 0, 1, 0, 1, 0, 1, 0, 1, 0]})
    t = S.cox_model(d, ["x", "z"]).table.set_index("term")
    assert np.isnan(t.loc["x", ["estimate", "ci_low", "ci_high", "p_value"]].astype(float)).all()
    assert t.loc["x", "note"].startswith("not estimable: no events")
    assert t.loc["z", "note"] == "" and np.isfinite(t.loc["z", "estimate"])
    ok = S.cox_model(d.assign(event=[1, 1, 0, 1, 1, 0, 1, 1, 1, 1]), ["x"]).table
    assert (ok["note"] == "").all() and np.isfinite(ok["estimate"]).all()
