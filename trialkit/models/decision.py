"""Decision curve analysis: is acting on a model's predicted risk better than treating all or none?

At a threshold probability ``pt`` (the risk at which a clinician would act, e.g. list for
transplantation or escalate care), acting on everyone with predicted risk ``>= pt`` has net benefit

    NB(pt) = TP / n - FP / n * pt / (1 - pt)

(true positives minus false positives weighted by the odds of the threshold, per patient). The
references are *treat none* (NB = 0) and *treat all* (``prevalence - (1 - prevalence) pt/(1 - pt)``).
A model is useful at ``pt`` only where its curve lies above both.

References
----------
Vickers AJ, Elkin EB. Decision curve analysis. Med Decis Making 2006;26:565-574.
Vickers AJ, van Calster B, Steyerberg EW. BMJ 2016;352:i6.

Examples
--------
>>> dc = decision_curve([1, 0, 1, 0, 0], {"m": [0.9, 0.6, 0.4, 0.2, 0.1]}, thresholds=[0.5])
>>> dc[["strategy", "threshold", "net_benefit"]]
     strategy  threshold  net_benefit
0           m        0.5          0.0
1   treat_all        0.5         -0.2
2  treat_none        0.5          0.0
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["net_benefit", "decision_curve", "DEFAULT_THRESHOLDS", "useful_range"]

DEFAULT_THRESHOLDS = tuple(np.round(np.arange(0.02, 0.81, 0.02), 2))


def net_benefit(y: npt.ArrayLike, risk: npt.ArrayLike, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Net benefit of treating subjects whose ``risk >= threshold``.

    Parameters
    ----------
    y : array-like of 0/1
    risk : array-like of predicted probabilities (same length)
    thresholds : sequence of float in (0, 1)

    Returns
    -------
    DataFrame
        ``threshold``, ``n``, ``true_positives``, ``false_positives``, ``net_benefit``.

    Examples
    --------
    At ``pt = 0.3`` two events and one non-event are treated: ``2/5 - 1/5 * 0.3/0.7``.

    >>> net_benefit([1, 0, 1, 0, 0], [0.9, 0.6, 0.4, 0.2, 0.1], thresholds=[0.3, 0.5]).round(3)
       threshold  n  true_positives  false_positives  net_benefit
    0        0.3  5               2                1        0.314
    1        0.5  5               1                1        0.000
    """
    y = np.asarray(y).astype(int)
    r = np.asarray(risk, dtype=float)
    if len(y) != len(r):
        raise ValueError("y and risk differ in length")
    if np.isnan(r).any():
        raise ValueError("risk has missing values")
    th = np.asarray(thresholds, dtype=float)
    if ((th <= 0) | (th >= 1)).any():
        raise ValueError("thresholds must lie strictly between 0 and 1")
    n = len(y)
    treat = r[None, :] >= th[:, None]
    tp = (treat & (y[None, :] == 1)).sum(axis=1)
    fp = (treat & (y[None, :] == 0)).sum(axis=1)
    nb = tp / n - fp / n * th / (1 - th)
    return pd.DataFrame({"threshold": th, "n": n, "true_positives": tp.astype(np.int64),
                         "false_positives": fp.astype(np.int64), "net_benefit": nb})


def decision_curve(y: npt.ArrayLike, risks: dict[str, npt.ArrayLike],
                   thresholds: Sequence[float] = DEFAULT_THRESHOLDS, labels: dict | None = None) -> pd.DataFrame:
    """Net benefit of each model and of the treat-all / treat-none strategies, long format.

    Parameters
    ----------
    y : array-like of 0/1
    risks : dict of name -> predicted risks, a DataFrame (one column per model) or one array
        (named ``model``).
    thresholds : sequence of float in (0, 1)
    labels : dict, optional
        Display label per name (default: the name; ``Treat all``, ``Treat none``).

    Returns
    -------
    DataFrame
        ``strategy``, ``label``, ``threshold``, ``n``, ``true_positives``, ``false_positives``,
        ``net_benefit``, ``prevalence``; models in the given order, then ``treat_all``, ``treat_none``.

    Examples
    --------
    >>> import pandas as pd
    >>> risks = pd.DataFrame({"m": [0.9, 0.6, 0.4, 0.2, 0.1]})
    >>> dc = decision_curve([1, 0, 1, 0, 0], risks, thresholds=[0.3, 0.5], labels={"m": "My model"})
    >>> dc[["label", "threshold", "net_benefit", "prevalence"]].round(3)
            label  threshold  net_benefit  prevalence
    0    My model        0.3        0.314         0.4
    1    My model        0.5        0.000         0.4
    2   Treat all        0.3        0.143         0.4
    3   Treat all        0.5       -0.200         0.4
    4  Treat none        0.3        0.000         0.4
    5  Treat none        0.5        0.000         0.4
    """
    if isinstance(risks, pd.DataFrame):
        risks = {c: risks[c].to_numpy() for c in risks.columns}
    elif not isinstance(risks, dict):
        risks = {"model": risks}
    y = np.asarray(y).astype(int)
    labels = {"treat_all": "Treat all", "treat_none": "Treat none", **(labels or {})}
    strategies = dict(risks) | {"treat_all": np.ones(len(y)), "treat_none": np.zeros(len(y))}
    parts = []
    for name, r in strategies.items():
        d = net_benefit(y, r, thresholds)
        d.insert(0, "label", labels.get(name, name))
        d.insert(0, "strategy", name)
        parts.append(d)
    out = pd.concat(parts, ignore_index=True)
    out["prevalence"] = float(y.mean())
    return out


def useful_range(dc: pd.DataFrame, strategy: str | None = None, margin: float = 0.0) -> pd.DataFrame:
    """Thresholds at which a strategy beats both treat-all and treat-none by more than ``margin``.

    Parameters
    ----------
    dc : DataFrame
        :func:`decision_curve` output.
    strategy : str, optional
        One model strategy; default every strategy except the two references, in table order.

    Returns
    -------
    DataFrame
        One row per strategy: ``strategy``, ``label``, ``n_thresholds`` (how many of the evaluated
        thresholds), ``low`` and ``high`` (smallest and largest such threshold; NaN when none).

    Examples
    --------
    >>> dc = decision_curve([1, 0, 1, 0, 0], {"m": [0.9, 0.6, 0.4, 0.2, 0.1]}, thresholds=[0.3, 0.5, 0.7])
    >>> useful_range(dc)
      strategy label  n_thresholds  low  high
    0        m     m             2  0.3   0.7
    """
    w = dc.pivot(index="threshold", columns="strategy", values="net_benefit")
    best_ref = np.maximum(w["treat_all"], w["treat_none"])
    names = [strategy] if strategy is not None else [s for s in pd.unique(dc["strategy"])
                                                      if s not in ("treat_all", "treat_none")]
    labels = dc.drop_duplicates("strategy").set_index("strategy")["label"] if "label" in dc else {}
    rows = []
    for s in names:
        ok = w[s] > best_ref + margin
        th = w.index[ok.to_numpy()]
        rows.append({"strategy": s, "label": labels.get(s, s) if len(labels) else s, "n_thresholds": int(len(th)),
                     "low": float(th.min()) if len(th) else np.nan, "high": float(th.max()) if len(th) else np.nan})
    return pd.DataFrame(rows)
