"""Competing risks: Aalen-Johansen cumulative incidence, and models guarded by an event count.

Hepatocellular carcinoma (HCC) within 48 weeks is the textbook case: death and liver
transplantation end the time at risk, so ``1 - Kaplan-Meier`` would overstate the incidence.
:func:`aalen_johansen` estimates the cumulative incidence function (CIF) of every cause, with the
infinitesimal-jackknife standard error and log-transformed confidence interval that R's
``survival::survfit`` reports for multi-state data (checked to 1e-10 in
``tests/test_stats_competing.py`` against ``tests/reference/competing_risks.R``).

Why not ``lifelines.AalenJohansenFitter``: it breaks tied times by random jitter (study days are
heavily tied, so the estimate would depend on a seed) and its variance is a delta-method
Greenwood form that differs from R's; the estimator itself is twenty lines.

Examples
--------
>>> import numpy as np
>>> from trialkit.stats.competing import aalen_johansen, cif_at
>>> time = [2, 3, 3, 5, 8, 8, 9, 12]
>>> status = [1, 2, 0, 1, 0, 2, 1, 0]     # 0 censored, 1 cause of interest, 2 competing
>>> cif = aalen_johansen(time, status)
>>> cif_at(cif, [6, 12]).query("state == 1")[["time", "estimate"]].round(4)
   time  estimate
0     6     0.275
1    12     0.500
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["aalen_johansen", "cif_at", "competing_risks_data", "event_counts", "GuardedFit",
           "cause_specific_cox"]

_CURVE_COLUMNS = ["group", "state", "time", "n_risk", "n_event", "n_censor", "estimate", "se",
                  "ci_low", "ci_high"]


def _aj_one(time: np.ndarray, status: np.ndarray, causes: list, z: float) -> pd.DataFrame:
    """AJ estimate and infinitesimal-jackknife SE for one group (one transient state)."""
    n = len(time)
    times = np.unique(time)
    k = len(causes)
    surv_prev, u_surv_prev = 1.0, np.zeros(n)
    cif, u_cif = np.zeros(k), np.zeros((k, n))
    is_cause = np.array([status == c for c in causes], dtype=float)  # k x n
    out = {c: [] for c in ("time", "n_risk", "n_censor")}
    est, se, nev = [], [], []
    censored = ~np.isin(status, causes)
    for t in times:
        at_risk = (time >= t).astype(float)
        n_risk = at_risk.sum()
        d_n = is_cause * (time == t)                       # dN_ik(t)
        d_lam = d_n.sum(axis=1) / n_risk                   # cause-specific hazard increments
        u_lam = (d_n - at_risk[None, :] * d_lam[:, None]) / n_risk
        u_cif = u_cif + u_surv_prev[None, :] * d_lam[:, None] + surv_prev * u_lam
        cif = cif + surv_prev * d_lam
        total = d_lam.sum()
        surv = surv_prev * (1.0 - total)
        u_surv_prev = u_surv_prev * (1.0 - total) - surv_prev * u_lam.sum(axis=0)
        surv_prev = surv
        out["time"].append(t)
        out["n_risk"].append(int(n_risk))
        out["n_censor"].append(int((censored & (time == t)).sum()))
        est.append(cif.copy())
        se.append(np.sqrt((u_cif ** 2).sum(axis=1)))
        nev.append(d_n.sum(axis=1))
    frames = []
    est, se, nev = np.array(est).reshape(-1, k), np.array(se).reshape(-1, k), np.array(nev).reshape(-1, k)
    for j, c in enumerate(causes):
        p, s = est[:, j], se[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(p > 0, p * np.exp(-z * s / p), np.nan)
            hi = np.where(p > 0, np.minimum(1.0, p * np.exp(z * s / p)), np.nan)
        frames.append(pd.DataFrame({"state": c, "time": out["time"], "n_risk": out["n_risk"],
                                    "n_event": nev[:, j].astype("int64"), "n_censor": out["n_censor"],
                                    "estimate": p, "se": s, "ci_low": lo, "ci_high": hi}))
    return pd.concat(frames, ignore_index=True)


def aalen_johansen(time, status, *, group=None, causes=None, censor=0, alpha: float = 0.05) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each competing cause, by group.

    Parameters
    ----------
    time : array-like of float
        Time to the first event or censoring (ties are handled exactly, never jittered).
    status : array-like
        The cause of the first event, or ``censor`` when follow-up ended without one.
    group : array-like, optional
        Group labels (e.g. arms); one curve set per group, in order of first appearance unless
        ``group`` is a pandas Categorical (then in category order). Default: one group ``"all"``.
    causes : list, optional
        The causes to report, in order (default: every non-censor value of ``status``, sorted).
    censor : default 0
        The ``status`` value meaning "censored".
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        Long format, one row per group, cause and distinct time (event *or* censoring, as R):
        ``group``, ``state`` (the cause), ``time``, ``n_risk`` (at risk just before ``time``),
        ``n_event`` (events of this cause at ``time``), ``n_censor``, ``estimate`` (the CIF),
        ``se`` (infinitesimal jackknife), ``ci_low``, ``ci_high`` (``1 - alpha``, log scale, upper
        limit capped at 1; NaN while the estimate is 0).

    Notes
    -----
    With ``S(t-)`` the all-cause Kaplan-Meier survival just before ``t``, ``d_k(t)`` the events of
    cause ``k`` and ``Y(t)`` the number at risk, ``F_k(t) = sum_{s <= t} S(s-) d_k(s) / Y(s)``.
    The standard error is ``sqrt(sum_i U_i(t)^2)`` with ``U_i`` the derivative of ``F_k(t)`` with
    respect to subject ``i``'s case weight (the infinitesimal jackknife), which is what
    ``survfit(Surv(time, factor(status)) ~ 1)`` reports as ``std.err``; the interval is
    ``F exp(+-z se / F)`` (R's default ``conf.type = "log"``).

    References
    ----------
    Aalen OO, Johansen S. Scand J Stat 1978;5:141-150. Therneau T, Crowson C, Atkinson E.
    Multi-state models and competing risks (survival package vignette).

    Examples
    --------
    >>> cif = aalen_johansen([1, 2, 2, 4], ["hcc", "death", "censored", "hcc"], censor="censored")
    >>> cif.query("state == 'hcc'")[["time", "n_risk", "estimate"]]
       time  n_risk  estimate
    3   1.0       4      0.25
    4   2.0       3      0.25
    5   4.0       1      0.75
    """
    t = np.asarray(time, dtype=float)
    s = np.asarray(pd.Series(status).astype(object).to_numpy())
    if t.shape != s.shape:
        raise ValueError("time and status must have the same length")
    if np.isnan(t).any() or (t < 0).any():
        raise ValueError("time must be non-negative and not missing")
    if causes is None:
        causes = sorted({v for v in s.tolist() if v != censor})
    causes = list(causes)
    z = stats.norm.ppf(1 - alpha / 2)
    if group is None:
        g = np.full(len(t), "all", dtype=object)
        levels = ["all"]
    else:
        gs = pd.Series(group)
        levels = list(gs.cat.categories) if isinstance(gs.dtype, pd.CategoricalDtype) else list(pd.unique(gs))
        g = gs.astype(object).to_numpy()
    frames = []
    for lev in levels:
        m = g == lev
        if not m.any() or not causes:
            continue
        cur = _aj_one(t[m], s[m], causes, z)
        cur.insert(0, "group", lev)
        frames.append(cur)
    if not frames:
        return pd.DataFrame(columns=_CURVE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[_CURVE_COLUMNS]


def cif_at(curve: pd.DataFrame, times) -> pd.DataFrame:
    """Read an :func:`aalen_johansen` curve at given times (right-continuous step function).

    Returns
    -------
    DataFrame
        One row per group, state and requested time: ``group``, ``state``, ``time``,
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n_risk`` (subjects still at risk at
        ``time``: first event or censoring on or after it), ``n_events`` (cumulative events of
        the state up to ``time``). Before the first event the estimate is 0 and the interval NaN.

    Examples
    --------
    >>> c = aalen_johansen([1, 2, 3], [1, 0, 1])
    >>> cif_at(c, [0, 2.5])[["time", "estimate", "n_events"]]
       time  estimate  n_events
    0   0.0  0.000000         0
    1   2.5  0.333333         1
    """
    rows = []
    # all-cause events per group and time, to count who is still at risk just after a time
    all_events = curve.groupby(["group", "time"], sort=False)["n_event"].sum()
    for (grp, state), cur in curve.groupby(["group", "state"], sort=False):
        cur = cur.sort_values("time")
        tt = cur["time"].to_numpy()
        cum = cur["n_event"].cumsum().to_numpy()
        n_risk = cur["n_risk"].to_numpy()
        total = all_events.loc[grp].reindex(tt).to_numpy()
        after = n_risk - total - cur["n_censor"].to_numpy()
        for x in np.atleast_1d(times):
            i = np.searchsorted(tt, x, side="right") - 1
            if i < 0:
                rows.append((grp, state, x, 0.0, 0.0, np.nan, np.nan,
                             int(cur["n_risk"].iloc[0]) if len(cur) else 0, 0))
            else:
                r = cur.iloc[i]
                at_risk = n_risk[i] if tt[i] == x else after[i]
                rows.append((grp, state, x, r["estimate"], r["se"], r["ci_low"], r["ci_high"],
                             int(at_risk), int(cum[i])))
    return pd.DataFrame(rows, columns=["group", "state", "time", "estimate", "se", "ci_low",
                                       "ci_high", "n_risk", "n_events"])


def competing_risks_data(trial, event: str = "hcc", competing=("death", "transplant"),
                         horizon="primary") -> pd.DataFrame:
    """Time to the first of ``event`` and ``competing`` events, per subject, within a horizon.

    Parameters
    ----------
    trial : Trial
    event : str, default "hcc"
        The event of interest (an ``event`` value of ``trial.events``).
    competing : tuple of str, default ("death", "transplant")
        Events that end the time at risk for ``event``.
    horizon : "primary", "secondary" or int
        A key of ``study.horizons`` or a study day; follow-up is censored there.

    Returns
    -------
    DataFrame
        One row per subject (``trial.subjects`` order): ``subject_id``, ``arm``, one boolean column
        per study factor, ``time`` (study day of the first event, else of the end of follow-up =
        last contact or death, capped at the horizon) and ``status`` (``event``, a competing
        event's name, or ``"censored"``). An event of interest on the same day as a competing
        event counts as the event of interest.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> subj = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["control", "msc", "pe"]})
    >>> ev = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "c"],
    ...                    "event": ["hcc", "last_contact", "death", "last_contact", "last_contact"],
    ...                    "day": [100, 400, 20, 20, 200]})
    >>> t = Trial(study=load_study(), subjects=subj, labs=pd.DataFrame(), events=ev)
    >>> competing_risks_data(t)[["subject_id", "time", "status"]]
      subject_id  time    status
    0          a   100       hcc
    1          b    20     death
    2          c   200  censored
    """
    study = trial.study
    h = study.horizons[horizon] if isinstance(horizon, str) else int(horizon)
    subj = trial.subjects[["subject_id", "arm"]].copy()
    ev = trial.events
    first = (ev.groupby(["subject_id", "event"], observed=True)["day"].min()
               .unstack("event"))
    ids = subj["subject_id"]

    def day_of(name):
        if name in first.columns:
            return ids.map(first[name]).astype(float).to_numpy()
        return np.full(len(ids), np.nan)

    end = np.fmax(day_of("last_contact"), day_of("death"))
    candidates = [event, *[c for c in competing if c != event]]
    days = np.column_stack([day_of(c) for c in candidates])  # event of interest first: wins ties
    with np.errstate(invalid="ignore"):
        any_event = ~np.isnan(days).all(axis=1)
        first_idx = np.where(any_event, np.nanargmin(np.where(np.isnan(days), np.inf, days), axis=1), 0)
    ev_day = np.where(any_event, days[np.arange(len(ids)), first_idx], np.nan)
    status = np.where(any_event, np.array(candidates, dtype=object)[first_idx], "censored")
    time = np.where(any_event, ev_day, end)
    late = time > h
    status = np.where(late, "censored", status)
    time = np.where(late, h, time)
    if np.isnan(time).any():
        raise ValueError("some subjects have neither an event nor a last contact")
    factors = study.arm_factors().set_index("arm")
    out = subj.reset_index(drop=True)
    for f in study.factor_names:
        out[f] = out["arm"].map(factors[f]).astype(bool)
    out["time"] = time.astype("int64") if np.all(np.mod(time, 1) == 0) else time
    out["status"] = pd.Series(status, dtype=object).astype(str)
    return out


def event_counts(data: pd.DataFrame, *, group: str = "arm", status: str = "status",
                 order=None, states=None) -> pd.DataFrame:
    """Subjects and first events by group, from :func:`competing_risks_data`.

    Returns
    -------
    DataFrame
        One row per group (``order`` if given) plus ``"total"``: ``group``, ``n``, then one
        column per event (``states`` if given, so an event that never occurred still gets its
        column of zeros; else the observed ones, sorted) and ``censored``, with the number of
        subjects.

    Examples
    --------
    >>> d = pd.DataFrame({"arm": ["a", "a", "b"], "status": ["hcc", "censored", "death"]})
    >>> event_counts(d)
       group  n  death  hcc  censored
    0      a  2      0    1         1
    1      b  1      1    0         0
    2  total  3      1    1         1
    """
    levels = list(order) if order is not None else list(pd.unique(data[group]))
    seen = sorted(s for s in pd.unique(data[status]) if s != "censored")
    states = [*(list(states) if states is not None else seen), "censored"]
    missing = set(seen) - set(states)
    if missing:
        raise ValueError(f"status values {sorted(missing)} are not in states={list(states)}")
    tab = pd.crosstab(data[group].astype(object), data[status].astype(object))
    tab = tab.reindex(index=levels, columns=states, fill_value=0)
    tab.loc["total"] = tab.sum()
    tab.insert(0, "n", tab.sum(axis=1))
    tab = tab.rename_axis(index="group", columns=None).reset_index()
    return tab.astype({c: "int64" for c in tab.columns if c != "group"})


@dataclass(frozen=True)
class GuardedFit:
    """A model that may have been declined: ``fitted``, the reason in ``message``, the table."""

    fitted: bool
    message: str
    n_events: int
    table: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


_COX_COLUMNS = ["term", "estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_events"]


def cause_specific_cox(data: pd.DataFrame, cause: str, covariates, *, min_events: int = 5,
                       alpha: float = 0.05, time: str = "time", status: str = "status") -> GuardedFit:
    """Cause-specific Cox model for ``cause`` (competing events censored), if events allow.

    No model is fitted when fewer than ``min_events`` events of ``cause`` occurred, or when a
    covariate level has no event (the hazard ratio would be 0 or infinite); the returned
    :class:`GuardedFit` says why, and the caller reports counts and curves only.

    Parameters
    ----------
    data : DataFrame
        From :func:`competing_risks_data`.
    cause : str
        The ``status`` value of interest.
    covariates : list of str
        Numeric or boolean columns (e.g. the study's factor columns).
    min_events : int, default 5

    Returns
    -------
    GuardedFit
        ``table`` columns: ``term``, ``estimate`` (hazard ratio), ``se`` (of the log hazard
        ratio), ``ci_low``, ``ci_high``, ``p_value`` (Wald), ``n``, ``n_events``; Efron ties
        (lifelines, as R's ``coxph`` default).

    Examples
    --------
    >>> d = pd.DataFrame({"time": [5, 9, 12], "status": ["hcc", "death", "censored"], "msc": [1, 0, 1]})
    >>> fit = cause_specific_cox(d, "hcc", ["msc"])
    >>> fit.fitted, fit.message
    (False, '1 hcc event(s) < min_events = 5: no model fitted; counts and cumulative incidence only.')
    """
    covariates = list(covariates)
    y = (data[status] == cause).astype(int)
    n_events = int(y.sum())
    empty = pd.DataFrame(columns=_COX_COLUMNS)
    if n_events < min_events:
        return GuardedFit(False, f"{n_events} {cause} event(s) < min_events = {min_events}: no model "
                                 "fitted; counts and cumulative incidence only.", n_events, empty)
    for c in covariates:
        x = data[c].astype(float)
        for lev in pd.unique(x):
            if y[x == lev].sum() == 0:
                return GuardedFit(False, f"no {cause} event where {c} = {lev:g}: hazard ratio not "
                                         "estimable; no model fitted.", n_events, empty)
    from lifelines import CoxPHFitter

    df = data[covariates].astype(float).assign(_t=data[time].astype(float), _e=y.to_numpy())
    with warnings.catch_warnings():  # lifelines' pandas-4 deprecation notices, not ours
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        cph = CoxPHFitter(alpha=alpha).fit(df, duration_col="_t", event_col="_e")
    s = cph.summary
    table = pd.DataFrame({
        "term": s.index.astype(str), "estimate": s["exp(coef)"].to_numpy(),
        "se": s["se(coef)"].to_numpy(), "ci_low": np.exp(s.iloc[:, 3].to_numpy()),
        "ci_high": np.exp(s.iloc[:, 4].to_numpy()), "p_value": s["p"].to_numpy(),
        "n": len(df), "n_events": n_events})
    return GuardedFit(True, f"cause-specific Cox model of {cause} on {', '.join(covariates)} "
                            f"({n_events} events).", n_events, table[_COX_COLUMNS])
