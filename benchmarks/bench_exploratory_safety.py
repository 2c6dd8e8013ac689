"""Speed of the exploratory and safety analyses on a large trial (issue 5).

Run as a script::

    .venv/bin/python benchmarks/bench_exploratory_safety.py [--subjects 2000] [--repeat 3]

It simulates one trial of ``--subjects`` patients (default scenario, seed 1; not timed), then
reports the best of ``--repeat`` timings of each step the two notebooks run: the baseline dataset
(with scores), Table 1, CONSORT counts, the missing-data status of every scheduled value,
infusion-reaction and adverse-event tables, the Aalen-Johansen curves and the shift tables.
Targets (2 cores): every step under 5 s at 2,000 patients; Aalen-Johansen on 20,000 subjects
under 1 s.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from trialkit.derive import baseline_dataset, consort_counts, missing_summary, visit_status  # noqa: E402
from trialkit.derive.tte import competing_risks  # noqa: E402
from trialkit.simulate import simulate  # noqa: E402
from trialkit.stats.competing import aalen_johansen  # noqa: E402
from trialkit.tables import baseline as tb  # noqa: E402
from trialkit.tables import safety as ts

TARGET_STEP_S = 5.0
TARGET_AJ_S = 1.0


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    trial = simulate(seed=1, n_subjects=args.subjects)
    bl = baseline_dataset(trial, clif_missing_as_normal=True)
    cr = competing_risks(trial, cause="hcc", competing=["death", "transplant"])
    steps = {
        "baseline_dataset": lambda: baseline_dataset(trial, clif_missing_as_normal=True),
        "table_one": lambda: tb.table_one(bl, trial.study),
        "consort_counts": lambda: consort_counts(trial),
        "visit_status+summary": lambda: missing_summary(visit_status(trial), by=["arm", "visit"]),
        "infusion_reactions": lambda: ts.infusion_reactions_by_arm(ts.infusion_reaction_events(trial), trial.study),
        "ae_incidence(grade)": lambda: ts.ae_incidence(trial, "grade"),
        "aalen_johansen(arm)": lambda: aalen_johansen(cr["time"], cr["status"], group=cr["arm"], censor="censored"),
        "shift_table(ALT)": lambda: ts.shift_table(trial, "ALT"),
    }
    print(f"{args.subjects} subjects, {len(trial.labs):,} lab rows; best of {args.repeat}")
    ok = True
    for name, fn in steps.items():
        t = best(fn, args.repeat)
        ok &= t < TARGET_STEP_S
        print(f"  {name:<24} {t:8.3f} s")
    rng = np.random.default_rng(1)
    n = 20_000
    t_aj = best(lambda: aalen_johansen(rng.integers(0, 337, n), rng.choice([0, 1, 2, 3], n),
                                       group=rng.choice(list("abcd"), n)), args.repeat)
    ok &= t_aj < TARGET_AJ_S
    print(f"  {'aalen_johansen 20k/4 grp':<24} {t_aj:8.3f} s")
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
