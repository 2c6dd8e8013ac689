"""Operating characteristics of a design from replicate results (:func:`trialkit.design.power.run_replicates`).

- **power / type I error**: the share of replicates with ``p_value < alpha`` for each comparison;
  it is a type I error rate where the tested null hypothesis holds in the truth (``null_true``),
  power otherwise. Monte Carlo intervals are Wilson score intervals at level ``1 - alpha``.
- **bias**: mean of the estimate minus the truth on the model's linear scale (log hazard ratio;
  difference, or log ratio, for labs), with its Monte Carlo standard error ``sd / sqrt(n)``.
- **coverage**: the share of replicates whose 95% confidence interval contains the truth.
- **power curves** over sample size and effect size (effect size varied by overriding the
  scenario's effect values, :func:`trialkit.design.power.with_effects`), beside Schoenfeld's
  approximation; :func:`trialkit.plots.design.plot_power_curve` draws them (``design`` draws nothing).

Examples
--------
>>> import pandas as pd
>>> res = pd.DataFrame({"scenario": "s", "n_subjects": 120, "replicate": [0, 1, 2, 3], "analysis": "cox_main",
...                     "term": "msc", "label": "UC-MSC", "estimate": [0.5, 0.7, 0.6, 0.9],
...                     "ci_low": [0.3, 0.4, 0.3, 0.61], "ci_high": [0.9, 1.2, 1.1, 1.5],
...                     "coef": [-0.69, -0.36, -0.51, -0.11], "se": 0.3, "p_value": [0.01, 0.2, 0.04, 0.7],
...                     "truth": 0.6, "truth_coef": -0.51, "null_true": False, "events": 48,
...                     "scale": "hazard ratio"})
>>> power_table(res)[["label", "estimate", "n"]]
    label  estimate  n
0  UC-MSC       0.5  4
>>> operating_characteristics(res)[["coverage", "bias"]].round(4)
   coverage    bias
0      0.75  0.0925
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from trialkit.stats.categorical import wilson_interval
from trialkit.stats.levels import level_pct

if TYPE_CHECKING:
    from distributed import Client

    from trialkit.simulate.scenario import Scenario
    from trialkit.study import Study

__all__ = ["wilson_interval", "operating_characteristics", "power_table", "type_one_error", "bias_coverage",
           "schoenfeld_power", "schoenfeld_events", "schoenfeld_table", "power_curve",
           "true_effects", "power_verdict"]

_KEYS = ["scenario", "n_subjects", "analysis", "term", "label"]


def _valid(results: pd.DataFrame) -> pd.DataFrame:
    return results[results["analysis"] != "error"]


def operating_characteristics(results: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Every operating characteristic per scenario, sample size and comparison.

    Parameters
    ----------
    results : DataFrame
        From :func:`~trialkit.design.power.run_replicates` (several runs may be concatenated).
    alpha : float
        Significance level of the tests.

    Returns
    -------
    DataFrame
        ``scenario``, ``n_subjects``, ``analysis``, ``term``, ``label``, ``n_trials``, ``n_tested``
        (replicates with a p-value), ``null_true``, ``kind`` (``"type I error"`` / ``"power"``),
        ``rejection_rate``, ``rejection_ci_low``, ``rejection_ci_high`` (Wilson Monte Carlo interval at level
        ``1 - alpha``, the level of the tests' own intervals), ``mean_events``,
        ``truth``, ``mean_estimate`` (back-transformed mean of ``coef``: a geometric mean for hazard
        ratios), ``bias`` (mean ``coef`` − ``truth_coef``), ``bias_mc_se``, ``empirical_se`` (SD of
        ``coef``), ``model_se`` (mean ``se``), ``coverage``, ``coverage_ci_low``,
        ``coverage_ci_high``, ``n_errors`` (replicates whose analysis failed, per scenario and size).

    Examples
    --------
    Four small trials analysed with the factorial Cox model with interaction (none in the truth):

    >>> from trialkit.design.power import run_replicates
    >>> res = run_replicates("default", n_trials=4, n_subjects=60, seed=1, analyses=("cox_interaction",))
    >>> oc = operating_characteristics(res)
    >>> oc[["term", "kind", "n_tested", "rejection_rate", "bias", "coverage", "n_errors"]].round(3)
         term          kind  n_tested  rejection_rate   bias  coverage  n_errors
    0     msc         power         4            0.25  0.023      0.50         0
    1      pe         power         4            0.25 -0.173      0.75         0
    2  msc:pe  type I error         4            0.25  0.109      0.75         0
    """
    res = _valid(results)
    errors = results[results["analysis"] == "error"].groupby(["scenario", "n_subjects"]).size()
    rows = []
    for key, g in res.groupby(_KEYS, sort=False, dropna=False):
        p = g["p_value"].astype(float)
        tested = p.notna()
        k = int((p[tested] < alpha).sum())
        n = int(tested.sum())
        lo, hi = wilson_interval(k, n, alpha)
        nt = g["null_true"].dropna()
        null = bool(nt.iloc[0]) if len(nt) else None
        row = dict(zip(_KEYS, key))
        row.update({"n_trials": int(g["replicate"].nunique()), "n_tested": n, "null_true": null,
                    "kind": None if null is None else ("type I error" if null else "power"),
                    "rejection_rate": k / n if n else math.nan, "rejection_ci_low": float(lo),
                    "rejection_ci_high": float(hi), "mean_events": float(g["events"].astype(float).mean())})
        row.update(_estimation(g, alpha))
        rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["n_errors"] = [int(errors.get((s, m), 0)) for s, m in zip(out["scenario"], out["n_subjects"])]
    return out


def _estimation(g: pd.DataFrame, alpha: float) -> dict:
    coef = g["coef"].astype(float)
    truth = g["truth"].astype(float)
    ok = coef.notna()
    nan = {"truth": math.nan, "mean_estimate": math.nan, "bias": math.nan, "bias_mc_se": math.nan,
           "empirical_se": math.nan, "model_se": math.nan, "coverage": math.nan, "coverage_ci_low": math.nan,
           "coverage_ci_high": math.nan}
    if not ok.any():
        return nan
    m = float(coef[ok].mean())
    out = dict(nan, mean_estimate=math.exp(m) if (g["scale"] == "hazard ratio").any() else m,
               empirical_se=float(coef[ok].std(ddof=1)) if ok.sum() > 1 else math.nan,
               model_se=float(g["se"].astype(float)[ok].mean()))
    if truth.notna().any():
        t = float(truth.dropna().iloc[0])
        tc = float(g["truth_coef"].astype(float).dropna().iloc[0])
        d = coef[ok] - tc
        covered = (g["ci_low"].astype(float) <= t) & (t <= g["ci_high"].astype(float))
        k, n = int(covered[ok].sum()), int(ok.sum())
        lo, hi = wilson_interval(k, n, alpha)
        out.update(truth=t, bias=float(d.mean()), bias_mc_se=float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan,
                   coverage=k / n, coverage_ci_low=float(lo), coverage_ci_high=float(hi))
    return out


def _table(oc: pd.DataFrame, cols: dict) -> pd.DataFrame:
    out = oc[list(cols)].rename(columns=cols)
    return out.reset_index(drop=True)


def power_table(results: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Power (or type I error, where the null holds) of every test, one row per comparison.

    Returns
    -------
    DataFrame
        ``scenario``, ``n_subjects``, ``analysis``, ``term``, ``label``, ``kind``, ``truth``,
        ``mean_events``, ``estimate`` (share of replicates with p < alpha), ``ci_low``, ``ci_high``
        (Wilson Monte Carlo interval at level ``1 - alpha``), ``n`` (replicates tested).

    Examples
    --------
    >>> from trialkit.design.power import run_replicates
    >>> res = run_replicates("default", n_trials=4, n_subjects=60, seed=1, analyses=("cox_interaction",))
    >>> power_table(res)[["term", "kind", "truth", "estimate", "ci_low", "ci_high", "n"]].round(3)
         term          kind  truth  estimate  ci_low  ci_high  n
    0     msc         power    0.6      0.25   0.046    0.699  4
    1      pe         power    0.8      0.25   0.046    0.699  4
    2  msc:pe  type I error    1.0      0.25   0.046    0.699  4
    """
    oc = operating_characteristics(results, alpha=alpha)
    return _table(oc, {"scenario": "scenario", "n_subjects": "n_subjects", "analysis": "analysis", "term": "term",
                       "label": "label", "kind": "kind", "truth": "truth", "mean_events": "mean_events",
                       "rejection_rate": "estimate", "rejection_ci_low": "ci_low", "rejection_ci_high": "ci_high",
                       "n_tested": "n"})


def type_one_error(results: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """The rejection rate of every test whose null hypothesis holds in the truth (e.g. the
    ``null`` scenario), as :func:`power_table`, plus ``nominal`` (alpha).

    Examples
    --------
    >>> from trialkit.design.power import null_scenario, run_replicates
    >>> res = run_replicates(null_scenario("default"), n_trials=4, n_subjects=60, seed=1,
    ...                      analyses=("logrank", "cox_main"))
    >>> type_one_error(res)[["analysis", "term", "estimate", "nominal", "n"]]
       analysis               term  estimate  nominal  n
    0   logrank             global      0.25     0.05  4
    1   logrank     msc vs control      0.00     0.05  4
    2   logrank      pe vs control      0.25     0.05  4
    3   logrank  pe_msc vs control      0.00     0.05  4
    4  cox_main                msc      0.00     0.05  4
    5  cox_main                 pe      0.00     0.05  4
    """
    pt = power_table(results, alpha=alpha)
    return pt[pt["kind"] == "type I error"].assign(nominal=alpha).reset_index(drop=True)


def bias_coverage(results: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Bias and 95% CI coverage of every estimate with a known truth (hazard ratios, lab effects).

    Returns
    -------
    DataFrame
        ``scenario``, ``n_subjects``, ``analysis``, ``term``, ``label``, ``truth``,
        ``mean_estimate``, ``bias`` (linear scale: log HR, or the lab's analysis scale), ``bias_mc_se``,
        ``empirical_se``, ``model_se``, ``estimate`` (coverage), ``ci_low``, ``ci_high`` (Wilson),
        ``n``.

    Examples
    --------
    >>> from trialkit.design.power import run_replicates
    >>> res = run_replicates("default", n_trials=4, n_subjects=60, seed=1, analyses=("cox_interaction",))
    >>> bias_coverage(res)[["term", "truth", "mean_estimate", "bias", "estimate", "n"]].round(3)
         term  truth  mean_estimate   bias  estimate  n
    0     msc    0.6          0.614  0.023      0.50  4
    1      pe    0.8          0.673 -0.173      0.75  4
    2  msc:pe    1.0          1.115  0.109      0.75  4
    """
    oc = operating_characteristics(results, alpha=alpha)
    oc = oc[oc["truth"].notna()]
    return _table(oc, {"scenario": "scenario", "n_subjects": "n_subjects", "analysis": "analysis", "term": "term",
                       "label": "label", "truth": "truth", "mean_estimate": "mean_estimate", "bias": "bias",
                       "bias_mc_se": "bias_mc_se", "empirical_se": "empirical_se", "model_se": "model_se",
                       "coverage": "estimate", "coverage_ci_low": "ci_low", "coverage_ci_high": "ci_high",
                       "n_tested": "n"})


def schoenfeld_power(hr: npt.ArrayLike, events: npt.ArrayLike, *, alpha: float = 0.05,
                     variance_factor: npt.ArrayLike = 4.0) -> np.ndarray | np.float64:
    """Approximate power of a two-sided Wald/log-rank test of a log hazard ratio (Schoenfeld 1981).

    ``power = Phi(|log hr| * sqrt(events / variance_factor) - z_{1-alpha/2})``; the variance
    factor is 4 for a 1:1 comparison (a main effect of a balanced 2×2 factorial, "at the margins")
    and 16 for the interaction of a balanced 2×2 factorial (a ratio of hazard ratios).

    Examples
    --------
    >>> round(float(schoenfeld_power(0.6, 48)), 2), round(float(schoenfeld_power(0.6, 48, variance_factor=16)), 2)
    (0.42, 0.14)
    """
    z = stats.norm.ppf(1 - alpha / 2)
    lh = np.abs(np.log(np.asarray(hr, dtype=float)))
    return stats.norm.cdf(lh * np.sqrt(np.asarray(events, dtype=float) / variance_factor) - z)


def schoenfeld_events(hr: npt.ArrayLike, *, power: float = 0.8, alpha: float = 0.05,
                      variance_factor: npt.ArrayLike = 4.0) -> np.ndarray | np.float64:
    """Events needed for ``power`` (inverse of :func:`schoenfeld_power`).

    Examples
    --------
    >>> round(float(schoenfeld_events(0.6)))
    120
    """
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return variance_factor * z**2 / np.log(np.asarray(hr, dtype=float)) ** 2


def power_curve(scenario: str | Path | dict | Scenario | None = None, *, study: Study | str | Path | None = None,
                n_subjects: Sequence[int] | None = None, hrs: Sequence[float] | None = None,
                factor: str | None = None, n_trials: int = 200, seed: int | None = None,
                analyses: Sequence[str] = ("logrank", "cox_main", "cox_interaction"),
                alpha: float = 0.05, n_jobs: int = 1, scheduler: str | Client | None = None, progress: bool = False,
                base_results: pd.DataFrame | None = None, engine: str = "auto") -> pd.DataFrame:
    """Simulated power over a grid of sample sizes and/or effect sizes.

    Parameters
    ----------
    scenario, study
        As :func:`~trialkit.design.power.run_replicates`.
    n_subjects : sequence of int, optional
        Total sample sizes (default: the scenario's).
    hrs : sequence of float, optional
        Hazard ratios of ``factor`` to try (default: the scenario's); each replaces the factor's
        ``hr`` in the scenario's effects (its other effects are kept).
    factor : str, optional
        The factor whose hazard ratio varies (default: the study's first factor).
    n_trials, seed, analyses, alpha, n_jobs, scheduler, progress, engine
        As :func:`~trialkit.design.power.run_replicates`; every grid point uses the same replicate
        seeds (common random numbers), so the curves are smooth.
    base_results : DataFrame, optional
        Results of an earlier :func:`~trialkit.design.power.run_replicates` of ``scenario`` itself
        with the same ``seed``, at least ``analyses`` and at least ``n_trials`` replicates: the grid point
        that *is* that run (the scenario's own sample size and hazard ratio) is taken from its first
        ``n_trials`` replicates instead of being simulated again (the replicates would be identical).

    Returns
    -------
    DataFrame
        :func:`power_table` rows for every grid point, with ``factor`` and ``hr`` (its hazard ratio
        at that point) in front, and ``schoenfeld`` (the approximation at the point's mean number
        of events, for the factor's main effect and interaction Cox terms and the 1:1 log-rank
        comparisons of a two-arm design; NaN elsewhere).

    Examples
    --------
    A (very rough: two trials per point) power curve over the sample size:

    >>> pc = power_curve("default", n_subjects=[60, 120], n_trials=2, seed=1, analyses=("cox_main",))
    >>> pc[["factor", "hr", "n_subjects", "term", "mean_events", "estimate", "schoenfeld"]].round(3)
      factor   hr  n_subjects term  mean_events  estimate  schoenfeld
    0    msc  0.6          60  msc         24.5       0.0       0.243
    1    msc  0.6          60   pe         24.5       0.0         NaN
    2    msc  0.6         120  msc         47.5       0.5       0.421
    3    msc  0.6         120   pe         47.5       0.5         NaN
    """
    from trialkit.design.power import run_replicates, with_effects
    from trialkit.simulate.core import resolve_study
    from trialkit.simulate.scenario import load_scenario

    sc = load_scenario(scenario)
    st = resolve_study(study, sc)
    factor = factor or next(iter(st.factors))
    sizes = [None] if n_subjects is None else [int(n) for n in n_subjects]
    base_hr = sc.factor_effect(factor).hr
    hr_list = [None] if hrs is None else [float(h) for h in hrs]
    base_n = base_results["n_subjects"].iloc[0] if base_results is not None and len(base_results) else None
    parts = []
    for h in hr_list:
        s = sc if h is None else with_effects(sc, {factor: {"hr": h}}, name=f"{sc.name}, {factor} HR {h:g}")
        for n in sizes:
            same = (base_results is not None and base_n is not None and (h is None or h == base_hr)
                    and (n is None or n == base_n) and base_results["replicate"].nunique() >= n_trials)
            if same:
                assert base_results is not None  # same is only true with base results
                res = base_results[(base_results["replicate"] < base_results["replicate"].min() + n_trials)
                                   & base_results["analysis"].isin(list(analyses))]
            else:
                res = run_replicates(s, study=st, n_trials=n_trials, n_subjects=n, seed=seed, analyses=analyses,
                                     alpha=alpha, n_jobs=n_jobs, scheduler=scheduler, progress=progress,
                                     engine=engine)
            pt = power_table(res, alpha=alpha).assign(scenario=s.name)
            pt.insert(0, "hr", base_hr if h is None else h)
            pt.insert(0, "factor", factor)
            parts.append(pt)
    out = pd.concat(parts, ignore_index=True)
    two_arm = len(st.arm_ids) == 2
    vf = np.where(out["term"] == factor, 4.0,
                  np.where(out["term"].str.contains(":") & out["term"].str.split(":").map(lambda t: factor in t),
                           16.0, np.where(two_arm & (out["analysis"] == "logrank"), 4.0, np.nan)))
    hr_of = np.where(vf == 16.0, out["truth"], out["hr"]).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["schoenfeld"] = np.where(np.isnan(vf), np.nan,
                                     schoenfeld_power(np.where(np.isnan(hr_of), 1.0, hr_of), out["mean_events"],
                                                      alpha=alpha, variance_factor=np.where(np.isnan(vf), 4.0, vf)))
    return out


def true_effects(truth: dict, study: Study) -> pd.DataFrame:
    """The scenario's true hazard ratios (transplant-free survival), per model term and per arm.

    Parameters
    ----------
    truth : dict
        ``trial.truth`` or :func:`trialkit.design.power.scenario_truth`.
    study : Study

    Returns
    -------
    DataFrame
        ``kind`` (``"term"`` / ``"arm vs control"``), ``name``, ``label``, ``hazard_ratio``.

    Examples
    --------
    >>> from trialkit.design.power import scenario_truth
    >>> from trialkit.study import load_study
    >>> t = true_effects(scenario_truth("default"), load_study())
    >>> t["name"].tolist(), t["hazard_ratio"].round(2).tolist()
    (['msc', 'pe', 'msc*pe', 'msc', 'pe', 'pe_msc'], [0.6, 0.8, 1.0, 0.6, 0.8, 0.48])
    """
    flab = {f: study.factors[f].label for f in study.factors}
    rows = [{"kind": "term", "name": t, "label": " × ".join(flab.get(f, f) for f in t.split("*")), "hazard_ratio": hr}
            for t, hr in truth["hazard_ratios"]["terms"].items()]
    ctrl = study.control_arm
    rows += [{"kind": "arm vs control", "name": a, "label": f"{study.arm_labels[a]} vs {study.arm_labels[ctrl]}",
              "hazard_ratio": hr} for a, hr in truth["hazard_ratios"]["arms_vs_control"].items() if a != ctrl]
    return pd.DataFrame(rows)


def schoenfeld_table(power: pd.DataFrame, study: Study, *, alpha: float = 0.05) -> pd.DataFrame:
    """Simulated power of the Cox factorial terms beside Schoenfeld's approximation at the same
    mean number of events, and the events needed for 80% power.

    Parameters
    ----------
    power : DataFrame
        :func:`power_table` rows (Cox terms with a ``truth`` are used).
    study : Study
        Variance factors assume balanced allocation: 4 for a main effect at the margins (a 1:1
        comparison, model without interaction); in the model with all interactions a term of k
        factors contrasts 2**k of the 2**F cells, each with 1/2**F of the events, so
        ``2**k * 2**F`` (a simple effect of a 2×2 design: 8, its interaction: 16).

    Returns
    -------
    DataFrame
        ``scenario``, ``n_subjects``, ``analysis``, ``term``, ``label``, ``truth``, ``mean_events``,
        ``simulated`` (power), ``ci_low``, ``ci_high``, ``schoenfeld``, ``events_for_80``.

    Examples
    --------
    The simple effects of the model with interaction (variance factor 8 in a 2×2 design); the
    interaction itself has no true effect here, so it is left out:

    >>> from trialkit.study import load_study
    >>> from trialkit.design.power import run_replicates
    >>> res = run_replicates("default", n_trials=4, n_subjects=60, seed=1, analyses=("cox_interaction",))
    >>> st = schoenfeld_table(power_table(res), load_study())
    >>> st[["term", "truth", "mean_events", "simulated", "schoenfeld", "events_for_80"]].round(3)
      term  truth  mean_events  simulated  schoenfeld  events_for_80
    0  msc    0.6         24.0       0.25       0.141        240.631
    1   pe    0.8         24.0       0.25       0.058       1261.040
    """
    p = power[power["analysis"].isin(["cox_main", "cox_interaction"]) & power["truth"].notna()
              & (power["truth"] != 1.0)].copy()
    k = (p["term"].str.count(":") + 1).to_numpy()
    n_factors = max(1, len(study.factors))
    vf = np.where(p["analysis"].to_numpy() == "cox_main", 4.0, 2.0 ** k * 2.0 ** n_factors)
    p["schoenfeld"] = schoenfeld_power(p["truth"].to_numpy(float), p["mean_events"].to_numpy(float), alpha=alpha,
                                       variance_factor=vf)
    p["events_for_80"] = schoenfeld_events(p["truth"].to_numpy(float), alpha=alpha, variance_factor=vf)
    p = p.rename(columns={"estimate": "simulated"})
    return p[["scenario", "n_subjects", "analysis", "term", "label", "truth", "mean_events", "simulated", "ci_low",
              "ci_high", "schoenfeld", "events_for_80"]].reset_index(drop=True)


def power_verdict(power: pd.DataFrame, study: Study, *, alpha: float = 0.05, target: float = 0.8) -> str:
    """One paragraph in plain words: the power of the primary comparison (the first factor's main
    effect in the Cox model, or the global log-rank test without factors), whether the design is
    adequately powered, and the interaction's power when there is one.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.study import load_study
    >>> pt = pd.DataFrame({"n_subjects": [120, 120], "analysis": ["cox_main", "cox_interaction"],
    ...                    "term": ["msc", "msc:pe"], "label": ["UC-MSC", "UC-MSC × Plasma exchange"],
    ...                    "kind": ["power", "type I error"], "truth": [0.6, 1.0], "mean_events": [48.0, 48.0],
    ...                    "estimate": [0.41, 0.05], "ci_low": [0.34, 0.03], "ci_high": [0.48, 0.09], "n": 200})
    >>> print(power_verdict(pt, load_study()))  # doctest: +NORMALIZE_WHITESPACE
    With 120 subjects (48 events on average), the UC-MSC main effect (true hazard ratio 0.6) reaches p < 0.05
    in 41% of 200 simulated trials (95% Monte Carlo interval 34% to 48%): the design is underpowered for it
    (80% power needs about 120 events). This scenario has no UC-MSC × Plasma exchange interaction: its test
    rejects in 5% of trials, a false-positive rate. An interaction as large as the main effect (ratio of
    hazard ratios 0.6) would be detected with only about 14% power (Schoenfeld): a non-significant
    interaction test cannot justify pooling the arms. A non-significant result is the expected outcome of
    such a trial even when the treatment works.
    """
    f = next(iter(study.factors), None)
    main = power[(power["analysis"] == "cox_main") & (power["term"] == f)] if f else power.iloc[0:0]
    if main.empty:
        main = power[(power["analysis"] == "logrank") & (power["term"] == "global")]
        what = "the global log-rank test"
    else:
        what = f"the {main['label'].iloc[0]} main effect (true hazard ratio {main['truth'].iloc[0]:g})"
    if main.empty:
        return "No primary comparison in these results."
    r = main.iloc[0]
    pw, lo, hi = float(r["estimate"]), float(r["ci_low"]), float(r["ci_high"])
    text = (f"With {int(r['n_subjects'])} subjects ({r['mean_events']:.0f} events on average), {what} reaches "
            f"p < {alpha:g} in {pw:.0%} of {int(r['n'])} simulated trials ({level_pct(alpha)} Monte Carlo interval {lo:.0%} to "
            f"{hi:.0%}): ")
    if r["kind"] == "type I error":
        text += "there is no true effect here, so this is a false-positive rate."
        return text
    if hi < target:
        text += "the design is underpowered for it"
    elif lo >= target:
        text += f"the design has at least {target:.0%} power for it"
    else:
        text += f"the design has about {target:.0%} power for it"
    if "truth" in r and pd.notna(r["truth"]) and r["truth"] != 1 and main["analysis"].iloc[0] == "cox_main":
        text += f" ({target:.0%} power needs about {float(schoenfeld_events(r['truth'], power=target, alpha=alpha)):.0f} events)"
    text += "."
    inter = power[(power["analysis"] == "cox_interaction") & power["term"].str.contains(":")]
    if len(inter):
        i = inter.iloc[0]
        if i["kind"] == "type I error":
            text += (f" This scenario has no {i['label']} interaction: its test rejects in {float(i['estimate']):.0%} "
                     "of trials, a false-positive rate.")
        else:
            text += (f" The {i['label']} interaction (true ratio of hazard ratios {i['truth']:g}) is detected in "
                     f"{float(i['estimate']):.0%} of trials.")
        if main["analysis"].iloc[0] == "cox_main" and pd.notna(r["truth"]) and r["truth"] != 1:
            ip = float(schoenfeld_power(r["truth"], r["mean_events"], alpha=alpha, variance_factor=16.0))
            text += (f" An interaction as large as the main effect (ratio of hazard ratios {r['truth']:g}) would be "
                     f"detected with only about {ip:.0%} power (Schoenfeld): a non-significant interaction test "
                     "cannot justify pooling the arms.")
    if hi < target:
        text += " A non-significant result is the expected outcome of such a trial even when the treatment works."
    return text
