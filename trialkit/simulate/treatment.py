"""Dosing, 0-8 h infusion monitoring, treatment reactions and other adverse events.

Doses follow each arm's schedule in the study file (``study.dosing_days(arm, factor)``, which
honours an arm's ``schedule`` override) on exactly the nominal day, and are given only while the
subject is alive, not transplanted and followed; a scheduled dose is skipped with the scenario's
``dosing.miss_probability``. ``<factor>_doses`` counts the doses received.

Every dose of a ``kind: infusion`` factor gives five ``infusions`` rows: temperature at 0, 1, 2, 4
and 8 h (subject baseline ~36.6 +- 0.2 C plus reading noise). A *fever reaction* (scenario
``reactions.<factor>.fever``, per dose) adds a bump peaking at 2 or 4 h at >= 38.0 C; it is also an
adverse event (category ``fever``) with ``hours_after_infusion`` = the peak hour. Rash and allergy
reactions are AEs only. Reactions to ``kind: procedure`` factors (e.g. plasma allergy during
plasma exchange) have no ``hours_after_infusion``. Infusions are numbered 1, 2, ... per subject in
the order given, across infusion-kind factors (the ``factor`` column says which).

Other adverse events (infections, bleeding, HE worsening, hepatorenal syndrome, late fever) occur
at most once per group and subject with probability ``expit(logit(p) + beta z) * risk ratios``,
onset uniform over the group's window cut at the last contact. Each death adds a grade-5 AE named
after its cause.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from trialkit.simulate.context import SimulationContext

__all__ = ["HOURS", "dosing", "reactions", "infusion_table", "adverse_event_table"]

HOURS = np.array([0.0, 1.0, 2.0, 4.0, 8.0])
# Fever-reaction shape at HOURS (fraction of the peak rise), peaking at 2 h or at 4 h.
_FEVER_SHAPE = {2.0: np.array([0.0, 0.5, 1.0, 0.7, 0.25]), 4.0: np.array([0.0, 0.3, 0.75, 1.0, 0.35])}
_BASE_TEMP, _SD_SUBJECT, _SD_READING = 36.6, 0.2, 0.12
_RASH_HOURS = np.array([0.5, 1.0, 2.0, 4.0, 6.0, 8.0])
_ALLERGY_HOURS = np.array([0.25, 0.5, 1.0, 1.5, 2.0])
_ALLERGY_TERMS = np.array(["urticaria", "allergic reaction"], dtype=object)
_ALLERGY_GRADES = (np.array([1, 2, 3]), np.array([0.6, 0.35, 0.05]))
_RASH_GRADES = (np.array([1, 2]), np.array([0.85, 0.15]))


def _followed_on(day: np.ndarray, last: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Alive and followed on ``day``: before the event day, or up to the last contact if censored."""
    return (day < last) | ((day == last) & ~observed)


def dosing(ctx: SimulationContext) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """(doses received per factor, one row per dose given: subject, factor, dose, day, kind).

    The first draws from the ``treatment`` stream of ``ctx``.

    Examples
    --------
    >>> from trialkit.simulate.context import simulation_context
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=4)
    >>> ctx.arm_ids, ctx.follow_up.last_day.tolist()  # S002 dies on day 57, after its four doses
    (['pe_msc', 'msc', 'control', 'pe'], [335, 57, 343, 339])
    >>> counts, doses = dosing(ctx)
    >>> {f: c.tolist() for f, c in counts.items()}
    {'msc': [4, 4, 0, 0], 'pe': [3, 0, 0, 3]}
    >>> doses[doses["subject"] == 0]  # S001 (pe_msc): both schedules
       subject  factor  dose  day       kind
    0        0       0     1    0   infusion
    1        0       1     1    0  procedure
    2        0       1     2    3  procedure
    3        0       0     2    6   infusion
    4        0       1     3    6  procedure
    5        0       0     3   13   infusion
    6        0       0     4   20   infusion
    """
    study, arm_idx, fu = ctx.study, ctx.arm_index, ctx.follow_up
    rng = ctx.stream("treatment")
    n = len(arm_idx)
    counts = {f: np.zeros(n, dtype=np.int64) for f in study.factors}
    parts = []
    for a, arm in enumerate(study.arms):
        rows = np.flatnonzero(arm_idx == a)
        for fi, f in enumerate(study.factors):
            sched = np.array(study.dosing_days(arm.id, f), dtype=np.int64)
            if not len(sched) or not len(rows):
                continue
            day = np.broadcast_to(sched, (len(rows), len(sched)))
            given = (_followed_on(day, fu.last_day[rows, None], fu.observed[rows, None])
                     & (rng.random(day.shape) >= ctx.scenario.dosing["miss_probability"]))
            counts[f][rows] = given.sum(axis=1)
            r, k = np.nonzero(given)
            parts.append(pd.DataFrame({"subject": rows[r], "factor": fi, "dose": k + 1, "day": day[r, k]}))
    doses = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame({"subject": [], "factor": [], "dose": [], "day": []}, dtype=np.int64))
    doses = doses.sort_values(["subject", "day", "factor"], kind="stable").reset_index(drop=True)
    kinds = np.array([study.factors[f].kind for f in study.factors], dtype=object)
    doses["kind"] = kinds[doses["factor"].to_numpy()] if len(doses) else pd.Series([], dtype=object)
    return counts, doses


def reactions(ctx: SimulationContext, doses: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per dose given: whether a fever, rash or allergy reaction occurs (scenario ``reactions``).

    Draws from the ``treatment`` stream of ``ctx``, after :func:`dosing`.

    Examples
    --------
    >>> from trialkit.simulate.context import simulation_context
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=4)
    >>> counts, doses = dosing(ctx)
    >>> ctx.scenario.reactions
    {'msc': {'fever': 0.03, 'rash': 0.01}, 'pe': {'allergy': 0.04}}
    >>> r = reactions(ctx, doses)
    >>> {cat: np.flatnonzero(hit).tolist() for cat, hit in r.items()}  # doses with a reaction
    {'fever': [7], 'rash': [], 'allergy': []}
    >>> doses.loc[7, ["subject", "factor", "dose", "day"]].tolist()  # S002's first UC-MSC infusion
    [1, 0, 1, 0]
    """
    rng, sc = ctx.stream("treatment"), ctx.scenario
    names = list(ctx.study.factors)
    f = doses["factor"].to_numpy()
    out = {}
    for cat in ("fever", "rash", "allergy"):
        p = np.array([sc.reactions.get(name, {}).get(cat, 0.0) for name in names])
        out[cat] = rng.random(len(doses)) < (p[f] if len(names) else 0.0)
    return out


def infusion_table(ctx: SimulationContext, doses: pd.DataFrame,
                   fever: np.ndarray) -> tuple[pd.DataFrame | None, dict[str, np.ndarray]]:
    """The ``infusions`` table (None if the study has no infusion-kind factor) and fever details.

    ``fever`` flags the doses with a fever reaction (:func:`reactions`). Draws from the
    ``treatment`` stream of ``ctx``, after :func:`reactions`.

    Examples
    --------
    >>> from trialkit.simulate.context import simulation_context
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=4)
    >>> counts, doses = dosing(ctx)
    >>> fever = reactions(ctx, doses)["fever"]  # one: S002's first UC-MSC infusion (dose 7)
    >>> inf, info = infusion_table(ctx, doses, fever)
    >>> inf.head(3)
      subject_id  infusion  day  hours_after  temperature_c factor
    0       S001         1    0          0.0           36.6    msc
    1       S001         1    0          1.0           36.6    msc
    2       S001         1    0          2.0           36.5    msc
    >>> inf.groupby("subject_id")["infusion"].max().to_dict()
    {'S001': 4, 'S002': 4}
    >>> inf.loc[(inf["subject_id"] == "S002") & (inf["infusion"] == 1), "temperature_c"].tolist()  # 0-8 h
    [36.3, 37.7, 38.8, 38.2, 37.0]
    >>> info["index"].tolist(), info["hour"].tolist(), info["peak"].tolist()  # peak hour and temperature
    ([7], [2.0], [38.8])
    """
    study, ids = ctx.study, ctx.subject_ids
    rng = ctx.stream("treatment")
    inf = doses["kind"].to_numpy() == "infusion"
    if not any(fac.kind == "infusion" for fac in study.factors.values()):
        return None, {}
    d = doses[inf]
    subj = d["subject"].to_numpy()
    m = len(d)
    # number infusions 1, 2, ... per subject in the order given (doses are sorted by subject, day)
    first = np.r_[0, np.flatnonzero(np.diff(subj)) + 1] if m else np.array([], dtype=np.int64)
    start = np.repeat(first, np.diff(np.r_[first, m])) if m else np.array([], dtype=np.int64)
    number = np.arange(m) - start + 1
    base = _BASE_TEMP + _SD_SUBJECT * rng.standard_normal(len(ids))[subj] + 0.08 * rng.standard_normal(m)
    temp = base[:, None] + _SD_READING * rng.standard_normal((m, len(HOURS)))
    fev = fever[inf]
    peak_hour = np.where(rng.random(m) < 0.5, 2.0, 4.0)
    rise = np.maximum(38.0 - base, 0.0) + 0.05 + rng.exponential(0.5, m)
    shape = np.where(peak_hour[:, None] == 2.0, _FEVER_SHAPE[2.0], _FEVER_SHAPE[4.0])
    peak_col = np.where(peak_hour == 2.0, 2, 3)
    bump = np.where(fev[:, None], rise[:, None] * shape, 0.0)
    temp = temp + bump
    rows = np.flatnonzero(fev)
    temp[rows, peak_col[rows]] = base[rows] + rise[rows]  # the peak reading is exactly the peak
    temp = np.round(np.clip(temp, 35.0, 41.5), 1)
    names = np.array(list(study.factors), dtype=object)
    table = pd.DataFrame({
        "subject_id": pd.array(ids, dtype="str").take(np.repeat(subj, len(HOURS))),
        "infusion": np.repeat(number, len(HOURS)).astype(np.int64),
        "day": np.repeat(d["day"].to_numpy(), len(HOURS)).astype(np.int64),
        "hours_after": np.tile(HOURS, m),
        "temperature_c": temp.reshape(-1),
        "factor": pd.array(names[np.repeat(d["factor"].to_numpy(), len(HOURS))].astype(object), dtype="str"),
    })
    peak_temp = temp[np.arange(m), peak_col]
    return table, {"index": d.index.to_numpy()[fev], "hour": peak_hour[fev], "peak": peak_temp[fev]}


def _choice(rng: np.random.Generator, options: dict[str, float], size: int) -> np.ndarray:
    keys = np.array(list(options), dtype=object)
    return keys[rng.choice(len(keys), size, p=np.array(list(options.values()), dtype=float))]


def adverse_event_table(ctx: SimulationContext, doses: pd.DataFrame, reactions: dict[str, np.ndarray],
                        fever_info: dict[str, np.ndarray]) -> pd.DataFrame:
    """The ``adverse_events`` table, sorted by subject, day, term.

    ``reactions`` and ``fever_info`` are those of :func:`reactions` and :func:`infusion_table`.
    Draws from the ``treatment`` stream of ``ctx``, after :func:`infusion_table`.

    Examples
    --------
    >>> from trialkit.simulate.context import simulation_context
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=4)
    >>> counts, doses = dosing(ctx)
    >>> r = reactions(ctx, doses)
    >>> inf, info = infusion_table(ctx, doses, r["fever"])
    >>> ae = adverse_event_table(ctx, doses, r, info)
    >>> ae[["subject_id", "term", "category", "day", "grade"]]
      subject_id                               term category  day  grade
    0       S002             infusion-related fever    fever    0      1
    1       S002                    hepatic failure    other   57      5
    2       S004  spontaneous bacterial peritonitis    other    8      4
    >>> ae["hours_after_infusion"].tolist(), ae["related"].tolist(), ae["serious"].tolist()
    ([2.0, nan, nan], [True, False, False], [False, True, True])
    """
    rng, sc = ctx.stream("treatment"), ctx.scenario
    arm_idx, fu = ctx.arm_index, ctx.follow_up
    kind = doses["kind"].to_numpy()
    parts = []

    # fever reactions: infusion-kind from the temperature curves, procedures without hours
    fev = reactions["fever"]
    if fev.any():
        hours = np.full(len(doses), np.nan)
        grade = np.ones(len(doses), dtype=np.int64)
        if fever_info:
            hours[fever_info["index"]] = fever_info["hour"]
            peak = fever_info["peak"]  # CTCAE fever: 38.0-39.0 grade 1, >39-40 grade 2, >40 grade 3
            grade[fever_info["index"]] = np.where(peak > 40.0, 3, np.where(peak > 39.0, 2, 1))
        sel = np.flatnonzero(fev)
        parts.append(_ae(doses, sel, np.where(kind[sel] == "infusion", "infusion-related fever", "fever"),
                         "fever", hours[sel], grade[sel], True))
    for cat, hour_opts, terms, (gv, gp) in (("rash", _RASH_HOURS, None, _RASH_GRADES),
                                           ("allergy", _ALLERGY_HOURS, _ALLERGY_TERMS, _ALLERGY_GRADES)):
        sel = np.flatnonzero(reactions[cat])
        if not len(sel):
            continue
        hours = np.where(kind[sel] == "infusion", hour_opts[rng.integers(0, len(hour_opts), len(sel))], np.nan)
        if terms is None:
            term = np.full(len(sel), cat, dtype=object)
        else:
            term = terms[rng.choice(len(terms), len(sel), p=[0.7, 0.3])]
        parts.append(_ae(doses, sel, term, cat, hours, gv[rng.choice(len(gv), len(sel), p=gp)], True))

    # other adverse events
    ae = sc.adverse_events
    n = len(arm_idx)
    for g, spec in ae["groups"].items():
        rr_arm = np.array([np.prod([e.adverse_events.get(g, 1.0) for _, e in act]) if act else 1.0
                           for act in ctx.active_by_arm])
        p = np.minimum(special.expit(special.logit(np.clip(spec["probability"], 1e-9, 1 - 1e-9))
                                     + ae["severity_log_odds"] * ctx.severity_z) * rr_arm[arm_idx], 0.99)
        lo, hi = spec["window"]
        end = np.minimum(hi, fu.last_day)
        onset = lo + np.floor(rng.random(n) * np.maximum(end - lo + 1, 0)).astype(np.int64)
        hit = (rng.random(n) < p) & (end >= lo)
        sel = np.flatnonzero(hit)
        grades = _choice(rng, spec["grades"], len(sel)).astype(np.int64)
        parts.append(pd.DataFrame({"subject": sel, "term": _choice(rng, spec["terms"], len(sel)),
                                   "category": spec["category"], "day": onset[sel],
                                   "hours_after_infusion": np.nan, "grade": grades,
                                   "related": False, "serious": grades >= 3}))
    # deaths: a grade-5 AE named after the cause
    dead = np.flatnonzero(fu.observed & ~fu.transplant)
    parts.append(pd.DataFrame({"subject": dead, "term": fu.cause[dead], "category": "other",
                               "day": fu.last_day[dead], "hours_after_infusion": np.nan,
                               "grade": np.full(len(dead), 5, dtype=np.int64), "related": False, "serious": True}))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[-1]
    out = out.astype({"term": "str", "category": "str", "day": np.int64, "grade": np.int64,
                      "hours_after_infusion": float, "related": bool, "serious": bool})
    out = out.sort_values(["subject", "day", "term"], kind="stable").reset_index(drop=True)
    out.insert(0, "subject_id", pd.array(ctx.subject_ids, dtype="str").take(out.pop("subject").to_numpy()))
    return out[["subject_id", "term", "category", "day", "hours_after_infusion", "grade", "related", "serious"]]


def _ae(doses: pd.DataFrame, sel: np.ndarray, term: np.ndarray, category: str, hours: np.ndarray,
        grade: np.ndarray, related: bool) -> pd.DataFrame:
    grade = np.asarray(grade, dtype=np.int64)
    return pd.DataFrame({"subject": doses["subject"].to_numpy()[sel], "term": np.asarray(term, dtype=object),
                         "category": category, "day": doses["day"].to_numpy()[sel],
                         "hours_after_infusion": hours, "grade": grade, "related": related,
                         "serious": grade >= 3})
