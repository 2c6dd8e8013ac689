"""Time-to-event analysis datasets (ADTTE-like), one per estimand.

Every function returns one row per randomized subject with ``subject_id``, ``arm``, one 0/1 column
per treatment factor of the study file (so a factorial Cox model can be fitted directly), ``time``
(study days) and ``event`` (1 = the endpoint's event, 0 = censored). Follow-up is censored at the
subject's ``last_contact`` or at the analysis horizon, whichever comes first; an event after the
horizon counts as censored at the horizon.

Endpoints (the intercurrent event liver transplantation, LT, is what differs):

``"transplant_free"``
    Death or LT, whichever comes first (composite strategy; the registry's "unfavourable outcome").
``"death_lt_censored"``
    Death; follow-up is censored at LT (a hypothetical "had LT not been available" estimand,
    valid only if LT is non-informative — a sensitivity analysis).
``"overall"``
    Death whenever it happens, LT ignored (treatment-policy strategy; deaths after LT count).

:func:`competing_risks` is the one competing-risks dataset of the kit (``status``: the name of the
first event, ``"hcc"``, ``"death"`` or ``"transplant"``, or ``"censored"``; ``event`` 1 for the
cause of interest), used for cumulative incidence (:mod:`trialkit.stats.competing`: death with LT
competing, HCC with death and LT competing), event counts and cause-specific Cox models.

Examples
--------
>>> import pandas as pd
>>> from trialkit.study import load_study
>>> subjects = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["control", "msc", "pe"]})
>>> events = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "c"],
...                        "event": ["death", "last_contact", "transplant", "last_contact", "last_contact"],
...                        "day": [40, 40, 20, 336, 400]})
>>> time_to_event(subjects, events, load_study())[["subject_id", "msc", "pe", "time", "event"]]
  subject_id  msc  pe   time  event
0          a    0   0   40.0      1
1          b    1   0   20.0      1
2          c    0   1  336.0      0
>>> time_to_event(subjects, events, load_study(), endpoint="overall")["time"].tolist()
[40.0, 336.0, 336.0]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.study import DAY_LENGTHS

if TYPE_CHECKING:
    from trialkit.data.trial import Trial
    from trialkit.study import Study

__all__ = ["ENDPOINTS", "time_to_event", "competing_risks", "event_days", "horizon_days", "horizon_label",
           "horizon_text", "landmark_days", "factor_columns", "estimands", "sensitivity_endpoints"]

ENDPOINTS = ("transplant_free", "death_lt_censored", "overall")
_EVENT_NAMES = ("death", "transplant", "hcc")


def _unpack(trial_or_subjects, events, study):
    """Accept a Trial, or (subjects, events, study)."""
    if events is None and hasattr(trial_or_subjects, "subjects"):
        t = trial_or_subjects
        return t.subjects, t.events, t.study
    if events is None or study is None:
        raise TypeError("pass a Trial, or subjects, events and study")
    return trial_or_subjects, events, study


def horizon_days(study: Study, horizon: str | int | float | None) -> float:
    """Resolve ``horizon``: a key of ``study.horizons`` (``"primary"``), a number of days, or None (∞).

    >>> from trialkit.study import load_study
    >>> horizon_days(load_study(), "primary"), horizon_days(load_study(), 100)
    (336.0, 100.0)
    """
    if horizon is None:
        return float("inf")
    if isinstance(horizon, str):
        if horizon not in study.horizons:
            raise KeyError(f"horizon {horizon!r} is not in the study file's horizons {list(study.horizons)}")
        return float(study.horizons[horizon])
    return float(horizon)


def horizon_label(days: float) -> str:
    """A study day in the unit it was most likely set in: whole weeks, whole years, else days.

    >>> [horizon_label(d) for d in (336, 1826.25, 100, 28)]
    ['week 48', 'year 5', 'day 100', 'week 4']
    """
    year = DAY_LENGTHS["year"]
    if days % 7 == 0:
        return f"week {days / 7:g}"
    if days % year == 0:
        return f"year {days / year:g}"
    return f"day {days:g}"


def horizon_text(days: float) -> str:
    """``"day 336 (week 48)"``, ``"day 1826.25 (year 5)"``, ``"day 100"``: a horizon as the notebooks print it.

    >>> horizon_text(336), horizon_text(1826.25), horizon_text(100)
    ('day 336 (week 48)', 'day 1826.25 (year 5)', 'day 100')
    """
    label = horizon_label(days)
    return f"day {days:g}" if label.startswith("day ") else f"day {days:g} ({label})"


def landmark_days(study: Study, weeks: Sequence[float], horizon: str | int | float | None = "primary") -> list[float]:
    """The study days at which survival is reported: the landmark ``weeks`` before ``horizon``, then the horizon.

    A landmark less than a week before the horizon is left out: the horizon's own row reports that
    time (a 5-year horizon is day 1826.25, week 260.9; a week-260 landmark beside it would show the
    same survival twice). Landmarks after the horizon are left out too.

    >>> from trialkit.study import load_study
    >>> landmark_days(load_study(), [4, 12, 24, 48, 60])
    [28.0, 84.0, 168.0, 336.0]
    >>> landmark_days(load_study(), [52, 104, 260], horizon=1826.25)
    [364.0, 728.0, 1826.25]
    """
    h = horizon_days(study, horizon)
    days = {7.0 * float(w) for w in weeks if 7.0 * float(w) <= h - 7.0 or 7.0 * float(w) == h}
    return sorted(days | ({h} if np.isfinite(h) else set()))


def factor_columns(subjects: pd.DataFrame, study: Study) -> pd.DataFrame:
    """``subject_id``, ``arm`` and one 0/1 column per factor of the study file, from each subject's arm.

    >>> import pandas as pd
    >>> from trialkit.study import load_study
    >>> factor_columns(pd.DataFrame({"subject_id": ["x"], "arm": ["pe_msc"]}), load_study())
      subject_id     arm  msc  pe
    0          x  pe_msc    1   1
    """
    af = study.arm_factors().drop(columns="label")
    clash = {"subject_id", "time", "event", "status"} & set(study.factors)
    if clash:
        raise ValueError(f"factor name(s) {sorted(clash)} clash with analysis columns; rename them in the study file")
    for f in study.factors:
        af[f] = af[f].astype("int64")
    out = subjects[["subject_id", "arm"]].astype({"subject_id": object, "arm": object})
    out = out.merge(af, on="arm", how="left", validate="many_to_one")
    if out[list(study.factors)].isna().any().any():
        bad = sorted(out.loc[out[list(study.factors)].isna().any(axis=1), "arm"].unique())
        raise ValueError(f"arm(s) {bad} are not in the study file")
    return out.reset_index(drop=True)


def event_days(subjects: pd.DataFrame, events: pd.DataFrame, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per subject, the day of each event type (NaN when it did not happen) and ``end``, the last day
    of follow-up (``last_contact``, else the day of death).

    ``names``: the event types to report (a study's ``event_names``); ``death``, ``transplant`` and
    ``hcc`` are always present (NaN when a study does not record them).

    >>> import pandas as pd
    >>> s = pd.DataFrame({"subject_id": ["a", "b"]})
    >>> e = pd.DataFrame({"subject_id": ["a", "b"], "event": ["death", "last_contact"], "day": [5, 9]})
    >>> event_days(s, e)
      subject_id  death  transplant  hcc  last_contact  end
    0          a    5.0         NaN  NaN           NaN  5.0
    1          b    NaN         NaN  NaN           9.0  9.0
    """
    ev = events[["subject_id", "event", "day"]].astype({"subject_id": object, "event": object})
    cols = list(dict.fromkeys([*_EVENT_NAMES, *(names or ()), "last_contact"]))
    ev = ev[ev["event"].isin(cols)]
    first = ev.groupby(["subject_id", "event"], sort=False)["day"].min().astype(float).unstack("event")
    first = first.reindex(columns=cols)
    out = pd.DataFrame({"subject_id": subjects["subject_id"].astype(object).to_numpy()})
    out = out.join(first, on="subject_id")
    out["end"] = out["last_contact"].fillna(out["death"])
    out["end"] = np.fmax(out["end"], out["death"])  # a death is never before the last contact
    if out["end"].isna().any():
        n = int(out["end"].isna().sum())
        raise ValueError(f"{n} subject(s) have neither last_contact nor death: follow-up is unknown")
    return out


def time_to_event(trial_or_subjects: Trial | pd.DataFrame, events: pd.DataFrame | None = None,
                  study: Study | None = None, *,
                  endpoint: str = "primary", horizon: str | float | None = "primary") -> pd.DataFrame:
    """Time-to-event dataset for one endpoint (see the module docstring for the estimands).

    Parameters
    ----------
    trial_or_subjects : Trial or DataFrame
        A :class:`~trialkit.Trial`, or its ``subjects`` table (then pass ``events`` and ``study``).
    events : DataFrame, optional
    study : Study, optional
    endpoint : str, default "primary"
        A key of the study file's ``endpoints`` (``"primary"``: the declared primary endpoint; its
        ``events`` make it, ``competing`` and ``censor`` events end follow-up without the event), or
        one of the liver-trial estimands ``"transplant_free"``, ``"death_lt_censored"``, ``"overall"``.
    horizon : str, float or None
        ``"primary"`` (default) or another key of ``study.horizons``, a number of days, or None.

    Returns
    -------
    DataFrame
        One row per subject, in the order of ``subjects``: ``subject_id``, ``arm``, one 0/1 column per
        factor, ``time`` (days, float), ``event`` (0/1 int).

    Notes
    -----
    An event on the day of the last contact counts. For ``"death_lt_censored"`` a death on the day of
    LT is a death (event), an LT strictly before death censors follow-up at the LT day.

    Examples
    --------
    ``a`` had a transplant on day 60 and died on day 200, ``b`` died on day 30, ``c`` was followed
    past the primary horizon (336 days):

    >>> import pandas as pd
    >>> from trialkit.study import load_study
    >>> subjects = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["msc", "control", "pe"]})
    >>> events = pd.DataFrame({"subject_id": ["a", "a", "a", "b", "b", "c"], "day": [60, 200, 200, 30, 30, 400],
    ...                        "event": ["transplant", "death", "last_contact", "death", "last_contact",
    ...                                  "last_contact"]})
    >>> for endpoint in ENDPOINTS:
    ...     d = time_to_event(subjects, events, load_study(), endpoint=endpoint)
    ...     print(f"{endpoint:18}", d["time"].tolist(), d["event"].tolist())
    transplant_free    [60.0, 30.0, 336.0] [1, 1, 0]
    death_lt_censored  [60.0, 30.0, 336.0] [0, 1, 0]
    overall            [200.0, 30.0, 336.0] [1, 1, 0]
    >>> time_to_event(subjects, events, load_study(), endpoint="overall", horizon=100)
      subject_id      arm  msc  pe   time  event
    0          a      msc    1   0  100.0      0
    1          b  control    0   0   30.0      1
    2          c       pe    0   1  100.0      0
    """
    subjects, events, study = _unpack(trial_or_subjects, events, study)
    declared = getattr(study, "endpoints", {}) or {}
    if endpoint not in ENDPOINTS and endpoint not in declared:
        raise ValueError(f"endpoint {endpoint!r}: expected one of {[*declared, *ENDPOINTS]}")
    h = horizon_days(study, horizon)
    d = event_days(subjects, events, getattr(study, "event_names", None))
    if endpoint in declared:
        spec = declared[endpoint]
        ev_day = d[list(spec.events)].min(axis=1)
        stop = d[list(spec.competing + spec.censor)].min(axis=1) if spec.competing + spec.censor else np.nan
        ev_day = ev_day.where(~(stop < ev_day))  # a competing or censoring event first: no event
        end = np.fmin(d["end"], stop)
    elif endpoint == "transplant_free":
        ev_day = np.fmin(d["death"], d["transplant"])
        end = d["end"]
    elif endpoint == "overall":
        ev_day = d["death"]
        end = d["end"]
    else:  # death_lt_censored
        lt_first = d["transplant"].notna() & ~(d["death"] <= d["transplant"])
        ev_day = d["death"].where(~lt_first)
        end = d["end"].where(~lt_first, d["transplant"])
    has = ev_day.notna() & (ev_day <= h)
    time = np.where(has, ev_day, np.fmin(end, h))
    out = factor_columns(subjects, study)
    out["time"] = time.astype(float)
    out["event"] = has.astype("int64").to_numpy()
    return out


def competing_risks(trial_or_subjects: Trial | pd.DataFrame, events: pd.DataFrame | None = None,
                    study: Study | None = None, *,
                    cause: str = "death", competing: tuple[str, ...] | list[str] = ("transplant",),
                    horizon: str | float | None = "primary") -> pd.DataFrame:
    """Competing-risks dataset: the first of ``cause`` and the ``competing`` events ends follow-up.

    Parameters
    ----------
    trial_or_subjects : Trial or DataFrame
        A :class:`~trialkit.Trial`, or its ``subjects`` table (then pass ``events`` and ``study``).
    events : DataFrame, optional
    study : Study, optional
    cause : str
        The event of interest: ``"death"``, ``"transplant"`` or ``"hcc"``.
    competing : sequence of str
        Events that preclude ``cause`` (e.g. ``("death", "transplant")`` for HCC).
    horizon : see :func:`time_to_event`

    Returns
    -------
    DataFrame
        One row per subject, in the order of ``subjects``: ``subject_id``, ``arm``, one 0/1 column
        per factor, ``time`` (days, float: the first of the events, else the end of follow-up =
        last contact or death, capped at the horizon), ``status`` (str: ``cause``, the competing
        event that came first, or ``"censored"``) and ``event`` (0/1 int: ``status == cause``).
        A cause and a competing event on the same day count as the cause; an event after the
        horizon is censored at the horizon.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.study import load_study
    >>> s = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["control", "msc", "msc"]})
    >>> e = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "c"],
    ...                   "event": ["death", "last_contact", "hcc", "last_contact", "last_contact"],
    ...                   "day": [40, 40, 100, 200, 300]})
    >>> competing_risks(s, e, load_study(), cause="hcc", competing=["death"])[["time", "status", "event"]]
        time    status  event
    0   40.0     death      0
    1  100.0       hcc      1
    2  300.0  censored      0
    """
    subjects, events, study = _unpack(trial_or_subjects, events, study)
    names = [cause, *competing]
    known = list(dict.fromkeys([*_EVENT_NAMES, *getattr(study, "event_names", ())]))
    for n in names:
        if n not in known:
            raise ValueError(f"event {n!r}: expected one of {', '.join(known)}")
    if cause in competing:
        raise ValueError(f"{cause!r} cannot compete with itself")
    h = horizon_days(study, horizon)
    d = event_days(subjects, events, known)
    days = d[names].to_numpy(dtype=float)  # the cause first: it wins a tie (argmin keeps the first)
    any_event = ~np.isnan(days).all(axis=1)
    which = np.argmin(np.where(np.isnan(days), np.inf, days), axis=1)
    first = pd.Series(np.where(any_event, days[np.arange(len(d)), which], np.nan), index=d.index)
    has = first.notna() & (first <= h)
    status = np.where(has, np.array(names, dtype=object)[which], "censored")
    # follow-up for the cause continues after an LT only if LT is not competing; death always ends it
    end = d["end"]
    time = np.where(has, first, np.fmin(end, h))
    out = factor_columns(subjects, study)
    out["time"] = time.astype(float)
    out["status"] = pd.Series(status, dtype=object).astype(str).to_numpy(dtype=object)
    out["event"] = (out["status"] == cause).astype("int64")
    return out


def sensitivity_endpoints(study: Study) -> list[str]:
    """The intercurrent-event strategies of :data:`ENDPOINTS` that a study supports as sensitivity
    analyses of survival: all three when it declares a ``transplant`` event, else none.

    Examples
    --------
    >>> from trialkit.study import load_study, study_from_dict
    >>> sensitivity_endpoints(load_study())
    ['transplant_free', 'death_lt_censored', 'overall']
    >>> sensitivity_endpoints(study_from_dict({"arms": [{"id": "a"}], "control_arm": "a", "horizons": {"primary": 30}}))
    []
    """
    return list(ENDPOINTS) if "transplant" in study.events else []


_SURVIVAL_TEXT = {
    "transplant_free": ("transplant-free survival: time to death or liver transplantation (LT), whichever first",
                        "LT: composite (LT is an event, as death)"),
    "death_lt_censored": ("survival: time to death, follow-up censored at LT",
                          "LT: hypothetical (survival had LT not been available; assumes LT is uninformative)"),
    "overall": ("overall survival: time to death, LT ignored",
                "LT: treatment policy (deaths after LT count)"),
}


def estimands(study: Study, *, survival_endpoint: str = "primary") -> pd.DataFrame:
    """The estimands of the efficacy analysis (ICH E9(R1)), one row per endpoint, from the study file.

    ``survival_endpoint`` is a key of the study's ``endpoints`` (default ``"primary"``) or one of the
    transplant strategies of :data:`ENDPOINTS`. Rows for labs, symptoms, immune markers and other
    declared events appear only when the study file declares them.

    Returns
    -------
    DataFrame
        ``endpoint``, ``population``, ``variable``, ``intercurrent_events`` (and the strategy for
        each), ``summary_measure``.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> estimands(load_study())["endpoint"].tolist()
    ['Primary: survival', 'Secondary: labs and scores', 'Symptoms', 'Immune function', 'HCC', 'Composite sensitivity']
    """
    declared = getattr(study, "endpoints", {}) or {}
    if survival_endpoint not in ENDPOINTS and survival_endpoint not in declared:
        raise ValueError(f"survival_endpoint {survival_endpoint!r}: expected one of {[*declared, *ENDPOINTS]}")
    wk = {k: horizon_label(v) for k, v in study.horizons.items()}
    prim, sec = wk["primary"], wk.get("secondary", wk["primary"])
    ctrl = study.arm_labels[study.control_arm]
    pop = f"all randomized subjects, analysed as randomized ({len(study.arms)} arms; control: {ctrl})"
    liver = "transplant" in study.events  # the transplant strategies of the liver-trial estimands
    if survival_endpoint in declared:
        ep = declared[survival_endpoint]
        label = {e: study.events[e].label.lower() for e in study.events}
        var = f"{ep.name}: time to {' or '.join(label[e] for e in ep.events)}" + (
            ", whichever comes first" if len(ep.events) > 1 else "")
        composite = ([f"{' and '.join(label[e] for e in ep.events)}: composite (the first is the event)"]
                     if len(ep.events) > 1 else [])
        ice = "; ".join([*composite, *(f"{label[e]}: competing (follow-up ends without the event)" for e in ep.competing),
                         *(f"{label[e]}: censored (hypothetical)" for e in ep.censor)]) or "none declared"
    else:
        var, ice = _SURVIVAL_TEXT[survival_endpoint]
    dead = "death and LT" if liver else "death"
    rows = [
        ("Primary: survival", pop, f"{var}, up to {prim}",
         f"{ice}; missed or incomplete treatment: treatment policy; loss to follow-up: censored (non-informative)",
         f"hazard ratio (Cox, Efron ties); Kaplan-Meier survival at fixed weeks; RMST difference to {prim}"),
    ]
    if study.parameters:
        rows.append(("Secondary: labs and scores", pop + ", with a baseline value",
                     f"change from baseline at each visit to {sec} (log ratio for log-transformed labs)",
                     (f"{dead}: while alive (mean change among patients alive"
                      + (" and transplant-free" if liver else "") + " at the horizon"
                      + ("; values after LT dropped" if liver else "") + "); missing visits among survivors: "
                      "missing at random given earlier values"),
                     f"difference in LS-mean change vs control at {sec} (ratio of geometric means on the log scale)"))
    if study.symptoms:
        rows.append(("Symptoms", pop + ", with the symptom at baseline",
                     f"symptom improved (score below baseline) at {sec}",
                     f"{dead}: composite (counted as not improved; worst category in the ordinal test)",
                     "proportion improved and its difference vs control; Wilcoxon-Mann-Whitney probabilistic index"))
    markers = list(getattr(study, "immune_markers", ()))
    if markers:
        rows.append(("Immune function", pop + ", with a baseline value",
                     f"change from baseline of {', '.join(markers)} (log)"
                     + (f" and log({'/'.join(markers)})" if len(markers) == 2 else "") + f" to {sec}",
                     f"{dead}: while alive" + (" and transplant-free" if liver else ""),
                     "ratio of geometric means vs control"))
    for e in getattr(study, "other_events", []):
        name = e.upper() if len(e) <= 4 else study.events[e].label
        competing = " and ".join(study.events[x].label.lower() for x in study.primary_endpoint.events)
        rows.append((name, pop, f"{study.events[e].label.lower()} by {prim}",
                     f"{competing}: competing risks (Aalen-Johansen cumulative incidence)",
                     f"cumulative incidence at {prim}"))
    if study.parameters:
        what = "death/LT" if liver else "death"
        rows.append(("Composite sensitivity", pop + ", with a baseline value",
                     f"worst-rank of change at {sec}: {what} by {sec} ranked below every survivor, earlier = worse",
                     f"{dead}: composite (worst rank)", "probabilistic index (win probability) vs control"))
    return pd.DataFrame(rows, columns=["endpoint", "population", "variable", "intercurrent_events",
                                       "summary_measure"])
