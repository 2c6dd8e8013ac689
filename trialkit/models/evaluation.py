"""Honest evaluation for a small trial: nested cross-validation, discrimination, calibration, comparisons.

:func:`nested_cv` runs repeated stratified K-fold cross-validation (the *outer* loop). In each outer
training set, hyper-parameters are chosen by a grid search over an *inner* stratified K-fold split
of that training set only, the chosen model is refitted on the whole outer training set and then
predicts the outer test fold once. No row of an outer test fold ever reaches preprocessing, tuning
or fitting (checked at run time, and by ``tests/test_models.py`` with an index-recording estimator).

Summaries of a :class:`CVResult`:

- :func:`performance_table`: ROC AUC (mean over outer folds; CI from the corrected resampled
  t-statistic of Nadeau & Bengio, which widens the naive CV interval for the overlap of training
  sets; published scores used directly get the DeLong CI on all subjects), Brier score, scaled
  Brier, calibration intercept and slope (logistic recalibration of the out-of-fold predictions);
- :func:`compare_to_reference`: each model against MELD, paired by outer fold (the same corrected
  t-test on the per-fold AUC differences; Brier differences against recalibrated MELD);
- :func:`calibration_curve`, :func:`oof_risk`, :func:`roc_curves`: curves from the out-of-fold risk
  (averaged over repeats);
- :func:`permutation_importance_cv` (on the outer test folds) and :func:`partial_dependence`.

:func:`holdout_performance` and :func:`learning_curve` evaluate models on a large independent
(simulated) test cohort, next to the oracle AUC of the simulator's true risk.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from trialkit.models.pipelines import model_specs
>>> rng = np.random.default_rng(3)
>>> X = pd.DataFrame({"meld": rng.normal(25, 3, 90), "age": rng.normal(45, 10, 90)})
>>> y = (rng.random(90) < 1 / (1 + np.exp(-(X["meld"] - 25) / 2))).astype(int).to_numpy()
>>> cv = nested_cv(X, y, model_specs(["logistic"], grid="light", random_state=0), scores={"meld": "MELD"},
...                n_splits=3, n_repeats=2, inner_splits=3, random_state=0)
>>> performance_table(cv)[["model", "n", "n_folds"]]
      model   n  n_folds
0  logistic  90        6
1      meld  90        6
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import clone
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold

from trialkit.models.pipelines import ModelSpec, derive_seed
from trialkit.stats.categorical import wilson_interval


def _threads(n_jobs: int):
    """Cap OpenMP/BLAS threads at ``n_jobs`` (gradient boosting would otherwise use every core)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=max(1, int(n_jobs or 1)))

__all__ = ["CVResult", "nested_cv", "auc_ci", "delong_test", "corrected_ttest", "brier_score",
           "calibration_slope", "performance_table", "compare_to_reference", "oof_risk", "calibration_curve",
           "roc_curves", "fit_final", "permutation_importance_cv", "partial_dependence", "holdout_performance",
           "learning_curve", "learning_curve_summary", "true_risk_factors", "importance_vs_truth", "best_model",
           "oracle_performance"]


# ------------------------------------------------------------------------------------------------
# Single-sample statistics
# ------------------------------------------------------------------------------------------------
def _delong_parts(y, score):
    """AUC and DeLong's structural components (V10 for events, V01 for non-events)."""
    y = np.asarray(y).astype(int)
    s = np.asarray(score, dtype=float)
    pos, neg = s[y == 1], s[y == 0]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        raise ValueError("the AUC needs at least one event and one non-event")
    allr = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (allr[:m] - stats.rankdata(pos)) / n
    v01 = 1.0 - (allr[m:] - stats.rankdata(neg)) / m
    return float(v10.mean()), v10, v01


def auc_ci(y, score, alpha: float = 0.05) -> pd.DataFrame:
    """ROC AUC of ``score`` for binary ``y`` with DeLong's standard error and Wald CI.

    Higher scores mean higher risk. Missing scores are dropped. The CI is ``auc ± z se``, clipped to
    [0, 1] (as R's ``pROC::ci.auc(method = "delong")``).

    Returns
    -------
    DataFrame
        One row: ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``n``, ``n_events``.

    References
    ----------
    DeLong ER, DeLong DM, Clarke-Pearson DL. Biometrics 1988;44:837-845. Sun X, Xu W. IEEE Signal
    Process Lett 2014;21:1389-1393 (the midrank algorithm used here).

    Examples
    --------
    >>> auc_ci([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])[["estimate", "n", "n_events"]]
       estimate  n  n_events
    0      0.75  4         2
    """
    y = np.asarray(y).astype(float)
    s = np.asarray(score, dtype=float)
    ok = ~np.isnan(s) & ~np.isnan(y)
    y, s = y[ok].astype(int), s[ok]
    auc, v10, v01 = _delong_parts(y, s)
    m, n = len(v10), len(v01)
    var = (v10.var(ddof=1) / m if m > 1 else 0.0) + (v01.var(ddof=1) / n if n > 1 else 0.0)
    se = float(np.sqrt(var))
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame([{"estimate": auc, "se": se, "ci_low": max(0.0, auc - z * se),
                          "ci_high": min(1.0, auc + z * se), "n": int(len(y)), "n_events": int(y.sum())}])


def delong_test(y, score_a, score_b, alpha: float = 0.05) -> pd.DataFrame:
    """DeLong's test of two correlated ROC AUCs (the same subjects scored twice).

    Returns
    -------
    DataFrame
        One row: ``auc_a``, ``auc_b``, ``estimate`` (``auc_a - auc_b``), ``se``, ``ci_low``,
        ``ci_high``, ``z``, ``p_value`` (two-sided), ``n``. Subjects missing either score are dropped.

    Examples
    --------
    >>> r = delong_test([0, 0, 0, 1, 1, 1], [1, 2, 3, 4, 5, 6], [1, 5, 3, 4, 2, 6])
    >>> r[["auc_a", "auc_b", "estimate"]].round(3).iloc[0].tolist()
    [1.0, 0.667, 0.333]
    """
    y = np.asarray(y).astype(float)
    a, b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    ok = ~np.isnan(a) & ~np.isnan(b) & ~np.isnan(y)
    y, a, b = y[ok].astype(int), a[ok], b[ok]
    auc_a, v10a, v01a = _delong_parts(y, a)
    auc_b, v10b, v01b = _delong_parts(y, b)
    s10 = np.cov(np.vstack([v10a, v10b]), ddof=1)
    s01 = np.cov(np.vstack([v01a, v01b]), ddof=1)
    cov = s10 / len(v10a) + s01 / len(v01a)
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    se = float(np.sqrt(max(var, 0.0)))
    d = auc_a - auc_b
    zq = stats.norm.ppf(1 - alpha / 2)
    z = d / se if se > 0 else np.nan
    p = float(2 * stats.norm.sf(abs(z))) if se > 0 else np.nan
    return pd.DataFrame([{"auc_a": auc_a, "auc_b": auc_b, "estimate": d, "se": se, "ci_low": d - zq * se,
                          "ci_high": d + zq * se, "z": z, "p_value": p, "n": int(len(y))}])


def oracle_performance(y, oracle, alpha: float = 0.05) -> pd.DataFrame:
    """AUC (DeLong CI) and Brier score of the simulator's true risk: the ceiling for any model.

    Returns
    -------
    DataFrame
        One row: ``model`` (``"oracle"``), ``estimate``, ``se``, ``ci_low``, ``ci_high`` (AUC),
        ``brier``, ``n``, ``n_events``.

    Examples
    --------
    >>> oracle_performance([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6])[["model", "estimate", "brier"]]
        model  estimate   brier
    0  oracle       1.0  0.075
    """
    r = auc_ci(y, oracle, alpha)
    r.insert(0, "model", "oracle")
    r.insert(5, "brier", brier_score(y, oracle))
    return r


def corrected_ttest(values, test_train_ratio: float, alpha: float = 0.05, null: float = 0.0) -> dict:
    """Mean of per-fold values with the corrected resampled t-test (Nadeau & Bengio 2003).

    For J folds from repeated K-fold CV the variance of the mean is
    ``(1/J + n_test/n_train) * s^2`` (``s^2`` the sample variance of the J values), referred to a t
    distribution with J - 1 degrees of freedom; the ``n_test/n_train`` term accounts for the overlap
    of training sets that makes the naive ``s^2/J`` far too small.

    Returns
    -------
    dict
        ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``t``, ``p_value`` (two-sided, against
        ``null``), ``n_folds``.

    References
    ----------
    Nadeau C, Bengio Y. Machine Learning 2003;52:239-281. Bouckaert RR, Frank E. PAKDD 2004.

    Examples
    --------
    >>> r = corrected_ttest([0.02, 0.04, 0.00, 0.06], test_train_ratio=0.25)
    >>> round(r["estimate"], 3), round(r["se"], 4)   # sqrt((1/4 + 0.25) * 0.000667)
    (0.03, 0.0183)
    """
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    j = len(v)
    est = float(v.mean()) if j else np.nan
    if j < 2:
        return {"estimate": est, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "t": np.nan,
                "p_value": np.nan, "n_folds": j}
    se = float(np.sqrt((1.0 / j + test_train_ratio) * v.var(ddof=1)))
    q = stats.t.ppf(1 - alpha / 2, j - 1)
    t = (est - null) / se if se > 0 else np.nan
    p = float(2 * stats.t.sf(abs(t), j - 1)) if se > 0 else np.nan
    return {"estimate": est, "se": se, "ci_low": est - q * se, "ci_high": est + q * se, "t": t, "p_value": p,
            "n_folds": j}


def brier_score(y, risk) -> float:
    """Mean squared difference between predicted risk and the 0/1 outcome.

    Examples
    --------
    >>> round(brier_score([0, 1, 1], [0.2, 0.6, 1.0]), 6)
    0.066667
    """
    y, p = np.asarray(y, dtype=float), np.asarray(risk, dtype=float)
    return float(np.mean((p - y) ** 2))


def calibration_slope(y, risk) -> dict:
    """Calibration intercept ("in the large") and slope of predicted risks (Cox 1958; Steyerberg).

    ``slope`` is ``b`` in ``logit P(y=1) = a + b * logit(risk)``; ``intercept`` is ``a`` in
    ``logit P(y=1) = a + logit(risk)`` (slope fixed at 1: the offset model, R's
    ``glm(y ~ offset(qlogis(p)), binomial)``). Ideal: intercept 0, slope 1; a slope below 1 means
    predictions too extreme (overfitting). Risks are clipped to [1e-8, 1 - 1e-8].

    Returns
    -------
    dict
        ``intercept``, ``intercept_se``, ``slope``, ``slope_se``, ``n``.

    Examples
    --------
    >>> r = calibration_slope([0, 0, 1, 0, 1, 1, 0, 1], [0.1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.2, 0.9])
    >>> round(r["slope"], 3) > 0
    True
    """
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float)
    p = np.clip(np.asarray(risk, dtype=float), 1e-8, 1 - 1e-8)
    lp = np.log(p / (1 - p))
    out = {"intercept": np.nan, "intercept_se": np.nan, "slope": np.nan, "slope_se": np.nan, "n": int(len(y))}
    if len(np.unique(y)) < 2 or np.ptp(lp) == 0:
        return out
    fam = sm.families.Binomial()
    try:
        off = sm.GLM(y, np.ones((len(y), 1)), family=fam, offset=lp).fit(tol=1e-13, maxiter=200)
        full = sm.GLM(y, sm.add_constant(lp, has_constant="add"), family=fam).fit(tol=1e-13, maxiter=200)
    except Exception:  # perfect separation and the like: no estimate
        return out
    out.update(intercept=float(off.params[0]), intercept_se=float(off.bse[0]), slope=float(full.params[1]),
               slope_se=float(full.bse[1]))
    return out


# ------------------------------------------------------------------------------------------------
# Nested cross-validation
# ------------------------------------------------------------------------------------------------
@dataclass
class CVResult:
    """What :func:`nested_cv` returns.

    Attributes
    ----------
    predictions : DataFrame
        One row per (model, repeat, subject): ``model``, ``kind``, ``repeat``, ``fold``, ``row``
        (position in ``X``), ``y``, ``risk`` (predicted risk; for a published score used directly,
        the score itself).
    folds : DataFrame
        One row per (model, outer fold): ``model``, ``kind``, ``repeat``, ``fold``, ``n_train``,
        ``n_test``, ``n_events_test``, ``auc``, ``brier``, ``params`` (JSON of the tuned values).
    splits : list of (repeat, fold, train, test)
        The outer splits (arrays of row positions).
    labels, kinds : dict
        Display label and kind (``model``, ``recalibrated_score``, ``score``) per model name.
    models : dict
        ``(model, repeat, fold) -> fitted estimator`` when ``keep_models=True``.
    y : ndarray
    settings : dict
    """

    predictions: pd.DataFrame
    folds: pd.DataFrame
    splits: list
    labels: dict
    kinds: dict
    y: np.ndarray
    settings: dict
    models: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return list(self.labels)


def _grid_size(grid: dict) -> int:
    return int(np.prod([len(v) for v in grid.values()])) if grid else 1


def _fit_one(spec: ModelSpec, X, y, time, inner, scoring, n_jobs):
    """Fit ``spec`` on (X, y): grid search over the ``inner`` splits when there is something to tune."""
    fit_params = {}
    if spec.time_param is not None:
        if time is None:
            raise ValueError(f"model {spec.name!r} needs the follow-up time (time=...)")
        fit_params[spec.time_param] = np.asarray(time, dtype=float)
    if _grid_size(spec.param_grid) > 1:
        search = GridSearchCV(clone(spec.estimator), spec.param_grid, cv=inner, scoring=scoring, n_jobs=n_jobs,
                              refit=True, error_score="raise")
        search.fit(X, y, **fit_params)
        return search.best_estimator_, {k: _plain(v) for k, v in search.best_params_.items()}
    est = clone(spec.estimator)
    fixed = {k: v[0] for k, v in spec.param_grid.items()}
    if fixed:
        est.set_params(**fixed)
    est.fit(X, y, **fit_params)
    return est, {k: _plain(v) for k, v in fixed.items()}


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def nested_cv(X: pd.DataFrame, y, specs: dict[str, ModelSpec] | list[ModelSpec], *, time=None,
              scores: dict[str, str] | None = None, n_splits: int = 5, n_repeats: int = 2, inner_splits: int = 3,
              scoring: str = "neg_log_loss", random_state=None, n_jobs: int = 1,
              keep_models: bool = False) -> CVResult:
    """Repeated stratified K-fold cross-validation with nested hyper-parameter search.

    Parameters
    ----------
    X : DataFrame
        Features (e.g. :func:`trialkit.models.features.split_xy` ``.X``).
    y : array-like of 0/1
    specs : dict or list of ModelSpec
        Models to evaluate (:func:`~trialkit.models.pipelines.model_specs`,
        :func:`~trialkit.models.pipelines.score_spec`).
    time : array-like, optional
        Follow-up time, for models that need it (Cox).
    scores : dict, optional
        ``{column: label}`` of published scores (columns of ``X``) evaluated directly: their AUC on
        each outer test fold, no fitting.
    n_splits, n_repeats : int
        Outer repeated stratified K-fold.
    inner_splits : int
        Inner stratified K-fold for the grid search (within each outer training set).
    scoring : str
        Inner-loop criterion (scikit-learn scorer name); default the log loss, a proper score.
    random_state : int, optional
        The one seed of every split and learner (derived per component with
        :func:`~trialkit.models.pipelines.derive_seed`).
    n_jobs : int
        Parallel jobs of the grid search.
    keep_models : bool
        Keep every fitted outer-fold model (needed by :func:`permutation_importance_cv`).

    Returns
    -------
    CVResult

    Examples
    --------
    A penalized logistic regression tuned over 3 values of ``C`` inside each of 3 x 2 outer folds,
    beside MELD used directly:

    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> cv = nested_cv(X, y, model_specs(["logistic"], grid="light"), scores={"meld": "MELD"},
    ...                n_splits=3, n_repeats=2, random_state=0)
    >>> cv.names, cv.settings["grid_sizes"]
    (['logistic', 'meld'], {'logistic': 3})
    >>> cv.folds.loc[cv.folds["model"] == "logistic", ["repeat", "fold", "n_train", "n_test", "auc", "params"]].round(3)
        repeat  fold  n_train  n_test    auc             params
    0        0     0       53      27  0.841  {"model__C": 0.3}
    2        0     1       53      27  0.731  {"model__C": 0.3}
    4        0     2       54      26  0.649  {"model__C": 0.3}
    6        1     0       53      27  0.764  {"model__C": 0.3}
    8        1     1       53      27  0.896  {"model__C": 0.1}
    10       1     2       54      26  0.589  {"model__C": 0.3}
    """
    if isinstance(specs, dict):
        specs = list(specs.values())
    y = np.asarray(y).astype(np.int64)
    X = X.reset_index(drop=True)
    if len(X) != len(y):
        raise ValueError("X and y differ in length")
    time = None if time is None else np.asarray(time, dtype=float)
    scores = {c: lab for c, lab in (scores or {}).items() if c in X.columns and X[c].notna().any()}
    outer = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats,
                                    random_state=derive_seed(random_state, "outer"))
    preds, folds, splits, models = [], [], [], {}
    with _threads(n_jobs):
        for i, (train, test) in enumerate(outer.split(np.zeros(len(y)), y)):
            _outer_fold(i, train, test, X, y, time, specs, scores, n_splits, inner_splits, scoring, random_state,
                        n_jobs, keep_models, preds, folds, splits, models)
    labels = {s.name: s.label for s in specs} | dict(scores)
    kinds = {s.name: s.kind for s in specs} | {c: "score" for c in scores}
    settings = {"n_splits": n_splits, "n_repeats": n_repeats, "inner_splits": inner_splits, "scoring": scoring,
                "random_state": random_state, "n": int(len(y)), "n_events": int(y.sum()),
                "grid_sizes": {s.name: _grid_size(s.param_grid) for s in specs}}
    return CVResult(predictions=pd.concat(preds, ignore_index=True), folds=pd.DataFrame(folds), splits=splits,
                    labels=labels, kinds=kinds, y=y, settings=settings, models=models)


def _outer_fold(i, train, test, X, y, time, specs, scores, n_splits, inner_splits, scoring, random_state, n_jobs,
                keep_models, preds, folds, splits, models):
    """Tune, fit and predict every model on outer fold ``i`` (appends to the result lists)."""
    rep, k = divmod(i, n_splits)
    splits.append((rep, k, train, test))
    inner_cv = StratifiedKFold(n_splits=inner_splits, shuffle=True,
                               random_state=derive_seed(random_state, "inner", i))
    inner = list(inner_cv.split(np.zeros(len(train)), y[train]))
    for tr_in, va_in in inner:  # run-time guard: tuning sees outer-training rows only
        if np.intersect1d(train[tr_in], test).size or np.intersect1d(train[va_in], test).size:
            raise AssertionError("an outer test row reached the inner search")  # pragma: no cover
    Xtr, Xte = X.iloc[train], X.iloc[test]
    for spec in specs:
        est, params = _fit_one(spec, Xtr, y[train], None if time is None else time[train], inner, scoring,
                               n_jobs)
        risk = est.predict_proba(Xte)[:, 1]
        if keep_models:
            models[(spec.name, rep, k)] = est
        preds.append(pd.DataFrame({"model": spec.name, "kind": spec.kind, "repeat": rep, "fold": k,
                                   "row": test, "y": y[test], "risk": risk}))
        folds.append({"model": spec.name, "kind": spec.kind, "repeat": rep, "fold": k, "n_train": len(train),
                      "n_test": len(test), "n_events_test": int(y[test].sum()),
                      "auc": roc_auc_score(y[test], risk), "brier": brier_score(y[test], risk),
                      "params": json.dumps(params, sort_keys=True)})
    for col in scores:
        s = X[col].to_numpy(dtype=float)[test]
        ok = ~np.isnan(s)
        auc = roc_auc_score(y[test][ok], s[ok]) if len(np.unique(y[test][ok])) == 2 else np.nan
        preds.append(pd.DataFrame({"model": col, "kind": "score", "repeat": rep, "fold": k, "row": test,
                                   "y": y[test], "risk": s}))
        folds.append({"model": col, "kind": "score", "repeat": rep, "fold": k, "n_train": len(train),
                      "n_test": int(ok.sum()), "n_events_test": int(y[test][ok].sum()), "auc": auc,
                      "brier": np.nan, "params": "{}"})


def _ratio(cv: CVResult) -> float:
    f = cv.folds.drop_duplicates(["repeat", "fold"])
    return float((f["n_test"] / f["n_train"]).mean())


def performance_table(cv: CVResult, alpha: float = 0.05) -> pd.DataFrame:
    """Discrimination and calibration of every model, one row per model.

    Returns
    -------
    DataFrame
        ``model``, ``label``, ``kind``, ``n``, ``n_events``, ``n_folds``; ``auc`` with ``auc_se``,
        ``auc_ci_low``, ``auc_ci_high`` and ``ci_method``; ``brier``, ``scaled_brier``,
        ``calibration_intercept``, ``calibration_slope``.

    Notes
    -----
    Fitted models (and recalibrated scores): ``auc`` is the mean AUC over the outer test folds and
    its CI the corrected resampled t interval (:func:`corrected_ttest`, ``ci_method =
    "corrected_cv"``), truncated to [0, 1]. Published scores used directly (``kind = "score"``) need no fitting: their AUC
    and DeLong CI are computed once on all subjects (``ci_method = "delong"``). The Brier score, the
    scaled Brier score ``1 - Brier / (prevalence (1 - prevalence))`` and the calibration intercept
    and slope (:func:`calibration_slope`) are computed on the out-of-fold predictions of each repeat
    and averaged over repeats; they are undefined for a score that is not a probability.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> specs = [model_specs(["logistic"], grid="none")["logistic"], score_spec("meld", "MELD")]
    >>> cv = nested_cv(X, y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=2, random_state=0)
    >>> pt = performance_table(cv)
    >>> pt[["model", "auc", "auc_ci_low", "auc_ci_high", "ci_method"]].round(3)
                   model    auc  auc_ci_low  auc_ci_high     ci_method
    0           logistic  0.745       0.506        0.984  corrected_cv
    1  meld_recalibrated  0.754       0.514        0.995  corrected_cv
    2               meld  0.768       0.663        0.872        delong
    >>> pt[["model", "kind", "brier", "calibration_slope"]].round(3)
                   model                kind  brier  calibration_slope
    0           logistic               model  0.209              1.936
    1  meld_recalibrated  recalibrated_score  0.203              0.885
    2               meld               score    NaN                NaN
    """
    rows = []
    ratio = _ratio(cv)
    y = cv.y
    prev = y.mean()
    for name in cv.names:
        f = cv.folds[cv.folds["model"] == name]
        kind = cv.kinds[name]
        row = {"model": name, "label": cv.labels[name], "kind": kind, "n": int(len(y)), "n_events": int(y.sum()),
               "n_folds": int(len(f))}
        p = cv.predictions[cv.predictions["model"] == name]
        if kind == "score":
            r = auc_ci(p.loc[p["repeat"] == 0].sort_values("row")["y"],
                       p.loc[p["repeat"] == 0].sort_values("row")["risk"], alpha).iloc[0]
            row.update(n=int(r["n"]), n_events=int(r["n_events"]), auc=r["estimate"], auc_se=r["se"],
                       auc_ci_low=r["ci_low"], auc_ci_high=r["ci_high"], ci_method="delong",
                       brier=np.nan, scaled_brier=np.nan, calibration_intercept=np.nan, calibration_slope=np.nan)
        else:
            t = corrected_ttest(f["auc"], ratio, alpha)
            per = []
            for _, g in p.groupby("repeat", sort=True):
                cal = calibration_slope(g["y"], g["risk"])
                b = brier_score(g["y"], g["risk"])
                per.append((b, 1 - b / (prev * (1 - prev)), cal["intercept"], cal["slope"]))
            per = np.array(per, dtype=float)
            # the t interval is symmetric and can pass 0 or 1 with few folds: an AUC lives in [0, 1]
            row.update(auc=t["estimate"], auc_se=t["se"], auc_ci_low=float(np.clip(t["ci_low"], 0.0, 1.0)),
                       auc_ci_high=float(np.clip(t["ci_high"], 0.0, 1.0)),
                       ci_method="corrected_cv", brier=per[:, 0].mean(), scaled_brier=per[:, 1].mean(),
                       calibration_intercept=per[:, 2].mean(), calibration_slope=per[:, 3].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def best_model(table: pd.DataFrame) -> str:
    """The fitted model (``kind == "model"``) with the highest cross-validated AUC.

    Choosing the best of several models by the same CV estimate flatters it slightly; the
    comparison with MELD and the learning curve put that in perspective.

    Examples
    --------
    Published scores and recalibrated scores are not candidates, however high their AUC:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"model": ["logistic", "random_forest", "meld"], "kind": ["model", "model", "score"],
    ...                       "auc": [0.74, 0.76, 0.80]})
    >>> best_model(table)
    'random_forest'
    """
    m = table[table["kind"] == "model"]
    if m.empty:
        raise ValueError("no fitted model in the table")
    return str(m.sort_values(["auc", "model"], ascending=[False, True]).iloc[0]["model"])


def compare_to_reference(cv: CVResult, reference: str = "meld", alpha: float = 0.05) -> pd.DataFrame:
    """Each model against a reference score, paired by outer fold.

    AUC: the per-fold differences ``AUC(model) - AUC(reference score used directly)``, for fitted
    models and scores used directly; Brier score: ``Brier(model) - Brier(reference recalibrated)``
    for fitted models and recalibrated scores (when ``<reference>_recalibrated`` was evaluated).
    Both are tested with :func:`corrected_ttest` (two-sided, H0: no difference).

    Returns
    -------
    DataFrame
        ``model``, ``label``, ``kind``, ``metric`` (``auc`` / ``brier``), ``reference``, ``estimate``,
        ``se``, ``ci_low``, ``ci_high``, ``t``, ``p_value``, ``n_folds``. A positive AUC difference and
        a negative Brier difference favour the model.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> specs = [model_specs(["logistic"], grid="none")["logistic"], score_spec("meld", "MELD")]
    >>> cv = nested_cv(X, y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=2, random_state=0)
    >>> compare_to_reference(cv, "meld")[["model", "metric", "reference", "estimate", "p_value", "n_folds"]].round(3)
          model metric          reference  estimate  p_value  n_folds
    0  logistic    auc               meld    -0.009    0.277        6
    1  logistic  brier  meld_recalibrated     0.006    0.789        6
    """
    if reference not in cv.labels:
        raise KeyError(f"reference {reference!r} was not evaluated; pass it in nested_cv(scores=...)")
    ratio = _ratio(cv)
    key = ["repeat", "fold"]
    ref_auc = cv.folds[cv.folds["model"] == reference].set_index(key)["auc"]
    recal = f"{reference}_recalibrated"
    ref_brier = cv.folds[cv.folds["model"] == recal].set_index(key)["brier"] if recal in cv.labels else None
    rows = []
    for name in cv.names:
        if name in (reference, recal):
            continue
        f = cv.folds[cv.folds["model"] == name].set_index(key)
        kind = cv.kinds[name]
        metrics = []
        if kind != "recalibrated_score":  # a recalibrated score ranks as the score itself: its AUC row is the score's
            metrics.append(("auc", f["auc"] - ref_auc.loc[f.index], reference))
        if ref_brier is not None and kind != "score":
            metrics.append(("brier", f["brier"] - ref_brier.loc[f.index], recal))
        for metric, diff, ref in metrics:
            t = corrected_ttest(diff.to_numpy(), ratio, alpha)
            rows.append({"model": name, "label": cv.labels[name], "kind": cv.kinds[name], "metric": metric,
                         "reference": ref, **t})
    cols = ["model", "label", "kind", "metric", "reference", "estimate", "se", "ci_low", "ci_high", "t",
            "p_value", "n_folds"]
    return pd.DataFrame(rows, columns=cols)


def oof_risk(cv: CVResult) -> pd.DataFrame:
    """Out-of-fold predicted risk per subject, averaged over repeats: ``row``, ``y``, one column per model.

    For published scores used directly the column holds the score (not a probability).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> specs = [model_specs(["logistic"], grid="none")["logistic"], score_spec("meld", "MELD")]
    >>> cv = nested_cv(X, y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=2, random_state=0)
    >>> oof_risk(cv).head(3).round(3)
       row  y  logistic  meld_recalibrated    meld
    0    0  1     0.474              0.471  25.503
    1    1  0     0.449              0.391  24.472
    2    2  0     0.565              0.647  27.562
    """
    p = cv.predictions.groupby(["model", "row"], sort=False)["risk"].mean().unstack("model")
    p = p.reindex(columns=cv.names).sort_index()
    out = pd.DataFrame({"row": p.index.to_numpy(), "y": cv.y[p.index.to_numpy()]})
    for c in cv.names:
        out[c] = p[c].to_numpy()
    return out


def calibration_curve(cv: CVResult, n_bins: int = 5, alpha: float = 0.05, models=None) -> pd.DataFrame:
    """Observed against predicted risk in quantile groups of the out-of-fold risk (repeats averaged).

    Returns
    -------
    DataFrame
        ``model``, ``label``, ``bin`` (1 = lowest risk), ``n``, ``mean_risk``, ``observed`` (event
        proportion) with its Wilson ``ci_low``, ``ci_high``. Only probability models (not raw scores).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> specs = [model_specs(["logistic"], grid="none")["logistic"], score_spec("meld", "MELD")]
    >>> cv = nested_cv(X, y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=2, random_state=0)
    >>> cc = calibration_curve(cv, n_bins=4, models=["logistic"])
    >>> cc[["model", "bin", "n", "mean_risk", "observed"]].round(3)
          model  bin   n  mean_risk  observed
    0  logistic    1  20      0.309      0.30
    1  logistic    2  20      0.423      0.20
    2  logistic    3  20      0.516      0.55
    3  logistic    4  20      0.642      0.85
    """
    oof = oof_risk(cv)
    names = [m for m in (models or cv.names) if cv.kinds[m] != "score"]
    rows = []
    for m in names:
        r = oof[m].to_numpy()
        ranks = stats.rankdata(r, method="ordinal")
        bins = np.minimum((ranks - 1) * n_bins // len(r), n_bins - 1)
        for b in range(n_bins):
            sel = bins == b
            k, n = int(oof["y"].to_numpy()[sel].sum()), int(sel.sum())
            lo, hi = wilson_interval(k, n, alpha)
            rows.append({"model": m, "label": cv.labels[m], "bin": b + 1, "n": n,
                         "mean_risk": float(r[sel].mean()) if n else np.nan,
                         "observed": k / n if n else np.nan, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


def roc_curves(cv: CVResult, models=None) -> pd.DataFrame:
    """ROC curves of the out-of-fold risk (repeats averaged): ``model``, ``label``, ``fpr``, ``tpr``, ``auc``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> specs = [model_specs(["logistic"], grid="none")["logistic"], score_spec("meld", "MELD")]
    >>> cv = nested_cv(X, y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=2, random_state=0)
    >>> rc = roc_curves(cv)
    >>> rc.drop_duplicates("model")[["model", "auc"]].round(3)
                    model    auc
    0            logistic  0.753
    32  meld_recalibrated  0.751
    64               meld  0.768
    >>> rc.groupby("model", sort=False)["fpr"].agg(["first", "last"]).to_numpy().tolist()
    [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    """
    oof = oof_risk(cv)
    rows = []
    for m in (models or cv.names):
        r = oof[m].to_numpy(dtype=float)
        ok = ~np.isnan(r)
        fpr, tpr, _ = roc_curve(oof["y"].to_numpy()[ok], r[ok])
        auc = roc_auc_score(oof["y"].to_numpy()[ok], r[ok])
        rows.append(pd.DataFrame({"model": m, "label": cv.labels[m], "fpr": fpr, "tpr": tpr, "auc": auc}))
    return pd.concat(rows, ignore_index=True)


# ------------------------------------------------------------------------------------------------
# The final model and its interpretation
# ------------------------------------------------------------------------------------------------
def fit_final(spec: ModelSpec, X: pd.DataFrame, y, *, time=None, inner_splits: int = 3,
              scoring: str = "neg_log_loss", random_state=None, n_jobs: int = 1):
    """Tune ``spec`` by stratified K-fold on all data and refit: ``(fitted estimator, chosen params)``.

    This is the model one would deploy; its performance is what :func:`nested_cv` estimated.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> est, params = fit_final(model_specs(["logistic"], grid="light")["logistic"], X, y, random_state=0)
    >>> params
    {'model__C': 0.3}
    >>> est.predict_proba(X.head(3))[:, 1].round(3).tolist()
    [0.466, 0.42, 0.598]
    """
    y = np.asarray(y).astype(np.int64)
    inner = list(StratifiedKFold(n_splits=inner_splits, shuffle=True,
                                 random_state=derive_seed(random_state, "final")).split(np.zeros(len(y)), y))
    with _threads(n_jobs):
        return _fit_one(spec, X.reset_index(drop=True), y, time, inner, scoring, n_jobs)


def permutation_importance_cv(cv: CVResult, X: pd.DataFrame, model: str, *, n_repeats: int = 5, repeats=(0,),
                              alpha: float = 0.05, random_state=None, n_jobs: int = 1) -> pd.DataFrame:
    """Permutation importance of each feature, measured on the outer test folds.

    For every outer fold of the chosen ``repeats``, the fold's own fitted model predicts its test
    fold with one feature's values permuted among the test subjects (``n_repeats`` permutations per
    feature); the importance is the mean drop in AUC. Held-out folds keep the importance honest (on
    training data a flexible model looks as if it relied on noise). All permuted copies of a fold are
    predicted in one call.

    Returns
    -------
    DataFrame
        ``feature``, ``estimate`` (mean AUC drop over folds), ``se`` (between folds), ``ci_low``,
        ``ci_high`` (t interval), ``n_folds``, ``rank``; sorted by importance.

    Examples
    --------
    The outcome depends on MELD, not on age:

    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> specs = [model_specs(["logistic"], grid="none")["logistic"], score_spec("meld", "MELD")]
    >>> cv = nested_cv(X, y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=2, random_state=0, keep_models=True)
    >>> imp = permutation_importance_cv(cv, X, "logistic", n_repeats=3, random_state=0)
    >>> imp[["feature", "estimate", "n_folds", "rank"]].round(3)
      feature  estimate  n_folds  rank
    0    meld     0.192        3     1
    1     age    -0.019        3     2
    """
    X = X.reset_index(drop=True)
    cols = list(X.columns)
    vals = []
    with _threads(n_jobs):
        for rep, k, _, test in cv.splits:
            if rep not in repeats:
                continue
            est = cv.models.get((model, rep, k))
            if est is None:
                raise KeyError(f"no fitted model {model!r} for fold ({rep}, {k}); run nested_cv(keep_models=True)")
            rng = np.random.Generator(np.random.PCG64(derive_seed(random_state, "permutation", rep, k)))
            Xt, yt = X.iloc[test].reset_index(drop=True), cv.y[test]
            base = roc_auc_score(yt, est.predict_proba(Xt)[:, 1])
            copies = []
            for c in cols:
                for _ in range(n_repeats):
                    Xp = Xt.copy()
                    Xp[c] = Xt[c].to_numpy()[rng.permutation(len(Xt))]
                    copies.append(Xp)
            risk = est.predict_proba(pd.concat(copies, ignore_index=True))[:, 1].reshape(len(cols), n_repeats, -1)
            vals.append([base - np.mean([roc_auc_score(yt, r) for r in risk[j]]) for j in range(len(cols))])
    v = np.array(vals, dtype=float)
    j = v.shape[0]
    mean = v.mean(axis=0)
    se = v.std(axis=0, ddof=1) / np.sqrt(j) if j > 1 else np.full(v.shape[1], np.nan)
    q = stats.t.ppf(1 - alpha / 2, j - 1) if j > 1 else np.nan
    out = pd.DataFrame({"feature": cols, "estimate": mean, "se": se, "ci_low": mean - q * se,
                        "ci_high": mean + q * se, "n_folds": j})
    out = out.sort_values(["estimate", "feature"], ascending=[False, True], kind="stable").reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1)
    return out


def partial_dependence(estimator, X: pd.DataFrame, features, *, grid_points: int = 12,
                       percentiles=(0.05, 0.95)) -> pd.DataFrame:
    """Partial dependence of the predicted risk on numeric features (average over the data).

    For each feature, its value is set to each grid point for every subject (other features kept)
    and the predicted risks are averaged. The grid spans the given percentiles of the observed
    values (at most ``grid_points`` distinct points, so a grade gets its observed levels only).

    Returns
    -------
    DataFrame
        ``feature``, ``value``, ``risk`` (mean predicted risk). Non-numeric features are skipped.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialkit.models.pipelines import model_specs, score_spec
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"meld": rng.normal(25, 4, 80), "age": rng.normal(45, 10, 80)})
    >>> y = (X["meld"] + rng.normal(0, 4, 80) > 26).to_numpy(dtype=int)
    >>> est = model_specs(["logistic"])["logistic"].estimator.fit(X, y)
    >>> partial_dependence(est, X, ["meld", "age"], grid_points=3).round(3)
      feature   value   risk
    0    meld  19.934  0.256
    1    meld  25.952  0.493
    2    meld  31.970  0.733
    3     age  29.938  0.493
    4     age  44.101  0.475
    5     age  58.264  0.457
    """
    rows = []
    for f in features:
        col = X[f]
        if not pd.api.types.is_numeric_dtype(col):
            continue
        obs = col.dropna().to_numpy(dtype=float)
        lo, hi = np.quantile(obs, percentiles)
        uniq = np.unique(obs[(obs >= lo) & (obs <= hi)])
        grid = uniq if len(uniq) <= grid_points else np.linspace(lo, hi, grid_points)
        for v in grid:
            Xv = X.copy()
            Xv[f] = float(v)
            rows.append({"feature": f, "value": float(v), "risk": float(estimator.predict_proba(Xv)[:, 1].mean())})
    return pd.DataFrame(rows, columns=["feature", "value", "risk"])


def true_risk_factors(truth: dict | None) -> pd.DataFrame:
    """The simulator's true risk factors for death or LT (from ``trial.truth``).

    Returns
    -------
    DataFrame
        ``factor``, ``role`` (``latent severity``: enters the severity score with ``value`` per
        unit; ``treatment``: a factor with hazard ratio ``value``), ``value``. Empty without truth.

    Examples
    --------
    >>> true_risk_factors({"latent_severity": {"coefficients": {"MELD": 0.25}},
    ...                    "hazard_ratios": {"terms": {"msc": 0.6, "msc*pe": 1.0}}})
      factor             role  value
    0   MELD  latent severity   0.25
    1    msc        treatment   0.60
    """
    rows = []
    if truth:
        for k, v in truth.get("latent_severity", {}).get("coefficients", {}).items():
            rows.append({"factor": k, "role": "latent severity", "value": float(v)})
        for k, v in truth.get("hazard_ratios", {}).get("terms", {}).items():
            if "*" not in k and float(v) != 1.0:
                rows.append({"factor": k, "role": "treatment", "value": float(v)})
    return pd.DataFrame(rows, columns=["factor", "role", "value"])


def importance_vs_truth(importance: pd.DataFrame, truth: dict | None) -> pd.DataFrame:
    """Permutation importance with the simulator's role of each feature (``true_role``, ``true_value``).

    Features are matched to true factors by name, ignoring case; a feature that is no true factor
    gets an empty role (its importance should be near zero, or borrowed from a correlated factor).

    Examples
    --------
    >>> import pandas as pd
    >>> imp = pd.DataFrame({"feature": ["meld", "age"], "estimate": [0.19, -0.02], "rank": [1, 2]})
    >>> importance_vs_truth(imp, {"latent_severity": {"coefficients": {"MELD": 0.25}}})
      feature  estimate  rank        true_role  true_value
    0    meld      0.19     1  latent severity        0.25
    1     age     -0.02     2                          NaN
    """
    tf = true_risk_factors(truth)
    key = {str(f).lower(): (r, v) for f, r, v in tf.itertuples(index=False)}
    out = importance.copy()
    out["true_role"] = [key.get(str(f).lower(), ("", np.nan))[0] for f in out["feature"]]
    out["true_value"] = [key.get(str(f).lower(), ("", np.nan))[1] for f in out["feature"]]
    return out


# ------------------------------------------------------------------------------------------------
# Independent test cohorts: holdout performance and learning curves
# ------------------------------------------------------------------------------------------------
def holdout_performance(specs, train, test, *, oracle=None, scores: dict[str, str] | None = None, tune=False,
                        inner_splits: int = 3, scoring: str = "neg_log_loss", random_state=None,
                        n_jobs: int = 1) -> pd.DataFrame:
    """Fit on one cohort, evaluate on an independent one, beside the oracle and published scores.

    Parameters
    ----------
    specs : dict or list of ModelSpec
    train, test : XY
        :class:`~trialkit.models.features.XY` (``X``, ``y``, ``time``); the test features are
        aligned to the training columns.
    oracle : array-like, optional
        The true risk of each test subject (:func:`trialkit.models.features.oracle_risk`): its AUC
        is the ceiling no model can beat in expectation.
    scores : dict, optional
        ``{column: label}`` published scores used directly on the test cohort.
    tune : bool
        Grid-search each model by inner CV on the training cohort (else the estimator's own settings).

    Returns
    -------
    DataFrame
        ``model``, ``label``, ``kind`` (``model``, ``recalibrated_score``, ``score``, ``oracle``),
        ``auc``, ``brier`` (NaN for raw scores), ``n_train``, ``n_test``, ``n_test_events``.

    Examples
    --------
    >>> from trialkit.models.features import simulated_cohort
    >>> from trialkit.models.pipelines import model_specs
    >>> cols = ["meld", "age", "TBIL", "INR"]
    >>> train, _ = simulated_cohort(80, seed=1, columns=cols)
    >>> test, oracle = simulated_cohort(300, seed=2, columns=cols)
    >>> r = holdout_performance(model_specs(["logistic", "cox"], grid="none"), train, test, oracle=oracle,
    ...                         scores={"meld": "MELD"}, random_state=0)
    >>> r[["model", "kind", "auc", "brier", "n_train", "n_test"]].round(3)
          model    kind    auc  brier  n_train  n_test
    0  logistic   model  0.706  0.202       77     292
    1       cox   model  0.709  0.206       77     292
    2      meld   score  0.707    NaN       77     292
    3    oracle  oracle  0.773  0.180       77     292
    """
    if isinstance(specs, dict):
        specs = list(specs.values())
    Xtr, ytr = train.X.reset_index(drop=True), np.asarray(train.y).astype(np.int64)
    Xte, yte = test.X.reindex(columns=Xtr.columns).reset_index(drop=True), np.asarray(test.y).astype(np.int64)
    base = {"n_train": len(ytr), "n_test": len(yte), "n_test_events": int(yte.sum())}
    rows = []
    inner = list(StratifiedKFold(n_splits=inner_splits, shuffle=True,
                                 random_state=derive_seed(random_state, "holdout")).split(np.zeros(len(ytr)), ytr))
    for spec in specs:
        if not tune:  # the estimator's own settings, no search
            spec = ModelSpec(spec.name, spec.label, spec.estimator, {}, spec.kind, spec.time_param)
        with _threads(n_jobs):
            est, _ = _fit_one(spec, Xtr, ytr, train.time, inner, scoring, n_jobs)
            risk = est.predict_proba(Xte)[:, 1]
        rows.append({"model": spec.name, "label": spec.label, "kind": spec.kind, "auc": roc_auc_score(yte, risk),
                     "brier": brier_score(yte, risk), **base})
    for col, lab in (scores or {}).items():
        s = Xte[col].to_numpy(dtype=float)
        ok = ~np.isnan(s)
        rows.append({"model": col, "label": lab, "kind": "score", "auc": roc_auc_score(yte[ok], s[ok]),
                     "brier": np.nan, **base})
    if oracle is not None:
        o = np.asarray(oracle, dtype=float)
        rows.append({"model": "oracle", "label": "True risk (oracle)", "kind": "oracle",
                     "auc": roc_auc_score(yte, o), "brier": brier_score(yte, o), **base})
    return pd.DataFrame(rows)


def learning_curve(sizes, specs, *, make_cohort=None, scenario=None, study=None, horizon=None,
                   scores: dict[str, str] | None = None, test_size: int = 2000, n_replicates: int = 2,
                   columns=None, tune: bool = False, random_state=None, n_jobs: int = 1) -> pd.DataFrame:
    """How discrimination grows with the training-set size, from simulated cohorts.

    For each size and replicate a training cohort is simulated, every model is fitted to it and
    evaluated on one large independent simulated test cohort (:func:`holdout_performance`), beside
    the oracle AUC of the true risk and the published scores (which need no training).

    Parameters
    ----------
    sizes : sequence of int
        Training cohort sizes (randomized subjects).
    specs : dict or list of ModelSpec
    make_cohort : callable, optional
        ``make_cohort(n, seed) -> (XY, oracle risk or None)``; default
        :func:`trialkit.models.features.simulated_cohort` with ``scenario``, ``study``, ``horizon``
        and ``columns``.
    test_size, n_replicates : int
    columns : sequence of str, optional
        Feature columns to use (e.g. those of the trial analysed).
    tune : bool
        Tune each model by inner CV on each training cohort (slower).
    random_state : int, optional
        Seeds of every simulated cohort and learner.

    Returns
    -------
    DataFrame
        :func:`holdout_performance` columns plus ``n_subjects`` (training cohort size simulated) and
        ``replicate``. Published scores and the oracle have one row per test cohort with
        ``n_subjects`` and ``replicate`` missing.

    Examples
    --------
    >>> from trialkit.models.pipelines import model_specs
    >>> lc = learning_curve([40, 80], model_specs(["logistic"], grid="none"), test_size=300, n_replicates=2,
    ...                     columns=["meld", "age", "TBIL", "INR"], scores={"meld": "MELD"}, random_state=0)
    >>> lc[["model", "n_subjects", "replicate", "n_train", "auc"]].round(3)
          model  n_subjects  replicate  n_train    auc
    0  logistic        40.0        0.0     40.0  0.746
    1  logistic        40.0        1.0     40.0  0.735
    2  logistic        80.0        0.0     80.0  0.732
    3  logistic        80.0        1.0     79.0  0.729
    4      meld         NaN        NaN      NaN  0.741
    5    oracle         NaN        NaN      NaN  0.821
    """
    if make_cohort is None:
        from trialkit.models.features import simulated_cohort

        def make_cohort(n, seed):
            return simulated_cohort(n, seed, scenario=scenario, study=study, horizon=horizon, columns=columns)

    test, orc = make_cohort(int(test_size), derive_seed(random_state, "learning_test"))
    parts = []
    for n in sizes:
        for r in range(n_replicates):
            train, _ = make_cohort(int(n), derive_seed(random_state, "learning_train", int(n), r))
            res = holdout_performance(specs, train, test, tune=tune, random_state=derive_seed(random_state, n, r),
                                      n_jobs=n_jobs)
            parts.append(res.assign(n_subjects=int(n), replicate=r))
    fixed = holdout_performance([], test, test, oracle=orc, scores=scores)
    fixed = fixed.assign(n_train=np.nan, n_subjects=np.nan, replicate=np.nan)
    out = pd.concat([*parts, fixed], ignore_index=True)
    return out.astype({"n_subjects": float, "replicate": float, "n_train": float})


def learning_curve_summary(lc: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD of the test AUC per model and training size (fixed references once).

    Returns
    -------
    DataFrame
        ``model``, ``label``, ``kind``, ``n_subjects``, ``n_train`` (mean subjects with a known
        outcome), ``auc``, ``auc_sd``, ``brier``, ``n_replicates``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> lc = pd.DataFrame({"model": ["logistic"] * 4 + ["oracle"], "label": ["Logistic"] * 4 + ["Oracle"],
    ...                    "kind": ["model"] * 4 + ["oracle"], "n_subjects": [40, 40, 80, 80, np.nan],
    ...                    "n_train": [40, 39, 80, 79, np.nan], "auc": [0.70, 0.74, 0.76, 0.78, 0.82],
    ...                    "brier": [0.22, 0.21, 0.20, 0.19, 0.17]})
    >>> learning_curve_summary(lc)[["model", "n_subjects", "n_train", "auc", "auc_sd", "n_replicates"]].round(3)
          model  n_subjects  n_train   auc  auc_sd  n_replicates
    0  logistic        40.0     39.5  0.72   0.028             2
    1  logistic        80.0     79.5  0.77   0.014             2
    2    oracle         NaN      NaN  0.82     NaN             1
    """
    trained = lc[lc["n_subjects"].notna()]
    g = trained.groupby(["model", "label", "kind", "n_subjects"], sort=False)
    out = g.agg(n_train=("n_train", "mean"), auc=("auc", "mean"), auc_sd=("auc", "std"), brier=("brier", "mean"),
                n_replicates=("auc", "size")).reset_index()
    fixed = lc[lc["n_subjects"].isna()]
    if len(fixed):
        fixed = fixed[["model", "label", "kind", "auc", "brier"]].assign(
            n_subjects=np.nan, n_train=np.nan, auc_sd=np.nan, n_replicates=1)
        out = pd.concat([out, fixed[out.columns]], ignore_index=True)
    return out
