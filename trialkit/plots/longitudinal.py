"""Figures for repeated measures: LS-means over visits, and symptom scores as stacked bars.

Examples
--------
>>> import pandas as pd
>>> ls = pd.DataFrame({"parameter": "ALB", "arm": ["c", "c", "t", "t"], "visit_day": [7, 28, 7, 28],
...                    "display_estimate": [0.5, 1.0, 0.7, 2.0], "display_ci_low": [0, .5, .2, 1.5],
...                    "display_ci_high": [1, 1.5, 1.2, 2.5], "scale": "identity"})
>>> fig = lsmeans_plot(ls, arms=["c", "t"])
>>> len(fig.axes), fig.axes[0].get_title()
(1, 'ALB')
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.plots.style import arm_colors, error_bars

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["lsmeans_plot", "symptom_bars"]


def lsmeans_plot(lsmeans: pd.DataFrame, *, arms: Sequence[str] | None = None, labels: dict | None = None,
                 titles: dict | None = None, ncols: int = 3, scale: float = 7.0,
                 axes: Axes | Sequence[Axes] | np.ndarray | None = None) -> Figure:
    """One panel per parameter: LS-mean change from baseline (back-transformed: the ratio to baseline
    for log-scale parameters) with CI bars against study week, one line per arm.

    Parameters
    ----------
    lsmeans : DataFrame
        ``lsmeans`` of :func:`trialkit.stats.longitudinal.analyze_parameters`.
    arms, labels : optional
        Arm order and display labels.
    titles : dict, optional
        Panel titles per parameter.
    axes : array of Axes, optional

    Returns
    -------
    Figure

    Examples
    --------
    ALT is analysed on the log scale (ratio to baseline), albumin as the change in g/L:

    >>> import matplotlib.pyplot as plt
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.change import change_from_baseline
    >>> from trialkit.stats.longitudinal import analyze_parameters
    >>> trial = example()
    >>> res = analyze_parameters(change_from_baseline(trial, ["ALT", "ALB"], log=["ALT"]), trial.study)
    >>> fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    >>> lsmeans_plot(res["lsmeans"], arms=trial.study.arm_ids, labels=trial.study.arm_labels, axes=axes) is fig
    True
    >>> [(ax.get_title(), ax.get_ylabel()) for ax in fig.axes]
    [('ALT', 'Ratio to baseline (geometric)'), ('ALB', 'Change from baseline')]
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['Conventional care', 'UC-MSC', 'Plasma exchange', 'PE + UC-MSC']
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    params = list(pd.unique(lsmeans["parameter"]))
    arms = list(pd.unique(lsmeans["arm"])) if arms is None else arms
    labels, titles = labels or {}, titles or {}
    if axes is None:
        nc = min(ncols, len(params))
        nr = int(np.ceil(len(params) / nc))
        fig, axes = plt.subplots(nr, nc, figsize=(3.6 * nc, 2.9 * nr), squeeze=False)
    axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
    colors = arm_colors(arms)
    offs = np.linspace(-0.6, 0.6, len(arms)) if len(arms) > 1 else [0.0]
    for ax, p in zip(axes, params):
        d = lsmeans[lsmeans["parameter"] == p]
        log = (d["scale"] == "log").any()
        for off, a in zip(offs, arms):
            s = d[d["arm"] == a].sort_values("visit_day")
            x = s["visit_day"] / scale + off * 0.3
            err = error_bars(s["display_estimate"], s["display_ci_low"], s["display_ci_high"])
            ax.errorbar(x, s["display_estimate"], yerr=err, color=colors[a], marker="o", ms=3, lw=1.2,
                        capsize=2, label=labels.get(a, a))
        ax.axhline(1.0 if log else 0.0, color="0.5", ls="--", lw=0.8)
        ax.set_title(titles.get(p, p), fontsize=10)
        ax.set_xlabel("Week", fontsize=8)
        ax.set_ylabel("Ratio to baseline (geometric)" if log else "Change from baseline", fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in axes[len(params):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, frameon=False)
    fig = axes[0].figure
    fig.tight_layout()
    return fig


def symptom_bars(symptom_visits: pd.DataFrame, *, symptom: str, arms: Sequence[str] | None = None,
                 labels: dict | None = None, visits: Sequence[str] | None = None,
                 score_labels: Sequence[str] = ("none", "mild", "moderate", "severe"),
                 axes: Axes | Sequence[Axes] | np.ndarray | None = None) -> Figure:
    """Stacked bars of the score distribution of one symptom at each visit, one panel per arm.

    Parameters
    ----------
    symptom_visits : DataFrame
        :func:`trialkit.derive.change.symptom_visits` (``arm``, ``symptom``, ``visit``, ``score``).
    symptom : str
    visits : list, optional
        Visit order (default: order of ``visit_day``).

    Returns
    -------
    Figure
        Bar heights are proportions of the subjects assessed at that visit; the number assessed is
        written above each bar.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.change import symptom_visits
    >>> trial = example()
    >>> fig = symptom_bars(symptom_visits(trial), symptom="fatigue", arms=trial.study.arm_ids,
    ...                    labels=trial.study.arm_labels)
    >>> [ax.get_title() for ax in fig.axes]
    ['Conventional care', 'UC-MSC', 'Plasma exchange', 'PE + UC-MSC']
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['D0', 'D3', 'D7', 'D14', 'D21', 'D28', 'W8', 'W12', 'W24', 'W36', 'W48']
    >>> [t.get_text() for t in fig.axes[0].texts]  # control patients assessed at each visit
    ['30', '29', '29', '27', '24', '21', '18', '17', '16', '16', '12']
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    d = symptom_visits[symptom_visits["symptom"] == symptom]
    arms = list(pd.unique(d["arm"])) if arms is None else arms
    labels = labels or {}
    if visits is None:
        visits = list(d.sort_values("visit_day")["visit"].drop_duplicates())
    if axes is None:
        fig, axes = plt.subplots(1, len(arms), figsize=(2.6 * len(arms) + 1, 3.0), sharey=True, squeeze=False)
    axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
    cmap = plt.get_cmap("YlOrRd")
    cols = [cmap(x) for x in np.linspace(0.15, 0.85, len(score_labels))]
    for ax, a in zip(axes, arms):
        s = d[d["arm"] == a]
        tab = pd.crosstab(s["visit"], s["score"]).reindex(index=visits, columns=range(len(score_labels)),
                                                            fill_value=0)
        n = tab.sum(axis=1)
        prop = tab.div(n.where(n > 0), axis=0).fillna(0)
        bottom = np.zeros(len(visits))
        for k, lab in enumerate(score_labels):
            ax.bar(range(len(visits)), prop[k], bottom=bottom, color=cols[k], label=lab, width=0.8)
            bottom += prop[k].to_numpy()
        for i, v in enumerate(n):
            ax.text(i, 1.02, str(int(v)), ha="center", fontsize=6)
        ax.set_xticks(range(len(visits)))
        ax.set_xticklabels(visits, rotation=90, fontsize=7)
        ax.set_title(labels.get(a, a), fontsize=9)
        ax.set_ylim(0, 1.1)
        ax.grid(False)
    axes[0].set_ylabel("Proportion of assessed", fontsize=8)
    axes[-1].legend(fontsize=7, frameon=False, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig = axes[0].figure
    fig.suptitle(symptom.replace("_", " "), fontsize=10)
    fig.tight_layout()
    return fig
