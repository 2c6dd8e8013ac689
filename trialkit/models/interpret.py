"""Interpretation of fitted models: permutation importance on the outer test folds, partial
dependence, and (for simulated data) the true risk factors beside the estimated importance."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from trialkit.models.cv import CVResult, _threads
from trialkit.models.pipelines import derive_seed

__all__ = ["permutation_importance_cv", "partial_dependence", "true_risk_factors", "importance_vs_truth"]


def permutation_importance_cv(cv: CVResult, X: pd.DataFrame, model: str, *, n_repeats: int = 5,
                              repeats: Sequence[int] = (0,), alpha: float = 0.05, seed: int | None = None, n_jobs: int = 1) -> pd.DataFrame:
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

    >>> from trialkit.models.examples import example_cv, example_xy
    >>> X, y = example_xy()
    >>> cv = example_cv()  # fitted with keep_models=True
    >>> imp = permutation_importance_cv(cv, X, "logistic", n_repeats=3, seed=0)
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
            rng = np.random.Generator(np.random.PCG64(derive_seed(seed, "permutation", rep, k)))
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


def partial_dependence(estimator: Any, X: pd.DataFrame, features: Sequence[str], *, grid_points: int = 12,
                       percentiles: tuple[float, float] = (0.05, 0.95)) -> pd.DataFrame:
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
    >>> from trialkit.models.examples import example_xy
    >>> from trialkit.models.pipelines import model_specs
    >>> X, y = example_xy()
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
