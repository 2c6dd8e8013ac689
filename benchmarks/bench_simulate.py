"""Simulator speed and memory: simulate 100,000 patients, write Parquet, load them back.

Run as a script::

    .venv/bin/python benchmarks/bench_simulate.py [--subjects 100000] [--format parquet] [--out DIR]

Steps timed (wall clock) and measured (peak resident memory of the process after the step, from
``resource.getrusage``; it only grows, so each figure is the high-water mark so far):

1. ``generate``  - the simulation proper (``simulate_tables``: numpy, no validation), including
                   the one-off reference cohort behind the latent severity (cached per process);
2. ``validate``  - ``build_trial``: coercion and every rule of the data contract;
3. ``write``     - ``write_trial`` (Parquet by default) into a temporary folder;
4. ``load``      - ``trialkit.data.load.load`` of the written folder (read + validate again).

``simulate()`` = steps 1 + 2. The target for ``simulate()`` at 100,000 patients is well under a
minute (20 s aimed at). ``--tracemalloc`` also reports Python-level peak allocations per step
(slower). Numbers measured on the project machine are in benchmarks/README.md when recorded.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
from trialkit.data.load import build_trial, load  # noqa: E402
from trialkit.simulate.core import resolve_study, simulate_tables, write_trial  # noqa: E402
from trialkit.simulate.scenario import load_scenario  # noqa: E402

TARGET_SIMULATE_S = 20.0


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


class Step:
    def __init__(self, name: str, trace: bool):
        self.name, self.trace = name, trace

    def __enter__(self):
        if self.trace:
            tracemalloc.start()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        extra = ""
        if self.trace:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            extra = f", traced peak {peak / 2**20:8.1f} MB"
        print(f"{self.name:9s} {self.seconds:7.2f} s, peak RSS so far {peak_rss_mb():8.1f} MB{extra}", flush=True)
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", default="parquet", choices=["csv", "parquet", "xlsx"])
    ap.add_argument("--out", help="keep the written dataset here (default: a temporary folder, removed)")
    ap.add_argument("--tracemalloc", action="store_true", help="also report traced Python allocations")
    args = ap.parse_args(argv)

    sc = load_scenario(args.scenario)
    study = resolve_study(None, sc)
    print(f"simulating {args.subjects:,} patients, scenario {sc.name!r}, seed {args.seed}; "
          f"RSS at start {peak_rss_mb():.1f} MB")
    with Step("generate", args.tracemalloc) as gen:
        tables, truth, latent = simulate_tables(study, sc, args.seed, args.subjects)
    rows = {k: len(v) for k, v in tables.items()}
    print("          rows: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    with Step("validate", args.tracemalloc) as val:
        trial = build_trial(tables, study, f"simulated:{sc.name}:seed={args.seed}", truth=truth, latent=latent)
    del tables
    tmp = Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    out = Path(args.out) if args.out else tmp / "dataset"
    try:
        with Step("write", args.tracemalloc):
            write_trial(trial, out, fmt=args.format)
        size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
        print(f"          {args.format} on disk: {size:.1f} MB")
        with Step("load", args.tracemalloc):
            back = load(out / "trial.xlsx" if args.format == "xlsx" else out)
        assert back.n_subjects == args.subjects and len(back.labs) == rows["labs"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = gen.seconds + val.seconds
    verdict = "OK" if total < TARGET_SIMULATE_S else "SLOWER THAN TARGET"
    print(f"simulate() = generate + validate = {total:.2f} s (target < {TARGET_SIMULATE_S:.0f} s): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
