"""Scale benchmarks: registry-size cohorts through the kit, time AND peak memory per step.

Run as a script (each step in a fresh process, so every memory figure is that step's own)::

    .venv/bin/python benchmarks/bench_scale.py [--subjects 100000] [--score-rows 10000000] [--no-run] [--record]

or as pytest-benchmark tests on small sizes (a smoke check that every step still runs)::

    .venv/bin/python -m pytest benchmarks/bench_scale.py --benchmark-only

Steps (default sizes):

=================  ============================================================================
``simulate``       ``simulate_tables`` of 100,000 subjects (the simulation proper, no validation)
``validate``       ``build_trial`` of those tables (coercion + every rule of the data contract)
``save_parquet``   ``write_trial(..., fmt="parquet")``; ``save_csv`` the same as CSV
``load_parquet``   ``trialkit.load`` of the Parquet folder (read + validate); ``load_csv`` of CSV
``scores``         ``trialkit.derive.severity.add_scores`` on a trial with >= 10 million lab rows
``survival``       on 100,000 subjects: ``time_to_event``, ``km_table``, ``logrank``,
                   ``cox_factorial`` (with interaction)
``scaling``        validation (``build_trial``) at about 1 and 10 million lab rows: seconds per
                   million rows, and a cProfile of the 10-million-row run (top functions), to find
                   what grows worse than linearly
``run``            the whole default report, ``trialkit run --params params/default.yaml``
=================  ============================================================================

Memory: a background thread samples the resident set size (RSS, psutil) of the process - and for
``run`` of its whole process tree - every 20 ms during the timed operation; ``peak_rss_mb`` is the
highest sample, ``start_rss_mb`` the RSS when the operation began (inputs already in memory), so
``peak - start`` is what the operation itself needed. Wall-clock seconds; the machine is shared,
so the load average is recorded with the results.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout
README = ROOT / "benchmarks" / "README.md"
START, END = "<!-- bench_scale:start -->", "<!-- bench_scale:end -->"
LAB_ROWS_PER_SUBJECT = 153.3  # default scenario, registry study file (measured: 1,533,430 rows / 10,000)


# ------------------------------------------------------------------------------------------------
# measuring
# ------------------------------------------------------------------------------------------------
class Peak:
    """Wall time and peak RSS (MB) of a block; ``tree=True`` sums the process and its children."""

    def __init__(self, tree: bool = False, interval: float = 0.02):
        import psutil

        self.proc = psutil.Process()
        self.tree, self.interval = tree, interval

    def rss(self) -> float:
        procs = [self.proc] + (self.proc.children(recursive=True) if self.tree else [])
        total = 0
        for p in procs:
            try:
                total += p.memory_info().rss
            except Exception:  # noqa: BLE001 - a child that just exited
                pass
        return total / 2**20

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            self._stop.wait(self.interval)

    def __enter__(self):
        self.start_rss = self.rss()
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._sample, daemon=True)
        self._t.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.rss())
        return False

    def record(self, **extra) -> dict:
        return {"seconds": round(self.seconds, 3), "start_rss_mb": round(self.start_rss, 1),
                "peak_rss_mb": round(self.peak, 1), **extra}


def _tables(n: int, seed: int = 1):
    from trialkit.simulate.core import resolve_study, simulate_tables
    from trialkit.simulate.scenario import load_scenario

    sc = load_scenario("default")
    study = resolve_study(None, sc)
    tables, truth, latent = simulate_tables(study, sc, seed, n)
    return tables, study, truth, latent


def _trial(n: int, seed: int = 1):
    from trialkit.data.load import build_trial

    tables, study, truth, latent = _tables(n, seed)
    return build_trial(tables, study, f"simulated:default:seed={seed}", truth=truth, latent=latent)


# ------------------------------------------------------------------------------------------------
# steps (each runs in its own process when driven by main)
# ------------------------------------------------------------------------------------------------
def step_simulate(n: int, **_) -> dict:
    from trialkit.simulate.core import resolve_study, simulate_tables
    from trialkit.simulate.scenario import load_scenario

    sc = load_scenario("default")
    study = resolve_study(None, sc)
    simulate_tables(study, sc, 2, 200)  # warm the per-process reference cohort cache
    with Peak() as p:
        tables, _, _ = simulate_tables(study, sc, 1, n)
    return p.record(rows={k: len(v) for k, v in tables.items()})


def step_validate(n: int, **_) -> dict:
    from trialkit.data.load import build_trial

    tables, study, truth, latent = _tables(n)
    with Peak() as p:
        trial = build_trial(tables, study, "simulated", truth=truth, latent=latent)
    return p.record(lab_rows=len(trial.labs))


def _save(n: int, fmt: str, folder: str) -> dict:
    from trialkit.simulate.core import write_trial

    trial = _trial(n)
    out = Path(folder) / fmt
    with Peak() as p:
        write_trial(trial, out, fmt=fmt)
    size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    return p.record(disk_mb=round(size, 1))


def step_save_parquet(n: int, folder: str, **_) -> dict:
    return _save(n, "parquet", folder)


def step_save_csv(n: int, folder: str, **_) -> dict:
    return _save(n, "csv", folder)


def _load(fmt: str, folder: str) -> dict:
    from trialkit.data.load import load

    with Peak() as p:
        trial = load(Path(folder) / fmt)
    return p.record(subjects=trial.n_subjects, lab_rows=len(trial.labs))


def step_load_parquet(folder: str, **_) -> dict:
    return _load("parquet", folder)


def step_load_csv(folder: str, **_) -> dict:
    return _load("csv", folder)


def step_scores(score_rows: int, **_) -> dict:
    from trialkit.derive.severity import add_scores

    n = int(score_rows / LAB_ROWS_PER_SUBJECT) + 1
    trial = _trial(n)
    with Peak() as p:
        sc = add_scores(trial)
    return p.record(subjects=n, lab_rows=len(trial.labs), score_rows=len(sc),
                    lab_rows_per_s=round(len(trial.labs) / p.seconds))


def step_survival(n: int, **_) -> dict:
    from trialkit.derive.tte import time_to_event
    from trialkit.stats import survival as sv

    trial = _trial(n)
    st = trial.study
    out = {}
    with Peak() as p:
        tte = time_to_event(trial, endpoint="transplant_free", horizon="primary")
    out["time_to_event"] = p.record()
    with Peak() as p:
        km = sv.km_table(tte, groups=st.arm_ids)
    out["km_table"] = p.record(rows=len(km))
    with Peak() as p:
        sv.logrank(tte, groups=st.arm_ids, control=st.control_arm)
    out["logrank"] = p.record()
    with Peak() as p:
        cox = sv.cox_factorial(tte, st)
    out["cox_factorial"] = p.record(events=int(cox.table["events"].iloc[0]))
    return {"subjects": n, "parts": out}


def step_scaling(score_rows: int, profile: bool = True, **_) -> dict:
    """build_trial at ~1M and ~10M lab rows; seconds per million rows; cProfile at the larger."""
    from trialkit.data.load import build_trial

    out = {}
    for target in (score_rows // 10, score_rows):
        n = int(target / LAB_ROWS_PER_SUBJECT) + 1
        tables, study, truth, latent = _tables(n)
        prof = cProfile.Profile() if (profile and target == score_rows) else None
        with Peak() as p:
            if prof:
                prof.enable()
            build_trial(tables, study, "simulated", truth=truth, latent=latent)
            if prof:
                prof.disable()
        rows = len(tables["labs"])
        rec = p.record(lab_rows=rows, s_per_million_rows=round(p.seconds / rows * 1e6, 3),
                       profiled=prof is not None)
        if prof:
            rec["top_tottime"] = _top(prof, 12)
        out[f"{rows / 1e6:.1f}M"] = rec
        del tables
    return out


def _top(prof: cProfile.Profile, k: int) -> list[dict]:
    st = pstats.Stats(prof)
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _) in st.stats.items():
        rows.append({"function": f"{Path(file).name}:{line}({fn})", "calls": nc, "tottime": round(tt, 3),
                     "cumtime": round(ct, 3)})
    return sorted(rows, key=lambda r: -r["tottime"])[:k]


def step_run(folder: str, jobs: int | None = None, **_) -> dict:
    exe = Path(sys.executable).parent / "trialkit"
    cmd = [str(exe), "run", "--params", str(ROOT / "params" / "default.yaml"), "--out", str(Path(folder) / "report")]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    with Peak(tree=True, interval=0.1) as p:
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return p.record(returncode=r.returncode, stderr_tail=r.stderr.strip().splitlines()[-3:] if r.returncode else [])


STEPS = {"simulate": step_simulate, "validate": step_validate, "save_parquet": step_save_parquet,
         "save_csv": step_save_csv, "load_parquet": step_load_parquet, "load_csv": step_load_csv,
         "scores": step_scores, "survival": step_survival, "scaling": step_scaling, "run": step_run}


# ------------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------------
def machine() -> dict:
    import psutil

    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "platform": platform.platform(terse=True)}


def run_step(name: str, args, folder: str) -> dict:
    cmd = [sys.executable, __file__, "--step", name, "--subjects", str(args.subjects), "--score-rows",
           str(args.score_rows), "--dir", folder]
    if args.jobs:
        cmd += ["--jobs", str(args.jobs)]
    load0 = os.getloadavg()[0]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        return {"error": r.stderr.strip().splitlines()[-1] if r.stderr.strip() else f"exit {r.returncode}",
                "load_before": round(load0, 2)}
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["load_before"] = round(load0, 2)
    return res


def _fmt(name: str, r: dict) -> list[str]:
    if "error" in r:
        return [f"| {name} | failed: {r['error']} | | | |"]
    if "parts" in r:
        return [f"| {name}: {k} ({r['subjects']:,} subjects) | {v['seconds']:.2f} | {v['start_rss_mb']:.0f} | "
                f"{v['peak_rss_mb']:.0f} | {r['load_before']} |" for k, v in r["parts"].items()]
    if name == "scaling":
        return [f"| validate {k} lab rows | {v['seconds']:.2f} ({v['s_per_million_rows']:.2f} s per M rows"
                f"{', profiled' if v['profiled'] else ''}) | {v['start_rss_mb']:.0f} | {v['peak_rss_mb']:.0f} | "
                f"{r['load_before']} |" for k, v in r.items() if isinstance(v, dict)]
    what = {"simulate": lambda: f"{r['rows']['labs']:,} lab rows",
            "validate": lambda: f"{r['lab_rows']:,} lab rows",
            "save_parquet": lambda: f"{r['disk_mb']:.0f} MB on disk", "save_csv": lambda: f"{r['disk_mb']:.0f} MB on disk",
            "load_parquet": lambda: f"{r['lab_rows']:,} lab rows", "load_csv": lambda: f"{r['lab_rows']:,} lab rows",
            "scores": lambda: f"{r['lab_rows']:,} lab rows, {r['lab_rows_per_s']:,} rows/s",
            "run": lambda: f"exit {r['returncode']}, RSS summed over the process tree"}.get(name, lambda: "")()
    return [f"| {name} ({what}) | {r['seconds']:.2f} | {r['start_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
            f"{r['load_before']} |"]


def report(results: dict, info: dict, args) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/bench_scale.py --subjects {args.subjects} "
             f"--score-rows {args.score_rows}` on {info['nproc']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, "
             f"Python {info['python']}, {info['platform']}; the machine was shared with other jobs "
             "(load average in the last column). Each step ran in a fresh process.", "",
             "| step | seconds | RSS at start (MB) | peak RSS (MB) | load avg |", "|---|---|---|---|---|"]
    for name, r in results.items():
        lines += _fmt(name, r)
    sc = results.get("scaling", {})
    prof = next((v for v in sc.values() if isinstance(v, dict) and v.get("top_tottime")), None)
    if prof:
        top = prof["top_tottime"]
        lines += ["", f"Validation (`build_trial`) at {prof['lab_rows']:,} lab rows, top functions by own time "
                      "(cProfile):", "",
                  "| function | calls | tottime (s) | cumtime (s) |", "|---|---|---|---|"]
        lines += [f"| `{t['function']}` | {t['calls']} | {t['tottime']} | {t['cumtime']} |" for t in top]
    return "\n".join(lines) + "\n"


def write_section(text: str, start: str = START, end: str = END, title: str = "## Scale (bench_scale.py)") -> None:
    """Replace this benchmark's section of benchmarks/README.md (other sections are kept)."""
    body = f"{start}\n{title}\n\n{text}{end}\n"
    old = README.read_text(encoding="utf-8") if README.exists() else "# Benchmarks\n"
    if start in old and end in old:
        a, b = old.index(start), old.index(end) + len(end)
        new = old[:a] + body.rstrip("\n") + old[b:]
    else:
        new = old.rstrip("\n") + "\n\n" + body
    README.write_text(new if new.endswith("\n") else new + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--score-rows", type=int, default=10_000_000, help="lab rows for the scores and scaling steps")
    ap.add_argument("--steps", nargs="+", choices=list(STEPS), help="run only these steps")
    ap.add_argument("--no-run", action="store_true", help="skip the whole `trialkit run` step")
    ap.add_argument("--jobs", type=int, help="--jobs for `trialkit run`")
    ap.add_argument("--record", action="store_true", help="write the results into benchmarks/README.md")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:  # child process: one step, JSON on the last line of stdout
        import warnings

        warnings.simplefilter("ignore")
        res = STEPS[args.step](n=args.subjects, score_rows=args.score_rows, folder=args.dir, jobs=args.jobs)
        print(json.dumps(res))
        return 0
    steps = args.steps or [s for s in STEPS if not (s == "run" and args.no_run)]
    info = machine()
    print(f"machine: {info}", flush=True)
    tmp = tempfile.mkdtemp(prefix="bench_scale_")
    results = {}
    try:
        for name in steps:
            print(f"{name} ...", flush=True)
            results[name] = run_step(name, args, tmp)
            print("  " + "\n  ".join(_fmt(name, results[name])), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(results, info, args)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "results": results}, indent=1), encoding="utf-8")
    if args.record:
        write_section(text)
    return 0


# ------------------------------------------------------------------------------------------------
# pytest-benchmark entry points (small sizes)
# ------------------------------------------------------------------------------------------------
def test_bench_validate_20k(benchmark):
    from trialkit.data.load import build_trial

    tables, study, truth, latent = _tables(20_000)
    trial = benchmark.pedantic(build_trial, args=(tables, study, "sim"), kwargs={"truth": truth, "latent": latent},
                               rounds=1, iterations=1)
    assert trial.n_subjects == 20_000


def test_bench_survival_20k(benchmark):
    from trialkit.derive.tte import time_to_event
    from trialkit.stats import survival as sv

    trial = _trial(20_000)
    tte = time_to_event(trial)
    fit = benchmark.pedantic(sv.cox_factorial, args=(tte, trial.study), rounds=1, iterations=1)
    assert fit.table["n"].iloc[0] == 20_000


if __name__ == "__main__":
    raise SystemExit(main())
