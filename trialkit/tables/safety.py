"""Safety tables: infusion reactions, adverse events, event rates, laboratory grade shifts.

Populations and definitions (stated once, used everywhere in this module):

* **Infusion arms** are the arms whose factors include a factor of ``kind: infusion`` in the
  study file (read from ``study.factors``; nothing is assumed about names). Infusion reactions
  are analysed per patient among subjects with at least one monitored infusion (rows in
  ``infusions``), and per infusion. Comparisons are made only among infusion arms: each one
  against the *reference infusion arm*, the infusion arm with the fewest active factors (first
  in study order) — control arms receive no infusion, so have no 0-8 h window.
* **Fever** after an infusion: any temperature ``>= fever_threshold`` (default 38.0 °C) measured
  0-``window_hours`` h after its start. **Rash** / **allergy**: an adverse event of that category
  with ``hours_after_infusion`` in [0, ``window_hours``], onset on the infusion day or the next.
* **Adverse events** are tabulated over all randomized subjects of each arm (safety set = the
  full analysis set: conventional care is itself the control treatment); a patient counts once
  per row (``>= 1`` event), and under ``grade`` once, at their worst grade.
* **Laboratory grades**: CTCAE v5.0, multiples of the upper limit of normal (ULN), applied to
  baseline and post-baseline values alike (the "baseline normal" criteria; the baseline-abnormal
  multiples-of-baseline criteria are not used because every ACLF patient is abnormal at baseline,
  which would make the grades incomparable between baseline and follow-up). Default ULNs:
  ALT 40 U/L, TBIL 17.1 umol/L (1.0 mg/dL); pass ``uln=`` for your laboratory.

Examples
--------
>>> ctcae_grade([30, 50, 130, 250, 900], "ALT", uln=40).tolist()
[0, 1, 2, 3, 4]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from trialkit.stats.categorical import clopper_pearson, compare_to_reference, poisson_rate_ci, rate_ratio_exact
from trialkit.study import DAY_LENGTHS

if TYPE_CHECKING:
    from trialkit.data.trial import Trial
    from trialkit.study import Study

__all__ = [
    "infusion_factors", "infusion_arms", "reference_infusion_arm", "infusion_reaction_events",
    "infusion_reactions_by_arm", "infusion_reactions_by_number", "infusion_reaction_tests",
    "temperature_summary", "ae_incidence", "format_incidence", "event_rates", "CTCAE_V5", "DEFAULT_ULN", "uln_for", "shift_parameters",
    "ctcae_grade", "grading_rules", "shift_table", "REACTIONS",
]

REACTIONS = ("fever", "rash", "allergy", "any")
#: CTCAE v5.0 upper bounds (multiples of ULN) of grades 0..3; above the last bound is grade 4.
CTCAE_V5 = {"ALT": (1.0, 3.0, 5.0, 20.0), "AST": (1.0, 3.0, 5.0, 20.0), "TBIL": (1.0, 1.5, 3.0, 10.0)}
#: Default upper limits of normal (value, unit).
DEFAULT_ULN = {"ALT": (40.0, "U/L"), "AST": (40.0, "U/L"), "TBIL": (17.1, "umol/L")}


# --------------------------------------------------------------------------------------------
# infusion reactions
# --------------------------------------------------------------------------------------------
def infusion_factors(study: Study) -> list[str]:
    """Names of the study's factors of ``kind: infusion``.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> infusion_factors(load_study())  # plasma exchange is a procedure, not an infusion
    ['msc']
    """
    return [f for f, spec in study.factors.items() if spec.kind == "infusion"]


def infusion_arms(study: Study) -> list[str]:
    """Arm ids (study order) whose factors include an infusion-kind factor.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> infusion_arms(load_study())
    ['msc', 'pe_msc']
    """
    inf = infusion_factors(study)
    return [a.id for a in study.arms if any(a.factors.get(f, False) for f in inf)]


def reference_infusion_arm(study: Study) -> str | None:
    """The infusion arm with the fewest active factors (first in study order), or None.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> study = load_study()
    >>> {a: sum(study.arm(a).factors.values()) for a in infusion_arms(study)}
    {'msc': 1, 'pe_msc': 2}
    >>> reference_infusion_arm(study)
    'msc'
    """
    arms = infusion_arms(study)
    if not arms:
        return None
    return min(arms, key=lambda a: (sum(study.arm(a).factors.values()), study.arm_ids.index(a)))


def infusion_reaction_events(trial: Trial, *, fever_threshold: float = 38.0, window_hours: float = 8.0) -> pd.DataFrame:
    """One row per monitored infusion with its reactions in the 0-``window_hours`` h window.

    Requires ``trial.infusions``; rash and allergy need ``trial.adverse_events`` (NaN without it).

    Returns
    -------
    DataFrame
        ``subject_id``, ``arm``, ``infusion``, ``day``, ``n_readings``, ``max_temperature``,
        ``fever``, ``rash``, ``allergy``, ``any`` (booleans; ``rash``/``allergy``/``any`` are
        missing when there is no adverse-event table), for subjects of infusion arms only.

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> events = infusion_reaction_events(trial)
    >>> len(events), events["subject_id"].nunique()
    (228, 60)
    >>> events[events["any"]][["subject_id", "arm", "infusion", "max_temperature", "fever", "rash"]]
        subject_id     arm  infusion  max_temperature  fever   rash
    62        S065     msc         4             38.7   True  False
    84        S091     msc         3             38.4   True  False
    107       S119     msc         1             38.5   True  False
    150       S040  pe_msc         4             38.8   True  False
    161       S049  pe_msc         3             38.3   True  False
    162       S054  pe_msc         1             38.1   True  False
    213       S106  pe_msc         2             37.1  False   True
    """
    if not trial.has("infusions"):
        raise ValueError("this dataset has no `infusions` table: infusion reactions cannot be assessed")
    study = trial.study
    arms = trial.subjects.set_index(trial.subjects["subject_id"].astype(object))["arm"].astype(object)
    assert trial.infusions is not None  # trial.has("infusions") checked above
    inf = trial.infusions.copy()
    inf["subject_id"] = inf["subject_id"].astype(object)
    inf["arm"] = inf["subject_id"].map(arms)
    inf = inf[inf["arm"].isin(infusion_arms(study))]
    win = inf[(inf["hours_after"] >= 0) & (inf["hours_after"] <= window_hours)]
    keys = ["subject_id", "arm", "infusion"]
    per = (inf.groupby(keys, sort=True)["day"].min().rename("day").to_frame()
              .join(win.groupby(keys)["temperature_c"].agg(["size", "max"])
                    .rename(columns={"size": "n_readings", "max": "max_temperature"}))
              .reset_index())
    per["n_readings"] = per["n_readings"].fillna(0).astype("int64")
    per["fever"] = (per["max_temperature"] >= fever_threshold).to_numpy()
    if trial.has("adverse_events"):
        ae = trial.adverse_events
        assert ae is not None
        ae = ae[ae["hours_after_infusion"].notna() & (ae["hours_after_infusion"] >= 0)
                & (ae["hours_after_infusion"] <= window_hours)]
        for cat in ("rash", "allergy"):
            hits = ae.loc[ae["category"] == cat, ["subject_id", "day"]].astype({"subject_id": object})
            m = per[["subject_id", "day"]].reset_index().merge(hits, on="subject_id", suffixes=("", "_ae"))
            m = m[(m["day_ae"] >= m["day"]) & (m["day_ae"] <= m["day"] + 1)]
            flag = np.zeros(len(per), bool)
            flag[m["index"].unique()] = True
            per[cat] = flag
        per["any"] = per["fever"] | per["rash"] | per["allergy"]
    else:
        for c in ("rash", "allergy", "any"):
            per[c] = pd.array([pd.NA] * len(per), dtype="boolean")
    order = {a: i for i, a in enumerate(study.arm_ids)}
    per = per.sort_values(["arm", "subject_id", "infusion"], key=lambda s: s.map(order) if s.name == "arm" else s)
    return per[["subject_id", "arm", "infusion", "day", "n_readings", "max_temperature", "fever", "rash",
                "allergy", "any"]].reset_index(drop=True)


def _reactions_present(events: pd.DataFrame) -> list[str]:
    return [r for r in REACTIONS if r in events.columns and events[r].notna().all() and len(events)]


def infusion_reactions_by_arm(events: pd.DataFrame, study: Study, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per-patient and per-infusion incidence of each reaction, by infusion arm.

    Parameters
    ----------
    events : DataFrame
        :func:`infusion_reaction_events` output.

    Returns
    -------
    DataFrame
        One row per infusion arm and reaction (``fever``, ``rash``, ``allergy``, ``any``; only
        those assessable): ``arm``, ``reaction``, ``n_patients`` (with >= 1 monitored infusion),
        ``patients_with`` (>= 1 reaction), ``estimate``, ``ci_low``, ``ci_high`` (per patient,
        Clopper-Pearson), ``n_infusions``, ``infusions_with``, ``per_infusion``,
        ``per_infusion_ci_low``, ``per_infusion_ci_high`` (Clopper-Pearson treating infusions as
        independent, which understates the width when reactions cluster within patients).

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> by_arm = infusion_reactions_by_arm(infusion_reaction_events(trial), trial.study)
    >>> by_arm[["arm", "reaction", "n_patients", "patients_with", "estimate", "ci_low", "ci_high"]].round(3)
          arm reaction  n_patients  patients_with  estimate  ci_low  ci_high
    0     msc    fever          30              3     0.100   0.021    0.265
    1     msc     rash          30              0     0.000   0.000    0.116
    2     msc  allergy          30              0     0.000   0.000    0.116
    3     msc      any          30              3     0.100   0.021    0.265
    4  pe_msc    fever          30              3     0.100   0.021    0.265
    5  pe_msc     rash          30              1     0.033   0.001    0.172
    6  pe_msc  allergy          30              0     0.000   0.000    0.116
    7  pe_msc      any          30              4     0.133   0.038    0.307
    >>> by_arm.loc[by_arm["reaction"] == "any", ["arm", "n_infusions", "infusions_with", "per_infusion"]].round(3)
          arm  n_infusions  infusions_with  per_infusion
    3     msc          111               3         0.027
    7  pe_msc          117               4         0.034
    """
    rows = []
    for arm in infusion_arms(study):
        e = events[events["arm"] == arm]
        for r in _reactions_present(events):
            pat = e.groupby("subject_id")[r].any()
            n_p, x_p = int(len(pat)), int(pat.sum())
            n_i, x_i = int(len(e)), int(e[r].astype(bool).sum())
            cp = clopper_pearson(x_p, n_p, alpha).iloc[0] if n_p else pd.Series(dtype=float)
            ci = clopper_pearson(x_i, n_i, alpha).iloc[0] if n_i else pd.Series(dtype=float)
            rows.append({"arm": arm, "reaction": r, "n_patients": n_p, "patients_with": x_p,
                         "estimate": cp.get("estimate", np.nan), "ci_low": cp.get("ci_low", np.nan),
                         "ci_high": cp.get("ci_high", np.nan), "n_infusions": n_i, "infusions_with": x_i,
                         "per_infusion": ci.get("estimate", np.nan),
                         "per_infusion_ci_low": ci.get("ci_low", np.nan),
                         "per_infusion_ci_high": ci.get("ci_high", np.nan)})
    cols = ["arm", "reaction", "n_patients", "patients_with", "estimate", "ci_low", "ci_high", "n_infusions",
            "infusions_with", "per_infusion", "per_infusion_ci_low", "per_infusion_ci_high"]
    return pd.DataFrame(rows, columns=cols)


def infusion_reaction_tests(by_arm: pd.DataFrame, study: Study, *, alpha: float = 0.05) -> pd.DataFrame:
    """Fisher's exact test, per patient, of each infusion arm against the reference infusion arm.

    Returns
    -------
    DataFrame
        :func:`~trialkit.stats.categorical.compare_to_reference` columns with ``arm`` (for
        ``group``) and ``reaction`` first; empty when the study has fewer than two infusion arms.

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> by_arm = infusion_reactions_by_arm(infusion_reaction_events(trial), trial.study)
    >>> tests = infusion_reaction_tests(by_arm, trial.study)
    >>> tests[["reaction", "arm", "reference", "x", "x_ref", "risk_difference", "p_value"]].round(3)
      reaction     arm reference  x  x_ref  risk_difference  p_value
    0    fever  pe_msc       msc  3      3            0.000      1.0
    1     rash  pe_msc       msc  1      0            0.033      1.0
    2  allergy  pe_msc       msc  0      0            0.000      1.0
    3      any  pe_msc       msc  4      3            0.033      1.0
    """
    ref = reference_infusion_arm(study)
    cols = ["reaction", "arm", "reference", "x", "n", "x_ref", "n_ref", "risk_difference", "estimate",
            "ci_low", "ci_high", "p_value"]
    if ref is None or len(infusion_arms(study)) < 2 or by_arm.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for r, sub in by_arm.groupby("reaction", sort=False):
        c = sub.rename(columns={"arm": "group", "patients_with": "x", "n_patients": "n"})
        if (c["group"] == ref).sum() != 1:
            continue
        res = compare_to_reference(c[["group", "x", "n"]], ref, alpha=alpha).rename(columns={"group": "arm"})
        res.insert(0, "reaction", r)
        out.append(res)
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def infusion_reactions_by_number(events: pd.DataFrame, study: Study, *, alpha: float = 0.05) -> pd.DataFrame:
    """Incidence of each reaction by infusion arm and infusion number (dose 1, 2, ...).

    Returns
    -------
    DataFrame
        ``arm``, ``infusion``, ``reaction``, ``n_infusions``, ``infusions_with``, ``estimate``,
        ``ci_low``, ``ci_high`` (Clopper-Pearson; one infusion per patient per number, so these
        are per-patient proportions for that dose).

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> by_number = infusion_reactions_by_number(infusion_reaction_events(trial), trial.study)
    >>> fever = by_number[by_number["reaction"] == "fever"]
    >>> fever[["arm", "infusion", "n_infusions", "infusions_with", "estimate"]].round(3)
           arm  infusion  n_infusions  infusions_with  estimate
    0      msc         1           30               1     0.033
    4      msc         2           30               0     0.000
    8      msc         3           28               1     0.036
    12     msc         4           23               1     0.043
    16  pe_msc         1           30               1     0.033
    20  pe_msc         2           30               0     0.000
    24  pe_msc         3           29               1     0.034
    28  pe_msc         4           28               1     0.036
    """
    rows = []
    for arm in infusion_arms(study):
        e = events[events["arm"] == arm]
        for k, ek in e.groupby("infusion", sort=True):
            for r in _reactions_present(events):
                n, x = int(len(ek)), int(ek[r].astype(bool).sum())
                cp = clopper_pearson(x, n, alpha).iloc[0]
                rows.append({"arm": arm, "infusion": int(k), "reaction": r, "n_infusions": n,
                             "infusions_with": x, "estimate": cp["estimate"], "ci_low": cp["ci_low"],
                             "ci_high": cp["ci_high"]})
    return pd.DataFrame(rows, columns=["arm", "infusion", "reaction", "n_infusions", "infusions_with",
                                       "estimate", "ci_low", "ci_high"])


def temperature_summary(trial: Trial, *, window_hours: float = 8.0, alpha: float = 0.05) -> pd.DataFrame:
    """Body temperature by hour after infusion start, by infusion arm: mean with a t-based CI.

    Each patient contributes one value per time point — the mean of their readings at that hour
    over all their infusions — so the interval reflects between-patient variation.

    Returns
    -------
    DataFrame
        ``arm``, ``hours_after``, ``n`` (patients), ``mean``, ``sd``, ``se``, ``ci_low``,
        ``ci_high`` (``mean +- t(1 - alpha/2; n - 1) se``; NaN when ``n < 2``).

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> temp = temperature_summary(trial)
    >>> temp[temp["arm"] == "msc"][["hours_after", "n", "mean", "ci_low", "ci_high"]].round(2)
       hours_after   n   mean  ci_low  ci_high
    0          0.0  30  36.60   36.52    36.67
    1          1.0  30  36.62   36.54    36.70
    2          2.0  30  36.65   36.56    36.75
    3          4.0  30  36.65   36.55    36.74
    4          8.0  30  36.64   36.56    36.72
    """
    if not trial.has("infusions"):
        raise ValueError("this dataset has no `infusions` table")
    arms = trial.subjects.set_index(trial.subjects["subject_id"].astype(object))["arm"].astype(object)
    assert trial.infusions is not None  # trial.has("infusions") checked above
    inf = trial.infusions[(trial.infusions["hours_after"] >= 0) & (trial.infusions["hours_after"] <= window_hours)]
    inf = inf.assign(subject_id=inf["subject_id"].astype(object))
    inf = inf.assign(arm=inf["subject_id"].map(arms))
    inf = inf[inf["arm"].isin(infusion_arms(trial.study))]
    per = inf.groupby(["arm", "hours_after", "subject_id"])["temperature_c"].mean().reset_index()
    g = per.groupby(["arm", "hours_after"])["temperature_c"]
    out = g.agg(n="size", mean="mean", sd="std").reset_index()
    out["se"] = out["sd"] / np.sqrt(out["n"])
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(1 - alpha / 2, out["n"] - 1)
    out["ci_low"] = np.where(out["n"] > 1, out["mean"] - q * out["se"], np.nan)
    out["ci_high"] = np.where(out["n"] > 1, out["mean"] + q * out["se"], np.nan)
    order = {a: i for i, a in enumerate(trial.study.arm_ids)}
    out = out.sort_values(["arm", "hours_after"], key=lambda s: s.map(order) if s.name == "arm" else s)
    out["n"] = out["n"].astype("int64")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# adverse events
# --------------------------------------------------------------------------------------------
def _ae_with_arm(trial, horizon):
    if not trial.has("adverse_events"):
        raise ValueError("this dataset has no `adverse_events` table")
    arms = trial.subjects.set_index(trial.subjects["subject_id"].astype(object))["arm"].astype(object)
    ae = trial.adverse_events.copy()
    ae["subject_id"] = ae["subject_id"].astype(object)
    ae["arm"] = ae["subject_id"].map(arms)
    if horizon is not None:
        h = trial.study.horizons[horizon] if isinstance(horizon, str) else int(horizon)
        ae = ae[ae["day"] <= h]
    return ae


def ae_incidence(trial: Trial, by: str = "category", *, serious_only: bool = False, related_only: bool = False,
                 horizon: str | int | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Patients with adverse events by arm, with exact CIs and Fisher's test against control.

    Parameters
    ----------
    trial : Trial
        Needs ``adverse_events``.
    by : {"category", "grade", "related", "serious", "term"}
        Rows: each category (or term) with ``>= 1`` event; under ``"grade"`` each patient counts
        once at their worst grade (CTCAE 1-5), plus a ``">=3"`` row; ``"related"`` splits
        related / not related, ``"serious"`` serious / not serious. An ``"any"`` row comes first.
    serious_only, related_only : bool
        Restrict to serious, or to treatment-related, events first.
    horizon : "primary", "secondary", int or None
        Count events with onset up to this study day (default: all).

    Returns
    -------
    DataFrame
        ``level``, ``arm``, ``n`` (randomized), ``n_patients`` (with such an event), ``estimate``,
        ``ci_low``, ``ci_high`` (Clopper-Pearson), ``n_events``, ``p_value`` (two-sided Fisher's
        exact test of the arm against the control arm; NaN for control). Arms in study order.

    Examples
    --------
    Patients with any adverse event, and with one of grade 3 or worse:

    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> inc = ae_incidence(trial, by="grade")
    >>> cols = ["level", "arm", "n_patients", "estimate", "n_events", "p_value"]
    >>> inc[inc["level"].isin(["any", ">=3"])][cols].round(3)
       level      arm  n_patients  estimate  n_events  p_value
    0    any  control          23     0.767        35      NaN
    1    any      msc          19     0.633        30    0.399
    2    any       pe          25     0.833        43    0.748
    3    any   pe_msc          20     0.667        38    0.567
    24   >=3  control          22     0.733        30      NaN
    25   >=3      msc          17     0.567        22    0.279
    26   >=3       pe          22     0.733        38    1.000
    27   >=3   pe_msc          18     0.600        24    0.412
    """
    study = trial.study
    ae = _ae_with_arm(trial, horizon)
    if serious_only:
        ae = ae[ae["serious"].astype(bool)]
    if related_only:
        ae = ae[ae["related"].astype(bool)]
    arm_n = trial.subjects["arm"].astype(object).value_counts()
    groups: list[tuple[str, pd.DataFrame]] = [("any", ae)]
    if by in ("category", "term"):
        groups += [(str(v), ae[ae[by] == v]) for v in sorted(ae[by].astype(object).unique())]
    elif by == "related":
        groups += [("related", ae[ae["related"].astype(bool)]), ("not related", ae[~ae["related"].astype(bool)])]
    elif by == "serious":
        groups += [("serious", ae[ae["serious"].astype(bool)]), ("not serious", ae[~ae["serious"].astype(bool)])]
    elif by != "grade":
        raise ValueError(f"by must be category, grade, related, serious or term; got {by!r}")
    patient_sets = [(lvl, set(g["subject_id"]), g.groupby("arm").size()) for lvl, g in groups]
    if by == "grade":
        worst = ae.groupby("subject_id")["grade"].max()
        for g in sorted(worst.unique()):
            sids = set(worst.index[worst == g])
            patient_sets.append((str(int(g)), sids, ae[ae["subject_id"].isin(sids) & (ae["grade"] == g)]
                                 .groupby("arm").size()))
        high = ae[ae["grade"] >= 3]
        patient_sets.append((">=3", set(high["subject_id"]), high.groupby("arm").size()))
    subj_arm = trial.subjects.set_index(trial.subjects["subject_id"].astype(object))["arm"].astype(object)
    rows = []
    for level, sids, n_ev in patient_sets:
        per_arm = subj_arm[subj_arm.index.isin(sids)].value_counts()
        counts: list[dict[str, Any]] = []
        for arm in study.arm_ids:
            n, x = int(arm_n.get(arm, 0)), int(per_arm.get(arm, 0))
            counts.append({"group": arm, "x": x, "n": n})
        c = pd.DataFrame(counts)
        tests = {}
        if study.control_arm in c["group"].tolist() and arm_n.get(study.control_arm, 0) > 0:
            t = compare_to_reference(c[c["n"] > 0], study.control_arm, alpha=alpha, odds_ratio=False)  # p only
            tests = dict(zip(t["group"], t["p_value"]))
        for r in counts:
            cp = clopper_pearson(r["x"], r["n"], alpha).iloc[0] if r["n"] else {}
            rows.append({"level": level, "arm": r["group"], "n": r["n"], "n_patients": r["x"],
                         "estimate": cp.get("estimate", np.nan), "ci_low": cp.get("ci_low", np.nan),
                         "ci_high": cp.get("ci_high", np.nan), "n_events": int(n_ev.get(r["group"], 0)),
                         "p_value": tests.get(r["group"], np.nan)})
    return pd.DataFrame(rows, columns=["level", "arm", "n", "n_patients", "estimate", "ci_low", "ci_high",
                                       "n_events", "p_value"])


def format_incidence(table: pd.DataFrame, study: Study, *, count: str = "n_patients") -> pd.DataFrame:
    """Display form of :func:`ae_incidence`: one row per level, ``k (x.x%)`` per arm label.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> t = pd.DataFrame({"level": ["any"] * 4, "arm": ["control", "msc", "pe", "pe_msc"],
    ...                   "n": [10, 10, 10, 10], "n_patients": [1, 2, 0, 10]})
    >>> format_incidence(t, load_study()).iloc[0].tolist()
    ['any', '1 (10.0%)', '2 (20.0%)', '0 (0.0%)', '10 (100.0%)']
    """
    t = table.copy()
    t["cell"] = [f"{k} ({100 * k / n:.1f}%)" if n else "-" for k, n in zip(t[count], t["n"])]
    wide = t.pivot(index="level", columns="arm", values="cell")
    wide = wide.reindex(index=list(pd.unique(t["level"])), columns=[a for a in study.arm_ids if a in wide.columns])
    wide.columns = [f"{study.arm_labels[a]} (N={int(t.loc[t['arm'] == a, 'n'].iloc[0])})" for a in wide.columns]
    return wide.rename_axis("level").reset_index()


def event_rates(trial: Trial, *, by: str | None = None, horizon: str | int = "primary", per: float = 100.0,
                alpha: float = 0.05) -> pd.DataFrame:
    """Adverse events per patient-time by arm, exact Poisson CIs, and the rate ratio vs control.

    Patient-time runs from randomization (day 0) to the end of follow-up (last contact or death),
    capped at the horizon, in years (365.25 days); events with onset after the horizon are not
    counted. Recurrent events all count.

    Parameters
    ----------
    by : str, optional
        An ``adverse_events`` column (e.g. ``"category"``) to split the events by (default: all).
    per : float, default 100
        Rates are per ``per`` patient-years.

    Returns
    -------
    DataFrame
        ``level`` (``"all"`` or the ``by`` value), ``arm``, ``n``, ``events``, ``patient_years``,
        ``estimate``, ``ci_low``, ``ci_high`` (rate per ``per`` patient-years),
        ``rate_ratio``, ``rr_ci_low``, ``rr_ci_high``, ``p_value`` (exact conditional test vs the
        control arm, :func:`~trialkit.stats.categorical.rate_ratio_exact`; NaN for control).

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> rates = event_rates(trial)  # all events to the primary horizon, per 100 patient-years
    >>> rates[["level", "arm", "events", "patient_years", "estimate", "rate_ratio", "p_value"]].round(2)
      level      arm  events  patient_years  estimate  rate_ratio  p_value
    0   all  control      35          15.80    221.48         NaN      NaN
    1   all      msc      30          19.09    157.16        0.71     0.17
    2   all       pe      43          14.34    299.90        1.35     0.21
    3   all   pe_msc      38          19.17    198.22        0.89     0.64
    """
    from trialkit.derive.status import follow_up_status

    study = trial.study
    h = study.horizons[horizon] if isinstance(horizon, str) else int(horizon)
    ae = _ae_with_arm(trial, h)
    st = follow_up_status(trial, h)
    st["years"] = np.clip(np.nan_to_num(st["end_day"].to_numpy(dtype=float)), 0, h) / DAY_LENGTHS["year"]
    py = st.groupby("arm")["years"].sum()
    n = st.groupby("arm").size()
    levels = [("all", ae)]
    if by is not None:
        levels += [(str(v), ae[ae[by] == v]) for v in sorted(ae[by].astype(object).unique())]
    rows = []
    ctl = study.control_arm
    for level, e in levels:
        ev = e.groupby("arm").size()
        for arm in study.arm_ids:
            k, t = int(ev.get(arm, 0)), float(py.get(arm, 0.0))
            r = poisson_rate_ci(k, t, alpha, per=per).iloc[0]
            rr = {"estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p_value": np.nan}
            if arm != ctl and t > 0 and py.get(ctl, 0) > 0:
                rr = rate_ratio_exact(k, t, int(ev.get(ctl, 0)), float(py[ctl]), alpha)
            rows.append({"level": level, "arm": arm, "n": int(n.get(arm, 0)), "events": k, "patient_years": t,
                         "estimate": r["estimate"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                         "rate_ratio": rr["estimate"], "rr_ci_low": rr["ci_low"], "rr_ci_high": rr["ci_high"],
                         "p_value": rr["p_value"]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# laboratory shift tables
# --------------------------------------------------------------------------------------------
def ctcae_grade(values: npt.ArrayLike, parameter: str, uln: float) -> np.ndarray:
    """CTCAE v5.0 grade (0-4) of lab values from multiples of the ULN; NaN stays NaN (as -1).

    ALT/AST: G1 > ULN-3.0x, G2 > 3.0-5.0x, G3 > 5.0-20.0x, G4 > 20.0x ULN. TBIL: G1 > ULN-1.5x,
    G2 > 1.5-3.0x, G3 > 3.0-10.0x, G4 > 10.0x ULN. Grade 0: at or below the ULN. A value exactly at
    a bound takes the lower grade ("> 3.0 x ULN" is grade 2).

    Returns
    -------
    ndarray of int
        Grades, with -1 where the value is missing.

    Examples
    --------
    Exactly 3.0 x ULN (120 U/L) is still grade 1:

    >>> ctcae_grade([40, 41, 120, 121, np.nan], "ALT", uln=40).tolist()
    [0, 1, 1, 2, -1]
    """
    if parameter not in CTCAE_V5:
        raise ValueError(f"no CTCAE v5 grading rule for {parameter!r}; known: {sorted(CTCAE_V5)}")
    x = np.asarray(values, dtype=float) / float(uln)
    bounds = np.array(CTCAE_V5[parameter])
    g = np.searchsorted(bounds, x, side="left")  # x <= 1.0 -> 0; 1.0 < x <= 3.0 -> 1; ...
    return np.where(np.isnan(x), -1, g).astype(int)


def grading_rules(study: Study, parameters: Sequence[str]) -> str:
    """The CTCAE v5.0 grade bounds of ``parameters`` in words, with the study file's labels: what a
    shift table's grades mean.

    Examples
    --------
    >>> from trialkit.study import study_from_dict
    >>> s = study_from_dict({"arms": [{"id": "c"}], "control_arm": "c", "horizons": {"primary": 10},
    ...                      "parameters": {"TBIL": {"unit": "mg/dL", "label": "Bilirubin"}}})
    >>> grading_rules(s, ["TBIL"])
    'CTCAE v5.0 grades as multiples of the ULN: Bilirubin (TBIL): grade 1 above the ULN to 1.5×, 2 to 3×, 3 to 10×, 4 above 10×.'
    >>> grading_rules(s, [])
    ''
    """
    def bounds(p):
        b = [f"{x:g}×" for x in CTCAE_V5[p][1:]]
        return f"grade 1 above the ULN to {b[0]}, 2 to {b[1]}, 3 to {b[2]}, 4 above {b[2]}"

    parts = [f"{study.parameters[p].label} ({p}): {bounds(p)}" if study.parameters[p].label != p else f"{p}: {bounds(p)}"
             for p in parameters]
    return f"CTCAE v5.0 grades as multiples of the ULN: {'; '.join(parts)}." if parts else ""


def uln_for(study: Study, parameter: str, uln: float | None = None) -> float:
    """The upper limit of normal of ``parameter`` in the unit the study file declares for it.

    ``uln`` (already in the declared unit) wins; else the study file's ``uln`` for the parameter;
    else :data:`DEFAULT_ULN` converted to the declared unit (TBIL 17.1 µmol/L = 1.0 mg/dL).

    Examples
    --------
    >>> from trialkit.study import load_study, study_from_dict
    >>> uln_for(load_study(), "TBIL")
    17.1
    >>> mg = study_from_dict({"arms": [{"id": "c"}], "control_arm": "c", "horizons": {"primary": 10},
    ...                       "parameters": {"TBIL": {"unit": "mg/dL"}}})
    >>> uln_for(mg, "TBIL")
    1.0
    """
    if uln is not None:
        return float(uln)
    spec = study.parameters[parameter]
    if spec.uln is not None:
        return float(spec.uln)
    if parameter not in DEFAULT_ULN:
        raise ValueError(f"no upper limit of normal for {parameter}: declare `uln` for it in the study file")
    from trialkit.derive.severity import convert_unit

    value, unit = DEFAULT_ULN[parameter]
    try:
        return convert_unit(value, parameter, unit, spec.unit)
    except ValueError:
        raise ValueError(f"{parameter} is in {spec.unit!r} in this study but the default ULN is {value} {unit}; "
                         "declare `uln` in the study file, in the study's unit") from None



def shift_parameters(trial: Trial, uln: dict | None = None) -> list[str]:
    """The measured labs that get a CTCAE shift table, in study-file order: those with a grading rule
    (:data:`CTCAE_V5`: ALT, AST, TBIL) given in ``uln`` or with ``uln`` in the study file; when none
    is, those with a :data:`DEFAULT_ULN`. A ``uln`` declared for another parameter (e.g. alkaline
    phosphatase) grades nothing.

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> shift_parameters(simulate(seed=1))  # the default study declares ULNs for ALT and TBIL
    ['ALT', 'TBIL']
    """
    study = trial.study
    measured = set(trial.labs["parameter"].astype(object).unique()) if trial.labs is not None else set()
    chosen = [p for p, spec in study.parameters.items()
              if p in measured and p in CTCAE_V5 and (p in (uln or {}) or getattr(spec, "uln", None) is not None)]
    return chosen or [p for p in study.parameters if p in measured and p in DEFAULT_ULN]


def shift_table(trial: Trial, parameter: str, *, uln: float | None = None, horizon: str | int = "primary") -> pd.DataFrame:
    """Grade shift from baseline to the worst post-baseline value, by arm (CTCAE v5, x ULN).

    Baseline: the baseline value of :func:`trialkit.derive.baseline.baseline_labs` (last value in
    the baseline window). Worst post-baseline: the highest value measured on study days 1 to the
    horizon, scheduled or not.

    Returns
    -------
    DataFrame
        One row per arm (study order) and baseline grade (``"0"``-``"4"``, ``"missing"``; only
        rows with subjects): ``arm``, ``parameter``, ``uln``, ``baseline_grade``, ``grade_0`` ...
        ``grade_4`` (subjects by worst post-baseline grade), ``no_post_baseline``, ``n``.

    Examples
    --------
    ALT grades in the control arm (default ULN 40 U/L): rows are the baseline grade, columns the
    worst grade after baseline.

    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> st = shift_table(trial, "ALT")
    >>> st[st["arm"] == "control"][["baseline_grade", "grade_0", "grade_1", "grade_2", "grade_3", "grade_4", "n"]]
      baseline_grade  grade_0  grade_1  grade_2  grade_3  grade_4   n
    0              0        1        0        0        0        0   1
    1              1        2        8        0        0        0  10
    2              2        0        2        3        0        0   5
    3              3        0        2        7        4        0  13
    4              4        0        0        0        1        0   1
    """
    from trialkit.derive.baseline import baseline_labs

    study = trial.study
    u = uln_for(study, parameter, uln)
    h = study.horizons[horizon] if isinstance(horizon, str) else int(horizon)
    bl = baseline_labs(trial, [parameter])
    labs = trial.labs[(trial.labs["parameter"] == parameter) & (trial.labs["day"] >= 1) & (trial.labs["day"] <= h)]
    worst = labs.assign(subject_id=labs["subject_id"].astype(object)).groupby("subject_id")["value"].max()
    d = pd.DataFrame({"subject_id": bl["subject_id"],
                      "arm": trial.subjects["arm"].astype(object).to_numpy()})
    d["base"] = ctcae_grade(bl[parameter] if parameter in bl else np.full(len(bl), np.nan), parameter, u)
    d["worst"] = ctcae_grade(d["subject_id"].map(worst).astype(float), parameter, u)
    rows = []
    for arm in study.arm_ids:
        a = d[d["arm"] == arm]
        for b in ["0", "1", "2", "3", "4", "missing"]:
            s = a[a["base"] == (-1 if b == "missing" else int(b))]
            if s.empty:
                continue
            row = {"arm": arm, "parameter": parameter, "uln": u, "baseline_grade": b}
            for g in range(5):
                row[f"grade_{g}"] = int((s["worst"] == g).sum())
            row["no_post_baseline"] = int((s["worst"] == -1).sum())
            row["n"] = len(s)
            rows.append(row)
    cols = ["arm", "parameter", "uln", "baseline_grade", *[f"grade_{g}" for g in range(5)], "no_post_baseline", "n"]
    return pd.DataFrame(rows, columns=cols)
