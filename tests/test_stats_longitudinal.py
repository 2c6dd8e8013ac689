"""Repeated-measures models (trialkit.stats.longitudinal) against R nlme and the simulator's truth.

Reference numbers: ``tests/reference/efficacy.R`` (nlme 3.1.162) on ``tests/reference/efficacy_labs.csv``:
``lme(change ~ 0 + visit + visit:baseline + visit:arm, random = ~1 | subject_id, method = "REML")``
and ``gls(..., correlation = corSymm(), weights = varIdent(~1 | visit), method = "REML")`` (the latter
with a tightened optimizer, see the script). Tolerance: 1e-6 relative for coefficients, standard
errors, t statistics and LS-means.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialkit as tk
from trialkit.derive.change import change_from_baseline, target_visit
from trialkit.stats import longitudinal as L
from trialkit.study import load_study, study_from_dict

REF = Path(__file__).parent / "reference"
TOL = 1e-6


@pytest.fixture(scope="module")
def labs():
    return pd.read_csv(REF / "efficacy_labs.csv")


def rname(name: str) -> str:
    """trialkit's column name -> R's: visit[W24]:arm[msc] -> visitW24:armmsc."""
    return name.replace("[", "").replace("]", "")


def close(a, b, tol=TOL):
    return abs(a - b) <= tol * max(abs(b), 1e-12)


@pytest.fixture(scope="module")
def fits(labs):
    study = load_study()
    return {(p, c): L.fit_mmrm(labs[labs["parameter"] == p], study=study, covariance=c)
            for p in ("TBIL", "ALB") for c in L.COVARIANCES}


@pytest.mark.parametrize("parameter", ["TBIL", "ALB"])
@pytest.mark.parametrize("covariance, block", [("random_intercept", "lme_"), ("unstructured", "glsUN_")])
def test_fixed_effects_against_R(fits, R, parameter, covariance, block):
    f = fits[(parameter, covariance)]
    blk = block + parameter
    se = np.sqrt(np.diag(f.cov))
    assert len(f.params) == 40
    for name, b, s, df in zip(f.params.index, f.params, se, f.df):
        key = rname(name)
        assert close(b, R[(blk, key + ":coef")]), key
        assert close(s, R[(blk, key + ":se")]), key
        assert close(b / s, R[(blk, key + ":t")]), key
        assert df == (R[(blk, key + ":df")] if covariance == "random_intercept" else R[(blk, "df")])
    assert close(f.loglik, R[(blk, "loglik")])
    assert f.variance["converged"]


def test_variance_components_against_R(fits, R):
    for p in ("TBIL", "ALB"):
        v = fits[(p, "random_intercept")].variance
        assert close(v["tau2"], R[("lme_" + p, "tau2")])
        assert close(v["sigma2"], R[("lme_" + p, "sigma2")])
        assert R[("glsCS_" + p, "max_rel_diff_to_lme")] < 1e-6  # gls(corCompSymm) is the same model in R


@pytest.mark.parametrize("covariance, block", [("random_intercept", "lme_"), ("unstructured", "glsUN_")])
def test_lsmeans_and_contrasts_against_R(fits, R, covariance, block):
    for p in ("TBIL", "ALB"):
        f = fits[(p, covariance)]
        ls = L.lsmeans(f)
        assert len(ls) == 4 * 8
        for r in ls.itertuples():
            assert close(r.estimate, R[(block + p, f"lsmean:{r.arm}@{r.visit}")])
            assert close(r.se, R[(block + p, f"lsmean_se:{r.arm}@{r.visit}")])
        ct = L.contrasts(f)
        for r in ct.itertuples():
            key = f"visit{r.visit}:arm{r.arm}"
            assert close(r.estimate, R[(block + p, key + ":coef")])
            assert close(r.statistic, R[(block + p, key + ":t")])
            # p-values: the t statistic agrees to 1e-6, so the p-value to ~1e-5 relative
            assert close(r.p_value, R[(block + p, key + ":p")], 1e-5)


def test_contrast_is_difference_of_lsmeans(fits):
    f = fits[("TBIL", "unstructured")]
    ls = L.lsmeans(f).set_index(["arm", "visit"])["estimate"]
    ct = L.contrasts(f).set_index(["arm", "visit"])["estimate"]
    for (a, v), est in ct.items():
        assert np.isclose(est, ls[(a, v)] - ls[("control", v)], atol=1e-12)


def test_lsmeans_contrasts_terms_equal_one_combination_at_a_time(fits):
    """The matrix algebra of lsmeans/contrasts/term_effects gives MMRMFit.estimate's numbers row by row."""
    from scipy import stats

    for f in fits.values():
        ls, ct = L.lsmeans(f), L.contrasts(f)
        terms = pd.concat([L.term_effects(f, v) for v in f.visits], ignore_index=True)
        rows = [(r, L._arm_weights(f, r.arm, r.visit)) for r in ls.itertuples()]
        rows += [(r, L._arm_weights(f, r.arm, r.visit, minus=f.control)) for r in ct.itertuples()]
        rows += [(r, {f"visit[{r.visit}]:{r.term}": 1.0}) for r in terms.itertuples()]
        assert len(rows) == 32 + 24 + 24
        for r, w in rows:
            est, se, df = f.estimate(w)
            q = stats.t.ppf(1 - f.alpha / 2, df)
            p = 2 * stats.t.sf(abs(est / se), df)
            assert np.allclose([r.estimate, r.se, r.df, r.statistic, r.ci_low, r.ci_high, r.p_value],
                               [est, se, df, est / se, est - q * se, est + q * se, p], rtol=1e-12, atol=1e-14)


def test_tables_equal_the_code_before_the_speed_up():
    """analyze_parameters on the default trial (both covariances and populations, the factorial model)
    gives the numbers the code before issue 16's speed-up wrote (benchmarks/longitudinal_reference.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
    from longitudinal_reference import reference_tables

    ref = pd.read_csv(REF / "longitudinal_before_speedup.csv")
    new = reference_tables()
    keys = ["case", "table", "parameter", "arm", "term", "visit", "column"]
    assert new[keys].astype(str).equals(ref[keys].astype(str))
    a, b = ref["value"].to_numpy(float), new["value"].to_numpy(float)
    assert (np.isnan(a) == np.isnan(b)).all()
    assert np.nanmax(np.abs(a - b)) < 1e-10
    assert len(ref) > 4000 and ref["case"].nunique() == 5


@pytest.mark.parametrize("n_sub", [60, 120, 400])
def test_random_intercept_sums_equal_statsmodels_mixedlm(n_sub):
    """The closed-form random-intercept REML of large trials (sums per subject) gives statsmodels
    MixedLM's fit (the default path) to 1e-10: coefficients, their covariance, variance components
    and log-likelihood (unbalanced visits, as in a trial with dropouts)."""
    rng = np.random.default_rng(n_sub)
    g = np.repeat(np.arange(n_sub), rng.integers(1, 6, n_sub))
    X = np.column_stack([np.ones(len(g)), rng.normal(size=len(g)), rng.integers(0, 2, len(g))])
    y = X @ [1.0, 0.5, -0.3] + 0.7 * rng.normal(size=n_sub)[g] + rng.normal(size=len(g))
    b0, c0, l0, v0 = L._fit_random_intercept_mixedlm(y, X, g)
    b1, c1, l1, v1 = L._fit_random_intercept_sums(y, X, g)
    assert np.abs(b0 - b1).max() < 1e-10 and np.abs(c0 - c1).max() < 1e-10 and abs(l0 - l1) < 1e-10
    assert abs(v0["tau2"] - v1["tau2"]) < 1e-10 and abs(v0["sigma2"] - v1["sigma2"]) < 1e-10 and v1["converged"]


def test_random_intercept_sums_on_the_default_trial(labs, monkeypatch):
    """Forced onto the default trial's labs (as a 100,000-subject trial takes it), the closed form gives
    MixedLM's tables to 1e-6 relative (MixedLM stops short of the optimum by about 1e-8 there)."""
    study = load_study()
    d = labs[labs["parameter"] == "TBIL"]
    ref = L.fit_mmrm(d, study=study, covariance="random_intercept")
    monkeypatch.setattr(L, "RI_SUMS_FROM", 0)
    new = L.fit_mmrm(d, study=study, covariance="random_intercept")
    assert np.allclose(new.params, ref.params, rtol=1e-6, atol=1e-9)
    assert np.allclose(new.cov.to_numpy(), ref.cov.to_numpy(), rtol=1e-6, atol=1e-12)
    assert abs(new.loglik - ref.loglik) < 1e-6 * abs(ref.loglik)


def test_factorial_terms_against_R(labs, R):
    f = L.fit_mmrm(labs[labs["parameter"] == "TBIL"], study=load_study(), model="factorial",
                   covariance="random_intercept")
    t = L.term_effects(f, "W24").set_index("term")
    names = {"msc": "visitW24:msc", "pe": "visitW24:pe", "msc:pe": "visitW24:mscpe"}
    for term, key in names.items():
        assert close(t.loc[term, "estimate"], R[("lme_factorial_TBIL", key + ":coef")])
        assert close(t.loc[term, "se"], R[("lme_factorial_TBIL", key + ":se")])


def test_treatment_design_is_generic():
    cols, x = L.treatment_design(load_study(), "arm")
    assert cols == ["arm[msc]", "arm[pe]", "arm[pe_msc]"] and x["control"] == {c: 0 for c in cols}
    assert L.treatment_design(load_study(), "main")[0] == ["msc", "pe"]
    raw = dict(load_study().raw)
    raw["factors"] = {"msc": raw["factors"]["msc"]}
    raw["arms"] = [{"id": "soc", "label": "SOC", "factors": {"msc": False}},
                   {"id": "cells", "label": "MSC", "factors": {"msc": True}}]
    raw["control_arm"] = "soc"
    two = study_from_dict(raw)
    assert L.treatment_design(two, "factorial") == (["msc"], {"soc": {"msc": 0}, "cells": {"msc": 1}})
    assert L.treatment_design(two, "arm")[0] == ["arm[cells]"]


def test_nlme_containment_df():
    X = np.array([[1, 0, 5.0], [0, 1, 5.0], [1, 0, 3.0], [0, 1, 3.0], [1, 0, 2.0]])
    g = np.array([0, 0, 1, 1, 2])
    # columns 0 and 1 vary within subjects (within: N - groups - 2 + 1); column 2 is a subject-level value
    assert L._nlme_df(X, g, 3).tolist() == [5 - 3 - 2 + 1, 5 - 3 - 2 + 1, 3 - 1]


def test_analyze_parameters_tables_and_back_transform(labs):
    long = labs.assign(scale=np.where(labs["parameter"] == "TBIL", "log", "identity"), survivor=True)
    r = L.analyze_parameters(long, load_study(), ["TBIL", "ALB"], covariance="random_intercept")
    ct = r["contrasts"]
    assert set(ct["parameter"]) == {"TBIL", "ALB"} and len(ct) == 2 * 3 * 8
    tb = ct[ct["parameter"] == "TBIL"]
    assert np.allclose(tb["display_estimate"], np.exp(tb["estimate"]))
    al = ct[ct["parameter"] == "ALB"]
    assert np.allclose(al["display_ci_low"], al["ci_low"])
    assert r["fits"]["converged"].all() and (r["fits"]["note"] == "").all()
    assert ct["visit_day"].tolist()[:2] == [3, 7]
    # population="survivors" uses only subjects flagged as survivors
    flagged = long.assign(survivor=long["subject_id"] < "S060")
    rs = L.analyze_parameters(flagged, load_study(), ["ALB"], covariance="random_intercept", population="survivors")
    assert rs["fits"]["n_subjects"].item() == flagged.loc[flagged["survivor"] & (flagged["parameter"] == "ALB"),
                                                          "subject_id"].nunique()
    with pytest.raises(ValueError):
        L.analyze_parameters(long, load_study(), population="some")


def test_too_little_data_is_reported_not_fitted(labs):
    d = labs[(labs["parameter"] == "ALB") & (labs["subject_id"] < "S004")].assign(scale="identity", survivor=True)
    r = L.analyze_parameters(d, load_study(), ["ALB"])
    assert r["fits"]["note"].item() == "too little data" and r["contrasts"].empty


def test_a_parameter_whose_model_cannot_be_fitted_is_reported(labs, monkeypatch):
    """A fit that raises (and whose random-intercept fallback raises too) gives a note for that parameter
    and no rows; the other parameters are unaffected (never reported under the wrong name)."""
    real = L.fit_mmrm

    def failing(d, **kw):
        if (d["parameter"] == "TBIL").any():
            raise np.linalg.LinAlgError("singular matrix")
        return real(d, **kw)

    monkeypatch.setattr(L, "fit_mmrm", failing)
    long = labs.assign(scale="identity", survivor=True)
    for cov in ("random_intercept", "unstructured"):
        r = L.analyze_parameters(long, load_study(), ["TBIL", "ALB"], covariance=cov)
        f = r["fits"].set_index("parameter")
        assert f.loc["TBIL", "note"] == "model could not be fitted: singular matrix"
        assert not f.loc["TBIL", "converged"] and f.loc["ALB", "converged"]
        assert set(r["contrasts"]["parameter"]) == {"ALB"}


def test_inputs_are_not_modified(labs):
    before = labs.copy()
    L.fit_mmrm(labs[labs["parameter"] == "ALB"], study=load_study(), covariance="unstructured")
    pd.testing.assert_frame_equal(labs, before)


@pytest.fixture(scope="module")
def large():
    return tk.simulate(scenario="large")


def test_lab_effects_recover_the_truth_in_a_large_trial(large):
    """4,000 simulated subjects: among survivors (the truth's estimand: mean change at the secondary
    horizon among patients alive and event-free, adjusted for baseline), the target-visit contrasts of
    the unstructured MMRM cover every arm's true effect. The 15 intervals are Bonferroni-adjusted to
    hold together with 95% confidence (each at 1 - 0.05/15)."""
    truth = large.truth
    labs = ["TBIL", "ALB", "ALT", "INR", "TH1_TH2"]
    long = change_from_baseline(large, labs, log=["TBIL", "ALT", "INR", "TH1_TH2"])
    k = len(labs) * 3
    r = L.analyze_parameters(long, large.study, labs, covariance="unstructured", population="survivors",
                             alpha=0.05 / k)
    assert r["fits"]["converged"].all()
    tv = target_visit(large.study)
    ct = r["contrasts"][r["contrasts"]["visit"] == tv]
    assert len(ct) == k
    th = truth["th1_th2"]["effects"]
    th_arm = {"msc": th["msc"], "pe": th["pe"], "pe_msc": th["msc"] + th["pe"] + th["msc*pe"]}
    for row in ct.itertuples():
        x = th_arm[row.arm] if row.parameter == "TH1_TH2" else \
            truth["labs"]["parameters"][row.parameter]["arm_vs_control"][row.arm]
        assert row.ci_low <= x <= row.ci_high, (row.parameter, row.arm, row.estimate, x)
    # the estimates are also close in absolute terms (ALB in g/L, the others on the log scale)
    tb = ct[(ct["parameter"] == "TBIL") & (ct["arm"] == "msc")]["estimate"].item()
    assert abs(tb - truth["labs"]["parameters"]["TBIL"]["arm_vs_control"]["msc"]) < 0.05
