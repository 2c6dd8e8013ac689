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
    # work on factor codes: hashing a column once is far cheaper than sorting or copying its strings;
    # small integer types and no full-length temporaries kept: 15 million lab rows at 100,000 subjects
    vcode, vuniq = pd.factorize(rows["visit"])
    labels = [str(u).strip() for u in vuniq] + [""]          # code -1 (missing) -> ""
    nominal = {v.id: float(v.day) for v in study.visits}
    ids = [v.id for v in study.visits]
    small = np.int16 if len(labels) + len(ids) < 32767 else np.int64
    label_idx = vcode.astype(small)                           # index into labels + study visit ids
    del vcode
    label_idx[label_idx < 0] = len(labels) - 1
    unscheduled = np.array([lab == "" for lab in labels])[label_idx]
    visit_day = np.array([nominal.get(lab, np.nan) for lab in labels])[label_idx]
    day = pd.to_numeric(rows["day"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    free = np.flatnonzero(unscheduled)  # the window rule runs on unscheduled rows only
    free_day = day[free]
    best = np.full(len(free), np.inf)
    free_vday, free_label = visit_day[free], label_idx[free]
    for i, v in enumerate(study.visits):  # a loop over visits, not rows; the first of equally close wins
        dist = np.abs(free_day - v.day)
        take = (free_day >= v.window[0]) & (free_day <= v.window[1]) & (dist < best)
        best[take], free_vday[take], free_label[take] = dist[take], v.day, len(labels) + i
    visit_day[free], label_idx[free] = free_vday, free_label
    del free, free_day, best, free_vday, free_label
    placed = ~np.isnan(visit_day)
    all_kept = bool(placed.all())
    keep = np.arange(0) if all_kept else np.flatnonzero(placed)  # positions of the placed rows
    del placed
    day_k, lab_k = (day, label_idx) if all_kept else (day[keep], label_idx[keep])
    del day, visit_day
    # the visit day comes with the label: rank the few nominal days of labels + study visit ids
    label_days = np.array([nominal.get(lab, np.nan) for lab in labels] + [v.day for v in study.visits], dtype=float)
    uniq_days = np.unique(label_days[~np.isnan(label_days)])
    vrank = np.searchsorted(uniq_days, label_days).astype(small)[lab_k]
    del label_idx
    unscheduled_k = unscheduled if all_kept else unscheduled[keep]
    del unscheduled
    # one integer per (first key, visit day, other keys), in that order of significance: a missing key
    # (code -1) first; wider than int64 (never with real data) falls back to sorting on the separate keys
    codes = []
    for k in keys:  # codes in the order of the values
        c = pd.factorize(rows[k], sort=True)[0]
        codes.append((c if all_kept else c[keep]).astype(np.int32 if len(c) < 2**31 - 1 else np.int64))
        del c
    radix = [(codes[0], 1), (vrank, 0), *((c, 1) for c in codes[1:])]  # (codes, shift)
    sizes = [int(c.max(initial=-1)) + 1 + shift for c, shift in radix]
    group_keys: tuple[np.ndarray, ...]
    if np.prod([float(s) for s in sizes]) < 2.0**62:
        group = np.zeros(len(day_k), dtype=np.int64)
        for (c, shift), size in zip(radix, sizes):
            group *= size
            group += c
            group += shift
        group_keys = (group,)
        del codes, radix
    else:
        group_keys = (*codes[:0:-1], vrank, codes[0])
    if one_per_visit:
        # np.lexsort sorts by its last key first and is stable (ties keep input order): within a series
        # and visit the scheduled row, then the closest to the nominal day, then the earliest, then the
        # first in input order comes first; the series and visits come in output order
        first = np.lexsort((day_k, np.abs(day_k - uniq_days[vrank]), unscheduled_k, *group_keys))
        same = np.ones(max(len(first) - 1, 0), dtype=bool)  # same series and visit as the row before
        for g in group_keys:
            gf = g[first]
            same &= gf[1:] == gf[:-1]
            del gf
        order = first[np.r_[True, ~same]] if len(first) else first
        del first, same
    else:
        # output order: first key, visit day, the other keys, day (stable)
        order = np.lexsort((day_k, *group_keys))
    del group_keys
    out = rows.iloc[order if all_kept else keep[order]]  # a new frame (copy on write): rows untouched
    visit = pd.array(np.array(labels + ids, dtype=object), dtype="str").take(lab_k[order])
    out = out.assign(visit=pd.Series(visit, index=out.index))
    out.insert(list(out.columns).index("visit") + 1, "visit_day", uniq_days[vrank[order]].astype("int64"))
    return out.reset_index(drop=True)
