"""Model pipelines: preprocessing inside every pipeline, four learners, recalibrated risk scores.

Every model is a scikit-learn :class:`~sklearn.pipeline.Pipeline` whose first step imputes missing
values (median for numbers, most frequent for text), standardizes numbers and one-hot encodes text
columns, so cross-validation re-learns all of it on each training fold and nothing about a test
fold leaks into preprocessing. Learners:

- ``logistic``: L2-penalized logistic regression (strength ``C`` tuned);
- ``gradient_boosting``: :class:`~sklearn.ensemble.HistGradientBoostingClassifier`, shallow trees,
  small learning rate, no early stopping (n is small);
- ``random_forest``: :class:`~sklearn.ensemble.RandomForestClassifier`;
- ``cox``: a penalized Cox model (lifelines ``CoxPHFitter(penalizer=...)``) fitted to the time to
  death or LT (censored at the horizon); its predicted risk is ``1 - S(horizon | x)``. It needs the
  follow-up time, passed as the fit parameter ``cox__time``.

Published scores are recalibrated by :func:`score_spec`: a logistic regression of the outcome on
the score alone (no penalty), fitted inside the same cross-validation.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"a": rng.normal(size=80), "sex": rng.choice(["M", "F"], 80)})
>>> y = (X["a"] + rng.normal(size=80) > 0).astype(int).to_numpy()
>>> spec = model_specs(["logistic"], seed=1)["logistic"]
>>> spec.estimator.fit(X, y).predict_proba(X).shape
(80, 2)
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

__all__ = ["ModelSpec", "MODEL_NAMES", "MODEL_LABELS", "preprocessor", "model_specs", "score_spec",
           "PenalizedCox", "derive_seed"]

MODEL_NAMES = ("logistic", "gradient_boosting", "random_forest", "cox")
MODEL_LABELS = {"logistic": "Penalized logistic regression", "gradient_boosting": "Gradient boosting",
                "random_forest": "Random forest", "cox": "Penalized Cox"}

# Hyper-parameter grids (keys are pipeline parameters). "light" is for quick runs and tests.
_GRIDS: dict[str, dict[str, dict[str, list]]] = {
    "default": {
        "logistic": {"model__C": [0.01, 0.03, 0.1, 0.3, 1.0]},
        "gradient_boosting": {"model__learning_rate": [0.03, 0.1], "model__max_leaf_nodes": [3, 7]},
        "random_forest": {"model__min_samples_leaf": [3, 10], "model__max_features": ["sqrt", 0.5]},
        "cox": {"model__penalizer": [0.1, 0.5, 2.0]},
    },
    "light": {
        "logistic": {"model__C": [0.03, 0.1, 0.3]},
        "gradient_boosting": {"model__learning_rate": [0.03, 0.1]},
        "random_forest": {"model__min_samples_leaf": [3, 10]},
        "cox": {"model__penalizer": [0.2, 1.0]},
    },
    "none": {name: {} for name in MODEL_NAMES},
}


@dataclass(frozen=True)
class ModelSpec:
    """A model to evaluate: an unfitted estimator, its tuning grid and how it is fitted.

    Attributes
    ----------
    name, label : str
        Identifier (table key) and display label.
    estimator : estimator
        Unfitted; ``predict_proba(X)[:, 1]`` is the predicted risk.
    param_grid : dict
        Candidate values per pipeline parameter, tuned by inner cross-validation; empty = no tuning.
    kind : str
        ``"model"`` (uses all features) or ``"recalibrated_score"`` (one published score).
    time_param : str or None
        Name of the fit parameter that receives the follow-up time (``"model__time"`` for Cox).
    """

    name: str
    label: str
    estimator: object
    param_grid: dict = field(default_factory=dict)
    kind: str = "model"
    time_param: str | None = None


def derive_seed(seed: int | None, *keys: int | str) -> int:
    """A 32-bit seed derived deterministically from ``seed`` and integer/str ``keys``.

    All randomness of a model evaluation flows from one ``seed``; each component (outer
    splits, inner splits, a learner) gets its own stream through this function.

    Examples
    --------
    >>> derive_seed(2012, "outer") == derive_seed(2012, "outer") != derive_seed(2012, "inner")
    True
    """
    import hashlib

    base = 0 if seed is None else int(seed)
    words = [base] + [int(k) if isinstance(k, (int, np.integer)) else
                      int.from_bytes(hashlib.sha256(str(k).encode()).digest()[:8], "little") for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


def preprocessor() -> ColumnTransformer:
    """Impute + standardize numeric columns; impute + one-hot encode text/categorical columns.

    Examples
    --------
    The missing age gets the median (50), the missing sex the most frequent value (a tie: ``F``):

    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [40.0, None, 60.0], "sex": ["M", "F", None]})
    >>> pre = preprocessor().fit(X)
    >>> pre.get_feature_names_out().tolist()
    ['age', 'sex_F', 'sex_M']
    >>> pre.transform(X).round(3).tolist()
    [[-1.225, 0.0, 1.0], [0.0, 1.0, 0.0], [1.225, 1.0, 0.0]]
    """
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline([("impute", SimpleImputer(strategy="most_frequent")),
                            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False))])
    return ColumnTransformer([("num", numeric, make_column_selector(dtype_include="number")),
                              ("cat", categorical, make_column_selector(dtype_exclude="number"))],
                             verbose_feature_names_out=False)


class PenalizedCox(ClassifierMixin, BaseEstimator):
    """Penalized Cox proportional-hazards model predicting the risk of the event by ``horizon``.

    A scikit-learn classifier wrapper around lifelines ``CoxPHFitter(penalizer, l1_ratio)``: it is
    fitted to ``(time, y)`` with follow-up censored at the horizon (``y`` = event by the horizon) and
    ``predict_proba`` returns ``[S(h | x), 1 - S(h | x)]`` (Breslow baseline hazard). Columns with no
    variation in the training data are dropped before fitting.

    Parameters
    ----------
    penalizer : float
        lifelines' penalty weight on the coefficients (on standardized features).
    l1_ratio : float
        0 = ridge, 1 = (smoothed) lasso.
    horizon : float
        Days; the risk is predicted by this day.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(60, 2)); t = rng.exponential(100 * np.exp(-X[:, 0]))
    >>> y = (t <= 84).astype(int)
    >>> m = PenalizedCox(penalizer=0.1, horizon=84).fit(X, y, time=np.minimum(t, 84))
    >>> p = m.predict_proba(X)[:, 1]
    >>> bool(np.corrcoef(p, X[:, 0])[0, 1] > 0.5)
    True
    """

    def __init__(self, penalizer: float = 0.5, l1_ratio: float = 0.0, horizon: float = 336.0) -> None:
        self.penalizer = penalizer
        self.l1_ratio = l1_ratio
        self.horizon = horizon

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike, time: npt.ArrayLike | None = None) -> PenalizedCox:
        from lifelines import CoxPHFitter

        if time is None:
            raise ValueError("PenalizedCox.fit needs the follow-up time: fit(X, y, time=...)")
        X = np.asarray(X, dtype=float)
        y = np.asarray(y).astype(int)
        t = np.minimum(np.asarray(time, dtype=float), float(self.horizon))
        if len(t) != len(y):
            raise ValueError("time and y differ in length")
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = X.shape[1]
        self.keep_ = np.flatnonzero(np.nanstd(X, axis=0) > 1e-12)
        df = pd.DataFrame(X[:, self.keep_], columns=[f"x{i}" for i in range(len(self.keep_))])
        df["_time"] = np.maximum(t, 1e-6)
        df["_event"] = y
        with warnings.catch_warnings():  # convergence chatter for near-collinear columns; the penalty copes
            warnings.simplefilter("ignore")
            self.cox_ = CoxPHFitter(penalizer=self.penalizer, l1_ratio=self.l1_ratio).fit(
                df, duration_col="_time", event_col="_event")
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "cox_")
        X = np.asarray(X, dtype=float)
        df = pd.DataFrame(X[:, self.keep_], columns=[f"x{i}" for i in range(len(self.keep_))])
        surv = self.cox_.predict_survival_function(df, times=[float(self.horizon)]).to_numpy()[0]
        risk = np.clip(1.0 - surv, 0.0, 1.0)
        return np.column_stack([1.0 - risk, risk])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _learner(name: str, seed: int, n_jobs: int, horizon: float) -> BaseEstimator:
    if name == "logistic":
        return LogisticRegression(C=0.1, max_iter=5000)
    if name == "gradient_boosting":
        return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=100, max_leaf_nodes=5, max_depth=3,
                                              min_samples_leaf=10, l2_regularization=1.0, early_stopping=False,
                                              random_state=seed)
    if name == "random_forest":
        return RandomForestClassifier(n_estimators=100, min_samples_leaf=5, max_features="sqrt",
                                      random_state=seed, n_jobs=n_jobs)
    if name == "cox":
        return PenalizedCox(penalizer=0.5, horizon=horizon)
    raise ValueError(f"unknown model {name!r}; expected one of {MODEL_NAMES}")


def model_specs(names: Sequence[str] | None = None, *, horizon: float = 336.0, seed: int | None = None, n_jobs: int = 1,
                grid: str = "default") -> dict[str, ModelSpec]:
    """The candidate models, each a preprocessing + learner pipeline with its tuning grid.

    Parameters
    ----------
    names : sequence of str, optional
        Any of :data:`MODEL_NAMES` (default: all, in that order).
    horizon : float
        Days; used by the Cox model to predict the risk by the horizon.
    seed : int, optional
        Seeds the randomized learners (via :func:`derive_seed`).
    n_jobs : int
        Threads for the random forest.
    grid : {"default", "light", "none"}
        Hyper-parameter grid; ``"none"`` keeps each learner's defaults (no tuning).

    Returns
    -------
    dict
        name -> :class:`ModelSpec`.

    Examples
    --------
    >>> specs = model_specs(grid="light", seed=0)
    >>> list(specs)
    ['logistic', 'gradient_boosting', 'random_forest', 'cox']
    >>> cox = specs["cox"]
    >>> cox.label, cox.param_grid, cox.time_param
    ('Penalized Cox', {'model__penalizer': [0.2, 1.0]}, 'model__time')
    >>> model_specs(["logistic"], grid="none")["logistic"].param_grid   # learner defaults, no tuning
    {}
    """
    if grid not in _GRIDS:
        raise ValueError(f"grid {grid!r}: expected one of {sorted(_GRIDS)}")
    out = {}
    for name in (MODEL_NAMES if names is None else names):
        est = Pipeline([("prep", preprocessor()),
                        ("model", _learner(name, derive_seed(seed, "learner", name), n_jobs, horizon))])
        out[name] = ModelSpec(name=name, label=MODEL_LABELS[name], estimator=est,
                              param_grid=dict(_GRIDS[grid][name]),
                              time_param="model__time" if name == "cox" else None)
    return out


def score_spec(score: str, label: str | None = None) -> ModelSpec:
    """A published score recalibrated by unpenalized logistic regression on the score alone.

    The returned pipeline selects column ``score`` from the feature table, imputes its median where
    missing and fits ``logit P(event) = a + b * score``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"meld": [20.0, 22, 25, 28, 30, 21, 27, 24], "age": 40.0})
    >>> s = score_spec("meld", "MELD").estimator.fit(X, [0, 0, 1, 1, 1, 0, 0, 1])
    >>> bool(s.named_steps["model"].coef_[0, 0] > 0)
    True
    """
    est = Pipeline([("prep", ColumnTransformer([("score", SimpleImputer(strategy="median"), [score])])),
                    ("model", LogisticRegression(C=np.inf, max_iter=5000))])
    return ModelSpec(name=f"{score}_recalibrated", label=f"{label or score} (recalibrated)", estimator=est,
                     kind="recalibrated_score")
