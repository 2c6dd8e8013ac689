"""Which true effects apply to which arm: an arm's treatment is its factor levels in the study file.

An arm gets the effect of every factor it sets to ``true`` and of every interaction term whose
factors it all sets to ``true``. Effects of factors the study does not declare are ignored (so the
default scenario drives a two-arm ``control`` vs ``msc`` study unchanged); factors the scenario
does not mention have null effects.

Examples
--------
>>> from trialkit.study import load_study
>>> from trialkit.simulate.scenario import load_scenario
>>> eff = arm_effects(load_scenario("default"), load_study())
>>> [name for name, _ in eff["pe_msc"]], round(arm_hazard_ratio(eff["pe_msc"]), 3)
(['msc', 'pe', 'msc*pe'], 0.48)
"""
from __future__ import annotations

import numpy as np

from trialkit.simulate.scenario import Effect, Scenario
from trialkit.study import Study

__all__ = ["arm_effects", "arm_hazard_ratio", "ignored_effects", "lab_effect", "symptom_effect"]


def arm_effects(sc: Scenario, study: Study) -> dict[str, list[tuple[str, Effect]]]:
    """Per arm id: the (name, Effect) pairs that apply, factors first, then interaction terms."""
    out: dict[str, list[tuple[str, Effect]]] = {}
    for arm in study.arms:
        active = [(f, sc.factor_effect(f)) for f in study.factors if arm.factors.get(f, False)]
        for parts, eff in sc.interactions.items():
            if all(p in study.factors and arm.factors.get(p, False) for p in parts):
                active.append(("*".join(parts), eff))
        out[arm.id] = active
    return out


def ignored_effects(sc: Scenario, study: Study) -> list[str]:
    """Scenario effects that name factors the study does not have."""
    names = [f for f in sc.effects if f not in study.factors]
    names += ["*".join(p) for p in sc.interactions if not all(x in study.factors for x in p)]
    return names


def arm_hazard_ratio(active: list[tuple[str, Effect]]) -> float:
    """Hazard ratio of an arm versus an arm with no active factor (product of the terms)."""
    return float(np.prod([e.hr for _, e in active])) if active else 1.0


def lab_effect(active: list[tuple[str, Effect]], lab: str, t: np.ndarray) -> np.ndarray:
    """The arm's total effect on ``lab`` (analysis scale) at study days ``t``."""
    out = np.zeros(np.shape(t))
    for _, e in active:
        if lab in e.labs:
            out = out + e.labs[lab].at(t)
    return out


def symptom_effect(active: list[tuple[str, Effect]], symptom: str, t: np.ndarray) -> np.ndarray:
    """The arm's total latent shift for ``symptom`` at study days ``t`` (ramping in by the onset)."""
    out = np.zeros(np.shape(t))
    t = np.asarray(t, dtype=float)
    for _, e in active:
        shift = e.symptom_shift(symptom)
        if shift:
            ramp = np.clip(t / e.symptom_onset_days, 0, 1) if e.symptom_onset_days > 0 else (t > 0) * 1.0
            out = out + shift * ramp
    return out
