"""Performance of cross-validated models: the performance table, comparisons with the reference
score, out-of-fold risk, calibration and ROC curves, and evaluation on independent (simulated)
cohorts (hold-out performance, learning curves)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold

from trialkit.models.cv import CVResult, _fit_one, _threads
from trialkit.models.metrics import auc_ci, brier_score, calibration_slope, corrected_ttest
from trialkit.models.pipelines import ModelSpec, derive_seed
from trialkit.stats.categorical import wilson_interval

if TYPE_CHECKING:
    from trialkit.models.features import XY

__all__ = ["performance_table", "best_model", "compare_to_reference", "oof_risk", "calibration_curve", "roc_curves", "holdout_performance", "learning_curve", "learning_curve_summary"]


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
    >>> from trialkit.models.examples import example_cv
    >>> cv = example_cv()  # a logistic model beside MELD, cross-validated on a synthetic cohort
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
            per_repeat = []
            for _, g in p.groupby("repeat", sort=True):
                cal = calibration_slope(g["y"], g["risk"])
                b = brier_score(g["y"], g["risk"])
                per_repeat.append((b, 1 - b / (prev * (1 - prev)), cal["intercept"], cal["slope"]))
            per = np.array(per_repeat, dtype=float)
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
    >>> from trialkit.models.examples import example_cv
    >>> cv = example_cv()  # a logistic model beside MELD, cross-validated on a synthetic cohort
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
    >>> from trialkit.models.examples import example_cv
    >>> cv = example_cv()  # a logistic model beside MELD, cross-validated on a synthetic cohort
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


def calibration_curve(cv: CVResult, n_bins: int = 5, alpha: float = 0.05, models: Sequence[str] | None = None) -> pd.DataFrame:
    """Observed against predicted risk in quantile groups of the out-of-fold risk (repeats averaged).

    Returns
    -------
    DataFrame
        ``model``, ``label``, ``bin`` (1 = lowest risk), ``n``, ``mean_risk``, ``observed`` (event
        proportion) with its Wilson ``ci_low``, ``ci_high``. Only probability models (not raw scores).

    Examples
    --------
    >>> from trialkit.models.examples import example_cv
    >>> cv = example_cv()  # a logistic model beside MELD, cross-validated on a synthetic cohort
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


def roc_curves(cv: CVResult, models: Sequence[str] | None = None) -> pd.DataFrame:
    """ROC curves of the out-of-fold risk (repeats averaged): ``model``, ``label``, ``fpr``, ``tpr``, ``auc``.

    Examples
    --------
    >>> from trialkit.models.examples import example_cv
    >>> cv = example_cv()  # a logistic model beside MELD, cross-validated on a synthetic cohort
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


def holdout_performance(specs: dict[str, ModelSpec] | list[ModelSpec], train: XY, test: XY, *,
                        oracle: npt.ArrayLike | None = None, scores: dict[str, str] | None = None,
                        tune: bool = False, inner_splits: int = 3, scoring: str = "neg_log_loss",
                        seed: int | None = None,
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
    ...                         scores={"meld": "MELD"}, seed=0)
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
                                 random_state=derive_seed(seed, "holdout")).split(np.zeros(len(ytr)), ytr))
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


def learning_curve(sizes: Sequence[int], specs: dict[str, ModelSpec] | list[ModelSpec], *,
                   make_cohort: Callable[[int, int], tuple[XY, np.ndarray | None]] | None = None,
                   scenario: str | Path | None = None, study: str | Path | None = None,
                   horizon: str | float | None = None,
                   scores: dict[str, str] | None = None, test_size: int = 2000, n_replicates: int = 2,
                   columns: Sequence[str] | None = None, tune: bool = False, seed: int | None = None,
                   n_jobs: int = 1) -> pd.DataFrame:
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
    seed : int, optional
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
    ...                     columns=["meld", "age", "TBIL", "INR"], scores={"meld": "MELD"}, seed=0)
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

    test, orc = make_cohort(int(test_size), derive_seed(seed, "learning_test"))
    parts = []
    for n in sizes:
        for r in range(n_replicates):
            train, _ = make_cohort(int(n), derive_seed(seed, "learning_train", int(n), r))
            res = holdout_performance(specs, train, test, tune=tune, seed=derive_seed(seed, n, r),
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
