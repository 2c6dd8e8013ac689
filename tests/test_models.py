"""Predictive models (trialkit.models): leakage guard, nested-CV structure, metrics against R,
decision-curve arithmetic by hand, pipelines, interpretation, plots.

The large-cohort comparison with the oracle AUC is in tests/test_models_oracle.py.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

from trialkit.models import decision, evaluation, features, pipelines  # noqa: E402
from trialkit.models.decision import decision_curve, net_benefit  # noqa: E402
from trialkit.models.evaluation import (  # noqa: E402
    auc_ci,
    calibration_slope,
    compare_to_reference,
    corrected_ttest,
    delong_test,
    nested_cv,
    performance_table,
)
from trialkit.models.features import LeakageError  # noqa: E402
from trialkit.models.pipelines import ModelSpec, model_specs, score_spec  # noqa: E402
from trialkit.plots import models as mplots  # noqa: E402
from trialkit.simulate import simulate  # noqa: E402
from trialkit.study import load_study, study_from_dict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference"


@pytest.fixture(scope="module")
def trial():
    return simulate(seed=2012)


@pytest.fixture(scope="module")
def xy(trial):
    return features.split_xy(features.analysis_dataset(trial))


def _synthetic(n=150, seed=0):
    """A feature table where the outcome depends on ``a`` (strongly) and ``b`` (weakly) only."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "noise": rng.normal(size=n),
                      "sex": pd.array(rng.choice(["M", "F"], n), dtype="str")})
    X.loc[rng.choice(n, 5, replace=False), "b"] = np.nan
    lp = 1.5 * X["a"] + 0.4 * X["b"].fillna(0)
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int).to_numpy()
    time = np.where(y == 1, rng.uniform(1, 80, n), 84.0)
    return X, y, time


# ------------------------------------------------------------------------------------------------
# The analysis dataset and the leakage guard
# ------------------------------------------------------------------------------------------------
def test_features_are_baseline_only(trial):
    feats = features.baseline_features(trial)
    cols = set(feats.columns)
    # randomized treatment: one 0/1 column per factor of the study file
    assert set(trial.study.factor_names) <= cols
    # exposure (doses received), follow-up status and outcome never enter
    forbidden = {f"{f}_doses" for f in trial.study.factor_names} | {f"{f}_received" for f in trial.study.factor_names}
    forbidden |= {"died", "transplanted", "outcome", "follow_up", "treatment", "randomization_date", "event", "time"}
    assert not forbidden & cols
    assert {"meld", "TBIL", "INR", "age"} <= cols
    # exact duplicates are dropped (the subject column 'encephalopathy' equals the HE grade here)
    assert "HE" in cols and "encephalopathy" not in cols
    assert not feats.drop(columns="subject_id").isna().all().any()
    features.check_baseline_only(feats, trial)


def test_leakage_planted_value_refused(trial):
    """A bilirubin measured on day 7 planted in the feature table is refused."""
    feats = features.baseline_features(trial)
    labs = trial.labs
    sid = feats["subject_id"].iloc[3]
    later = labs[(labs["subject_id"] == sid) & (labs["parameter"] == "TBIL") & (labs["day"] > 0)]
    assert len(later)
    planted = feats.copy()
    planted.loc[3, "TBIL"] = float(later["value"].iloc[0])
    assert planted.loc[3, "TBIL"] != feats.loc[3, "TBIL"]
    with pytest.raises(LeakageError, match=r"TBIL \(1 rows\)"):
        features.check_baseline_only(planted, trial)
    with pytest.raises(LeakageError, match="TBIL"):
        features.analysis_dataset(trial, features=planted)
    # the error names no subject
    with pytest.raises(LeakageError) as err:
        features.check_baseline_only(planted, trial)
    assert sid not in str(err.value)


@pytest.mark.parametrize("column", ["msc_doses", "died", "outcome"])
def test_leakage_post_baseline_columns_refused(trial, column):
    feats = features.baseline_features(trial)
    extra = {"msc_doses": trial.subjects["msc_doses"].to_numpy(), "died": np.zeros(len(feats)),
             "outcome": np.zeros(len(feats))}[column]
    with pytest.raises(LeakageError, match=column):
        features.analysis_dataset(trial, features=feats.assign(**{column: extra}))


def test_leakage_baseline_window_past_day_0(trial):
    """A study whose baseline window runs past day 0: a value measured on day 1 inside that window
    never enters the baseline (generic or predictive), and a feature table holding it is refused."""
    from trialkit.derive.baseline import baseline_dataset

    raw = dict(load_study().raw)
    raw["visits"] = [dict(v, window=[-3, 1]) if v["id"] == "D0" else dict(v) for v in raw["visits"]]
    study = study_from_dict(raw)
    assert features.baseline_cutoff(study) == 0
    sid = trial.subjects["subject_id"].iloc[0]
    row = pd.DataFrame({"subject_id": [sid], "day": [1], "visit": [""], "parameter": ["TBIL"], "value": [999.0],
                        "unit": ["umol/L"]}).astype({c: trial.labs[c].dtype for c in trial.labs.columns})
    t2 = trial.with_tables(labs=pd.concat([trial.labs, row], ignore_index=True))
    t2 = type(t2)(**{**{k: getattr(t2, k) for k in ("subjects", "labs", "events")}, "study": study,
                     **{k: getattr(t2, k) for k in ("infusions", "adverse_events", "symptoms") if t2.has(k)}})
    generic = baseline_dataset(t2)
    assert generic.loc[generic["subject_id"] == sid, "TBIL"].item() != 999.0  # neither the generic rule
    feats = features.baseline_features(t2)
    assert feats.loc[feats["subject_id"] == sid, "TBIL"].item() != 999.0     # nor the predictive features
    leaky = feats.copy()
    leaky.loc[leaky["subject_id"] == sid, "TBIL"] = 999.0                  # the day-1 value planted by hand
    with pytest.raises(LeakageError, match="TBIL"):
        features.check_baseline_only(leaky, t2)


def test_binary_outcome_and_summary(trial):
    data = features.analysis_dataset(trial)
    out = features.binary_outcome(trial)
    tte_events = out["event"].sum()
    s = features.outcome_summary(data).iloc[0]
    assert s["horizon"] == 336 and s["n_subjects"] == trial.n_subjects
    assert s["n_events"] == tte_events  # every event is known
    assert s["n_known"] + s["n_unknown"] == s["n_subjects"]
    assert s["prevalence"] == pytest.approx(s["n_events"] / s["n_known"])
    # unknown = no event and follow-up ended before the W48 window (day 322)
    unk = out[~out["known"]]
    assert (unk["event"] == 0).all() and (unk["time"] < 322).all()
    w12 = features.binary_outcome(trial, 84)
    assert (w12["event"] <= out["event"]).all() and w12["event"].sum() < tte_events


def test_oracle_risk_and_two_arm_study():
    t = simulate(study=ROOT / "params" / "study_two_arm.yaml", seed=3)
    data = features.analysis_dataset(t)
    assert data.attrs["horizon"] == 168
    xy = features.split_xy(data)
    assert "msc" in xy.X.columns and "pe" not in xy.X.columns and "arm" not in xy.X.columns
    orc = features.oracle_risk(t)
    assert np.allclose(orc["oracle_risk"], t.latent["risk_primary"])
    assert np.allclose(features.oracle_risk(t, 84)["oracle_risk"], t.latent["risk_day84"])
    assert features.oracle_risk(t, 100) is None
    assert features.oracle_risk(t.with_tables()) is not None  # latent is carried along
    msg = features.too_few_events(xy.y[:12], n_splits=4)
    assert msg is not None and "skipped" in msg


# ------------------------------------------------------------------------------------------------
# Nested cross-validation: no outer test row ever reaches tuning
# ------------------------------------------------------------------------------------------------
LOG: list[tuple[str, np.ndarray]] = []


class _Recorder(TransformerMixin, BaseEstimator):
    """Pass-through step that logs the row labels (positions in X) it is fitted on / transforms."""

    def fit(self, X, y=None):
        LOG.append(("fit", np.asarray(X.index)))
        return self

    def fit_transform(self, X, y=None):
        self.fit(X, y)
        return X

    def transform(self, X):
        LOG.append(("predict", np.asarray(X.index)))
        return X


def _recording_spec():
    inner = model_specs(["logistic"], grid="light", seed=0)["logistic"]
    est = Pipeline([("record", _Recorder()), *inner.estimator.steps])
    return ModelSpec("rec", "recorded logistic", est, {"model__C": [0.05, 0.5]})


def _check_nested(log, splits, n_candidates, inner_splits):
    """Split the log into outer folds (each ends with the prediction of its test fold) and check them."""
    pos = 0
    for _, _, train, test in splits:
        end = next(i for i in range(pos, len(log)) if log[i][0] == "predict" and np.array_equal(log[i][1], test))
        block, pos = log[pos:end], end + 1
        fits = [idx for kind, idx in block if kind == "fit"]
        preds = [idx for kind, idx in block if kind == "predict"]
        assert len(fits) == n_candidates * inner_splits + 1  # the inner search, then one refit
        for idx in fits + preds:
            assert not np.intersect1d(idx, test).size, "an outer test row reached the inner search"
            assert np.isin(idx, train).all()
        assert np.array_equal(np.sort(fits[-1]), np.sort(train))  # refit on the whole outer training set
        assert all(len(f) < len(train) for f in fits[:-1])
        # inner validation folds partition the outer training set, per candidate
        assert np.array_equal(np.sort(np.concatenate(preds)), np.sort(np.tile(train, n_candidates)))
    assert pos == len(log)


def test_nested_cv_structure_no_test_row_in_tuning():
    X, y, _ = _synthetic(90)
    LOG.clear()
    cv = nested_cv(X, y, [_recording_spec()], n_splits=3, n_repeats=2, inner_splits=3, seed=4)
    assert len(cv.splits) == 6
    _check_nested(LOG, cv.splits, n_candidates=2, inner_splits=3)
    assert set(cv.folds["params"]) <= {'{"model__C": 0.05}', '{"model__C": 0.5}'}
    # each repeat predicts every row exactly once
    p = cv.predictions
    assert (p.groupby("repeat")["row"].apply(lambda r: sorted(r) == list(range(len(y))))).all()


def test_nested_check_detects_leaky_tuning():
    """Negative control: tuning on all rows before the outer CV (a classic leak) fails the check."""
    X, y, _ = _synthetic(90)
    spec = _recording_spec()
    LOG.clear()
    search = GridSearchCV(spec.estimator, spec.param_grid, cv=3, scoring="neg_log_loss").fit(X, y)
    splits = []
    outer = RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=0)
    for k, (tr, te) in enumerate(outer.split(X, y)):
        splits.append((0, k, tr, te))
        est = search.best_estimator_.fit(X.iloc[tr], y[tr])
        est.predict_proba(X.iloc[te])
    with pytest.raises(AssertionError):
        _check_nested(LOG, splits, n_candidates=2, inner_splits=3)


def test_nested_cv_deterministic_and_seeded():
    X, y, t = _synthetic(90)
    specs = model_specs(["logistic", "gradient_boosting"], grid="light", seed=1, horizon=84)
    a = nested_cv(X, y, specs, time=t, n_splits=3, n_repeats=1, seed=7)
    b = nested_cv(X, y, specs, time=t, n_splits=3, n_repeats=1, seed=7)
    c = nested_cv(X, y, specs, time=t, n_splits=3, n_repeats=1, seed=8)
    pd.testing.assert_frame_equal(a.predictions, b.predictions)
    assert not np.array_equal(a.splits[0][3], c.splits[0][3])


def test_recalibrated_score_keeps_ranking_and_cox_needs_time(xy):
    cv = nested_cv(xy.X, xy.y, [score_spec("meld", "MELD")], scores={"meld": "MELD"}, n_splits=3, n_repeats=1,
                   seed=2)
    f = cv.folds.pivot(index="fold", columns="model", values="auc")
    assert np.allclose(f["meld"], f["meld_recalibrated"])  # a monotone recalibration keeps the AUC
    perf = performance_table(cv).set_index("model")
    assert perf.loc["meld", "ci_method"] == "delong" and perf.loc["meld_recalibrated", "ci_method"] == "corrected_cv"
    assert perf.loc["meld", "auc"] == pytest.approx(auc_ci(xy.y, xy.X["meld"])["estimate"].item())
    assert abs(perf.loc["meld_recalibrated", "calibration_intercept"]) < 0.3
    with pytest.raises(ValueError, match="time"):
        nested_cv(xy.X, xy.y, model_specs(["cox"], grid="none"), n_splits=3, n_repeats=1)


def test_compare_to_reference_is_paired_corrected_ttest(xy):
    specs = model_specs(["logistic"], grid="none", seed=0) | {"r": score_spec("meld", "MELD"),
                                                                       "r2": score_spec("meld_na", "MELD-Na")}
    cv = nested_cv(xy.X, xy.y, specs, scores={"meld": "MELD", "meld_na": "MELD-Na"}, n_splits=4, n_repeats=2,
                   seed=3)
    cmp_ = compare_to_reference(cv, "meld")
    row = cmp_[(cmp_["model"] == "logistic") & (cmp_["metric"] == "auc")].iloc[0]
    f = cv.folds
    d = (f[f["model"] == "logistic"].set_index(["repeat", "fold"])["auc"]
         - f[f["model"] == "meld"].set_index(["repeat", "fold"])["auc"])
    ratio = (f["n_test"] / f["n_train"])[f["model"] == "logistic"].mean()
    assert row["estimate"] == pytest.approx(d.mean())
    assert row["se"] == pytest.approx(np.sqrt((1 / 8 + ratio) * d.var(ddof=1)))
    assert row["n_folds"] == 8
    # the reference and its recalibration are excluded; a raw score is compared by AUC, its
    # recalibration (same ranking) by Brier score only
    assert set(cmp_["model"]) == {"logistic", "meld_na", "meld_na_recalibrated"}
    metrics = cmp_.groupby("model")["metric"].apply(set).to_dict()
    assert metrics == {"logistic": {"auc", "brier"}, "meld_na": {"auc"}, "meld_na_recalibrated": {"brier"}}


def test_corrected_ttest_by_hand():
    v = [0.1, 0.3, 0.2, 0.0, 0.15]
    r = corrected_ttest(v, test_train_ratio=0.25)
    s2 = np.var(v, ddof=1)
    se = np.sqrt((1 / 5 + 0.25) * s2)
    assert r["estimate"] == pytest.approx(0.15) and r["se"] == pytest.approx(se)
    from scipy import stats

    assert r["p_value"] == pytest.approx(2 * stats.t.sf(0.15 / se, 4))
    assert r["ci_low"] == pytest.approx(0.15 - stats.t.ppf(0.975, 4) * se)


# ------------------------------------------------------------------------------------------------
# Metrics against R (tests/reference/models_auc.R, base R only)
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ref():
    return pd.read_csv(REF / "models_auc_data.csv"), json.loads((REF / "models_auc_expected.json").read_text())


def test_auc_delong_against_R(ref):
    """DeLong AUC, SE and Wald CI of MELD (many ties) and of the oracle risk; R 4.2.2 base, from the
    definition of the placement values (tests/reference/models_auc.R). Tolerance 1e-6 relative."""
    d, r = ref
    for col, key in (("meld", "auc_meld"), ("risk", "auc_risk")):
        got = auc_ci(d["y"], d[col]).iloc[0]
        for k in ("estimate", "se", "ci_low", "ci_high"):
            assert got[k] == pytest.approx(r[key][k], rel=1e-6), (col, k)


def test_delong_paired_against_R(ref):
    d, r = ref
    got = delong_test(d["y"], d["meld"], d["meld_na"]).iloc[0]
    for k in ("auc_a", "auc_b", "estimate", "se", "z", "p_value"):
        assert got[k] == pytest.approx(r["delong_meld_vs_meld_na"][k], rel=1e-6), k


def test_calibration_and_brier_against_R(ref):
    """glm(y ~ qlogis(p), binomial) slope and glm(y ~ offset(qlogis(p))) intercept, with SEs."""
    d, r = ref
    got = calibration_slope(d["y"], d["risk"])
    for k in ("intercept", "intercept_se", "slope", "slope_se"):
        assert got[k] == pytest.approx(r["calibration_risk"][k], rel=1e-6), k
    assert evaluation.brier_score(d["y"], d["risk"]) == pytest.approx(r["brier_risk"], rel=1e-9)
    nb = net_benefit(d["y"], d["risk"], r["thresholds"])["net_benefit"]
    assert np.allclose(nb, r["net_benefit_risk"], rtol=1e-9)


# ------------------------------------------------------------------------------------------------
# Decision curve arithmetic by hand
# ------------------------------------------------------------------------------------------------
def test_decision_curve_hand_calculation():
    y = [1, 1, 0, 0, 0, 1, 0, 0, 0, 0]           # 3 events in 10
    risk = [0.9, 0.3, 0.3, 0.25, 0.1, 0.05, 0.6, 0.2, 0.15, 0.02]
    dc = decision_curve(y, {"m": risk}, thresholds=[0.2, 0.3, 0.5])
    m = dc[dc["strategy"] == "m"].set_index("threshold")
    # pt = 0.2: treated = risk >= 0.2 -> 0.9(1), 0.3(1), 0.3(0), 0.25(0), 0.6(0), 0.2(0): TP 2, FP 4
    assert (m.loc[0.2, "true_positives"], m.loc[0.2, "false_positives"]) == (2, 4)
    assert m.loc[0.2, "net_benefit"] == pytest.approx(2 / 10 - 4 / 10 * 0.2 / 0.8)     # 0.1
    # pt = 0.3: 0.9(1), 0.3(1), 0.3(0), 0.6(0): TP 2, FP 2 (a risk equal to the threshold is treated)
    assert m.loc[0.3, "net_benefit"] == pytest.approx(2 / 10 - 2 / 10 * 0.3 / 0.7)     # 0.114286
    # pt = 0.5: 0.9(1), 0.6(0): TP 1, FP 1
    assert m.loc[0.5, "net_benefit"] == pytest.approx(1 / 10 - 1 / 10 * 1.0)          # 0
    all_ = dc[dc["strategy"] == "treat_all"].set_index("threshold")["net_benefit"]
    assert all_.loc[0.2] == pytest.approx(0.3 - 0.7 * 0.25)                            # 0.125
    assert all_.loc[0.5] == pytest.approx(0.3 - 0.7)                                    # -0.4
    assert (dc.loc[dc["strategy"] == "treat_none", "net_benefit"] == 0).all()
    assert (dc["prevalence"] == 0.3).all()
    # useful where the model beats both references: not at 0.2 (0.1 < treat-all 0.125), at 0.3
    # (0.114 > treat-all 0.3 - 0.7 * 0.3/0.7 = 0 and > 0), not at 0.5 (0 = treat-none)
    ur = decision.useful_range(dc, "m").iloc[0]
    assert (ur["n_thresholds"], ur["low"], ur["high"]) == (1, 0.3, 0.3)


def test_decision_curve_rejects_bad_input():
    with pytest.raises(ValueError):
        net_benefit([0, 1], [0.2, np.nan])
    with pytest.raises(ValueError):
        net_benefit([0, 1], [0.2, 0.4], thresholds=[0.0, 0.5])


# ------------------------------------------------------------------------------------------------
# Pipelines
# ------------------------------------------------------------------------------------------------
def test_pipelines_fit_with_missing_and_text_columns():
    from threadpoolctl import threadpool_limits

    X, y, t = _synthetic(120)
    for name, spec in model_specs(horizon=84, seed=0).items():
        kw = {spec.time_param: t} if spec.time_param else {}
        with threadpool_limits(1):  # as nested_cv does: OpenMP on a shared 2-core machine only slows HGB
            p = spec.estimator.fit(X, y, **kw).predict_proba(X)[:, 1]
        assert p.shape == (120,) and np.all((p >= 0) & (p <= 1))
        assert np.corrcoef(p, X["a"])[0, 1] > 0.5, name
    assert X["b"].isna().sum() == 5  # inputs not modified


def test_penalized_cox_matches_lifelines():
    from lifelines import CoxPHFitter

    X, y, t = _synthetic(100)
    Z = X[["a", "b", "noise"]].fillna(0.0).to_numpy()
    m = pipelines.PenalizedCox(penalizer=0.3, horizon=84).fit(Z, y, time=t)
    df = pd.DataFrame(Z, columns=["x0", "x1", "x2"]).assign(T=t, E=y)
    with warnings.catch_warnings():  # lifelines' own pandas deprecation chatter
        warnings.simplefilter("ignore")
        ref = CoxPHFitter(penalizer=0.3).fit(df, "T", "E")
    assert np.allclose(m.cox_.params_.to_numpy(), ref.params_.to_numpy())
    s = ref.predict_survival_function(df[["x0", "x1", "x2"]], times=[84.0]).to_numpy()[0]
    assert np.allclose(m.predict_proba(Z)[:, 1], 1 - s)


# ------------------------------------------------------------------------------------------------
# Interpretation, holdout and learning curve
# ------------------------------------------------------------------------------------------------
def test_permutation_importance_and_partial_dependence():
    X, y, _ = _synthetic(200, seed=1)
    cv = nested_cv(X, y, model_specs(["logistic"], grid="none"), n_splits=4, n_repeats=1, seed=0,
                   keep_models=True)
    imp = evaluation.permutation_importance_cv(cv, X, "logistic", n_repeats=3, seed=0)
    assert imp.iloc[0]["feature"] == "a" and imp.iloc[0]["ci_low"] > 0
    assert abs(imp.set_index("feature").loc["noise", "estimate"]) < 0.05
    assert imp["rank"].tolist() == list(range(1, 5)) and (imp["n_folds"] == 4).all()
    with pytest.raises(KeyError, match="keep_models"):
        evaluation.permutation_importance_cv(nested_cv(X, y, model_specs(["logistic"], grid="none"), n_splits=3,
                                                       n_repeats=1), X, "logistic")
    est, params = evaluation.fit_final(model_specs(["logistic"], grid="light")["logistic"], X, y, seed=0)
    pdp = evaluation.partial_dependence(est, X, ["a", "sex"], grid_points=5)
    assert set(pdp["feature"]) == {"a"} and len(pdp) == 5
    assert np.all(np.diff(pdp["risk"]) > 0)  # risk rises with a
    truth = {"latent_severity": {"coefficients": {"A": 1.5}}, "hazard_ratios": {"terms": {"sex": 1.0}}}
    vs = evaluation.importance_vs_truth(imp, truth).set_index("feature")
    assert vs.loc["a", "true_role"] == "latent severity" and vs.loc["sex", "true_role"] == ""


def test_holdout_and_learning_curve_with_custom_cohorts():
    def make(n, seed):
        X, y, t = _synthetic(n, seed=seed % 1000)
        lp = 1.5 * X["a"] + 0.4 * X["b"].fillna(0)
        return features.XY(X, y, t, np.arange(n)), 1 / (1 + np.exp(-lp.to_numpy()))

    specs = model_specs(["logistic"], grid="none")
    lc = evaluation.learning_curve([40, 400], specs, make_cohort=make, scores={"a": "A"}, test_size=2000,
                                   n_replicates=2, seed=5)
    s = evaluation.learning_curve_summary(lc)
    lg = s[s["model"] == "logistic"].set_index("n_subjects")
    orc = s.loc[s["model"] == "oracle", "auc"].item()
    assert lg.loc[400, "auc"] > lg.loc[40, "auc"] - 0.02 and lg.loc[400, "auc"] <= orc + 0.01
    assert (lg["n_replicates"] == 2).all()
    assert s.loc[s["model"] == "a", "kind"].item() == "score"
    only_trained = evaluation.learning_curve_summary(lc[lc["n_subjects"].notna()])
    assert set(only_trained["model"]) == {"logistic"}
    # the cohorts are reproducible from the one seed, and differ between training cohorts
    again = evaluation.learning_curve([40], specs, make_cohort=make, test_size=2000, n_replicates=2, seed=5)
    pd.testing.assert_frame_equal(again[again["n_subjects"] == 40].reset_index(drop=True),
                                  lc[lc["n_subjects"] == 40].reset_index(drop=True))
    assert lc.loc[lc["n_subjects"] == 40, "auc"].nunique() == 2


# ------------------------------------------------------------------------------------------------
# Plots
# ------------------------------------------------------------------------------------------------
def test_plots_return_axes(xy):
    specs = model_specs(["logistic"], grid="none") | {"meld_recalibrated": score_spec("meld", "MELD")}
    cv = nested_cv(xy.X, xy.y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=1, seed=0,
                   keep_models=True)
    fig, axes = plt.subplots(2, 3)
    ax = mplots.plot_roc(evaluation.roc_curves(cv), ax=axes[0, 0])
    assert len(ax.get_lines()) == 4  # logistic, recalibrated MELD, MELD + diagonal
    ax = mplots.plot_calibration(evaluation.calibration_curve(cv), ax=axes[0, 1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Penalized logistic regression",
                                                                   "MELD (recalibrated)"]
    oof = evaluation.oof_risk(cv)
    dc = decision_curve(oof["y"], oof[["logistic"]])
    assert mplots.plot_decision_curve(dc, ax=axes[0, 2]) is axes[0, 2]
    lc = pd.DataFrame({"model": ["logistic", "logistic", "oracle"], "label": ["L", "L", "Oracle"],
                       "kind": ["model", "model", "oracle"], "n_subjects": [60, 120, np.nan],
                       "n_train": [58, 117, np.nan], "auc": [0.7, 0.75, 0.8], "auc_sd": [0.02, 0.01, np.nan],
                       "brier": [0.2, 0.19, 0.17], "n_replicates": [2, 2, 1]})
    assert mplots.plot_learning_curve(lc, ax=axes[1, 0]) is axes[1, 0]
    imp = evaluation.permutation_importance_cv(cv, xy.X, "logistic", n_repeats=1)
    ax = mplots.plot_importance(imp, ax=axes[1, 1], top=5)
    assert len(ax.get_yticklabels()) == 5
    pdp = pd.DataFrame({"feature": "meld", "value": [20.0, 25.0], "risk": [0.2, 0.4]})
    assert mplots.plot_partial_dependence(pdp, "meld", ax=axes[1, 2]).get_xlabel() == "meld"
    plt.close(fig)


def test_cv_auc_interval_stays_within_0_and_1():
    """With few folds the corrected t interval of a near-perfect model passes 1; it is truncated."""
    from trialkit.models.evaluation import corrected_ttest

    rng = np.random.default_rng(4)
    n = 60
    y = np.r_[np.zeros(n // 2, int), np.ones(n // 2, int)]
    X = pd.DataFrame({"meld": y * 2.0 + rng.normal(0, 0.9, n), "age": rng.normal(50, 10, n)})
    cv = nested_cv(X, y, model_specs(["logistic"], grid="none", seed=0), n_splits=2, n_repeats=2,
                   seed=1)
    folds = cv.folds[cv.folds["model"] == "logistic"]["auc"]
    raw = corrected_ttest(folds, 1.0, 0.05)
    assert raw["ci_high"] > 1  # the untruncated interval would leave [0, 1]
    r = performance_table(cv).set_index("model").loc["logistic"]
    assert 0 <= r["auc_ci_low"] <= r["auc"] <= r["auc_ci_high"] == 1.0
