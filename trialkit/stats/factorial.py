"""Factorial reporting (CONSORT extension for factorial trials, Kahan et al., JAMA 2023;330:2106).

For each main comparison the table gives the estimate **at the margins** (factor present vs absent,
adjusted for the other factors, from a model without interaction) and, beside it, the estimated
**interaction** with its confidence interval (from the model with interaction), so the reader can
judge whether the margins can be trusted. It also gives the **inside-the-table** estimates: every arm
against the control arm and each factor's simple effect at each level of the others (from the model
with interaction). A non-significant interaction test is never used to justify pooling: it has
little power.

The functions are outcome-agnostic: they take coefficients and their covariance on the model's
linear scale (log hazard ratios from a Cox model, differences from a repeated-measures model) and
``transform="exp"`` turns estimates into ratios.

Examples
--------
>>> import pandas as pd
>>> from trialkit.study import load_study
>>> s = load_study()
>>> main = pd.Series({"msc": -0.5, "pe": -0.2})
>>> full = pd.Series({"msc": -0.4, "pe": -0.1, "msc:pe": -0.2})
>>> cm = pd.DataFrame([[0.04, 0.01], [0.01, 0.04]], index=main.index, columns=main.index)
>>> cf = pd.DataFrame(0.0, index=full.index, columns=full.index) + pd.DataFrame(
...     [[.08, .04, -.08], [.04, .08, -.08], [-.08, -.08, .16]], index=full.index, columns=full.index)
>>> t = factorial_report(main, cm, full, cf, s, transform="exp")
>>> t["section"].unique().tolist()
['margins', 'arm vs control', 'simple effect']
>>> t.loc[0, "comparison"], round(float(t.loc[0, "estimate"]), 3), round(float(t.loc[0, "interaction_estimate"]), 3)
('UC-MSC vs no UC-MSC (adjusted for others)', 0.607, 0.819)
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from trialkit.study import Study

__all__ = ["is_factorial", "factorial_report", "not_factorial_reason", "survival_factorial", "mmrm_factorial"]


def not_factorial_reason(study: Study) -> str | None:
    """Why ``study`` is not a full factorial design, or ``None`` if it is.

    >>> from trialkit.study import load_study
    >>> not_factorial_reason(load_study()) is None
    True
    """
    f = list(study.factors)
    if len(f) < 2:
        return f"not a factorial design: the study has {len(f)} treatment factor(s) and {len(study.arms)} arms"
    af = study.arm_factors()
    combos = {tuple(bool(x) for x in row) for row in af[f].itertuples(index=False)}
    if len(combos) < 2 ** len(f):
        return (f"not a full factorial design: {len(combos)} of the {2 ** len(f)} combinations of "
                f"{', '.join(f)} have an arm")
    return None


def is_factorial(study: Study) -> bool:
    """Whether every combination of factor levels has an arm (and there are at least two factors).

    Examples
    --------
    >>> from trialkit.study import load_study, params_dir
    >>> is_factorial(load_study()), is_factorial(load_study(params_dir() / "study_two_arm.yaml"))
    (True, False)
    """
    return not_factorial_reason(study) is None


def _est(coef: pd.Series, cov: pd.DataFrame, w: dict, df: float | None, alpha: float,
         transform: str | None) -> dict[str, float]:
    names = list(w)
    v = np.array([w[n] for n in names], dtype=float)
    est = float(v @ coef[names].to_numpy())
    se = float(np.sqrt(v @ cov.loc[names, names].to_numpy() @ v))
    q = stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df)
    stat = est / se if se > 0 else np.nan
    p = 2 * (stats.norm.sf(abs(stat)) if df is None else stats.t.sf(abs(stat), df))
    f = np.exp if transform == "exp" else (lambda x: x)
    return {"estimate": float(f(est)), "ci_low": float(f(est - q * se)), "ci_high": float(f(est + q * se)),
            "p_value": float(p), "coef": est, "se": se}


def factorial_report(main_coef: pd.Series, main_cov: pd.DataFrame, full_coef: pd.Series, full_cov: pd.DataFrame,
                     study: Study, *, transform: str | None = None, alpha: float = 0.05, df: float | None = None,
                     outcome: str = "") -> pd.DataFrame:
    """The factorial results table.

    Parameters
    ----------
    main_coef, main_cov : Series, DataFrame
        Coefficients (indexed by factor name) and covariance of the model without interactions.
    full_coef, full_cov : Series, DataFrame
        The same for the model with all interactions (terms named ``"a:b"``).
    study : Study
    transform : {None, "exp"}
        ``"exp"`` reports ratios (hazard ratios, ratios of geometric means).
    alpha : float
    df : float, optional
        Degrees of freedom for t intervals (None: normal).
    outcome : str
        Written in the ``outcome`` column.

    Returns
    -------
    DataFrame
        ``outcome``, ``section`` (``"margins"``, ``"arm vs control"``, ``"simple effect"``),
        ``comparison``, ``factor``, ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, and on margins
        rows ``interaction``, ``interaction_estimate``, ``interaction_ci_low``, ``interaction_ci_high``,
        ``interaction_p_value`` (the two-way interactions involving that factor).

    Examples
    --------
    Differences (no ``transform``) in the 2×2 design of the study file; the combination arm's
    contrast to control is the sum of both main effects and the interaction, 1.5 + 0.5 + 1.0:

    >>> import pandas as pd
    >>> from trialkit.study import load_study
    >>> main = pd.Series({"msc": 2.0, "pe": 1.0})
    >>> main_cov = pd.DataFrame([[0.25, 0.0], [0.0, 0.25]], index=main.index, columns=main.index)
    >>> full = pd.Series({"msc": 1.5, "pe": 0.5, "msc:pe": 1.0})
    >>> full_cov = pd.DataFrame([[0.5, 0.25, -0.5], [0.25, 0.5, -0.5], [-0.5, -0.5, 1.0]],
    ...                         index=full.index, columns=full.index)
    >>> t = factorial_report(main, main_cov, full, full_cov, load_study(), outcome="difference")
    >>> t[["section", "factor", "estimate", "ci_low", "ci_high"]].round(2)
              section factor  estimate  ci_low  ci_high
    0         margins    msc       2.0    1.02     2.98
    1         margins     pe       1.0    0.02     1.98
    2  arm vs control    NaN       1.5    0.11     2.89
    3  arm vs control    NaN       0.5   -0.89     1.89
    4  arm vs control    NaN       3.0    1.61     4.39
    5   simple effect    msc       1.5    0.11     2.89
    6   simple effect    msc       2.5    1.11     3.89
    7   simple effect     pe       0.5   -0.89     1.89
    8   simple effect     pe       1.5    0.11     2.89
    >>> t.loc[4, "comparison"], t.loc[6, "comparison"]
    ('PE + UC-MSC vs Conventional care', 'UC-MSC vs no UC-MSC, with Plasma exchange')
    """
    reason = not_factorial_reason(study)
    if reason:
        raise ValueError(reason)
    factors = list(study.factors)
    lab = {f: study.factors[f].label for f in factors}
    rows = []
    for f in factors:
        if f not in main_coef.index:
            continue
        r = {"outcome": outcome, "section": "margins", "factor": f,
             "comparison": f"{lab[f]} vs no {lab[f]} (adjusted for others)",
             **_est(main_coef, main_cov, {f: 1.0}, df, alpha, transform)}
        inter = [t for t in full_coef.index if ":" in t and f in t.split(":") and t.count(":") == 1]
        for t in inter[:1] if len(inter) == 1 else inter:
            e = _est(full_coef, full_cov, {t: 1.0}, df, alpha, transform)
            rows.append({**r, "interaction": " × ".join(lab[x] for x in t.split(":")),
                         "interaction_estimate": e["estimate"], "interaction_ci_low": e["ci_low"],
                         "interaction_ci_high": e["ci_high"], "interaction_p_value": e["p_value"]})
        if not inter:
            rows.append(r)
    af = study.arm_factors().set_index("arm")

    def x_of(levels: dict) -> dict:
        out = {}
        for t in full_coef.index:
            out[t] = float(all(levels[x] for x in t.split(":")))
        return out

    ctrl = study.control_arm
    xc = x_of(af.loc[ctrl, factors].to_dict())
    for a in study.arm_ids:
        if a == ctrl:
            continue
        xa = x_of(af.loc[a, factors].to_dict())
        w = {t: xa[t] - xc[t] for t in full_coef.index if xa[t] != xc[t]}
        rows.append({"outcome": outcome, "section": "arm vs control", "factor": None,
                     "comparison": f"{study.arm_labels[a]} vs {study.arm_labels[ctrl]}",
                     **_est(full_coef, full_cov, w, df, alpha, transform)})
    for f in factors:
        others = [o for o in factors if o != f]
        for lv in itertools.product([False, True], repeat=len(others)):
            base = dict(zip(others, lv))
            x1, x0 = x_of({**base, f: True}), x_of({**base, f: False})
            w = {t: x1[t] - x0[t] for t in full_coef.index if x1[t] != x0[t]}
            cond = ", ".join(f"{'with' if v else 'without'} {lab[o]}" for o, v in base.items())
            rows.append({"outcome": outcome, "section": "simple effect", "factor": f,
                         "comparison": f"{lab[f]} vs no {lab[f]}, {cond}",
                         **_est(full_coef, full_cov, w, df, alpha, transform)})
    cols = ["outcome", "section", "comparison", "factor", "estimate", "ci_low", "ci_high", "p_value", "interaction",
            "interaction_estimate", "interaction_ci_low", "interaction_ci_high", "interaction_p_value", "coef", "se"]
    out = pd.DataFrame(rows)
    for c in cols:
        if c not in out:
            out[c] = np.nan
    return out[cols]


def survival_factorial(tte: pd.DataFrame, study: Study, *, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`factorial_report` for a time-to-event dataset: Cox models on the factors without and
    with interactions (:func:`trialkit.stats.survival.cox_factorial`); estimates are hazard ratios.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import time_to_event
    >>> trial = example()
    >>> t = survival_factorial(time_to_event(trial), trial.study)
    >>> t[["section", "factor", "estimate", "ci_low", "ci_high"]].round(2)
              section factor  estimate  ci_low  ci_high
    0         margins    msc      0.65    0.38     1.12
    1         margins     pe      1.01    0.59     1.73
    2  arm vs control    NaN      0.66    0.30     1.43
    3  arm vs control    NaN      1.02    0.50     2.09
    4  arm vs control    NaN      0.65    0.30     1.39
    5   simple effect    msc      0.66    0.30     1.43
    6   simple effect    msc      0.64    0.30     1.36
    7   simple effect     pe      1.02    0.50     2.09
    8   simple effect     pe      0.99    0.44     2.24
    >>> t.loc[t["section"] == "margins", ["factor", "interaction_estimate", "interaction_p_value"]].round(2)
      factor  interaction_estimate  interaction_p_value
    0    msc                  0.97                 0.95
    1     pe                  0.97                 0.95
    """
    from trialkit.stats.survival import cox_factorial

    main = cox_factorial(tte, study, interaction=False, alpha=alpha).model
    full = cox_factorial(tte, study, interaction=True, alpha=alpha).model
    return factorial_report(main.params_, main.variance_matrix_, full.params_, full.variance_matrix_, study,
                            transform="exp", alpha=alpha, outcome="hazard ratio")


def mmrm_factorial(long: pd.DataFrame, study: Study, visit: str, *, covariance: str = "unstructured",
                   population: str = "all", alpha: float = 0.05) -> pd.DataFrame:
    """:func:`factorial_report` at one visit for each parameter of a change-from-baseline dataset.

    The repeated-measures models (:func:`trialkit.stats.longitudinal.fit_mmrm`) use the factors
    (``model="main"``) and the factors with interactions (``model="factorial"``) by visit; t
    intervals use the model's degrees of freedom. Log-scale parameters are reported as ratios of
    geometric means. ``population="survivors"`` keeps subjects alive and transplant-free at the
    horizon (see :func:`trialkit.stats.longitudinal.analyze_parameters`). Returns the stacked tables
    with a ``parameter`` column first.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.change import change_from_baseline
    >>> trial = example()
    >>> long = change_from_baseline(trial, ["ALB", "TBIL"], log=["TBIL"])
    >>> t = mmrm_factorial(long, trial.study, "W24")
    >>> margins = t[t["section"] == "margins"]
    >>> margins[["parameter", "outcome", "factor", "estimate", "interaction_estimate"]].round(2)
       parameter                    outcome factor  estimate  interaction_estimate
    0        ALB  difference in mean change    msc      1.23                  1.07
    1        ALB  difference in mean change     pe      0.06                  1.07
    9       TBIL   ratio of geometric means    msc      0.84                  0.96
    10      TBIL   ratio of geometric means     pe      0.97                  0.96
    """
    from trialkit.stats.longitudinal import fit_mmrm

    # rows are selected per parameter: no copy of the whole table beside it
    alive = long["survivor"].astype(bool).to_numpy() if population == "survivors" else np.ones(len(long), bool)
    parts = []
    for p in pd.unique(long.loc[alive, "parameter"]):
        d = long[(long["parameter"] == p).to_numpy() & alive]
        if visit not in set(d["visit"]):
            continue
        log = bool((d["scale"] == "log").any())
        fits = {}
        for model in ("main", "factorial"):
            f = fit_mmrm(d, study=study, model=model, covariance=covariance, alpha=alpha,
                         visits=[v for v in study.visit_ids if v in set(d["visit"])])
            names = {f"visit[{visit}]:{t}": t for t in f.treatments}
            keep = [n for n in names if n in f.params.index]
            fits[model] = (f.params[keep].rename(names), f.cov.loc[keep, keep].rename(index=names, columns=names),
                           float(f.df[keep].min()))
        (mc, mv, _), (fc, fv, df) = fits["main"], fits["factorial"]
        t = factorial_report(mc, mv, fc, fv, study, transform="exp" if log else None, alpha=alpha, df=df,
                             outcome="ratio of geometric means" if log else "difference in mean change")
        parts.append(t.assign(parameter=p, visit=visit))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["parameter", "visit", *[c for c in out.columns if c not in ("parameter", "visit")]]]
