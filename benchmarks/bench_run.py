"""Wall time of the whole default report run against its floor (target: run <= 1.5 x floor).

The floor is what no runner can avoid: start one kernel per notebook and import the notebook's
stack in it, with the same parallelism (``--jobs``) and the same kernel set-up as the runner
(this venv's ipykernel on IPC sockets, same environment). "The stack" of a notebook is every
``import`` / ``from ... import`` statement of its code cells, executed in a fresh kernel; nothing
else runs (no data, no analysis, no papermill, no nbconvert). Both are measured as separate
processes from launch to exit, best of ``--repeat``:

- floor: ``python benchmarks/bench_run.py --floor-only`` (imports only jupyter_client);
- run:   ``trialkit run --params params/default.yaml --out <tmp> --jobs N``.

The run's extra time is the analyses themselves plus the runner's own work (simulating the
dataset once, papermill and nbconvert start-up, HTML rendering, the identifier check, hashing).

Usage::

    .venv/bin/python benchmarks/bench_run.py [--jobs N] [--repeat 3] [--record]

``--record`` rewrites this benchmark's section of ``benchmarks/README.md`` (other sections kept).
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "benchmarks" / "README.md"
START, END = "<!-- bench_run:start -->", "<!-- bench_run:end -->"
TARGET = 1.5


def stack_imports(nb_path: Path) -> str:
    """The import statements of a notebook's code cells, in order, deduplicated, after the modules
    ``notebook_setup`` imports when called (matplotlib, numpy, seaborn)."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    lines: list[str] = ["import matplotlib", "import numpy", "import seaborn"]
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                stmt = ast.unparse(node)
                if stmt not in lines:
                    lines.append(stmt)
    return "\n".join(lines)


def notebooks() -> list[Path]:
    return sorted(p for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _kernel_env() -> dict[str, str]:
    # the runner's kernel environment (trialkit.report.kernels.kernel_env), without importing trialkit
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    env.update({"PYTHONHASHSEED": "0", "SOURCE_DATE_EPOCH": "0", "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TZ": "UTC",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
    return env


def floor_only(jobs: int) -> None:
    """Start one kernel per notebook (``jobs`` at once), run its imports, shut it down."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    stubs = [stack_imports(p) for p in notebooks()]
    sock = tempfile.mkdtemp(prefix="tk-f")
    spec = KernelSpec(argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                      display_name="py", language="python")
    lock, counter = threading.Lock(), iter(range(10_000))

    def one(code: str) -> None:
        with lock:
            n = next(counter)
        km = KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sock, f"k{n}"))
        km._kernel_spec = spec
        km.start_kernel(env=_kernel_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=300)
            reply = kc.execute_interactive(code, timeout=600, output_hook=lambda msg: None)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"imports failed: {reply['content']}")
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, stubs))


def _timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return dt


def measure(jobs: int, repeat: int) -> dict:
    nbs = notebooks()
    if not nbs:
        raise SystemExit("no notebooks in notebooks/")
    load_before = os.getloadavg()[0]
    floor, run, manifests = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            floor.append(_timed([sys.executable, str(Path(__file__).resolve()), "--floor-only", "--jobs", str(jobs)]))
            out = Path(tmp) / "default"
            run.append(_timed([str(Path(sys.executable).parent / "trialkit"), "run", "--params", "params/default.yaml",
                               "--out", str(out), "--jobs", str(jobs)]))
            manifests.append(json.loads((out / "manifest.json").read_text()))
    best = min(range(repeat), key=lambda i: run[i])
    nb = manifests[best]["notebooks"]
    first = min(n["started_after"] for n in nb)
    last = max(n["started_after"] + n["seconds"] for n in nb)
    longest = max(n["seconds"] for n in nb)
    longest_name = next(n["name"] for n in nb if n["seconds"] == longest)
    return {"jobs": jobs, "notebooks": [p.stem for p in nbs], "floor": floor, "run": run,
            "per_notebook": {n["name"]: n["seconds"] for n in nb},
            "phases": {"before the first cell (simulation; kernels start and import meanwhile)": first,
                       "executing notebooks": last - first,
                       "after the last cell (HTML, check, index, manifest)": manifests[best]["wall_seconds"] - last,
                       "process start-up and exit": run[best] - manifests[best]["wall_seconds"]},
            "ratio": min(run) / min(floor), "load": (load_before, os.getloadavg()[0]),
            "overhead_ratio": (run[best] - longest) / min(floor), "longest": (longest_name, longest)}


def report_md(res: dict) -> str:
    per = ", ".join(f"{k} {v:.1f} s" for k, v in res["per_notebook"].items())
    verdict = "meets" if res["ratio"] <= TARGET else "misses"
    return "\n".join([
        START,
        "## Report run: `trialkit run` vs its floor (`bench_run.py`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"`--jobs {res['jobs']}`; {len(res['notebooks'])} notebooks ({', '.join(res['notebooks'])}); "
        f"best of {len(res['run'])}; 1-minute load average {res['load'][0]:.1f} before, {res['load'][1]:.1f} after "
        "(other processes share the cores: compare runs made under similar load).",
        "",
        "| measurement | wall time (s) |",
        "|---|---|",
        f"| floor: one kernel per notebook + its imports, {res['jobs']} at once | {min(res['floor']):.1f} |",
        f"| whole default run (`trialkit run --params params/default.yaml`) | {min(res['run']):.1f} |",
        f"| ratio run / floor (target ≤ {TARGET}) | **{res['ratio']:.2f}** ({verdict} the target) |",
        f"| (run − longest notebook's own cell time) / floor: all but the analyses' critical path | "
        f"{res['overhead_ratio']:.2f} |",
        "",
        f"Reading: a run cannot finish before its longest notebook has computed; here that notebook's own "
        f"cells take {res['longest'][1]:.1f} s ({res['longest'][0]}), {res['longest'][1] / min(res['floor']):.1f} × "
        f"the floor by itself, so the ratio measures the analyses as much as the runner. The runner's own "
        f"share — kernel start-up and imports, simulating the data once, papermill/nbconvert, HTML, the "
        f"identifier check, index and manifest — is the run minus that notebook: "
        f"{res['overhead_ratio'] * min(res['floor']):.1f} s = {res['overhead_ratio']:.2f} × the floor.",
        "",
        f"Per-notebook cell execution in the best run (manifest.json; kernel start-up and imports "
        f"excluded, they overlap the preparation): {per}.",
        "Where the best run's wall time went: " + ", ".join(f"{k} {v:.1f} s" for k, v in res["phases"].items()) + ".",
        "All timings: " + ", ".join(f"floor {f:.1f} / run {r:.1f}" for f, r in zip(res["floor"], res["run"])) + ".",
        "Regenerate: `.venv/bin/python benchmarks/bench_run.py --record`.",
        END,
    ])


def record(md: str) -> None:
    text = README.read_text(encoding="utf-8") if README.is_file() else "# Benchmarks\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        text = head + md + tail
    else:
        text = text.rstrip("\n") + "\n\n" + md + "\n"
    README.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--floor-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--record", action="store_true", help="write the result into benchmarks/README.md")
    args = ap.parse_args(argv)
    if args.floor_only:
        floor_only(args.jobs)
        return 0
    res = measure(args.jobs, args.repeat)
    md = report_md(res)
    print(md)
    if args.record:
        record(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
