"""``trialkit power``: design simulation from the command line.

Hooked into ``trialkit/cli.py`` with::

    from trialkit.design.cli import add_power_parser
    add_power_parser(sub)          # sub = the parser's add_subparsers(...)

Examples
--------
>>> import argparse
>>> p = argparse.ArgumentParser(prog="trialkit")
>>> _ = add_power_parser(p.add_subparsers(dest="command"))
>>> a = p.parse_args(["power", "--n-trials", "50", "--n-subjects", "120", "240", "--jobs", "2"])
>>> a.n_trials, a.n_subjects, a.jobs, a.scenario
(50, [120, 240], 2, None)
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_power_parser", "cmd_power"]

#: Files ``trialkit power --out DIR`` writes.
OUTPUT_FILES = {
    "replicates": "design_replicates.csv",
    "power": "design_power.csv",
    "bias_coverage": "design_bias_coverage.csv",
    "type1_error": "design_type1_error.csv",
}


def add_power_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``power`` command to an ``argparse`` sub-parsers object; returns its parser.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="trialkit")
    >>> power = add_power_parser(parser.add_subparsers(dest="command"))
    >>> power.prog
    'trialkit power'
    >>> args = parser.parse_args(["power", "--null", "--hr", "0.5", "0.7", "--labs"])
    >>> args.null, args.hr, args.labs, args.n_trials, args.engine, args.func is cmd_power
    (True, [0.5, 0.7], [], 1000, 'auto', True)
    """
    p = subparsers.add_parser(
        "power", help="simulate many trials of the design and report power, type I error, bias and coverage",
        description="Simulate N trials per scenario and sample size, analyse each with the efficacy analyses "
                    "(log-rank, factorial Cox models; optionally the lab MMRM), and report power per comparison, "
                    "type I error under the scenario without effects, bias and CI coverage (intervals at level 1 - alpha).")
    p.add_argument("--scenario", help="scenario YAML (default: params/scenarios/default.yaml)")
    p.add_argument("--study", help="study file (default: the scenario's, else params/study.yaml)")
    p.add_argument("--n-trials", type=int, default=1000, help="simulated trials per scenario and size (default 1000)")
    p.add_argument("--n-subjects", type=int, nargs="+", metavar="N",
                   help="total subjects per trial; several values give a power curve (default: the scenario's)")
    p.add_argument("--hr", type=float, nargs="+", metavar="HR",
                   help="true hazard ratios of --factor to try (effect-size curve; default: the scenario's)")
    p.add_argument("--factor", help="factor whose hazard ratio --hr varies (default: the study's first)")
    p.add_argument("--null", action="store_true",
                   help="also simulate the scenario without any effect (type I error)")
    p.add_argument("--labs", nargs="*", metavar="PARAM",
                   help="also analyse these labs with the repeated-measures model (slow: one trial at a time; "
                        "default: the study file's analysis.simulation list when the option is given without names)")
    p.add_argument("--engine", choices=("auto", "batch", "per-trial"), default="auto",
                   help="auto (default): the survival analyses of many replicates at once as arrays (batch), "
                        "one trial at a time (per-trial) with --labs; both give the same results")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1; -1 = all cores)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler address (e.g. tcp://host:8786): run the replicates on that cluster")
    p.add_argument("--seed", type=int, help="master seed (default: the scenario's)")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    p.add_argument("--out", metavar="DIR", help="write the result tables (CSV) into DIR")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_power)
    return p


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False, lineterminator="\n", float_format="%.6g")
    os.replace(tmp, path)


def _check_args(args: argparse.Namespace) -> str | None:
    """The first impossible command-line value, as a message; None when all are usable."""
    if args.n_trials < 1:
        return "--n-trials must be at least 1"
    if args.n_subjects and min(args.n_subjects) < 1:
        return f"--n-subjects must be positive numbers of subjects, got {min(args.n_subjects)}"
    if args.hr and min(args.hr) <= 0:
        return f"--hr must be positive hazard ratios, got {min(args.hr):g}"
    if not 0 < args.alpha < 1:
        return f"--alpha must be between 0 and 1, got {args.alpha:g}"
    if args.jobs == 0 or args.jobs < -1:
        return f"--jobs must be a positive number of workers or -1 (all cores), got {args.jobs}"
    if args.seed is not None and args.seed < 0:
        return f"--seed must be >= 0, got {args.seed}"
    if args.engine == "batch" and args.labs is not None:
        return "--engine batch runs the survival analyses only; --labs needs --engine per-trial (or auto)"
    return None


def cmd_power(args: argparse.Namespace) -> int:
    """Handler of ``trialkit power``; returns the exit status.

    Examples
    --------
    Two simulated trials of 60 subjects (a real run uses ``--n-trials 1000``); the tables are
    printed and written to ``--out``:

    >>> import argparse, os, shutil, tempfile
    >>> parser = argparse.ArgumentParser(prog="trialkit")
    >>> _ = add_power_parser(parser.add_subparsers(dest="command"))
    >>> out = tempfile.mkdtemp()
    >>> args = parser.parse_args(["power", "--n-trials", "2", "--n-subjects", "60", "--seed", "1", "--no-progress",
    ...                           "--out", out])
    >>> cmd_power(args)   # doctest: +ELLIPSIS
    Rejection rates over 2 simulated trials (alpha = 0.05; 95% Monte Carlo intervals):
    scenario  n_subjects  analysis  label  kind  mean_events  rate  ci_low  ci_high  n
     default  60  logrank  global log-rank (4 arms)  power  24.500 0.500  0.095  0.905  2
    ...
    Bias (linear scale) and 95% CI coverage:
    scenario  n_subjects  analysis  label  truth  mean_estimate  bias  coverage  n
     default  60  cox_main  UC-MSC  0.600  0.632  0.051  1.000  2
    ...
    wrote design_replicates.csv, design_power.csv, design_bias_coverage.csv, design_type1_error.csv to ...
    0
    >>> sorted(os.listdir(out))
    ['design_bias_coverage.csv', 'design_power.csv', 'design_replicates.csv', 'design_type1_error.csv']
    >>> shutil.rmtree(out)
    """
    import pandas as pd

    from trialkit.design import power as pw
    from trialkit.design import summaries as sm
    from trialkit.stats.levels import level_pct

    bad = _check_args(args)
    if bad:
        print(f"error: {bad}", file=sys.stderr)
        return 2
    analyses = pw.DEFAULT_ANALYSES + (("labs",) if args.labs is not None else ())
    labs = tuple(args.labs) if args.labs else None
    from trialkit.simulate.scenario import load_scenario

    if args.scheduler:
        pw.check_scheduler(args.scheduler)  # fail fast, before any simulation
    scenarios = [load_scenario(args.scenario)]
    if args.null:
        scenarios.append(pw.null_scenario(scenarios[0]))
    if args.hr:
        from trialkit.simulate.core import resolve_study

        st = resolve_study(args.study, scenarios[0])
        factor = args.factor or next(iter(st.factors))
        if factor not in st.factors:
            print(f"error: --factor {factor}: the study's factors are {', '.join(st.factors)}", file=sys.stderr)
            return 2
        scenarios = [pw.with_effects(scenarios[0], {factor: {"hr": h}}, name=f"{scenarios[0].name}, {factor} HR {h:g}")
                     for h in args.hr] + scenarios[1:]
    sizes = args.n_subjects or [None]
    parts = []
    for sc in scenarios:
        for n in sizes:
            parts.append(pw.run_replicates(sc, study=args.study, n_trials=args.n_trials, n_subjects=n, seed=args.seed,
                                           analyses=analyses, labs=labs, alpha=args.alpha, n_jobs=args.jobs,
                                           scheduler=args.scheduler, progress=not args.no_progress,
                                           engine=args.engine))
    res = pd.concat(parts, ignore_index=True)
    power = sm.power_table(res, alpha=args.alpha)
    bc = sm.bias_coverage(res, alpha=args.alpha)
    t1 = sm.type_one_error(res, alpha=args.alpha)
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_colwidth", 48):
        show = power[["scenario", "n_subjects", "analysis", "label", "kind", "mean_events", "estimate", "ci_low", "ci_high", "n"]]
        print(f"Rejection rates over {args.n_trials} simulated trials (alpha = {args.alpha:g}; "
              f"{level_pct(args.alpha)} Monte Carlo intervals):")
        print(show.rename(columns={"estimate": "rate"}).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        if len(bc):
            print(f"\nBias (linear scale) and {level_pct(args.alpha)} CI coverage:")
            print(bc[["scenario", "n_subjects", "analysis", "label", "truth", "mean_estimate", "bias", "estimate", "n"]]
                  .rename(columns={"estimate": "coverage"}).to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    errors = int((res["analysis"] == "error").sum())
    if errors:
        print(f"\nnote: the analysis failed in {errors} replicate(s); they are left out of the rates", file=sys.stderr)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        _write_csv(res, out / OUTPUT_FILES["replicates"])
        _write_csv(power, out / OUTPUT_FILES["power"])
        _write_csv(bc, out / OUTPUT_FILES["bias_coverage"])
        _write_csv(t1, out / OUTPUT_FILES["type1_error"])
        print(f"\nwrote {', '.join(OUTPUT_FILES.values())} to {out}")
    return 0
