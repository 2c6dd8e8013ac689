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

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from trialkit.study import Study

__all__ = ["assign_visits"]


def assign_visits(rows: pd.DataFrame, study: Study, *, keys: Sequence[str] = ("subject_id", "parameter"),
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
    # work on factor codes: hashing a column once is far cheaper than sorting or copying its strings
    vcode, vuniq = pd.factorize(rows["visit"])
    labels = [str(u).strip() for u in vuniq] + [""]          # code -1 (missing) -> ""
    nominal = {v.id: float(v.day) for v in study.visits}
    unscheduled = np.array([lab == "" for lab in labels])[vcode]
    visit_day = np.array([nominal.get(lab, np.nan) for lab in labels])[vcode]
    label_idx = np.asarray(vcode).copy()                      # index into labels + study visit ids
    label_idx[vcode < 0] = len(labels) - 1
    ids = [v.id for v in study.visits]
    day = pd.to_numeric(rows["day"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    best = np.full(len(rows), np.inf)
    for i, v in enumerate(study.visits):  # a loop over visits, not rows; the first of equally close wins
        dist = np.abs(day - v.day)
        take = unscheduled & (day >= v.window[0]) & (day <= v.window[1]) & (dist < best)
        best[take], visit_day[take], label_idx[take] = dist[take], v.day, len(labels) + i
    keep = np.flatnonzero(~np.isnan(visit_day))
    codes = [pd.factorize(rows[k], sort=True)[0][keep] for k in keys]  # codes in the order of the values
    vday, day_k, lab_k = visit_day[keep], day[keep], label_idx[keep]
    if one_per_visit:
        # np.lexsort sorts by its last key first and is stable (ties keep input order)
        first = np.lexsort((day_k, np.abs(day_k - vday), unscheduled[keep], vday, *codes[::-1]))
        series = np.column_stack([*(c[first] for c in codes), vday[first]])
        new = np.r_[True, (series[1:] != series[:-1]).any(axis=1)] if len(first) else np.zeros(0, bool)
        sel = np.sort(first[new])
        keep, vday, day_k, lab_k, codes = keep[sel], vday[sel], day_k[sel], lab_k[sel], [c[sel] for c in codes]
    # output order: first key, visit day, the other keys, day (stable)
    order = np.lexsort((day_k, *codes[:0:-1], vday, codes[0]))
    out = rows.iloc[keep[order]].copy()
    out["visit"] = np.array(labels + ids, dtype=object)[lab_k[order]]
    out.insert(list(out.columns).index("visit") + 1, "visit_day", vday[order].astype("int64"))
    return out.reset_index(drop=True)
