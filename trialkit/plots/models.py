"""Figures of the predictive chapter; each takes the tidy table of a ``trialkit.models`` function and ``ax=``.

- :func:`plot_roc`: ROC curves (:func:`trialkit.models.evaluation.roc_curves`);
- :func:`plot_calibration`: observed vs predicted risk (:func:`~trialkit.models.evaluation.calibration_curve`);
- :func:`plot_decision_curve`: net benefit (:func:`trialkit.models.decision.decision_curve`);
- :func:`plot_learning_curve`: test AUC by training size
  (:func:`~trialkit.models.evaluation.learning_curve_summary`);
- :func:`plot_importance`: permutation importance (:func:`~trialkit.models.evaluation.permutation_importance_cv`);
- :func:`plot_partial_dependence`: partial dependence (:func:`~trialkit.models.evaluation.partial_dependence`).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> from trialkit.models.decision import decision_curve
>>> dc = decision_curve([1, 0, 1, 0, 0], {"m": [0.9, 0.6, 0.4, 0.2, 0.1]}, thresholds=[0.1, 0.3, 0.5])
>>> ax = plot_decision_curve(dc)
>>> [t.get_text() for t in ax.get_legend().get_texts()]
['m', 'Treat all', 'Treat none']
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trialkit.plots.style import error_bars

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_roc", "plot_calibration", "plot_decision_curve", "plot_learning_curve", "plot_importance",
           "plot_partial_dependence"]


def _ax(ax):
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _colors(names: Sequence[str]) -> dict:
    cmap = plt.get_cmap("tab10")
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def plot_roc(curves: pd.DataFrame, *, ax: Axes | None = None, models: Sequence[str] | None = None,
             show_auc: bool = True) -> Axes:
    """ROC curves, one line per model, with the chance diagonal.

    Parameters
    ----------
    curves : DataFrame
        ``model``, ``label``, ``fpr``, ``tpr`` (and ``auc``, shown in the legend when ``show_auc``).
    models : list of str, optional
        Which models, in legend order (default: all).

    Examples
    --------
    >>> curves = pd.DataFrame({"model": ["meld"] * 4 + ["rf"] * 4, "label": ["MELD"] * 4 + ["Random forest"] * 4,
    ...                        "fpr": [0, 0.2, 0.5, 1, 0, 0.1, 0.4, 1], "tpr": [0, 0.5, 0.8, 1, 0, 0.6, 0.9, 1],
    ...                        "auc": [0.71] * 4 + [0.80] * 4})
    >>> fig, ax = plt.subplots()
    >>> plot_roc(curves, ax=ax) is ax
    True
    >>> [t.get_text() for t in ax.get_legend().get_texts()], ax.get_title()
    (['MELD (0.71)', 'Random forest (0.80)'], 'ROC curves (out-of-fold)')
    >>> plt.close("all")
    """
    ax = _ax(ax)
    names = models or list(pd.unique(curves["model"]))
    col = _colors(names)
    for m in names:
        c = curves[curves["model"] == m]
        lab = c["label"].iloc[0]
        if show_auc and "auc" in c:
            lab = f"{lab} ({c['auc'].iloc[0]:.2f})"
        ax.step(c["fpr"], c["tpr"], where="post", lw=1.4, color=col[m], label=lab)
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="0.5")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="1 - specificity (false-positive rate)",
           ylabel="Sensitivity (true-positive rate)", title="ROC curves (out-of-fold)")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_calibration(table: pd.DataFrame, *, ax: Axes | None = None, models: Sequence[str] | None = None) -> Axes:
    """Observed event proportion (with CI) against mean predicted risk per risk group.

    Parameters
    ----------
    table : DataFrame
        ``model``, ``label``, ``mean_risk``, ``observed``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> table = pd.DataFrame({"model": "lr", "label": "Logistic", "bin": [1, 2, 3], "mean_risk": [0.1, 0.3, 0.6],
    ...                       "observed": [0.05, 0.35, 0.55], "ci_low": [0.01, 0.2, 0.4], "ci_high": [0.2, 0.5, 0.7]})
    >>> fig, ax = plt.subplots()
    >>> ax = plot_calibration(table, ax=ax)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('Predicted risk', 'Observed proportion with the event')
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['Logistic']
    >>> plt.close("all")
    """
    ax = _ax(ax)
    names = models or list(pd.unique(table["model"]))
    col = _colors(names)
    for i, m in enumerate(names):
        t = table[table["model"] == m].dropna(subset=["mean_risk"])
        x = t["mean_risk"].to_numpy() + (i - (len(names) - 1) / 2) * 0.006
        y = t["observed"].to_numpy()
        err = error_bars(y, t["ci_low"], t["ci_high"])
        ax.errorbar(x, y, yerr=err, marker="o", ms=4, lw=1.2, capsize=2, color=col[m], label=t["label"].iloc[0])
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="0.5")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="Predicted risk", ylabel="Observed proportion with the event",
           title="Calibration (out-of-fold)")
    ax.legend(fontsize="small", loc="upper left")
    return ax


def plot_decision_curve(dc: pd.DataFrame, *, ax: Axes | None = None, strategies: Sequence[str] | None = None,
                        ylim: tuple[float, float] | None = None) -> Axes:
    """Net benefit against threshold probability; treat-all and treat-none as references.

    Parameters
    ----------
    dc : DataFrame
        ``strategy``, ``label``, ``threshold``, ``net_benefit`` (:func:`trialkit.models.decision.decision_curve`).
    strategies : list of str, optional
        Model strategies to draw (default: all); treat-all and treat-none are always drawn.
    ylim : tuple, optional
        Default: from a little below 0 to the prevalence (net benefit cannot exceed it).

    Examples
    --------
    >>> from trialkit.models.decision import decision_curve
    >>> dc = decision_curve([1, 0, 1, 0, 0], {"m": [0.9, 0.6, 0.4, 0.2, 0.1]}, thresholds=[0.1, 0.3, 0.5],
    ...                     labels={"m": "MELD model"})
    >>> fig, ax = plt.subplots()
    >>> ax = plot_decision_curve(dc, ax=ax)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['MELD model', 'Treat all', 'Treat none']
    >>> [round(float(v), 2) for v in ax.get_ylim()]  # up to the prevalence, 0.4 (x 1.05)
    [-0.05, 0.42]
    >>> plt.close("all")
    """
    ax = _ax(ax)
    models = [s for s in (strategies or pd.unique(dc["strategy"])) if s not in ("treat_all", "treat_none")]
    col = _colors(models)
    for s in models:
        d = dc[dc["strategy"] == s]
        ax.plot(d["threshold"], d["net_benefit"], lw=1.4, color=col[s], label=d["label"].iloc[0])
    refs: tuple[tuple[str, dict[str, Any]], ...] = (("treat_all", dict(color="0.3", ls="-", lw=0.9)),
                                                    ("treat_none", dict(color="0.3", ls=":", lw=1.2)))
    for s, style in refs:
        d = dc[dc["strategy"] == s]
        ax.plot(d["threshold"], d["net_benefit"], label=d["label"].iloc[0], **style)
    prev = float(dc["prevalence"].iloc[0]) if "prevalence" in dc else float(dc["net_benefit"].max())
    ax.set_ylim(ylim or (-0.05, max(prev, 0.05) * 1.05))
    ax.set(xlabel="Threshold probability", ylabel="Net benefit", title="Decision curve")
    ax.legend(fontsize="small", loc="upper right")
    return ax


def plot_learning_curve(summary: pd.DataFrame, *, ax: Axes | None = None, recalibrated: bool = False) -> Axes:
    """Mean test AUC (± 1 SD over replicates) against the number of subjects in the training cohort.

    Models trained on the cohorts are lines; published scores and the oracle (no training) are
    horizontal references.

    Parameters
    ----------
    summary : DataFrame
        :func:`trialkit.models.evaluation.learning_curve_summary` output.
    recalibrated : bool, default False
        Also draw recalibrated scores (their AUC is the score's own, a flat line on top of it).

    Examples
    --------
    >>> summary = pd.DataFrame({"model": ["lr", "lr", "lr", "meld", "oracle"],
    ...                         "label": ["Logistic"] * 3 + ["MELD", "True risk"],
    ...                         "kind": ["model"] * 3 + ["score", "oracle"],
    ...                         "n_subjects": [60, 120, 240, np.nan, np.nan], "auc": [0.66, 0.71, 0.74, 0.70, 0.82],
    ...                         "auc_sd": [0.06, 0.04, 0.03, np.nan, np.nan]})
    >>> fig, ax = plt.subplots()
    >>> ax = plot_learning_curve(summary, ax=ax)
    >>> ax.get_xscale(), [t.get_text() for t in ax.get_xticklabels()]
    ('log', ['60', '120', '240'])
    >>> sorted(t.get_text() for t in ax.get_legend().get_texts())
    ['Logistic', 'MELD', 'True risk']
    >>> plt.close("all")
    """
    ax = _ax(ax)
    trained = summary[summary["n_subjects"].notna()]
    if not recalibrated:
        trained = trained[trained["kind"] != "recalibrated_score"]
    fixed = summary[summary["n_subjects"].isna()]
    names = list(pd.unique(trained["model"]))
    col = _colors(names + list(fixed["model"]))
    for m in names:
        t = trained[trained["model"] == m].sort_values("n_subjects")
        ax.errorbar(t["n_subjects"], t["auc"], yerr=t["auc_sd"].fillna(0.0), marker="o", ms=4, capsize=2, lw=1.4,
                    color=col[m], label=t["label"].iloc[0])
    for _, r in fixed.iterrows():
        ls = "--" if r["kind"] == "oracle" else ":"
        ax.axhline(r["auc"], ls=ls, lw=1.1, color="0.2" if r["kind"] == "oracle" else col[r["model"]],
                   label=r["label"])
    if len(trained):
        ax.set_xscale("log")
        ticks = sorted(trained["n_subjects"].unique())
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{int(t)}" for t in ticks])
        ax.minorticks_off()
    ax.set(xlabel="Subjects in the training cohort", ylabel="AUC on an independent cohort", title="Learning curve")
    ax.legend(fontsize="small", loc="lower right")
    return ax


def plot_importance(table: pd.DataFrame, *, ax: Axes | None = None, top: int = 15) -> Axes:
    """Horizontal bars of permutation importance (AUC drop) with CIs, most important on top.

    Parameters
    ----------
    table : DataFrame
        ``feature``, ``estimate``, ``ci_low``, ``ci_high`` (and optionally ``true_role``: features
        with a non-empty role are drawn in a second colour).
    top : int
        Number of features shown.

    Examples
    --------
    >>> table = pd.DataFrame({"feature": ["meld", "age", "sodium"], "estimate": [0.08, 0.03, -0.01],
    ...                       "ci_low": [0.04, 0.0, -0.03], "ci_high": [0.12, 0.06, 0.01],
    ...                       "true_role": ["severity", "", None]})
    >>> fig, ax = plt.subplots()
    >>> ax = plot_importance(table, ax=ax)
    >>> [t.get_text() for t in ax.get_yticklabels()]  # bottom to top: most important on top
    ['sodium', 'age', 'meld']
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['true risk factor (simulator)', 'other feature']
    >>> plt.close("all")
    """
    ax = _ax(ax)
    t = table.head(top).iloc[::-1]
    y = np.arange(len(t))
    true = t["true_role"].fillna("").astype(str).to_numpy() != "" if "true_role" in t else np.zeros(len(t), bool)
    colors = np.where(true, "tab:red", "tab:blue")
    err = error_bars(t["estimate"], t["ci_low"], t["ci_high"])
    ax.barh(y, t["estimate"], xerr=err, color=colors, alpha=0.8, capsize=2)
    ax.set_yticks(y)
    ax.set_yticklabels(t["feature"])
    ax.axvline(0, color="0.3", lw=0.8)
    ax.set(xlabel="Drop in AUC when the feature is permuted", title="Permutation importance (held-out folds)")
    if true.any():
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color="tab:red", label="true risk factor (simulator)"),
                           Patch(color="tab:blue", label="other feature")], fontsize="small", loc="lower right")
    return ax


def plot_partial_dependence(table: pd.DataFrame, feature: str, *, ax: Axes | None = None,
                            color: str = "tab:blue") -> Axes:
    """Mean predicted risk against one feature's value (partial dependence).

    Parameters
    ----------
    table : DataFrame
        ``feature``, ``value``, ``risk`` (:func:`trialkit.models.evaluation.partial_dependence`).
    feature : str

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from trialkit.models.evaluation import partial_dependence
    >>> X = pd.DataFrame({"meld": [18.0, 21, 24, 26, 29, 31, 33, 35], "age": [35.0, 52, 41, 60, 47, 38, 55, 44]})
    >>> model = LogisticRegression().fit(X, [0, 0, 0, 1, 0, 1, 1, 1])
    >>> pdp = partial_dependence(model, X, ["meld"])
    >>> fig, ax = plt.subplots()
    >>> ax = plot_partial_dependence(pdp, "meld", ax=ax)
    >>> ax.get_title(), ax.get_ylabel()
    ('meld', 'Mean predicted risk')
    >>> ax.lines[0].get_xdata().tolist()  # the grid: observed values within the 5th-95th percentiles
    [21.0, 24.0, 26.0, 29.0, 31.0, 33.0]
    >>> bool(np.all(np.diff(ax.lines[0].get_ydata()) > 0))  # risk rises with MELD
    True
    >>> plt.close("all")
    """
    ax = _ax(ax)
    t = table[table["feature"] == feature].sort_values("value")
    ax.plot(t["value"], t["risk"], marker="o", ms=3, lw=1.4, color=color)
    ax.set(xlabel=feature, ylabel="Mean predicted risk", title=feature)
    return ax
