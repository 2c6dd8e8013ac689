"""Safety figures: temperature after infusion, and cumulative incidence with competing risks.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from trialkit.stats.competing import aalen_johansen
>>> cif = aalen_johansen([10, 20, 30, 40], ["hcc", "death", "censored", "hcc"], group=["a", "a", "b", "b"],
...                      censor="censored")
>>> ax = plot_cumulative_incidence(cif, "hcc", labels={"a": "A", "b": "B"})
>>> [t.get_text() for t in ax.get_legend().get_texts()]
['A', 'B']
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trialkit.plots.style import arm_colors, error_bars

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_temperature", "plot_cumulative_incidence"]


def _colors(keys, colors):
    if colors is not None:
        return colors
    return arm_colors(list(keys))


def plot_temperature(summary: pd.DataFrame, *, ax: Axes | None = None, labels: dict | None = None, colors: dict | None = None,
                     fever_threshold: float | None = 38.0, dodge: float = 0.08, alpha: float = 0.05) -> Axes:
    """Mean body temperature 0-8 h after infusion start with its CI, one line per arm.

    Parameters
    ----------
    summary : DataFrame
        :func:`trialkit.tables.safety.temperature_summary` output.
    labels, colors : dict, optional
        Display label and colour per arm id.
    fever_threshold : float or None
        Drawn as a dashed horizontal line.
    alpha : float
        The level the summary's intervals were computed at (for the axis label, e.g. "99% CI").

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.tables.safety import temperature_summary
    >>> trial = example()
    >>> fig, ax = plt.subplots()
    >>> ax = plot_temperature(temperature_summary(trial), labels=trial.study.arm_labels, ax=ax)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]  # the infusion arms only
    ['UC-MSC', 'PE + UC-MSC']
    >>> ax.get_xlabel(), [t.get_text() for t in ax.texts]
    ('Hours after the start of the infusion', ['fever threshold 38 °C'])
    >>> plt.close("all")
    """
    if ax is None:
        _, ax = plt.subplots()
    arms = list(pd.unique(summary["arm"]))
    colors = _colors(arms, colors)
    for i, arm in enumerate(arms):
        s = summary[summary["arm"] == arm].sort_values("hours_after")
        x = s["hours_after"].to_numpy(dtype=float) + (i - (len(arms) - 1) / 2) * dodge
        y = s["mean"].to_numpy()
        err = error_bars(y, s["ci_low"], s["ci_high"])
        ax.errorbar(x, y, yerr=err, marker="o", ms=3, capsize=2, lw=1.2, color=colors[arm],
                    label=(labels or {}).get(arm, arm))
    if fever_threshold is not None:
        ax.axhline(fever_threshold, ls="--", lw=0.9, color="0.4")
        ax.annotate(f"fever threshold {fever_threshold:g} °C", xy=(0.01, fever_threshold),
                    xycoords=("axes fraction", "data"), va="bottom", fontsize=8, color="0.3")
    ax.set_xlabel("Hours after the start of the infusion")
    from trialkit.stats.levels import ci_label

    ax.set_ylabel(f"Body temperature (°C), mean and {ci_label(alpha)}")
    ax.legend(fontsize=8, frameon=False, loc="center right")
    return ax


def plot_cumulative_incidence(curve: pd.DataFrame, state: str, *, ax: Axes | None = None, labels: dict | None = None,
                              colors: dict | None = None, horizon: float | None = None, ci: bool = True,
                              xlabel: str = "Study day", ylabel: str | None = None) -> Axes:
    """Step curves of the cumulative incidence of ``state`` by group, with pointwise CI bands.

    Parameters
    ----------
    curve : DataFrame
        :func:`trialkit.stats.competing.aalen_johansen` output.
    state : str
        The cause to draw (e.g. ``"hcc"``).
    horizon : float, optional
        Curves are extended flat to, and the x-axis ends at, this time.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    Death with HCC as a competing event (a pandas Categorical keeps the groups in study order):

    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import competing_risks
    >>> from trialkit.stats.competing import aalen_johansen
    >>> trial = example()
    >>> cr = competing_risks(trial, cause="hcc", competing=["death", "transplant"])
    >>> cif = aalen_johansen(cr["time"], cr["status"], group=pd.Categorical(cr["arm"], trial.study.arm_ids),
    ...                      censor="censored")
    >>> fig, ax = plt.subplots()
    >>> ax = plot_cumulative_incidence(cif, "death", labels=trial.study.arm_labels, horizon=336, ax=ax)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['Conventional care', 'UC-MSC', 'Plasma exchange', 'PE + UC-MSC']
    >>> ax.get_ylabel(), [float(x) for x in ax.get_xlim()]
    ('Cumulative incidence of death', [0.0, 336.0])
    >>> plt.close("all")
    """
    if ax is None:
        _, ax = plt.subplots()
    c = curve[curve["state"] == state]
    groups = list(pd.unique(curve["group"]))
    colors = _colors(groups, colors)
    for g in groups:
        s = c[c["group"] == g].sort_values("time")
        t = np.r_[0.0, s["time"].to_numpy(dtype=float)]
        y = np.r_[0.0, s["estimate"].to_numpy()]
        lo = np.r_[0.0, np.nan_to_num(s["ci_low"].to_numpy())]
        hi = np.r_[0.0, np.nan_to_num(s["ci_high"].to_numpy())]
        if horizon is not None:
            keep = t <= horizon
            t, y, lo, hi = t[keep], y[keep], lo[keep], hi[keep]
            t, y, lo, hi = np.r_[t, horizon], np.r_[y, y[-1]], np.r_[lo, lo[-1]], np.r_[hi, hi[-1]]
        ax.step(t, y, where="post", color=colors[g], lw=1.4, label=(labels or {}).get(g, g))
        if ci:
            ax.fill_between(t, lo, hi, step="post", color=colors[g], alpha=0.12, lw=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel or f"Cumulative incidence of {state}")
    ax.set_ylim(bottom=0)
    if horizon is not None:
        ax.set_xlim(0, horizon)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    return ax
