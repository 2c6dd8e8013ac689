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

The functions live in :mod:`~trialkit.models.metrics` (single-sample statistics),
:mod:`~trialkit.models.cv` (nested cross-validation, the final refit),
:mod:`~trialkit.models.performance` (tables, curves, independent cohorts) and
:mod:`~trialkit.models.interpret` (importance, partial dependence, the true risk factors); this
module gathers them under one name for notebooks.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from trialkit.models.pipelines import model_specs
>>> rng = np.random.default_rng(3)
>>> X = pd.DataFrame({"meld": rng.normal(25, 3, 90), "age": rng.normal(45, 10, 90)})
>>> y = (rng.random(90) < 1 / (1 + np.exp(-(X["meld"] - 25) / 2))).astype(int).to_numpy()
>>> cv = nested_cv(X, y, model_specs(["logistic"], grid="light", seed=0), scores={"meld": "MELD"},
...                n_splits=3, n_repeats=2, inner_splits=3, seed=0)
>>> performance_table(cv)[["model", "n", "n_folds"]]
      model   n  n_folds
0  logistic  90        6
1      meld  90        6
"""
from __future__ import annotations

from trialkit.models.cv import CVResult, fit_final, nested_cv
from trialkit.models.interpret import (
    importance_vs_truth,
    partial_dependence,
    permutation_importance_cv,
    true_risk_factors,
)
from trialkit.models.metrics import (
    auc_ci,
    brier_score,
    calibration_slope,
    corrected_ttest,
    delong_test,
    oracle_performance,
)
from trialkit.models.performance import (
    best_model,
    calibration_curve,
    compare_to_reference,
    holdout_performance,
    learning_curve,
    learning_curve_summary,
    oof_risk,
    performance_table,
    roc_curves,
)

__all__ = ["CVResult", "nested_cv", "auc_ci", "delong_test", "corrected_ttest", "brier_score",
           "calibration_slope", "performance_table", "compare_to_reference", "oof_risk", "calibration_curve",
           "roc_curves", "fit_final", "permutation_importance_cv", "partial_dependence", "holdout_performance",
           "learning_curve", "learning_curve_summary", "true_risk_factors", "importance_vs_truth", "best_model",
           "oracle_performance"]
