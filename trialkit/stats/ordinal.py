"""Symptoms: proportion improved at the secondary horizon, and an ordinal comparison of arms.

Input: :func:`trialkit.derive.change.symptom_outcomes` (one row per subject and symptom with the
baseline score, the score at the target visit, and whether the subject died or had a transplant by
then). Intercurrent events follow a **composite** strategy: death or transplantation counts as
"not improved", and as a category worse than "severe" in the ordinal test.

The ordinal test is the **Wilcoxon-Mann-Whitney** rank-sum test of each arm against control on
the target-visit category (0 none, 1 mild, 2 moderate, 3 severe, 4 died/transplanted), two-sided,
normal approximation with tie correction and no continuity correction (R:
``wilcox.test(x, y, exact = FALSE, correct = FALSE)``), not stratified by baseline score. The
effect size is the probabilistic index P(treated better than control) + ½ P(tie).

Examples
--------
>>> import pandas as pd
>>> o = pd.DataFrame({"arm": ["c"] * 4 + ["t"] * 4, "symptom": "fatigue", "baseline": 2,
...                   "score": [2, 3, None, 1, 0, 1, 1, None], "event": [0, 0, 1, 0, 0, 0, 0, 0],
...                   "improved": [0, 0, 0, 1, 1, 1, 1, None]})
>>> symptom_improvement(o, arms=["c", "t"])[["arm", "n", "n_improved", "proportion"]]
  arm  n  n_improved  proportion
0   c  4           1        0.25
1   t  3           3        1.00
"""
from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from trialkit.stats.categorical import wilson_interval

__all__ = ["symptom_improvement", "ordinal_test", "mann_whitney", "EVENT_CATEGORY"]

EVENT_CATEGORY = 4  # died or transplanted: worse than "severe" (3)


def symptom_improvement(outcomes: pd.DataFrame, *, arms: list | None = None, control: Hashable | None = None,
                        among: str = "symptomatic", alpha: float = 0.05) -> pd.DataFrame:
    """Proportion improved (score below baseline; death/LT = not improved) per symptom and arm.

    Parameters
    ----------
    outcomes : DataFrame
        ``arm``, ``symptom``, ``baseline``, ``event``, ``improved`` (NaN = survivor not assessed).
    arms : list, optional
        Arm order (first = control unless ``control``).
    among : {"symptomatic", "all"}
        Denominator: subjects with the symptom at baseline (score > 0; only they can improve), or all.
    alpha : float

    Returns
    -------
    DataFrame
        ``symptom``, ``arm``, ``n`` (evaluable), ``n_improved``, ``n_event`` (died/LT, counted as not
        improved), ``n_missing`` (survivors not assessed, excluded), ``proportion``, ``ci_low``,
        ``ci_high`` (Wilson), and against control ``difference``, ``difference_ci_low``,
        ``difference_ci_high`` (Newcombe hybrid score interval).

    Examples
    --------
    The subject with baseline 0 cannot improve and is left out; the control death counts as not
    improved, the treated survivor without a score is excluded:

    >>> import pandas as pd
    >>> o = pd.DataFrame({"arm": ["c"] * 5 + ["t"] * 5, "symptom": "fatigue",
    ...                   "baseline": [2, 2, 3, 1, 0, 2, 3, 2, 1, 0], "score": [1, 3, None, 1, 0, 0, 1, 1, None, 0],
    ...                   "event": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0], "improved": [1, 0, 0, 0, 0, 1, 1, 1, None, 0]})
    >>> s = symptom_improvement(o)
    >>> s[["arm", "n", "n_improved", "n_event", "n_missing", "proportion", "ci_low", "ci_high"]].round(3)
      arm  n  n_improved  n_event  n_missing  proportion  ci_low  ci_high
    0   c  4           1        1          0        0.25   0.046    0.699
    1   t  3           3        0          1        1.00   0.439    1.000
    >>> s[["arm", "difference", "difference_ci_low", "difference_ci_high"]].round(3)
      arm  difference  difference_ci_low  difference_ci_high
    0   c         NaN                NaN                 NaN
    1   t        0.75              0.031               0.954
    """
    from statsmodels.stats.proportion import confint_proportions_2indep

    if among not in ("symptomatic", "all"):
        raise ValueError("among: expected 'symptomatic' or 'all'")
    o = outcomes if among == "all" else outcomes[outcomes["baseline"] > 0]
    arms = list(pd.unique(outcomes["arm"])) if arms is None else list(arms)
    control = arms[0] if control is None else control
    rows = []
    for s in pd.unique(outcomes["symptom"]):
        cnt = {}
        for a in arms:
            d = o[(o["symptom"] == s) & (o["arm"] == a)]
            ev = d["improved"].notna()
            k, n = int(d.loc[ev, "improved"].sum()), int(ev.sum())
            cnt[a] = (k, n)
            lo, hi = wilson_interval(k, n, alpha)
            rows.append({"symptom": s, "arm": a, "n": n, "n_improved": k, "n_event": int(d["event"].sum()),
                         "n_missing": int((~ev).sum()), "proportion": k / n if n else np.nan,
                         "ci_low": lo, "ci_high": hi})
        kc, nc = cnt[control]
        for r in rows[-len(arms):]:
            k, n = cnt[r["arm"]]
            if r["arm"] == control or n == 0 or nc == 0:
                r.update(difference=np.nan, difference_ci_low=np.nan, difference_ci_high=np.nan)
                continue
            lo, hi = confint_proportions_2indep(k, n, kc, nc, method="newcomb", compare="diff", alpha=alpha)
            r.update(difference=k / n - kc / nc, difference_ci_low=float(lo), difference_ci_high=float(hi))
    return pd.DataFrame(rows)


def mann_whitney(x: npt.ArrayLike, y: npt.ArrayLike) -> dict:
    """Two-sided Wilcoxon-Mann-Whitney test of ``x`` vs ``y`` (normal approximation, tie-corrected,
    no continuity correction), with the probabilistic index P(X > Y) + ½ P(X = Y) and its DeLong
    standard error.

    U and the p-value are ``scipy.stats.mannwhitneyu``; ``z`` (which scipy does not return) and the
    DeLong standard error of the probabilistic index (which neither scipy, statsmodels nor pingouin
    computes: pingouin's ``mwu`` gives the common-language effect size without a standard error)
    are written here.

    Returns
    -------
    dict
        ``statistic`` (U of ``x``, = R's W), ``z``, ``p_value``, ``prob_index``, ``prob_index_se``,
        ``n_x``, ``n_y``.

    Examples
    --------
    >>> r = mann_whitney([3, 4, 5, 6], [1, 2, 3])
    >>> r["statistic"], round(r["prob_index"], 4)
    (11.5, 0.9583)
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    m, n = len(x), len(y)
    if m == 0 or n == 0:
        return {"statistic": np.nan, "z": np.nan, "p_value": np.nan, "prob_index": np.nan,
                "prob_index_se": np.nan, "n_x": m, "n_y": n}
    r = stats.mannwhitneyu(x, y, alternative="two-sided", use_continuity=False, method="asymptotic")
    u = float(r.statistic)
    _, t = np.unique(np.concatenate([x, y]), return_counts=True)
    N = m + n
    var = m * n / 12 * ((N + 1) - (t ** 3 - t).sum() / (N * (N - 1)))
    z = (u - m * n / 2) / np.sqrt(var) if var > 0 else np.nan
    v10, v01, pi = _placements(x, y)
    se = float(np.sqrt((v10.var(ddof=1) / m if m > 1 else 0) + (v01.var(ddof=1) / n if n > 1 else 0)))
    return {"statistic": u, "z": float(z), "p_value": float(r.pvalue), "prob_index": pi, "prob_index_se": se,
            "n_x": m, "n_y": n}


def _placements(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """DeLong placement values of ``x`` among ``y`` and of ``y`` among ``x``, and the probabilistic index.

    ``v10[i]`` = (#{y < x_i} + ½ #{y = x_i}) / n, ``v01[j]`` = (#{x > y_j} + ½ #{x = y_j}) / m and
    P(X > Y) + ½ P(X = Y) = Σ counts / (m n). Counted by binary search in the sorted samples,
    O((m + n) log(m + n)) time and O(m + n) memory, instead of the m × n comparison matrix (5 GB for two
    arms of 25,000). The counts are whole or half numbers, summed exactly, so the values are the
    matrix's to the last bit (the matrix remains the path for samples with missing values, whose
    comparisons it counts as false).
    """
    m, n = len(x), len(y)
    if np.isnan(x).any() or np.isnan(y).any():
        gt = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
        return gt.mean(axis=1), gt.mean(axis=0), float(gt.mean())
    ys, xs = np.sort(y), np.sort(x)
    y_lt, y_le = np.searchsorted(ys, x, side="left"), np.searchsorted(ys, x, side="right")
    x_lt, x_le = np.searchsorted(xs, y, side="left"), np.searchsorted(xs, y, side="right")
    count_x = y_lt + 0.5 * (y_le - y_lt)  # per x_i: y below, half the ties
    count_y = (m - x_le) + 0.5 * (x_le - x_lt)  # per y_j: x above, half the ties
    return count_x / n, count_y / m, float(count_x.sum() / (m * n))


def ordinal_test(outcomes: pd.DataFrame, *, arms: list | None = None, control: Hashable | None = None,
                 alpha: float = 0.05) -> pd.DataFrame:
    """Each arm vs control on the target-visit symptom category (death/LT = 4, worse than severe).

    Lower categories are better, so ``prob_index`` is P(treated subject's category is *lower*) +
    ½ P(equal): above 0.5 favours the treated arm. Survivors without a score are excluded.

    Returns
    -------
    DataFrame
        ``symptom``, ``arm``, ``n``, ``n_control``, ``statistic`` (W of the control sample, as R
        ``wilcox.test(control, treated)``), ``z``, ``p_value``, ``prob_index``, ``ci_low``,
        ``ci_high`` (Wald on the logit scale), ``test``.

    Examples
    --------
    The control death is category 4; the treated survivor without a score is excluded:

    >>> import pandas as pd
    >>> o = pd.DataFrame({"arm": ["c"] * 5 + ["t"] * 5, "symptom": "fatigue",
    ...                   "score": [1, 3, None, 1, 0, 0, 1, 1, None, 0], "event": [0, 0, 1, 0, 0, 0, 0, 0, 0, 0]})
    >>> ordinal_test(o)[["symptom", "arm", "n", "n_control", "statistic", "p_value", "prob_index", "ci_low",
    ...                  "ci_high"]].round(3)
       symptom arm  n  n_control  statistic  p_value  prob_index  ci_low  ci_high
    0  fatigue   t  4          5       15.0    0.193        0.75   0.355    0.942
    """
    arms = list(pd.unique(outcomes["arm"])) if arms is None else list(arms)
    control = arms[0] if control is None else control
    z = stats.norm.ppf(1 - alpha / 2)
    o = outcomes.assign(category=np.where(outcomes["event"] == 1, EVENT_CATEGORY, outcomes["score"]))
    o = o[o["category"].notna()]
    rows = []
    for s in pd.unique(outcomes["symptom"]):
        c = o.loc[(o["symptom"] == s) & (o["arm"] == control), "category"]
        for a in arms:
            if a == control:
                continue
            t = o.loc[(o["symptom"] == s) & (o["arm"] == a), "category"]
            r = mann_whitney(c, t)  # control above treated = treated better
            pi, se = r["prob_index"], r["prob_index_se"]
            if 0 < pi < 1 and se > 0:
                lg, sl = np.log(pi / (1 - pi)), se / (pi * (1 - pi))
                lo, hi = 1 / (1 + np.exp(-(lg - z * sl))), 1 / (1 + np.exp(-(lg + z * sl)))
            else:
                lo = hi = np.nan
            rows.append({"symptom": s, "arm": a, "n": len(t), "n_control": len(c), "statistic": r["statistic"],
                         "z": r["z"], "p_value": r["p_value"], "prob_index": pi, "ci_low": lo, "ci_high": hi,
                         "test": "Wilcoxon-Mann-Whitney (death/LT worst)"})
    return pd.DataFrame(rows)
