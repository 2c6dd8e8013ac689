"""Nested cross-validation (:func:`nested_cv`, its :class:`CVResult`) and the final refit (:func:`fit_final`).

See :mod:`trialkit.models.evaluation` for the design: no row of an outer test fold ever reaches
preprocessing, tuning or fitting."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, RepeatedStratifiedKFold, StratifiedKFold

from trialkit.models.metrics import brier_score
from trialkit.models.pipelines import ModelSpec, derive_seed

__all__ = ["CVResult", "nested_cv", "fit_final"]


def _threads(n_jobs: int) -> Any:
    """Cap OpenMP/BLAS threads at ``n_jobs`` (gradient boosting would otherwise use every core)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=max(1, int(n_jobs or 1)))


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


def _fit_one(spec: ModelSpec, X: pd.DataFrame, y: np.ndarray, time: npt.ArrayLike | None, inner: list,
             scoring: str, n_jobs: int) -> tuple[Any, dict[str, Any]]:
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


def nested_cv(X: pd.DataFrame, y: npt.ArrayLike, specs: dict[str, ModelSpec] | list[ModelSpec], *,
              time: npt.ArrayLike | None = None,
              scores: dict[str, str] | None = None, n_splits: int = 5, n_repeats: int = 2, inner_splits: int = 3,
              scoring: str = "neg_log_loss", seed: int | None = None, n_jobs: int = 1,
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
    seed : int, optional
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

    >>> from trialkit.models.examples import example_xy
    >>> from trialkit.models.pipelines import model_specs
    >>> X, y = example_xy()
    >>> cv = nested_cv(X, y, model_specs(["logistic"], grid="light"), scores={"meld": "MELD"},
    ...                n_splits=3, n_repeats=2, seed=0)
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
                                    random_state=derive_seed(seed, "outer"))
    preds: list[pd.DataFrame] = []
    folds: list[dict[str, Any]] = []
    splits: list[tuple[int, int, np.ndarray, np.ndarray]] = []
    models: dict[tuple[str, int, int], Any] = {}
    with _threads(n_jobs):
        for i, (train, test) in enumerate(outer.split(np.zeros(len(y)), y)):
            _outer_fold(i, train, test, X, y, time, specs, scores, n_splits, inner_splits, scoring, seed,
                        n_jobs, keep_models, preds, folds, splits, models)
    labels = {s.name: s.label for s in specs} | dict(scores)
    kinds = {s.name: s.kind for s in specs} | {c: "score" for c in scores}
    settings = {"n_splits": n_splits, "n_repeats": n_repeats, "inner_splits": inner_splits, "scoring": scoring,
                "seed": seed, "n": int(len(y)), "n_events": int(y.sum()),
                "grid_sizes": {s.name: _grid_size(s.param_grid) for s in specs}}
    return CVResult(predictions=pd.concat(preds, ignore_index=True), folds=pd.DataFrame(folds), splits=splits,
                    labels=labels, kinds=kinds, y=y, settings=settings, models=models)


def _outer_fold(i, train, test, X, y, time, specs, scores, n_splits, inner_splits, scoring, seed, n_jobs,
                keep_models, preds, folds, splits, models):
    """Tune, fit and predict every model on outer fold ``i`` (appends to the result lists)."""
    rep, k = divmod(i, n_splits)
    splits.append((rep, k, train, test))
    inner_cv = StratifiedKFold(n_splits=inner_splits, shuffle=True,
                               random_state=derive_seed(seed, "inner", i))
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


def fit_final(spec: ModelSpec, X: pd.DataFrame, y: npt.ArrayLike, *, time: npt.ArrayLike | None = None,
              inner_splits: int = 3, scoring: str = "neg_log_loss", seed: int | None = None,
              n_jobs: int = 1) -> tuple[Any, dict[str, Any]]:
    """Tune ``spec`` by stratified K-fold on all data and refit: ``(fitted estimator, chosen params)``.

    This is the model one would deploy; its performance is what :func:`nested_cv` estimated.

    Examples
    --------
    >>> from trialkit.models.examples import example_xy
    >>> from trialkit.models.pipelines import model_specs
    >>> X, y = example_xy()
    >>> est, params = fit_final(model_specs(["logistic"], grid="light")["logistic"], X, y, seed=0)
    >>> params
    {'model__C': 0.3}
    >>> est.predict_proba(X.head(3))[:, 1].round(3).tolist()
    [0.466, 0.42, 0.598]
    """
    y = np.asarray(y).astype(np.int64)
    inner = list(StratifiedKFold(n_splits=inner_splits, shuffle=True,
                                 random_state=derive_seed(seed, "final")).split(np.zeros(len(y)), y))
    with _threads(n_jobs):
        return _fit_one(spec, X.reset_index(drop=True), y, time, inner, scoring, n_jobs)
