"""Speed of the efficacy analyses: Cox/KM/log-rank, the repeated-measures fits, and BLAS threading.

Run as a script::

    .venv/bin/python benchmarks/bench_efficacy.py [--subjects 120 4000] [--repeat 3]

For each cohort size (simulated, default scenario, seed 2012) it times, best of ``--repeat``:

1. ``derive``        - ``time_to_event`` + ``change_from_baseline`` for 7 labs/scores;
2. ``survival``      - KM at 4 times, global + pairwise log-rank, arm and factorial Cox, PH test, RMST;
3. ``mmrm_un``       - the unstructured-covariance REML fit (one lab, TBIL, all subjects);
4. ``mmrm_ri``       - the random-intercept fit (statsmodels MixedLM) for the same lab;
5. ``mmrm_un_blas``  - step 3 again *without* the one-thread BLAS limit that ``fit_mmrm`` applies,
                       to show why the limit is there (thousands of tiny matrix products: thread
                       start-up dominates on a shared 2-core machine).

Peak resident memory (``resource.getrusage``) is printed at the end. Results measured on the
project machine are quoted in the efficacy engineer's report and may be copied to
benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
import trialkit as tk  # noqa: E402
from trialkit.derive.change import change_from_baseline  # noqa: E402
from trialkit.derive.tte import time_to_event  # noqa: E402
from trialkit.stats import longitudinal as L  # noqa: E402
from trialkit.stats import survival as S  # noqa: E402

LABS = ["ALT", "ALB", "TBIL", "PT", "INR", "MELD", "CHILD_PUGH"]


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def survival_all(tte, study):
    arms = study.arm_ids
    S.survival_at(tte, [28, 84, 168, 336], groups=arms)
    S.logrank(tte, groups=arms)
    fit = S.cox_arm(tte, study)
    S.cox_factorial(tte, study)
    S.ph_test(fit)
    S.rmst_difference(tte, 336, groups=arms)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, nargs="+", default=[120, 4000])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    print(f"{'subjects':>8} {'step':<14} {'seconds':>9}")
    for n in a.subjects:
        trial = tk.simulate(seed=2012, n_subjects=n)
        study = trial.study
        tte = time_to_event(trial)
        long = change_from_baseline(trial, LABS, log=["ALT", "TBIL", "INR"])
        tb = long[long["parameter"] == "TBIL"]
        rows = [
            ("derive", best(lambda trial=trial: (time_to_event(trial),
                                     change_from_baseline(trial, LABS, log=["ALT", "TBIL", "INR"])), a.repeat)),
            ("survival", best(lambda tte=tte, study=study: survival_all(tte, study), a.repeat)),
            ("mmrm_un", best(lambda tb=tb, study=study: L.fit_mmrm(tb, study=study, covariance="unstructured"), a.repeat)),
            ("mmrm_ri", best(lambda tb=tb, study=study: L.fit_mmrm(tb, study=study, covariance="random_intercept"), a.repeat)),
        ]
        original = L._single_thread
        try:
            import contextlib

            L._single_thread = contextlib.nullcontext
            rows.append(("mmrm_un_blas", best(lambda tb=tb, study=study: L.fit_mmrm(tb, study=study, covariance="unstructured"), 1)))
        finally:
            L._single_thread = original
        for step, s in rows:
            print(f"{n:>8} {step:<14} {s:>9.3f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
