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
#: What a user of the trial sets (docs: notebook_parameters): the PBC trial's yearly landmarks (its lab
#: lists are the study file's `analysis:`).
EXTRA = {"pbc": {"03_efficacy": {"landmark_weeks": [52, 260, 520]}}}
#: lifelines' Cox fit run to convergence: its default stopping rule leaves the PBC trial's nearly null
#: hazard ratio 4e-5 short (1.01447 vs 1.01451, R coxph and the kit).
CONVERGED = {"precision": 1e-9}
NOTEBOOKS = ["01_exploratory", "02_safety", "03_efficacy", "04_predictive", "05_design_simulation"]


@pytest.fixture(scope="module", params=realdata.TRIALS)
def report(request, tmp_path_factory):
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    nb_params = {nb: {**FAST.get(nb, {}), **EXTRA.get(name, {}).get(nb, {})} for nb in {*FAST, *EXTRA.get(name, {})}}
    params = realdata.write_trial(name, folder, alpha=ALPHA.get(name, 0.05), notebook_parameters=nb_params)
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
    # every notebook ran: a headline is shown or, when the data lack it (no infusions, no adverse events), left out
    assert "Not produced in this run" not in index


def test_no_default_trial_words_in_the_report(report):
    _, out, _ = report
    hits = realdata.default_trial_words(out, realdata.own_words((out / "study.yaml").read_text(encoding="utf-8")))
    assert not hits, "\n".join(f"{f}: {w!r} in …{ctx}…" for f, w, ctx in hits[:20])


def test_no_path_of_the_machine_in_the_report(report):
    """The dataset was given as an absolute path: the report names its folder, never the path (the
    archive refuses a report with machine paths)."""
    _, out, data = report
    for name, text in realdata.report_text(out).items():
        assert str(data.parent) not in text, name


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
    of the saved CSV tables (6 significant digits)."""
    name, out, data = report
    study = load_study(data / "study.yaml")
    d = _lifelines_data(name, data)
    tables = out / "tables"
    lr = pd.read_csv(tables / "efficacy_logrank.csv")
    p = lr.loc[lr["comparison"] == "global", "p_value"].iloc[0]
    assert p == pytest.approx(multivariate_logrank_test(d["time"], d["arm"], d["event"]).p_value, abs=1e-6)

    active = [a for a in study.arm_ids if a != study.control_arm]
    x = pd.DataFrame({a: (d["arm"] == a).astype(int) for a in active}).assign(time=d["time"], event=d["event"])
    cph = CoxPHFitter().fit(x, "time", "event", fit_options=CONVERGED)
    cox = pd.read_csv(tables / "efficacy_cox_arm.csv").set_index("term")
    for a in active:
        assert cox.loc[a, "estimate"] == pytest.approx(float(np.exp(cph.params_[a])), rel=5e-6, abs=1e-6)

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
    if name == "pbc":
        # Dickson et al. (N Engl J Med 1985) and Fleming & Harrington (1991): no significant effect of
        # D-penicillamine on survival; the report's Cox HR is 1.01 (95% CI 0.72 to 1.43), log-rank p 0.93.
        cox = pd.read_csv(out / "tables" / "efficacy_cox_arm.csv").iloc[0]
        lr = pd.read_csv(out / "tables" / "efficacy_logrank.csv")
        assert cox["ci_low"] < 1 < cox["ci_high"] and cox["p_value"] > 0.5
        assert lr.loc[lr["comparison"] == "global", "p_value"].iloc[0] > 0.5
        return
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
    if not study.parameters:
        assert not (out / "tables" / "efficacy_mmrm_fits.csv").exists()


# --- The Mayo Clinic PBC trial against R -------------------------------------------------------------
#: R survival on the same data (tests/reference/pbc.R, output in pbc_output.txt): quantity -> arm -> value.
R_PBC = (pd.read_csv(Path(__file__).parent / "reference" / "pbc_expected.csv", keep_default_na=False)
         .groupby("quantity").apply(lambda g: dict(zip(g["arm"], g["value"])), include_groups=False).to_dict())
YEAR = 365.25


def _pbc_tte():
    """The converted PBC trial, loaded and validated as a user's dataset, and its primary-endpoint
    time-to-event data (death; transplant censors; censored at 10 years)."""
    import trialkit
    from trialkit.derive.tte import time_to_event

    tables, study = realdata.pbc_trial()
    trial = trialkit.data.load.build_trial(tables, trialkit.study.study_from_dict(study))
    return trial, time_to_event(trial, endpoint="primary")


def test_pbc_survival_against_R():
    """Log-rank, Cox (Efron) and Kaplan-Meier at 5 and 10 years with log(-log) intervals, per arm, equal
    R survival (survdiff, coxph, survfit conf.type = "log-log") to 1e-6. Published result: no significant
    effect of D-penicillamine (Dickson et al. 1985; Fleming & Harrington 1991)."""
    from trialkit.stats.survival import cox_arm, logrank, survival_at

    trial, tte = _pbc_tte()
    assert trial.arm_sizes().to_dict() == {"placebo": 154, "dpca": 158} and int(tte["event"].sum()) == 131
    lr = logrank(tte, groups=["placebo", "dpca"]).set_index("comparison")
    assert lr.loc["global", "statistic"] == pytest.approx(R_PBC["logrank_chisq"][""], abs=1e-6)
    assert lr.loc["global", "p_value"] == pytest.approx(R_PBC["logrank_p"][""], abs=1e-6)
    fit = cox_arm(tte, trial.study)
    row = fit.table.set_index("term").loc["dpca"]
    for col, q in (("coef", "cox_coef"), ("estimate", "cox_hr"), ("se", "cox_se"), ("ci_low", "cox_hr_ci_low"),
                   ("ci_high", "cox_hr_ci_high"), ("p_value", "cox_wald_p")):
        assert row[col] == pytest.approx(R_PBC[q]["dpca"], abs=1e-6), col
    assert fit.lr_test()["statistic"] == pytest.approx(R_PBC["cox_lr_chisq"][""], abs=1e-6)
    km = survival_at(tte, [5 * YEAR, 10 * YEAR]).set_index(["group", "time"])
    for arm in ("placebo", "dpca"):
        for y in (5, 10):
            for col, suffix in (("survival", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
                assert km.loc[(arm, y * YEAR), col] == pytest.approx(R_PBC[f"km_{y}y{suffix}"][arm], abs=1e-6)


def test_pbc_survival_against_lifelines():
    """The same numbers from lifelines' own fitters on the raw exported file (not the kit's conversion):
    KaplanMeierFitter at 5 and 10 years per arm, CoxPHFitter HR of D-penicillamine vs placebo."""
    from trialkit.stats.survival import cox_arm, survival_at

    raw = pd.read_csv(realdata.DATA / "pbcseq.csv").drop_duplicates("id")
    event = ((raw["status"] == 2) & (raw["futime"] <= 10 * YEAR)).astype(int)
    d = pd.DataFrame({"time": np.where(event == 1, raw["futime"], np.minimum(raw["futime"], 10 * YEAR)),
                      "event": event, "dpca": raw["trt"].to_numpy()})
    trial, tte = _pbc_tte()
    km = survival_at(tte, [5 * YEAR, 10 * YEAR]).set_index(["group", "time"])
    for arm, code in (("placebo", 0), ("dpca", 1)):
        sub = d[d["dpca"] == code]
        kmf = KaplanMeierFitter().fit(sub["time"], sub["event"])
        for y in (5, 10):
            expected = float(kmf.survival_function_at_times(y * YEAR).iloc[0])
            assert km.loc[(arm, y * YEAR), "survival"] == pytest.approx(expected, abs=1e-9)
    cph = CoxPHFitter().fit(d, "time", "event", fit_options=CONVERGED)
    hr = cox_arm(tte, trial.study).table.set_index("term").loc["dpca", "estimate"]
    assert hr == pytest.approx(float(np.exp(cph.params_["dpca"])), abs=1e-6)


def test_report_against_R(report):
    """The published PBC report's tables carry R's numbers (to their 6 significant digits), and its
    study.yaml keeps the value decision without the subject id."""
    name, out, _ = report
    if name != "pbc":
        assert name in realdata.TRIALS  # R references exist for the PBC trial (the others: lifelines)
        return
    tables = out / "tables"
    lr = pd.read_csv(tables / "efficacy_logrank.csv").set_index("comparison")
    assert lr.loc["global", "p_value"] == pytest.approx(R_PBC["logrank_p"][""], rel=5e-6)
    cox = pd.read_csv(tables / "efficacy_cox_arm.csv").set_index("term").loc["dpca"]
    for col, q in (("estimate", "cox_hr"), ("ci_low", "cox_hr_ci_low"), ("ci_high", "cox_hr_ci_high")):
        assert cox[col] == pytest.approx(R_PBC[q]["dpca"], rel=5e-6), col
    km = pd.read_csv(tables / "efficacy_survival_at_horizon.csv").set_index("group")
    for arm in ("placebo", "dpca"):
        assert km.loc[arm, "time"] == 10 * YEAR
        for col, suffix in (("survival", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
            assert km.loc[arm, col] == pytest.approx(R_PBC[f"km_10y{suffix}"][arm], rel=5e-6)
    study = (out / "study.yaml").read_text(encoding="utf-8")
    assert "subject_id: withheld" in study and "PBC150" not in study
    # the report says what the study file excluded (01, after the trial context), without the subject id
    assert "The study file excludes one Albumin value (day 188)" in realdata.report_text(out)["01_exploratory.ipynb"]
