"""Design simulation for a real dataset: the study's own arms and sample sizes, the control arm's
observed survival (exponential fit) and the observed follow-up, under a range of hazard ratios.

The scenario simulator (:mod:`trialkit.simulate`) models the default trial's disease; a real trial of
another disease has no scenario. This module answers the design question for it with the least
that the data support, and says so: survival in every arm is exponential with the control arm's
observed rate times the assumed hazard ratio; follow-up ends at a time drawn from the observed
follow-up of the subjects who had no event (censoring as in the trial), and at the primary horizon.
Each simulated trial is analysed with the efficacy notebook's log-rank test
(:func:`trialkit.stats.survival.logrank`). Hand-written because no library simulates power for a
k-arm log-rank comparison with an empirical censoring distribution.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.derive.tte import time_to_event
from trialkit.stats.categorical import wilson_interval
from trialkit.stats.survival import logrank

if TYPE_CHECKING:
    from trialkit.data.trial import Trial

__all__ = ["ObservedScenario", "observed_scenario", "observed_power"]


@dataclass(frozen=True)
class ObservedScenario:
    """A survival-only scenario built from a dataset's control arm."""

    arm_sizes: dict[str, int]
    control: str
    control_rate: float        # events per day in the control arm (exponential fit)
    control_events: int
    follow_up: np.ndarray      # observed follow-up (days) of subjects without the event
    horizon: float
    endpoint: str

    @property
    def control_median(self) -> float:
        """Median survival of the fitted exponential, in days."""
        return float(np.log(2) / self.control_rate) if self.control_rate > 0 else float("inf")

    def describe(self) -> str:
        """One sentence stating what the scenario is and where it comes from."""
        sizes = ", ".join(f"{a} {n}" for a, n in self.arm_sizes.items())
        return (f"Scenario built from the observed data (no scenario was given): {self.endpoint} in every arm is "
                f"exponential with the control arm's fitted rate ({self.control_events} events; median "
                f"{self.control_median:.0f} days) times the assumed hazard ratio; follow-up as observed, to day "
                f"{self.horizon:g}; arms and sizes as randomized ({sizes}).")


def observed_scenario(trial: Trial, endpoint: str = "primary") -> ObservedScenario:
    """Fit the control arm's exponential event rate and collect the observed follow-up.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> sc = observed_scenario(example())
    >>> sc.arm_sizes, sc.control, sc.control_events
    ({'control': 30, 'msc': 30, 'pe': 30, 'pe_msc': 30}, 'control', 15)
    >>> round(sc.control_median)
    267
    """
    study = trial.study
    tte = time_to_event(trial, endpoint=endpoint, horizon="primary")
    ctrl = tte[tte["arm"] == study.control_arm]
    events = int(ctrl["event"].sum())
    rate = events / float(ctrl["time"].sum()) if len(ctrl) else float("nan")
    sizes = {a: int((tte["arm"] == a).sum()) for a in study.arm_ids}
    name = study.endpoints[endpoint].name if endpoint in study.endpoints else endpoint
    return ObservedScenario(arm_sizes=sizes, control=study.control_arm, control_rate=rate, control_events=events,
                            follow_up=tte.loc[tte["event"] == 0, "time"].to_numpy(dtype=float),
                            horizon=float(study.horizons["primary"]), endpoint=name)


def _simulate(sc: ObservedScenario, hr: float, rng: np.random.Generator) -> pd.DataFrame:
    arms = np.repeat(list(sc.arm_sizes), list(sc.arm_sizes.values()))
    rate = np.where(arms == sc.control, sc.control_rate, sc.control_rate * hr)
    t = rng.exponential(1.0 / rate)
    fu = rng.choice(sc.follow_up, size=len(arms)) if len(sc.follow_up) else np.full(len(arms), sc.horizon)
    end = np.minimum(fu, sc.horizon)
    return pd.DataFrame({"arm": arms, "time": np.minimum(t, end), "event": (t <= end).astype(int)})


def observed_power(sc: ObservedScenario, hrs: Iterable[float], *, n_trials: int = 200, alpha: float = 0.05,
                   seed: int = 0) -> pd.DataFrame:
    """Power of the log-rank tests (global and each arm vs control) when every active arm has hazard
    ratio ``hr`` against control, for each ``hr`` in ``hrs``; ``hr = 1`` rows are type I error rates.

    Returns
    -------
    DataFrame
        ``hr``, ``comparison``, ``kind`` (``power`` or ``type I error``), ``mean_events``,
        ``estimate`` (share of trials with p < alpha), ``ci_low``, ``ci_high`` (Wilson), ``n_trials``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> sc = observed_scenario(example())
    >>> pw = observed_power(sc, [0.5, 1.0], n_trials=20, seed=1)
    >>> pw[pw["comparison"] == "global"][["hr", "kind", "estimate", "n_trials"]]
        hr          kind  estimate  n_trials
    0  0.5         power      0.50        20
    4  1.0  type I error      0.05        20
    """
    rows = []
    for hr in hrs:
        rng = np.random.default_rng([seed, int(round(float(hr) * 1000))])
        hits: dict[str, list] = {}
        events = []
        for _ in range(n_trials):
            d = _simulate(sc, float(hr), rng)
            events.append(int(d["event"].sum()))
            lr = logrank(d, groups=list(sc.arm_sizes), control=sc.control)
            for comp, p in zip(lr["comparison"], lr["p_value"]):
                hits.setdefault(comp, []).append(bool(p < alpha))
        for comp, h in hits.items():
            k = int(np.sum(h))
            lo, hi = wilson_interval(k, len(h), alpha=alpha)
            rows.append({"hr": float(hr), "comparison": comp, "kind": "type I error" if hr == 1 else "power",
                         "mean_events": float(np.mean(events)), "estimate": k / len(h),
                         "ci_low": float(lo), "ci_high": float(hi), "n_trials": len(h)})
    return pd.DataFrame(rows, columns=["hr", "comparison", "kind", "mean_events", "estimate", "ci_low", "ci_high",
                                       "n_trials"])
