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

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
from scipy import special

from trialkit.errors import StudyFileError
from trialkit.simulate.cohort import PLAUSIBLE, grade_thresholds, pt_pta
from trialkit.simulate.context import ActiveEffects, SimulationContext
from trialkit.simulate.effects import lab_effect, symptom_effect
from trialkit.simulate.scenario import GRADE_NAMES
from trialkit.study import Study, normalize_unit

__all__ = ["output_parameters", "lab_table", "symptom_table", "UNITS", "RAMP_DAYS"]

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


def _knots(knots: dict[int, float], t: np.ndarray, log: bool) -> np.ndarray:
    days = np.array(list(knots), dtype=float)
    vals = np.array(list(knots.values()), dtype=float)
    return np.interp(t, days, np.log(vals) if log else vals)


def _terminal(event_time: np.ndarray, t: np.ndarray, window: float) -> np.ndarray:
    """r(t): 0 until ``window`` days before the event (or at baseline), rising to 1 at the event."""
    w = np.minimum(window, np.maximum(event_time, 1e-9))[:, None]
    return np.clip(1.0 - (event_time[:, None] - t) / w, 0.0, 1.0) ** 2


def _arm_map(ctx: SimulationContext, fn: Callable[[ActiveEffects, str, np.ndarray], np.ndarray], name: str,
             t: np.ndarray) -> np.ndarray:
    """``fn(effects active in the arm, name, t)`` on each arm's rows of ``t`` (zero without an effect)."""
    out = np.zeros_like(t)
    for a, active in enumerate(ctx.active_by_arm):
        rows = ctx.arm_index == a
        if rows.any() and active:
            out[rows] = fn(active, name, t[rows])
    return out


def _latent_course(rng: np.random.Generator, y0: np.ndarray, t: np.ndarray, spec: dict, log: bool,
                   center: float, effect: np.ndarray | float, event_time: np.ndarray, window: float) -> np.ndarray:
    """The analysis-scale course of one variable (see the module docstring)."""
    n, v = t.shape
    recovery = (_knots(spec["path"], t, log) + (_knots(spec["persistence"], t, False) - 1.0) * (y0[:, None] - center)
                + effect)
    if spec["terminal"] is None:  # no terminal phase: the recovery course continues to the event
        r, term = np.zeros_like(t), 0.0
    else:
        r, term = _terminal(event_time, t, window), spec["terminal"]
    return (y0[:, None] + (1.0 - r) * recovery + r * term
            + rng.normal(0.0, 1.0, (n, 1)) * spec["sd_subject"] * np.minimum(1.0, t / RAMP_DAYS)
            + rng.normal(0.0, 1.0, (n, v)) * spec["sd_visit"] * (t > 0))


def _internal_values(ctx: SimulationContext, rng: np.random.Generator, params: list[str], t: np.ndarray,
                     base_col: int) -> dict[str, np.ndarray]:
    """Internal-unit values (n, visits) of every parameter needed; ``base_col`` = recorded baseline."""
    sc, baseline = ctx.scenario, ctx.baseline
    window = sc.survival["terminal_window_days"]
    need = set(params) | ({"INR"} if {"PT", "PTA"} & set(params) else set()) | ({"WBC"} if "NEUT" in params else set())
    out: dict[str, np.ndarray] = {}
    for lab, spec in sc.course.items():
        if lab not in need:
            continue
        log = spec["log"]
        y0 = np.log(baseline[lab]) if log else baseline[lab].astype(float)
        center = sc.baseline["labs"][lab]["center"]
        center = np.log(center) if log else center
        eff = _arm_map(ctx, lab_effect, lab, t)
        y = _latent_course(rng, y0, t, spec, log, center, eff, ctx.event_time, window)
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
        latent = _latent_course(rng, baseline[f"{g}_LATENT"], t, sc.grades[g], False, 0.0, 0.0, ctx.event_time,
                                window)
        out[g] = np.searchsorted(grade_thresholds(probs), latent).astype(float)
    for name, vals in out.items():  # baseline column: exactly the recorded screening values
        vals[:, base_col] = baseline[name]
        if name in PLAUSIBLE:
            np.clip(vals, *PLAUSIBLE[name], out=vals)
    return out


def _str_take(values: Iterable[str], idx: np.ndarray) -> pd.api.extensions.ExtensionArray:
    return pd.array(np.asarray(list(values), dtype=object), dtype="str").take(idx)


def _long(mask: np.ndarray, ids: Iterable[str], days: np.ndarray, visit_ids: list[str], name_col: str,
          names: list[str], value_col: str, values: np.ndarray, **per_name: list[str]) -> pd.DataFrame:
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
    for col, per in per_name.items():
        out[col] = _str_take(per, ki)
    return out


def lab_table(ctx: SimulationContext) -> pd.DataFrame:
    """The ``labs`` table: subject_id, day, visit, parameter, value, unit (sorted).

    Draws from the ``labs`` stream of ``ctx``.

    Examples
    --------
    >>> from trialkit.simulate.context import simulation_context
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=4)

    Subject S002 (UC-MSC) dies on day 57 (latent event time 56.3 days), the others survive:

    >>> ctx.arm_ids, ctx.follow_up.observed.tolist(), ctx.follow_up.last_day.tolist()
    (['pe_msc', 'msc', 'control', 'pe'], [False, True, False, False], [335, 57, 343, 339])
    >>> labs = lab_table(ctx)
    >>> labs.head(3)
      subject_id  day visit parameter  value   unit
    0       S001    0    D0       ALB   33.8    g/L
    1       S001    0    D0       ALT  431.0    U/L
    2       S001    0    D0   ASCITES    0.0  grade
    >>> labs.groupby("subject_id")["day"].max().to_dict()  # S002: no visit after day 28
    {'S001': 335, 'S002': 28, 'S003': 343, 'S004': 339}
    >>> labs.loc[labs["parameter"] == "TBIL"].groupby("subject_id")["value"].agg(["first", "last"])
                first   last
    subject_id
    S001        260.3   10.3
    S002        263.1  162.5
    S003        391.4   29.7
    S004        172.5   11.6
    """
    study, sc, days = ctx.study, ctx.scenario, ctx.visit_days
    rng = ctx.stream("labs")
    params, _, conv = output_parameters(study)
    order = np.argsort(np.array(params, dtype=object), kind="stable")  # canonical row order
    params, conv = [params[i] for i in order], [conv[i] for i in order]
    t = np.maximum(days, 0).astype(float)
    base_col = study.visit_ids.index(study.baseline_visit.id)
    vals = _internal_values(ctx, rng, params, t, base_col)
    n, v = days.shape
    values = np.empty((n, v, len(params)))
    for k, (p, (factor, dec)) in enumerate(zip(params, conv)):
        values[:, :, k] = np.round(vals[p] * factor, dec)
    mask = np.repeat(ctx.observable[:, :, None], len(params), axis=2)
    post = days > 0
    mask &= ~(post[:, :, None] & (rng.random(mask.shape) < sc.missingness["value"]))
    sparse = [k for k, p in enumerate(params) if p in sc.missingness.get("sparse_parameters", [])]
    if sparse:
        nominal = np.array([vis.day for vis in study.visits])
        off = (nominal > 0) & (nominal < sc.missingness.get("sparse_min_day", 0))
        mask[:, off[:, None] & np.isin(np.arange(len(params)), sparse)[None, :]] = False
    units = [study.parameters[p].unit for p in params]
    return _long(mask, ctx.subject_ids, days, study.visit_ids, "parameter", params, "value", values, unit=units)


def symptom_table(ctx: SimulationContext) -> tuple[pd.DataFrame | None, np.ndarray]:
    """(symptoms table, baseline latent severities (n, k)). Scores 0-3 at observable visits.

    Draws from the ``symptoms`` stream of ``ctx``; the table is None when the study records no
    symptoms.

    Examples
    --------
    >>> from trialkit.simulate.context import simulation_context
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=4)
    >>> sym, l0 = symptom_table(ctx)
    >>> sym.head(4)
      subject_id  day visit               symptom  score
    0       S001    0    D0  abdominal_distension      2
    1       S001    0    D0         appetite_loss      3
    2       S001    0    D0               fatigue      3
    3       S001    0    D0             leg_edema      3
    >>> l0.shape  # subjects x symptoms (alphabetical)
    (4, 4)

    The total score of S002 (who dies on day 57) over its visits:

    >>> sym[sym["subject_id"] == "S002"].groupby("day")["score"].sum().to_dict()
    {-3: 6, 3: 6, 8: 5, 14: 4, 22: 3, 28: 4}
    """
    study, days = ctx.study, ctx.visit_days
    names = sorted(study.symptoms)  # canonical row order
    n, v = days.shape
    if not names:
        return None, np.zeros((n, 0))
    rng = ctx.stream("symptoms")
    spec = ctx.scenario.symptoms
    t = np.maximum(days, 0).astype(float)
    shared = rng.standard_normal((n, 1))
    own = rng.standard_normal((n, len(names)))
    mean = np.array([spec["baseline_mean"].get(s, spec["baseline_mean"]["*"]) for s in names])
    l0 = mean + np.sqrt(spec["shared"]) * shared + np.sqrt(1 - spec["shared"]) * own
    th = np.array(spec["thresholds"])
    base_col = study.visit_ids.index(study.baseline_visit.id)
    scores = np.empty((n, v, len(names)), dtype=np.int64)
    window = ctx.scenario.survival["terminal_window_days"]
    for k, s in enumerate(names):
        eff = _arm_map(ctx, symptom_effect, s, t)
        r = np.zeros_like(t) if spec["terminal"] is None else _terminal(ctx.event_time, t, window)
        recovery = _knots(spec["path"], t, False) + (_knots(spec["persistence"], t, False) - 1) * l0[:, k:k + 1] + eff
        latent = (l0[:, k:k + 1] + (1 - r) * recovery + r * (spec["terminal"] or 0.0)
                  + rng.normal(0.0, spec["sd_subject"], (n, 1)) * np.minimum(1.0, t / RAMP_DAYS)
                  + rng.normal(0.0, spec["sd_visit"], (n, v)) * (t > 0))
        latent[:, base_col] = l0[:, k]
        scores[:, :, k] = (latent[:, :, None] > th).sum(axis=2)
    mask = np.repeat(ctx.observable[:, :, None], len(names), axis=2)
    mask &= ~((days > 0)[:, :, None] & (rng.random(mask.shape) < ctx.scenario.missingness["value"]))
    return _long(mask, ctx.subject_ids, days, study.visit_ids, "symptom", names, "score", scores), l0
