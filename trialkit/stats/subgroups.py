"""Subgroup analyses of a treatment effect on survival, with treatment-by-subgroup interaction tests.

For each subgroup variable the treatment's hazard ratio is estimated within each level (Cox model
``treatment + adjust`` fitted in the level), and the interaction is tested on all subjects with
``treatment + adjust + level + treatment × level`` (Wald chi-square, 1 df per extra level).
Subgroup results are exploratory: the trial is not powered for them, and with several variables
one "significant" interaction is expected by chance.

Subgroup variables are parameters: ``{"MELD": "median", "age": 40, "cirrhosis": None}`` splits MELD
at its median (≤ / >), age at 40 (< / ≥) and takes the levels of ``cirrhosis`` as they are.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(3)
>>> n = 200
>>> d = pd.DataFrame({"msc": rng.integers(0, 2, n), "age": rng.uniform(20, 60, n)})
>>> d["time"] = rng.exponential(100 * np.exp(0.5 * d["msc"]))
>>> d["event"] = (d["time"] < 150).astype(int)
>>> d["time"] = d["time"].clip(upper=150)
>>> t = subgroup_cox(d, treatment="msc", subgroups={"age": "median"})
>>> t[["variable", "level", "n"]]
  variable    level    n
0      age  ≤ 41.45  100
1      age  > 41.45  100
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from trialkit.stats.survival import cox_model

__all__ = ["subgroup_levels", "subgroup_cox", "LABELS"]

# Display names of the data format's baseline columns (docs/data-format.md) and scores.
LABELS = {"MELD": "Baseline MELD", "age": "Age (years)", "cirrhosis": "Cirrhosis", "hbeag_positive": "HBeAg positive",
          "sex": "Sex", "hbv_dna_log10": "HBV DNA (log10 IU/mL)", "ascites": "Ascites grade",
          "encephalopathy": "Encephalopathy grade"}


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def subgroup_levels(values: pd.Series, spec: str | float | None) -> pd.Series:
    """Level labels of one subgroup variable (NaN where the value is missing).

    Parameters
    ----------
    values : Series
    spec : "median", a number, or None
        ``"median"``: ``≤ m`` / ``> m``; a number c: ``< c`` / ``≥ c``; None: the values themselves
        (booleans as ``yes`` / ``no``).

    >>> import pandas as pd
    >>> subgroup_levels(pd.Series([1.0, 2, 3, None]), "median").tolist()
    ['≤ 2', '≤ 2', '> 2', nan]
    >>> subgroup_levels(pd.Series([True, False]), None).tolist()
    ['yes', 'no']
    """
    v = values
    miss = v.isna()
    if spec is None:
        if v.dropna().map(lambda x: isinstance(x, (bool, np.bool_))).all():
            out = v.map({True: "yes", False: "no"})
        else:
            out = v.astype(object).map(str)
        return out.where(~miss)
    x = v.astype(float)
    if spec == "median":
        m = float(np.nanmedian(x))
        out = np.where(x <= m, f"≤ {_fmt(m)}", f"> {_fmt(m)}")
    else:
        c = float(spec)
        out = np.where(x < c, f"< {_fmt(c)}", f"≥ {_fmt(c)}")
    return pd.Series(out, index=v.index, dtype=object).where(~miss)


def _level_order(levels: pd.Series) -> list:
    u = sorted(pd.unique(levels.dropna()), key=str)
    first = [x for x in u if str(x).startswith(("≤", "<", "no", "False"))]
    return first + [x for x in u if x not in first]


def subgroup_cox(data: pd.DataFrame, *, treatment: str, subgroups: dict, adjust: Sequence[str] = (), labels: dict | None = None,
                 alpha: float = 0.05, min_events: int = 5) -> pd.DataFrame:
    """Hazard ratio of ``treatment`` within subgroups, and the interaction p-value per variable.

    Parameters
    ----------
    data : DataFrame
        ``time``, ``event``, the 0/1 ``treatment`` column, ``adjust`` columns and the subgroup variables.
    treatment : str
    subgroups : dict
        Variable → split spec (see :func:`subgroup_levels`).
    adjust : sequence of str
        Other treatment factors to adjust for (the other factor of a 2×2 design).
    labels : dict, optional
        Display names of the variables.
    min_events : int
        Levels with fewer events, or with no event in one treatment group, get no estimate.

    Returns
    -------
    DataFrame
        ``variable``, ``label``, ``level``, ``n``, ``events``, ``estimate`` (HR), ``ci_low``, ``ci_high``,
        ``p_value``, ``interaction_p_value`` (same on every level of a variable; missing when a level
        has no event in one treatment group, where the interaction is not estimable), ``note``.

    Examples
    --------
    UC-MSC against no UC-MSC (adjusted for plasma exchange) in the simulated 2×2 trial:

    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import time_to_event
    >>> trial = example()
    >>> d = time_to_event(trial).merge(trial.subjects[["subject_id", "age", "cirrhosis"]], on="subject_id")
    >>> t = subgroup_cox(d, treatment="msc", adjust=["pe"], subgroups={"age": 40, "cirrhosis": None})
    >>> t[["variable", "level", "n", "events", "estimate", "ci_low", "ci_high", "interaction_p_value"]].round(2)
        variable level   n  events  estimate  ci_low  ci_high  interaction_p_value
    0        age  < 40  50      23      0.63    0.26     1.48                 0.99
    1        age  ≥ 40  70      30      0.64    0.31     1.32                 0.99
    2  cirrhosis    no  27      13      1.55    0.41     5.80                 0.17
    3  cirrhosis   yes  93      40      0.54    0.29     1.02                 0.17
    """
    labels = {**LABELS, **(labels or {})}
    adjust = [a for a in adjust if a != treatment]
    rows = []
    for var, spec in subgroups.items():
        if var not in data:
            rows.append({"variable": var, "label": labels.get(var, var), "level": None, "n": 0, "events": 0,
                         "note": "variable not in the data"})
            continue
        lv = subgroup_levels(data[var], spec)
        d = data.assign(_level=lv)[lv.notna()]
        order = _level_order(d["_level"])
        var_rows = []
        for level in order:
            s = d[d["_level"] == level]
            ev_by = s.groupby(treatment)["event"].sum()
            r = {"variable": var, "label": labels.get(var, var), "level": level, "n": len(s),
                 "events": int(s["event"].sum())}
            if s["event"].sum() < min_events or len(ev_by) < 2 or (ev_by == 0).any():
                r.update(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan, note="too few events")
            else:
                f = cox_model(s, [treatment, *[a for a in adjust if s[a].nunique() > 1]], alpha=alpha)
                t = f.table.iloc[0]
                r.update(estimate=t["estimate"], ci_low=t["ci_low"], ci_high=t["ci_high"], p_value=t["p_value"],
                         note="")
            var_rows.append(r)
        p_int = np.nan
        each = d.groupby(["_level", treatment])["event"].sum().reindex(
            pd.MultiIndex.from_product([order, sorted(d[treatment].unique())]), fill_value=0)
        if len(order) >= 2 and d["event"].sum() >= min_events and (each > 0).all():
            X = d[["time", "event", treatment, *adjust]].astype(float).copy()
            inter = []
            for k, level in enumerate(order[1:]):
                ind = (d["_level"] == level).astype(float)
                X[f"_lv{k}"] = ind
                X[f"_int{k}"] = ind * d[treatment].astype(float)
                inter.append(f"_int{k}")
            terms = [treatment, *adjust, *[c for c in X.columns if c.startswith("_lv")], *inter]
            try:
                f = cox_model(X, terms, alpha=alpha)
                b = f.model.params_[inter].to_numpy()
                V = f.model.variance_matrix_.loc[inter, inter].to_numpy()
                w = float(b @ np.linalg.solve(V, b))
                p_int = float(stats.chi2.sf(w, len(inter)))
            except Exception:  # noqa: BLE001 - a degenerate subgroup leaves the p-value missing
                p_int = np.nan
        for r in var_rows:
            r["interaction_p_value"] = p_int
        rows += var_rows
    cols = ["variable", "label", "level", "n", "events", "estimate", "ci_low", "ci_high", "p_value",
            "interaction_p_value", "note"]
    out = pd.DataFrame(rows)
    for c in cols:
        if c not in out:
            out[c] = np.nan
    return out[cols]
