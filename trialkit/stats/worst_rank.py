"""Worst-rank composite (Lachin, Control Clin Trials 1999): labs and death analysed together.

The repeated-measures model describes survivors. The worst-rank composite ranks every randomized
subject with a baseline value on one scale: subjects who died or were transplanted by the horizon
rank below every survivor, ordered by the day of the event (earlier = worse); survivors rank by
their change from baseline, oriented so that higher is better. Arms are compared with the
Wilcoxon-Mann-Whitney test; the effect is the probabilistic index (win probability) P(treated
subject ranks above a control subject) + ½ P(tie). A Hodges-Lehmann shift is not reported: the
composite mixes days of death with lab changes, so a shift on it has no unit.

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"arm": ["c", "c", "c", "t", "t", "t"], "event": [1, 0, 0, 0, 0, 1],
...                   "event_day": [10, None, None, None, None, 50], "change": [None, -1., 0., -2., -1.5, None]})
>>> worst_rank_scores(d, higher_is_better=False).tolist()
[1.0, 4.0, 3.0, 6.0, 5.0, 2.0]
"""
from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pandas as pd
from scipy import stats

from trialkit.stats.ordinal import mann_whitney

__all__ = ["worst_rank_scores", "worst_rank_test"]


def worst_rank_scores(data: pd.DataFrame, *, higher_is_better: bool) -> pd.Series:
    """Composite ranks (1 = worst; ties get the average rank), aligned with ``data``'s index.

    Parameters
    ----------
    data : DataFrame
        ``event`` (0/1), ``event_day``, ``change`` (as :func:`trialkit.derive.change.worst_rank_inputs`).
    higher_is_better : bool
        Direction of benefit of ``change``.

    Returns
    -------
    Series
        ``rank``, float.

    Examples
    --------
    The death on day 12 ranks below the one on day 40, both below every survivor; tied survivors
    share the average rank:

    >>> import pandas as pd
    >>> d = pd.DataFrame({"event": [0, 1, 0, 1, 0], "event_day": [None, 40, None, 12, None],
    ...                   "change": [1.5, None, -0.5, None, 1.5]})
    >>> worst_rank_scores(d, higher_is_better=True).tolist()
    [4.5, 2.0, 3.0, 1.0, 4.5]
    """
    ev = data["event"].to_numpy() == 1
    ch = data["change"].to_numpy(dtype=float) * (1 if higher_is_better else -1)
    day = data["event_day"].to_numpy(dtype=float)
    if np.isnan(ch[~ev]).any() or np.isnan(day[ev]).any():
        raise ValueError("survivors need a change and events an event_day")
    # one scale: events first (by day), then survivors (by oriented change)
    span = np.nanmax(day[ev]) + 1 if ev.any() else 0.0
    lo = np.nanmin(ch[~ev]) if (~ev).any() else 0.0
    key = np.where(ev, day - span - 1, ch - lo)  # every event key < 0 <= every survivor key
    return pd.Series(stats.rankdata(key), index=data.index, name="rank")


def worst_rank_test(data: pd.DataFrame, *, higher_is_better: bool, arms: list | None = None, control: Hashable | None = None,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Each arm against control on the worst-rank composite.

    Returns
    -------
    DataFrame
        ``arm``, ``n``, ``n_control``, ``events``, ``events_control``, ``statistic`` (W of the treated
        sample, as R ``wilcox.test(treated, control, exact = FALSE, correct = FALSE)``), ``z``,
        ``p_value``, ``prob_index`` (> 0.5 favours the treated arm), ``ci_low``, ``ci_high`` (logit-Wald
        with DeLong standard error).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["c"] * 4 + ["t"] * 4, "event": [1, 0, 0, 0, 0, 0, 0, 1],
    ...                   "event_day": [5, None, None, None, None, None, None, 90],
    ...                   "change": [None, 1., 2, 3, 2.5, 3.5, 4, None]})
    >>> round(float(worst_rank_test(d, higher_is_better=True)["prob_index"].item()), 4)
    0.75
    """
    arms = list(pd.unique(data["arm"])) if arms is None else list(arms)
    control = arms[0] if control is None else control
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for a in arms:
        if a == control:
            continue
        d = data[data["arm"].isin([a, control])]
        if (d["arm"] == a).sum() == 0 or (d["arm"] == control).sum() == 0:
            continue
        rk = worst_rank_scores(d, higher_is_better=higher_is_better)
        r = mann_whitney(rk[d["arm"] == a], rk[d["arm"] == control])
        pi, se = r["prob_index"], r["prob_index_se"]
        if 0 < pi < 1 and se > 0:
            lg, sl = np.log(pi / (1 - pi)), se / (pi * (1 - pi))
            lo, hi = 1 / (1 + np.exp(-(lg - z * sl))), 1 / (1 + np.exp(-(lg + z * sl)))
        else:
            lo = hi = np.nan
        rows.append({"arm": a, "n": int((d["arm"] == a).sum()), "n_control": int((d["arm"] == control).sum()),
                     "events": int(d.loc[d["arm"] == a, "event"].sum()),
                     "events_control": int(d.loc[d["arm"] == control, "event"].sum()),
                     "statistic": r["statistic"], "z": r["z"], "p_value": r["p_value"], "prob_index": pi,
                     "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)
