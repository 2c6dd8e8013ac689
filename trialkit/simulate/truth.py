"""The ground truth of a simulated trial, as a JSON-serialisable dict (written as ``truth.json``).

Everything an analysis of the simulated data should recover is stated here together with its exact
definition, so a test (or a sceptical reader) can compare an estimate with the truth:

- ``hazard_ratios``: transplant-free survival (death or LT) hazard ratios per factor and
  interaction term, and per arm versus the control arm. Marginal proportional hazards hold exactly,
  so an *unadjusted* Cox model ``~ msc + pe + msc:pe`` estimates ``log_hazard_ratios``.
- ``survival``: each arm's true transplant-free survival at days 28, 84 and the horizons.
- ``labs``: per lab, the difference in mean change from baseline (analysis scale) at the secondary
  horizon among survivors (no death or LT during follow-up), adjusted for the baseline value.
- ``th1_th2``: the same for ``log(TH1 / TH2)``.
- ``symptoms``: latent shifts, the implied cumulative-probit coefficients and true mean scores.
- ``adverse_events`` / ``reactions`` / ``event_rates``: the rates that drive the safety tables.
"""
from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from trialkit.simulate.course import UNITS, output_parameters
from trialkit.simulate.effects import arm_hazard_ratio, ignored_effects
from trialkit.simulate.events import PiecewiseSurvival
from trialkit.simulate.scenario import Effect, Scenario
from trialkit.study import Study, normalize_unit

__all__ = ["build_truth", "jsonable"]


def jsonable(x: Any, digits: int = 12) -> Any:
    """Plain JSON types with floats rounded to ``digits`` significant digits (stable output).

    Examples
    --------
    >>> jsonable({"hr": np.float64(0.6), "n": np.int64(3), "ok": np.bool_(True), "x": float("nan"),
    ...           "third": 1 / 3, 2: (1, 2)})
    {'hr': 0.6, 'n': 3, 'ok': True, 'x': None, 'third': 0.333333333333, '2': [1, 2]}
    >>> jsonable(0.6 * 0.8), jsonable(1 / 3, digits=3)
    (0.48, 0.333)
    """
    if isinstance(x, dict):
        return {str(k): jsonable(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v, digits) for v in x]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        if not math.isfinite(v):
            return None
        return float(f"{v:.{digits}g}") + 0.0
    return x


def _terms(sc: Scenario, study: Study) -> dict[str, Effect]:
    """Every factor, then every interaction term some arm has (named in the study's factor order)."""
    terms = {f: sc.factor_effect(f) for f in study.factors}
    given = {frozenset(parts): eff for parts, eff in sc.interactions.items()}
    names = list(study.factors)
    for k in range(2, len(names) + 1):
        for combo in itertools.combinations(names, k):
            if any(all(a.factors.get(f, False) for f in combo) for a in study.arms):
                terms["*".join(combo)] = given.get(frozenset(combo), Effect())
    return terms


def build_truth(sc: Scenario, study: Study, seed: int, sizes: dict[str, int], ratio: dict[str, int],
                active: dict[str, list], screened: int, block_size: int | None = None,
                allocation_note: str | None = None) -> dict:
    """The truth dict for one simulated trial (see the module docstring for each key).

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> from trialkit.simulate.allocation import arm_sizes
    >>> from trialkit.simulate.effects import arm_effects
    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc, study = load_scenario("default"), load_study()
    >>> sizes, ratio = arm_sizes(sc, study)
    >>> truth = jsonable(build_truth(sc, study, 1, sizes, ratio, arm_effects(sc, study), screened=250))
    >>> truth["n_subjects"], truth["arm_sizes"]
    (120, {'control': 30, 'msc': 30, 'pe': 30, 'pe_msc': 30})
    >>> truth["hazard_ratios"]
    {'terms': {'msc': 0.6, 'pe': 0.8, 'msc*pe': 1.0}, 'arms_vs_control': {'control': 1.0, 'msc': 0.6, 'pe': 0.8,
     'pe_msc': 0.48}}
    >>> {arm: round(s["primary"], 3) for arm, s in truth["survival"].items()}  # transplant-free at day 336
    {'control': 0.515, 'msc': 0.672, 'pe': 0.588, 'pe_msc': 0.727}
    >>> truth["th1_th2"]["effects"]  # on log(TH1/TH2) at the secondary horizon
    {'msc': -0.3, 'pe': 0.0, 'msc*pe': 0.0}
    """
    curve = PiecewiseSurvival(sc.survival["control"])
    primary = int(study.horizons["primary"])
    secondary = int(study.horizons.get("secondary", primary))
    terms = _terms(sc, study)
    hr_arm = {a: arm_hazard_ratio(active[a]) for a in study.arm_ids}
    ctrl = hr_arm[study.control_arm]
    days = {"day_28": 28, "day_84": 84, "secondary": secondary, "primary": primary}

    params, skipped, conv = output_parameters(study)
    unit_of = {p: study.parameters[p].unit for p in params}
    labs: dict[str, dict[str, Any]] = {}
    for lab, spec in sc.course.items():
        if lab not in params:
            continue
        factor = 1.0 if spec["log"] else UNITS[lab][normalize_unit(unit_of[lab])][0]
        eff = {name: float(e.labs[lab].at(secondary)) * factor if lab in e.labs else 0.0 for name, e in terms.items()}
        labs[lab] = {
            "scale": "natural log" if spec["log"] else f"{unit_of[lab]}",
            "effects": eff,
            "arm_vs_control": {a: _arm_sum(eff, active[a]) - _arm_sum(eff, active[study.control_arm])
                               for a in study.arm_ids},
        }
    th = {}
    if "TH1" in labs and "TH2" in labs:
        th = {"scale": "natural log of the TH1/TH2 ratio",
              "estimand": "difference in mean change from baseline of log(TH1/TH2) at the secondary horizon "
                          "among survivors, adjusted for the baseline log ratio (as for labs)",
              "effects": {n: labs["TH1"]["effects"][n] - labs["TH2"]["effects"][n] for n in terms}}

    return {
        "scenario": sc.name,
        "scenario_file": Path(sc.source).name,
        "description": sc.description,
        "seed": int(seed),
        "study_id": study.id,
        "study_file": Path(study.path).name if study.path else None,
        "n_subjects": int(sum(sizes.values())),
        "arm_sizes": dict(sizes),
        "allocation_ratio": dict(ratio),
        "block_size": int(block_size or sc.block_size),
        "allocation_note": allocation_note,
        "screened_candidates": int(screened),
        "horizons": {"primary": primary, "secondary": secondary},
        "primary_endpoint": {
            "name": "transplant-free survival",
            "event": "death or liver transplantation, whichever comes first (events rows 'death'/'transplant')",
            "time": "study day of the event, or of the last contact (censored)",
            "effect_scale": "hazard ratio; marginal proportional hazards hold exactly: "
                            "S_arm(t) = S_control(t) ** HR_arm. An unadjusted Cox model on the factor indicators "
                            "and their product recovers log_hazard_ratios; covariate-adjusted (conditional) hazard "
                            "ratios differ.",
            "horizon_days": primary,
        },
        "hazard_ratios": {
            "terms": {n: e.hr for n, e in terms.items()},
            "arms_vs_control": {a: hr_arm[a] / ctrl for a in study.arm_ids},
        },
        "log_hazard_ratios": {n: math.log(e.hr) for n, e in terms.items()},
        "survival": {a: {k: float(curve.survival(d, hr_arm[a])) for k, d in days.items()} for a in study.arm_ids},
        "latent_severity": {
            "definition": "s = sum(coefficient * recorded baseline value) (MELD unrounded); z = Phi^-1(F(s)), "
                          "F = CDF of s among eligible patients, so z ~ N(0, 1) (higher = sicker); "
                          "U = Phi(rho z + sqrt(1 - rho^2) eps); T = S_arm^-1(U)",
            "coefficients": dict(sc.severity),
            "copula_rho": sc.survival["copula_rho"],
            "oracle_risk": "P(T <= t | z, arm) = Phi((rho z - Phi^-1(S_arm(t))) / sqrt(1 - rho^2)); latent columns "
                           "risk_day84, risk_secondary, risk_primary",
        },
        "event_rates": {
            "transplant_fraction_of_events": sc.survival["transplant_fraction"],
            "loss_to_follow_up_by_day_336": sc.survival["loss_to_follow_up"],
            "hcc_per_person_year": sc.hcc["rate_per_year"],
            "death_causes": dict(sc.survival["death_causes"]),
            "terminal_window_days": sc.survival["terminal_window_days"],
        },
        "labs": {
            "estimand": "difference in mean change from baseline at the secondary horizon among survivors "
                        "(patients with no death or transplant during follow-up), adjusted for the baseline value "
                        "(ANCOVA / MMRM with baseline; the course is linear in the baseline), between arms that "
                        "differ only in that term; analysis scale = natural log for log-normal labs, else the "
                        "study unit. An arm's effect is the sum of its factors' and interaction terms' effects. "
                        "Patients alive at the visit who die later deteriorate over their last "
                        "terminal_window_days, so a 'while alive at the visit' analysis differs slightly",
            "parameters": labs,
        },
        "th1_th2": th,
        "symptoms": _symptom_truth(sc, study, terms, active, secondary),
        "adverse_events": {
            "risk_ratios": {n: dict(e.adverse_events) for n, e in terms.items()},
            "baseline_probability": {g: s["probability"] for g, s in sc.adverse_events["groups"].items()},
        },
        "reactions_per_dose": {f: dict(sc.reactions.get(f, {})) for f in study.factors},
        "missed_dose_probability": sc.dosing["miss_probability"],
        "ignored_effects": ignored_effects(sc, study),
        "unsimulated_parameters": skipped,
        "inclusion": {k: list(v) if isinstance(v, tuple) else v for k, v in sc.inclusion.items()},
    }


def _canon(name: str, terms: dict) -> str:
    """An active term's name as in ``terms`` (interaction factors may be written in another order)."""
    if name in terms:
        return name
    parts = frozenset(name.split("*"))
    return next(t for t in terms if frozenset(t.split("*")) == parts)


def _arm_sum(values: dict[str, float], active: list) -> float:
    return float(sum(values[_canon(n, values)] for n, _ in active))


def _symptom_truth(sc: Scenario, study: Study, terms: dict[str, Effect], active: dict, t: int) -> dict:
    spec = sc.symptoms
    path = np.interp(t, list(spec["path"]), list(spec["path"].values()))
    phi = np.interp(t, list(spec["persistence"]), list(spec["persistence"].values()))
    sd = math.sqrt(phi**2 + (spec["sd_subject"] * min(1.0, t / 28.0)) ** 2 + spec["sd_visit"] ** 2)
    th = np.array(spec["thresholds"])
    out: dict[str, Any] = {"definition": "latent L = path + persistence * L0 + shift + noise, score = # thresholds below L; at the "
                         "secondary horizon L ~ N(mean_arm, sd) among survivors (L0 is independent of survival), so a "
                         "cumulative-probit model of score on the factors has coefficients shift / sd",
           "sd_at_secondary": sd, "symptoms": {}}
    for s in study.symptoms:
        mu0 = spec["baseline_mean"].get(s, spec["baseline_mean"]["*"])
        shift = {n: e.symptom_shift(s) * min(1.0, t / e.symptom_onset_days if e.symptom_onset_days else 1.0)
                 for n, e in terms.items()}
        mean_arm = {a: path + phi * mu0 + _arm_sum(shift, active[a]) for a in study.arm_ids}
        out["symptoms"][s] = {
            "latent_shift": shift,
            "probit_coefficient": {n: v / sd for n, v in shift.items()},
            "mean_score_at_secondary": {a: float(special.ndtr((m - th) / sd).sum()) for a, m in mean_arm.items()},
        }
    return out
