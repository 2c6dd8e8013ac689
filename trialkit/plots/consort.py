"""CONSORT 2010 flow diagram drawn from the data (counts from :func:`trialkit.derive.status.consort_counts`).

One column per arm, whatever the number of arms. Boxes: randomized; allocated and treatment
received (in full / in part / none, against the arm's planned schedule); follow-up to the horizon
(died, transplanted, follow-up ended at transplantation, withdrew, lost, completed); analysed.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> counts = pd.DataFrame({"arm": ["a", "b", "total"], "label": ["A", "B", "Total"], "allocated": [3, 2, 5],
...     "received_full": [0, 2, 2], "received_partial": [0, 0, 0], "received_none": [0, 0, 0],
...     "no_active_treatment": [3, 0, 3], "treatment_unknown": [0, 0, 0], "died": [1, 0, 1],
...     "transplanted": [0, 0, 0], "ended_at_transplant": [0, 0, 0], "withdrew": [0, 0, 0],
...     "lost": [0, 1, 1], "completed": [2, 1, 3], "analysed": [3, 2, 5], "excluded": [0, 0, 0]})
>>> ax = plot_consort(counts)
>>> "Randomized (n = 5)" in [t.get_text() for t in ax.texts]
True
"""
from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any, cast

import matplotlib.pyplot as plt
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_consort", "consort_box_texts"]


def consort_box_texts(counts: pd.DataFrame, *, horizon_label: str = "the primary horizon") -> dict:
    """The text of every box, from :func:`~trialkit.derive.status.consort_counts` output.

    Returns
    -------
    dict
        ``"randomized"``: str; ``"arms"``: list (one per arm, in row order) of dicts with keys
        ``"allocation"``, ``"follow_up"``, ``"analysis"``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.status import consort_counts
    >>> texts = consort_box_texts(consort_counts(example()), horizon_label="week 48")
    >>> texts["randomized"], len(texts["arms"])
    ('Randomized (n = 120)', 4)
    >>> msc = texts["arms"][1]
    >>> print(msc["allocation"])
    Allocated to UC-MSC
    (n = 30)
    Allocated treatment received:
    in full (n = 23)
    in part (n = 7)
    not at all (n = 0)
    >>> print(msc["follow_up"])
    Follow-up to week 48
    Died (n = 11)
    Transplanted (n = 0)
    Withdrew (n = 0)
    Lost to follow-up (n = 0)
    Completed alive (n = 19)
    """
    total = counts[counts["arm"] == "total"].iloc[0]
    arms = counts[counts["arm"] != "total"]
    out: dict[str, Any] = {"randomized": f"Randomized (n = {int(total['allocated'])})", "arms": []}
    for _, r in arms.iterrows():
        alloc = [*textwrap.wrap(f"Allocated to {r['label']}", 26), f"(n = {int(r['allocated'])})"]
        if r["no_active_treatment"] == r["allocated"]:
            alloc.append("no study treatment to give")
        elif r["treatment_unknown"] + r["no_active_treatment"] == r["allocated"]:
            alloc.append("treatment received: not recorded")  # the data have no <factor>_doses for this arm
        else:
            alloc += ["Allocated treatment received:", f"in full (n = {int(r['received_full'])})",
                      f"in part (n = {int(r['received_partial'])})", f"not at all (n = {int(r['received_none'])})"]
            if r["treatment_unknown"]:
                alloc.append(f"doses not recorded (n = {int(r['treatment_unknown'])})")
        fu = [*textwrap.wrap(f"Follow-up to {horizon_label}", 26), f"Died (n = {int(r['died'])})"]
        if "transplanted" in r:  # a study that declares a transplant event
            fu.append(f"Transplanted (n = {int(r['transplanted'])})")
            if r["ended_at_transplant"]:
                fu.append(f"follow-up ended at it (n = {int(r['ended_at_transplant'])})")
        fu += [f"Withdrew (n = {int(r['withdrew'])})", f"Lost to follow-up (n = {int(r['lost'])})"]
        if r.get("censored", 0):
            fu.append(f"Follow-up ended, no reason recorded (n = {int(r['censored'])})")
        fu.append(f"Completed alive (n = {int(r['completed'])})")
        an = [f"Analysed (n = {int(r['analysed'])})", f"Excluded (n = {int(r['excluded'])})"]
        out["arms"].append({"allocation": "\n".join(alloc), "follow_up": "\n".join(fu), "analysis": "\n".join(an)})
    return out


def plot_consort(counts: pd.DataFrame, *, ax: Axes | None = None, horizon_label: str = "the primary horizon",
                 fontsize: float = 8.0) -> Axes:
    """Draw the CONSORT flow diagram.

    Parameters
    ----------
    counts : DataFrame
        :func:`~trialkit.derive.status.consort_counts` output (rows per arm plus ``"total"``).
    ax : matplotlib Axes, optional
        Drawn into (axis hidden); a new figure sized to the number of arms otherwise.
    horizon_label : str
        How the follow-up horizon is named in the boxes (e.g. ``"week 48"``).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.status import consort_counts
    >>> counts = consort_counts(example())
    >>> fig, ax = plt.subplots(figsize=(11, 7.5))
    >>> plot_consort(counts, ax=ax, horizon_label="week 48") is ax
    True
    >>> [t.get_text() for t in ax.texts][:4]
    ['Randomized (n = 120)', 'Allocation', 'Follow-up', 'Analysis']
    >>> plt.close("all")
    """
    texts = consort_box_texts(counts, horizon_label=horizon_label)
    k = len(texts["arms"])
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 2.6 * k), 7.5))
    ax.set_xlim(0, k)
    ax.set_ylim(0, 1)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "0.3"}
    arrow = {"arrowstyle": "-|>", "color": "0.3", "lw": 1.0}
    top = ax.text(k / 2, 0.95, texts["randomized"], ha="center", va="center", fontsize=fontsize + 1, bbox=box)
    levels = {"allocation": 0.70, "follow_up": 0.36, "analysis": 0.08}
    for y, name in zip(levels.values(), ["Allocation", "Follow-up", "Analysis"]):
        ax.text(-0.02, y, name, rotation=90, ha="right", va="center", fontsize=fontsize, color="0.35")
    columns = []
    for i, arm in enumerate(texts["arms"]):
        columns.append([ax.text(i + 0.5, y, arm[key], ha="center", va="center", fontsize=fontsize, bbox=box,
                                linespacing=1.4) for key, y in levels.items()])
    # arrows from the bottom of each box to the top of the next, measured after layout
    fig = cast("Figure", ax.figure)
    fig.draw_without_rendering()  # lays out the boxes so their extents are known
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg-based canvases (the kit's) have it
    inv = ax.transData.inverted()

    def extent(t):
        bb = t.get_bbox_patch().get_window_extent(renderer)
        (x0, y0), (x1, y1) = inv.transform([(bb.x0, bb.y0), (bb.x1, bb.y1)])
        return x0, y0, x1, y1

    tx0, ty0, tx1, _ = extent(top)
    for i, col in enumerate(columns):
        src_x = min(max(i + 0.5, tx0 + 0.05), tx1 - 0.05)
        prev = (src_x, ty0)
        for t in col:
            _, y0, _, y1 = extent(t)
            ax.annotate("", xy=(i + 0.5, y1), xytext=prev, arrowprops=arrow)
            prev = (i + 0.5, y0)
    return ax
