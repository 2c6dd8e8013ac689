"""The visit-window rule: which scheduled visit a measurement belongs to (the kit's only copy).

Labs, clinical grades, symptom scores and the severity scores computed from labs are all placed in
visits by :func:`assign_visits`, so a value counts for the same visit in every table, figure and
model.

Examples
--------
>>> import pandas as pd
>>> from trialkit.study import load_study
>>> rows = pd.DataFrame({"subject_id": "s", "day": [0, 6, 8, 200], "visit": ["D0", "", "D7", ""],
...                      "parameter": "ALT", "value": [1.0, 2.0, 3.0, 4.0]})
>>> assign_visits(rows, load_study())[["visit", "visit_day", "day", "value"]]
  visit  visit_day  day  value
0    D0          0    0    1.0
1    D7          7    8    3.0
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["assign_visits"]


def assign_visits(rows: pd.DataFrame, study, *, keys=("subject_id", "parameter"),
                  one_per_visit: bool = True) -> pd.DataFrame:
    """Place measurement rows in the study file's visits, one row per ``keys`` and visit.

    The rule:

    1. A row with a ``visit`` label keeps it. An unscheduled row (``visit`` empty or missing) goes
       to the visit whose window ``[lo, hi]`` (study days, inclusive) contains its ``day`` (the
       study file's windows do not overlap; were they to, the closest nominal day would win).
    2. Rows in no window, or naming a visit the study file does not have, are dropped.
    3. With ``one_per_visit``, each ``keys`` + visit keeps one row: the scheduled one, then the
       one closest to the nominal day, then the earliest, then the first in input order.

    Parameters
    ----------
    rows : DataFrame
        Columns ``day``, ``visit`` and ``keys``; other columns are carried along. Not modified.
    study : Study
        The study file (``study.visits``: ``id``, ``day``, ``window``).
    keys : sequence of str, default ("subject_id", "parameter")
        What identifies one measurement series (e.g. ``("subject_id", "symptom")``).
    one_per_visit : bool, default True

    Returns
    -------
    DataFrame
        The input's columns with ``visit`` filled in and ``visit_day`` (the nominal study day, int)
        after it; sorted by the first key, ``visit_day``, the other keys and ``day``.

    Examples
    --------
    Day 4 lies in the D3 window [2, 4] (params/study.yaml); day 10 is between the D7 [5, 9] and D14
    [11, 17] windows; the scheduled D7 row (day 9) beats an unscheduled one on the nominal day:

    >>> import pandas as pd
    >>> from trialkit.study import load_study
    >>> rows = pd.DataFrame({"subject_id": "a", "symptom": "fatigue", "day": [4, 10, 7, 9],
    ...                      "visit": ["", "", "", "D7"], "score": [1, 2, 3, 4]})
    >>> assign_visits(rows, load_study(), keys=("subject_id", "symptom"))
      subject_id  symptom  day visit  visit_day  score
    0          a  fatigue    4    D3          3      1
    1          a  fatigue    9    D7          7      4
    """
    keys = list(keys)
    given = rows["visit"].astype(object).where(rows["visit"].notna(), "").astype(str).str.strip()
    unscheduled = (given == "").to_numpy()
    day = pd.to_numeric(rows["day"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    assigned = given.to_numpy(dtype=object).copy()
    best = np.full(len(rows), np.inf)
    for v in study.visits:  # a loop over visits, not rows; the first of equally close visits wins
        dist = np.abs(day - v.day)
        take = unscheduled & (day >= v.window[0]) & (day <= v.window[1]) & (dist < best)
        assigned[take], best[take] = v.id, dist[take]
    nominal = {v.id: v.day for v in study.visits}
    out = rows.copy()
    out["visit"] = assigned
    pos = list(out.columns).index("visit") + 1
    out.insert(pos, "visit_day", out["visit"].map(nominal))
    keep = out["visit_day"].notna().to_numpy()
    out, unscheduled, day = out[keep], unscheduled[keep], day[keep]
    out = out.astype({"visit_day": "int64"})
    if one_per_visit:
        order = out.assign(_unscheduled=unscheduled, _dist=np.abs(day - out["visit_day"].to_numpy()), _day=day)
        order = order.sort_values([*keys, "visit", "_unscheduled", "_dist", "_day"], kind="stable")
        out = out.loc[order.drop_duplicates([*keys, "visit"]).index]
    out = out.sort_values([keys[0], "visit_day", *keys[1:], "day"], kind="stable")
    return out.reset_index(drop=True)
