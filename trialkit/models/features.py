"""The predictive analysis dataset: baseline features, the outcome by a horizon, and a leakage guard.

Features are what a clinician knows on the day of randomization (study day 0): the documented
baseline columns of ``subjects``, every lab parameter's baseline value, the baseline severity scores
(computed by :func:`trialkit.derive.severity.add_scores` through :func:`trialkit.derive.baseline_dataset`),
the baseline symptom scores and the randomized treatment (one 0/1 column per factor of the study
file, plus ``arm`` when the factors do not identify the arm). Nothing measured after day 0 enters:
before anything is derived, lab and symptom rows after ``min(baseline window end, 0)`` are removed,
and :func:`check_baseline_only` re-derives every feature from those rows alone and refuses a feature
table whose columns or values differ (a post-baseline value planted in it, an exposure column such
as ``<factor>_doses``, a status or outcome column).

The outcome is death or liver transplantation (transplant-free survival's event, whichever first)
by the horizon: 1 if it happened on or before the horizon, 0 if the subject was followed event-free
to the horizon's completion day (:func:`trialkit.derive.status.completion_day`), unknown (NaN)
otherwise (lost before the horizon). Subjects with an unknown outcome are left out of the binary
analyses; the time-to-event view uses their follow-up as well.

Examples
--------
>>> from trialkit.datasets import example
>>> trial = example(seed=5)
>>> data = analysis_dataset(trial)
>>> xy = split_xy(data)
>>> xy.X.shape[0] == len(xy.y) <= trial.n_subjects, set(xy.y.tolist()) <= {0, 1}
(True, True)
>>> outcome_summary(data)[["horizon", "n_subjects", "n_known"]].iloc[0].tolist()
[336, 120, 117]
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from trialkit.errors import TrialkitError

if TYPE_CHECKING:
    from trialkit.data.trial import Trial
    from trialkit.study import Study

__all__ = ["SUBJECT_BASELINE_COLUMNS", "RISK_SCORES", "OUTCOME_COLUMNS", "LeakageError", "baseline_cutoff",
           "trial_up_to_baseline", "baseline_features", "check_baseline_only", "binary_outcome",
           "analysis_dataset", "split_xy", "XY", "outcome_summary", "oracle_risk", "resolve_horizon",
           "simulated_cohort", "too_few_events", "feature_table", "oracle_for", "at_most"]

#: Columns of ``subjects`` that the data format documents as baseline characteristics.
SUBJECT_BASELINE_COLUMNS = ("age", "sex", "weight_kg", "hbv_dna_log10", "hbeag_positive", "cirrhosis",
                            "ascites", "encephalopathy")
#: The published risk scores used as baselines: column of the analysis dataset -> display name.
RISK_SCORES = {"meld": "MELD", "meld_na": "MELD-Na", "meld_3": "MELD 3.0", "child_pugh_points": "Child-Pugh",
               "clif_c_aclf": "CLIF-C ACLF", "cossh_aclf_ii": "COSSH-ACLF II"}
#: Non-feature columns of :func:`analysis_dataset` (besides ``subject_id``).
OUTCOME_COLUMNS = ("time", "event", "known", "outcome")
# Coarsened versions of continuous scores: left out (the continuous score carries the information).
_COARSE = ("child_pugh_class", "albi_grade", "aclf_grade")


class LeakageError(TrialkitError):
    """A feature table holds something not known at randomization (day 0)."""


def baseline_cutoff(study: Study) -> int:
    """Last study day whose measurements may enter the features: ``min(baseline window end, 0)``.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> baseline_cutoff(load_study())
    0
    """
    return int(min(study.baseline_visit.window[1], 0))


def trial_up_to_baseline(trial: Trial) -> Trial:
    """The trial with lab and symptom rows after :func:`baseline_cutoff` removed (inputs untouched).

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> trial = example()
    >>> early = trial_up_to_baseline(trial)
    >>> int(trial.labs["day"].max()), int(early.labs["day"].max()), int(early.symptoms["day"].max())
    (350, 0, 0)
    >>> len(early.subjects) == len(trial.subjects), len(trial.labs) > len(early.labs)
    (True, True)
    """
    cut = baseline_cutoff(trial.study)
    tables = {"labs": trial.labs[trial.labs["day"] <= cut]}
    if trial.has("symptoms"):
        assert trial.symptoms is not None  # trial.has("symptoms") said so
        tables["symptoms"] = trial.symptoms[trial.symptoms["day"] <= cut]
    return trial.with_tables(**tables)


def _reference(trial: Trial, subject_columns: Sequence[str] | None, clif_missing_as_normal: bool) -> pd.DataFrame:
    """Every admissible feature (no deduplication), from data up to day 0 only."""
    from trialkit.derive.baseline import baseline_dataset

    study = trial.study
    base = baseline_dataset(trial_up_to_baseline(trial), clif_missing_as_normal=clif_missing_as_normal)
    other = [c for c in trial.subjects.columns  # a real trial's own baseline columns (not ids, dates, doses)
             if c not in ("subject_id", "arm", "randomization_date") and not c.endswith("_doses")]
    subj_cols = [c for c in dict.fromkeys((*SUBJECT_BASELINE_COLUMNS, *(subject_columns or ()), *other))
                 if c in trial.subjects.columns]
    extra = [c for c in subj_cols if c not in base.columns]
    if extra:
        base = base.merge(trial.subjects[["subject_id", *extra]].astype({"subject_id": object}),
                          on="subject_id", how="left", validate="one_to_one")
    labs = [p for p in study.parameters if p in base.columns]
    from trialkit.derive.severity import SCORE_COLUMNS

    score_cols = [c for c in SCORE_COLUMNS if c not in _COARSE and c in base.columns]
    symptom_cols = [c for c in base.columns if c.startswith("symptom_")]
    factors = list(study.factor_names)
    out = pd.DataFrame({"subject_id": base["subject_id"].astype(object).to_numpy()})
    for f in factors:
        out[f] = base[f].astype(float).to_numpy()
    combos = study.arm_factors()[factors].astype(bool).apply(tuple, axis=1)
    if combos.duplicated().any():  # the factors do not identify the arm: keep it as a category
        out["arm"] = base["arm"].astype(object).to_numpy()
    for c in [*subj_cols, *labs, *score_cols, *symptom_cols]:
        if c in out.columns:
            continue
        col = base[c]
        if pd.api.types.is_bool_dtype(col):
            out[c] = col.astype(float).to_numpy()
        elif pd.api.types.is_numeric_dtype(col):
            out[c] = col.astype(float).to_numpy()
        else:
            out[c] = col.astype(object).where(col.notna(), np.nan).to_numpy()
    return out


def _deduplicate(df: pd.DataFrame) -> pd.DataFrame:
    """Drop all-missing columns and exact duplicates, keeping the later column (lab over subject column)."""
    keep = [c for c in df.columns if c == "subject_id" or df[c].notna().any()]
    df = df[keep]
    cols = list(df.columns)
    drop = set()
    for i, a in enumerate(cols):
        if a == "subject_id":
            continue
        for b in cols[i + 1:]:
            if b not in drop and df[a].dtype == df[b].dtype and df[a].equals(df[b]):
                drop.add(a)
                break
    return df[[c for c in cols if c not in drop]]


def baseline_features(trial: Trial, *, subject_columns: Sequence[str] | None = None, clif_missing_as_normal: bool = True,
                      deduplicate: bool = True) -> pd.DataFrame:
    """One row per randomized subject: the features known at randomization.

    Parameters
    ----------
    trial : Trial
    subject_columns : sequence of str, optional
        Further columns of ``subjects`` that are baseline characteristics (besides
        :data:`SUBJECT_BASELINE_COLUMNS`). Anything else in ``subjects`` (``<factor>_doses``, dates,
        undocumented columns) is never used: it may have been recorded after day 0.
    clif_missing_as_normal : bool, default True
        Score CLIF-C OF / CLIF-C ACLF assuming the unrecorded organs (circulation, lungs) normal, as
        :func:`trialkit.derive.severity.add_scores` documents; otherwise these scores are missing.
    deduplicate : bool, default True
        Drop columns that are entirely missing and exact duplicates (e.g. the subject column
        ``encephalopathy`` when the baseline ``HE`` grade holds the same values).

    Returns
    -------
    DataFrame
        ``subject_id``; one 0/1 float column per study factor (and ``arm`` when factors do not
        identify the arm); baseline subject columns (booleans as 0/1); the study's lab parameters
        (last value in the baseline window, never after day 0); the continuous scores of
        :data:`trialkit.derive.severity.SCORE_COLUMNS`; ``symptom_<name>`` when symptoms were recorded.
        Text columns (``sex``) stay text: the pipelines one-hot encode them.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> feats = baseline_features(example())
    >>> feats.shape
    (120, 39)
    >>> feats[["subject_id", "msc", "pe", "age", "sex", "TBIL", "meld"]].head(3)
      subject_id  msc   pe   age sex   TBIL  meld
    0       S001  0.0  1.0  42.0   M  260.3  23.0
    1       S002  1.0  1.0  54.0   M  263.1  24.0
    2       S003  0.0  0.0  28.0   M  391.4  25.0
    """
    ref = _reference(trial, subject_columns, clif_missing_as_normal)
    return _deduplicate(ref) if deduplicate else ref


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise equality treating NaN == NaN (numbers compared to 1e-9 relative)."""
    if pd.api.types.is_numeric_dtype(a) or pd.api.types.is_bool_dtype(a):
        try:
            x, y = a.astype(float).to_numpy(), b.astype(float).to_numpy()
        except (TypeError, ValueError):
            return np.zeros(len(a), dtype=bool)
        return (np.isnan(x) & np.isnan(y)) | np.isclose(x, y, rtol=1e-9, atol=0.0)
    x, y = a.astype(object).to_numpy(), b.astype(object).to_numpy()
    na_x, na_y = pd.isna(a).to_numpy(), pd.isna(b).to_numpy()
    return (na_x & na_y) | (~na_x & ~na_y & (x.astype(str) == y.astype(str)))


def check_baseline_only(features: pd.DataFrame, trial: Trial, *, subject_columns: Sequence[str] | None = None,
                        clif_missing_as_normal: bool = True) -> None:
    """Refuse a feature table holding anything not known at randomization.

    Every feature is re-derived from lab and symptom rows up to :func:`baseline_cutoff` and the
    documented baseline subject columns; the table passes only if each of its columns is one of
    these and every value agrees.

    Parameters
    ----------
    features : DataFrame
        With ``subject_id`` and feature columns (e.g. :func:`baseline_features` output, possibly a
        subset of its rows or columns).
    trial : Trial
    subject_columns, clif_missing_as_normal
        As for :func:`baseline_features`.

    Raises
    ------
    LeakageError
        Naming the offending columns (and how many rows differ); subject identifiers are not shown.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> trial = example(seed=5)
    >>> feats = baseline_features(trial)
    >>> check_baseline_only(feats, trial)                     # passes silently
    >>> planted = feats.assign(TBIL=feats["TBIL"] * 0.8)      # e.g. a day-7 bilirubin
    >>> check_baseline_only(planted, trial)
    Traceback (most recent call last):
    ...
    trialkit.models.features.LeakageError: feature column(s) differ from the values measured by day 0: TBIL (120 rows)
    """
    _check_against(features, _reference(trial, subject_columns, clif_missing_as_normal),
                   baseline_cutoff(trial.study))


def _check_against(features: pd.DataFrame, ref: pd.DataFrame, cutoff: int) -> None:
    if "subject_id" not in features.columns:
        raise LeakageError("the feature table needs a subject_id column to be checked")
    cols = [c for c in features.columns if c != "subject_id"]
    unknown = [c for c in cols if c not in ref.columns]
    if unknown:
        raise LeakageError(f"column(s) {', '.join(map(str, unknown))} are not baseline measurements (known at "
                           f"day {cutoff}); features may only come from baseline")
    ids = features["subject_id"].astype(object)
    if ids.duplicated().any():
        raise LeakageError("the feature table has duplicated subjects")
    ref = ref.set_index("subject_id")
    missing = ~ids.isin(ref.index)
    if missing.any():
        raise LeakageError(f"{int(missing.sum())} row(s) of the feature table are not subjects of the trial")
    aligned = ref.loc[ids.to_numpy()]
    bad = []
    for c in cols:
        ok = _same(features[c].reset_index(drop=True), aligned[c].reset_index(drop=True))
        if not ok.all():
            bad.append(f"{c} ({int((~ok).sum())} rows)")
    if bad:
        raise LeakageError(f"feature column(s) differ from the values measured by day {cutoff}: {', '.join(bad)}")


def resolve_horizon(study: Study, horizon: str | float | None = None) -> int:
    """Horizon in study days: ``None`` = the primary horizon, a key of ``study.horizons``, or days.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> resolve_horizon(load_study()), resolve_horizon(load_study(), "secondary"), resolve_horizon(load_study(), 84)
    (336, 168, 84)
    """
    if horizon is None:
        horizon = "primary"
    if isinstance(horizon, str):
        if horizon not in study.horizons:
            raise KeyError(f"horizon {horizon!r} is not in the study file's horizons {list(study.horizons)}")
        return int(study.horizons[horizon])
    h = float(horizon)
    if not np.isfinite(h) or h <= 0 or h != int(h):
        raise ValueError(f"horizon must be a positive whole number of days, got {horizon!r}")
    return int(h)


def binary_outcome(trial: Trial, horizon: str | float | None = None) -> pd.DataFrame:
    """The primary endpoint's event (default study: death or liver transplantation) by the horizon.

    Parameters
    ----------
    trial : Trial
    horizon : None, str or int
        ``None`` = the study's primary horizon; a key of ``study.horizons``; or days.

    Returns
    -------
    DataFrame
        ``subject_id``; ``time`` (day of death/LT, else end of follow-up capped at the horizon);
        ``event`` (1 = death or LT on or before the horizon); ``known`` (the event happened, or
        follow-up reached the horizon's completion day); ``outcome`` (``event`` where known, else NaN).

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> subj = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["control", "msc", "pe"]})
    >>> ev = pd.DataFrame({"subject_id": ["a", "a", "b", "c"], "event": ["death", "last_contact", "last_contact",
    ...                    "last_contact"], "day": [40, 40, 330, 100]})
    >>> t = Trial(study=load_study(), subjects=subj, labs=pd.DataFrame(), events=ev)
    >>> binary_outcome(t)
      subject_id   time  event  known  outcome
    0          a   40.0      1   True      1.0
    1          b  330.0      0   True      0.0
    2          c  100.0      0  False      NaN
    """
    from trialkit.derive.status import completion_day
    from trialkit.derive.tte import time_to_event

    h = resolve_horizon(trial.study, horizon)
    tte = time_to_event(trial, endpoint="primary", horizon=h)  # the study's primary endpoint
    done = completion_day(trial.study, h)
    event = tte["event"].to_numpy()
    known = (event == 1) | (tte["time"].to_numpy() >= done)
    return pd.DataFrame({"subject_id": tte["subject_id"].astype(object).to_numpy(),
                         "time": tte["time"].to_numpy(dtype=float), "event": event.astype("int64"),
                         "known": known, "outcome": np.where(known, event, np.nan).astype(float)})


def analysis_dataset(trial: Trial, horizon: str | float | None = None, *, features: pd.DataFrame | None = None,
                     subject_columns: Sequence[str] | None = None,
                     clif_missing_as_normal: bool = True) -> pd.DataFrame:
    """Baseline features and the outcome by the horizon, one row per randomized subject.

    Parameters
    ----------
    trial : Trial
    horizon : None, str or int
        See :func:`binary_outcome`.
    features : DataFrame, optional
        A feature table to use instead of :func:`baseline_features` (e.g. a subset of its columns);
        it is checked by :func:`check_baseline_only` and refused if it holds post-baseline values.
    subject_columns, clif_missing_as_normal
        As for :func:`baseline_features`.

    Returns
    -------
    DataFrame
        ``subject_id``, the feature columns, then :data:`OUTCOME_COLUMNS` (``time``, ``event``,
        ``known``, ``outcome``). ``attrs["horizon"]`` holds the horizon in days.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> trial = example()
    >>> data = analysis_dataset(trial)
    >>> data.shape, data.attrs["horizon"]
    ((120, 43), 336)

    A subset of the features (checked against the day-0 data like any feature table):

    >>> small = analysis_dataset(trial, features=baseline_features(trial)[["subject_id", "meld", "age"]])
    >>> small.head(3)
      subject_id  meld   age   time  event  known  outcome
    0       S001  23.0  42.0  334.0      0   True      0.0
    1       S002  24.0  54.0   89.0      1   True      1.0
    2       S003  25.0  28.0  335.0      0   True      0.0
    """
    ref = _reference(trial, subject_columns, clif_missing_as_normal)
    if features is None:
        features = _deduplicate(ref)
    else:
        clash = [c for c in OUTCOME_COLUMNS if c in features.columns]
        if clash:
            raise LeakageError(f"the feature table holds outcome column(s) {clash}")
    _check_against(features, ref, baseline_cutoff(trial.study))
    out = binary_outcome(trial, horizon)
    data = features.assign(subject_id=features["subject_id"].astype(object)).merge(
        out, on="subject_id", how="left", validate="one_to_one")
    data.attrs["horizon"] = resolve_horizon(trial.study, horizon)
    return data


class XY(NamedTuple):
    """Model inputs for subjects with a known outcome."""

    X: pd.DataFrame        # features only (no identifier), index = row position in the dataset
    y: np.ndarray          # 0/1 outcome by the horizon
    time: np.ndarray       # days to death/LT or end of follow-up (capped at the horizon)
    subject_id: np.ndarray  # for joining back; never shown in a report


def split_xy(data: pd.DataFrame) -> XY:
    """Features, outcome and time of the subjects whose outcome is known (``data["known"]``).

    The returned ``X`` has a fresh ``RangeIndex`` (row positions 0..n-1) and holds no identifier.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> xy = split_xy(analysis_dataset(example()))   # 3 of 120 subjects have an unknown outcome
    >>> xy.X.shape, int(xy.y.sum()), "subject_id" in xy.X
    ((117, 38), 53, False)
    >>> xy.y[:4].tolist(), xy.time[:4].tolist()
    ([0, 1, 0, 0], [334.0, 89.0, 335.0, 336.0])
    """
    keep = data["known"].to_numpy(dtype=bool)
    sub = data.loc[keep].reset_index(drop=True)
    X = sub.drop(columns=["subject_id", *OUTCOME_COLUMNS])
    return XY(X=X, y=sub["outcome"].to_numpy().astype(np.int64), time=sub["time"].to_numpy(dtype=float),
              subject_id=sub["subject_id"].to_numpy(dtype=object))


def at_most(xy: XY, max_subjects: int | None, *, seed: int | None = None) -> tuple[XY, str | None]:
    """At most ``max_subjects`` of the modelling subjects, drawn at random within each outcome class.

    Cross-validating several learners with a tuning grid costs hundreds of fits: on a registry of
    100,000 subjects that is hours, while the estimates it gives (AUC, calibration) are already precise
    to about 0.01 with a few thousand subjects. A trial smaller than ``max_subjects`` is returned as
    it is (the same object: the default report is unchanged).

    Parameters
    ----------
    xy : XY
        From :func:`split_xy`.
    max_subjects : int or None
        ``None``: every subject.
    seed : int, optional
        Seeds the draw (stratified by the outcome: the event proportion is kept).

    Returns
    -------
    (XY, str or None)
        The subjects kept (in their original order, ``X`` re-indexed 0..n-1) and a sentence saying
        how many were drawn, or ``None`` when all are kept.

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> xy = split_xy(analysis_dataset(simulate(seed=1)))
    >>> at_most(xy, None)[0] is xy, at_most(xy, 500)[0] is xy
    (True, True)
    >>> small, note = at_most(xy, 60, seed=0)
    >>> len(small.y), small.X.shape[1], round(float(small.y.mean()), 2), round(float(xy.y.mean()), 2)
    (60, 38, 0.45, 0.45)
    >>> print(note)
    Models fitted on 60 of the 117 subjects with a known outcome (a random draw within each outcome class; notebook parameter max_subjects = 60).
    """
    n = len(xy.y)
    if max_subjects is None or n <= max_subjects:
        return xy, None
    if max_subjects < 2:
        raise ValueError(f"max_subjects must be at least 2, got {max_subjects}")
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(np.arange(n), train_size=int(max_subjects), stratify=xy.y, random_state=seed)
    keep = np.sort(keep)
    out = XY(X=xy.X.iloc[keep].reset_index(drop=True), y=xy.y[keep], time=xy.time[keep],
             subject_id=xy.subject_id[keep])
    note = (f"Models fitted on {len(keep):,} of the {n:,} subjects with a known outcome (a random draw within "
            f"each outcome class; notebook parameter max_subjects = {max_subjects}).")
    return out, note


def outcome_summary(data: pd.DataFrame) -> pd.DataFrame:
    """Counts behind the binary outcome: one row.

    Returns
    -------
    DataFrame
        ``horizon`` (days), ``n_subjects``, ``n_known``, ``n_unknown`` (follow-up ended before the
        horizon without an event), ``n_events`` (death or LT by the horizon), ``n_non_events``,
        ``prevalence`` (events / known), ``n_features``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> s = outcome_summary(analysis_dataset(example()))
    >>> s[["n_known", "n_unknown", "n_events", "n_non_events", "prevalence"]].round(3)
       n_known  n_unknown  n_events  n_non_events  prevalence
    0      117          3        53            64       0.453
    """
    known = data["known"].to_numpy(dtype=bool)
    events = int(data.loc[known, "event"].sum())
    n_known = int(known.sum())
    return pd.DataFrame([{
        "horizon": int(data.attrs.get("horizon", -1)), "n_subjects": len(data), "n_known": n_known,
        "n_unknown": len(data) - n_known, "n_events": events, "n_non_events": n_known - events,
        "prevalence": events / n_known if n_known else np.nan,
        "n_features": len([c for c in data.columns if c not in ("subject_id", *OUTCOME_COLUMNS)])}])


def feature_table(data: pd.DataFrame, study: Study) -> pd.DataFrame:
    """What each feature is: one row per feature column of an analysis dataset.

    Returns
    -------
    DataFrame
        ``feature``, ``source`` (``treatment``, ``subject``, ``lab``, ``score``, ``symptom``),
        ``type`` (``numeric`` / ``categorical``), ``n_missing``, ``median`` (numeric features).

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> t = example(seed=5)
    >>> ft = feature_table(analysis_dataset(t), t.study)
    >>> ft.groupby("source").size().to_dict()
    {'lab': 19, 'score': 8, 'subject': 5, 'symptom': 4, 'treatment': 2}
    """
    from trialkit.derive.severity import SCORE_COLUMNS

    rows = []
    for c in data.columns:
        if c in ("subject_id", *OUTCOME_COLUMNS):
            continue
        if c in study.factor_names or c == "arm":
            src = "treatment"
        elif c in study.parameters:
            src = "lab"
        elif c in SCORE_COLUMNS:
            src = "score"
        elif str(c).startswith("symptom_"):
            src = "symptom"
        else:
            src = "subject"
        num = pd.api.types.is_numeric_dtype(data[c])
        rows.append({"feature": c, "source": src, "type": "numeric" if num else "categorical",
                     "n_missing": int(data[c].isna().sum()),
                     "median": float(data[c].median()) if num and data[c].notna().any() else np.nan})
    return pd.DataFrame(rows)


def too_few_events(y: npt.ArrayLike, n_splits: int, minimum: int = 8) -> str | None:
    """A sentence saying why the outcome cannot support ``n_splits``-fold CV, else ``None``.

    Each class (events and non-events) needs at least ``max(n_splits, minimum)`` subjects.

    Examples
    --------
    >>> too_few_events([1, 0, 0, 1, 0, 0, 0, 0, 0, 0], n_splits=5) is not None
    True
    >>> too_few_events([1] * 20 + [0] * 30, n_splits=5) is None
    True
    """
    y = np.asarray(y)
    need = max(int(n_splits), int(minimum))
    n1, n0 = int((y == 1).sum()), int((y == 0).sum())
    if min(n1, n0) < need:
        return (f"Only {n1} events and {n0} non-events with a known outcome: at least {need} of each are "
                "needed for the cross-validated models, so they are skipped.")
    return None


def oracle_risk(trial: Trial, horizon: str | float | None = None) -> pd.DataFrame | None:
    """The simulator's true individual risk of death or LT by the horizon (simulated data only).

    Returns
    -------
    DataFrame or None
        ``subject_id``, ``oracle_risk``; ``None`` when the trial carries no latent truth (real data,
        or a dataset read from files) or the horizon is not one the simulator computed (day 84, or
        the simulation's secondary or primary horizon).

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> trial = example()
    >>> oracle_risk(trial).head(3).round(3)
      subject_id  oracle_risk
    0       S001        0.127
    1       S002        0.222
    2       S003        0.407
    >>> oracle_risk(trial, 100) is None   # not a horizon the simulator computed
    True
    """
    lat, truth = getattr(trial, "latent", None), getattr(trial, "truth", None)
    if lat is None or truth is None:
        return None
    h = resolve_horizon(trial.study, horizon)
    hz = truth.get("horizons", {})
    col = {int(hz.get("primary", -1)): "risk_primary", int(hz.get("secondary", -1)): "risk_secondary"}.get(h)
    if col is None and h == 84:
        col = "risk_day84"
    if col is None or col not in lat.columns:
        return None
    return pd.DataFrame({"subject_id": lat["subject_id"].astype(object).to_numpy(),
                         "oracle_risk": lat[col].to_numpy(dtype=float)})


def oracle_for(xy: XY, trial: Trial, horizon: str | float | None = None) -> np.ndarray | None:
    """The oracle risk (:func:`oracle_risk`) of the rows of ``xy``, in their order; ``None`` without truth.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> trial = example()
    >>> xy = split_xy(analysis_dataset(trial))
    >>> risk = oracle_for(xy, trial)
    >>> risk.shape, risk[:3].round(3).tolist()
    ((117,), [0.127, 0.222, 0.407])
    """
    orc = oracle_risk(trial, horizon)
    if orc is None:
        return None
    return orc.set_index("subject_id").loc[list(xy.subject_id), "oracle_risk"].to_numpy(dtype=float)


def simulated_cohort(n_subjects: int, seed: int, *, scenario: str | Path | None = None,
                     study: str | Path | None = None, horizon: str | float | None = None,
                     columns: Sequence[str] | None = None) -> tuple[XY, np.ndarray | None]:
    """A simulated cohort as model inputs: ``(XY, oracle risk of the same rows or None)``.

    ``columns`` restricts (and orders) the feature columns, e.g. to those of the trial analysed, so
    models fitted on one cohort predict on another; requested columns the simulated data lack are
    left out (the same ones in every cohort of the same study and scenario).

    Examples
    --------
    >>> xy, risk = simulated_cohort(60, seed=2, columns=["meld", "age", "sex", "not_a_feature"])
    >>> xy.X.columns.tolist(), len(xy.y), len(risk)
    (['meld', 'age', 'sex'], 59, 59)
    >>> risk[:3].round(3).tolist()
    [0.068, 0.133, 0.071]
    """
    from trialkit.simulate import simulate

    trial = simulate(study=study, scenario=scenario, seed=int(seed), n_subjects=int(n_subjects))
    data = analysis_dataset(trial, horizon)
    orc = oracle_risk(trial, horizon)
    if orc is not None:
        data = data.merge(orc, on="subject_id", how="left", validate="one_to_one")
        risk = data.loc[data["known"].to_numpy(dtype=bool), "oracle_risk"].to_numpy()
        data = data.drop(columns="oracle_risk")
    else:
        risk = None
    xy = split_xy(data)
    if columns is not None:  # the requested columns that the simulated data have, in the given order
        xy = xy._replace(X=xy.X[[c for c in columns if c in xy.X.columns]])
    return xy, risk
