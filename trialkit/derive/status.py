"""Per-subject follow-up status (CONSORT) and the reasons data are missing at each visit.

Definitions (used by the CONSORT diagram, the missing-data tables and the trajectory plots):

* **treatment received** — for every factor the subject's arm includes, the doses received
  (``subjects.<factor>_doses``) against the arm's planned schedule (``study.dosing_days``):
  ``"full"`` when every factor reached its planned number of doses, ``"none"`` when no factor
  was given at all, ``"partial"`` otherwise; ``"no_active_treatment"`` for an arm without active
  factors (e.g. conventional care alone) and ``"unknown"`` when a ``<factor>_doses`` column is
  absent.
* **follow-up** within a horizon (default: the primary horizon): ``"died"`` (death on or before
  the horizon), ``"completed"`` (alive at a last contact on or after the *completion day* — the
  lower bound of the window of the visit that contains the horizon, or the horizon itself — or a
  last contact whose ``detail`` is ``completed``), ``"transplanted"`` (alive, follow-up ended at
  a liver transplantation: last contact on the transplant day or ``detail`` = ``transplanted``),
  otherwise ``"withdrew"`` (``detail`` = ``withdrew``), ``"lost"`` (``detail`` = ``lost``) or
  ``"censored"`` (no reason recorded: follow-up simply ended there, as in most real datasets; not
  counted as lost to follow-up). A transplant does not by itself end follow-up (deaths after it are recorded), so
  ``transplanted`` is also a separate flag.
* **analysed** — the full analysis set, every randomized subject (intention to treat), except a
  subject with no follow-up at all after randomization (last contact on day 0, no event).
* **outcome** — the first of death and transplantation within the horizon: ``"died"``,
  ``"transplanted"`` or ``"survivor"`` (alive without transplant at the end of follow-up).

Examples
--------
>>> import pandas as pd
>>> from trialkit.data.trial import Trial
>>> from trialkit.study import load_study
>>> subj = pd.DataFrame({"subject_id": ["a", "b"], "arm": ["msc", "control"], "msc_doses": [2, 0],
...                      "pe_doses": [0, 0]})
>>> ev = pd.DataFrame({"subject_id": ["a", "a", "b"], "event": ["death", "last_contact", "last_contact"],
...                    "day": [10, 10, 330]})
>>> t = Trial(study=load_study(), subjects=subj, labs=pd.DataFrame(), events=ev)
>>> follow_up_status(t)[["arm", "treatment", "follow_up", "outcome"]]
       arm            treatment  follow_up   outcome
0      msc              partial       died      died
1  control  no_active_treatment  completed  survivor
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.derive.codes import factor_codes, positions
from trialkit.derive.visits import assign_visits

if TYPE_CHECKING:
    from trialkit.data.trial import Trial
    from trialkit.study import Study

__all__ = ["follow_up_status", "consort_counts", "completion_day", "visit_status", "missing_summary",
           "MISSING_REASONS"]

MISSING_REASONS = ("died", "transplanted", "dropout", "missed")
_VISIT_STATUSES = ("observed", *MISSING_REASONS)  # the categories of visit_status's status


def _horizon_day(study: Study, horizon: str | float) -> int:
    return int(study.horizons[horizon]) if isinstance(horizon, str) else int(horizon)


def completion_day(study: Study, horizon: str | float = "primary") -> int:
    """First study day on which a last contact counts as having completed follow-up to ``horizon``.

    The lower bound of the window of the visit containing the horizon day, else the horizon.

    >>> from trialkit.study import load_study
    >>> completion_day(load_study())   # W48 window [322, 350]
    322
    """
    h = _horizon_day(study, horizon)
    for v in study.visits:
        if v.window[0] <= h <= v.window[1]:
            return int(v.window[0])
    return h


def _event_days(trial: Trial) -> pd.DataFrame:
    """First day of each event type per subject (index: subject_id, in subjects order)."""
    ev = trial.events
    first = ev.groupby(["subject_id", "event"], observed=True)["day"].min().unstack("event")
    first = first.reindex(trial.subjects["subject_id"].astype(object).to_numpy())
    for e in ("death", "transplant", "hcc", "last_contact"):
        if e not in first.columns:
            first[e] = np.nan
    first = first.astype(float)
    detail = pd.Series(np.nan, index=first.index, dtype=object)
    if "detail" in ev.columns:
        lc = ev.loc[ev["event"] == "last_contact", ["subject_id", "detail"]].drop_duplicates("subject_id")
        detail = first.index.to_series().map(lc.set_index("subject_id")["detail"].astype(object))
    first["detail"] = detail.astype(object).where(detail.notna(), None)
    return first


def follow_up_status(trial: Trial, horizon: str | float = "primary") -> pd.DataFrame:
    """One row per randomized subject: treatment received, events and follow-up status.

    Parameters
    ----------
    trial : Trial
    horizon : "primary", "secondary" or int, default "primary"
        Study day up to which deaths, transplants and completion are judged.

    Returns
    -------
    DataFrame
        In ``trial.subjects`` order: ``subject_id``, ``arm``, for each factor ``f`` of the study
        ``<f>_planned`` (doses planned in the subject's arm, 0 if the arm lacks ``f``) and
        ``<f>_received`` (from ``<f>_doses``; NaN when the column is absent), ``treatment``,
        ``death_day``, ``transplant_day``, ``end_day`` (last contact or death), ``died``,
        ``transplanted``, ``follow_up``, ``lost_to_follow_up`` (``follow_up`` is ``withdrew`` or
        ``lost``), ``completed``, ``analysed``, ``outcome``. See the module docstring for the
        definitions.

    Examples
    --------
    ``a`` died on day 40, ``b`` completed, ``c`` ended follow-up at a transplant on day 50, ``d``
    withdrew on day 100 after 1 of 4 UC-MSC doses:

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> subj = pd.DataFrame({"subject_id": ["a", "b", "c", "d"], "arm": ["msc", "control", "pe", "pe_msc"],
    ...                      "msc_doses": [4, 0, 0, 1], "pe_doses": [0, 0, 3, 0]})
    >>> ev = pd.DataFrame({"subject_id": ["a", "a", "b", "c", "c", "d"], "day": [40, 40, 330, 50, 50, 100],
    ...                    "event": ["death", "last_contact", "last_contact", "transplant", "last_contact",
    ...                              "last_contact"],
    ...                    "detail": ["", "died", "completed", "", "transplanted", "withdrew"]})
    >>> st = follow_up_status(Trial(study=load_study(), subjects=subj, labs=pd.DataFrame(), events=ev))
    >>> st[["subject_id", "treatment", "follow_up", "outcome"]]
      subject_id            treatment     follow_up       outcome
    0          a                 full          died          died
    1          b  no_active_treatment     completed      survivor
    2          c                 full  transplanted  transplanted
    3          d              partial      withdrew      survivor
    >>> st[["subject_id", "end_day", "died", "transplanted", "lost_to_follow_up"]]
      subject_id  end_day   died  transplanted  lost_to_follow_up
    0          a     40.0   True         False              False
    1          b    330.0  False         False              False
    2          c     50.0  False          True              False
    3          d    100.0  False         False               True
    """
    study = trial.study
    h = _horizon_day(study, horizon)
    done_day = completion_day(study, horizon)
    subj = trial.subjects
    days = _event_days(trial)
    out = pd.DataFrame({"subject_id": subj["subject_id"].astype(object).to_numpy(),
                        "arm": subj["arm"].astype(object).to_numpy()})
    arms = out["arm"].to_numpy()
    status = np.full(len(out), "full", dtype=object)
    any_factor = np.zeros(len(out), bool)
    any_given = np.zeros(len(out), bool)
    unknown = np.zeros(len(out), bool)
    for f in study.factor_names:
        planned = np.array([len(study.dosing_days(a, f)) if a in study.arm_ids else 0 for a in arms])
        # a factor without dosing days (continuous, e.g. a daily oral drug): on treatment throughout
        in_arm = np.array([bool(study.arm(a).factors.get(f)) if a in study.arm_ids else False for a in arms])
        no_days = in_arm & (planned == 0)
        col = f"{f}_doses"
        if col in subj.columns:
            got = pd.to_numeric(subj[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        else:
            got = np.full(len(out), np.nan)
        out[f"{f}_planned"] = planned.astype("int64")
        out[f"{f}_received"] = got
        active = planned > 0
        any_factor |= active | no_days
        unknown |= (active | no_days) & np.isnan(got)  # continuous: received when <f>_doses > 0
        any_given |= no_days & (np.nan_to_num(got) > 0)
        any_given |= active & (np.nan_to_num(got) > 0)
        status = np.where(active & (np.nan_to_num(got) < planned), "partial", status)
    status = np.where(any_factor & ~any_given, "none", status)
    status = np.where(unknown, "unknown", status)
    status = np.where(~any_factor, "no_active_treatment", status)
    out["treatment"] = status
    death = days["death"].to_numpy()
    transplant = days["transplant"].to_numpy()
    end = np.fmax(days["last_contact"].to_numpy(), death)
    out["death_day"], out["transplant_day"], out["end_day"] = death, transplant, end
    with np.errstate(invalid="ignore"):
        died = death <= h
        transplanted = transplant <= h
        detail = days["detail"].to_numpy(dtype=object)
        completed = ~died & ((end >= done_day) | (detail == "completed"))
        lt_end = ~died & ~completed & transplanted & ((detail == "transplanted") | (end <= transplant))
    blank = np.array([d is None or (isinstance(d, float) and np.isnan(d)) or str(d).strip() == "" for d in detail])
    fu = np.where(died, "died", np.where(completed, "completed", np.where(
        lt_end, "transplanted", np.where(detail == "withdrew", "withdrew", np.where(blank, "censored", "lost")))))
    out["died"], out["transplanted"] = died, transplanted
    out["follow_up"] = fu
    out["lost_to_follow_up"] = np.isin(fu, ["withdrew", "lost"])  # ended early, not by death or LT
    out["completed"] = completed
    out["analysed"] = ~((np.nan_to_num(end, nan=0.0) <= 0) & np.isnan(death) & np.isnan(transplant))
    with np.errstate(invalid="ignore"):
        lt_first = transplanted & ~(death < transplant)
    out["outcome"] = np.where(lt_first, "transplanted", np.where(died, "died", "survivor"))
    return out


_CONSORT_COLUMNS = ["arm", "label", "allocated", "received_full", "received_partial", "received_none",
                    "no_active_treatment", "treatment_unknown", "died", "transplanted", "ended_at_transplant",
                    "withdrew", "lost", "censored", "completed", "analysed", "excluded"]


def consort_counts(trial: Trial, horizon: str | float = "primary") -> pd.DataFrame:
    """Counts for each box of the CONSORT flow diagram, by arm (study order) and in total.

    Returns
    -------
    DataFrame
        One row per arm plus ``"total"``: ``arm``, ``label``, ``allocated`` (randomized to the
        arm), ``received_full``, ``received_partial``, ``received_none``, ``no_active_treatment``,
        ``treatment_unknown`` (these five partition ``allocated``), ``died``, ``transplanted`` (by
        the horizon; a subject may be both), ``ended_at_transplant``, ``withdrew``, ``lost`` (alive,
        follow-up ended before the completion day; with ``died`` and ``completed`` these
        partition ``allocated``), ``completed`` (alive to the completion day), ``analysed`` (full
        analysis set) and ``excluded`` (``allocated - analysed``). See :func:`follow_up_status`.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> c = consort_counts(example())
    >>> c[["arm", "allocated", "received_full", "received_partial", "no_active_treatment"]]
           arm  allocated  received_full  received_partial  no_active_treatment
    0  control         30              0                 0                   30
    1      msc         30             23                 7                    0
    2       pe         30             26                 4                    0
    3   pe_msc         30             27                 3                    0
    4    total        120             76                14                   30
    >>> c[["arm", "died", "transplanted", "withdrew", "lost", "completed", "analysed"]]
           arm  died  transplanted  withdrew  lost  completed  analysed
    0  control    15             0         0     1         14        30
    1      msc    11             0         0     0         19        30
    2       pe    15             0         1     1         13        30
    3   pe_msc    12             0         0     0         18        30
    4    total    53             0         1     2         64       120
    """
    st = follow_up_status(trial, horizon)
    study = trial.study
    rows = []
    for arm in [*study.arm_ids, "total"]:
        s = st if arm == "total" else st[st["arm"] == arm]
        rows.append({
            "arm": arm, "label": "Total" if arm == "total" else study.arm_labels[arm],
            "allocated": len(s),
            "received_full": int((s["treatment"] == "full").sum()),
            "received_partial": int((s["treatment"] == "partial").sum()),
            "received_none": int((s["treatment"] == "none").sum()),
            "no_active_treatment": int((s["treatment"] == "no_active_treatment").sum()),
            "treatment_unknown": int((s["treatment"] == "unknown").sum()),
            "died": int(s["died"].sum()), "transplanted": int(s["transplanted"].sum()),
            "ended_at_transplant": int((s["follow_up"] == "transplanted").sum()),
            "withdrew": int((s["follow_up"] == "withdrew").sum()),
            "lost": int((s["follow_up"] == "lost").sum()),
            "censored": int((s["follow_up"] == "censored").sum()),
            "completed": int((s["follow_up"] == "completed").sum()),
            "analysed": int(s["analysed"].sum()), "excluded": int((~s["analysed"]).sum()),
        })
    cols = [c for c in _CONSORT_COLUMNS  # transplant boxes only for a study that declares transplants
            if "transplant" in study.events or c not in ("transplanted", "ended_at_transplant")]
    return pd.DataFrame(rows, columns=cols)


def visit_status(trial: Trial, parameters: Sequence[str] | None = None, horizon: str | float | None = None) -> pd.DataFrame:
    """Whether each scheduled value was observed, and if not, why.

    Parameters
    ----------
    trial : Trial
    parameters : list of str, optional
        Lab parameters to check (default: those present in ``trial.labs``, study order).
    horizon : "primary", "secondary", int or None
        Only visits whose nominal day is at most this are considered (default: all visits).

    Returns
    -------
    DataFrame
        One row per subject, visit and parameter (arms in study order, then subjects in
        ``trial.subjects`` order, visits, parameters): ``subject_id``, ``arm``, ``visit``,
        ``visit_day``, ``parameter``, ``status``: ``"observed"``, or the reason it is missing, in
        this order of precedence — ``"died"`` (death on or before the window's last day),
        ``"transplanted"`` (transplant on or before the window's last day), ``"dropout"`` (alive,
        follow-up ended before the window opened), ``"missed"`` (in follow-up, not measured).
        ``subject_id``, ``arm``, ``visit``, ``parameter`` and ``status`` are categorical, with the
        categories sorted as the strings sort (so grouping, pivoting and sorting order the values as
        on strings; rows are still in the order above), ``visit_day`` int64: the grid has subjects x visits x parameters rows (24 million at 100,000
        subjects), which as Python strings would take gigabytes. Use ``.astype(object)`` for strings.

    Examples
    --------
    ``b`` died on day 5, ``c`` withdrew on day 2 (inside the D3 window, before the D7 window):

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> labs = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "c"], "day": [0, 7, 0, 3, 0],
    ...                      "visit": ["D0", "D7", "D0", "D3", "D0"], "parameter": "ALT",
    ...                      "value": [100.0, 90.0, 80.0, 85.0, 70.0], "unit": "U/L"})
    >>> subj = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["msc", "control", "pe"]})
    >>> ev = pd.DataFrame({"subject_id": ["a", "b", "b", "c"], "event": ["last_contact", "death", "last_contact",
    ...                    "last_contact"], "day": [336, 5, 5, 2], "detail": ["completed", "died", "died", "withdrew"]})
    >>> vs = visit_status(Trial(study=load_study(), subjects=subj, labs=labs, events=ev), horizon=7)
    >>> vs.pivot(index="subject_id", columns="visit", values="status")[["D0", "D3", "D7"]]
    visit             D0        D3        D7
    subject_id
    a           observed    missed  observed
    b           observed  observed      died
    c           observed    missed   dropout
    """
    study = trial.study
    if parameters is None:
        present = set(trial.labs["parameter"].astype(object).unique())
        parameters = [p for p in study.parameters if p in present]
    parameters = list(parameters)
    visits = list(study.visits)
    if horizon is not None:
        h = _horizon_day(study, horizon)
        visits = [v for v in visits if v.day <= h]
    st = follow_up_status(trial)
    rank = st["arm"].map({a: i for i, a in enumerate(study.arm_ids)}).to_numpy()
    st = st.iloc[np.argsort(rank, kind="stable")]  # arms in study order, subjects as given
    labs = trial.labs
    # only the columns the visit rule needs: assign_visits copies the rows it keeps
    obs = assign_visits(labs.loc[labs["parameter"].isin(parameters),
                                 [c for c in ("subject_id", "day", "visit", "parameter") if c in labs.columns]], study)
    n_s, n_v, n_p = len(st), len(visits), len(parameters)
    # The grid is built on integer codes, never one Python object per row (24 million rows at 100,000
    # subjects): row (i_subject * n_v + i_visit) * n_p + i_parameter. A cell is observed when a lab row
    # has that subject, visit and parameter.
    subject_ids = pd.Index(st["subject_id"].astype(object).to_numpy(), dtype=object)
    visit_ids = pd.Index([v.id for v in visits], dtype=object)
    i_s = positions(obs["subject_id"], subject_ids)
    i_v = positions(obs["visit"], visit_ids)
    i_p = positions(obs["parameter"], pd.Index(parameters, dtype=object))
    ok = (i_s >= 0) & (i_v >= 0) & (i_p >= 0)
    observed = np.zeros((n_s, n_v, n_p), dtype=bool)
    observed[i_s[ok], i_v[ok], i_p[ok]] = True
    del obs, i_s, i_v, i_p, ok
    # the reason a value is missing depends on the subject and the visit only: a (subject, visit) array
    death = st["death_day"].to_numpy(dtype=float)[:, None]
    lt = st["transplant_day"].to_numpy(dtype=float)[:, None]
    end = st["end_day"].to_numpy(dtype=float)[:, None]
    lo = np.array([v.window[0] for v in visits], dtype=float)[None, :]
    hi = np.array([v.window[1] for v in visits], dtype=float)[None, :]
    with np.errstate(invalid="ignore"):
        reason = np.where(death <= hi, 1, np.where(lt <= hi, 2, np.where(end < lo, 3, 4))).astype(np.int8)
    code = np.where(observed, np.int8(0), reason[:, :, None]).reshape(-1)
    del observed, reason
    arm_code, arm_levels = pd.factorize(st["arm"].astype(object).to_numpy())  # arms as they come: study order
    rep = n_v * n_p

    def cat(codes: np.ndarray, labels: Sequence, expand: Callable[[np.ndarray], np.ndarray]) -> pd.Categorical:
        # categories sorted as strings sort, so grouping, pivoting and sorting give the order they gave
        # on the object columns; the small per-subject (or per-visit...) codes are remapped, then expanded
        values = pd.Index(list(labels), dtype=object)
        categories = values.sort_values()
        small = np.where(codes >= 0, categories.get_indexer(values)[codes], -1)
        width = np.int8 if len(categories) < 127 else np.int16 if len(categories) < 32767 else np.int32
        return pd.Categorical.from_codes(expand(small.astype(width)), categories=categories, validate=False)

    visit_days = np.array([v.day for v in visits], dtype=np.int64)
    return pd.DataFrame({
        "subject_id": cat(np.arange(n_s), subject_ids, lambda c: np.repeat(c, rep)),
        "arm": cat(arm_code, arm_levels, lambda c: np.repeat(c, rep)),
        "visit": cat(np.arange(n_v), visit_ids, lambda c: np.tile(np.repeat(c, n_p), n_s)),
        "visit_day": np.tile(np.repeat(visit_days, n_p), n_s),
        "parameter": cat(np.arange(n_p), parameters, lambda c: np.tile(c, n_s * n_v)),
        "status": cat(np.arange(len(_VISIT_STATUSES)), _VISIT_STATUSES, lambda c: c[code]),
    }, copy=False)


def missing_summary(status: pd.DataFrame, by: Sequence[str] = ("arm", "visit"), *, arm_order: Sequence | None = None,
                    visit_order: Sequence | None = None) -> pd.DataFrame:
    """Counts of observed and missing values, by reason, from :func:`visit_status`.

    Parameters
    ----------
    status : DataFrame
        :func:`visit_status` output.
    by : sequence of str
        Grouping columns among ``arm``, ``visit``, ``parameter``.
    arm_order, visit_order : list, optional
        Row order for arms and visits (default: order of first appearance).

    Returns
    -------
    DataFrame
        One row per group: the ``by`` columns, ``expected`` (scheduled values: subjects x
        visits x parameters), ``observed``, ``died``, ``transplanted``, ``dropout``, ``missed``
        (these five sum to ``expected``), ``pct_observed`` and ``pct_missed`` (missed as a
        percentage of values expected from subjects still alive, untransplanted and in
        follow-up: ``missed / (observed + missed)``).

    Examples
    --------
    >>> s = pd.DataFrame({"arm": ["a", "a", "a", "b"], "visit": "V1", "parameter": "ALT",
    ...                   "status": ["observed", "died", "missed", "observed"]})
    >>> missing_summary(s, by=["arm"])[["arm", "expected", "observed", "died", "missed", "pct_missed"]]
      arm  expected  observed  died  missed  pct_missed
    0   a         3         1     1       1        50.0
    1   b         1         1     0       0         0.0
    """
    by = list(by)
    # count on integer codes: a crosstab of object copies of every row costs gigabytes at 100,000 subjects
    keys = [factor_codes(status[c]) for c in by] + [factor_codes(status["status"])]
    sizes = [max(len(u), 1) for _, u in keys]
    valid = np.ones(len(status), dtype=bool)
    for k, _ in keys:
        valid &= k >= 0  # a missing key or status is not counted (as pd.crosstab)
    flat = np.ravel_multi_index(tuple(k[valid] for k, _ in keys), sizes) if valid.any() else np.zeros(0, np.int64)
    n = np.bincount(flat, minlength=int(np.prod(sizes))).reshape(sizes)
    cells = np.argwhere(n > 0)  # the (groups, status) present; the same table as pd.crosstab of all rows
    small = pd.DataFrame({c: np.asarray(keys[i][1], dtype=object)[cells[:, i]] for i, c in enumerate(by)})
    small["status"] = np.asarray(keys[-1][1], dtype=object)[cells[:, -1]]
    small["n"] = n[tuple(cells.T)].astype("int64")
    counts = pd.crosstab([small[c] for c in by], small["status"], values=small["n"], aggfunc="sum").fillna(0)
    counts = counts.reindex(columns=["observed", *MISSING_REASONS], fill_value=0)
    counts.columns.name = None
    counts = counts.reset_index()
    order = {"arm": arm_order, "visit": visit_order}
    ranks = []
    for i, c in enumerate(by):
        codes, uniques = keys[i]
        seen = codes[codes >= 0]
        used, first = np.unique(seen, return_index=True)
        appearance = list(np.asarray(uniques, dtype=object)[used[np.argsort(first, kind="stable")]])
        levels = order.get(c) or appearance  # default: order of first appearance
        ranks.append(counts[c].map({v: i for i, v in enumerate(levels)}))
    counts = counts.assign(**{f"_k{i}": k for i, k in enumerate(ranks)})
    counts = counts.sort_values([f"_k{i}" for i in range(len(ranks))]).drop(
        columns=[f"_k{i}" for i in range(len(ranks))]).reset_index(drop=True)
    parts = ["observed", *MISSING_REASONS]
    counts.insert(len(by), "expected", counts[parts].sum(axis=1))
    for c in ["expected", *parts]:
        counts[c] = counts[c].astype("int64")
    with np.errstate(invalid="ignore", divide="ignore"):
        counts["pct_observed"] = 100.0 * counts["observed"] / counts["expected"]
        due = counts["observed"] + counts["missed"]
        counts["pct_missed"] = np.where(due > 0, 100.0 * counts["missed"] / due.where(due > 0, 1), np.nan)
    return counts
