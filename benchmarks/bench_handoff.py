"""Validate once, read many times: what a report kernel pays to get the dataset, before and after.

Before, every kernel of ``trialkit run`` called ``trialkit.load`` on the raw dataset: read the CSV files,
coerce every column and run every rule of the data contract, once per notebook. Now the driver does
that once and writes the validated tables (``trialkit.data.handoff.write_validated``, Parquet with the
contract dtypes and a hash stamp); each kernel's ``trialkit.load`` reads those (``TRIALKIT_VALIDATED``).
Measured side by side on the same CSV dataset, each step in a fresh process (time and peak RSS)::

    .venv/bin/python benchmarks/bench_handoff.py [--subjects 100000] [--record]

Steps: ``load_csv`` (one kernel before: read + validate the CSV dataset), ``write_validated`` (the
driver, once per run, after its own validation), ``load_handoff`` (one kernel now). The per-report
figures multiply the kernel step by the five notebooks of the default report.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from bench_scale import Peak, machine, write_section  # noqa: E402

START, END = "<!-- bench_handoff:start -->", "<!-- bench_handoff:end -->"
NOTEBOOKS = 5


def step_setup(n: int, folder: Path) -> dict:
    from trialkit.simulate import write_simulation

    write_simulation(folder / "csv", n_subjects=n, seed=1, fmt="csv")
    return {"subjects": n}


def step_load_csv(folder: Path, **_) -> dict:
    from trialkit.data.load import load

    with Peak() as p:
        trial = load(folder / "csv", folder / "csv" / "study.yaml")
    return p.record(lab_rows=len(trial.labs))


def step_write_validated(folder: Path, **_) -> dict:
    from trialkit.data.handoff import write_validated
    from trialkit.data.load import load

    trial = load(folder / "csv", folder / "csv" / "study.yaml")
    with Peak() as p:
        write_validated(trial, folder / "input", study_file=folder / "csv" / "study.yaml", dataset=folder / "csv")
    size = sum(f.stat().st_size for f in (folder / "input").iterdir()) / 2**20
    return p.record(disk_mb=round(size, 1))


def step_load_handoff(folder: Path, **_) -> dict:
    from trialkit.data import load as load_module
    from trialkit.data.handoff import HANDOFF_ENV
    from trialkit.data.load import load

    def validated_again(*a, **k):
        raise AssertionError("the hand-off was not used")

    os.environ[HANDOFF_ENV] = str(folder / "input")
    load_module.validate = validated_again  # the measured load must come from the hand-off
    with Peak() as p:
        trial = load(folder / "csv", folder / "csv" / "study.yaml")
    return p.record(lab_rows=len(trial.labs))


STEPS = {"load_csv": step_load_csv, "write_validated": step_write_validated, "load_handoff": step_load_handoff}


def run_step(name: str, n: int, folder: Path) -> dict:
    load0 = os.getloadavg()[0]
    r = subprocess.run([sys.executable, __file__, "--step", name, "--subjects", str(n), "--dir", str(folder)],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{name}: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["load_before"] = round(load0, 2)
    return res


def report(results: dict, info: dict, n: int) -> str:
    before, once, now = results["load_csv"], results["write_validated"], results["load_handoff"]
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/bench_handoff.py --subjects {n}` on "
             f"{info['nproc']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, Python {info['python']}; the "
             "machine was shared with other jobs (load average in the last column). Each step ran in a fresh "
             f"process; {before['lab_rows']:,} lab rows.", "",
             "| step | seconds | RSS at start (MB) | peak RSS (MB) | load avg |", "|---|---|---|---|---|"]
    for name, what in (("load_csv", "one kernel before: read + validate the CSV dataset"),
                       ("write_validated", f"the driver, once: write the validated tables ({once['disk_mb']:.0f} MB)"),
                       ("load_handoff", "one kernel now: read the validated tables")):
        r = results[name]
        lines.append(f"| {name} ({what}) | {r['seconds']:.2f} | {r['start_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['load_before']} |")
    ratio = before["seconds"] / now["seconds"]
    lines += ["", f"Per kernel: {ratio:.1f}× faster, peak memory {before['peak_rss_mb']:.0f} → "
                  f"{now['peak_rss_mb']:.0f} MB. Per report of {NOTEBOOKS} notebooks (CPU time, summed over the "
                  f"kernels): {NOTEBOOKS} × {before['seconds']:.1f} s = {NOTEBOOKS * before['seconds']:.0f} s "
                  f"of loading before; {once['seconds']:.1f} s (write, once) + {NOTEBOOKS} × {now['seconds']:.1f} s = "
                  f"{once['seconds'] + NOTEBOOKS * now['seconds']:.0f} s now (the driver's own validation, "
                  "which it did before too, not counted in either).",
              "Not measured here: the whole 100,000-subject report (its analyses, not the loading, then dominate)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--record", action="store_true", help="write the table into benchmarks/README.md")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.step:
        import warnings

        warnings.simplefilter("ignore")
        print(json.dumps(STEPS[args.step](folder=Path(args.dir))))
        return 0
    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="bench_handoff_"))
    try:
        print(f"writing a {args.subjects:,}-subject CSV dataset ...", flush=True)
        step_setup(args.subjects, tmp)
        results = {}
        for name in STEPS:
            print(f"{name} ...", flush=True)
            results[name] = run_step(name, args.subjects, tmp)
            print(f"  {results[name]}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(results, info, args.subjects)
    print(text)
    if args.record:
        write_section(text, START, END, "## Validate once, read many times (bench_handoff.py)")
    return 0


def test_bench_handoff_smoke(tmp_path):
    """The steps run (on 200 subjects) and the kernel's load comes from the hand-off."""
    from trialkit.data import load as load_module

    validate = load_module.validate
    step_setup(200, tmp_path)
    assert step_write_validated(tmp_path)["disk_mb"] > 0
    rows = step_load_csv(tmp_path)["lab_rows"]
    try:
        assert step_load_handoff(tmp_path)["lab_rows"] == rows
    finally:
        os.environ.pop("TRIALKIT_VALIDATED", None)
        load_module.validate = validate


if __name__ == "__main__":
    sys.exit(main())
