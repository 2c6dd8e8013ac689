"""Incremental re-runs: cold vs warm (nothing changed) vs one notebook edited (target: warm <= 10% of cold).

Three ``trialkit run --params params/default.yaml --out <tmp> --jobs N`` processes into the same
report folder, each timed from launch to exit:

1. cold: ``--force`` (every notebook executed);
2. warm: nothing changed (every notebook reused; the report republished: numbered, checked for
   subject identifiers, index and manifest written, swapped in atomically);
3. one notebook changed: a copy of ``notebooks/`` whose ``02_safety.ipynb`` gained one markdown
   cell (only that notebook re-executes).

The warm report is checked to be byte-identical to the cold one (every file but ``manifest.json``).

Usage::

    .venv/bin/python benchmarks/bench_incremental.py [--jobs N] [--record]

``--record`` rewrites this benchmark's section of ``benchmarks/README.md`` (other sections kept).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "benchmarks" / "README.md"
START, END = "<!-- bench_incremental:start -->", "<!-- bench_incremental:end -->"
TARGET = 0.10
EDITED = "02_safety"


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def _run(params: Path, out: Path, jobs: int, *extra: str) -> tuple[float, dict]:
    trialkit = Path(sys.executable).with_name("trialkit")
    t0 = time.perf_counter()
    subprocess.run([str(trialkit), "run", "--params", str(params), "--out", str(out), "--jobs", str(jobs), *extra],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - t0
    return seconds, json.loads((out / "manifest.json").read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    try:
        nbs = tmp / "notebooks"
        shutil.copytree(ROOT / "notebooks", nbs)
        params = yaml.safe_load((ROOT / "params" / "default.yaml").read_text())
        params["notebooks"] = str(nbs)
        pfile = tmp / "params.yaml"
        pfile.write_text(yaml.safe_dump(params))
        out = tmp / "report"
        load0 = os.getloadavg()[0]
        cold, m_cold = _run(pfile, out, args.jobs, "--force")
        cold_files = _digest(out)
        warm, m_warm = _run(pfile, out, args.jobs)
        identical = _digest(out) == cold_files
        path = nbs / f"{EDITED}.ipynb"
        nb = json.loads(path.read_text())
        nb["cells"].append({"cell_type": "markdown", "id": "bench-added", "metadata": {}, "source": "Edited."})
        path.write_text(json.dumps(nb, indent=1))
        one, m_one = _run(pfile, out, args.jobs)
        load1 = os.getloadavg()[0]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def statuses(m: dict) -> str:
        return ", ".join(f"{n['name']} {n['status']}" for n in m["notebooks"])

    ratio = warm / cold
    lines = [
        START,
        "## Incremental re-run: cold vs warm vs one notebook edited (`bench_incremental.py`)",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"`--jobs {args.jobs}`; default parameters; 1-minute load average {load0:.1f} before, {load1:.1f} after "
        "(other processes share the cores). Each run is one `trialkit run` process, launch to exit, into the same "
        "report folder.",
        "",
        "| run | wall time (s) | notebooks |",
        "|---|---|---|",
        f"| cold (`--force`) | {cold:.1f} | {statuses(m_cold)} |",
        f"| warm (nothing changed) | {warm:.1f} | {statuses(m_warm)} |",
        f"| one notebook edited ({EDITED}) | {one:.1f} | {statuses(m_one)} |",
        f"| ratio warm / cold (target ≤ {TARGET:.2f}) | **{ratio:.3f}** "
        f"({'meets' if ratio <= TARGET else 'misses'} the target) | |",
        "",
        f"The warm run republished a report byte-identical to the cold one (every file but manifest.json): "
        f"{'yes' if identical else 'NO'}.",
        "Regenerate: `.venv/bin/python benchmarks/bench_incremental.py --record`.",
        END,
    ]
    text = "\n".join(lines)
    print(text)
    if args.record:
        readme = README.read_text(encoding="utf-8")
        if START in readme:
            readme = readme[:readme.index(START)] + text + readme[readme.index(END) + len(END):]
        else:
            readme = readme.rstrip("\n") + "\n\n" + text + "\n"
        README.write_text(readme, encoding="utf-8")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
