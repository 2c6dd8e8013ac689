"""Routines handed to the well-kept library (statsmodels) give the numbers the hand-written ones gave.

The former formulas are kept here, as the reference: Holm's step-down adjustment, the Wilson score
interval and the Clopper-Pearson beta quantiles, on every ``(x, n)`` with ``n <= 150`` and on random
p-value families with ties and missing values.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from trialkit.stats.categorical import clopper_pearson, wilson_interval
from trialkit.stats.multiplicity import holm

X, N = map(np.array, zip(*[(k, m) for m in range(1, 151) for k in range(m + 1)]))


def holm_by_hand(p_values):
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return out
    q = p[ok]
    order = np.argsort(q, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
    res = np.empty(m)
    res[order] = np.minimum(adj, 1.0)
    out[ok] = res
    return out


def wilson_by_hand(k, m, alpha):
    k, m = np.asarray(k, dtype=float), np.asarray(m, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    p = k / m
    den = 1 + z**2 / m
    centre = (p + z**2 / (2 * m)) / den
    half = z * np.sqrt(p * (1 - p) / m + z**2 / (4 * m**2)) / den
    return np.clip(np.minimum(centre - half, p), 0, 1), np.clip(np.maximum(centre + half, p), 0, 1)


def clopper_pearson_by_hand(x, n, alpha):
    x, n = np.asarray(x, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(x > 0, stats.beta.ppf(alpha / 2, np.maximum(x, 1e-300), n - x + 1), 0.0)
        hi = np.where(x < n, stats.beta.ppf(1 - alpha / 2, x + 1, np.maximum(n - x, 1e-300)), 1.0)
    return lo, hi


def test_holm_is_unchanged_with_ties_and_missing_values():
    rng = np.random.default_rng(14)
    for _ in range(300):
        p = rng.uniform(0, 0.2, rng.integers(1, 15))
        p[rng.uniform(size=p.size) < 0.3] = p[0]  # ties
        p[rng.uniform(size=p.size) < 0.1] = np.nan
        np.testing.assert_allclose(holm(p), holm_by_hand(p), rtol=0, atol=1e-15, equal_nan=True)
    assert np.isnan(holm([np.nan, np.nan])).all() and holm([]).shape == (0,)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_wilson_is_unchanged_and_exact_at_0_and_n(alpha):
    lo, hi = wilson_interval(X, N, alpha)
    ref_lo, ref_hi = wilson_by_hand(X, N, alpha)
    np.testing.assert_allclose(lo, ref_lo, rtol=0, atol=1e-14)
    np.testing.assert_allclose(hi, ref_hi, rtol=0, atol=1e-14)
    assert (lo[X == 0] == 0.0).all() and (hi[X == N] == 1.0).all()
    assert (lo <= X / N).all() and (hi >= X / N).all()
    assert np.isnan(wilson_interval(0, 0)).all() and isinstance(wilson_interval(3, 10)[0], float)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
def test_clopper_pearson_is_unchanged_and_exact_at_0_and_n(alpha):
    got = clopper_pearson(X, N, alpha)
    ref_lo, ref_hi = clopper_pearson_by_hand(X, N, alpha)
    np.testing.assert_allclose(got["ci_low"], ref_lo, rtol=0, atol=1e-14)
    np.testing.assert_allclose(got["ci_high"], ref_hi, rtol=0, atol=1e-14)
    assert (got.loc[X == 0, "ci_low"] == 0.0).all() and (got.loc[X == N, "ci_high"] == 1.0).all()
    assert clopper_pearson(0, 0)[["estimate", "ci_low", "ci_high"]].isna().all(axis=None)


def test_baseline_correlations_from_pingouin_match_scipy_fisher_z_and_holm():
    import pandas as pd

    from trialkit.tables.baseline import baseline_correlations

    rng = np.random.default_rng(3)
    d = pd.DataFrame(rng.normal(size=(40, 4)), columns=list("abcd"))
    d["b"] += d["a"]
    d.loc[:6, "c"] = np.nan
    got = baseline_correlations(d, list("abcd"))
    assert got.columns.tolist() == ["var1", "var2", "estimate", "ci_low", "ci_high", "p_value", "p_adjusted", "n"]
    for r in got.itertuples():
        pair = d[[r.var1, r.var2]].dropna()
        rho, p = stats.spearmanr(pair[r.var1], pair[r.var2])
        half = stats.norm.ppf(0.975) / np.sqrt(len(pair) - 3)
        assert (r.estimate, r.p_value, r.n) == (pytest.approx(rho, abs=1e-12), pytest.approx(p, rel=1e-9), len(pair))
        assert r.ci_low == pytest.approx(np.tanh(np.arctanh(rho) - half), abs=1e-6)
        assert r.ci_high == pytest.approx(np.tanh(np.arctanh(rho) + half), abs=1e-6)
    np.testing.assert_allclose(got["p_adjusted"], holm_by_hand(got["p_value"]), rtol=0, atol=1e-15)
    constant = baseline_correlations(d.assign(k=1.0), ["a", "k", "b"]).set_index(["var1", "var2"])
    assert constant.loc[("a", "k")].drop("n").isna().all()
    assert constant.loc[("a", "b"), "p_adjusted"] == constant.loc[("a", "b"), "p_value"]  # NaN pairs do not count
