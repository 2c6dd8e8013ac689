"""Lab, clinical-grade and symptom courses over the visit schedule, conditional on the event time.

For each lab, on its analysis scale (log for log-normal labs, else the unit), at study day ``t``:

    recovery(t) = path(t) + (persistence(t) - 1) (y0 - center) + effect_arm(t)
    y(t) = y0 + (1 - r(t)) recovery(t) + r(t) terminal + b min(1, t/28) + e,
    r(t) = clip(1 - (T - t) / min(W, T), 0, 1)^2,

with ``y0`` the recorded baseline, ``b`` ~ N(0, sd_subject) and ``e`` ~ N(0, sd_visit) independent of
everything else, ``T`` the latent event time (death or LT) and ``W`` the terminal window.
Survivors recover along ``path``; a patient heading for death or LT leaves the recovery course over
the last ``W`` days (over the whole follow-up if ``T < W``) and reaches ``baseline + terminal`` at
the event (rising bilirubin, INR and creatinine, falling sodium and albumin). ``r`` is zero at
baseline and whenever ``T - t >= W``, so for *survivors* (no observed event; their ``T`` lies beyond
the last contact) every value up to the secondary horizon follows the recovery course: the mean
change from baseline is linear in the baseline and shifted by exactly the stated effect, and an
analysis of survivors adjusted for baseline recovers it. Nothing depends on the survival copula's
noise except through ``T``. PT and PTA are derived from each visit's INR as the laboratory reports
them (see :func:`trialkit.simulate.cohort.pt_pta`); neutrophils are a fraction of the WBC. Clinical
grades (ASCITES 0-2, HE 0-4) and symptom scores (0-3) are ordinal cuts of latent courses of the
same form.

Values are reported in the study file's units (TBIL and creatinine in umol/L or mg/dL, albumin
in g/L or g/dL; other parameters in the units of ``params/study.yaml`` only), rounded to clinical
precision. Rows exist only for attended visits before death/LT and up to the last contact.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from trialkit.errors import StudyFileError
from trialkit.simulate.cohort import PLAUSIBLE, grade_thresholds, pt_pta
from trialkit.simulate.effects import lab_effect, symptom_effect
from trialkit.simulate.scenario import GRADE_NAMES, Scenario
from trialkit.study import Study, normalize_unit

__all__ = ["output_parameters", "observable", "lab_table", "symptom_table", "UNITS", "RAMP_DAYS"]

RAMP_DAYS = 28.0  # the subject random effect b enters over the first four weeks

# Supported output units per parameter: normalized unit -> (factor from internal unit, decimals).
UNITS: dict[str, dict[str, tuple[float, int]]] = {
    **{p: {"u/l": (1.0, 0)} for p in ("ALT", "AST")},
    "TBIL": {"umol/l": (1.0, 1), "mg/dl": (1 / 17.1, 2)},
    "ALB": {"g/l": (1.0, 1), "g/dl": (0.1, 2)},
    "PT": {"s": (1.0, 1)},
    "PTA": {"%": (1.0, 0)},
    "INR": {"ratio": (1.0, 2)},
    "CREAT": {"umol/l": (1.0, 0), "mg/dl": (1 / 88.4, 2)},
    "NA": {"mmol/l": (1.0, 1)},
    "UREA": {"mmol/l": (1.0, 2)},
    "HGB": {"g/l": (1.0, 0), "g/dl": (0.1, 1)},
    **{p: {"10^9/l": (1.0, 2 if p != "PLT" else 0)} for p in ("WBC", "NEUT", "PLT")},
    "HBVDNA": {"log10 iu/ml": (1.0, 2)},
    "TH1": {"%": (1.0, 2)},
    "TH2": {"%": (1.0, 2)},
    "ASCITES": {"grade": (1.0, 0)},
    "HE": {"grade": (1.0, 0)},
}


def output_parameters(study: Study) -> tuple[list[str], list[str], list[tuple[float, int]]]:
    """(parameters simulated, parameters of the study the simulator cannot produce, unit conversions).

    Raises
    ------
    StudyFileError
        When the study declares a unit the simulator does not support for a parameter it knows.

    Examples
    --------
    >>> from trialkit.study import load_study, study_from_dict
    >>> raw = dict(load_study().raw)
    >>> raw["parameters"] = {**raw["parameters"], "TBIL": {"unit": "mg/dL"}, "CRP": {"unit": "mg/L"}}
    >>> params, skipped, conv = output_parameters(study_from_dict(raw))
    >>> params[:4], skipped
    (['ALT', 'AST', 'TBIL', 'ALB'], ['CRP'])
    >>> conv[2]  # TBIL: umol/L x 1/17.1 = mg/dL, two decimals
    (0.05847953216374269, 2)
    >>> raw["parameters"]["TBIL"] = {"unit": "g/L"}
    >>> output_parameters(study_from_dict(raw))
    Traceback (most recent call last):
    ...
    trialkit.errors.StudyFileError: <study>: parameters.TBIL.unit: the simulator cannot produce TBIL in 'g/L'; ...
    """
    params, skipped, conv = [], [], []
    for name, p in study.parameters.items():
        if name not in UNITS:
            skipped.append(name)
            continue
        unit = normalize_unit(p.unit)
        if unit not in UNITS[name]:
            raise StudyFileError(
                f"{study.path}: parameters.{name}.unit: the simulator cannot produce {name} in {p.unit!r}; "
                f"supported: {sorted(UNITS[name])}")
        params.append(name)
        conv.append(UNITS[name][unit])
    return params, skipped, conv


def _knots(knots: dict, t: np.ndarray, log: bool) -> np.ndarray:
    days = np.array(list(knots), dtype=float)
    vals = np.array(list(knots.values()), dtype=float)
    return np.interp(t, days, np.log(vals) if log else vals)


def _terminal(T: np.ndarray, t: np.ndarray, window: float) -> np.ndarray:
    """r(t): 0 until ``window`` days before the event (or at baseline), rising to 1 at the event."""
    w = np.minimum(window, np.maximum(T, 1e-9))[:, None]
    return np.clip(1.0 - (T[:, None] - t) / w, 0.0, 1.0) ** 2


def _arm_map(arm_idx: np.ndarray, active_by_arm: list, fn, t: np.ndarray) -> np.ndarray:
    out = np.zeros_like(t)
    for a, active in enumerate(active_by_arm):
        rows = arm_idx == a
        if rows.any() and active:
            out[rows] = fn(active, t[rows])
    return out


def _latent_course(rng, y0, t, spec, log, center, effect, T, window):
    """The analysis-scale course of one variable (see the module docstring)."""
    n, v = t.shape
    recovery = (_knots(spec["path"], t, log) + (_knots(spec["persistence"], t, False) - 1.0) * (y0[:, None] - center)
                + effect)
    if spec["terminal"] is None:  # no terminal phase: the recovery course continues to the event
        r, term = np.zeros_like(t), 0.0
    else:
        r, term = _terminal(T, t, window), spec["terminal"]
    return (y0[:, None] + (1.0 - r) * recovery + r * term
            + rng.normal(0.0, 1.0, (n, 1)) * spec["sd_subject"] * np.minimum(1.0, t / RAMP_DAYS)
            + rng.normal(0.0, 1.0, (n, v)) * spec["sd_visit"] * (t > 0))


def _internal_values(rng, params, cohort, t, arm_idx, active_by_arm, T, sc, base_col) -> dict[str, np.ndarray]:
    """Internal-unit values (n, visits) of every parameter needed; ``base_col`` = recorded baseline."""
    window = sc.survival["terminal_window_days"]
    need = set(params) | ({"INR"} if {"PT", "PTA"} & set(params) else set()) | ({"WBC"} if "NEUT" in params else set())
    out: dict[str, np.ndarray] = {}
    for lab, spec in sc.course.items():
        if lab not in need:
            continue
        log = spec["log"]
        y0 = np.log(cohort[lab]) if log else cohort[lab].astype(float)
        center = sc.baseline["labs"][lab]["center"]
        center = np.log(center) if log else center
        eff = _arm_map(arm_idx, active_by_arm, lambda act, tt, lab=lab: lab_effect(act, lab, tt), t)
        y = _latent_course(rng, y0, t, spec, log, center, eff, T, window)
        out[lab] = np.exp(y) if log else y
    if "INR" in out:
        inr, pt, pta = pt_pta(out["INR"], sc.baseline["coagulation"], rng.standard_normal(t.shape))
        out["INR"], out["PT"], out["PTA"] = inr, pt, pta
    if "WBC" in out:
        nf = sc.baseline["neut_fraction"]
        frac = special.expit(special.logit(nf["mean"]) + nf["sd_logit"] * rng.standard_normal(t.shape))
        out["NEUT"] = out["WBC"] * frac
    for g in GRADE_NAMES:
        if g not in need:
            continue
        probs = sc.baseline["ascites" if g == "ASCITES" else "he"]
        latent = _latent_course(rng, cohort[f"{g}_LATENT"], t, sc.grades[g], False, 0.0, 0.0, T, window)
        out[g] = np.searchsorted(grade_thresholds(probs), latent).astype(float)
    for name, vals in out.items():  # baseline column: exactly the recorded screening values
        vals[:, base_col] = cohort[name]
        if name in PLAUSIBLE:
            np.clip(vals, *PLAUSIBLE[name], out=vals)
    return out


def _str_take(values, idx) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.asarray(list(values), dtype=object), dtype="str").take(idx)


def _long(mask, ids, days, visit_ids, name_col, names, value_col, values, **per_name) -> pd.DataFrame:
    """Flatten (n, visits, k) arrays at ``mask`` into a long table sorted by subject, visit, name.

    ``per_name`` adds columns holding one value per name (e.g. the unit of each parameter).
    """
    n, v, k = mask.shape
    idx = np.flatnonzero(mask.ravel())
    sv, ki = np.divmod(idx, k)  # sv = subject * visits + visit
    vals = values.reshape(-1)[idx]
    del idx
    s, vi = np.divmod(sv, v)
    out = pd.DataFrame({"subject_id": _str_take(ids, s), "day": days.reshape(-1)[sv],
                        "visit": _str_take(visit_ids, vi), name_col: _str_take(names, ki),
                        value_col: vals})
    for col, vals in per_name.items():
        out[col] = _str_take(vals, ki)
    return out


def observable(days: np.ndarray, attended: np.ndarray, last_day: np.ndarray, observed: np.ndarray,
               event_day: np.ndarray) -> np.ndarray:
    """(n, visits) mask of visits that can have data: attended, not after last contact or death/LT.

    Examples
    --------
    Three subjects, visits on days 0, 7 and 28: the second missed its day-7 visit, the third died
    on day 20 (no data on or after the event day).

    >>> days = np.array([[0, 7, 28], [-1, 8, 27], [0, 6, 29]])
    >>> attended = np.array([[True, True, True], [True, False, True], [True, True, True]])
    >>> observable(days, attended, last_day=np.array([336, 336, 20]), observed=np.array([False, False, True]),
    ...            event_day=np.array([0, 0, 20])).tolist()
    [[True, True, True], [True, False, True], [True, True, False]]
    """
    before_event = ~observed[:, None] | (days < event_day[:, None])
    return attended & (days <= last_day[:, None]) & before_event


def lab_table(rng, study: Study, sc: Scenario, cohort, days, can_see, arm_idx, active_by_arm, T,
              ids) -> pd.DataFrame:
    """The ``labs`` table: subject_id, day, visit, parameter, value, unit (sorted).

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> from trialkit.simulate import cohort, schedule
    >>> from trialkit.simulate.allocation import subject_ids
    >>> from trialkit.simulate.effects import arm_effects
    >>> from trialkit.simulate.scenario import load_scenario
    >>> study, sc, rng = load_study(), load_scenario("default"), np.random.default_rng(1)
    >>> base = cohort.draw_cohort(rng, 2, sc)
    >>> days, attended = schedule.visit_schedule(rng, study, 2, sc)
    >>> active = arm_effects(sc, study)
    >>> by_arm = [active[a] for a in study.arm_ids]

    Subject S001 (control) survives; S002 (UC-MSC) dies on day 41 (latent event time 40 days):

    >>> T = np.array([1e4, 40.0])
    >>> can_see = observable(days, attended, np.array([days[0, -1], 41]), np.array([False, True]),
    ...                      np.array([10001, 41]))
    >>> labs = lab_table(rng, study, sc, base, days, can_see, np.array([0, 1]), by_arm, T, subject_ids(2))
    >>> labs.head(3)
      subject_id  day visit parameter  value   unit
    0       S001    0    D0       ALB   30.9    g/L
    1       S001    0    D0       ALT   61.0    U/L
    2       S001    0    D0   ASCITES    1.0  grade
    >>> labs.groupby("subject_id")["day"].max().to_dict()  # S002: no visit after day 28
    {'S001': 334, 'S002': 28}
    >>> labs.loc[labs["parameter"] == "TBIL"].groupby("subject_id")["value"].agg(["first", "last"])
                first   last
    subject_id
    S001        277.5    9.2
    S002        172.8  125.0
    """
    params, _, conv = output_parameters(study)
    order = np.argsort(np.array(params, dtype=object), kind="stable")  # canonical row order
    params, conv = [params[i] for i in order], [conv[i] for i in order]
    t = np.maximum(days, 0).astype(float)
    base_col = study.visit_ids.index(study.baseline_visit.id)
    vals = _internal_values(rng, params, cohort, t, arm_idx, active_by_arm, T, sc, base_col)
    n, v = days.shape
    values = np.empty((n, v, len(params)))
    for k, (p, (factor, dec)) in enumerate(zip(params, conv)):
        values[:, :, k] = np.round(vals[p] * factor, dec)
    mask = np.repeat(can_see[:, :, None], len(params), axis=2)
    post = days > 0
    mask &= ~(post[:, :, None] & (rng.random(mask.shape) < sc.missingness["value"]))
    sparse = [k for k, p in enumerate(params) if p in sc.missingness.get("sparse_parameters", [])]
    if sparse:
        nominal = np.array([vis.day for vis in study.visits])
        off = (nominal > 0) & (nominal < sc.missingness.get("sparse_min_day", 0))
        mask[:, off[:, None] & np.isin(np.arange(len(params)), sparse)[None, :]] = False
    units = [study.parameters[p].unit for p in params]
    return _long(mask, ids, days, study.visit_ids, "parameter", params, "value", values, unit=units)


def symptom_table(rng, study: Study, sc: Scenario, days, can_see, arm_idx, active_by_arm, T, ids):
    """(symptoms table, baseline latent severities (n, k)). Scores 0-3 at observable visits.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> from trialkit.simulate import cohort, schedule
    >>> from trialkit.simulate.allocation import subject_ids
    >>> from trialkit.simulate.effects import arm_effects
    >>> from trialkit.simulate.scenario import load_scenario
    >>> study, sc, rng = load_study(), load_scenario("default"), np.random.default_rng(1)
    >>> base = cohort.draw_cohort(rng, 2, sc)
    >>> days, attended = schedule.visit_schedule(rng, study, 2, sc)
    >>> active = arm_effects(sc, study)
    >>> by_arm = [active[a] for a in study.arm_ids]

    Subject S001 (control) survives; S002 (UC-MSC) dies on day 41 (latent event time 40 days):

    >>> T = np.array([1e4, 40.0])
    >>> can_see = observable(days, attended, np.array([days[0, -1], 41]), np.array([False, True]),
    ...                      np.array([10001, 41]))
    >>> sym, l0 = symptom_table(rng, study, sc, days, can_see, np.array([0, 1]), by_arm, T, subject_ids(2))
    >>> sym.head(4)
      subject_id  day visit               symptom  score
    0       S001    0    D0  abdominal_distension      1
    1       S001    0    D0         appetite_loss      2
    2       S001    0    D0               fatigue      1
    3       S001    0    D0             leg_edema      2
    >>> l0.shape  # subjects x symptoms (alphabetical)
    (2, 4)

    The total score of S002 worsens again over the last weeks before death:

    >>> sym[sym["subject_id"] == "S002"].groupby("day")["score"].sum().to_dict()
    {-3: 7, 3: 7, 7: 7, 14: 4, 21: 4, 28: 7}
    """
    names = sorted(study.symptoms)  # canonical row order
    n, v = days.shape
    if not names:
        return None, np.zeros((n, 0))
    spec = sc.symptoms
    t = np.maximum(days, 0).astype(float)
    shared = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, len(names)))
    mean = np.array([spec["baseline_mean"].get(s, spec["baseline_mean"]["*"]) for s in names])
    l0 = mean + np.sqrt(spec["shared"]) * shared + np.sqrt(1 - spec["shared"]) * own
    th = np.array(spec["thresholds"])
    base_col = study.visit_ids.index(study.baseline_visit.id)
    scores = np.empty((n, v, len(names)), dtype=np.int64)
    window = sc.survival["terminal_window_days"]
    for k, s in enumerate(names):
        eff = _arm_map(arm_idx, active_by_arm, lambda act, tt, s=s: symptom_effect(act, s, tt), t)
        r = np.zeros_like(t) if spec["terminal"] is None else _terminal(T, t, window)
        recovery = _knots(spec["path"], t, False) + (_knots(spec["persistence"], t, False) - 1) * l0[:, k:k + 1] + eff
        latent = (l0[:, k:k + 1] + (1 - r) * recovery + r * (spec["terminal"] or 0.0)
                  + rng.normal(0.0, spec["sd_subject"], (n, 1)) * np.minimum(1.0, t / RAMP_DAYS)
                  + rng.normal(0.0, spec["sd_visit"], (n, v)) * (t > 0))
        latent[:, base_col] = l0[:, k]
        scores[:, :, k] = (latent[:, :, None] > th).sum(axis=2)
    mask = np.repeat(can_see[:, :, None], len(names), axis=2)
    mask &= ~((days > 0)[:, :, None] & (rng.random(mask.shape) < sc.missingness["value"]))
    return _long(mask, ids, days, study.visit_ids, "symptom", names, "score", scores), l0

