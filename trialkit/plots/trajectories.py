"""Exploratory figures: lab trajectories by arm over the visit schedule, and baseline correlations.

* :func:`trajectory_data` — one value per subject, visit and parameter (labs placed in visits by
  :func:`trialkit.derive.visits.assign_visits`; scores from :func:`trialkit.derive.severity.add_scores`),
  with the subject's arm and outcome (survivor / died / transplanted by the horizon).
* :func:`summarize_trajectories` — mean (or geometric mean) with a t-based 95% CI per arm and
  visit, among subjects measured at that visit (so, after a death, among survivors: a
  *while-alive* description, not an estimate for the randomized population).
* :func:`plot_trajectories` (means and CIs) and :func:`plot_individual_trajectories` (one thin
  line per subject, coloured by outcome — patient-level data drawn without identifiers, labels
  or ordering cues; deterministic: no jitter, no sampling).
* :func:`plot_correlation_heatmap` — Spearman correlations among baseline labs and scores.

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"arm": "a", "parameter": "ALT", "visit": ["V0", "V0", "V1"],
...                   "visit_day": [0, 0, 7], "value": [10.0, 30.0, 20.0]})
>>> summarize_trajectories(d)[["visit", "n", "mean"]]
  visit  n  mean
0    V0  2  20.0
1    V1  1  20.0
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from trialkit.plots.style import arm_colors, error_bars

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from trialkit.data.trial import Trial
    from trialkit.study import Study

__all__ = ["trajectory_data", "summarize_trajectories", "plot_trajectories", "plot_individual_trajectories",
           "plot_correlation_heatmap", "arm_colors", "OUTCOME_COLORS"]

OUTCOME_COLORS = {"survivor": "#4C72B0", "died": "#C44E52", "transplanted": "#55A868"}


def trajectory_data(trial: Trial, parameters: Sequence[str], *, horizon: str | float | None = "primary") -> pd.DataFrame:
    """Values per subject, visit and parameter, with arm and outcome, up to a horizon.

    Parameters
    ----------
    trial : Trial
    parameters : list of str
        Lab parameters (study names, e.g. ``"ALT"``) and/or score columns of
        :func:`trialkit.derive.severity.add_scores` (e.g. ``"meld"``).
    horizon : "primary", "secondary", int or None
        Visits with a nominal day beyond it are dropped; also the horizon of ``outcome``.

    Returns
    -------
    DataFrame
        ``subject_id``, ``arm``, ``outcome``, ``parameter``, ``visit``, ``visit_day``, ``value``;
        sorted by arm (study order), subject, parameter and visit day.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> data = trajectory_data(example(), ["ALT", "meld"])  # a lab and a score
    >>> data.head(3)
      subject_id      arm   outcome parameter visit  visit_day  value
    0       S003  control  survivor       ALT    D0          0  325.0
    1       S003  control  survivor       ALT    D3          3  280.0
    2       S003  control  survivor       ALT    D7          7  166.0
    >>> data.groupby("outcome")["subject_id"].nunique().to_dict()
    {'died': 53, 'survivor': 67}
    """
    from trialkit.derive.codes import positions
    from trialkit.derive.status import follow_up_status
    from trialkit.derive.visits import assign_visits

    study = trial.study
    parameters = list(parameters)
    labs = [p for p in parameters if p in study.parameters]
    from trialkit.derive.severity import SCORE_COLUMNS

    scores = [p for p in parameters if p in SCORE_COLUMNS]
    unknown = set(parameters) - set(labs) - set(scores)
    if unknown:
        raise ValueError(f"unknown parameter(s) {sorted(unknown)}: neither a study parameter nor a score")
    h = None if horizon is None else (study.horizons[horizon] if isinstance(horizon, str) else int(horizon))
    cols = ["subject_id", "parameter", "visit", "visit_day", "value"]
    # scores first (add_scores' working memory is the larger), each part cut to the horizon before
    # they are put together: 15 million lab rows at 100,000 subjects
    score_part = None
    if scores:
        from trialkit.derive.severity import add_scores

        sc = add_scores(trial)
        long = sc.melt(id_vars=["subject_id", "visit", "day"], value_vars=scores, var_name="parameter",
                       value_name="value").rename(columns={"day": "visit_day"})
        del sc
        long["value"] = pd.to_numeric(long["value"], errors="coerce").astype(float)
        long = long[long["value"].notna() & ((long["visit_day"] <= h) if h is not None else True)]
        score_part = long.assign(subject_id=_as_object(long["subject_id"]))[cols]
        del long
    parts = []
    if labs:
        keep = trial.labs["parameter"].isin(labs)
        lv = assign_visits(trial.labs.loc[keep, [c for c in trial.labs.columns if c in
                                                 ("subject_id", "day", "visit", "parameter", "value")]], study)
        lv = lv.loc[lv["visit_day"] <= h, cols] if h is not None else lv[cols]
        if scores:  # concatenated with the scores' object ids: object ids, one string per subject
            lv = lv.assign(subject_id=_as_object(lv["subject_id"]))
        parts.append(lv)
    if score_part is not None:
        parts.append(score_part)
    d = pd.concat(parts, ignore_index=True)
    del parts
    st = follow_up_status(trial, horizon if horizon is not None else "primary")
    # positions, not per-row dict look-ups: 15 million rows at 100,000 subjects; -1 (not found) sorts last
    s_pos = positions(d["subject_id"], pd.Index(st["subject_id"].astype(object)))
    d = d.assign(arm=st["arm"].array.take(s_pos, allow_fill=True),
                 outcome=st["outcome"].array.take(s_pos, allow_fill=True))

    def rank(pos: np.ndarray) -> np.ndarray:
        return np.where(pos >= 0, pos, np.iinfo(np.int64).max)

    order = np.lexsort((d["visit_day"].to_numpy(), rank(pd.Index(parameters).get_indexer(d["parameter"])), rank(s_pos),
                        rank(pd.Index(study.arm_ids).get_indexer(d["arm"]))))
    return d[["subject_id", "arm", "outcome", *cols[1:]]].iloc[order].reset_index(drop=True)


def _as_object(col: pd.Series) -> pd.Series:
    """``col.astype(object)``, a categorical's values sharing one string per category (not one per row:
    millions of rows at 100,000 subjects)."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        return col.astype(object)
    codes = col.cat.codes.to_numpy()
    values = np.append(np.asarray(col.cat.categories, dtype=object), np.nan)[codes]  # code -1 -> NaN
    return pd.Series(values, index=col.index, dtype=object)


def summarize_trajectories(data: pd.DataFrame, *, log: bool = False, alpha: float = 0.05) -> pd.DataFrame:
    """Mean and t-based confidence interval per arm, parameter and visit.

    Parameters
    ----------
    data : DataFrame
        :func:`trajectory_data` output (columns ``arm``, ``parameter``, ``visit``, ``visit_day``,
        ``value``).
    log : bool, default False
        Summarise on the log scale and back-transform: geometric mean with its CI (values must
        be > 0; non-positive values are dropped).

    Returns
    -------
    DataFrame
        ``arm``, ``parameter``, ``visit``, ``visit_day``, ``n``, ``mean`` (geometric if ``log``),
        ``sd`` (on the analysis scale), ``ci_low``, ``ci_high`` (``mean +- t(1 - alpha/2, n - 1)
        sd / sqrt(n)``, back-transformed if ``log``; NaN for ``n < 2``); in input order of arms
        and parameters, by visit day.

    Examples
    --------
    Geometric mean ALT in the control arm, among the patients measured at each visit:

    >>> from trialkit.datasets import example
    >>> summary = summarize_trajectories(trajectory_data(example(), ["ALT"]), log=True)
    >>> summary[summary["arm"] == "control"][["visit", "n", "mean", "ci_low", "ci_high"]].round(1)
       visit   n   mean  ci_low  ci_high
    0     D0  30  161.0   117.2    221.3
    1     D3  29   99.3    70.5    139.8
    2     D7  29   73.4    58.7     91.8
    3    D14  26   48.3    38.6     60.3
    4    D21  25   41.4    33.0     51.9
    5    D28  22   37.2    29.0     47.6
    6     W8  18   30.8    23.4     40.7
    7    W12  17   28.9    21.9     38.1
    8    W24  16   30.1    22.6     40.1
    9    W36  15   35.8    26.7     48.1
    10   W48  12   27.5    20.6     36.7
    """
    d = data[["arm", "parameter", "visit", "visit_day", "value"]].copy()
    d["value"] = d["value"].astype(float)
    if log:
        d = d[d["value"] > 0]
        d["value"] = np.log(d["value"])
    g = d.groupby(["arm", "parameter", "visit_day", "visit"], sort=False)["value"]
    out = g.agg(n="size", mean="mean", sd="std").reset_index()
    se = out["sd"] / np.sqrt(out["n"])
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(1 - alpha / 2, out["n"] - 1)
    lo, hi = out["mean"] - q * se, out["mean"] + q * se
    lo, hi = lo.where(out["n"] > 1), hi.where(out["n"] > 1)
    if log:
        out["mean"], lo, hi = np.exp(out["mean"]), np.exp(lo), np.exp(hi)
    out["ci_low"], out["ci_high"] = lo, hi
    out["n"] = out["n"].astype("int64")
    arm_rank = {a: i for i, a in enumerate(pd.unique(d["arm"]))}
    par_rank = {p: i for i, p in enumerate(pd.unique(d["parameter"]))}
    out = out.assign(_a=out["arm"].map(arm_rank), _p=out["parameter"].map(par_rank))
    out = out.sort_values(["_a", "_p", "visit_day"]).drop(columns=["_a", "_p"])
    cols = ["arm", "parameter", "visit", "visit_day", "n", "mean", "sd", "ci_low", "ci_high"]
    return out[cols].reset_index(drop=True)


def plot_trajectories(summary: pd.DataFrame, parameter: str, study: Study, *, ax: Axes | None = None, log: bool = False,
                      ylabel: str | None = None, dodge: float = 0.0) -> Axes:
    """Mean with CI over visits, one line per arm (from :func:`summarize_trajectories`).

    ``dodge`` shifts arms horizontally by that many days each so the intervals do not overlap.
    Returns the Axes.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> trial = example()
    >>> summary = summarize_trajectories(trajectory_data(trial, ["ALT"]), log=True)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_trajectories(summary, "ALT", trial.study, ax=ax, log=True, ylabel="ALT (U/L)", dodge=1.5)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['Conventional care', 'UC-MSC', 'Plasma exchange', 'PE + UC-MSC']
    >>> ax.get_yscale(), ax.get_ylabel()
    ('log', 'ALT (U/L)')
    >>> plt.close("all")
    """
    if ax is None:
        _, ax = plt.subplots()
    colors = arm_colors(study)
    s = summary[summary["parameter"] == parameter]
    arms = [a for a in study.arm_ids if a in set(s["arm"])]
    for i, arm in enumerate(arms):
        a = s[s["arm"] == arm].sort_values("visit_day")
        x = a["visit_day"].to_numpy(dtype=float) + (i - (len(arms) - 1) / 2) * dodge
        y = a["mean"].to_numpy()
        err = error_bars(y, a["ci_low"], a["ci_high"])
        ax.errorbar(x, y, yerr=err, color=colors[arm], marker="o", ms=3, lw=1.2,
                    capsize=2, label=study.arm_labels[arm])
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("Study day (nominal visit day)")
    ax.set_ylabel(ylabel or parameter)
    ax.legend(fontsize=8, frameon=False)
    return ax


def plot_individual_trajectories(data: pd.DataFrame, parameter: str, *, ax: Axes | None = None, log: bool = False,
                                 ylabel: str | None = None, alpha: float = 0.35, lw: float = 0.7,
                                 max_lines: int | None = 1000, seed: int = 0) -> Axes:
    """One line per subject over visits, coloured by outcome (survivor / died / transplanted).

    Draws patient-level data without identifiers: no labels, no annotations, and subjects are
    drawn in data order, grouped by outcome (died and transplanted on top). Returns the Axes.
    An outcome with more than ``max_lines`` subjects (a registry, not a trial: 100,000 lines are
    minutes to draw and no longer readable) is drawn for ``max_lines`` of them, chosen at random
    (``seed``), and its legend entry says so; ``None`` draws every subject.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> data = trajectory_data(example(), ["meld"])
    >>> fig, ax = plt.subplots()
    >>> ax = plot_individual_trajectories(data, "meld", ax=ax, ylabel="MELD")
    >>> len(ax.lines)  # one line per subject
    120
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['survivor (n = 67)', 'died (n = 53)', 'transplanted (n = 0)']
    >>> ax = plot_individual_trajectories(data, "meld", ax=plt.subplots()[1], max_lines=20)
    >>> len(ax.lines), [t.get_text() for t in ax.get_legend().get_texts()][:2]
    (40, ['survivor (n = 67; 20 drawn at random)', 'died (n = 53; 20 drawn at random)'])
    >>> plt.close("all")
    """
    if ax is None:
        _, ax = plt.subplots()
    d = data[data["parameter"] == parameter]
    drawn = {}
    for outcome in ("survivor", "transplanted", "died"):
        sub = d[d["outcome"] == outcome]
        ids = pd.unique(sub["subject_id"])
        if max_lines is not None and len(ids) > max_lines:
            keep = np.sort(np.random.default_rng(seed).choice(len(ids), max_lines, replace=False))
            sub = sub[sub["subject_id"].isin(ids[keep])]
            drawn[outcome] = max_lines
        for _, s in sub.groupby("subject_id", sort=False):
            s = s.sort_values("visit_day")
            ax.plot(s["visit_day"].to_numpy(), s["value"].to_numpy(), color=OUTCOME_COLORS[outcome],
                    alpha=alpha, lw=lw)
    n_by = d.groupby("outcome")["subject_id"].nunique()
    handles = [plt.Line2D([], [], color=c, lw=1.5, label=f"{k} (n = {int(n_by.get(k, 0))}"
                          + (f"; {drawn[k]} drawn at random)" if k in drawn else ")"))
               for k, c in OUTCOME_COLORS.items()]
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("Study day (nominal visit day)")
    ax.set_ylabel(ylabel or parameter)
    ax.legend(handles=handles, fontsize=8, frameon=False)
    return ax


def plot_correlation_heatmap(corr: pd.DataFrame, *, ax: Axes | None = None, labels: dict | None = None,
                             annotate: bool = True) -> Axes:
    """Heatmap of pairwise correlations (from :func:`trialkit.tables.baseline.baseline_correlations`).

    Lower triangle, diverging colour scale fixed to [-1, 1], coefficients printed to 2 decimals.
    Returns the Axes.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.baseline import baseline_dataset
    >>> from trialkit.tables.baseline import baseline_correlations
    >>> corr = baseline_correlations(baseline_dataset(example()), ["TBIL", "INR", "CREAT", "meld"])
    >>> fig, ax = plt.subplots()
    >>> ax = plot_correlation_heatmap(corr, ax=ax, labels={"meld": "MELD"})
    >>> [t.get_text() for t in ax.get_xticklabels()], [t.get_text() for t in ax.get_yticklabels()]
    (['TBIL', 'INR', 'CREAT'], ['INR', 'CREAT', 'MELD'])
    >>> [t.get_text() for t in ax.texts]  # row by row: INR-TBIL; CREAT-TBIL, CREAT-INR; MELD-...
    ['0.07', '0.06', '-0.16', '0.59', '0.66', '0.25']
    >>> plt.close("all")
    """
    names = list(dict.fromkeys([*corr["var1"], *corr["var2"]]))
    k = len(names)
    m = np.full((k, k), np.nan)
    idx = {n: i for i, n in enumerate(names)}
    for a, b, r in zip(corr["var1"], corr["var2"], corr["estimate"]):
        i, j = sorted((idx[a], idx[b]), reverse=True)
        m[i, j] = r
    m = m[1:, :-1]  # strict lower triangle: rows names[1:], columns names[:-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.45 * k + 2, 0.45 * k + 1.5))
    im = ax.imshow(np.ma.masked_invalid(m), cmap="RdBu_r", vmin=-1, vmax=1)
    shown = [(labels or {}).get(n, n) for n in names]
    ax.set_xticks(range(k - 1), shown[:-1], rotation=90, fontsize=7)
    ax.set_yticks(range(k - 1), shown[1:], fontsize=7)
    ax.grid(False)
    if annotate:
        for i in range(k - 1):
            for j in range(k - 1):
                if np.isfinite(m[i, j]):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if abs(m[i, j]) > 0.6 else "black")
    ax.figure.colorbar(im, ax=ax, shrink=0.7, label="Spearman rho")
    return ax
