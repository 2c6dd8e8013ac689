"""Forest plots of contrasts (week-24 lab effects, factorial estimates) and subgroup effects.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"label": ["A", "B"], "estimate": [0.8, 1.2], "ci_low": [0.5, 0.9], "ci_high": [1.3, 1.6]})
>>> ax = forest_plot(df, log=True, null=1.0)
>>> [t.get_text() for t in ax.get_yticklabels()]
['A', 'B']
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["forest_plot", "forest_panels"]


def forest_plot(df: pd.DataFrame, *, label: str = "label", estimate: str = "estimate", ci_low: str = "ci_low",
                ci_high: str = "ci_high", group: str | None = None, log: bool = False, null: float | None = None,
                annotate: bool = True, fmt: str = "{:.2f}", xlabel: str = "", title: str = "", ax: Axes | None = None) -> Axes:
    """One row per line of ``df``: a point at ``estimate`` and a bar from ``ci_low`` to ``ci_high``.

    Parameters
    ----------
    df : DataFrame
    label, estimate, ci_low, ci_high : str
        Column names.
    group : str, optional
        A column whose changes start a new block (a bold header row), e.g. the subgroup variable.
    log : bool
        Log x-axis (ratios).
    null : float, optional
        Reference line (default 1 for ``log``, else 0).
    annotate : bool
        Write "estimate (low to high)" at the right.
    ax : matplotlib Axes, optional

    Returns
    -------
    Axes
        Rows with a missing estimate are listed without a point.

    Examples
    --------
    Subgroup hazard ratios, one block per subgroup variable:

    >>> import matplotlib.pyplot as plt
    >>> df = pd.DataFrame({"subgroup": ["Sex", "Sex", "Age", "Age"],
    ...                    "level": ["male", "female", "< 50", ">= 50"], "hr": [0.62, 0.85, 0.55, 0.91],
    ...                    "lo": [0.35, 0.30, 0.28, 0.45], "hi": [1.10, 2.41, 1.08, 1.84]})
    >>> fig, ax = plt.subplots()
    >>> ax = forest_plot(df, label="level", estimate="hr", ci_low="lo", ci_high="hi", group="subgroup", log=True,
    ...                  xlabel="Hazard ratio (95% CI)", ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['Sex', '   male', '   female', 'Age', '   < 50', '   >= 50']
    >>> ax.get_xscale(), [t.get_text() for t in ax.texts][:2]
    ('log', ['0.62 (0.35 to 1.10)', '0.85 (0.30 to 2.41)'])
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    rows: list[Any] = []
    ylabels: list[str] = []
    bold: list[bool] = []
    prev = object()
    for _, r in df.iterrows():
        if group is not None and r[group] != prev:
            rows.append(None)
            ylabels.append(str(r[group]))
            bold.append(True)
            prev = r[group]
        rows.append(r)
        ylabels.append(("   " if group is not None else "") + str(r[label]))
        bold.append(False)
    n = len(rows)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.8 + 0.32 * n))
    null = (1.0 if log else 0.0) if null is None else null
    y = np.arange(n)[::-1]
    for yi, r in zip(y, rows):
        if r is None or pd.isna(r[estimate]):
            continue
        ax.plot([r[ci_low], r[ci_high]], [yi, yi], color="0.25", lw=1.4)
        ax.plot(r[estimate], yi, "s", color="C0", ms=5)
    ax.axvline(null, color="0.5", ls="--", lw=0.8)
    if log:
        from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

        ax.set_xscale("log")
        vals = pd.concat([df[ci_low], df[ci_high], pd.Series([null])]).astype(float)
        vals = vals[np.isfinite(vals) & (vals > 0)]
        narrow = len(vals) and vals.max() / vals.min() < 4
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5) if narrow else LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax.set_yticks(y)
    ax.set_yticklabels(ylabels, fontsize=8)
    for t, b in zip(ax.get_yticklabels(), bold):
        if b:
            t.set_fontweight("bold")
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(axis="y", visible=False)
    if annotate:
        for yi, r in zip(y, rows):
            if r is None:
                continue
            txt = "—" if pd.isna(r[estimate]) else (f"{fmt.format(r[estimate])} ({fmt.format(r[ci_low])} to "
                                                   f"{fmt.format(r[ci_high])})")
            ax.annotate(txt, xy=(1.01, yi), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    return ax


def forest_panels(df: pd.DataFrame, *, panel: str, log_column: str | None = None, null_log: float = 1.0,
                  null_linear: float = 0.0, width: float = 8.0, **kwargs: Any) -> Figure:
    """One forest plot per value of ``panel`` (e.g. per lab), stacked, each with its own x-axis.

    Parameters
    ----------
    df : DataFrame
    panel : str
        Column whose values get a panel each (in order of appearance); it is the panel's title.
    log_column : str, optional
        A column whose value ``"log"`` marks panels drawn on a log axis (ratios).
    **kwargs
        Passed to :func:`forest_plot` (``label``, ``estimate``, ``ci_low``, ``ci_high``, ``xlabel`` ...).

    Returns
    -------
    Figure

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"lab": ["A", "A", "B"], "arm": ["x", "y", "x"], "estimate": [1., 2, .8],
    ...                   "ci_low": [0., 1, .6], "ci_high": [2., 3, 1.1], "scale": ["identity", "identity", "log"]})
    >>> fig = forest_panels(d, panel="lab", log_column="scale", label="arm")
    >>> [a.get_title(loc="left") for a in fig.axes]
    ['A', 'B']
    """
    import matplotlib.pyplot as plt

    keys = list(pd.unique(df[panel]))
    sizes = [int((df[panel] == k).sum()) for k in keys]
    fig, axes = plt.subplots(len(keys), 1, figsize=(width, 0.2 + sum(0.35 * n + 0.75 for n in sizes)),
                             gridspec_kw={"height_ratios": [n + 1.2 for n in sizes]}, squeeze=False)
    for ax, k in zip(axes[:, 0], keys):
        sub = df[df[panel] == k]
        log = bool(log_column is not None and (sub[log_column] == "log").any())
        forest_plot(sub, log=log, null=null_log if log else null_linear, title=str(k), ax=ax, **kwargs)
    fig.tight_layout()
    return fig
