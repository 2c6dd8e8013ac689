"""Exact methods for counts: Clopper-Pearson intervals, Fisher's exact test, Poisson rates.

Small trials have few events, so every interval here is exact (never a normal approximation) and
every function accepts zero events.

Examples
--------
>>> from trialkit.stats.categorical import clopper_pearson, poisson_rate_ci
>>> clopper_pearson(3, 30).round(4).to_dict("records")
[{'x': 3, 'n': 30, 'estimate': 0.1, 'ci_low': 0.0211, 'ci_high': 0.2653}]
>>> poisson_rate_ci(0, 10.0)[["estimate", "ci_high"]].round(4).to_dict("records")
[{'estimate': 0.0, 'ci_high': 0.3689}]
"""
from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = ["clopper_pearson", "wilson_interval", "fisher_exact_test", "compare_to_reference", "poisson_rate_ci",
           "rate_ratio_exact"]


def wilson_interval(successes: npt.ArrayLike, n: npt.ArrayLike,
                    alpha: float = 0.05) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion; scalars or arrays.

    Used where many proportions are summarised at once (Monte Carlo rejection rates, calibration bins,
    symptom responders); for a reported trial proportion prefer the exact :func:`clopper_pearson`.
    Computed by ``statsmodels.stats.proportion.proportion_confint(method="wilson")``; this wrapper adds
    what it does not do: the bounds always contain the estimate (exactly 0 at 0 successes, exactly 1
    at ``n``, where statsmodels leaves rounding residue such as 3e-17), NaN without a warning when
    ``n`` is 0, and floats for scalar input.

    Parameters
    ----------
    successes, n : int or array-like
    alpha : float

    Returns
    -------
    tuple of (float or ndarray, float or ndarray)
        ``(ci_low, ci_high)``; floats for scalar input.

    References
    ----------
    Wilson EB. J Am Stat Assoc 1927;22:209-212.

    Examples
    --------
    >>> lo, hi = wilson_interval(100, 2000)
    >>> round(lo, 4), round(hi, 4)
    (0.0413, 0.0604)
    >>> wilson_interval([0, 5], [5, 5])[0].tolist()[0], wilson_interval([0, 5], [5, 5])[1].tolist()[1]
    (0.0, 1.0)
    """
    from statsmodels.stats.proportion import proportion_confint

    k, m = np.broadcast_arrays(np.asarray(successes, dtype=float), np.asarray(n, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        lo, hi = proportion_confint(k, m, alpha=alpha, method="wilson")
        lo = np.where(m > 0, np.clip(np.minimum(lo, p), 0.0, 1.0), np.nan)
        hi = np.where(m > 0, np.clip(np.maximum(hi, p), 0.0, 1.0), np.nan)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def clopper_pearson(x: npt.ArrayLike, n: npt.ArrayLike, alpha: float = 0.05) -> pd.DataFrame:
    """Proportion ``x / n`` with its exact (Clopper-Pearson) confidence interval.

    Parameters
    ----------
    x, n : int or array-like of int
        Number of subjects with the event, and number at risk (broadcast together).
    alpha : float, default 0.05
        Two-sided level: the interval has coverage at least ``1 - alpha``.

    Returns
    -------
    DataFrame
        One row per element: ``x``, ``n``, ``estimate`` (``x / n``), ``ci_low``, ``ci_high``.
        ``n == 0`` gives NaN.

    Notes
    -----
    ``ci_low = B(alpha/2; x, n - x + 1)`` (0 when ``x = 0``) and
    ``ci_high = B(1 - alpha/2; x + 1, n - x)`` (1 when ``x = n``), with ``B(q; a, b)`` the beta
    quantile, computed by ``statsmodels.stats.proportion.proportion_confint(method="beta")``;
    identical to ``scipy.stats.binomtest(x, n).proportion_ci(method="exact")`` and to R's
    ``binom.test``. The bounds are set to exactly 0 at ``x = 0`` and 1 at ``x = n`` here, whatever
    the library version does there.

    References
    ----------
    Clopper CJ, Pearson ES. Biometrika 1934;26:404-413.

    Examples
    --------
    >>> clopper_pearson([0, 5], [10, 5]).round(4)
       x   n  estimate  ci_low  ci_high
    0  0  10       0.0  0.0000   0.3085
    1  5   5       1.0  0.4782   1.0000
    """
    from statsmodels.stats.proportion import proportion_confint

    xa, na = np.broadcast_arrays(np.atleast_1d(np.asarray(x)), np.atleast_1d(np.asarray(n)))
    xf, nf = xa.astype(float), na.astype(float)
    if np.any(xf < 0) or np.any(xf > nf):
        raise ValueError("clopper_pearson: need 0 <= x <= n")
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(nf > 0, xf / np.where(nf > 0, nf, 1), np.nan)
        lo, hi = proportion_confint(xf, nf, alpha=alpha, method="beta")
        lo, hi = np.where(xf > 0, lo, 0.0), np.where(xf < nf, hi, 1.0)
    bad = nf <= 0
    lo, hi = np.where(bad, np.nan, lo), np.where(bad, np.nan, hi)
    return pd.DataFrame({"x": xa.astype("int64"), "n": na.astype("int64"), "estimate": est,
                         "ci_low": lo, "ci_high": hi})


def fisher_exact_test(x1: int, n1: int, x0: int, n0: int, alpha: float = 0.05, *, odds_ratio: bool = True) -> dict:
    """Fisher's exact test of two proportions ``x1/n1`` against ``x0/n0`` (two-sided).

    Returns
    -------
    dict
        ``risk_difference`` (``x1/n1 - x0/n0``), ``estimate`` (conditional maximum-likelihood odds
        ratio, as R's ``fisher.test``), ``ci_low``, ``ci_high`` (its exact conditional interval),
        ``p_value`` (``scipy.stats.fisher_exact``, two-sided: tables no more likely than the
        observed one). When neither group has an event the odds ratio is undefined (NaN) and
        ``p_value`` is 1. With ``odds_ratio=False`` the odds ratio and its interval are not computed
        (NaN): the conditional interval sums over every table with the same margins, seconds per
        test at tens of thousands of subjects, while the p-value takes milliseconds.

    Examples
    --------
    >>> r = fisher_exact_test(7, 20, 1, 20)
    >>> round(r["p_value"], 4), round(r["risk_difference"], 2)
    (0.0436, 0.3)
    """
    table = np.array([[x1, n1 - x1], [x0, n0 - x0]], dtype=np.int64)
    if (table < 0).any():
        raise ValueError("fisher_exact_test: need 0 <= x <= n in both groups")
    p = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    if not odds_ratio or x1 + x0 == 0 or (n1 - x1) + (n0 - x0) == 0:
        est = lo = hi = float("nan")
    else:
        res = stats.contingency.odds_ratio(table, kind="conditional")
        ci = res.confidence_interval(confidence_level=1 - alpha)
        est, lo, hi = float(res.statistic), float(ci.low), float(ci.high)
    rd = (x1 / n1 if n1 else np.nan) - (x0 / n0 if n0 else np.nan)
    return {"risk_difference": float(rd), "estimate": est, "ci_low": lo, "ci_high": hi,
            "p_value": min(p, 1.0)}


def compare_to_reference(counts: pd.DataFrame, reference: Hashable, *, group: str = "group", x: str = "x",
                         n: str = "n", alpha: float = 0.05, odds_ratio: bool = True) -> pd.DataFrame:
    """Fisher's exact test of every group against one reference group.

    Parameters
    ----------
    counts : DataFrame
        One row per group with columns ``group``, ``x`` (subjects with the event), ``n``.
    reference
        The value of ``group`` to compare against (e.g. the control arm).

    Returns
    -------
    DataFrame
        One row per non-reference group, in input order: ``group``, ``reference``, ``x``, ``n``,
        ``x_ref``, ``n_ref``, ``risk_difference``, ``estimate`` (conditional odds ratio),
        ``ci_low``, ``ci_high``, ``p_value`` (see :func:`fisher_exact_test`; ``odds_ratio=False``
        leaves the odds ratio and its interval NaN). No multiplicity adjustment is applied.

    Examples
    --------
    >>> c = pd.DataFrame({"group": ["ctl", "a"], "x": [1, 7], "n": [20, 20]})
    >>> compare_to_reference(c, "ctl")[["group", "reference", "p_value"]].round(4)
      group reference  p_value
    0     a       ctl   0.0436
    """
    ref = counts.loc[counts[group] == reference]
    if len(ref) != 1:
        raise ValueError(f"reference {reference!r} must appear exactly once in column {group!r}")
    x0, n0 = int(ref[x].iloc[0]), int(ref[n].iloc[0])
    rows = []
    for _, r in counts.loc[counts[group] != reference].iterrows():
        res = fisher_exact_test(int(r[x]), int(r[n]), x0, n0, alpha=alpha, odds_ratio=odds_ratio)
        rows.append({"group": r[group], "reference": reference, "x": int(r[x]), "n": int(r[n]),
                     "x_ref": x0, "n_ref": n0, **res})
    cols = ["group", "reference", "x", "n", "x_ref", "n_ref", "risk_difference", "estimate",
            "ci_low", "ci_high", "p_value"]
    return pd.DataFrame(rows, columns=cols)


def poisson_rate_ci(events: npt.ArrayLike, exposure: npt.ArrayLike, alpha: float = 0.05, per: float = 1.0) -> pd.DataFrame:
    """Event rate ``events / exposure`` with its exact Poisson (Garwood) confidence interval.

    Parameters
    ----------
    events : int or array-like
        Number of events.
    exposure : float or array-like
        Patient-time at risk (any unit; the rate is per that unit times ``per``).
    per : float, default 1
        Scale of the rate, e.g. 100 for events per 100 patient-years.

    Returns
    -------
    DataFrame
        ``events``, ``exposure``, ``estimate``, ``ci_low``, ``ci_high`` (rates per ``per`` units).

    Notes
    -----
    ``ci_low = chi2(alpha/2; 2k) / (2T)`` (0 when ``k = 0``), ``ci_high = chi2(1 - alpha/2; 2k + 2)
    / (2T)``, as R's ``poisson.test``: ``statsmodels.stats.rates.confint_poisson(method="exact-c")``.
    This wrapper adds what it does not do: exactly 0 as the lower bound at ``k = 0``, NaN (not a
    bound) when the exposure is 0, and the input checks.

    References
    ----------
    Garwood F. Biometrika 1936;28:437-442.

    Examples
    --------
    >>> poisson_rate_ci(10, 1.0).round(6).to_dict("records")
    [{'events': 10, 'exposure': 1.0, 'estimate': 10.0, 'ci_low': 4.795389, 'ci_high': 18.390356}]
    """
    from statsmodels.stats.rates import confint_poisson

    k, t = np.broadcast_arrays(np.atleast_1d(np.asarray(events)), np.atleast_1d(np.asarray(exposure, float)))
    kf = k.astype(float)
    if np.any(kf < 0) or np.any(t < 0):
        raise ValueError("poisson_rate_ci: events and exposure must be >= 0")
    with np.errstate(invalid="ignore", divide="ignore"):
        tt = np.where(t > 0, t, np.nan)
        lo, hi = confint_poisson(kf, tt, method="exact-c", alpha=alpha)
        lo = np.where(np.isnan(tt), np.nan, np.where(kf > 0, lo, 0.0))
        hi = np.where(np.isnan(tt), np.nan, hi)
        est = kf / tt
    return pd.DataFrame({"events": k.astype("int64"), "exposure": t, "estimate": est * per,
                         "ci_low": lo * per, "ci_high": hi * per})


def rate_ratio_exact(x1: int, t1: float, x0: int, t0: float, alpha: float = 0.05) -> dict:
    """Exact conditional comparison of two Poisson rates ``(x1/t1) / (x0/t0)``.

    Given ``x1 + x0`` events, ``x1`` is binomial with ``p = t1 R / (t1 R + t0)``; the interval is
    the Clopper-Pearson interval for ``p`` mapped to the rate ratio ``R`` and the p-value is the
    two-sided exact binomial test of ``R = 1``, as R's ``poisson.test(c(x1, x0), c(t1, t0))``.
    Both are library calls (``scipy.stats.binomtest``, :func:`clopper_pearson`); statsmodels'
    ``confint_poisson_2indep`` offers no exact conditional interval, so only the mapping to ``R``
    is written here.

    Returns
    -------
    dict
        ``estimate``, ``ci_low``, ``ci_high``, ``p_value`` (NaN estimate when ``x0 = 0``; NaN
        everything when there are no events).

    Examples
    --------
    >>> r = rate_ratio_exact(10, 2.0, 4, 2.0)
    >>> round(r["estimate"], 3), round(r["p_value"], 4)
    (2.5, 0.1796)
    """
    n = int(x1) + int(x0)
    if n == 0:
        return {"estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                "p_value": float("nan")}
    p0 = t1 / (t1 + t0)
    p = float(stats.binomtest(int(x1), n, p0).pvalue)
    ci = clopper_pearson(int(x1), n, alpha).iloc[0]
    odds = t0 / t1

    def to_ratio(q):
        return float(q / (1 - q) * odds) if q < 1 else float("inf")

    est = to_ratio(x1 / n) if x0 > 0 else float("nan")
    return {"estimate": est, "ci_low": to_ratio(ci["ci_low"]), "ci_high": to_ratio(ci["ci_high"]),
            "p_value": min(p, 1.0)}
