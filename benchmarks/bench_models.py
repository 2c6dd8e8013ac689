"""Cost of the predictive chapter's computations at the notebook's default settings (n = 120).

Run as a script::

    .venv/bin/python benchmarks/bench_models.py [--n-splits 4] [--n-repeats 2] [--n-jobs 1]

Times (wall clock, one run each, after a warm-up simulation) the nested cross-validation of each
learner alone (light grid, inner 3-fold), the six recalibrated scores, permutation importance of
the random forest, the final fit, and the learning curve (sizes 60-480, 3 replicates, test cohort
2000); then the large-cohort oracle comparison of tests/test_models_oracle.py (2 x 5,000 subjects).
The notebook (notebooks/04_predictive.ipynb) runs the same steps; its kernel has one BLAS/OpenMP
thread, as here with ``--n-jobs 1``.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from trialkit.models import evaluation, features, pipelines  # noqa: E402
from trialkit.simulate import simulate  # noqa: E402


def timed(label: str, fn):
    t0 = time.perf_counter()
    out = fn()
    print(f"{label:<42s} {time.perf_counter() - t0:7.2f} s")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-splits", type=int, default=4)
    ap.add_argument("--n-repeats", type=int, default=2)
    ap.add_argument("--n-jobs", type=int, default=1)
    ap.add_argument("--model-seed", type=int, default=2012)
    a = ap.parse_args(argv)
    rs, nj = a.model_seed, a.n_jobs
    simulate(seed=1)  # warm-up: the simulator's reference cohort
    trial = timed("simulate n=120", lambda: simulate(seed=20121101))
    data = timed("analysis_dataset (with leakage check)", lambda: features.analysis_dataset(trial))
    xy = features.split_xy(data)
    h = data.attrs["horizon"]
    specs = pipelines.model_specs(horizon=h, seed=rs, n_jobs=nj, grid="light")
    kw = dict(time=xy.time, n_splits=a.n_splits, n_repeats=a.n_repeats, seed=rs, n_jobs=nj)
    for name, spec in specs.items():
        timed(f"nested_cv {name}", lambda spec=spec: evaluation.nested_cv(xy.X, xy.y, [spec], **kw))
    recal = [pipelines.score_spec(c, lab) for c, lab in features.RISK_SCORES.items() if c in xy.X.columns]
    timed("nested_cv 6 recalibrated scores", lambda: evaluation.nested_cv(xy.X, xy.y, recal, **kw))
    cv = evaluation.nested_cv(xy.X, xy.y, [specs["random_forest"]], keep_models=True, **kw)
    timed("permutation importance (random forest)",
          lambda: evaluation.permutation_importance_cv(cv, xy.X, "random_forest", n_repeats=3, seed=rs))
    timed("fit_final (random forest)",
          lambda: evaluation.fit_final(specs["random_forest"], xy.X, xy.y, seed=rs, n_jobs=nj))
    lc_specs = pipelines.model_specs(["logistic", "gradient_boosting"], horizon=h, seed=rs, grid="none")
    timed("learning curve (60-480 x 3, test 2000)",
          lambda: evaluation.learning_curve([60, 120, 240, 480], lc_specs, horizon=h, scores={"meld": "MELD"},
                                            n_replicates=3, columns=list(xy.X.columns), seed=rs, n_jobs=nj))

    def oracle():
        train, _ = features.simulated_cohort(5000, 101)
        test, orc = features.simulated_cohort(5000, 202, columns=list(train.X.columns))
        return evaluation.holdout_performance(pipelines.model_specs(["logistic", "gradient_boosting"], grid="none"),
                                              train, test, oracle=orc, scores={"meld": "MELD"})
    res = timed("oracle comparison (2 x 5,000)", oracle)
    print(res[["model", "auc"]].round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
