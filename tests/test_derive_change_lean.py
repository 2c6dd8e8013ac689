"""The lean change-from-baseline pipeline (integer codes, shared strings, groups of subjects) gives
exactly the tables of the straightforward pandas construction it replaced (kept below as the
reference), on a trial with transplants, deaths, missing baselines, unscheduled and duplicate
measurements, log-scale parameters, a ratio and scores; with text columns as strings and as
categoricals (how the validated hand-off stores them)."""
from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import pandas as pd
import pytest

import trialkit.derive.change as change
from trialkit.data.trial import Trial
from trialkit.datasets import example
from trialkit.derive.change import (
    SCORE_PARAMETERS,
    baseline_values,
    change_from_baseline,
    symptom_visits,
    target_visit,
    visit_values,
    worst_rank_inputs,
)
from trialkit.derive.severity import add_scores
from trialkit.derive.tte import factor_columns, horizon_days
from trialkit.derive.visits import assign_visits
from trialkit.stats import factorial, longitudinal

_survivor_flags = change._survivor_flags

# --- the reference: the previous implementation, verbatim ---------------------------------------

def old_visit_values(trial: Trial, parameters: Sequence[str]) -> pd.DataFrame:
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
    lab = labs.loc[labs["parameter"].isin(list(need)), ["subject_id", "day", "visit", "parameter", "value"]]
    lab = lab.astype({"subject_id": object, "parameter": object, "value": float, "day": float})
    lab = assign_visits(lab, study, keys=("subject_id", "parameter"))
    parts = [lab[lab["parameter"].isin(raw)]]
    if ratios:
        wide = lab.pivot_table(index=["subject_id", "visit", "visit_day"], columns="parameter", values="value",
                               aggfunc="first")
        for name, (a, b) in ratios.items():
            if a in wide and b in wide:
                r = (wide[a] / wide[b]).where(wide[b] > 0).dropna().rename("value").reset_index()
                r["parameter"], r["day"] = name, r["visit_day"].astype(float)
                parts.append(r)
    if scores:
        sc = add_scores(trial)
        for name in scores:
            s = sc[["subject_id", "visit", "day", SCORE_PARAMETERS[name]]].rename(
                columns={SCORE_PARAMETERS[name]: "value", "day": "visit_day"}).dropna(subset=["value"])
            s = s.assign(parameter=name, day=s["visit_day"].astype(float), value=s["value"].astype(float))
            parts.append(s)
    cols = ["subject_id", "parameter", "visit", "visit_day", "day", "value"]
    out = pd.concat([p[cols] for p in parts], ignore_index=True) if parts else pd.DataFrame(columns=cols)
    out = out.astype({"subject_id": object, "parameter": object, "visit": object, "visit_day": "int64"})
    order = {p: i for i, p in enumerate(parameters)}
    out = out.assign(_o=out["parameter"].map(order)).sort_values(["_o", "subject_id", "visit_day"], kind="stable")
    return out.drop(columns="_o").reset_index(drop=True)



def old_change_from_baseline(trial: Trial, parameters: Sequence[str], *, horizon: str | float | None = "secondary",
                         log: Collection[str] = (),
                         after_transplant: str = "exclude") -> pd.DataFrame:
    if after_transplant not in ("exclude", "keep"):
        raise ValueError("after_transplant: expected 'exclude' or 'keep'")
    study = trial.study
    h = horizon_days(study, horizon)
    vals = old_visit_values(trial, list(parameters))
    base_id = study.baseline_visit.id
    base = vals[vals["visit"] == base_id][["subject_id", "parameter", "value"]].rename(
        columns={"value": "baseline_raw"})
    post = vals[(vals["visit_day"] > 0) & (vals["visit_day"] <= h)]
    flags = _survivor_flags(trial, h)
    if after_transplant == "exclude":
        lt = post["subject_id"].map(flags.set_index("subject_id")["transplant_day"])
        post = post[~(post["day"] >= lt)]
    d = post.rename(columns={"value": "value_raw"}).merge(base, on=["subject_id", "parameter"], how="inner")
    is_log = d["parameter"].isin(list(log))
    if (is_log & ((d["value_raw"] <= 0) | (d["baseline_raw"] <= 0))).any():
        bad = sorted(d.loc[is_log & ((d["value_raw"] <= 0) | (d["baseline_raw"] <= 0)), "parameter"].unique())
        raise ValueError(f"non-positive values of {bad} cannot be log-transformed")
    with np.errstate(divide="ignore", invalid="ignore"):
        d["baseline"] = np.where(is_log, np.log(d["baseline_raw"]), d["baseline_raw"])
        d["value"] = np.where(is_log, np.log(d["value_raw"]), d["value_raw"])
    d["change"] = d["value"] - d["baseline"]
    d["scale"] = np.where(is_log, "log", "identity").astype(object)
    d = d.merge(flags[["subject_id", "survivor"]], on="subject_id", how="left")
    fc = factor_columns(trial.subjects, study)
    d = fc.merge(d, on="subject_id", how="inner")
    cols = ["subject_id", "arm", *study.factors, "parameter", "visit", "visit_day", "baseline_raw", "value_raw",
            "baseline", "value", "change", "scale", "survivor"]
    order = {p: i for i, p in enumerate(parameters)}
    d = d.assign(_o=d["parameter"].map(order)).sort_values(["_o", "subject_id", "visit_day"], kind="stable")
    return d[cols].reset_index(drop=True)



def old_baseline_values(trial: Trial, parameters: Sequence[str] = ("MELD",)) -> pd.DataFrame:
    study = trial.study
    vals = old_visit_values(trial, list(parameters))
    b = vals[vals["visit"] == study.baseline_visit.id].pivot(index="subject_id", columns="parameter", values="value")
    b = b.reindex(columns=list(parameters))
    b.columns.name = None
    out = factor_columns(trial.subjects, study)
    extra = trial.subjects.drop(columns=["arm"]).astype({"subject_id": object})
    extra = extra[[c for c in extra.columns if c not in out.columns or c == "subject_id"]]
    out = out.merge(extra, on="subject_id", how="left")
    out = out.merge(b, left_on="subject_id", right_index=True, how="left")
    return out



def old_worst_rank_inputs(trial: Trial, parameter: str, *, horizon: str | float | None = "secondary",
                      log: Collection[str] = (),
                      missing: str = "drop") -> pd.DataFrame:
    if missing not in ("drop", "locf"):
        raise ValueError("missing: expected 'drop' or 'locf'")
    study = trial.study
    h = horizon_days(study, horizon)
    tv = target_visit(study, horizon)
    ch = old_change_from_baseline(trial, [parameter], horizon=horizon, log=log)
    vals = old_visit_values(trial, [parameter])
    has_base = set(vals.loc[vals["visit"] == study.baseline_visit.id, "subject_id"])
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



def old_symptom_visits(trial: Trial) -> pd.DataFrame:
    s = trial.symptoms[["subject_id", "day", "visit", "symptom", "score"]].astype(
        {"subject_id": object, "symptom": object, "day": float})
    s = assign_visits(s, trial.study, keys=("subject_id", "symptom"))
    arm = trial.subjects.set_index(trial.subjects["subject_id"].astype(object))["arm"].astype(object)
    s = s.assign(arm=s["subject_id"].map(arm), score=s["score"].astype("int64"))
    s = s.sort_values(["symptom", "subject_id", "visit_day"], kind="stable")
    return s[["subject_id", "arm", "symptom", "visit", "visit_day", "score"]].reset_index(drop=True)


# --- the trial ----------------------------------------------------------------------------------
PARAMS = ["ALT", "ALB", "TBIL", "TH1_TH2", "MELD", "CHILD_PUGH"]
LOG = ["ALT", "TBIL", "TH1_TH2"]


def _awkward_trial(categorical: bool) -> Trial:
    t = example()
    rng = np.random.default_rng(5)
    labs = t.labs.copy()
    ids = list(t.subjects["subject_id"])
    # no baseline ALT for some subjects, no baseline at all for one, no labs at all for another
    drop = (labs["parameter"] == "ALT") & (labs["visit"] == "D0") & labs["subject_id"].isin(ids[:7])
    drop |= (labs["visit"] == "D0") & (labs["subject_id"] == ids[8])
    drop |= labs["subject_id"] == ids[9]
    labs = labs[~drop]
    # unscheduled repeats near scheduled visits (the visit rule must pick the same ones)
    extra = labs.sample(400, random_state=3).assign(visit="", day=lambda d: d["day"] + rng.integers(-2, 3, len(d)),
                                                    value=lambda d: d["value"] * 1.1)
    labs = pd.concat([labs, extra], ignore_index=True).sample(frac=1.0, random_state=4).reset_index(drop=True)
    events = pd.concat([t.events, pd.DataFrame({"subject_id": ids[10:16], "event": "transplant",
                                                "day": [20, 60, 100, 150, 200, 300]})], ignore_index=True)
    if categorical:
        labs = labs.astype({c: "category" for c in ("subject_id", "visit", "parameter", "unit")})
    return t.with_tables(labs=labs, events=events)


@pytest.fixture(params=[False, True], ids=["str", "categorical"])
def trial(request):
    return _awkward_trial(request.param)


@pytest.fixture(params=[10**9, 700], ids=["one group", "groups of subjects"])
def groups(request, monkeypatch):
    by_subject = change._by_subject
    monkeypatch.setattr(change, "_by_subject", lambda rows: by_subject(rows, max_rows=request.param))
    return request.param


def test_visit_values_equal_reference(trial, groups):
    pd.testing.assert_frame_equal(visit_values(trial, PARAMS), old_visit_values(trial, PARAMS))
    pd.testing.assert_frame_equal(visit_values(trial, ["MELD", "ALT"]), old_visit_values(trial, ["MELD", "ALT"]))


@pytest.mark.parametrize("after_transplant", ["exclude", "keep"])
def test_change_from_baseline_equals_reference(trial, groups, after_transplant):
    new = change_from_baseline(trial, PARAMS, log=LOG, after_transplant=after_transplant)
    ref = old_change_from_baseline(trial, PARAMS, log=LOG, after_transplant=after_transplant)
    pd.testing.assert_frame_equal(new, ref)
    assert new["survivor"].eq(False).any() and new["scale"].eq("log").any()
    # shared strings: one object per distinct subject, not one per row
    assert len({id(x) for x in new["subject_id"]}) == new["subject_id"].nunique()


def test_change_from_baseline_refuses_non_positive_log_values(trial):
    labs = trial.labs.assign(value=trial.labs["value"].where(trial.labs["parameter"] != "ALB", -1.0))
    with pytest.raises(ValueError, match=r"non-positive values of \['ALB'\] cannot"):
        change_from_baseline(trial.with_tables(labs=labs), ["ALB", "ALT"], log=["ALB", "ALT"])


@pytest.mark.parametrize("parameter", ["ALT", "TBIL", "MELD", "TH1_TH2"])
@pytest.mark.parametrize("missing", ["drop", "locf"])
def test_worst_rank_inputs_equal_reference(trial, groups, parameter, missing):
    new = worst_rank_inputs(trial, parameter, log=LOG, missing=missing)
    pd.testing.assert_frame_equal(new, old_worst_rank_inputs(trial, parameter, log=LOG, missing=missing))
    assert new["event"].eq(1).any()


def test_baseline_values_equal_reference(trial, groups):
    for params in (["MELD"], ["ALT", "MELD", "TH1_TH2", "CHILD_PUGH"]):
        pd.testing.assert_frame_equal(baseline_values(trial, params), old_baseline_values(trial, params))


@pytest.mark.parametrize("covariance", ["unstructured", "random_intercept"])
def test_analyze_parameters_survivors_equal_prefiltered(covariance):
    t = _awkward_trial(False)
    long = change_from_baseline(t, ["ALB", "TBIL"], log=["TBIL"])
    a = longitudinal.analyze_parameters(long, t.study, covariance=covariance, population="survivors")
    b = longitudinal.analyze_parameters(long[long["survivor"]], t.study, covariance=covariance, population="all")
    for k in ("fits", "contrasts", "lsmeans"):
        pd.testing.assert_frame_equal(a[k], b[k])
    c = factorial.mmrm_factorial(long, t.study, "W24", population="survivors")
    pd.testing.assert_frame_equal(c, factorial.mmrm_factorial(long[long["survivor"]], t.study, "W24"))


def test_symptom_visits_equal_reference(trial):
    sy = trial.symptoms
    rng = np.random.default_rng(2)
    extra = sy.sample(200, random_state=1).assign(visit="", day=lambda d: d["day"] + rng.integers(-2, 3, len(d)))
    sy = pd.concat([sy, extra], ignore_index=True).sample(frac=1.0, random_state=2).reset_index(drop=True)
    if isinstance(trial.labs["subject_id"].dtype, pd.CategoricalDtype):
        sy = sy.astype({"subject_id": "category", "symptom": "category", "visit": "category"})
    t = trial.with_tables(symptoms=sy)
    new = symptom_visits(t)
    pd.testing.assert_frame_equal(new, old_symptom_visits(t))
    assert len({id(x) for x in new["subject_id"]}) == new["subject_id"].nunique()
