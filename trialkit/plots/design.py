"""Figures of design simulations (:mod:`trialkit.design`): power curves.

The numbers come from :mod:`trialkit.design.summaries`; this module only draws them.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from trialkit.plots.style import error_bars

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_power_curve"]


def _series_label(analysis: str, label: str) -> str:
    return {"cox_main": f"{label}: main effect (Cox)",
            "cox_interaction": f"{label} (Cox with interaction)"}.get(analysis, label)


def plot_power_curve(curve: pd.DataFrame, *, x: str = "n_subjects", terms: Sequence[str] | None = None,
                     ax: Axes | None = None, alpha: float = 0.05) -> Axes:
    """Power against ``x`` (``"n_subjects"`` or ``"hr"``) for each comparison, with Monte Carlo
    intervals (error bars) and Schoenfeld's approximation (dashed) where available.

    Parameters
    ----------
    curve : DataFrame
        From :func:`trialkit.design.summaries.power_curve`.
    x : {"n_subjects", "hr"}
    terms : list of (analysis, term), optional
        Comparisons to draw (default: every one).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"analysis": "cox_main", "term": "msc", "label": "UC-MSC", "n_subjects": [120, 240, 360],
    ...                       "estimate": [0.40, 0.68, 0.84], "ci_low": [0.33, 0.61, 0.78],
    ...                       "ci_high": [0.47, 0.74, 0.89], "schoenfeld": [0.42, 0.70, 0.86]})
    >>> ax = plot_power_curve(curve)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('total sample size', 'power (share of trials with p < 0.05)')
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['UC-MSC: main effect (Cox)']
    >>> import matplotlib.pyplot as plt
    >>> plt.close(ax.figure)
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots()
    keys = list(dict.fromkeys(zip(curve["analysis"], curve["term"]))) if terms is None else list(terms)
    for i, (a, t) in enumerate(keys):
        d = curve[(curve["analysis"] == a) & (curve["term"] == t)].sort_values(x)
        if d.empty:
            continue
        color = f"C{i % 10}"
        yerr = error_bars(d["estimate"], d["ci_low"], d["ci_high"])
        ax.errorbar(d[x], d["estimate"], yerr=yerr, marker="o", color=color, capsize=3,
                    label=_series_label(a, d["label"].iloc[0]))
        if "schoenfeld" in d and d["schoenfeld"].notna().any():
            ax.plot(d[x], d["schoenfeld"], ls="--", color=color, lw=1)
    ax.axhline(0.8, color="grey", lw=0.8, ls=":")
    ax.axhline(alpha, color="grey", lw=0.8, ls=":")
    ax.set_ylim(0, 1)
    ax.set_xlabel({"n_subjects": "total sample size", "hr": "true hazard ratio"}.get(x, x))
    ax.set_ylabel(f"power (share of trials with p < {alpha:g})")
    ax.legend(fontsize="small", loc="best")
    return ax
