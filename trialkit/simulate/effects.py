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
    """Per arm id: the (name, Effect) pairs that apply, factors first, then interaction terms.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> from trialkit.simulate.scenario import load_scenario
    >>> eff = arm_effects(load_scenario("default"), load_study())
    >>> {arm: [name for name, _ in pairs] for arm, pairs in eff.items()}
    {'control': [], 'msc': ['msc'], 'pe': ['pe'], 'pe_msc': ['msc', 'pe', 'msc*pe']}
    >>> eff["msc"][0][1].hr
    0.6
    """
    out: dict[str, list[tuple[str, Effect]]] = {}
    for arm in study.arms:
        active = [(f, sc.factor_effect(f)) for f in study.factors if arm.factors.get(f, False)]
        for parts, eff in sc.interactions.items():
            if all(p in study.factors and arm.factors.get(p, False) for p in parts):
                active.append(("*".join(parts), eff))
        out[arm.id] = active
    return out


def ignored_effects(sc: Scenario, study: Study) -> list[str]:
    """Scenario effects that name factors the study does not have.

    Examples
    --------
    >>> from trialkit.study import load_study, params_dir
    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc = load_scenario("default")
    >>> ignored_effects(sc, load_study())
    []
    >>> ignored_effects(sc, load_study(params_dir() / "study_two_arm.yaml"))  # a study without plasma exchange
    ['pe', 'msc*pe']
    """
    names = [f for f in sc.effects if f not in study.factors]
    names += ["*".join(p) for p in sc.interactions if not all(x in study.factors for x in p)]
    return names


def arm_hazard_ratio(active: list[tuple[str, Effect]]) -> float:
    """Hazard ratio of an arm versus an arm with no active factor (product of the terms).

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> from trialkit.simulate.scenario import load_scenario
    >>> eff = arm_effects(load_scenario("default"), load_study())
    >>> {arm: round(arm_hazard_ratio(pairs), 3) for arm, pairs in eff.items()}
    {'control': 1.0, 'msc': 0.6, 'pe': 0.8, 'pe_msc': 0.48}
    """
    return float(np.prod([e.hr for _, e in active])) if active else 1.0


def lab_effect(active: list[tuple[str, Effect]], lab: str, t: np.ndarray) -> np.ndarray:
    """The arm's total effect on ``lab`` (analysis scale) at study days ``t``.

    Examples
    --------
    Log bilirubin: UC-MSC shifts it by -0.15 over 28 days; plasma exchange removes bilirubin at
    once (-0.35), an effect that halves every 7 days; the combination adds both.

    >>> from trialkit.study import load_study
    >>> from trialkit.simulate.scenario import load_scenario
    >>> eff = arm_effects(load_scenario("default"), load_study())
    >>> t = np.array([0, 1, 3, 10, 28])
    >>> for arm in ("control", "msc", "pe", "pe_msc"):
    ...     print(arm, lab_effect(eff[arm], "TBIL", t).round(3).tolist())
    control [0.0, 0.0, 0.0, 0.0, 0.0]
    msc [0.0, -0.005, -0.016, -0.054, -0.15]
    pe [0.0, -0.317, -0.26, -0.13, -0.022]
    pe_msc [0.0, -0.322, -0.276, -0.184, -0.172]
    """
    out = np.zeros(np.shape(t))
    for _, e in active:
        if lab in e.labs:
            out = out + e.labs[lab].at(t)
    return out


def symptom_effect(active: list[tuple[str, Effect]], symptom: str, t: np.ndarray) -> np.ndarray:
    """The arm's total latent shift for ``symptom`` at study days ``t`` (ramping in by the onset).

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> from trialkit.simulate.scenario import load_scenario
    >>> eff = arm_effects(load_scenario("default"), load_study())
    >>> t = np.array([0, 7, 14, 28, 84])
    >>> symptom_effect(eff["msc"], "fatigue", t).round(3).tolist()
    [0.0, -0.075, -0.15, -0.3, -0.3]
    >>> symptom_effect(eff["pe_msc"], "fatigue", t).round(3).tolist()
    [0.0, -0.1, -0.2, -0.4, -0.4]
    """
    out = np.zeros(np.shape(t))
    t = np.asarray(t, dtype=float)
    for _, e in active:
        shift = e.symptom_shift(symptom)
        if shift:
            ramp = np.clip(t / e.symptom_onset_days, 0, 1) if e.symptom_onset_days > 0 else (t > 0) * 1.0
            out = out + shift * ramp
    return out
