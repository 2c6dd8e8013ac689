"""Change-from-baseline analysis datasets (ADLB-like), worst-rank and symptom inputs.

Measurements are placed in the study file's visits by :func:`trialkit.derive.visits.assign_visits`
(their ``visit`` column, else the visit whose window holds ``day``; one value per subject, visit and
parameter: the scheduled one, then the one closest to the nominal day). Severity scores (MELD, Child-Pugh, ...) come from
:func:`trialkit.derive.severity.add_scores` and are never computed here.

Intercurrent events: the datasets describe subjects **while alive and transplant-free** —
measurements on or after a liver transplant are dropped (they describe the graft), and nothing is
recorded after death. ``survivor`` flags subjects alive and transplant-free at the horizon.

Examples
--------
>>> import pandas as pd
>>> from trialkit.data.trial import Trial
>>> from trialkit.study import load_study
>>> subjects = pd.DataFrame({"subject_id": ["a", "b"], "arm": ["control", "msc"]})
>>> labs = pd.DataFrame({"subject_id": ["a", "a", "b", "b"], "day": [0, 168, 0, 170],
...                      "visit": ["D0", "W24", "D0", ""], "parameter": "ALT",
...                      "value": [200.0, 50.0, 100.0, 100.0], "unit": "U/L"})
>>> events = pd.DataFrame({"subject_id": ["a", "b"], "event": "last_contact", "day": [336, 336]})
>>> t = Trial(study=load_study(), subjects=subjects, labs=labs, events=events)
>>> d = change_from_baseline(t, ["ALT"], log=["ALT"])
>>> d[["subject_id", "visit", "baseline_raw", "value_raw", "change", "scale"]].round(4)
  subject_id visit  baseline_raw  value_raw  change scale
0          a   W24         200.0       50.0 -1.3863   log
1          b   W24         100.0      100.0  0.0000   log
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.derive.codes import factor_codes, positions
from trialkit.derive.severity import SCORE_INPUTS as _SCORES_INPUTS
from trialkit.derive.severity import SCORE_LABELS as _COLUMN_LABELS
from trialkit.derive.tte import event_days, factor_columns, horizon_days
from trialkit.derive.visits import assign_visits

if TYPE_CHECKING:
    from trialkit.data.trial import Trial
    from trialkit.study import Study

__all__ = ["SCORE_PARAMETERS", "SCORE_INPUTS", "visit_values", "change_from_baseline", "baseline_values",
           "target_visit", "analysis_visits", "worst_rank_inputs", "symptom_visits", "symptom_outcomes",
           "parameter_label", "available_parameters"]

# Score "parameters" and the add_scores column they come from.
SCORE_PARAMETERS = {"MELD": "meld", "MELD_NA": "meld_na", "MELD_3": "meld_3",
                    "CHILD_PUGH": "child_pugh_points", "ALBI": "albi", "COSSH_ACLF_II": "cossh_aclf_ii"}
# The lab parameters each score needs (trialkit.derive.severity.SCORE_INPUTS, by score parameter).
SCORE_INPUTS = {p: _SCORES_INPUTS[col] for p, col in SCORE_PARAMETERS.items()}
_SCORE_LABELS = {p: _COLUMN_LABELS[col] for p, col in SCORE_PARAMETERS.items()}


def parameter_label(study: Study, name: str) -> str:
    """A display label: the study file's label, a score's name, or ``A/B`` for a ratio ``A_B``.

    >>> from trialkit.study import load_study
    >>> parameter_label(load_study(), "TBIL"), parameter_label(load_study(), "TH1_TH2")
    ('Total bilirubin', 'TH1/TH2 ratio')
    """
    if name in study.parameters and study.parameters[name].label:
        return study.parameters[name].label
    if name in _SCORE_LABELS:
        return _SCORE_LABELS[name]
    if "_" in name and all(p in study.parameters for p in name.split("_", 1)):
        return "/".join(name.split("_", 1)) + " ratio"
    return name


def available_parameters(trial: Trial, candidates: Iterable[str]) -> list[str]:
    """The subset of ``candidates`` this trial can provide (measured labs, computable scores, ratios).

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> labs = pd.DataFrame({"subject_id": "a", "day": 0, "visit": "D0", "parameter": ["TBIL", "INR", "CREAT", "ALB"],
    ...                      "value": [300.0, 2.0, 80.0, 30.0], "unit": ["umol/L", "ratio", "umol/L", "g/L"]})
    >>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["a"], "arm": ["msc"]}), labs=labs,
    ...           events=pd.DataFrame())
    >>> available_parameters(t, ["MELD", "MELD_NA", "ALBI", "CHILD_PUGH", "COSSH_ACLF_II", "ALT", "TH1_TH2"])
    ['MELD', 'ALBI']
    """
    measured = set(trial.labs["parameter"].astype(object).unique())
    out = []
    for p in candidates:
        if p in SCORE_PARAMETERS:
            if SCORE_INPUTS[p] <= measured:
                out.append(p)
        elif p in _SCORES_INPUTS:  # a score column of add_scores (e.g. "meld")
            if _SCORES_INPUTS[p] <= measured:
                out.append(p)
        elif p in measured:
            out.append(p)
        elif "_" in p and set(p.split("_", 1)) <= measured:
            out.append(p)
    return out


def visit_values(trial: Trial, parameters: Sequence[str]) -> pd.DataFrame:
    """One value per subject, visit and parameter, in long format.

    Parameters
    ----------
    trial : Trial
    parameters : list of str
        Lab parameters of the study file, score names (keys of :data:`SCORE_PARAMETERS`, from
        :func:`trialkit.derive.severity.add_scores`), or ratios written ``A_B`` (value of A / value of B at
        the same visit, e.g. ``TH1_TH2``).

    Returns
    -------
    DataFrame
        ``subject_id``, ``parameter``, ``visit``, ``visit_day`` (nominal), ``day`` (of measurement;
        for scores the nominal day), ``value``; sorted by parameter (in the order given), subject, day.

    Examples
    --------
    The unscheduled ALT on day 6 loses to the scheduled D7 value; the one on day 27 falls in the D28
    window; the ratio is formed at the visit where both parts were measured:

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> labs = pd.DataFrame({"subject_id": "a", "day": [0, 0, 0, 6, 8, 27], "visit": ["D0", "D0", "D0", "", "D7", ""],
    ...                      "parameter": ["ALT", "TH1", "TH2", "ALT", "ALT", "ALT"],
    ...                      "value": [200.0, 12.0, 4.0, 150.0, 120.0, 90.0],
    ...                      "unit": ["U/L", "%", "%", "U/L", "U/L", "U/L"]})
    >>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["a"], "arm": ["msc"]}), labs=labs,
    ...           events=pd.DataFrame({"subject_id": ["a"], "event": ["last_contact"], "day": [336]}))
    >>> visit_values(t, ["ALT", "TH1_TH2"])
      subject_id parameter visit  visit_day   day  value
    0          a       ALT    D0          0   0.0  200.0
    1          a       ALT    D7          7   8.0  120.0
    2          a       ALT   D28         28  27.0   90.0
    3          a   TH1_TH2    D0          0   0.0    3.0
    """
    v, subjects = _visit_codes(trial, parameters)
    return pd.DataFrame({"subject_id": _object_column(subjects, v["sid"]),
                         "parameter": _object_column(parameters, v["pos"]),
                         "visit": _object_column(trial.study.visit_ids, v["vis"]),
                         "visit_day": v["visit_day"], "day": v["day"], "value": v["value"]})


def _object_column(values: Sequence | np.ndarray, codes: np.ndarray) -> pd.Series:
    """``values[codes]`` as an object column whose cells share ``values``' objects (8 bytes a row,
    where ``astype(object)`` of a string column makes one Python string per row)."""
    return pd.Series(np.asarray(values, dtype=object)[codes], dtype=object)


def _score_trial(trial: Trial, scores: Sequence[str], baseline_only: bool = False) -> Trial:
    """The trial with only the lab rows that the requested scores can use, for
    :func:`~trialkit.derive.severity.add_scores` (which combines values within one subject and
    visit, so its scores of these rows equal those of the full table).

    Kept: the parameters the scores need, and any parameter the study file does not declare (so
    ``add_scores`` still refuses a lab it cannot convert). With ``baseline_only``, only rows that
    :func:`~trialkit.derive.visits.assign_visits` could place in the baseline visit (labelled with
    it, or unscheduled within its window) are kept.
    """
    study, labs = trial.study, trial.labs
    need = set().union(*(SCORE_INPUTS[s] for s in scores))
    par = labs["parameter"]
    present = par.cat.categories if isinstance(par.dtype, pd.CategoricalDtype) else pd.unique(par)
    need |= {p for p in present if p not in study.parameters}
    labs = labs.loc[par.isin(list(need))]
    return trial.with_tables(labs=labs[_maybe_baseline(labs, study)] if baseline_only else labs)


def _maybe_baseline(rows: pd.DataFrame, study: Study) -> np.ndarray:
    """Rows :func:`~trialkit.derive.visits.assign_visits` could place in the baseline visit."""
    base = study.baseline_visit
    vcode, vuniq = pd.factorize(rows["visit"])
    labels = [str(u).strip() for u in vuniq] + [""]  # code -1 (missing) -> "", as assign_visits
    is_base = np.array([lab == base.id for lab in labels])[vcode]
    unscheduled = np.array([lab == "" for lab in labels])[vcode]
    day = pd.to_numeric(rows["day"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return is_base | (unscheduled & (day >= base.window[0]) & (day <= base.window[1]))


def _by_subject(rows: pd.DataFrame, max_rows: int = 1_000_000) -> list[np.ndarray]:
    """Row positions of ``rows`` in groups of whole subjects (about ``max_rows`` rows each, input order
    kept within a group): the visit rule and the scores work within a subject, so running them group by
    group gives the same rows at a fraction of the peak memory."""
    n_groups = -(-len(rows) // max_rows)
    if n_groups <= 1:
        return [np.arange(len(rows))]
    codes = factor_codes(rows["subject_id"])[0].astype(np.int64)
    group = codes * n_groups // (int(codes.max()) + 1)
    order = np.argsort(group, kind="stable")
    return np.split(order, np.searchsorted(group[order], np.arange(1, n_groups)))


def _visit_codes(trial: Trial, parameters: Sequence[str], *, baseline_only: bool = False
                 ) -> tuple[dict[str, np.ndarray], pd.Index]:
    """:func:`visit_values` as arrays of codes: ``sid`` (position in the returned sorted subject ids),
    ``pos`` (position in ``parameters``), ``vis`` (position in the study's visits), ``visit_day``,
    ``day``, ``value``; sorted as :func:`visit_values`. Strings are never copied per row, and the
    large tables are dropped as soon as their columns are taken.

    With ``baseline_only``, only the baseline visit's values are guaranteed (computed from the rows
    that could belong to it).
    """
    study, labs = trial.study, trial.labs
    scores = [p for p in parameters if p in SCORE_PARAMETERS]
    ratios = {p: tuple(p.split("_", 1)) for p in parameters
              if p not in SCORE_PARAMETERS and p not in study.parameters and "_" in p}
    raw = [p for p in parameters if p in study.parameters]
    unknown = [p for p in parameters if p not in scores and p not in ratios and p not in raw]
    if unknown:
        raise KeyError(f"unknown parameter(s) {unknown}: not in the study file, not a score, not a ratio")
    need = set(raw) | {x for ab in ratios.values() for x in ab}
    for p in need:
        if p not in study.parameters:
            raise KeyError(f"ratio needs parameter {p!r}, which the study file does not declare")
    order = {p: i for i, p in enumerate(parameters)}
    vids = pd.Index(study.visit_ids, dtype=object)
    cols = ("sid", "pos", "vis", "visit_day", "day", "value")
    score_parts = []
    if scores:  # first, so that add_scores does not run beside the lab table below
        from trialkit.derive.severity import add_scores

        st = _score_trial(trial, scores, baseline_only)
        keep = ["subject_id", "visit", "day", *dict.fromkeys(SCORE_PARAMETERS[n] for n in scores)]
        sc = pd.concat([add_scores(st.with_tables(labs=st.labs.iloc[g]))[keep] for g in _by_subject(st.labs)],
                       ignore_index=True)
        del st
        sc_vis = positions(sc["visit"], vids)
        sc_day = sc["day"].to_numpy(dtype=np.int64)
        for name in scores:
            v = sc[SCORE_PARAMETERS[name]].to_numpy(dtype=float)
            ok = ~np.isnan(v)
            score_parts.append((sc["subject_id"][ok], {"pos": np.full(int(ok.sum()), order[name], dtype=np.int64),
                                                        "vis": sc_vis[ok], "visit_day": sc_day[ok],
                                                        "day": sc_day[ok].astype(float), "value": v[ok]}))
        del sc
    lab = labs.loc[labs["parameter"].isin(list(need)), ["subject_id", "day", "visit", "parameter", "value"]]
    if baseline_only:
        lab = lab[_maybe_baseline(lab, study)]
    subjects = pd.Index(sorted(set().union(*(
        s.cat.categories if isinstance(s.dtype, pd.CategoricalDtype) else pd.unique(s)
        for s in [lab["subject_id"], *(ids for ids, _ in score_parts)]))), dtype=object)
    pnames = pd.Index(sorted(need), dtype=object)
    ppos = np.array([order.get(p, -1) for p in pnames] + [-1], dtype=np.int64)
    chunks = []
    for g in _by_subject(lab):
        c = assign_visits(lab.iloc[g].astype({"value": float, "day": float}), study, keys=("subject_id", "parameter"))
        pid = positions(c["parameter"], pnames)
        chunks.append({"sid": positions(c["subject_id"], subjects), "pid": pid, "pos": ppos[pid],
                       "vis": positions(c["visit"], vids),
                       "visit_day": c["visit_day"].to_numpy(dtype=np.int64),
                       "day": c["day"].to_numpy(dtype=float), "value": c["value"].to_numpy(dtype=float)})
    del lab, c
    labc = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    del chunks
    pid = labc.pop("pid")
    is_raw = np.isin(pid, [pnames.get_loc(p) for p in raw])
    parts = [{c: x[is_raw] for c, x in labc.items()}]
    for name, (a, b) in ratios.items():  # a / b at the visits where both were measured (b > 0)
        ka, kb = (pd.DataFrame({c: labc[c][pid == pnames.get_loc(x)] for c in ("sid", "vis", "visit_day", "value")})
                  for x in (a, b))
        r = ka.merge(kb.drop(columns="visit_day"), on=["sid", "vis"], how="inner", suffixes=("_a", "_b"))
        r = r.assign(value=(r["value_a"] / r["value_b"]).where(r["value_b"] > 0)).dropna(subset=["value"])
        parts.append({"sid": r["sid"].to_numpy(dtype=np.int64), "pos": np.full(len(r), order[name], dtype=np.int64),
                      "vis": r["vis"].to_numpy(dtype=np.int64), "visit_day": r["visit_day"].to_numpy(dtype=np.int64),
                      "day": r["visit_day"].to_numpy(dtype=float), "value": r["value"].to_numpy(dtype=float)})
    del labc, pid, is_raw
    for ids, part in score_parts:
        parts.append({"sid": positions(ids, subjects), **part})
    del score_parts
    cat = {c: np.concatenate([p[c] for p in parts]) for c in ("sid", "pos", "visit_day")}
    srt = np.lexsort((cat["visit_day"], cat["sid"], cat["pos"]))
    out = {c: x[srt] for c, x in cat.items()}
    del cat
    for c in ("vis", "day", "value"):
        out[c] = np.concatenate([p[c] for p in parts])[srt]
    return {c: out[c] for c in cols}, subjects


def analysis_visits(study: Study, horizon: str | float | None = "secondary") -> list[str]:
    """Post-baseline visit ids with nominal day in (0, horizon], in time order.

    >>> from trialkit.study import load_study
    >>> analysis_visits(load_study())[-3:]
    ['W8', 'W12', 'W24']
    """
    h = horizon_days(study, horizon)
    return [v.id for v in study.visits if 0 < v.day <= h]


def target_visit(study: Study, horizon: str | float | None = "secondary") -> str:
    """The last post-baseline visit at or before ``horizon`` (the visit of the week-24 contrasts).

    >>> from trialkit.study import load_study
    >>> target_visit(load_study()), target_visit(load_study(), "primary")
    ('W24', 'W48')
    """
    vis = analysis_visits(study, horizon)
    if not vis:
        raise ValueError(f"no post-baseline visit at or before the horizon {horizon!r}")
    return vis[-1]


def _survivor_flags(trial: Trial, h: float) -> pd.DataFrame:
    d = event_days(trial.subjects, trial.events)
    first = np.fmin(d["death"], d["transplant"])
    return pd.DataFrame({"subject_id": d["subject_id"], "event_day": first.where(first <= h),
                         "transplant_day": d["transplant"],
                         "survivor": (~(first <= h)).astype(bool)})


def change_from_baseline(trial: Trial, parameters: Sequence[str], *, horizon: str | float | None = "secondary",
                         log: Collection[str] = (),
                         after_transplant: str = "exclude") -> pd.DataFrame:
    """Change from baseline at each post-baseline visit up to ``horizon``, long format.

    Parameters
    ----------
    trial : Trial
    parameters : list of str
        As :func:`visit_values` (labs, scores, ``A_B`` ratios).
    horizon : str or float
        ``"secondary"`` (default) or another horizon key or a number of days.
    log : sequence of str
        Parameters analysed on the natural-log scale: ``change`` is then log(value / baseline) and
        ``baseline`` is log(baseline); differences back-transform to ratios of geometric means.
    after_transplant : {"exclude", "keep"}
        Whether measurements on or after a liver transplant are dropped (default) or kept.

    Returns
    -------
    DataFrame
        One row per subject, parameter and post-baseline visit with a value: ``subject_id``, ``arm``,
        factor columns (0/1), ``parameter``, ``visit``, ``visit_day``, ``baseline_raw``,
        ``value_raw``, ``baseline`` and ``value`` (analysis scale), ``change``, ``scale``
        (``"log"`` or ``"identity"``), ``survivor`` (alive and transplant-free at the horizon).
        Subjects without a baseline value for a parameter are left out of that parameter.

    Examples
    --------
    Subject ``b`` had a liver transplant on day 100: the week-24 value describes the graft and is
    dropped unless ``after_transplant="keep"``; ``b`` is not a survivor at the horizon:

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> labs = pd.DataFrame({"subject_id": ["a", "a", "a", "b", "b", "b"], "day": [0, 84, 168] * 2,
    ...                      "visit": ["D0", "W12", "W24"] * 2, "parameter": "ALB",
    ...                      "value": [30.0, 32.0, 35.0, 28.0, 27.0, 38.0], "unit": "g/L"})
    >>> events = pd.DataFrame({"subject_id": ["a", "b", "b"], "event": ["last_contact", "transplant", "last_contact"],
    ...                        "day": [336, 100, 336]})
    >>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["a", "b"], "arm": ["control", "pe"]}),
    ...           labs=labs, events=events)
    >>> change_from_baseline(t, ["ALB"])[["subject_id", "visit", "baseline", "value", "change", "scale", "survivor"]]
      subject_id visit  baseline  value  change     scale  survivor
    0          a   W12      30.0   32.0     2.0  identity      True
    1          a   W24      30.0   35.0     5.0  identity      True
    2          b   W12      28.0   27.0    -1.0  identity     False
    >>> change_from_baseline(t, ["ALB"], after_transplant="keep")["change"].tolist()
    [2.0, 5.0, -1.0, 10.0]
    """
    if after_transplant not in ("exclude", "keep"):
        raise ValueError("after_transplant: expected 'exclude' or 'keep'")
    return _change(trial, list(parameters), horizon_days(trial.study, horizon), log, after_transplant)[0]


def _change(trial: Trial, parameters: list[str], h: float, log: Collection[str],
            after_transplant: str) -> tuple[pd.DataFrame, pd.Index]:
    """:func:`change_from_baseline`, and the subjects with a baseline value of any of ``parameters``.

    Works on the codes of :func:`_visit_codes` (array look-ups in place of merges on subject ids).
    """
    study = trial.study
    v, subjects = _visit_codes(trial, parameters)
    n_s, n_p = len(subjects), len(parameters)
    sid, pos, vis, vday, day, value = (v.pop(c) for c in ("sid", "pos", "vis", "visit_day", "day", "value"))
    key = sid * n_p + pos
    is_base = vis == study.visit_ids.index(study.baseline_visit.id)
    has_base = np.zeros(n_s * n_p, dtype=bool)
    has_base[key[is_base]] = True
    base_raw = np.full(n_s * n_p, np.nan)
    base_raw[key[is_base]] = value[is_base]
    flags = _survivor_flags(trial, h)
    fs = positions(flags["subject_id"], subjects)
    known = fs >= 0
    transplant, survivor = np.full(n_s, np.nan), np.zeros(n_s, dtype=bool)
    transplant[fs[known]] = flags["transplant_day"].to_numpy(dtype=float)[known]
    survivor[fs[known]] = flags["survivor"].to_numpy(dtype=bool)[known]
    fc = factor_columns(trial.subjects, study)
    fcs = positions(fc["subject_id"], subjects)
    fc_row = np.full(n_s, -1, dtype=np.int64)
    fc_row[fcs[fcs >= 0]] = np.flatnonzero(fcs >= 0)
    keep = (vday > 0) & (vday <= h) & has_base[key] & (fc_row[sid] >= 0)
    if after_transplant == "exclude":
        keep &= ~(day >= transplant[sid])
    rows = np.flatnonzero(keep)
    base_subjects = subjects[np.unique(sid[is_base])]
    del has_base, is_base, keep, day
    sid, pos, vis, vday, value_raw = sid[rows], pos[rows], vis[rows], vday[rows], value[rows]
    baseline_raw = base_raw[key[rows]]
    del key, value, base_raw, rows
    is_log = np.array([p in set(log) for p in parameters] + [False], dtype=bool)[pos]
    bad_rows = is_log & ((value_raw <= 0) | (baseline_raw <= 0))
    if bad_rows.any():
        bad = sorted({parameters[i] for i in np.unique(pos[bad_rows])})
        raise ValueError(f"non-positive values of {bad} cannot be log-transformed")
    with np.errstate(divide="ignore", invalid="ignore"):
        baseline = np.where(is_log, np.log(baseline_raw), baseline_raw)
        val = np.where(is_log, np.log(value_raw), value_raw)
    r = fc_row[sid]
    out = {"subject_id": _object_column(subjects, sid), "arm": _object_column(fc["arm"].to_numpy(dtype=object), r),
           **{f: fc[f].to_numpy()[r] for f in study.factors},
           "parameter": _object_column(parameters, pos),
           "visit": _object_column(study.visit_ids, vis), "visit_day": vday,
           "baseline_raw": baseline_raw, "value_raw": value_raw, "baseline": baseline, "value": val,
           "change": val - baseline, "scale": np.array(["identity", "log"], dtype=object)[is_log.astype(np.intp)],
           "survivor": survivor[sid]}
    return pd.DataFrame(out, copy=False), base_subjects


def baseline_values(trial: Trial, parameters: Sequence[str] = ("MELD",)) -> pd.DataFrame:
    """Subject-level baseline table: ``subject_id``, ``arm``, factor columns, the subject columns
    (age, sex, cirrhosis, ...) and one column per requested baseline parameter (NaN when missing).

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> s = pd.DataFrame({"subject_id": ["a"], "arm": ["msc"], "age": [40.0]})
    >>> labs = pd.DataFrame({"subject_id": "a", "day": [0], "visit": ["D0"], "parameter": ["ALT"],
    ...                      "value": [80.0], "unit": "U/L"})
    >>> baseline_values(Trial(study=load_study(), subjects=s, labs=labs, events=pd.DataFrame()), ["ALT"])
      subject_id  arm  msc  pe   age   ALT
    0          a  msc    1   0  40.0  80.0
    """
    study = trial.study
    parameters = list(parameters)
    v, subjects = _visit_codes(trial, parameters, baseline_only=True)
    at = v["vis"] == study.visit_ids.index(study.baseline_visit.id)
    cells = np.full((len(subjects), len(parameters)), np.nan)
    cells[v["sid"][at], v["pos"][at]] = v["value"][at]
    b = pd.DataFrame(cells, index=subjects, columns=parameters).iloc[np.unique(v["sid"][at])]
    out = factor_columns(trial.subjects, study)
    extra = trial.subjects.drop(columns=["arm"]).astype({"subject_id": object})
    extra = extra[[c for c in extra.columns if c not in out.columns or c == "subject_id"]]
    out = out.merge(extra, on="subject_id", how="left")
    out = out.merge(b, left_on="subject_id", right_index=True, how="left")
    return out


def worst_rank_inputs(trial: Trial, parameter: str, *, horizon: str | float | None = "secondary",
                      log: Collection[str] = (),
                      missing: str = "drop") -> pd.DataFrame:
    """Per-subject inputs of a worst-rank composite for one parameter at the target visit.

    Subjects who died or had a transplant on or before the horizon carry ``event = 1`` and their
    ``event_day``; survivors carry their ``change`` at :func:`target_visit`.

    Parameters
    ----------
    parameter : str
    horizon : str or float
    log : sequence of str
        As :func:`change_from_baseline`.
    missing : {"drop", "locf"}
        Survivors without a value at the target visit: left out (default) or given their last
        post-baseline change (last observation carried forward).

    Returns
    -------
    DataFrame
        ``subject_id``, ``arm``, factor columns, ``event`` (0/1), ``event_day`` (NaN for survivors),
        ``change`` (NaN for events), ``imputed`` (bool). Subjects without a baseline value are left out.

    Examples
    --------
    ``a`` died on day 120; ``b`` has a week-24 TBIL (log scale: log(50/200)); ``c`` was last
    measured at week 12, so is left out unless carried forward:

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> labs = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "b", "c", "c"], "day": [0, 84, 0, 84, 168, 0, 84],
    ...                      "visit": ["D0", "W12", "D0", "W12", "W24", "D0", "W12"], "parameter": "TBIL",
    ...                      "value": [300.0, 250.0, 200.0, 100.0, 50.0, 400.0, 200.0], "unit": "umol/L"})
    >>> events = pd.DataFrame({"subject_id": ["a", "a", "b", "c"], "day": [120, 120, 336, 336],
    ...                        "event": ["death", "last_contact", "last_contact", "last_contact"]})
    >>> subjects = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["control", "msc", "msc"]})
    >>> t = Trial(study=load_study(), subjects=subjects, labs=labs, events=events)
    >>> worst_rank_inputs(t, "TBIL", log=["TBIL"])[["subject_id", "arm", "event", "event_day", "change", "imputed"]].round(3)
      subject_id      arm  event  event_day  change  imputed
    0          a  control      1      120.0     NaN    False
    1          b      msc      0        NaN  -1.386    False
    >>> worst_rank_inputs(t, "TBIL", log=["TBIL"], missing="locf")[["subject_id", "change", "imputed"]].round(3)
      subject_id  change  imputed
    0          a     NaN    False
    1          b  -1.386    False
    2          c  -0.693     True
    """
    if missing not in ("drop", "locf"):
        raise ValueError("missing: expected 'drop' or 'locf'")
    study = trial.study
    h = horizon_days(study, horizon)
    tv = target_visit(study, horizon)
    ch, has_base = _change(trial, [parameter], h, log, "exclude")
    flags = _survivor_flags(trial, h)
    out = factor_columns(trial.subjects, study).merge(flags[["subject_id", "event_day"]], on="subject_id")
    out = out[out["subject_id"].isin(has_base)]
    out["event"] = out["event_day"].notna().astype("int64")
    at = ch[ch["visit"] == tv].set_index("subject_id")["change"]
    out["change"] = out["subject_id"].map(at)
    out["imputed"] = False
    if missing == "locf":
        last = ch.sort_values("visit_day").groupby("subject_id")["change"].last()
        fill = out["change"].isna() & (out["event"] == 0)
        out.loc[fill, "change"] = out.loc[fill, "subject_id"].map(last)
        out.loc[fill, "imputed"] = out.loc[fill, "change"].notna()
    out.loc[out["event"] == 1, "change"] = np.nan
    keep = (out["event"] == 1) | out["change"].notna()
    cols = ["subject_id", "arm", *study.factors, "event", "event_day", "change", "imputed"]
    return out.loc[keep, cols].reset_index(drop=True)


def symptom_visits(trial: Trial) -> pd.DataFrame:
    """Symptom scores placed in visits: ``subject_id``, ``arm``, ``symptom``, ``visit``, ``visit_day``,
    ``score`` (one per subject, symptom and visit). Requires the optional ``symptoms`` table.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> sy = pd.DataFrame({"subject_id": ["a", "a", "a", "b", "b"], "day": [0, 80, 170, 0, 6],
    ...                    "visit": ["D0", "", "", "D0", "D7"], "symptom": "fatigue", "score": [3, 2, 1, 2, 2]})
    >>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["a", "b"], "arm": ["control", "msc"]}),
    ...           labs=pd.DataFrame(), events=pd.DataFrame(), symptoms=sy)
    >>> symptom_visits(t)
      subject_id      arm  symptom visit  visit_day  score
    0          a  control  fatigue    D0          0      3
    1          a  control  fatigue   W12         84      2
    2          a  control  fatigue   W24        168      1
    3          b      msc  fatigue    D0          0      2
    4          b      msc  fatigue    D7          7      2
    """
    if not trial.has("symptoms"):
        raise ValueError("this dataset has no symptoms table")
    assert trial.symptoms is not None  # trial.has("symptoms") said so
    s = trial.symptoms[["subject_id", "day", "visit", "symptom", "score"]].astype({"day": float})
    s = assign_visits(s, trial.study, keys=("subject_id", "symptom"))
    # sorted by codes of the sorted ids and symptoms; object columns share their strings
    subjects = pd.Index(sorted(pd.unique(s["subject_id"].astype(object))), dtype=object)
    symptoms = pd.Index(sorted(pd.unique(s["symptom"].astype(object))), dtype=object)
    sid, sym, vday = positions(s["subject_id"], subjects), positions(s["symptom"], symptoms), s["visit_day"].to_numpy()
    o = np.lexsort((vday, sid, sym))
    arm = trial.subjects["arm"].to_numpy(dtype=object)
    row = positions(trial.subjects["subject_id"], subjects)
    arm_of = np.full(len(subjects), np.nan, dtype=object)  # NaN: not in the subjects table
    arm_of[row[row >= 0]] = arm[row >= 0]
    return pd.DataFrame({"subject_id": _object_column(subjects, sid[o]), "arm": arm_of[sid[o]],
                         "symptom": _object_column(symptoms, sym[o]), "visit": s["visit"].to_numpy()[o],
                         "visit_day": vday[o], "score": s["score"].to_numpy(dtype=np.int64)[o]})


def symptom_outcomes(trial: Trial, *, horizon: str | float | None = "secondary") -> pd.DataFrame:
    """Per subject and symptom: baseline score, score at the target visit, and death/LT by the horizon.

    Returns
    -------
    DataFrame
        ``subject_id``, ``arm``, factor columns, ``symptom``, ``baseline``, ``score`` (NaN if not
        assessed), ``event`` (1 = died or transplanted on or before the horizon), ``improved``
        (score below baseline and no event; NaN when a survivor's score is missing). Subjects without
        a baseline score for a symptom are left out of it.

    Examples
    --------
    ``a`` died on day 120 (not improved), ``b`` is unchanged, ``c`` improved, ``d`` was not assessed
    at week 24 (improvement unknown):

    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> subjects = pd.DataFrame({"subject_id": ["a", "b", "c", "d"], "arm": ["control", "msc", "msc", "pe"]})
    >>> sy = pd.DataFrame({"subject_id": ["a", "a", "b", "b", "c", "c", "d"], "day": [0, 84, 0, 166, 0, 168, 0],
    ...                    "visit": ["D0", "W12", "D0", "", "D0", "W24", "D0"], "symptom": "fatigue",
    ...                    "score": [3, 2, 2, 2, 2, 0, 1]})
    >>> events = pd.DataFrame({"subject_id": ["a", "a", "b", "c", "d"], "day": [120, 120, 336, 336, 336],
    ...                        "event": ["death", "last_contact", "last_contact", "last_contact", "last_contact"]})
    >>> t = Trial(study=load_study(), subjects=subjects, labs=pd.DataFrame(), events=events, symptoms=sy)
    >>> symptom_outcomes(t)[["subject_id", "arm", "symptom", "baseline", "score", "event", "improved"]]
      subject_id      arm  symptom  baseline  score  event  improved
    0          a  control  fatigue         3    NaN      1       0.0
    1          b      msc  fatigue         2    2.0      0       0.0
    2          c      msc  fatigue         2    0.0      0       1.0
    3          d       pe  fatigue         1    NaN      0       NaN
    """
    study = trial.study
    h = horizon_days(study, horizon)
    tv = target_visit(study, horizon)
    sv = symptom_visits(trial)
    base = sv[sv["visit"] == study.baseline_visit.id].set_index(["subject_id", "symptom"])["score"]
    at = sv[sv["visit"] == tv].set_index(["subject_id", "symptom"])["score"]
    flags = _survivor_flags(trial, h).set_index("subject_id")
    fc = factor_columns(trial.subjects, study)
    rows = base.rename("baseline").reset_index().merge(fc, on="subject_id", how="inner")
    rows["score"] = [at.get((s, y), np.nan) for s, y in zip(rows["subject_id"], rows["symptom"])]
    rows["score"] = rows["score"].astype(float)
    rows["event"] = rows["subject_id"].map(flags["event_day"]).notna().astype("int64")
    rows.loc[rows["event"] == 1, "score"] = np.nan
    imp = (rows["score"] < rows["baseline"]).astype(float)
    imp[(rows["event"] == 0) & rows["score"].isna()] = np.nan
    imp[rows["event"] == 1] = 0.0
    rows["improved"] = imp
    cols = ["subject_id", "arm", *study.factors, "symptom", "baseline", "score", "event", "improved"]
    order = {s: i for i, s in enumerate(study.symptoms)}
    rows = rows.assign(_o=rows["symptom"].map(order)).sort_values(["_o", "subject_id"], kind="stable")
    return rows[cols].reset_index(drop=True)
