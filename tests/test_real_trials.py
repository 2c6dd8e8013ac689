"""Real trials in, an honest report out: every notebook run through ``trialkit run`` on three real
randomized trials shipped with lifelines and two synthetic designs (tests/realdata.py), with the key
numbers checked against lifelines' own fitters and the published results, and the published prose
checked for the default trial's words and for interval labels that match ``alpha``.

One report per trial (module-scoped, run once); notebook parameters keep the runs short.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import realdata
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import multivariate_logrank_test

from trialkit.report.narrate import level_pct
from trialkit.study import load_study

TRIALKIT = str(Path(sys.executable).parent / "trialkit")
FAST = {"04_predictive": {"n_splits": 3, "n_repeats": 1, "inner_splits": 2},
        "05_design_simulation": {"n_trials": 40, "curve_trials": 10}}
ALPHA = {"leukemia": 0.01}  # one trial at alpha = 0.01: every interval must say 99%
NOTEBOOKS = ["01_exploratory", "02_safety", "03_efficacy", "04_predictive", "05_design_simulation"]


@pytest.fixture(scope="module", params=realdata.TRIALS)
def report(request, tmp_path_factory):
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    params = realdata.write_trial(name, folder, alpha=ALPHA.get(name, 0.05), notebook_parameters=FAST)
    run = subprocess.run([TRIALKIT, "run", "--params", str(params), "--jobs", "2"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return name, folder / "outputs" / name, folder / "data"


def test_every_notebook_and_the_index_are_published(report):
    name, out, _ = report
    assert (out / "index.html").is_file()
    for nb in NOTEBOOKS:
        assert (out / f"{nb}.html").is_file() and (out / f"{nb}.ipynb").is_file(), nb
    index = (out / "index.html").read_text(encoding="utf-8")
    endpoint = load_study(out / "study.yaml").primary_endpoint.name
    assert f"{endpoint} at the primary horizon" in index
    assert "Transplant-free" not in index


def test_no_default_trial_words_in_the_report(report):
    _, out, _ = report
    hits = realdata.default_trial_words(out)
    assert not hits, "\n".join(f"{f}: {w!r} in …{ctx}…" for f, w, ctx in hits[:20])


def test_every_interval_label_matches_alpha(report):
    name, out, _ = report
    level = level_pct(ALPHA.get(name, 0.05))
    labels = set()
    for text in realdata.report_text(out).values():
        labels |= {m.group(1) + "%" for m in re.finditer(
            r"(\d+(?:\.\d+)?)%\s+(?:CI|confidence|Monte Carlo|pointwise|interval)", text)}
    assert labels <= {level}, f"interval labels {sorted(labels)}; alpha gives {level}"
    assert labels, "the report states no interval level at all"


def _lifelines_data(name: str, data: Path) -> pd.DataFrame:
    """time/event/arm straight from the converted files, censored at the primary horizon."""
    study = load_study(data / "study.yaml")
    ev = pd.read_csv(data / "events.csv")
    subjects = pd.read_csv(data / "subjects.csv")
    ep = study.primary_endpoint
    first = ev[ev["event"].isin(ep.events)].groupby("subject_id")["day"].min()
    end = ev[ev["event"] == "last_contact"].groupby("subject_id")["day"].max()
    d = subjects[["subject_id", "arm"]].copy()
    d["t_event"] = d["subject_id"].map(first)
    d["t_end"] = d["subject_id"].map(end)
    h = float(study.horizons["primary"])
    d["event"] = (d["t_event"].notna() & (d["t_event"] <= h)).astype(int)
    d["time"] = np.where(d["event"] == 1, d["t_event"], np.minimum(d["t_end"], h))
    return d


def test_survival_numbers_match_lifelines(report):
    """KM survival at the horizon, the global log-rank p and the arm-vs-control Cox HRs of the report
    equal lifelines' KaplanMeierFitter, multivariate_logrank_test and CoxPHFitter (Efron) to the precision
    of the saved CSV tables (6 decimals)."""
    name, out, data = report
    study = load_study(data / "study.yaml")
    d = _lifelines_data(name, data)
    tables = out / "tables"
    lr = pd.read_csv(tables / "efficacy_logrank.csv")
    p = lr.loc[lr["comparison"] == "global", "p_value"].iloc[0]
    assert p == pytest.approx(multivariate_logrank_test(d["time"], d["arm"], d["event"]).p_value, abs=1e-6)

    active = [a for a in study.arm_ids if a != study.control_arm]
    x = pd.DataFrame({a: (d["arm"] == a).astype(int) for a in active}).assign(time=d["time"], event=d["event"])
    cph = CoxPHFitter().fit(x, "time", "event")
    cox = pd.read_csv(tables / "efficacy_cox_arm.csv").set_index("term")
    for a in active:
        assert cox.loc[a, "estimate"] == pytest.approx(float(np.exp(cph.params_[a])), abs=1e-6)

    km = pd.read_csv(tables / "efficacy_survival_at_horizon.csv").set_index("group")
    h = float(study.horizons["primary"])
    for a in study.arm_ids:
        sub = d[d["arm"] == a]
        kmf = KaplanMeierFitter().fit(sub["time"], sub["event"])
        assert km.loc[a, "survival"] == pytest.approx(float(kmf.survival_function_at_times(h).iloc[0]), abs=1e-6)


#: Published results: GBSG-2 hormonal therapy HR 0.69 (Schumacher et al. 1994; R
#: coxph(Surv(time, cens) ~ horTh, TH.data::GBSG2) gives 0.695); Freireich 6-MP vs placebo: Cox (1972)
#: and R coxph on MASS::gehan give a coefficient of 1.57 for placebo (HR 6-MP vs placebo 0.21);
#: Rossi et al. financial aid HR 0.69 unadjusted (Fox & Weisberg, Cox appendix).
PUBLISHED_HR = {"gbsg2": (0.695, 0.005), "leukemia": (0.208, 0.005), "rossi": (0.69, 0.01)}


def test_published_hazard_ratios(report):
    name, out, _ = report
    if name not in PUBLISHED_HR:
        assert name in ("minimal", "three_arm")  # synthetic trials: no publication to compare with
        return
    value, tol = PUBLISHED_HR[name]
    cox = pd.read_csv(out / "tables" / "efficacy_cox_arm.csv")
    assert cox["estimate"].iloc[0] == pytest.approx(value, abs=tol)


def test_design_simulation_uses_the_trials_own_design(report):
    """Notebook 05 on real data simulates the study's arms and sizes from the observed control arm."""
    name, out, data = report
    text = realdata.report_text(out)["05_design_simulation.ipynb"]
    assert "Scenario built from the observed data" in text
    sizes = pd.read_csv(data / "subjects.csv")["arm"].value_counts()
    assert ", ".join(f"{a} {sizes[a]}" for a in load_study(data / "study.yaml").arm_ids) in text
    power = pd.read_csv(out / "tables" / "design_power.csv")
    assert "global" in set(power["comparison"])
    null = power[(power["hr"] == 1.0) & (power["comparison"] == "global")]
    assert float(null["estimate"].iloc[0]) < 0.25  # a type I error rate, not power


def test_variable_lists_follow_the_trials_study_file(report):
    """The subgroups are the study file's `subgroups:` that the data have (none declared: the section is
    skipped with one sentence); no lab list of the default trial is analysed (these trials declare no labs)."""
    name, out, data = report
    study = load_study(data / "study.yaml")
    text = realdata.report_text(out)["03_efficacy.ipynb"]
    saved = out / "tables" / "efficacy_subgroups.csv"
    if study.subgroups:
        assert list(pd.read_csv(saved)["variable"].drop_duplicates()) == list(study.subgroups)
    else:
        assert not saved.exists()
        assert "Skipped: the subgroup analysis, because the study file declares no subgroup variable" in text
    assert not (out / "tables" / "efficacy_mmrm_fits.csv").exists() and not study.parameters
