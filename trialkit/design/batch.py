"""Batch engine of the design simulation: the survival analyses of many replicates as arrays.

The per-trial path (:func:`trialkit.design.power.run_replicate`) builds a :class:`~trialkit.Trial`
per replicate and calls the efficacy notebook's functions on it; at 120 subjects that costs about
50 ms of Python overhead per trial (pandas, lifelines) for very little arithmetic. This module does
the same work for a stack of ``R`` replicates at once:

1. **Simulation** (:func:`simulate_replicates`): each replicate is drawn by
   :func:`trialkit.simulate.core.simulate_survival` from its own seed, i.e. the *same* random
   streams and numbers as the per-trial path (and as :func:`trialkit.simulate.simulate`), kept as
   (replicate × subject) arrays of arm, time and event for transplant-free survival to the
   primary horizon (the rule of :func:`trialkit.derive.tte.time_to_event`).
2. **One sort per replicate** (:func:`sort_replicates`): subjects ordered by time, with the tie
   blocks (subjects sharing a day) that both analyses need.
3. **Log-rank** (:func:`logrank_replicates`): the global k-arm test and each arm against control,
   all from the at-risk and event counts per arm at each distinct time of that one sort; the
   formulas of :func:`trialkit.stats.survival.logrank` (R ``survdiff``).
4. **Cox** (:func:`cox_replicates`): the partial likelihood with Efron's ties, its gradient and
   Hessian for all replicates at once (risk-set sums as reverse cumulative sums along the sorted
   subjects), maximised by the *same* Newton–Raphson iteration as lifelines' ``CoxPHFitter``
   (standardized covariates, its step-size rule and stopping rules with the options
   :func:`trialkit.stats.survival.cox_model` passes), so the estimates agree with lifelines to
   rounding (about 1e-13), not merely to a stopping tolerance.

A replicate the batch cannot reproduce exactly — a Cox term whose events all fall on one side
(an arm without events: monotone likelihood, reported as not estimable), a fit that does not
converge or diverges, a singular Hessian — is flagged and re-run through the per-trial path, so its
rows (not-estimable NaNs, or an ``"error"`` row) are exactly today's. Such replicates are rare in
designs of useful size (roughly 1 in 20,000 trials at 30 subjects per arm, 1 in 150 at 15 per arm).

Results are identical (bitwise) whatever the number of workers or the chunking: every
replicate's arithmetic involves its own row of the arrays only, and a replicate's Newton iteration
stops when *it* converges, not when the whole stack does. NumPy only: on a stack of 500
replicates both Cox models together cost about 0.9 ms per replicate and the log-rank tests 0.07 ms,
against about 2 ms to simulate the replicate (``benchmarks/README.md``): a compiled kernel (Numba)
could save at most about a third of a replicate's cost, not worth the dependency.

Examples
--------
>>> from trialkit.design.power import design_spec, replicate_seeds
>>> spec = design_spec("default", n_subjects=60)
>>> sv = simulate_replicates(spec, replicate_seeds(1, 3))
>>> sv.arm.shape, sv.time.dtype, sv.event.sum(axis=1).tolist()
((3, 60), dtype('float64'), [22, 27, 27])
>>> cox = cox_replicates(sort_replicates(sv), factor_design(spec.study, interaction=False)[0])
>>> np.exp(cox.coef).round(3).tolist()
[[0.587, 0.682], [0.679, 0.655], [1.021, 0.818]]
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from trialkit.design.power import DesignSpec
    from trialkit.study import Study

__all__ = ["SurvivalReplicates", "SortedReplicates", "CoxReplicates", "simulate_replicates", "sort_replicates",
           "logrank_replicates", "factor_design", "cox_replicates", "batch_supported", "analyze_replicates"]

#: lifelines' ``CoxPHFitter`` Newton–Raphson settings as :func:`trialkit.stats.survival.cox_model`
#: passes them (``precision``, ``r_precision``, ``max_steps``) and lifelines' defaults (start step).
NEWTON: dict[str, Any] = {"precision": 1e-14, "r_precision": 0.0, "max_steps": 100, "step_size": 0.95}


@dataclass(frozen=True)
class SurvivalReplicates:
    """Transplant-free survival to the primary horizon of ``R`` simulated trials, (R, n) arrays.

    ``arm``: index into ``study.arm_ids`` (int64); ``time``: days to the event or to censoring
    (float); ``event``: the event was observed by the horizon (bool). Subjects in randomization order.
    """

    arm: np.ndarray
    time: np.ndarray
    event: np.ndarray


@dataclass(frozen=True)
class SortedReplicates:
    """Replicates with each row sorted by time, and the tie blocks of the sorted rows.

    ``start`` / ``end``: for each position, the first / last position of its block of equal
    times; ``last``: the position ends its block (one position per distinct time).
    """

    arm: np.ndarray
    time: np.ndarray
    event: np.ndarray
    start: np.ndarray
    end: np.ndarray
    last: np.ndarray


@dataclass(frozen=True)
class CoxReplicates:
    """Cox fits of ``R`` replicates: ``coef`` and ``se`` (R, p) on the log hazard ratio scale,
    ``ok`` (R,) the fit converged with finite, estimable terms (else the row holds NaN)."""

    coef: np.ndarray
    se: np.ndarray
    ok: np.ndarray


# ------------------------------------------------------------------------------------------------
# simulation and sorting
# ------------------------------------------------------------------------------------------------
def simulate_replicates(spec: DesignSpec, seeds: Sequence[int] | np.ndarray) -> SurvivalReplicates:
    """Simulate the survival part of one trial per seed, as (replicate × subject) arrays.

    Parameters
    ----------
    spec : DesignSpec
        From :func:`trialkit.design.power.design_spec` (study, scenario, ``n_subjects``).
    seeds : sequence of int
        One simulation seed per replicate (:func:`trialkit.design.power.replicate_seeds`).

    Returns
    -------
    SurvivalReplicates
        ``time`` and ``event`` follow :func:`trialkit.derive.tte.time_to_event` (endpoint
        ``"transplant_free"``, horizon ``"primary"``): the event day when death or transplantation
        is observed by the horizon, else the last contact or the horizon, whichever is first.

    Examples
    --------
    >>> from trialkit.design.power import design_spec, replicate_seeds, simulate_replicate
    >>> from trialkit.derive.tte import time_to_event
    >>> spec = design_spec("default")
    >>> seeds = replicate_seeds(1, 2)
    >>> sv = simulate_replicates(spec, seeds)
    >>> tte = time_to_event(simulate_replicate(spec, seeds[1]))
    >>> bool((sv.time[1] == tte["time"]).all() and (sv.event[1] == tte["event"]).all())
    True
    """
    from trialkit.derive.tte import horizon_days
    from trialkit.simulate.core import simulate_survival

    h = horizon_days(spec.study, "primary")
    arms, times, evs = [], [], []
    for seed in seeds:
        arm, fu = simulate_survival(spec.study, spec.scenario, int(seed), spec.n_subjects)
        has = fu.observed & (fu.event_day <= h)
        arms.append(arm)
        times.append(np.where(has, fu.event_day, np.fmin(fu.last_day, h)).astype(float))
        evs.append(has)
    n = len(arms[0]) if arms else 0
    shape = (len(arms), n)
    return SurvivalReplicates(arm=np.array(arms, dtype=np.int64).reshape(shape),
                              time=np.array(times, dtype=float).reshape(shape),
                              event=np.array(evs, dtype=bool).reshape(shape))


def sort_replicates(sv: SurvivalReplicates) -> SortedReplicates:
    """Sort each replicate by time (stable) and find its blocks of tied times.

    Examples
    --------
    >>> sv = SurvivalReplicates(arm=np.array([[0, 1, 0, 1]]), time=np.array([[5.0, 2.0, 5.0, 9.0]]),
    ...                         event=np.array([[True, True, False, False]]))
    >>> s = sort_replicates(sv)
    >>> s.time.tolist(), s.start.tolist(), s.end.tolist(), s.last.tolist()
    ([[2.0, 5.0, 5.0, 9.0]], [[0, 1, 1, 3]], [[0, 2, 2, 3]], [[True, False, True, True]])
    """
    order = np.argsort(sv.time, axis=1, kind="stable")
    time = np.take_along_axis(sv.time, order, axis=1)
    r, n = time.shape
    idx = np.broadcast_to(np.arange(n), (r, n))
    new = np.ones((r, n), dtype=bool)
    new[:, 1:] = time[:, 1:] != time[:, :-1]
    last = np.ones((r, n), dtype=bool)
    last[:, :-1] = new[:, 1:]
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
    end = np.minimum.accumulate(np.where(last, idx, n)[:, ::-1], axis=1)[:, ::-1]
    return SortedReplicates(arm=np.take_along_axis(sv.arm, order, axis=1), time=time,
                            event=np.take_along_axis(sv.event, order, axis=1), start=start,
                            end=np.ascontiguousarray(end), last=last)


def _block_sum(s: SortedReplicates, a: np.ndarray) -> np.ndarray:
    """Per position, the sum of ``a`` (R, n, ...) over the position's tie block."""
    c = np.cumsum(a, axis=1)
    pad = np.concatenate([np.zeros_like(c[:, :1]), c], axis=1)
    return _take(pad, s.end + 1) - _take(pad, s.start)


def _at_risk(s: SortedReplicates, a: np.ndarray) -> np.ndarray:
    """Per position, the sum of ``a`` over the risk set of its time (all positions from the block's start)."""
    rc = np.cumsum(a[:, ::-1], axis=1)[:, ::-1]
    return _take(rc, s.start)


def _take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[r, idx[r, j], ...]`` for every replicate ``r`` (flat fancy indexing: faster than take_along_axis)."""
    r, m = a.shape[:2]
    flat = (idx + (np.arange(r) * m)[:, None]).ravel()
    return a.reshape(r * m, *a.shape[2:])[flat].reshape(idx.shape + a.shape[2:])


def _subset(s: SortedReplicates, rows: np.ndarray) -> SortedReplicates:
    return SortedReplicates(arm=s.arm[rows], time=s.time[rows], event=s.event[rows], start=s.start[rows],
                            end=s.end[rows], last=s.last[rows])


# ------------------------------------------------------------------------------------------------
# log-rank
# ------------------------------------------------------------------------------------------------
def _chisq(oe: np.ndarray, V: np.ndarray) -> np.ndarray:
    """(O - E)' V^- (O - E) per replicate, with the Moore–Penrose inverse as the per-trial test."""
    return np.einsum("ri,rij,rj->r", oe, np.linalg.pinv(V), oe)


def _logrank_terms(n_at: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(O - E, V) over the blocks for at-risk and event counts (R, n, k) per block (zero elsewhere)."""
    D, N = d.sum(axis=-1), n_at.sum(axis=-1)
    share = np.divide(D, N, out=np.zeros_like(D), where=N > 0)
    oe = (d - share[..., None] * n_at).sum(axis=1)
    var = np.divide(D * (N - D), np.maximum(N - 1, 1), out=np.zeros_like(D), where=N > 1)
    w = np.divide(var, N, out=np.zeros_like(D), where=N > 0)
    wn = np.divide(w, N, out=np.zeros_like(D), where=N > 0)
    V = np.einsum("rtj,jk->rjk", w[..., None] * n_at, np.eye(n_at.shape[-1])) \
        - np.einsum("rt,rtj,rtk->rjk", wn, n_at, n_at)
    return oe, V


def logrank_replicates(s: SortedReplicates, k: int, control: int) -> dict[str, np.ndarray]:
    """Log-rank chi-squares of every replicate: the global k-group test and each group vs control.

    Parameters
    ----------
    s : SortedReplicates
    k : int
        Number of groups (``s.arm`` takes values 0 .. k-1, each present in every replicate).
    control : int
        The control group's index.

    Returns
    -------
    dict
        ``global`` (R,) chi-square with k - 1 df (R ``survdiff``); ``pairwise`` (R, k - 1), each
        other group in index order against ``control`` (1 df); ``pair_events`` and ``pair_n``
        (R, k - 1), events and subjects in each pair.

    Notes
    -----
    At each distinct time t with d_t events among n_t at risk: E_j = d_t n_jt / n_t and
    V_jk = d_t (n_t - d_t) / (n_t - 1) n_jt / n_t (delta_jk - n_kt / n_t); the statistic is
    (O - E)' V^- (O - E) over the first k - 1 groups, as :func:`trialkit.stats.survival.logrank`.
    A pair's statistic uses the same counts restricted to its two groups.

    Examples
    --------
    The example of :func:`trialkit.stats.survival.logrank` (global 5.700, t vs c 4.351), stacked twice:

    >>> t = np.array([2., 3, 5, 6, 9, 4, 8, 10, 12, 15, 1, 3, 4, 7, 9])
    >>> e = np.array([1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 0, 1, 1], dtype=bool)
    >>> g = np.repeat([0, 1, 2], 5)
    >>> sv = SurvivalReplicates(arm=np.stack([g, g]), time=np.stack([t, t]), event=np.stack([e, e]))
    >>> lr = logrank_replicates(sort_replicates(sv), k=3, control=0)
    >>> lr["global"].round(3).tolist(), lr["pairwise"][0].round(3).tolist(), lr["pair_events"][0].tolist()
    ([5.7, 5.7], [4.351, 0.0], [6, 8])
    """
    G = (s.arm[..., None] == np.arange(k)).astype(float)
    n_at = _at_risk(s, G) * s.last[..., None]
    d = _block_sum(s, G * s.event[..., None]) * s.last[..., None]
    oe, V = _logrank_terms(n_at, d)
    out = {"global": _chisq(oe[:, :-1], V[:, :-1, :-1])}
    others = [j for j in range(k) if j != control]
    pw, pe, pn = [], [], []
    for j in others:
        oe2, V2 = _logrank_terms(n_at[..., [j, control]], d[..., [j, control]])
        pw.append(_chisq(oe2[:, :1], V2[:, :1, :1]))
        m = (s.arm == j) | (s.arm == control)
        pe.append((s.event & m).sum(axis=1))
        pn.append(m.sum(axis=1))
    r = len(s.arm)
    out["pairwise"] = np.column_stack(pw) if pw else np.zeros((r, 0))
    out["pair_events"] = np.column_stack(pe) if pe else np.zeros((r, 0), dtype=np.int64)
    out["pair_n"] = np.column_stack(pn) if pn else np.zeros((r, 0), dtype=np.int64)
    return out


# ------------------------------------------------------------------------------------------------
# Cox, Efron ties
# ------------------------------------------------------------------------------------------------
def factor_design(study: Study, *, interaction: bool) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """The factorial Cox model's covariates per arm: (matrix arms × terms, term names, labels).

    The terms and labels of :func:`trialkit.stats.survival.cox_factorial`: every factor, then
    (with ``interaction``) every interaction, leaving out terms constant over the arms or aliased
    with earlier ones (e.g. an interaction without the combination arm).

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> A, terms, labels = factor_design(load_study(), interaction=True)
    >>> A.tolist(), terms, labels["msc:pe"]
    ([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [1.0, 1.0, 1.0]], ['msc', 'pe', 'msc:pe'], 'UC-MSC × Plasma exchange')
    """
    from trialkit.stats.survival import factorial_terms

    af = study.arm_factors().set_index("arm").loc[study.arm_ids]
    cols: list[np.ndarray] = []
    kept: list[str] = []
    for t in factorial_terms(study, interaction=interaction):
        col = af[list(t)].astype(float).prod(axis=1).to_numpy()
        full = np.column_stack([np.ones(len(col)), *cols, col])
        if len(np.unique(col)) > 1 and np.linalg.matrix_rank(full) == full.shape[1]:
            cols.append(col)
            kept.append(":".join(t))
    labels = {k: " × ".join(study.factors[f].label for f in k.split(":")) for k in kept}
    A = np.column_stack(cols) if cols else np.zeros((len(af), 0))
    return A, kept, labels


def _efron(s: SortedReplicates, X: np.ndarray, beta: np.ndarray, rank: np.ndarray,
           ties: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hessian (R, p, p), gradient (R, p) and log partial likelihood (R,) with Efron's ties.

    At a time with d tied events D among the risk set R: for l = 0 .. d - 1,
    phi_l = S0(R) - (l / d) S0(D) with S0 = sum exp(x b) (S1, S2 with x and x x'), and
    loglik += sum_D x b - sum_l log phi_l, gradient += sum_D x - sum_l (S1(R) - (l/d) S1(D)) / phi_l,
    Hessian += sum_l [u_l u_l' - (S2(R) - (l/d) S2(D)) / phi_l] with u_l = (S1(R) - (l/d) S1(D)) / phi_l.
    Event ``l`` of a block carries term ``l`` (``rank``), so every sum is over event positions.
    """
    e = s.event
    r, n, p = X.shape
    xb = np.einsum("rnp,rp->rn", X, beta)
    w = np.exp(xb)
    wx = w[..., None] * X
    wxx = X[..., :, None] * wx[..., None, :]
    ef = e.astype(float)
    F = np.concatenate([w[..., None], wx, wxx.reshape(r, n, p * p)], axis=-1)  # one cumsum for S0, S1, S2
    S = _at_risk(s, F)
    T = _block_sum(s, F * ef[..., None])
    frac = np.divide(rank, ties, out=np.zeros_like(rank), where=ties > 0)[..., None]
    phi = S - frac * T
    denom = 1.0 / phi[..., 0]
    u = phi[..., 1:1 + p] * denom[..., None]
    a1 = phi[..., 1 + p:].reshape(r, n, p, p) * denom[..., None, None]
    ue = u * ef[..., None]
    grad = (X * ef[..., None]).sum(axis=1) - ue.sum(axis=1)
    hess = np.einsum("rnp,rnq->rpq", ue, u) - (a1 * ef[..., None, None]).sum(axis=1)
    ll = (xb * ef).sum(axis=1) + (np.log(denom) * ef).sum(axis=1)
    return hess, grad, ll


class _StepSizer:
    """lifelines' ``utils.StepSizer`` for a stack of fits (its constants, one state per replicate)."""

    def __init__(self, r: int, step: float):
        self.initial = step
        self.step = np.full(r, step)
        self.temper = np.zeros(r, dtype=bool)
        self.history = np.full((r, 3), np.nan)
        self.count = np.zeros(r, dtype=np.int64)

    def update(self, norm: np.ndarray, active: np.ndarray) -> None:
        step = self.step.copy()
        step = np.where(self.temper, np.minimum(step * 1.3, self.initial), step)
        big, mid = norm >= 15.0, (norm < 15.0) & (norm > 5.0)
        step = np.where(big, step * 0.1, np.where(mid, step * 0.25, step))
        temper = self.temper | big | mid
        history = np.concatenate([self.history[:, 1:], norm[:, None]], axis=1)
        count = self.count + 1
        enough = count >= 3
        decreasing = np.all(np.diff(history, axis=1) < 0, axis=1)
        step = np.where(enough & ~decreasing, step * 0.98, step)
        step = np.where(enough & decreasing, np.minimum(step * 1.3, 1.0), step)
        self.step = np.where(active, step, self.step)
        self.temper = np.where(active, temper, self.temper)
        self.history = np.where(active[:, None], history, self.history)
        self.count = np.where(active, count, self.count)


def _solve(h: np.ndarray, g: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps ``(-h)^-1 g`` where ``-h`` is positive definite; (delta, failed)."""
    delta = np.zeros_like(g)
    failed = np.zeros(len(g), dtype=bool)
    idx = np.flatnonzero(active)
    if not len(idx):
        return delta, failed
    try:
        np.linalg.cholesky(-h[idx])
        delta[idx] = np.linalg.solve(-h[idx], g[idx][..., None])[..., 0]
    except np.linalg.LinAlgError:
        for i in idx:
            try:
                np.linalg.cholesky(-h[i:i + 1])
                delta[i] = np.linalg.solve(-h[i:i + 1], g[i:i + 1, :, None])[0, :, 0]  # as in the stack
            except np.linalg.LinAlgError:
                failed[i] = True
    failed |= active & ~np.isfinite(delta).all(axis=1)
    return delta, failed


def cox_replicates(s: SortedReplicates, arm_design: np.ndarray) -> CoxReplicates:
    """Cox proportional-hazards fits (Efron ties) of every replicate, as lifelines fits them.

    Parameters
    ----------
    s : SortedReplicates
    arm_design : ndarray (k arms, p terms)
        The covariates of a subject in each arm (:func:`factor_design`).

    Returns
    -------
    CoxReplicates
        ``coef``, ``se`` (R, p) and ``ok`` (R,): False where lifelines' result could differ from
        a plain converged fit — a 0/1 term whose events all fall on one side (monotone
        likelihood), no convergence, a singular Hessian, |coef| > 15 or se > 100 — with NaN
        ``coef`` and ``se`` there; the caller recomputes those replicates one by one.

    Notes
    -----
    lifelines' ``CoxPHFitter`` Newton–Raphson, replicate by replicate: covariates standardized
    (mean 0, SD 1 with ddof 1), beta from 0, ``beta += step * delta`` with lifelines' step-size
    rule (start 0.95), stop when ``|delta| < 1e-14`` or the Newton decrement ``g' delta / 2 < 1e-14``
    (``precision`` of :func:`trialkit.stats.survival.cox_model`), at most 100 steps; the estimate is
    the point where the last gradient was evaluated, and the variance ``-H^-1`` there, unscaled.

    Examples
    --------
    The example of :func:`trialkit.stats.survival.cox_model` (hazard ratio 0.4005):

    >>> sv = SurvivalReplicates(arm=np.array([[0, 0, 0, 0, 1, 1, 1, 1]]),
    ...                         time=np.array([[5., 8, 12, 3, 9, 15, 20, 7]]),
    ...                         event=np.array([[1, 1, 0, 1, 1, 0, 1, 1]], dtype=bool))
    >>> fit = cox_replicates(sort_replicates(sv), np.array([[0.0], [1.0]]))
    >>> round(float(np.exp(fit.coef[0, 0])), 4), fit.ok.tolist()
    (0.4005, [True])
    """
    A = np.asarray(arm_design, dtype=float)
    r, n = s.arm.shape
    p = A.shape[1]
    X = A[s.arm]
    e = s.event
    ok = np.ones(r, dtype=bool)
    for j in range(p):  # a 0/1 term with every event on one side: no finite estimate
        if set(np.unique(A[:, j])) <= {0.0, 1.0}:
            on = A[s.arm, j] == 1.0
            ok &= (e & on).any(axis=1) & (e & ~on).any(axis=1)
    mean = X.mean(axis=1)
    sd = X.std(axis=1, ddof=1)
    ok &= (sd > 0).all(axis=1)
    sd = np.where(sd > 0, sd, 1.0)
    Xn = (X - mean[:, None, :]) / sd[:, None, :]
    ef = e.astype(float)
    ties = _block_sum(s, ef)
    rank = (np.cumsum(ef, axis=1) - _take(np.concatenate([np.zeros((r, 1)), np.cumsum(ef, axis=1)], axis=1),
                                          s.start) - 1.0) * ef
    beta = np.zeros((r, p))
    delta = np.zeros((r, p))
    hess = np.zeros((r, p, p))
    active = ok.copy()
    success = np.zeros(r, dtype=bool)
    sizer = _StepSizer(r, NEWTON["step_size"])
    for i in range(1, NEWTON["max_steps"] + 1):
        if not active.any():
            break
        step = sizer.step
        beta = np.where(active[:, None], beta + step[:, None] * delta, beta)
        rows = np.flatnonzero(active)  # only the fits still running (each replicate's own arithmetic)
        h, g, ll = (np.zeros((r, p, p)), np.zeros((r, p)), np.zeros(r))
        h[rows], g[rows], ll[rows] = _efron(_subset(s, rows), Xn[rows], beta[rows], rank[rows], ties[rows])
        hess = np.where(active[:, None, None], h, hess)
        new_delta, failed = _solve(h, g, active)
        active &= ~failed
        delta = np.where(active[:, None], new_delta, delta)
        norm = np.sqrt((delta**2).sum(axis=1))
        decrement = (g * delta).sum(axis=1) / 2
        done = active & ((norm < NEWTON["precision"]) | (decrement < NEWTON["precision"]))
        stuck = active & ~done & ((i >= NEWTON["max_steps"]) | (step <= 1e-5) | ((np.abs(ll) < 1e-4) & (norm > 1.0)))
        success |= done
        active &= ~(done | stuck)
        sizer.update(norm, active)
    ok &= success
    with np.errstate(invalid="ignore", divide="ignore"):
        var = -np.linalg.inv(np.where(ok[:, None, None], hess, np.eye(p))) / (sd[:, :, None] * sd[:, None, :])
        se = np.sqrt(np.diagonal(var, axis1=1, axis2=2))
    coef = beta / sd
    ok &= (np.isfinite(coef) & np.isfinite(se) & (np.abs(coef) <= 15) & (se <= 100)).all(axis=1)
    return CoxReplicates(coef=np.where(ok[:, None], coef, np.nan), se=np.where(ok[:, None], se, np.nan), ok=ok)


# ------------------------------------------------------------------------------------------------
# the runner's rows
# ------------------------------------------------------------------------------------------------
BATCH_ANALYSES = ("logrank", "cox_main", "cox_interaction")


def batch_supported(spec: DesignSpec) -> bool:
    """Whether the batch engine can run ``spec``: survival analyses only (no ``"labs"``), the fast
    simulation path (``tables="auto"``, no validation), at least one subject in every arm.

    Examples
    --------
    >>> from trialkit.design.power import design_spec
    >>> batch_supported(design_spec("default")), batch_supported(design_spec("default", analyses=("labs",)))
    (True, False)
    >>> batch_supported(design_spec("default", n_subjects=3))  # an arm without subjects
    False
    """
    from trialkit.simulate import allocation

    if not set(spec.analyses) <= set(BATCH_ANALYSES) or spec.validate or spec.tables != "auto":
        return False
    sizes, _ = allocation.arm_sizes(spec.scenario, spec.study, spec.n_subjects)
    return min(sizes.values()) > 0 and len(spec.study.arm_ids) >= 2


def analyze_replicates(spec: DesignSpec, replicates: Sequence[int] | np.ndarray, seeds: Sequence[int] | np.ndarray,
                       sv: SurvivalReplicates | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows :func:`trialkit.design.power.run_replicate` gives, for many replicates at once.

    Parameters
    ----------
    spec : DesignSpec
        With :func:`batch_supported` true.
    replicates, seeds : sequence of int
        Replicate numbers and their simulation seeds.
    sv : SurvivalReplicates, optional
        The simulated data (default: :func:`simulate_replicates` of ``seeds``).

    Returns
    -------
    (DataFrame, ndarray of bool)
        The results (columns of :data:`trialkit.design.power.RESULT_COLUMNS`) of every replicate
        the batch could fit, in replicate order, and a mask of the replicates it could not (see
        :func:`cox_replicates`); :func:`trialkit.design.power.run_replicates` runs those through
        the per-trial path.

    Examples
    --------
    >>> from trialkit.design.power import design_spec, replicate_seeds, run_replicate
    >>> spec = design_spec("default", n_subjects=60, analyses=("logrank", "cox_main"))
    >>> seeds = replicate_seeds(1, 2)
    >>> res, redo = analyze_replicates(spec, [0, 1], seeds)
    >>> redo.tolist(), len(res)
    ([False, False], 12)
    >>> ref = run_replicate(spec, 1, seeds[1])
    >>> float(abs(res.loc[res["replicate"] == 1, "p_value"].to_numpy() - ref["p_value"].to_numpy()).max()) < 1e-12
    True
    """
    from trialkit.design.power import _cox_meta, _logrank_meta

    study, truth = spec.study, spec.truth
    replicates = np.asarray(replicates, dtype=np.int64)
    seeds = np.asarray(seeds, dtype=np.int64)
    sv = simulate_replicates(spec, seeds) if sv is None else sv
    s = sort_replicates(sv)
    r, n = sv.arm.shape
    events = sv.event.sum(axis=1)
    blocks = []  # (meta rows, column arrays (R, m))
    redo = np.zeros(r, dtype=bool)
    if "logrank" in spec.analyses:
        k = len(study.arm_ids)
        control = study.arm_ids.index(study.control_arm)
        lr = logrank_replicates(s, k, control)
        others = [a for a in study.arm_ids if a != study.control_arm]
        meta = [_logrank_meta(study, truth, "global", None)]
        meta += [_logrank_meta(study, truth, f"{g} vs {study.control_arm}", g) for g in others]
        stat = np.column_stack([lr["global"], lr["pairwise"]])
        df = np.array([k - 1] + [1] * len(others), dtype=float)
        blocks.append((meta, {"statistic": stat, "df": np.broadcast_to(df, stat.shape),
                              "p_value": stats.chi2.sf(stat, df),
                              "events": np.column_stack([events, lr["pair_events"]]),
                              "n": np.column_stack([np.full(r, n), lr["pair_n"]])}))
    z = stats.norm.ppf(1 - spec.alpha / 2)
    for name, inter in (("cox_main", False), ("cox_interaction", True)):
        if name not in spec.analyses:
            continue
        A, terms, labels = factor_design(study, interaction=inter)
        if inter and not any(":" in t for t in terms):
            continue  # no identifiable interaction: the same model as cox_main
        fit = cox_replicates(s, A)
        redo |= ~fit.ok
        coef, se = fit.coef, fit.se
        with np.errstate(over="ignore", invalid="ignore"):
            lo, hi, est = np.exp(coef - z * se), np.exp(coef + z * se), np.exp(coef)
        blocks.append(([_cox_meta(truth, name, t, labels[t]) for t in terms],
                       {"estimate": est, "ci_low": lo, "ci_high": hi, "coef": coef, "se": se,
                        "statistic": coef / se, "p_value": 2 * stats.norm.sf(np.abs(coef / se)),
                        "events": np.repeat(events[:, None], len(terms), axis=1),
                        "n": np.full((r, len(terms)), n)}))
    keep = ~redo
    meta = [row for b in blocks for row in b[0]]
    m = len(meta)
    numeric = ["estimate", "ci_low", "ci_high", "coef", "se", "statistic", "df", "p_value"]
    cols = {c: np.full((r, m), np.nan) for c in numeric}
    ints = {"events": np.zeros((r, m), dtype=np.int64), "n": np.zeros((r, m), dtype=np.int64)}
    j = 0
    for rows, arrays in blocks:
        w = len(rows)
        for c, a in arrays.items():
            (ints if c in ints else cols)[c][:, j:j + w] = a
        j += w
    kr = int(keep.sum())
    rep = lambda v: np.tile(np.asarray(v, dtype=object), kr)  # noqa: E731 - one meta column per row
    out = pd.DataFrame({
        "scenario": pd.array([spec.scenario.name] * (kr * m), dtype="str"),
        "n_subjects": np.full(kr * m, n, dtype=np.int64),
        "replicate": np.repeat(replicates[keep], m),
        "seed": np.repeat(seeds[keep], m),
        "analysis": pd.array(rep([x["analysis"] for x in meta]), dtype="str"),
        "term": pd.array(rep([x["term"] for x in meta]), dtype="str"),
        "label": pd.array(rep([x["label"] for x in meta]), dtype="str"),
        **{c: cols[c][keep].ravel() for c in numeric[:6]},
        "df": cols["df"][keep].ravel(),
        "p_value": cols["p_value"][keep].ravel(),
        "truth": np.tile([x.get("truth", math.nan) for x in meta], kr).astype(float),
        "truth_coef": np.tile([x.get("truth_coef", math.nan) for x in meta], kr).astype(float),
        "null_true": pd.Series(rep([x["null_true"] for x in meta]), dtype=object),
        "scale": pd.array(rep([x["scale"] for x in meta]), dtype="str"),
        "events": ints["events"][keep].ravel(),
        "n": ints["n"][keep].ravel(),
    })
    return out, redo
