"""trialkit.stats.categorical against scipy, R's printed values and hand calculations."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trialkit.stats.categorical import (
    clopper_pearson,
    compare_to_reference,
    fisher_exact_test,
    poisson_rate_ci,
    rate_ratio_exact,
)


@pytest.mark.parametrize("x,n", [(0, 1), (0, 30), (1, 30), (3, 30), (15, 30), (29, 30), (30, 30), (7, 113)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_clopper_pearson_against_scipy(x, n, alpha):
    r = clopper_pearson(x, n, alpha).iloc[0]
    ci = stats.binomtest(x, n).proportion_ci(confidence_level=1 - alpha, method="exact")
    assert r["estimate"] == pytest.approx(x / n)
    assert r["ci_low"] == pytest.approx(ci.low, abs=1e-12)
    assert r["ci_high"] == pytest.approx(ci.high, abs=1e-12)


def test_clopper_pearson_hand_values():
    # x = 0: upper limit solves (1 - p)^n = alpha/2, i.e. 1 - 0.025^(1/n)
    r = clopper_pearson(0, 30).iloc[0]
    assert r["ci_low"] == 0.0
    assert r["ci_high"] == pytest.approx(1 - 0.025 ** (1 / 30), rel=1e-10)
    # x = n: lower limit = 0.025^(1/n)
    assert clopper_pearson(12, 12).iloc[0]["ci_low"] == pytest.approx(0.025 ** (1 / 12), rel=1e-10)
    # R: binom.test(3, 30)$conf.int -> 0.02111714 0.26528845
    r = clopper_pearson(3, 30).iloc[0]
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((0.02111714, 0.26528845), abs=5e-9)


def test_clopper_pearson_vectorised_and_invalid():
    r = clopper_pearson(np.array([1, 2]), 10)
    assert r["n"].tolist() == [10, 10] and r["x"].tolist() == [1, 2]
    assert np.isnan(clopper_pearson(0, 0).iloc[0]["estimate"])
    with pytest.raises(ValueError):
        clopper_pearson(5, 4)


@pytest.mark.parametrize("x1,n1,x0,n0", [(7, 20, 1, 20), (0, 30, 3, 30), (5, 29, 5, 30), (2, 10, 0, 8)])
def test_fisher_against_scipy(x1, n1, x0, n0):
    r = fisher_exact_test(x1, n1, x0, n0)
    table = [[x1, n1 - x1], [x0, n0 - x0]]
    assert r["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue, rel=1e-12)
    orr = stats.contingency.odds_ratio(table, kind="conditional")
    assert r["estimate"] == pytest.approx(orr.statistic, rel=1e-10)
    assert r["risk_difference"] == pytest.approx(x1 / n1 - x0 / n0)


def test_fisher_against_r_value_and_no_events():
    # R: fisher.test(matrix(c(7, 13, 1, 19), 2, byrow = TRUE))$p.value -> 0.04359604
    assert fisher_exact_test(7, 20, 1, 20)["p_value"] == pytest.approx(0.04359604, abs=5e-9)
    r = fisher_exact_test(0, 20, 0, 25)
    assert r["p_value"] == 1.0 and np.isnan(r["estimate"])


def test_compare_to_reference_rows():
    c = pd.DataFrame({"group": ["b", "ctl", "a"], "x": [4, 1, 7], "n": [20, 20, 20]})
    out = compare_to_reference(c, "ctl")
    assert out["group"].tolist() == ["b", "a"]
    assert (out["x_ref"] == 1).all() and (out["reference"] == "ctl").all()
    assert out.loc[1, "p_value"] == pytest.approx(stats.fisher_exact([[7, 13], [1, 19]]).pvalue)
    with pytest.raises(ValueError):
        compare_to_reference(c, "nope")


def test_poisson_rate_ci_against_r_and_hand():
    # R: poisson.test(10, 1)$conf.int -> 4.795389 18.390356
    r = poisson_rate_ci(10, 1.0).iloc[0]
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((4.795389, 18.390356), abs=5e-7)
    # k = 0: upper = -log(alpha/2) / T (chi-square with 2 df), lower = 0
    r = poisson_rate_ci(0, 20.0, per=100).iloc[0]
    assert r["ci_low"] == 0 and r["ci_high"] == pytest.approx(-np.log(0.025) / 20 * 100, rel=1e-12)
    # exact CI equals the gamma-quantile form
    r = poisson_rate_ci(7, 3.5).iloc[0]
    assert r["ci_low"] == pytest.approx(stats.gamma.ppf(0.025, 7) / 3.5)
    assert r["ci_high"] == pytest.approx(stats.gamma.ppf(0.975, 8) / 3.5)
    assert r["estimate"] == pytest.approx(2.0)



def test_poisson_rate_ci_unchanged_by_the_switch_to_statsmodels():
    """The Garwood formula the kit computed by hand before it called statsmodels' ``confint_poisson``."""
    k = np.array([0, 1, 2, 5, 10, 37, 250, 0, 3, 1000])
    t = np.array([1, 2.5, 0.3, 10, 1, 12.2, 100, 0, 0, 7.5])
    for alpha in (0.05, 0.1, 0.01):
        with np.errstate(invalid="ignore", divide="ignore"):
            tt = np.where(t > 0, t, np.nan)
            lo = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(k, 1e-300)) / 2, 0.0) / tt
            hi = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2 / tt
        r = poisson_rate_ci(k, t, alpha=alpha, per=100)
        np.testing.assert_allclose(r["ci_low"], lo * 100, rtol=1e-12, atol=0)
        np.testing.assert_allclose(r["ci_high"], hi * 100, rtol=1e-12, atol=0)
        assert (r["ci_low"].to_numpy()[k == 0][:1] == 0).all()
        assert r.loc[t == 0, ["estimate", "ci_low", "ci_high"]].isna().all().all()

def test_rate_ratio_exact_against_r_and_binomial():
    # R: poisson.test(c(10, 4), c(2, 2))$p.value -> 0.1795654
    r = rate_ratio_exact(10, 2.0, 4, 2.0)
    assert r["p_value"] == pytest.approx(0.1795654, abs=5e-8)
    assert r["estimate"] == pytest.approx(2.5)
    ci = stats.binomtest(10, 14, 0.5).proportion_ci(method="exact")
    assert r["ci_low"] == pytest.approx(ci.low / (1 - ci.low))
    assert r["ci_high"] == pytest.approx(ci.high / (1 - ci.high))
    # unequal exposure: p0 = t1 / (t1 + t0)
    r = rate_ratio_exact(3, 10.0, 6, 5.0)
    assert r["p_value"] == pytest.approx(stats.binomtest(3, 9, 10 / 15).pvalue)
    assert r["estimate"] == pytest.approx((3 / 10) / (6 / 5))
    assert np.isnan(rate_ratio_exact(0, 1.0, 0, 1.0)["p_value"])


def test_wilson_interval_matches_statsmodels_and_contains_the_estimate():
    from statsmodels.stats.proportion import proportion_confint

    from trialkit.stats.categorical import wilson_interval

    k = np.array([0, 1, 7, 19, 20, 3, 50])
    n = np.array([20, 20, 20, 20, 20, 7, 2000])
    for alpha in (0.05, 0.1):
        lo, hi = wilson_interval(k, n, alpha)
        ref_lo, ref_hi = proportion_confint(k, n, alpha=alpha, method="wilson")
        assert np.allclose(lo, ref_lo, atol=1e-12) and np.allclose(hi, ref_hi, atol=1e-12)
        p = k / n
        assert (lo <= p).all() and (p <= hi).all()  # exactly, also at 0 and n (floating point)
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    assert all(np.isnan(wilson_interval(0, 0)))


def test_fisher_without_odds_ratio_same_p_value():
    """odds_ratio=False (the incidence tables, which show only the p-value) skips the conditional odds
    ratio and its interval: same p-value and risk difference, NaN estimate and interval."""
    from trialkit.stats.categorical import compare_to_reference, fisher_exact_test

    full, quick = fisher_exact_test(7, 20, 1, 20), fisher_exact_test(7, 20, 1, 20, odds_ratio=False)
    assert quick["p_value"] == full["p_value"] and quick["risk_difference"] == full["risk_difference"]
    assert np.isnan([quick["estimate"], quick["ci_low"], quick["ci_high"]]).all() and full["estimate"] > 1
    c = pd.DataFrame({"group": ["ctl", "a", "b"], "x": [1, 7, 3], "n": [20, 20, 25]})
    a, b = compare_to_reference(c, "ctl"), compare_to_reference(c, "ctl", odds_ratio=False)
    assert a["p_value"].tolist() == b["p_value"].tolist() and b["estimate"].isna().all()
