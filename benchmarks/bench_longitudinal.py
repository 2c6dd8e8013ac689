"""Speed of the repeated-measures analyses before and after issue 16's speed-up, side by side.

Run as a script::

    .venv/bin/python benchmarks/bench_longitudinal.py [--baseline 267358c] [--rounds 2] [--notebook]
                                                      [--record]

The baseline is a commit of this repository (default: the last commit before the speed-up of
``trialkit/stats/longitudinal.py``), exported with ``git archive`` to a temporary folder. Each
measurement runs in a fresh Python process, alternately in the baseline tree and in this checkout
(``--rounds`` times each, baseline first), so that both see the same load on a shared machine:

1. ``analyze_parameters``: the default trial (``simulate(seed=1)``), TBIL (log) and ALB, change to
   the secondary horizon, as notebook 05's lab check calls it (unstructured covariance, survivors)
   and as the efficacy notebook's default (random intercept, all subjects); CPU seconds per call,
   best of 5 after a warm-up call; also the fit alone and ``lsmeans`` + ``contrasts`` alone
   (unstructured, TBIL).
2. **Notebook 05's lab check**: ``run_replicates`` with the notebook's default parameters
   (``lab_trials`` trials, ``lab_parameters``, one process); wall and CPU seconds. The two versions'
   result tables are compared (largest absolute difference, any numeric column).
3. ``--notebook``: **notebook 05's code cells** executed one after the other in one process
   (``display`` a no-op, Agg backend, nothing saved); wall and CPU seconds, and whether the two
   versions printed the same text.

``--record`` rewrites this benchmark's section of ``benchmarks/README.md`` (other sections kept).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- bench_longitudinal:start -->", "<!-- bench_longitudinal:end -->"
BASELINE = "267358c"  # main before the speed-up of trialkit/stats/longitudinal.py (issue 16)


# ------------------------------------------------------------------------------------------------
# measurements (run in a child process whose working directory is the tree being measured)
# ------------------------------------------------------------------------------------------------
def _notebook() -> dict:
    nb = json.loads((Path.cwd() / "notebooks" / "05_design_simulation.ipynb").read_text(encoding="utf-8"))
    return nb


def notebook_parameters() -> dict:
    cell = next(c for c in _notebook()["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    params: dict = {}
    exec("".join(cell["source"]), {}, params)  # plain assignments of literals
    return params


def measure_ap() -> dict:
    from trialkit.derive.change import change_from_baseline
    from trialkit.simulate import simulate
    from trialkit.stats import longitudinal as L

    trial = simulate(seed=1)
    study = trial.study
    ch = change_from_baseline(trial, ["TBIL", "ALB"], horizon="secondary", log=["TBIL"])
    tb = ch[(ch["parameter"] == "TBIL") & ch["survivor"].astype(bool)]

    def cpu(f, n=5):
        f()
        best = float("inf")
        for _ in range(n):
            c = time.process_time()
            f()
            best = min(best, time.process_time() - c)
        return best

    fit = L.fit_mmrm(tb, study=study, covariance="unstructured")
    return {
        "analyze_parameters, unstructured, survivors (lab check)": cpu(lambda: L.analyze_parameters(
            ch, study, ["TBIL", "ALB"], covariance="unstructured", population="survivors")),
        "analyze_parameters, random intercept, all": cpu(lambda: L.analyze_parameters(
            ch, study, ["TBIL", "ALB"], covariance="random_intercept", population="all")),
        "fit_mmrm, unstructured (TBIL)": cpu(lambda: L.fit_mmrm(tb, study=study, covariance="unstructured")),
        "lsmeans + contrasts (TBIL)": cpu(lambda: (L.lsmeans(fit), L.contrasts(fit))),
    }


def measure_lab(out: str) -> dict:
    import warnings

    from trialkit.design import power as dp
    from trialkit.simulate import load_scenario
    from trialkit.study import load_study

    p = notebook_parameters()
    design, sc = load_study(), load_scenario(p["scenario"])
    warnings.simplefilter("ignore")
    w, c = time.perf_counter(), time.process_time()
    res = dp.run_replicates(sc, study=design, n_trials=p["lab_trials"], seed=p["design_seed"], alpha=p["alpha"],
                            analyses=("labs",), labs=p["lab_parameters"] or design.analysis["simulation"],
                            n_jobs=1)
    r = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
    res.to_pickle(out)
    return r


def measure_notebook() -> dict:
    import hashlib

    cells = [c for c in _notebook()["cells"] if c["cell_type"] == "code"]
    ns: dict = {"display": lambda *a, **k: None}
    buf = io.StringIO()
    w, c = time.perf_counter(), time.process_time()
    with redirect_stdout(buf):
        for cell in cells:
            exec(compile("".join(cell["source"]), "<cell>", "exec"), ns)
    r = {"wall": time.perf_counter() - w, "cpu": time.process_time() - c}
    r["stdout_sha256"] = hashlib.sha256(buf.getvalue().encode()).hexdigest()
    return r


def child(what: str, out: str) -> None:
    sys.path.insert(0, os.getcwd())
    r = {"ap": measure_ap, "lab": lambda: measure_lab(out), "notebook": measure_notebook}[what]()
    print("RESULT " + json.dumps(r))


# ------------------------------------------------------------------------------------------------
# driver
# ------------------------------------------------------------------------------------------------
def run_child(tree: Path, what: str, out: str = "") -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", what, "--out", out], cwd=tree,
                       env=env, capture_output=True, text=True, check=True)
    line = next(ln for ln in p.stdout.splitlines()[::-1] if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def load1() -> float:
    return os.getloadavg()[0]


def side_by_side(baseline: str, rounds: int, notebook: bool) -> dict:
    import numpy as np
    import pandas as pd

    res: dict = {"baseline": baseline, "rounds": rounds, "load": [round(load1(), 1)]}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "baseline"
        old.mkdir()
        arch = subprocess.run(["git", "-C", str(ROOT), "archive", baseline], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=arch, check=True)
        trees = {"before": old, "after": ROOT}
        what = ["ap", "lab"] + (["notebook"] if notebook else [])
        for w in what:
            for i in range(rounds):
                for name, tree in trees.items():
                    out = str(Path(tmp) / f"{w}_{name}_{i}.pkl")
                    res.setdefault(w, {}).setdefault(name, []).append(run_child(tree, w, out))
            res["load"].append(round(load1(), 1))
        a = pd.read_pickle(Path(tmp) / "lab_before_0.pkl")
        b = pd.read_pickle(Path(tmp) / "lab_after_0.pkl")
        num = [c for c in a.columns if a[c].dtype.kind == "f"]
        same_keys = a.drop(columns=num).astype(str).equals(b.drop(columns=num).astype(str))
        d = np.abs(a[num].to_numpy(float) - b[num].to_numpy(float))
        res["lab_max_abs_diff"] = float(np.nanmax(d)) if np.isfinite(d).any() else 0.0
        res["lab_same_keys_and_nans"] = bool(same_keys and (np.isnan(a[num].to_numpy(float))
                                                            == np.isnan(b[num].to_numpy(float))).all())
    return res


def render(r: dict) -> str:
    import statistics

    def mean(name, w, key):
        return statistics.mean(x[key] for x in r[w][name])

    lines = [f"Measured {time.strftime('%Y-%m-%d')} with `benchmarks/bench_longitudinal.py --rounds {r['rounds']}"
             f"{' --notebook' if 'notebook' in r else ''}` on {os.cpu_count()} cores, Python "
             f"{sys.version.split()[0]}; baseline: commit `{r['baseline']}` (before the speed-up) exported with "
             f"`git archive`, against this checkout, each measurement in a fresh process, alternately "
             f"(1-minute load average during the runs: {', '.join(map(str, r['load']))}; the machine is shared, "
             "compare the ratios).", "",
             "`analyze_parameters` and its parts on the default trial (`simulate(seed=1)`, TBIL log + ALB, "
             "change to the secondary horizon); CPU seconds per call, best of 5, mean over the rounds:", "",
             "| call | before | after | ratio |", "|---|---|---|---|"]
    for k in r["ap"]["before"][0]:
        b, a = mean("before", "ap", k), mean("after", "ap", k)
        lines.append(f"| {k} | {b:.3f} | {a:.3f} | {b / a:.1f}× |")
    lines += ["", "Notebook 05's lab-effect check (its default parameters; one process), mean over the rounds:", "",
              "| | before | after | ratio |", "|---|---|---|---|"]
    for key in ("wall", "cpu"):
        b, a = mean("before", "lab", key), mean("after", "lab", key)
        lines.append(f"| {key} s | {b:.2f} | {a:.2f} | {b / a:.1f}× |")
    lines += ["", f"Largest absolute difference between the two versions' lab-check tables (any numeric "
              f"column): {r['lab_max_abs_diff']:.1e}; same rows, labels and missing values: "
              f"{r['lab_same_keys_and_nans']}."]
    if "notebook" in r:
        lines += ["", "Notebook 05's code cells executed in one process (no kernel start-up), mean over the rounds:",
                  "", "| | before | after | ratio |", "|---|---|---|---|"]
        for key in ("wall", "cpu"):
            b, a = mean("before", "notebook", key), mean("after", "notebook", key)
            lines.append(f"| {key} s | {b:.2f} | {a:.2f} | {b / a:.1f}× |")
        same = len({x["stdout_sha256"] for v in r["notebook"].values() for x in v}) == 1
        lines += ["", f"Printed output identical in every run: {same}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--notebook", action="store_true")
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        child(a.child, a.out)
        return 0
    r = side_by_side(a.baseline, a.rounds, a.notebook)
    text = render(r)
    print(text)
    print(json.dumps(r, indent=1))
    if a.record:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from bench_scale import write_section

        write_section(text, START, END, "## Repeated-measures models before/after the speed-up (bench_longitudinal.py)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
