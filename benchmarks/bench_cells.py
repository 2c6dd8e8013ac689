"""Memory and time of each code cell of a notebook, run as a report kernel runs it (issue 12's memory work).

Run as a script (not collected by pytest; minutes at 100,000 subjects)::

    .venv/bin/python benchmarks/bench_cells.py --dataset DIR [--handoff DIR] NOTEBOOK [NOTEBOOK ...]

The dataset is validated once and written as the report runner's hand-off (:mod:`trialkit.data.handoff`)
into ``--handoff`` (reused when that folder already holds one for this dataset, else a temporary folder);
each notebook is then executed alone by papermill with ``dataset`` set to ``DIR`` and the runner's
environment variable naming the hand-off, so its ``trialkit.load`` reads the validated tables as in
``trialkit run``. The resident set size of the kernel process is sampled every 0.1 s (psutil); papermill's
per-cell start and end times give, for every code cell, its wall time, the kernel's peak RSS during the
cell and its RSS when the cell ended. The table is printed in Markdown.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_handoff(dataset: Path, folder: Path) -> Path:
    """A hand-off folder of ``dataset``: ``folder`` if it holds an intact one, else written there."""
    from trialkit.data.handoff import read_validated, write_validated
    from trialkit.data.load import load
    from trialkit.study import default_study_path

    study = dataset / "study.yaml" if (dataset / "study.yaml").is_file() else default_study_path()
    if folder.exists() and read_validated(folder, study, dataset=dataset) is not None:
        return folder
    t0 = time.perf_counter()
    write_validated(load(dataset, study), folder, study_file=study, dataset=dataset)
    print(f"validated {dataset} into {folder} in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder


def profile(notebook: Path, dataset: Path, handoff: Path, work: Path, interval: float = 0.1) -> list[dict]:
    """Execute ``notebook`` on ``dataset`` through ``handoff``; one dict per executed code cell."""
    import nbformat
    import psutil

    out = work / notebook.name
    env = dict(os.environ, TRIALKIT_VALIDATED=str(handoff))
    cmd = [sys.executable, "-m", "papermill", str(notebook), str(out), "-p", "dataset", str(dataset),
           "--cwd", str(work), "--log-level", "WARNING", "--no-progress-bar"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    samples: list[tuple[float, float]] = []   # (time, largest child RSS in MB)

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            rss = 0.0
            try:
                for child in root.children(recursive=True):
                    try:
                        rss = max(rss, child.memory_info().rss / 2**20)
                    except psutil.Error:
                        continue
            except psutil.Error:
                break
            samples.append((time.time(), rss))
            time.sleep(interval)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    proc.wait()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"{notebook.name}: papermill exited {proc.returncode}")
    rows = []
    for i, cell in enumerate(nbformat.read(out, as_version=4).cells):
        meta = cell.metadata.get("papermill", {})
        if cell.cell_type != "code" or not meta.get("start_time") or not meta.get("end_time"):
            continue
        a, b = (_dt.datetime.fromisoformat(meta[k].replace("Z", "+00:00")).timestamp()
                for k in ("start_time", "end_time"))
        inside = [r for s, r in samples if a <= s <= b + interval]
        first = next((ln for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")), "")
        rows.append({"cell": i, "seconds": b - a, "peak_mb": max(inside, default=float("nan")),
                     "end_mb": inside[-1] if inside else float("nan"), "code": first[:70]})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--dataset", required=True, type=Path)
    ap.add_argument("--handoff", type=Path, help="hand-off folder (written unless it holds this dataset's)")
    args = ap.parse_args(argv)
    dataset = args.dataset.resolve()
    with tempfile.TemporaryDirectory(prefix="bench_cells_") as tmp:
        handoff = ensure_handoff(dataset, (args.handoff or Path(tmp) / "handoff").resolve())
        for nb in args.notebooks:
            rows = profile(nb.resolve(), dataset, handoff, Path(tmp))
            print(f"\n{nb.name} on {dataset.name} (kernel RSS sampled every 0.1 s; peak {max(r['peak_mb'] for r in rows):,.0f} MB)\n")
            print("| cell | first line | s | peak MB | end MB |\n|---|---|---|---|---|")
            for r in rows:
                print(f"| {r['cell']} | `{r['code']}` | {r['seconds']:.1f} | {r['peak_mb']:,.0f} | {r['end_mb']:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
