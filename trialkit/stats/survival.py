"""Survival analysis by arm: thin, tested wrappers around lifelines that return tidy tables.

Input is a time-to-event dataset from :mod:`trialkit.derive.tte` (``arm``, factor columns,
``time``, ``event``). Arms and factors come from the study file; nothing assumes four arms.

Agreement with R (``survival`` 3.5: survfit with ``conf.type="log-log"``, survdiff, coxph with
``ties="efron"``) is checked to 1e-6 in ``tests/test_stats_survival.py`` against
``tests/reference/efficacy.R``.

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "time": [2., 4, 6, 8, 3, 5, 7, 9],
...                   "event": [1, 1, 0, 1, 0, 1, 0, 0]})
>>> survival_at(d, [5], groups=["a", "b"])[["group", "time", "survival", "n_at_risk"]]
  group  time  survival  n_at_risk
0     a   5.0  0.500000          2
1     b   5.0  0.666667          3
>>> logrank(d, groups=["a", "b"])[["comparison", "statistic", "df"]].round(4)
  comparison  statistic  df
0     global     1.2222   1
1     b vs a     1.2222   1
"""
from __future__ import annotations

import contextlib
import itertools
import warnings
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from lifelines import CoxPHFitter, KaplanMeierFitter

    from trialkit.study import Study

__all__ = ["km_table", "survival_at", "number_at_risk", "logrank", "cox_model", "cox_arm", "cox_factorial",
           "factorial_terms", "ph_test", "ph_verdict", "rmst", "rmst_difference", "event_counts", "CoxResult",
           "cox_arm_by_endpoint", "kaplan_meier", "quiet"]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence third-party warnings (lifelines' pandas deprecations) so notebook stderr stays clean.

    A context manager for code that calls lifelines (its fitters and plots).

    Examples
    --------
    >>> import warnings
    >>> with quiet():
    ...     warnings.warn("not shown")
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _groups(d: pd.DataFrame, group: str, groups: Sequence | None) -> list:
    if groups is None:
        groups = list(pd.unique(d[group]))
    return [g for g in groups if (d[group] == g).any()]


def kaplan_meier(d: pd.DataFrame, alpha: float = 0.05, label: str = "KM") -> KaplanMeierFitter:
    """A fitted lifelines ``KaplanMeierFitter`` for one group's ``time`` and ``event`` columns.

    The one place the kit fits a Kaplan-Meier estimator (tables, figures and checks use it).

    Parameters
    ----------
    d : DataFrame
        ``time`` (float) and ``event`` (0/1) columns.
    alpha : float
        1 - the confidence level of the pointwise intervals.
    label : str
        The fitter's label (a figure's legend entry).

    Examples
    --------
    >>> import pandas as pd
    >>> k = kaplan_meier(pd.DataFrame({"time": [2., 4, 4, 6], "event": [1, 1, 0, 1]}))
    >>> k.survival_function_.iloc[:, 0].round(4).tolist()
    [1.0, 0.75, 0.5, 0.0]
    """
    from lifelines import KaplanMeierFitter

    with quiet():
        return KaplanMeierFitter(alpha=alpha).fit(d["time"].astype(float), d["event"].astype(int), label=label)


def km_table(tte: pd.DataFrame, *, group: str = "arm", groups: Sequence | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier estimate at every distinct time, per group.

    Returns
    -------
    DataFrame
        ``group``, ``time``, ``n_at_risk``, ``n_event``, ``n_censored``, ``survival``, ``ci_low``,
        ``ci_high`` (log(-log) "exponential Greenwood" interval, R's ``conf.type="log-log"``), one row
        at time 0 and one per distinct observed time.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": "a", "time": [2., 4, 4, 6], "event": [1, 1, 0, 1]})
    >>> km_table(d)[["time", "n_at_risk", "n_event", "survival"]]
       time  n_at_risk  n_event  survival
    0   0.0          4        0      1.00
    1   2.0          4        1      0.75
    2   4.0          3        1      0.50
    3   6.0          1        1      0.00
    """
    rows = []
    for g in _groups(tte, group, groups):
        k = kaplan_meier(tte[tte[group] == g], alpha)
        et = k.event_table
        ci = k.confidence_interval_survival_function_
        t = pd.DataFrame({"group": g, "time": et.index.to_numpy(dtype=float),
                          "n_at_risk": et["at_risk"].to_numpy(), "n_event": et["observed"].to_numpy(),
                          "n_censored": et["censored"].to_numpy(),
                          "survival": k.survival_function_.iloc[:, 0].reindex(et.index).to_numpy(),
                          "ci_low": ci.iloc[:, 0].reindex(et.index).to_numpy(),
                          "ci_high": ci.iloc[:, 1].reindex(et.index).to_numpy()})
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def number_at_risk(tte: pd.DataFrame, times: Iterable[float], *, group: str = "arm",
                   groups: Sequence | None = None) -> pd.DataFrame:
    """Number of subjects still at risk (``time >= t``) at each of ``times``, per group.

    This is the table printed under a Kaplan-Meier plot (lifelines draws one but does not return
    it; issue lifelines#1624).

    Returns
    -------
    DataFrame
        Index: groups; columns: the times; values: counts (int).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["a", "a", "b"], "time": [1., 5., 5.], "event": [1, 0, 1]})
    >>> number_at_risk(d, [0, 5, 6])
         0  5  6
    arm         
    a    2  1  0
    b    1  1  0
    """
    gs = _groups(tte, group, groups)
    times = list(times)
    data = {t: [int((tte.loc[tte[group] == g, "time"] >= t).sum()) for g in gs] for t in times}
    return pd.DataFrame(data, index=pd.Index(gs, name=group), columns=times)


def survival_at(tte: pd.DataFrame, times: Iterable[float], *, group: str = "arm", groups: Sequence | None = None,
                alpha: float = 0.05) -> pd.DataFrame:
    """Kaplan-Meier survival (with CI) at given times, per group (R ``summary(survfit, times=)``).

    Returns
    -------
    DataFrame
        ``group``, ``time``, ``survival``, ``ci_low``, ``ci_high``, ``n_at_risk`` (``time >= t``),
        ``n_events`` (cumulative events up to and including t), ``n``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["a"] * 4 + ["b"] * 4, "time": [2., 4, 6, 8, 3, 5, 7, 9],
    ...                   "event": [1, 1, 0, 1, 0, 1, 0, 0]})
    >>> s = survival_at(d, [4, 8], groups=["a", "b"])
    >>> s[["group", "time", "survival", "ci_low", "ci_high", "n_at_risk", "n_events"]].round(3)
      group  time  survival  ci_low  ci_high  n_at_risk  n_events
    0     a   4.0     0.500   0.058    0.845          3         2
    1     a   8.0     0.000   0.000    0.000          1         3
    2     b   4.0     1.000   1.000    1.000          3         0
    3     b   8.0     0.667   0.054    0.945          1         1
    """
    out = []
    for g in _groups(tte, group, groups):
        d = tte[tte[group] == g]
        k = kaplan_meier(d, alpha)
        sf = k.survival_function_.iloc[:, 0]
        ci = k.confidence_interval_survival_function_
        for t in times:
            idx = sf.index[sf.index <= t]
            at = idx.max() if len(idx) else None
            s = float(sf.loc[at]) if at is not None else 1.0
            lo = float(ci.iloc[:, 0].loc[at]) if at is not None else 1.0
            hi = float(ci.iloc[:, 1].loc[at]) if at is not None else 1.0
            out.append({"group": g, "time": float(t), "survival": s, "ci_low": lo, "ci_high": hi,
                        "n_at_risk": int((d["time"] >= t).sum()),
                        "n_events": int(((d["time"] <= t) & (d["event"] == 1)).sum()), "n": len(d)})
    return pd.DataFrame(out)


def event_counts(data: pd.DataFrame, *, group: str = "arm", groups: Sequence | None = None,
                 status: str | None = None, states: Sequence[str] | None = None, total: bool = False) -> pd.DataFrame:
    """Subjects, events, censored subjects and follow-up per group: the kit's one event count.

    Parameters
    ----------
    data : DataFrame
        A time-to-event dataset (:func:`trialkit.derive.tte.time_to_event`: ``time``, ``event``
        0/1) or, with ``status``, a competing-risks dataset
        (:func:`trialkit.derive.tte.competing_risks`: ``time``, ``status`` names).
    groups : list, optional
        Group order (default: order of appearance); groups absent from ``data`` are left out.
    status : str, optional
        A column of event names (``"censored"`` when none): one count column per event.
        Default: count ``event == 1`` as ``events``.
    states : list, optional
        With ``status``: the event columns, in order, so an event that never occurred still gets
        its column of zeros (default: the observed ones, sorted). An observed event outside
        ``states`` raises ``ValueError``.
    total : bool, default False
        Append a ``"total"`` row.

    Returns
    -------
    DataFrame
        ``group``, ``n``, then ``events`` (or one column per state), ``censored`` (ints) and
        ``follow_up_days`` (total time at risk, float).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["c"] * 3 + ["t"] * 3, "time": [20., 35, 336, 90, 336, 336],
    ...                   "event": [1, 1, 0, 1, 0, 0]})
    >>> event_counts(d, groups=["c", "t"])
      group  n  events  censored  follow_up_days
    0     c  3       2         1           391.0
    1     t  3       1         2           762.0
    >>> cr = d.assign(status=["hcc", "death", "censored", "death", "censored", "censored"])
    >>> event_counts(cr, status="status", states=["hcc", "death", "transplant"], total=True)
       group  n  hcc  death  transplant  censored  follow_up_days
    0      c  3    1      1           0         1           391.0
    1      t  3    0      1           0         2           762.0
    2  total  6    1      2           0         3          1153.0
    """
    gs = _groups(data, group, groups)
    if status is None:
        lab = np.where(data["event"].to_numpy() == 1, "events", "censored")
        cols = ["events"]
    else:
        lab = data[status].astype(object).to_numpy()
        seen = sorted({v for v in lab.tolist() if v != "censored"})
        cols = list(states) if states is not None else seen
        missing = set(seen) - set(cols)
        if missing:
            raise ValueError(f"status values {sorted(missing)} are not in states={cols}")
    lab = pd.Series(lab, index=data.index)
    rows = []
    for g in gs:
        m = (data[group] == g).to_numpy()
        counts = lab[m].value_counts()
        rows.append({"group": g, "n": int(m.sum()), **{c: int(counts.get(c, 0)) for c in [*cols, "censored"]},
                     "follow_up_days": float(data.loc[m, "time"].astype(float).sum())})
    out = pd.DataFrame(rows, columns=["group", "n", *cols, "censored", "follow_up_days"])
    if total:
        tot = out.drop(columns="group").sum()
        out = pd.concat([out, pd.DataFrame([{"group": "total", **tot.to_dict()}])], ignore_index=True)
    return out.astype({c: "int64" for c in ["n", *cols, "censored"]}).astype({"follow_up_days": float})


def _logrank_chisq(time: np.ndarray, event: np.ndarray, codes: np.ndarray, k: int) -> float:
    """k-group log-rank chi-square (R ``survdiff``, rho = 0), in numpy.

    At each distinct event time t: expected E_j = d_t n_jt / n_t and hypergeometric covariance
    V_jk = d_t (n_t - d_t) / (n_t - 1) * n_jt / n_t * (delta_jk - n_kt / n_t); the statistic is
    (O - E)' V^- (O - E) over the first k - 1 groups. Same numbers as lifelines'
    ``multivariate_logrank_test`` (to ~1e-15) at ~1/100 of its cost.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event).astype(bool)
    codes = np.asarray(codes, dtype=np.int64)
    ut, inv = np.unique(time, return_inverse=True)
    n_at = np.zeros((len(ut), k))
    d = np.zeros((len(ut), k))
    np.add.at(n_at, (inv, codes), 1.0)
    np.add.at(d, (inv[event], codes[event]), 1.0)
    at_risk = n_at[::-1].cumsum(axis=0)[::-1]  # n_jt = #{time >= t}
    D, N = d.sum(axis=1), at_risk.sum(axis=1)
    keep = D > 0
    d, at_risk, D, N = d[keep], at_risk[keep], D[keep], N[keep]
    oe = (d - (D / N)[:, None] * at_risk).sum(axis=0)
    w = np.where(N > 1, D * (N - D) / np.maximum(N - 1, 1), 0.0) / N
    V = np.diag((w[:, None] * at_risk).sum(axis=0)) - np.einsum("t,tj,tk->jk", w / N, at_risk, at_risk)
    z = oe[:-1]
    return float(z @ np.linalg.pinv(V[:-1, :-1]) @ z)


def logrank(tte: pd.DataFrame, *, group: str = "arm", groups: Sequence | None = None,
            control: Hashable | None = None) -> pd.DataFrame:
    """Log-rank tests: the global k-group test, then each group against ``control``.

    Parameters
    ----------
    groups : list, optional
        Group order; the first is the control unless ``control`` is given.
    control : optional

    Returns
    -------
    DataFrame
        ``comparison`` (``"global"`` or ``"<g> vs <control>"``), ``group``, ``statistic``
        (chi-square, as R ``survdiff``), ``df``, ``p_value``, ``events``, ``n``.

    Notes
    -----
    Computed in numpy (:func:`_logrank_chisq`); identical to lifelines'
    ``multivariate_logrank_test`` / ``logrank_test`` and R ``survdiff``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["c"] * 5 + ["t"] * 5 + ["u"] * 5,
    ...                   "time": [2., 3, 5, 6, 9, 4, 8, 10, 12, 15, 1, 3, 4, 7, 9],
    ...                   "event": [1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1]})
    >>> logrank(d)[["comparison", "statistic", "df", "p_value", "events", "n"]].round(3)
      comparison  statistic  df  p_value  events   n
    0     global      5.700   2    0.058      10  15
    1     t vs c      4.351   1    0.037       6  10
    2     u vs c      0.000   1    0.992       8  10
    """
    gs = _groups(tte, group, groups)
    control = gs[0] if control is None else control
    d = tte[tte[group].isin(gs)]
    code_of = {g: i for i, g in enumerate(gs)}
    codes = d[group].map(code_of).to_numpy(dtype=np.int64)
    t = d["time"].to_numpy(dtype=float)
    e = d["event"].to_numpy(dtype=int)
    rows = []
    if len(gs) >= 2:
        stat = _logrank_chisq(t, e, codes, len(gs))
        rows.append({"comparison": "global", "group": None, "statistic": stat, "df": len(gs) - 1,
                     "p_value": float(stats.chi2.sf(stat, len(gs) - 1)), "events": int(e.sum()), "n": len(d)})
    c = code_of[control]
    for g in gs:
        if g == control:
            continue
        m = (codes == code_of[g]) | (codes == c)
        stat = _logrank_chisq(t[m], e[m], (codes[m] == c).astype(np.int64), 2)
        rows.append({"comparison": f"{g} vs {control}", "group": g, "statistic": stat, "df": 1,
                     "p_value": float(stats.chi2.sf(stat, 1)), "events": int(e[m].sum()), "n": int(m.sum())})
    return pd.DataFrame(rows)


class CoxResult:
    """A fitted Cox model: the lifelines fitter, the design it was fitted on, and the tidy table.

    ``terms`` groups the model's columns into the terms of the model formula (``{term: [columns]}``,
    e.g. one ``arm`` term for the indicators of a factor, as R's ``fit$assign``); by default each
    column is its own term. :func:`ph_test` tests per term.
    """

    def __init__(self, model: CoxPHFitter, data: pd.DataFrame, table: pd.DataFrame,
                 terms: dict | None = None) -> None:
        self.model = model
        self.data = data
        self.table = table
        cols = list(table["term"])
        self.terms = {c: [c] for c in cols} if terms is None else {k: list(v) for k, v in terms.items()}

    @property
    def loglik(self) -> float:
        return float(self.model.log_likelihood_)

    def lr_test(self) -> dict:
        """Likelihood-ratio test of all terms (R ``summary(coxph)$logtest``)."""
        with quiet():
            r = self.model.log_likelihood_ratio_test()
        return {"statistic": float(r.test_statistic), "df": int(r.degrees_freedom), "p_value": float(r.p_value)}

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"CoxResult(terms={list(self.table['term'])})"


def cox_model(data: pd.DataFrame, terms: list[str], *, alpha: float = 0.05, labels: dict | None = None,
              duration: str = "time", event: str = "event", groups: dict | None = None) -> CoxResult:
    """Fit a Cox model (Efron ties, as R ``coxph`` default) on numeric columns ``terms``.

    ``groups`` (optional, ``{name: [columns]}``) says which columns form one term of the model
    formula (e.g. the indicators of a factor), for :func:`ph_test`; default: each column alone.

    Returns
    -------
    CoxResult
        ``.table``: ``term``, ``label``, ``estimate`` (hazard ratio), ``ci_low``, ``ci_high`` (HR),
        ``coef`` (log HR), ``se``, ``z``, ``p_value``, ``n``, ``events``, ``note`` (empty, or why a
        term has no finite estimate, e.g. an arm without events: its numbers are then NaN).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [5., 8, 12, 3, 9, 15, 20, 7], "event": [1, 1, 0, 1, 1, 0, 1, 1],
    ...                   "x": [0, 0, 0, 0, 1, 1, 1, 1]})
    >>> round(float(cox_model(d, ["x"]).table["estimate"].item()), 4)
    0.4005
    """
    from lifelines import CoxPHFitter

    X = data[[duration, event, *terms]].astype(float).reset_index(drop=True)
    cph = CoxPHFitter(alpha=alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph.fit(X, duration_col=duration, event_col=event,
                fit_options={"precision": 1e-14, "r_precision": 0.0, "max_steps": 100})
    s = cph.summary
    z = stats.norm.ppf(1 - alpha / 2)
    coef, se = s["coef"].to_numpy(), s["se(coef)"].to_numpy()
    labels = labels or {}
    with np.errstate(over="ignore", invalid="ignore"):
        lo, hi, est = np.exp(coef - z * se), np.exp(coef + z * se), np.exp(coef)
    table = pd.DataFrame({
        "term": list(terms), "label": [labels.get(t, t) for t in terms],
        "estimate": est, "ci_low": lo, "ci_high": hi,
        "coef": coef, "se": se, "z": coef / se, "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
        "n": len(X), "events": int(X[event].sum()), "note": ""})
    for i, t in enumerate(terms):
        why = _not_estimable(X[t], X[event], coef[i], se[i])
        if why:
            table.loc[i, ["estimate", "ci_low", "ci_high", "coef", "se", "z", "p_value"]] = np.nan
            table.loc[i, "note"] = why
    return CoxResult(cph, X, table, groups)


def _not_estimable(x: pd.Series, event: pd.Series, coef: float, se: float) -> str:
    """Why a Cox coefficient has no finite estimate (monotone likelihood), or "".

    A 0/1 term whose events all fall on one side (e.g. an arm without events) drives the partial
    likelihood to its supremum at an infinite coefficient; the optimizer then stops at a huge value
    with a meaningless Wald test (R ``coxph`` warns "coefficient may be infinite"). Other terms are
    flagged when the fit diverged (|coef| > 15 or se > 100).
    """
    ev = event.to_numpy(dtype=float) > 0
    v = x.to_numpy(dtype=float)
    if set(np.unique(v)) <= {0.0, 1.0}:
        if not ev[v == 1].any():
            return ("not estimable: no events where this term is 1 (hazard ratio 0, monotone likelihood); "
                    "see the log-rank test")
        if not ev[v == 0].any():
            return ("not estimable: every event is where this term is 1 (infinite hazard ratio); "
                    "see the log-rank test")
    if not np.isfinite(coef) or abs(coef) > 15 or not np.isfinite(se) or se > 100:
        return "not estimable: the fit diverged (monotone likelihood); see the log-rank test"
    return ""


def cox_arm(tte: pd.DataFrame, study: Study, *, alpha: float = 0.05) -> CoxResult:
    """Cox model with one indicator per active arm (reference: the study's control arm).

    Terms are the arm ids; labels read ``"<arm label> vs <control label>"``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import time_to_event
    >>> trial = example()
    >>> fit = cox_arm(time_to_event(trial), trial.study)
    >>> fit.table[["term", "label", "estimate", "ci_low", "ci_high"]].round(2)
         term                                 label  estimate  ci_low  ci_high
    0     msc           UC-MSC vs Conventional care      0.66     0.3     1.43
    1      pe  Plasma exchange vs Conventional care      1.02     0.5     2.09
    2  pe_msc      PE + UC-MSC vs Conventional care      0.65     0.3     1.39
    >>> round(fit.lr_test()["p_value"], 3)
    0.478
    """
    arms = [a for a in study.arm_ids if a != study.control_arm and (tte["arm"] == a).any()]
    X = tte[["time", "event"]].copy()
    for a in arms:
        X[a] = (tte["arm"] == a).astype(float)
    lab = study.arm_labels
    return cox_model(X, arms, alpha=alpha, labels={a: f"{lab[a]} vs {lab[study.control_arm]}" for a in arms},
                     groups={"arm": arms})


def factorial_terms(study: Study, *, interaction: bool = True) -> list[tuple[str, ...]]:
    """Model terms of the factorial design: every factor, then (optionally) every interaction.

    >>> from trialkit.study import load_study
    >>> factorial_terms(load_study())
    [('msc',), ('pe',), ('msc', 'pe')]
    """
    f = list(study.factors)
    terms: list[tuple[str, ...]] = [(x,) for x in f]
    if interaction:
        for k in range(2, len(f) + 1):
            terms += list(itertools.combinations(f, k))
    return terms


def _design(data: pd.DataFrame, terms: list[tuple[str, ...]]) -> tuple[pd.DataFrame, list[str]]:
    """Columns for each term (products of 0/1 factors); drops terms that are constant or aliased."""
    X = pd.DataFrame(index=data.index)
    kept: list[str] = []
    for t in terms:
        name = ":".join(t)
        col = data[list(t)].astype(float).prod(axis=1)
        trial_X = pd.concat([X, col.rename(name)], axis=1)
        full = np.column_stack([np.ones(len(data)), trial_X.to_numpy()])
        if col.nunique() > 1 and np.linalg.matrix_rank(full) == full.shape[1]:
            X, kept = trial_X, [*kept, name]
    return X, kept


def cox_factorial(tte: pd.DataFrame, study: Study, *, interaction: bool = True, alpha: float = 0.05) -> CoxResult:
    """Cox model on the factors of the design: main effects (+ all interactions), from ``study.factors``.

    Terms that the arms present cannot identify (e.g. an interaction in a design without the
    combination arm) are left out. Labels are the factors' labels joined by ``×``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import time_to_event
    >>> trial = example()
    >>> tte = time_to_event(trial)
    >>> cox_factorial(tte, trial.study).table[["term", "label", "estimate", "ci_low", "ci_high"]].round(2)
         term                     label  estimate  ci_low  ci_high
    0     msc                    UC-MSC      0.66    0.30     1.43
    1      pe           Plasma exchange      1.02    0.50     2.09
    2  msc:pe  UC-MSC × Plasma exchange      0.97    0.33     2.87
    >>> cox_factorial(tte, trial.study, interaction=False).table[["term", "estimate", "p_value"]].round(3)
      term  estimate  p_value
    0  msc     0.647    0.117
    1   pe     1.008    0.978
    """
    X, kept = _design(tte, factorial_terms(study, interaction=interaction))
    X = pd.concat([tte[["time", "event"]], X], axis=1)
    labels = {k: " × ".join(study.factors[f].label for f in k.split(":")) for k in kept}
    return cox_model(X, kept, alpha=alpha, labels=labels)


def _km_left(durations, events, weights):
    """1 - KM(t-) at each duration: the left-continuous "km" time transform of R's cox.zph."""
    from lifelines import KaplanMeierFitter

    with quiet():
        k = KaplanMeierFitter().fit(durations, events, weights=weights)
    sf = k.survival_function_.iloc[:, 0]
    t = sf.index.to_numpy(dtype=float)
    v = sf.to_numpy()
    i = np.searchsorted(t, np.asarray(durations, dtype=float), side="left") - 1
    out = 1 - np.where(i >= 0, v[np.clip(i, 0, None)], 1.0)
    return pd.Series(out, index=getattr(durations, "index", None))


def _km_transform(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 - KM(t-) of all subjects (unweighted, left-continuous): R ``cox.zph``'s ``transform = "km"``."""
    ut = np.unique(time[event])
    n_risk = (time[None, :] >= ut[:, None]).sum(axis=1)
    n_dead = (event[None, :] & (time[None, :] == ut[:, None])).sum(axis=1)
    surv = np.concatenate([[1.0], np.cumprod(1.0 - n_dead / n_risk)])
    return 1.0 - surv[np.searchsorted(ut, time, side="left")]


def _zph_score(time: np.ndarray, event: np.ndarray, X: np.ndarray, eta: np.ndarray,
               weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score vector of the time-by-covariate terms and the 2p x 2p information (R ``zph1.c``, Efron).

    At ``beta`` fixed at the fit, adds ``g(t) x`` (``g``: the centred km transform) to the model
    and returns ``U`` (the score for the p added terms; the score for the p original terms is 0 at
    the estimate) and the information matrix of all 2p terms, with Efron's handling of ties.
    """
    n, p = X.shape
    g_all = _km_transform(time, event)
    g_all = g_all - g_all[event].mean()
    Xc = X - X.mean(axis=0)
    risk = np.exp(eta - eta.mean()) * weights
    u = np.zeros(p)
    imat = np.zeros((2 * p, 2 * p))
    for t in np.unique(time[event]):
        dead = event & (time == t)
        alive = (time >= t) & ~dead
        m = int(dead.sum())
        g = g_all[dead][0]
        xd, rd, wd = Xc[dead], risk[dead], weights[dead]
        xa, ra = Xc[alive], risk[alive]
        u += g * (wd @ xd)
        d0, a0, c0 = ra.sum(), ra @ xa, (xa * ra[:, None]).T @ xa
        d2, a2, c2 = rd.sum(), rd @ xd, (xd * rd[:, None]).T @ xd
        wtave = wd.sum() / m
        for k in range(1, m + 1):  # Efron: the tied deaths are k/m in the risk set
            f = k / m
            den = d0 + f * d2
            mean = (a0 + f * a2) / den
            v = wtave * ((c0 + f * c2) / den - np.outer(mean, mean))
            u -= g * wtave * mean
            imat[:p, :p] += v
            imat[:p, p:] += g * v
            imat[p:, p:] += g * g * v
    imat[p:, :p] = imat[:p, p:].T
    return u, imat


def _ph_exact(fit: CoxResult, terms: bool) -> list[dict]:
    m = fit.model
    cols = list(m.params_.index)
    X = fit.data[cols].to_numpy(dtype=float)
    beta = m.params_.to_numpy(dtype=float)
    time = fit.data[m.duration_col].to_numpy(dtype=float)
    event = fit.data[m.event_col].to_numpy(dtype=float) > 0
    w = np.ones(len(time)) if m.weights_col is None else fit.data[m.weights_col].to_numpy(dtype=float)
    u, imat = _zph_score(time, event, X, X @ beta, w)
    p = len(cols)
    groups = fit.terms if terms else {c: [c] for c in cols}

    def score_test(idx: list[int]) -> float:
        kk = [*range(p), *(p + j for j in idx)]
        uu = np.concatenate([np.zeros(p), u[idx]])
        try:
            return float(np.linalg.solve(imat[np.ix_(kk, kk)], uu) @ uu)
        except np.linalg.LinAlgError:
            return float("nan")

    rows = [{"term": name, "statistic": score_test([cols.index(c) for c in cs]), "df": len(cs)}
            for name, cs in groups.items()]
    rows.append({"term": "GLOBAL", "statistic": score_test(list(range(p))), "df": p})
    return rows


def _ph_approximate(fit: CoxResult) -> list[dict]:
    from lifelines.statistics import proportional_hazard_test

    m = fit.model
    with quiet():
        r = proportional_hazard_test(m, fit.data, time_transform=_km_left)
        scaled = m.compute_residuals(fit.data, kind="scaled_schoenfeld")
    terms = list(m.params_.index)
    per = pd.Series(np.asarray(r.test_statistic, dtype=float), index=terms)
    ev = m.event_observed.to_numpy().astype(bool)
    g = np.asarray(_km_left(m.durations, m.event_observed, m.weights))[ev]
    gc = g - g.mean()
    d = ev.sum()
    # scaled residuals r* = d · r V + beta, so Σ gc r* = d · V U and U'VU = s'V⁻¹s / d²
    s = (gc[:, None] * scaled.to_numpy()).sum(axis=0)
    V = m.variance_matrix_.to_numpy()
    glob = float(s @ np.linalg.solve(V, s) / (d * (gc ** 2).sum()))
    rows = [{"term": t, "statistic": float(per[t]), "df": 1} for t in terms]
    rows.append({"term": "GLOBAL", "statistic": glob, "df": len(terms)})
    return rows


def ph_test(fit: CoxResult, *, method: str = "exact", terms: bool = True, alpha: float = 0.05) -> pd.DataFrame:
    """Proportional-hazards test, per term and global, as R ``cox.zph`` (survival >= 3.0) computes it.

    Parameters
    ----------
    fit : CoxResult
        From :func:`cox_model`, :func:`cox_arm` or :func:`cox_factorial`.
    method : {"exact", "approximate"}
        ``"exact"`` (default): the score test of R's ``cox.zph`` since survival 3.0
        (``transform = "km"``). ``"approximate"``: the Grambsch & Therneau approximation that
        ``cox.zph`` computed before 3.0 (lifelines' ``proportional_hazard_test`` with the same
        time transform, plus its multivariate form for the global test), one test per column.
    terms : bool, default True
        As R's ``terms``: test each term of the model formula (``fit.terms``; the arm indicators
        of :func:`cox_arm` form one ``arm`` term with as many df as indicators), else each column.
        Only the exact method groups columns.
    alpha : float, default 0.05

    Returns
    -------
    DataFrame
        ``term`` (each term, then ``"GLOBAL"``), ``statistic`` (chi-square), ``df``, ``p_value``,
        ``violated`` (p < alpha).

    Notes
    -----
    With the coefficients fixed at their estimate, the model is extended by ``g(t) x`` for the
    term's columns, with ``g`` the km transform ``1 - KM(t-)`` of all subjects centred at its mean
    over the events. The statistic is the score test ``U' I⁻¹ U`` of these added coefficients,
    ``U`` their score (the original coefficients' score is 0) and ``I`` the information of the
    original and added coefficients together (Efron's method for tied times, as the Cox fit). It
    is hand-written (numpy) because no Python library computes it: lifelines offers only the
    earlier approximation, which differs from R's current output in the third decimal. Checked
    against R's ``cox.zph`` to 1e-6 in ``tests/test_stats_survival.py``
    (``tests/reference/ph_test.R``: the efficacy fixture and the Rossi recidivism trial).

    References
    ----------
    Grambsch PM, Therneau TM. Proportional hazards tests and diagnostics based on weighted
    residuals. Biometrika 1994;81:515-526. R survival, ``R/cox.zph.R`` and ``src/zph1.c``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [5., 8, 12, 3, 9, 15, 20, 7, 4, 11], "event": [1, 1, 0, 1, 1, 0, 1, 1, 1, 1],
    ...                   "x": [0, 0, 0, 0, 1, 1, 1, 1, 1, 0]})
    >>> ph_test(cox_model(d, ["x"])).round(3)
         term  statistic  df  p_value  violated
    0       x      0.001   1    0.972     False
    1  GLOBAL      0.001   1    0.972     False
    >>> ph_test(cox_model(d, ["x"]), method="approximate").round(3)["p_value"].tolist()
    [0.976, 0.976]
    """
    if method == "exact":
        rows = _ph_exact(fit, terms)
    elif method == "approximate":
        rows = _ph_approximate(fit)
    else:
        raise ValueError(f"method {method!r}: expected 'exact' or 'approximate'")
    out = pd.DataFrame(rows)
    out["p_value"] = stats.chi2.sf(out["statistic"], out["df"])
    out["violated"] = out["p_value"] < alpha
    return out


def ph_verdict(ph: pd.DataFrame, *, alpha: float = 0.05) -> str:
    """One sentence in plain words on the proportional-hazards check (from :func:`ph_test`).

    >>> import pandas as pd
    >>> ph_verdict(pd.DataFrame({"term": ["GLOBAL"], "statistic": [1.0], "df": [1], "p_value": [0.32]}))
    'No evidence against proportional hazards (global Schoenfeld test p = 0.32); with few events the test has little power, so the RMST difference is shown as well.'
    """
    g = ph.loc[ph["term"] == "GLOBAL"].iloc[0]
    p = float(g["p_value"])
    if p < alpha:
        bad = [t for t, q in zip(ph["term"], ph["p_value"]) if t != "GLOBAL" and q < alpha]
        which = f" (mainly {', '.join(bad)})" if bad else ""
        return (f"The hazards do not look proportional{which} (global Schoenfeld test p = {p:.2g}): the hazard "
                "ratio is an average over follow-up, and the RMST difference is the better summary.")
    return (f"No evidence against proportional hazards (global Schoenfeld test p = {p:.2g}); with few events the "
            "test has little power, so the RMST difference is shown as well.")


def _rmst_one(d: pd.DataFrame, tau: float) -> tuple[float, float]:
    """RMST up to tau and its variance (Greenwood-type, as R ``print.survfit(rmean=)``)."""
    k = kaplan_meier(d, 0.05)
    sf = k.survival_function_.iloc[:, 0]
    sf = sf[sf.index <= tau]
    t = np.append(sf.index.to_numpy(dtype=float), tau)
    s = sf.to_numpy()
    area = np.diff(t) * s  # S is constant on [t_j, t_{j+1})
    mean = float(area.sum())
    et = k.event_table
    et = et[(et.index <= tau) & (et["observed"] > 0)]
    # A_j: area under S from event time t_j to tau
    tail = np.array([area[np.searchsorted(t[:-1], tj, side="left"):].sum() for tj in et.index])
    n, dd = et["at_risk"].to_numpy(float), et["observed"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > dd, tail ** 2 * dd / (n * (n - dd)), 0.0)
    return mean, float(terms.sum())


def rmst(tte: pd.DataFrame, horizon: float, *, group: str = "arm", groups: Sequence | None = None,
         alpha: float = 0.05) -> pd.DataFrame:
    """Restricted mean survival time (days) up to ``horizon``, per group.

    Notes
    -----
    RMST(τ) = ∫₀^τ S(t) dt of the Kaplan-Meier curve; the variance is
    Σ_{t_j ≤ τ} A_j² d_j / (n_j (n_j − d_j)), A_j = ∫_{t_j}^τ S(t) dt (as R ``survival``'s
    ``print(survfit, rmean=τ)`` and ``survRM2``). lifelines' ``restricted_mean_survival_time``
    returns the variance of min(T, τ) instead, which is not a standard error.

    Returns
    -------
    DataFrame
        ``group``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``horizon``, ``n``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": "a", "time": [10., 20, 30, 40], "event": [1, 1, 1, 1]})
    >>> rmst(d, 35)["estimate"].item()  # 10 + 0.75*10 + 0.5*10 + 0.25*5
    23.75
    """
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for g in _groups(tte, group, groups):
        d = tte[tte[group] == g]
        m, v = _rmst_one(d, horizon)
        se = np.sqrt(v)
        rows.append({"group": g, "estimate": m, "se": se, "ci_low": m - z * se, "ci_high": m + z * se,
                     "horizon": float(horizon), "n": len(d)})
    return pd.DataFrame(rows)


def rmst_difference(tte: pd.DataFrame, horizon: float, *, group: str = "arm", groups: Sequence | None = None,
                    control: Hashable | None = None,
                    alpha: float = 0.05) -> pd.DataFrame:
    """RMST difference (days) of each group minus ``control`` up to ``horizon``, with a Wald CI and test.

    Returns
    -------
    DataFrame
        ``comparison``, ``group``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``,
        ``rmst``, ``rmst_control``, ``horizon``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["c"] * 4 + ["t"] * 4, "time": [10., 20, 30, 40, 15, 30, 40, 40],
    ...                   "event": [1, 1, 1, 1, 1, 0, 1, 0]})
    >>> rmst_difference(d, 35)[["comparison", "rmst", "rmst_control", "estimate", "se", "p_value"]].round(3)
      comparison  rmst  rmst_control  estimate     se  p_value
    0     t vs c  30.0         23.75      6.25  6.465    0.334
    """
    r = rmst(tte, horizon, group=group, groups=groups, alpha=alpha).set_index("group")
    gs = list(r.index)
    control = gs[0] if control is None else control
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for g in gs:
        if g == control:
            continue
        est = r.loc[g, "estimate"] - r.loc[control, "estimate"]
        se = float(np.hypot(r.loc[g, "se"], r.loc[control, "se"]))
        rows.append({"comparison": f"{g} vs {control}", "group": g, "estimate": est, "se": se,
                     "ci_low": est - z * se, "ci_high": est + z * se,
                     "p_value": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan,
                     "rmst": r.loc[g, "estimate"], "rmst_control": r.loc[control, "estimate"],
                     "horizon": float(horizon)})
    return pd.DataFrame(rows)


def cox_arm_by_endpoint(ttes: dict[str, pd.DataFrame], study: Study, *, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`cox_arm` for several endpoints (``{name: tte}``), stacked with an ``endpoint`` column.

    Endpoints without any event are left out.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> from trialkit.derive.tte import time_to_event
    >>> trial = example()
    >>> ttes = {"week 12": time_to_event(trial, horizon=84), "week 48": time_to_event(trial)}
    >>> cox_arm_by_endpoint(ttes, trial.study)[["endpoint", "term", "events", "estimate", "ci_low", "ci_high"]].round(2)
      endpoint    term  events  estimate  ci_low  ci_high
    0  week 12     msc      43      0.77    0.33     1.79
    1  week 12      pe      43      1.08    0.49     2.37
    2  week 12  pe_msc      43      0.54    0.22     1.33
    3  week 48     msc      53      0.66    0.30     1.43
    4  week 48      pe      53      1.02    0.50     2.09
    5  week 48  pe_msc      53      0.65    0.30     1.39
    """
    parts = []
    for name, d in ttes.items():
        if d["event"].sum() == 0:
            continue
        parts.append(cox_arm(d, study, alpha=alpha).table.assign(endpoint=name))
    out = pd.concat(parts, ignore_index=True)
    return out[["endpoint", *[c for c in out.columns if c != "endpoint"]]]
