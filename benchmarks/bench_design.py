"""Design simulation speed: the batch engine against the per-trial path, side by side.

Run as a script::

    .venv/bin/python benchmarks/bench_design.py [--trials 10000] [--per-trial-trials 1000] [--jobs 2]
                                                [--large] [--record]

or as pytest-benchmark tests (one run of each engine)::

    .venv/bin/python -m pytest benchmarks/bench_design.py --benchmark-only

What it measures:

1. **Cost of one replicate, stage by stage**: CPU milliseconds per replicate (one process) of the
   per-trial path (median over 40 replicates: simulating the 120-subject trial's subjects and events,
   ``time_to_event``, ``logrank``, ``cox_factorial`` without and with interaction, the lab MMRMs)
   and of the batch engine (a stack of 500 replicates divided by 500: simulating the arrays, the
   sort, the log-rank tests, each Cox model). CPU time, because the machine is shared.
2. **Trials per second, side by side** (the default design, the runner's default analyses: global
   and pairwise log-rank, Cox main effects, Cox with interaction; ``n_jobs`` loky workers, started
   by a small first run whose time is reported): the per-trial path on ``--per-trial-trials`` trials,
   then the batch engine on ``--trials`` trials (target: 10,000 trials in under 60 s on 2 cores),
   then the per-trial path again, so that the ratio compares runs made under the same load; peak RSS over the process tree.
   The batch results are checked against the per-trial path's on the replicates both ran.
3. **Notebook 05's workload** with its default parameters (read from the notebook's parameters
   cell; one process, ``n_jobs = 1``, as the report runs it): the main and null runs, the two power
   curves and the lab check, with each engine (the lab check is per-trial in both); wall and CPU
   seconds, and the largest difference between the two engines' power tables.
4. ``--large``: type I error of the global log-rank test over 10,000 null trials, coverage of the
   Cox 95% CIs over 5,000 default trials, and bias/coverage of the lab effects over 400 trials.

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
    out["per-trial replicate, primary analysis (fast path)"] = cpu(
        lambda s: pw.analyze_trial(pw.simulate_replicate(spec, s), analyses=pw.PRIMARY_ANALYSES, truth=spec.truth))
    out["per-trial replicate, default analyses (fast path)"] = cpu(
        lambda s: pw.analyze_trial(pw.simulate_replicate(spec, s), analyses=pw.DEFAULT_ANALYSES, truth=spec.truth))
    out.update(batch_stage_costs(spec))
    return out


def batch_stage_costs(spec, n_reps: int = 500) -> dict[str, float]:
    """CPU milliseconds per replicate of the batch engine's stages, on a stack of ``n_reps``."""
    from trialkit.design import batch as bt
    from trialkit.design import power as pw

    seeds = pw.replicate_seeds(2, n_reps)
    bt.simulate_replicates(spec, seeds[:2])  # warm (reference cohort)
    out = {}

    def cpu(name, f):
        t = time.process_time()
        r = f()
        out[name] = round((time.process_time() - t) * 1000 / n_reps, 2)
        return r

    sv = cpu("batch: simulate the arrays (per replicate, same streams)", lambda: bt.simulate_replicates(spec, seeds))
    s = cpu("batch: sort by time, tie blocks", lambda: bt.sort_replicates(sv))
    k = len(spec.study.arm_ids)
    cpu("batch: log-rank, global + 3 pairwise", lambda: bt.logrank_replicates(s, k, 0))
    for inter, what in ((False, "main effects"), (True, "with interaction")):
        A = bt.factor_design(spec.study, interaction=inter)[0]
        cpu(f"batch: Cox (Efron) Newton-Raphson, {what}", lambda A=A: bt.cox_replicates(s, A))
    cpu("batch replicate, default analyses (simulate + analyse + rows)",
        lambda: bt.analyze_replicates(spec, range(n_reps), seeds))
    return out


def _run(engine: str, n_trials: int, jobs: int) -> tuple[dict, object]:
    from trialkit.design import power as pw

    load = os.getloadavg()[0]
    with Peak(tree=True, interval=0.1) as p:
        res = pw.run_replicates("default", n_trials=n_trials, seed=2024, n_jobs=jobs, engine=engine)
    rec = p.record(load_before=round(load, 2), trials=n_trials, jobs=jobs)
    rec["trials_per_s"] = round(n_trials / rec["seconds"], 1)
    return rec, res


def side_by_side(n_trials: int, n_per_trial: int, jobs: int) -> dict:
    """Per-trial, batch, per-trial again: trials per second under the same load."""
    import numpy as np
    import pandas as pd

    warm = {e: _run(e, 2 * jobs, jobs)[0]["seconds"] for e in ("per-trial", "batch")}  # start the workers
    first, ref = _run("per-trial", n_per_trial, jobs)
    batch, res = _run("batch", n_trials, jobs)
    second, _ = _run("per-trial", n_per_trial, jobs)
    both = res[res["replicate"] < n_per_trial].reset_index(drop=True)
    pd.testing.assert_frame_equal(both, ref, check_exact=False, rtol=1e-8, atol=1e-10)
    num = [c for c in ref if ref[c].dtype.kind == "f"]
    diff = float(np.nanmax(np.abs(both[num].to_numpy(float) - ref[num].to_numpy(float))))
    pt = 2 / (1 / first["trials_per_s"] + 1 / second["trials_per_s"])  # harmonic mean of the two runs
    return {"warm_up_s": warm, "per_trial_1": first, "batch": batch, "per_trial_2": second, "max_abs_diff": diff,
            "ratio": round(batch["trials_per_s"] / pt, 1), "target_met": batch["seconds"] < TARGET_S
            and n_trials >= 10_000}


def notebook_parameters() -> dict:
    """The default parameters of notebooks/05_design_simulation.ipynb (its ``parameters`` cell)."""
    import json

    nb = json.loads((ROOT / "notebooks" / "05_design_simulation.ipynb").read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    params: dict = {}
    exec("".join(cell["source"]), {}, params)  # plain assignments of literals
    return params


def notebook_workload(engine: str) -> tuple[dict, list]:
    """Notebook 05's library calls with its default parameters (one process), seconds per step."""
    from trialkit.design import power as dp
    from trialkit.design import summaries as ds
    from trialkit.simulate import load_scenario
    from trialkit.study import load_study

    p = notebook_parameters()
    design, sc = load_study(), load_scenario(p["scenario"])
    truth = dp.scenario_truth(sc, design)
    factor = next(iter(design.factors))
    kw = {"study": design, "seed": p["design_seed"], "alpha": p["alpha"], "n_jobs": p["n_jobs"], "engine": engine}
    steps, tables = {}, []

    def step(name, f):
        w, c = time.perf_counter(), time.process_time()
        r = f()
        steps[name] = (time.perf_counter() - w, time.process_time() - c)
        return r

    res = step("main run", lambda: dp.run_replicates(sc, n_trials=p["n_trials"], **kw))
    res0 = step("null run", lambda: dp.run_replicates(dp.null_scenario(sc), n_trials=p["n_trials"],
                                                      analyses=dp.PRIMARY_ANALYSES, **kw))
    sizes = sorted(set(p["curve_sizes"]) | {truth["n_subjects"]})
    cn = step("power curve, sample size", lambda: ds.power_curve(sc, n_subjects=sizes, n_trials=p["curve_trials"],
                                                                  analyses=dp.PRIMARY_ANALYSES, base_results=res, **kw))
    hrs = sorted(set(p["curve_hrs"]) | {sc.factor_effect(factor).hr})
    ch = step("power curve, effect size", lambda: ds.power_curve(sc, hrs=hrs, factor=factor, n_trials=p["curve_trials"],
                                                                  analyses=dp.PRIMARY_ANALYSES, base_results=res, **kw))
    labs = step("lab check (per-trial in both)", lambda: dp.run_replicates(
        sc, n_trials=p["lab_trials"], analyses=("labs",), labs=p["lab_parameters"] or design.analysis["simulation"],
        **{**kw, "engine": "per-trial"}))
    tables = [ds.power_table(res), ds.type_one_error(res0), ds.bias_coverage(res), cn, ch,
              ds.operating_characteristics(labs)]
    return steps, tables


def notebook_side_by_side() -> dict:
    import numpy as np

    out = {}
    notebook_workload("auto")  # warm: imports, reference cohort
    for engine in ("per-trial", "batch", "per-trial"):
        steps, tables = notebook_workload(engine)
        out.setdefault(engine, []).append(steps)
        out.setdefault("tables_" + engine, tables)
    diff = 0.0
    for a, b in zip(out["tables_per-trial"], out["tables_batch"]):
        num = [c for c in a if a[c].dtype.kind == "f"]
        diff = max(diff, float(np.nanmax(np.abs(a[num].to_numpy(float) - b[num].to_numpy(float)))))
    out["max_abs_diff"] = diff
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


def report(info, stages, sbs, nb, large, args) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/bench_design.py --trials {args.trials} "
             f"--per-trial-trials {args.per_trial_trials} --jobs {args.jobs}{' --large' if large else ''}` on "
             f"{info['nproc']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, Python {info['python']}. The machine "
             "was shared with other engineers' jobs (load average given; the 2 cores were often oversubscribed), so "
             "compare the engines through the ratios of runs made side by side, not through absolute times.", ""]
    if stages:
        lines += ["Cost of one replicate (default scenario, 120 subjects; CPU ms; per-trial stages: median of 40 "
                  "replicates, batch stages: a stack of 500 divided by 500):", "", "| stage | CPU ms |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in stages.items()]
        lines.append("")
    if sbs:
        lines += [f"Trials per second, side by side (default design, default analyses: global + pairwise log-rank, "
                  f"Cox main effects, Cox with interaction; `run_replicates(..., n_jobs={args.jobs}, engine=...)` "
                  f"in this order, after a first run of {2 * args.jobs} trials per engine started the loky workers "
                  f"(cold start: {sbs['warm_up_s']['per-trial']:.1f} s for the first, including the workers' imports "
                  f"and the simulator's reference cohort; {sbs['warm_up_s']['batch']:.1f} s for the second)):", "",
                  "| engine | trials | wall s | trials / s | peak RSS, process tree (MB) | load avg before |",
                  "|---|---|---|---|---|---|"]
        for key, name in (("per_trial_1", "per-trial"), ("batch", "**batch**"), ("per_trial_2", "per-trial")):
            r = sbs[key]
            lines.append(f"| {name} | {r['trials']:,} | {r['seconds']:.1f} | {r['trials_per_s']:.1f} | "
                         f"{r['peak_rss_mb']:.0f} | {r['load_before']} |")
        b = sbs["batch"]
        lines += ["", f"Batch / per-trial: **{sbs['ratio']}×** the trials per second (against the harmonic mean of "
                      f"the two per-trial runs around it). Target, at least 10,000 trials in 60 s on 2 cores with the "
                      f"batch engine: **{'met' if sbs['target_met'] else 'NOT met'}** ({b['trials']:,} trials in "
                      f"{b['seconds']:.1f} s). On the {sbs['per_trial_1']['trials']:,} replicates both engines ran, "
                      f"the results are the same simulated trials and differ by at most {sbs['max_abs_diff']:.1e} "
                      "(any column).", ""]
    if nb:
        names = list(nb["batch"][0])
        pt = {k: [sum(r[k][i] for r in nb["per-trial"]) / len(nb["per-trial"]) for i in (0, 1)] for k in names}
        bt = {k: nb["batch"][0][k] for k in names}
        lines += ["Notebook 05's workload with its default parameters (one process, `n_jobs = 1`, as the report "
                  "runs it; per-trial: mean of the runs before and after the batch run; seconds):", "",
                  "| step | per-trial wall | per-trial CPU | batch wall | batch CPU |", "|---|---|---|---|---|"]
        for k in names:
            lines.append(f"| {k} | {pt[k][0]:.2f} | {pt[k][1]:.2f} | {bt[k][0]:.2f} | {bt[k][1]:.2f} |")
        tw, tc = sum(v[0] for v in pt.values()), sum(v[1] for v in pt.values())
        bw, bc = sum(v[0] for v in bt.values()), sum(v[1] for v in bt.values())
        lines.append(f"| **total** | {tw:.2f} | {tc:.2f} | {bw:.2f} | {bc:.2f} |")
        lines += ["", f"Ratio per-trial / batch: {tw / bw:.1f}× (wall), {tc / bc:.1f}× (CPU); the survival runs alone "
                      f"{(tw - pt[names[-1]][0]) / (bw - bt[names[-1]][0]):.0f}× (wall). Largest difference between "
                      f"the two engines' tables (power, type I error, bias/coverage, both curves, lab check): "
                      f"{nb['max_abs_diff']:.1e}.", ""]
    if large:
        g = large["type1_global_logrank"]
        lines += ["Larger Monte Carlo runs (the tests use 2,000 and 1,000 trials):", "",
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
        lines += ["", f"- Lab effects (MMRM, unstructured, survivors; arm vs control at W24; per-trial), "
                      f"{lab['rows'][0]['n_tested']} trials ({lab['seconds']:.0f} s):", "",
                  "| term | truth | mean estimate | bias | MC SE | coverage | 95% MC interval | rejection rate |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['term']} | {r['truth']:.3g} | {r['mean_estimate']:.4f} | {r['bias']:+.4f} | "
                  f"{r['bias_mc_se']:.4f} | {r['coverage']:.3f} | {r['coverage_ci_low']:.3f}–{r['coverage_ci_high']:.3f} | "
                  f"{r['rejection_rate']:.3f} ({r['kind']}) |" for r in lab["rows"]]
        lines.append("")
    lines += ["Regenerate: `.venv/bin/python benchmarks/bench_design.py --record` (about 5 minutes on a quiet machine); "
              "`--large` adds the long runs."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10_000, help="trials of the batch engine (default 10,000)")
    ap.add_argument("--per-trial-trials", type=int, default=1000, help="trials of each per-trial run (default 1,000)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--large", action="store_true", help="also the long Monte Carlo runs (type I error, coverage)")
    ap.add_argument("--skip-stages", action="store_true")
    ap.add_argument("--skip-notebook", action="store_true")
    ap.add_argument("--record", action="store_true", help="write the results into benchmarks/README.md")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    info = machine()
    print(f"machine: {info}", flush=True)
    stages = {} if args.skip_stages else stage_costs()
    for k, v in stages.items():
        print(f"  {k:64s} {v:8.2f} ms CPU", flush=True)
    sbs = side_by_side(args.trials, args.per_trial_trials, args.jobs)
    print(f"  side by side: {sbs}", flush=True)
    nb = None if args.skip_notebook else notebook_side_by_side()
    if nb:
        print(f"  notebook 05 workload: { {k: v for k, v in nb.items() if not k.startswith('tables')} }", flush=True)
    large = large_runs(args.jobs) if args.large else None
    text = report(info, stages, sbs, nb, large, args)
    print(text)
    if args.record:
        write_section(text, START, END, "## Design simulation (bench_design.py)")
    return 0


def test_bench_1000_trials_batch(benchmark):
    from trialkit.design import power as pw

    res = benchmark.pedantic(pw.run_replicates, args=("default",),
                             kwargs={"n_trials": 1000, "seed": 1, "n_jobs": 2, "engine": "batch"},
                             rounds=1, iterations=1)
    assert res["replicate"].nunique() == 1000


def test_bench_100_trials_per_trial(benchmark):
    from trialkit.design import power as pw

    res = benchmark.pedantic(pw.run_replicates, args=("default",),
                             kwargs={"n_trials": 100, "seed": 1, "n_jobs": 2, "engine": "per-trial"},
                             rounds=1, iterations=1)
    assert res["replicate"].nunique() == 100


if __name__ == "__main__":
    raise SystemExit(main())
