"""Single-sample model metrics: ROC AUC with DeLong intervals and tests, the oracle's AUC, the
corrected resampled t-test (Nadeau & Bengio), Brier score, calibration intercept and slope."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = ["auc_ci", "delong_test", "oracle_performance", "corrected_ttest", "brier_score", "calibration_slope"]


def _delong_parts(y, score):
    """AUC and DeLong's structural components (V10 for events, V01 for non-events)."""
    y = np.asarray(y).astype(int)
    s = np.asarray(score, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ValueError("the AUC needs at least one event and one non-event")
    allr = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (allr[:m] - stats.rankdata(pos)) / n
    v01 = 1.0 - (allr[m:] - stats.rankdata(neg)) / m
    return float(v10.mean()), v10, v01


def auc_ci(y: npt.ArrayLike, score: npt.ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """ROC AUC of ``score`` for binary ``y`` with DeLong's standard error and Wald CI.

    Higher scores mean higher risk. Missing scores are dropped. The CI is ``auc ± z se``, clipped to
    [0, 1] (as R's ``pROC::ci.auc(method = "delong")``). Hand-written (the midrank algorithm, a few
    lines): scikit-learn's ``roc_auc_score`` gives the AUC without a standard error, and no
    well-kept Python library computes DeLong's variance.

    Returns
    -------
    DataFrame
        One row: ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n``, ``n_events``.

    References
    ----------
    DeLong ER, DeLong DM, Clarke-Pearson DL. Biometrics 1988;44:837-845. Sun X, Xu W. IEEE Signal
    Process Lett 2014;21:1389-1393 (the midrank algorithm used here).

    Examples
    --------
    >>> auc_ci([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])[["estimate", "n", "n_events"]]
       estimate  n  n_events
    0      0.75  4         2
    """
    yv = np.asarray(y).astype(float)
    s = np.asarray(score, dtype=float)
    ok = ~np.isnan(s) & ~np.isnan(yv)
    yv, s = yv[ok].astype(int), s[ok]
    auc, v10, v01 = _delong_parts(yv, s)
    m, n = len(v10), len(v01)
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    se = float(np.sqrt(var))
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame([{"estimate": auc, "se": se, "ci_low": max(0.0, auc - z * se),
                          "ci_high": min(1.0, auc + z * se), "n": int(len(yv)), "n_events": int(yv.sum())}])


def delong_test(y: npt.ArrayLike, score_a: npt.ArrayLike, score_b: npt.ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """DeLong's test of two correlated ROC AUCs (the same subjects scored twice).

    Returns
    -------
    DataFrame
        One row: ``auc_a``, ``auc_b``, ``estimate`` (``auc_a - auc_b``), ``se``, ``ci_low``,
        ``ci_high``, ``z``, ``p_value`` (two-sided), ``n``. Subjects missing either score are dropped.

    Examples
    --------
    >>> r = delong_test([0, 0, 0, 1, 1, 1], [1, 2, 3, 4, 5, 6], [1, 5, 3, 4, 2, 6])
    >>> r[["auc_a", "auc_b", "estimate"]].round(3).iloc[0].tolist()
    [1.0, 0.667, 0.333]
    """
    yv = np.asarray(y).astype(float)
    a, b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    ok = ~np.isnan(a) & ~np.isnan(b) & ~np.isnan(yv)
    yv, a, b = yv[ok].astype(int), a[ok], b[ok]
    auc_a, v10a, v01a = _delong_parts(yv, a)
    auc_b, v10b, v01b = _delong_parts(yv, b)
    s10 = np.cov(np.vstack([v10a, v10b]), ddof=1)
    s01 = np.cov(np.vstack([v01a, v01b]), ddof=1)
    cov = s10 / len(v10a) + s01 / len(v01a)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    se = float(np.sqrt(max(var, 0.0)))
    d = auc_a - auc_b
    zq = stats.norm.ppf(1 - alpha / 2)
    z = d / se if se > 0 else np.nan
    p = float(2 * stats.norm.sf(abs(z))) if se > 0 else np.nan
    return pd.DataFrame([{"auc_a": auc_a, "auc_b": auc_b, "estimate": d, "se": se, "ci_low": d - zq * se,
                          "ci_high": d + zq * se, "z": z, "p_value": p, "n": int(len(yv))}])


def oracle_performance(y: npt.ArrayLike, oracle: npt.ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """AUC (DeLong CI) and Brier score of the simulator's true risk: the ceiling for any model.

    Returns
    -------
    DataFrame
        One row: ``model`` (``"oracle"``), ``estimate``, ``se``, ``ci_low``, ``ci_high`` (AUC),
        ``brier``, ``n``, ``n_events``.

    Examples
    --------
    >>> oracle_performance([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6])[["model", "estimate", "brier"]]
        model  estimate   brier
    0  oracle       1.0  0.075
    """
    r = auc_ci(y, oracle, alpha)
    r.insert(0, "model", "oracle")
    r.insert(5, "brier", brier_score(y, oracle))
    return r


def corrected_ttest(values: npt.ArrayLike, test_train_ratio: float, alpha: float = 0.05, null: float = 0.0) -> dict:
    """Mean of per-fold values with the corrected resampled t-test (Nadeau & Bengio 2003).

    For J folds from repeated K-fold CV the variance of the mean is
    ``(1/J + n_test/n_train) * s^2`` (``s^2`` the sample variance of the J values), referred to a t
    distribution with J - 1 degrees of freedom; the ``n_test/n_train`` term accounts for the overlap
    of training sets that makes the naive ``s^2/J`` far too small.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``t``, ``p_value`` (two-sided, against
        ``null``), ``n_folds``.

    References
    ----------
    Nadeau C, Bengio Y. Machine Learning 2003;52:239-281. Bouckaert RR, Frank E. PAKDD 2004.

    Examples
    --------
    >>> r = corrected_ttest([0.02, 0.04, 0.00, 0.06], test_train_ratio=0.25)
    >>> round(r["estimate"], 3), round(r["se"], 4)   # sqrt((1/4 + 0.25) * 0.000667)
    (0.03, 0.0183)
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    j = len(v)
    est = float(v.mean()) if j else np.nan
    if j < 2:
        return {"estimate": est, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "t": np.nan,
                "p_value": np.nan, "n_folds": j}
    se = float(np.sqrt((1.0 / j + test_train_ratio) * v.var(ddof=1)))
    q = stats.t.ppf(1 - alpha / 2, j - 1)
    t = (est - null) / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), j - 1)) if se > 0 else np.nan
    return {"estimate": est, "se": se, "ci_low": est - q * se, "ci_high": est + q * se, "t": t, "p_value": p,
            "n_folds": j}


def brier_score(y: npt.ArrayLike, risk: npt.ArrayLike) -> float:
    """Mean squared difference between predicted risk and the 0/1 outcome.

    Examples
    --------
    >>> round(brier_score([0, 1, 1], [0.2, 0.6, 1.0]), 6)
    0.066667
    """
    y, p = np.asarray(y, dtype=float), np.asarray(risk, dtype=float)
    return float(np.mean((p - y) ** 2))


def calibration_slope(y: npt.ArrayLike, risk: npt.ArrayLike) -> dict:
    """Calibration intercept ("in the large") and slope of predicted risks (Cox 1958; Steyerberg).

    ``slope`` is ``b`` in ``logit P(y=1) = a + b * logit(risk)``; ``intercept`` is ``a`` in
    ``logit P(y=1) = a + logit(risk)`` (slope fixed at 1: the offset model, R's
    ``glm(y ~ offset(qlogis(p)), binomial)``). Ideal: intercept 0, slope 1; a slope below 1 means
    predictions too extreme (overfitting). Risks are clipped to [1e-8, 1 - 1e-8].

    Returns
    -------
    dict
        ``intercept``, ``intercept_se``, ``slope``, ``slope_se``, ``n``.

    Examples
    --------
    >>> r = calibration_slope([0, 0, 1, 0, 1, 1, 0, 1], [0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.2, 0.9])
    >>> round(r["slope"], 3) > 0
    True
    """
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(risk, dtype=float), 1e-8, 1 - 1e-8)
    lp = np.log(p / (1 - p))
    out = {"intercept": np.nan, "intercept_se": np.nan, "slope": np.nan, "slope_se": np.nan, "n": int(len(y))}
    if len(np.unique(y)) < 2 or np.ptp(lp) == 0:
        return out
    fam = sm.families.Binomial()
    try:
        off = sm.GLM(y, np.ones((len(y), 1)), family=fam, offset=lp).fit(tol=1e-13, maxiter=200)
        full = sm.GLM(y, sm.add_constant(lp, has_constant="add"), family=fam).fit(tol=1e-13, maxiter=200)
    except Exception:  # perfect separation and the like: no estimate
        return out
    out.update(intercept=float(off.params[0]), intercept_se=float(off.bse[0]), slope=float(full.params[1]),
               slope_se=float(full.bse[1]))
    return out
