"""Design simulation speed, and the larger Monte Carlo runs behind the design tests.

Run as a script::

    .venv/bin/python benchmarks/bench_design.py [--trials 1000] [--jobs 2] [--large] [--record]

or as a pytest-benchmark test (100 trials)::

    .venv/bin/python -m pytest benchmarks/bench_design.py --benchmark-only

What it measures:

1. **Cost of one replicate, stage by stage**: CPU milliseconds (median over 40 replicates, one
   process) of simulating a 120-subject trial (the runner's fast path: subjects and events only;
   all tables without validation; the validated ``simulate()``) and of each analysis the replicate
   runs (``time_to_event``, ``logrank``, ``cox_factorial`` without and with interaction, the lab
   MMRMs). CPU time, because the machine is shared and wall time depends on the neighbours.
2. **1,000 trials through the primary analysis** (global and pairwise log-rank, main-effects Cox
   model): wall time of ``run_replicates(n_trials=1000, analyses=PRIMARY_ANALYSES, n_jobs=2)``,
   worker start-up included (target: under 60 s on 2 cores), then the same with the interaction
   model (the runner's default analyses); peak RSS summed over the process tree.
3. ``--large``: the runs the design tests cannot afford: type I error of the global log-rank test
   over 10,000 null trials, coverage of the Cox 95% CI of the UC-MSC hazard ratio over 5,000
   default trials, and bias/coverage of the lab effects (TBIL, ALB) over 400 trials.

``--record`` rewrites this benchmark's section of ``benchmarks/README.md`` (other sections kept).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_scale import Peak, machine, write_section  # noqa: E402

START, END = "<!-- bench_design:start -->", "<!-- bench_design:end -->"
TARGET_S = 60.0


def stage_costs(n_reps: int = 40) -> dict[str, float]:
    """Median CPU milliseconds per replicate of each stage (default scenario, 120 subjects)."""
    from trialkit.derive.change import change_from_baseline
    from trialkit.derive.tte import time_to_event
    from trialkit.design import power as pw
    from trialkit.simulate import simulate
    from trialkit.simulate.core import simulate_tables
    from trialkit.stats import survival as sv
    from trialkit.stats.longitudinal import analyze_parameters

    spec = pw.design_spec("default")
    st, sc = spec.study, spec.scenario
    seeds = pw.replicate_seeds(1, n_reps)

    def cpu(f, reps=seeds):
        f(reps[0])  # warm
        ts = []
        for s in reps:
            t = time.process_time()
            f(s)
            ts.append(time.process_time() - t)
        return round(statistics.median(ts) * 1000, 1)

    trials = {s: pw.simulate_replicate(spec, s) for s in seeds}
    full = {s: simulate(seed=s) for s in seeds[:10]}
    ttes = {s: time_to_event(trials[s]) for s in seeds}
    longs = {s: change_from_baseline(full[s], ["TBIL", "ALB"], log=("TBIL",)) for s in seeds[:10]}
    out = {
        "simulate: fast path (subjects + events)": cpu(lambda s: pw.simulate_replicate(spec, s)),
        "simulate: all tables, not validated": cpu(lambda s: simulate_tables(st, sc, s)),
        "simulate: validated simulate()": cpu(lambda s: simulate(seed=s), seeds[:10]),
        "time_to_event": cpu(lambda s: time_to_event(trials[s])),
        "logrank (global + 3 pairwise)": cpu(lambda s: sv.logrank(ttes[s], groups=st.arm_ids)),
        "cox_factorial, main effects": cpu(lambda s: sv.cox_factorial(ttes[s], st, interaction=False)),
        "cox_factorial, with interaction": cpu(lambda s: sv.cox_factorial(ttes[s], st)),
        "change_from_baseline (TBIL, ALB)": cpu(lambda s: change_from_baseline(full[s], ["TBIL", "ALB"], log=("TBIL",)),
                                                seeds[:10]),
        "analyze_parameters (TBIL, ALB; unstructured)": cpu(
            lambda s: analyze_parameters(longs[s], st, ["TBIL", "ALB"], covariance="unstructured",
                                         population="survivors"), seeds[:10]),
    }
    out["replicate, primary analysis (fast path)"] = cpu(
        lambda s: pw.analyze_trial(pw.simulate_replicate(spec, s), analyses=pw.PRIMARY_ANALYSES, truth=spec.truth))
    out["replicate, default analyses (fast path)"] = cpu(
        lambda s: pw.analyze_trial(pw.simulate_replicate(spec, s), analyses=pw.DEFAULT_ANALYSES, truth=spec.truth))
    return out


def end_to_end(n_trials: int, jobs: int) -> dict:
    from trialkit.design import power as pw
    from trialkit.design import summaries as sm

    out = {}
    for name, analyses in (("primary", pw.PRIMARY_ANALYSES), ("default", pw.DEFAULT_ANALYSES)):
        load = os.getloadavg()[0]
        with Peak(tree=True, interval=0.1) as p:
            res = pw.run_replicates("default", n_trials=n_trials, seed=2024, analyses=analyses, n_jobs=jobs)
        pt = sm.power_table(res)
        msc = pt[(pt["analysis"] == "cox_main") & (pt["term"] == "msc")]["estimate"].iloc[0]
        out[name] = p.record(load_before=round(load, 2), trials=n_trials, jobs=jobs, power_msc=float(msc))
    return out


def large_runs(jobs: int) -> dict:
    from trialkit.design import power as pw
    from trialkit.design import summaries as sm

    out = {}
    t = time.perf_counter()
    r = pw.run_replicates("null", n_trials=10_000, seed=8, analyses=("logrank",), n_jobs=jobs)
    t1 = sm.type_one_error(r).set_index("term")
    out["type1_global_logrank"] = {"seconds": round(time.perf_counter() - t, 1),
                                   **t1.loc["global", ["estimate", "ci_low", "ci_high", "n"]].to_dict()}
    out["type1_pairwise_logrank"] = t1.loc[t1.index != "global", "estimate"].round(4).to_dict()
    t = time.perf_counter()
    r = pw.run_replicates("default", n_trials=5_000, seed=8, analyses=("cox_main", "cox_interaction"), n_jobs=jobs)
    bc = sm.bias_coverage(r)
    out["cox_coverage"] = {"seconds": round(time.perf_counter() - t, 1),
                           "rows": bc[["analysis", "term", "truth", "mean_estimate", "bias", "bias_mc_se",
                                       "empirical_se", "model_se", "estimate", "ci_low", "ci_high", "n"]]
                           .round(4).to_dict("records")}
    t = time.perf_counter()
    r = pw.run_replicates("default", n_trials=400, seed=8, analyses=("labs",), labs=("TBIL", "ALB"), n_jobs=jobs)
    oc = sm.operating_characteristics(r)
    out["lab_effects"] = {"seconds": round(time.perf_counter() - t, 1),
                          "rows": oc[["term", "truth", "mean_estimate", "bias", "bias_mc_se", "coverage",
                                      "coverage_ci_low", "coverage_ci_high", "kind", "rejection_rate",
                                      "n_tested"]].round(4).to_dict("records")}
    return out


def report(info, stages, e2e, large, args) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/bench_design.py --trials {args.trials} "
             f"--jobs {args.jobs}{' --large' if large else ''}` on {info['nproc']} cores ({info['cpu']}), "
             f"{info['memory_gb']} GB RAM, Python {info['python']}; the machine was shared with other jobs "
             "(load average given).", "",
             "Cost of one replicate (default scenario, 120 subjects; CPU ms, median of 40):", "",
             "| stage | CPU ms |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in stages.items()]
    lines += ["", f"{args.trials} simulated trials of 120 subjects, `run_replicates(..., n_jobs={args.jobs})`, "
              "worker start-up included:", "",
              "| analyses | wall s | target | peak RSS, process tree (MB) | load avg before | UC-MSC power |",
              "|---|---|---|---|---|---|"]
    for k, v in e2e.items():
        what = "primary (log-rank + main-effects Cox)" if k == "primary" else "default (+ Cox with interaction)"
        ok = "met" if v["seconds"] < TARGET_S else "NOT met"
        lines.append(f"| {what} | {v['seconds']:.1f} | < {TARGET_S:.0f} s: {ok} | {v['peak_rss_mb']:.0f} | "
                     f"{v['load_before']} | {v['power_msc']:.3f} |")
    if large:
        g = large["type1_global_logrank"]
        lines += ["", "Larger Monte Carlo runs (the tests use 2,000 and 1,000 trials):", "",
                  f"- Type I error of the global log-rank test, `null` scenario, {int(g['n']):,} trials: "
                  f"{g['estimate']:.4f} (95% MC interval {g['ci_low']:.4f}–{g['ci_high']:.4f}); pairwise log-rank: "
                  + ", ".join(f"{k} {v:.4f}" for k, v in large["type1_pairwise_logrank"].items())
                  + f" ({g['seconds']:.0f} s).",
                  f"- Cox models, `default` scenario, {large['cox_coverage']['rows'][0]['n']:,} trials "
                  f"({large['cox_coverage']['seconds']:.0f} s):", "",
                  "| model | term | true HR | geometric mean HR | bias (log HR) | MC SE | empirical SE | model SE | "
                  "coverage | 95% MC interval |", "|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['analysis']} | {r['term']} | {r['truth']:g} | {r['mean_estimate']:.3f} | {r['bias']:+.4f} | "
                  f"{r['bias_mc_se']:.4f} | {r['empirical_se']:.3f} | {r['model_se']:.3f} | {r['estimate']:.4f} | "
                  f"{r['ci_low']:.3f}–{r['ci_high']:.3f} |" for r in large["cox_coverage"]["rows"]]
        lab = large["lab_effects"]
        lines += ["", f"- Lab effects (MMRM, unstructured, survivors; arm vs control at W24), "
                      f"{lab['rows'][0]['n_tested']} trials ({lab['seconds']:.0f} s):", "",
                  "| term | truth | mean estimate | bias | MC SE | coverage | 95% MC interval | rejection rate |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['term']} | {r['truth']:.3g} | {r['mean_estimate']:.4f} | {r['bias']:+.4f} | "
                  f"{r['bias_mc_se']:.4f} | {r['coverage']:.3f} | {r['coverage_ci_low']:.3f}–{r['coverage_ci_high']:.3f} | "
                  f"{r['rejection_rate']:.3f} ({r['kind']}) |" for r in lab["rows"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--large", action="store_true", help="also the long Monte Carlo runs (type I error, coverage)")
    ap.add_argument("--skip-stages", action="store_true")
    ap.add_argument("--record", action="store_true", help="write the results into benchmarks/README.md")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    info = machine()
    print(f"machine: {info}", flush=True)
    stages = {} if args.skip_stages else stage_costs()
    for k, v in stages.items():
        print(f"  {k:48s} {v:8.1f} ms CPU", flush=True)
    e2e = end_to_end(args.trials, args.jobs)
    for k, v in e2e.items():
        print(f"  {args.trials} trials, {k} analyses, {args.jobs} jobs: {v}", flush=True)
    large = large_runs(args.jobs) if args.large else None
    text = report(info, stages, e2e, large, args)
    print(text)
    if args.record:
        write_section(text, START, END, "## Design simulation (bench_design.py)")
    return 0


def test_bench_100_trials_primary(benchmark):
    from trialkit.design import power as pw

    res = benchmark.pedantic(pw.run_replicates, args=("default",),
                             kwargs={"n_trials": 100, "seed": 1, "analyses": pw.PRIMARY_ANALYSES, "n_jobs": 2},
                             rounds=1, iterations=1)
    assert res["replicate"].nunique() == 100


if __name__ == "__main__":
    raise SystemExit(main())
