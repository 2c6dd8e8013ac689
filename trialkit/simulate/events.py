"""Event times: transplant-free survival through a Gaussian copula, follow-up, HCC.

The primary event is death or liver transplantation (LT), whichever comes first. Arm ``a`` has
marginal transplant-free survival ``S_a(t) = S_0(t) ** HR_a`` where ``S_0`` is the control curve of
the scenario (piecewise-exponential between the stated days) and ``HR_a`` the product of the arm's
factor and interaction hazard ratios. Each subject's event time is ``T = S_a^-1(U)`` with

    U = Phi(W),   W = rho * z + sqrt(1 - rho^2) * eps,   eps ~ N(0, 1) independent,

``z`` the standardized latent severity (N(0, 1) among eligible patients, see ``cohort``). W is
N(0, 1), so U is uniform and marginal proportional hazards hold *exactly* between arms, while sicker
patients (high z, so U near 1 = S_a(T) near 1) die sooner. The oracle risk of the event by day t is
closed-form:

    P(T <= t | z, arm) = P(U >= S_a(t) | z) = Phi((rho * z - Phi^-1(S_a(t))) / sqrt(1 - rho^2)).

(Writing U = Phi(-W) instead would make severity protective; the sign matters.)

An event is LT with probability ``transplant_fraction``, independent of everything else, and
otherwise death. Follow-up ends at the subject's last scheduled visit (administrative end) or at an
independent loss to follow-up (constant hazard), whichever is first; an event after that is not
observed. Event days are ``floor(T) + 1`` (the day count on which the event happened, >= 1).
HCC occurs at a constant rate among subjects alive and followed, and does not end follow-up.

Examples
--------
>>> curve = PiecewiseSurvival({84: 0.6, 336: 0.5})
>>> round(float(curve.survival(84)), 6), round(float(curve.survival(84, hr=0.5)), 6)
(0.6, 0.774597)
>>> round(float(curve.inverse(curve.cumhaz(200.0))), 6)
200.0
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import special

from trialkit.simulate.scenario import Scenario
from trialkit.study import DAY_LENGTHS

__all__ = ["PiecewiseSurvival", "event_times", "oracle_risk", "follow_up", "FollowUp"]


class PiecewiseSurvival:
    """A survival curve through the points ``{day: S(day)}``: constant hazard between them and after."""

    def __init__(self, points: dict[int, float]) -> None:
        days = np.array([0.0, *points.keys()], dtype=float)
        surv = np.array([1.0, *points.values()], dtype=float)
        self.days = days
        self.cum = -np.log(surv)
        self.tail_rate = (self.cum[-1] - self.cum[-2]) / (days[-1] - days[-2])

    def cumhaz(self, t: npt.ArrayLike) -> np.ndarray:
        days = np.maximum(np.asarray(t, dtype=float), 0.0)
        inside = np.interp(days, self.days, self.cum)
        return np.where(days > self.days[-1], self.cum[-1] + (days - self.days[-1]) * self.tail_rate, inside)

    def inverse(self, h: npt.ArrayLike) -> np.ndarray:
        """The time at which the cumulative hazard reaches ``h``."""
        cum = np.asarray(h, dtype=float)
        inside = np.interp(cum, self.cum, self.days)
        return np.where(cum > self.cum[-1], self.days[-1] + (cum - self.cum[-1]) / self.tail_rate, inside)

    def survival(self, t: npt.ArrayLike, hr: npt.ArrayLike = 1.0) -> np.ndarray:
        return np.exp(-np.asarray(hr, dtype=float) * self.cumhaz(t))


def event_times(rng: np.random.Generator, z: np.ndarray, hr: np.ndarray, curve: PiecewiseSurvival,
                rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, eps, U): latent event times (days, continuous), copula noise and the uniform U.

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc = load_scenario("default")
    >>> curve, rho = PiecewiseSurvival(sc.survival["control"]), sc.survival["copula_rho"]
    >>> T, eps, u = event_times(np.random.default_rng(1), np.array([-1.0, 0.0, 1.0]), np.ones(3), curve, rho)
    >>> T.round(1).tolist()  # days; a higher z (sicker) tends to mean an earlier event
    [1293.7, 39.1, 25.3]
    >>> u.round(3).tolist()
    [0.373, 0.745, 0.806]

    Marginally, an arm with hazard ratio 0.6 has 1 - S_0(84) ** 0.6 = 0.249 events by day 84:

    >>> rng = np.random.default_rng(1)
    >>> T, _, _ = event_times(rng, rng.standard_normal(20_000), np.full(20_000, 0.6), curve, rho)
    >>> round(float((T <= 84).mean()), 2)
    0.25
    """
    eps = rng.standard_normal(len(z))
    w = rho * z + np.sqrt(1.0 - rho**2) * eps
    neg_log_u = -special.log_ndtr(w)  # -log U, accurate in both tails
    return curve.inverse(neg_log_u / hr), eps, np.exp(-neg_log_u)


def oracle_risk(t: float, z: np.ndarray, hr: np.ndarray, curve: PiecewiseSurvival, rho: float) -> np.ndarray:
    """P(T <= t | z, arm): the true individual risk of death or LT by day ``t``.

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc = load_scenario("default")
    >>> curve, rho = PiecewiseSurvival(sc.survival["control"]), sc.survival["copula_rho"]
    >>> z = np.array([-1.0, 0.0, 1.0])
    >>> oracle_risk(84, z, np.ones(3), curve, rho).round(3).tolist()  # control arm
    [0.129, 0.351, 0.644]
    >>> oracle_risk(84, z, np.full(3, 0.6), curve, rho).round(3).tolist()  # hazard ratio 0.6
    [0.055, 0.199, 0.462]

    Without dependence on severity (``rho = 0``) everyone has the marginal risk 1 - S_0(84):

    >>> oracle_risk(84, z, np.ones(3), curve, 0.0).round(3).tolist(), round(1 - float(curve.survival(84)), 3)
    ([0.38, 0.38, 0.38], 0.38)
    """
    s = np.clip(curve.survival(t, hr), 1e-300, 1 - 1e-16)
    return special.ndtr((rho * np.asarray(z) - special.ndtri(s)) / np.sqrt(1.0 - rho**2))


@dataclass(frozen=True)
class FollowUp:
    """Per-subject follow-up (arrays of length n)."""

    event_day: np.ndarray      # floor(T) + 1
    observed: np.ndarray       # the event (death or LT) is observed
    transplant: np.ndarray     # an observed event is LT (else death)
    last_day: np.ndarray       # last_contact: event day, or last day known alive
    end_day: np.ndarray        # planned administrative end (the last visit's day)
    censor_day: np.ndarray     # min(end, loss to follow-up)
    reason: np.ndarray         # object: died, transplanted, completed, withdrew, lost
    cause: np.ndarray          # object: cause of death (meaningful for deaths)
    hcc_day: np.ndarray        # float day of HCC diagnosis, NaN when none observed
    hcc_time: np.ndarray       # latent HCC time (days)


def follow_up(rng: np.random.Generator, T: np.ndarray, end_day: np.ndarray, sc: Scenario) -> FollowUp:
    """Censoring, event type, cause of death and HCC for latent event times ``T``.

    Examples
    --------
    Four subjects followed to day 336; two have their event within follow-up.

    >>> from trialkit.simulate.scenario import load_scenario
    >>> T = np.array([30.2, 400.0, 1000.0, 20.5])
    >>> fu = follow_up(np.random.default_rng(1), T, np.full(4, 336), load_scenario("default"))
    >>> fu.event_day.tolist(), fu.observed.tolist()
    ([31, 401, 1001, 21], [True, False, False, True])
    >>> fu.last_day.tolist(), fu.reason.tolist()
    ([31, 336, 336, 21], ['transplanted', 'completed', 'completed', 'died'])
    >>> fu.cause[3], fu.hcc_day.tolist()
    ('hepatic failure', [nan, nan, nan, nan])
    """
    n = len(T)
    sv = sc.survival
    rate = -np.log1p(-sv["loss_to_follow_up"]) / 336.0
    lost = np.floor(rng.exponential(1.0 / rate, n)) + 1 if rate > 0 else np.full(n, np.inf)
    withdrew = rng.random(n) < sv["withdrew_fraction"]
    transplant = rng.random(n) < sv["transplant_fraction"]
    causes = list(sv["death_causes"])
    cause = np.array(causes, dtype=object)[rng.choice(len(causes), n, p=list(sv["death_causes"].values()))]
    hcc_rate = sc.hcc["rate_per_year"] / DAY_LENGTHS["year"]
    hcc_time = rng.exponential(1.0 / hcc_rate, n) if hcc_rate > 0 else np.full(n, np.inf)

    end = end_day.astype(np.int64)
    censor = np.minimum(end, lost).astype(np.int64)
    event_day = np.floor(np.minimum(T, 1e9)).astype(np.int64) + 1
    observed = event_day <= censor
    transplant = transplant & observed
    last = np.where(observed, event_day, censor)
    reason = np.where(observed, np.where(transplant, "transplanted", "died"),
                      np.where(lost < end, np.where(withdrew, "withdrew", "lost"), "completed")).astype(object)
    hcc_day = np.floor(np.minimum(hcc_time, 1e9)) + 1
    hcc_seen = (hcc_day <= last) & ~(observed & (hcc_day >= event_day))
    return FollowUp(event_day=event_day, observed=observed, transplant=transplant, last_day=last,
                    end_day=end, censor_day=censor, reason=reason, cause=cause,
                    hcc_day=np.where(hcc_seen, hcc_day, np.nan), hcc_time=hcc_time)
