"""The whole report at registry size: ``trialkit run`` on a 100,000-subject dataset, and ``trialkit validate``.

Run as a script (not collected by pytest; it takes minutes)::

    .venv/bin/python benchmarks/bench_report.py [--subjects 100000] [--dataset DIR] [--timeout 1800]
        [--jobs 2] [--skip-run] [--skip-validate] [--baseline-src DIR] [--rounds 1] [--record]

Steps:

- **dataset**: ``trialkit simulate --n-subjects N --format csv`` into ``--dataset`` (reused when that
  folder already holds a dataset; default: a folder under the system's temporary directory);
- **run**: ``trialkit run --params P --jobs J --force`` on that dataset (a params YAML written for the
  occasion: ``dataset: DIR``, default everything else) in a subprocess of its own session, capped by
  ``--timeout`` (the process group is killed then, and the notebooks' states at that moment are
  reported). The resident set size (RSS) of the whole process tree (driver + kernels + their workers)
  is sampled every 0.5 s with psutil; the peak of the sum is reported, with the driver's own peak and
  the largest single kernel's. Per-notebook wall time comes from the runner's progress lines and
  ``manifest.json`` (cell execution per notebook);
- **validate**: ``trialkit validate DIR`` in a fresh process (wall time and peak RSS of that process);
  with ``--baseline-src DIR`` (a checkout of older code, e.g. ``git worktree add /tmp/old 6f2b34a``)
  the same command with that code first on ``PYTHONPATH``, alternately with this checkout
  (``--rounds`` pairs), so that the ratio compares runs made side by side under the same load.

The machine is shared: the 1-minute load average is printed beside every timing.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_scale import machine, write_section  # noqa: E402

START, END = "<!-- bench_report:start -->", "<!-- bench_report:end -->"
TRIALKIT = [sys.executable, "-m", "trialkit.cli"]
#: Set by the progress reader once the runner says the notebooks run (validation and hand-off done).
PHASE = {"notebooks": False}
PROGRESS = re.compile(r"^\[\s*([\d.]+)s\] (\S+): (\w+)(?: in ([\d.]+) s)?")


class TreeRSS:
    """Sample the RSS of a process and all its descendants every ``interval`` seconds (psutil)."""

    def __init__(self, pid: int, interval: float = 0.5):
        import psutil

        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_total = 0.0
        self.peak_root = 0.0
        self.peak_child = 0.0
        self.samples = 0
        self.t0 = time.perf_counter()
        self.peak_at = 0.0            # seconds after the start, when the sum peaked
        self.peak_parts: list[float] = []  # RSS (MB) of each process at that moment, largest first
        self.peak_notebooks = 0.0     # the peak once the notebooks run (after validation and hand-off)
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        import psutil

        try:
            procs = [self.root] + self.root.children(recursive=True)
        except psutil.Error:
            return
        total = 0.0
        parts = []
        for p in procs:
            try:
                rss = p.memory_info().rss / 2**20
            except psutil.Error:  # a child that just exited
                continue
            total += rss
            parts.append(rss)
            if p.pid == self.root.pid:
                self.peak_root = max(self.peak_root, rss)
            else:
                self.peak_child = max(self.peak_child, rss)
        if PHASE["notebooks"]:
            self.peak_notebooks = max(self.peak_notebooks, total)
        if total > self.peak_total:
            self.peak_total, self.peak_at = total, time.perf_counter() - self.t0
            self.peak_parts = sorted(parts, reverse=True)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        return False


def load_avg() -> float:
    return round(os.getloadavg()[0], 2)


def ensure_dataset(folder: Path, n: int) -> Path:
    """Simulate an ``n``-subject CSV dataset into ``folder`` unless it is already there."""
    if (folder / "subjects.csv").is_file():
        print(f"reusing the dataset in {folder}", flush=True)
        return folder
    print(f"simulating {n:,} subjects into {folder} ...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(TRIALKIT + ["simulate", "--out", str(folder), "--n-subjects", str(n), "--format", "csv"],
                   check=True, cwd=ROOT)
    print(f"  {time.perf_counter() - t0:.1f} s", flush=True)
    return folder


def _measure(cmd: list[str], *, env: dict | None = None, timeout: float | None = None, cwd: Path = ROOT,
             on_line=None) -> dict:
    """Run ``cmd`` in its own session; wall time, exit code, peak RSS of its tree; stderr lines to ``on_line``."""
    load0 = load_avg()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[str] = []

    def reader():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if on_line is not None:
                on_line(line.rstrip("\n"), time.perf_counter() - t0)

    rd = threading.Thread(target=reader, daemon=True)
    rd.start()
    timed_out = False
    with TreeRSS(proc.pid) as rss:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            rss.sample()
            os.killpg(proc.pid, signal.SIGKILL)  # the group this benchmark started, nothing else
            proc.wait()
    rd.join(timeout=5)
    return {"seconds": round(time.perf_counter() - t0, 1), "returncode": proc.returncode, "timed_out": timed_out,
            "peak_total_mb": round(rss.peak_total), "peak_driver_mb": round(rss.peak_root),
            "peak_child_mb": round(rss.peak_child), "peak_at_s": round(rss.peak_at, 1),
            "peak_notebooks_mb": round(rss.peak_notebooks),
            "peak_parts_mb": [round(x) for x in rss.peak_parts[:4]], "load_before": load0, "load_after": load_avg(),
            "output": lines}


def run_report(dataset: Path, work: Path, jobs: int, timeout: float) -> dict:
    """``trialkit run`` on ``dataset``; per-notebook times and the peak RSS of all processes."""
    import yaml

    params = work / "params.yaml"
    params.write_text(yaml.safe_dump({"name": "scale", "outputs": str(work / "reports"), "dataset": str(dataset),
                                      "notebooks": str(ROOT / "notebooks")}), encoding="utf-8")
    states: dict[str, dict] = {}

    def on_line(line: str, t: float) -> None:
        print(f"  {line}", flush=True)
        if "notebook(s), up to" in line:
            PHASE["notebooks"] = True
        m = PROGRESS.match(line)
        if m:
            s = states.setdefault(m.group(2), {})
            s["status"] = m.group(3)
            if m.group(3) == "running":
                s["started"] = float(m.group(1))
            elif m.group(3) in ("done", "failed"):
                s["ended"] = float(m.group(1))
            if m.group(4):
                s["seconds"] = float(m.group(4))

    res = _measure(TRIALKIT + ["run", "--params", str(params), "--jobs", str(jobs), "--force"], timeout=timeout,
                   on_line=on_line)
    res["notebooks"] = states
    manifest = work / "reports" / "scale" / "manifest.json"
    if res["returncode"] == 0 and manifest.is_file():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        for n in m.get("notebooks", []):
            states.setdefault(n["name"], {})["cell_seconds"] = n.get("seconds")
    return res


def validate(dataset: Path, src: Path | None) -> dict:
    """``trialkit validate dataset`` with this checkout's code, or with ``src`` first on the path."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cwd = Path(tempfile.gettempdir())  # not the checkout: its folder would come first on sys.path
    where = subprocess.run([sys.executable, "-c", "import trialkit; print(trialkit.__file__)"], env=env, cwd=cwd,
                           capture_output=True, text=True, check=True).stdout.strip()
    expected = (src if src is not None else ROOT).resolve()
    if not Path(where).resolve().is_relative_to(expected):
        raise RuntimeError(f"trialkit imported from {where}, expected under {expected}")
    res = _measure(TRIALKIT + ["validate", str(Path(dataset).resolve())], env=env, cwd=cwd)
    res.pop("output")
    return res


def report(info: dict, args, run: dict | None, vals: list[tuple[dict, dict | None]]) -> str:
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `benchmarks/bench_report.py "
             f"--subjects {args.subjects} --jobs {args.jobs}` on {info['nproc']} cores ({info['cpu']}), "
             f"{info['memory_gb']} GB RAM, Python {info['python']}. The machine is shared with other engineers' "
             "jobs: the 1-minute load average is given beside each timing.", ""]
    if run is not None:
        verdict = ("timed out" if run["timed_out"] else "exit 0" if run["returncode"] == 0
                   else f"exit {run['returncode']}")
        lines += [f"`trialkit run --jobs {args.jobs} --force` on the {args.subjects:,}-subject CSV dataset "
                  f"({verdict}; load average {run['load_before']} before, {run['load_after']} after):", "",
                  "| notebook | status | wall s (progress) | cell execution s (manifest) |", "|---|---|---|---|"]
        for name, s in sorted(run["notebooks"].items()):
            lines.append(f"| {name} | {s.get('status', '?')} | {s.get('seconds', '')} | "
                         f"{s.get('cell_seconds', '')} |")
        lines += [f"| **whole run** | {verdict} | **{run['seconds']:.1f}** | |", "",
                  f"Peak RSS summed over all processes (driver + kernels + workers, sampled every 0.5 s): "
                  f"**{run['peak_total_mb']:,} MB**; the driver's own peak {run['peak_driver_mb']:,} MB, the "
                  f"largest single child {run['peak_child_mb']:,} MB.",
                  f"At the peak ({run['peak_at_s']} s after the start) the largest processes held "
                  + " + ".join(f"{x:,}" for x in run["peak_parts_mb"]) + " MB; notebooks running then: "
                  + (", ".join(sorted(n for n, s in run["notebooks"].items()
                                      if s.get("started", 1e9) <= run["peak_at_s"] <= s.get("ended", 1e9))) or "none")
                  + f". Peak once the notebooks ran (after validation and the hand-off): "
                  f"{run['peak_notebooks_mb']:,} MB.", ""]
    if vals:
        lines += ["`trialkit validate` on the same dataset, each in a fresh process"
                  + (f", alternately with the code of `{args.baseline_label}`" if args.baseline_src else "") + ":",
                  "", "| round | code | wall s | peak RSS (MB) | load avg before |", "|---|---|---|---|---|"]
        ratios = []
        for i, (new, old) in enumerate(vals, 1):
            if old is not None:
                lines.append(f"| {i} | {args.baseline_label} | {old['seconds']:.1f} | {old['peak_total_mb']:,} | "
                             f"{old['load_before']} |")
                ratios.append(old["seconds"] / new["seconds"])
            lines.append(f"| {i} | this checkout | {new['seconds']:.1f} | {new['peak_total_mb']:,} | "
                         f"{new['load_before']} |")
        if ratios:
            lines += ["", "Speed-up (old / new wall time, per side-by-side round): "
                      + ", ".join(f"**{r:.1f}×**" for r in ratios) + "."]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=100_000)
    ap.add_argument("--dataset", help="dataset folder (simulated there unless it already holds one)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before the run is killed")
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--skip-validate", action="store_true")
    ap.add_argument("--baseline-src", help="older checkout for a side-by-side validate")
    ap.add_argument("--baseline-label", default="baseline")
    ap.add_argument("--rounds", type=int, default=1, help="validate pairs")
    ap.add_argument("--json", help="write the raw results here")
    ap.add_argument("--record", action="store_true", help="write the tables into benchmarks/README.md")
    args = ap.parse_args(argv)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="bench_report_"))
    try:
        dataset = ensure_dataset(Path(args.dataset) if args.dataset else work / "data", args.subjects)
        run = None
        if not args.skip_run:
            print(f"trialkit run (load {load_avg()}) ...", flush=True)
            run = run_report(dataset.resolve(), work, args.jobs, args.timeout)
            print(f"  {run['seconds']} s, exit {run['returncode']}, timed out {run['timed_out']}, peak "
                  f"{run['peak_total_mb']} MB (driver {run['peak_driver_mb']}, child {run['peak_child_mb']})",
                  flush=True)
        vals = []
        if not args.skip_validate:
            base = Path(args.baseline_src).resolve() if args.baseline_src else None
            for _ in range(args.rounds):
                old = None
                if base is not None:
                    print(f"validate with {base} (load {load_avg()}) ...", flush=True)
                    old = validate(dataset, base)
                    print(f"  {old['seconds']} s, peak {old['peak_total_mb']} MB", flush=True)
                print(f"validate with this checkout (load {load_avg()}) ...", flush=True)
                new = validate(dataset, None)
                print(f"  {new['seconds']} s, peak {new['peak_total_mb']} MB", flush=True)
                vals.append((new, old))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the report, the parameters (and the dataset unless --dataset)
    text = report(info, args, run, vals)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"run": run, "validate": vals}, indent=1, default=str))
    if args.record:
        write_section(text, START, END, "## The full report at 100,000 subjects (bench_report.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
