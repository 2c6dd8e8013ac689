"""Kaplan-Meier and cumulative-incidence figures, with a number-at-risk table under the plot.

lifelines draws the curves (``KaplanMeierFitter.plot_survival_function``); its ``add_at_risk_counts``
draws counts but returns no table (lifelines#1624), so the counts come from
:func:`trialkit.stats.survival.number_at_risk` (tested) and are written under the axes here.

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"arm": ["a"] * 3 + ["b"] * 3, "time": [10., 50, 90, 20, 60, 100],
...                   "event": [1, 0, 1, 1, 1, 0]})
>>> fig = km_plot(d, groups=["a", "b"], times=[0, 28, 56, 84])
>>> [t.get_text() for t in fig.axes[1].texts][:4]
['3', '2', '1', '1']
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from trialkit.plots.style import arm_colors
from trialkit.stats.survival import kaplan_meier, number_at_risk, quiet

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["km_plot", "cif_plot", "arm_colors", "default_times"]


def default_times(horizon: float, *, unit: float = 7.0, max_ticks: int = 8) -> list[float]:
    """At-risk times (days): multiples of 4, 8, 12 ... weeks, at most ``max_ticks`` + 1 of them.

    Examples
    --------
    >>> default_times(84)
    [0.0, 28.0, 56.0, 84.0]
    >>> default_times(336)
    [0.0, 56.0, 112.0, 168.0, 224.0, 280.0, 336.0]
    """
    for step in (4, 8, 12, 16, 24, 52):
        ticks = np.arange(0, horizon / unit + 1e-9, step)
        if len(ticks) <= max_ticks:
            return [float(t * unit) for t in ticks]
    return [0.0, float(horizon)]


def _at_risk_axes(ax: Axes, table: pd.DataFrame, labels: dict, colors: dict, scale: float) -> None:
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    tab = make_axes_locatable(ax).append_axes("bottom", size=0.28 * len(table) + 0.2, pad=0.55, sharex=ax)
    for i, g in enumerate(table.index):
        y = len(table) - 1 - i
        for t, n in table.loc[g].items():
            tab.text(t / scale, y, str(int(n)), ha="center", va="center", fontsize=8, color=colors[g])
    tab.set_ylim(-0.6, len(table) - 0.4)
    tab.set_yticks(range(len(table)))
    tab.set_yticklabels([labels.get(g, g) for g in table.index[::-1]], fontsize=8)
    tab.tick_params(axis="x", labelbottom=False, length=0)
    tab.tick_params(axis="y", length=0, pad=18)
    for s in tab.spines.values():
        s.set_visible(False)
    tab.grid(False)
    tab.set_title("Number at risk", fontsize=9, loc="left")
    return tab


def km_plot(tte: pd.DataFrame, *, group: str = "arm", groups: Sequence | None = None, labels: dict | None = None,
            times: Sequence[float] | None = None,
            horizon: float | None = None, ci: bool = True, alpha: float = 0.05, scale: float = 7.0,
            xlabel: str = "Weeks since randomization", ylabel: str = "Survival probability", ax: Axes | None = None) -> Figure:
    """Kaplan-Meier curves per group with (1 − alpha) CI bands and a number-at-risk table below.

    Parameters
    ----------
    tte : DataFrame
        ``time`` (days), ``event``, ``group``.
    groups, labels : optional
        Group order and display labels.
    times : list of float, optional
        At-risk times in days (default :func:`default_times` up to ``horizon``).
    horizon : float, optional
        x-axis limit in days (default: the largest time).
    scale : float
        Days per x-axis unit (7 = weeks).
    ax : matplotlib Axes, optional

    Returns
    -------
    Figure
        ``fig.axes[0]`` the curves, ``fig.axes[1]`` the at-risk table.

    Examples
    --------
    Transplant-free survival to the primary horizon (48 weeks):

    >>> import matplotlib.pyplot as plt
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import time_to_event
    >>> trial = example()
    >>> tte = time_to_event(trial)
    >>> fig, ax = plt.subplots(figsize=(7.5, 5))
    >>> km_plot(tte, groups=trial.study.arm_ids, labels=trial.study.arm_labels, horizon=336, ax=ax) is fig
    True
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['0', '8', '16', '24', '32', '40', '48']
    >>> table = fig.axes[1]
    >>> [t.get_text() for t in table.get_yticklabels()]
    ['PE + UC-MSC', 'Plasma exchange', 'UC-MSC', 'Conventional care']
    >>> [t.get_text() for t in table.texts][:7]  # at risk in the control arm, weeks 0, 8, ... 48
    ['30', '18', '17', '16', '16', '14', '7']
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    groups = list(pd.unique(tte[group])) if groups is None else [g for g in groups if (tte[group] == g).any()]
    labels = labels or {}
    horizon = float(tte["time"].max()) if horizon is None else float(horizon)
    times = default_times(horizon, unit=scale) if times is None else list(times)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 4.2 + 0.3 * len(groups)))
    colors = arm_colors(groups)
    for g in groups:
        d = tte[tte[group] == g].assign(time=lambda x: x["time"] / scale)
        k = kaplan_meier(d, alpha, label=labels.get(g, g))
        with quiet():
            k.plot_survival_function(ax=ax, ci_show=ci, color=colors[g], ci_alpha=0.15, show_censors=True,
                                     censor_styles={"ms": 4, "marker": "|"})
    ax.set_xlim(0, horizon / scale)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.set_xticks([t / scale for t in times])
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    _at_risk_axes(ax, number_at_risk(tte, times, group=group, groups=groups), labels, colors, scale)
    return cast("Figure", ax.figure)


def cif_plot(cif: pd.DataFrame, *, groups: Sequence | None = None, labels: dict | None = None, scale: float = 7.0,
             xlabel: str = "Weeks since randomization", ylabel: str = "Cumulative incidence", ax: Axes | None = None) -> Axes:
    """Step plot of cumulative incidence per group from :func:`trialkit.stats.competing.cumulative_incidence`
    evaluated on a grid of times for one cause (``group``, ``time``, ``estimate``). Returns the axes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import competing_risks
    >>> from trialkit.stats.competing import cumulative_incidence
    >>> trial = example()
    >>> cif = cumulative_incidence(competing_risks(trial), [0, 28, 56, 84, 168, 336], causes=["death"])
    >>> fig, ax = plt.subplots()
    >>> ax = cif_plot(cif, groups=trial.study.arm_ids, labels=trial.study.arm_labels, ax=ax)
    >>> [t.get_text() for t in ax.get_legend().get_texts()], len(ax.lines)
    (['Conventional care', 'UC-MSC', 'Plasma exchange', 'PE + UC-MSC'], 4)
    >>> ax.get_ylabel()
    'Cumulative incidence'
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    groups = list(pd.unique(cif["group"])) if groups is None else groups
    labels = labels or {}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    colors = arm_colors(groups)
    for g in groups:
        d = cif[cif["group"] == g].sort_values("time")
        ax.step(d["time"] / scale, d["estimate"], where="post", color=colors[g], label=labels.get(g, g))
    top = float(cif["estimate"].max()) if len(cif) else 0.0
    ax.set_ylim(0, max(0.1, top * 1.2))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, frameon=False)
    return ax
