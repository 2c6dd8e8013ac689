"""Competing risks: the Aalen-Johansen cumulative incidence, and models guarded by an event count.

Hepatocellular carcinoma (HCC) within 48 weeks is the textbook case: death and liver
transplantation end the time at risk, so ``1 - Kaplan-Meier`` would overstate the incidence.
:func:`aalen_johansen` estimates the cumulative incidence function (CIF) of every cause, with the
infinitesimal-jackknife standard error and log-transformed confidence interval that R's
``survival::survfit`` reports for multi-state data (checked to 1e-10 in
``tests/test_stats_competing.py`` against ``tests/reference/competing_risks.R``).

This is the kit's one Aalen-Johansen estimator: the safety and efficacy notebooks both read it
(:func:`cumulative_incidence` for tables, :func:`aalen_johansen` curves for figures), from the one
competing-risks dataset :func:`trialkit.derive.tte.competing_risks`.

Why not ``lifelines.AalenJohansenFitter``: it breaks tied times by random jitter (study days are
heavily tied, so the estimate would depend on a seed) and its variance is a delta-method
Greenwood form with a log(-log) interval that differs from R's; the estimator itself is twenty
lines.

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
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

__all__ = ["aalen_johansen", "cif_at", "cumulative_incidence", "GuardedFit", "cause_specific_cox"]

_CURVE_COLUMNS = ["group", "state", "time", "n_risk", "n_event", "n_censor", "estimate", "se",
                  "ci_low", "ci_high"]


def _aj_one(time: np.ndarray, status: np.ndarray, causes: list, z: float) -> pd.DataFrame:
    """AJ estimate and infinitesimal-jackknife SE for one group (one transient state).

    ``causes`` must hold every non-censoring status: a cause left out would act as censoring.
    """
    n = len(time)
    times = np.unique(time)
    k = len(causes)
    surv_prev, u_surv_prev = 1.0, np.zeros(n)
    cif, u_cif = np.zeros(k), np.zeros((k, n))
    is_cause = np.array([status == c for c in causes], dtype=float)  # k x n
    out: dict[str, list] = {c: [] for c in ("time", "n_risk", "n_censor")}
    est_t: list[np.ndarray] = []
    se_t: list[np.ndarray] = []
    nev_t: list[np.ndarray] = []
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
        est_t.append(cif.copy())
        se_t.append(np.sqrt((u_cif ** 2).sum(axis=1)))
        nev_t.append(d_n.sum(axis=1))
    frames = []
    est, se, nev = np.array(est_t).reshape(-1, k), np.array(se_t).reshape(-1, k), np.array(nev_t).reshape(-1, k)
    for j, c in enumerate(causes):
        p, s = est[:, j], se[:, j]
        with np.errstate(divide="ignore", invalid="ignore"):
            lo = np.where(p > 0, p * np.exp(-z * s / p), np.nan)
            hi = np.where(p > 0, np.minimum(1.0, p * np.exp(z * s / p)), np.nan)
        frames.append(pd.DataFrame({"state": c, "time": out["time"], "n_risk": out["n_risk"],
                                    "n_event": nev[:, j].astype("int64"), "n_censor": out["n_censor"],
                                    "estimate": p, "se": s, "ci_low": lo, "ci_high": hi}))
    return pd.concat(frames, ignore_index=True)


def aalen_johansen(time: npt.ArrayLike, status: npt.ArrayLike, *, group: npt.ArrayLike | None = None,
                   causes: Sequence | None = None, censor: Hashable = 0, alpha: float = 0.05) -> pd.DataFrame:
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
        Every non-censor value of ``status`` is a cause of the estimate whether reported or not
        (a competing event never acts as censoring).
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
    observed = sorted({v for v in s.tolist() if v != censor})
    causes = observed if causes is None else list(causes)
    every = [*causes, *(c for c in observed if c not in causes)]
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
        cur = _aj_one(t[m], s[m], every, z)
        cur = cur[cur["state"].isin(causes)]
        cur.insert(0, "group", lev)
        frames.append(cur)
    if not frames:
        return pd.DataFrame(columns=_CURVE_COLUMNS)
    return pd.concat(frames, ignore_index=True)[_CURVE_COLUMNS]


def cif_at(curve: pd.DataFrame, times: npt.ArrayLike) -> pd.DataFrame:
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


def cumulative_incidence(cr: pd.DataFrame, times: npt.ArrayLike, *, causes: Sequence | None = None,
                         group: str = "arm", groups: Sequence | None = None,
                         time: str = "time", status: str = "status", censor: Hashable = "censored",
                         alpha: float = 0.05) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each cause at given times, per group (R ``summary(survfit)``).

    :func:`aalen_johansen` read at ``times`` by :func:`cif_at`: the same estimate, standard error
    and log-scale interval as R's ``summary(survfit(Surv(time, factor(status)) ~ group),
    times = times)``.

    Parameters
    ----------
    cr : DataFrame
        A competing-risks dataset (:func:`trialkit.derive.tte.competing_risks`): ``group``,
        ``time`` and ``status`` columns.
    times : list of float
        Study days.
    causes : list, optional
        The causes to report (default: every non-censor status); the others still compete.
    groups : list, optional
        Group order (default: order of appearance); groups absent from ``cr`` are left out.
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        As :func:`cif_at`: ``group``, ``state``, ``time``, ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``n_risk``, ``n_events``; by group, cause and time.

    Examples
    --------
    >>> cr = pd.DataFrame({"arm": "a", "time": [2., 3, 5, 5, 8, 10],
    ...                    "status": ["hcc", "death", "hcc", "censored", "hcc", "censored"]})
    >>> cumulative_incidence(cr, [4, 10], causes=["hcc"])[["group", "time", "estimate", "n_events"]].round(3)
      group  time  estimate  n_events
    0     a     4     0.167         1
    1     a    10     0.583         3
    """
    g = cr[group].astype(object)
    levels = list(pd.unique(g)) if groups is None else [x for x in groups if (g == x).any()]
    keep = g.isin(levels).to_numpy()
    curve = aalen_johansen(cr[time].to_numpy()[keep], cr[status].to_numpy()[keep],
                           group=pd.Categorical(g[keep], categories=levels), causes=causes, censor=censor,
                           alpha=alpha)
    return cif_at(curve, times)


@dataclass(frozen=True)
class GuardedFit:
    """A model that may have been declined: ``fitted``, the reason in ``message``, the table."""

    fitted: bool
    message: str
    n_events: int
    table: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


_COX_COLUMNS = ["term", "estimate", "se", "ci_low", "ci_high", "p_value", "n", "n_events"]


def cause_specific_cox(data: pd.DataFrame, cause: str, covariates: Sequence[str], *, min_events: int = 5,
                       alpha: float = 0.05, time: str = "time", status: str = "status") -> GuardedFit:
    """Cause-specific Cox model for ``cause`` (competing events censored), if events allow.

    No model is fitted when fewer than ``min_events`` events of ``cause`` occurred, or when a
    covariate level has no event (the hazard ratio would be 0 or infinite); the returned
    :class:`GuardedFit` says why, and the caller reports counts and curves only.

    Parameters
    ----------
    data : DataFrame
        From :func:`trialkit.derive.tte.competing_risks`.
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
