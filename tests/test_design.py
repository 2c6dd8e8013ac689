"""Design simulation (trialkit.design): replicate runner, operating characteristics, CLI.

The two statistical checks of issue 8 run here on fixed seeds: the type I error of the global
log-rank test (and the coverage of the Cox 95% CIs) over 2,000 null trials, and the coverage of the
Cox 95% CI of the UC-MSC hazard ratio over 2,000 default trials, both on the batch engine (the
runner's default; a few seconds each). The
batch engine is checked against the per-trial path (lifelines, the numpy log-rank) replicate by
replicate; larger runs are recorded in benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import run_notebook
from trialkit.design import batch as bt
from trialkit.design import power as pw
from trialkit.design import summaries as sm
from trialkit.design.cli import OUTPUT_FILES, add_power_parser
from trialkit.plots.design import plot_power_curve
from trialkit.simulate import simulate
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parent.parent


def two_arm_scenario() -> dict:
    """The inline two-arm scenario of params/two_arm.yaml (one factor, arms soc / ucmsc)."""
    return yaml.safe_load((ROOT / "params" / "two_arm.yaml").read_text(encoding="utf-8"))["scenario"]


TWO_ARM_STUDY = ROOT / "params" / "study_two_arm.yaml"


# ------------------------------------------------------------------------------------------------
# seeds, scenarios, truth
# ------------------------------------------------------------------------------------------------
def test_replicate_seeds_are_spawned_children_and_prefix_stable():
    s = pw.replicate_seeds(123, 50)
    assert len(set(s)) == 50
    assert s[:10] == pw.replicate_seeds(123, 10)
    assert pw.replicate_seeds(124, 10) != s[:10]
    child = np.random.SeedSequence(123).spawn(3)[2]
    assert s[2] == int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def test_with_effects_overrides_only_what_is_given():
    sc = pw.with_effects("default", {"msc": {"hr": 0.45}})
    assert sc.effects["msc"].hr == 0.45
    assert sc.effects["msc"].labs["TBIL"].shift == -0.15  # the factor's other effects are kept
    assert sc.effects["pe"].hr == 0.8
    truth = pw.scenario_truth(sc)
    assert truth["hazard_ratios"]["terms"]["msc"] == 0.45
    assert math.isclose(truth["hazard_ratios"]["arms_vs_control"]["pe_msc"], 0.45 * 0.8)


def test_null_scenario_has_no_effect_and_same_natural_history():
    base = pw.with_effects("default", {})
    null = pw.null_scenario("default")
    assert null.effects == {} and null.interactions == {}
    assert null.survival == base.survival and null.allocation_ratio == base.allocation_ratio
    t = pw.scenario_truth(null)
    assert set(t["hazard_ratios"]["arms_vs_control"].values()) == {1.0}


def test_fast_simulation_path_gives_the_simulators_tables_and_results():
    spec = pw.design_spec("default")
    for seed in (1, 77):
        fast = pw.simulate_replicate(spec, seed)
        full = simulate(seed=seed)
        for name in ("subjects", "events"):
            a = fast.tables()[name]
            pd.testing.assert_frame_equal(a, full.tables()[name][a.columns])
        pd.testing.assert_frame_equal(pw.analyze_trial(fast), pw.analyze_trial(full))


def test_fast_simulation_path_on_a_two_arm_study():
    spec = pw.design_spec(two_arm_scenario(), study=TWO_ARM_STUDY)
    fast = pw.simulate_replicate(spec, 5)
    full = simulate(study=TWO_ARM_STUDY, scenario=two_arm_scenario(), seed=5)
    pd.testing.assert_frame_equal(fast.events, full.events)
    pd.testing.assert_frame_equal(fast.subjects, full.subjects[["subject_id", "arm"]])


def test_lab_replicates_simulate_only_the_tables_they_read():
    """With the lab models, ``tables="auto"`` simulates subjects, events and labs only: the same rows
    as the full simulation (``tables="all"``), hence the same results."""
    auto = pw.design_spec("default", n_subjects=40, analyses=("labs",), labs=("TBIL",))
    full = pw.design_spec("default", n_subjects=40, analyses=("labs",), labs=("TBIL",), tables="all")
    a, b = pw.simulate_replicate(auto, 3), pw.simulate_replicate(full, 3)
    assert a.adverse_events is None and b.adverse_events is not None
    for name in ("subjects", "events", "labs"):
        pd.testing.assert_frame_equal(a.tables()[name], b.tables()[name])
    pd.testing.assert_frame_equal(pw.analyze_trial(a, analyses=("labs",), labs=("TBIL",)),
                                  pw.analyze_trial(b, analyses=("labs",), labs=("TBIL",)))


# ------------------------------------------------------------------------------------------------
# one trial: the efficacy notebook's functions
# ------------------------------------------------------------------------------------------------
def test_analyze_trial_calls_the_efficacy_functions():
    from trialkit.derive.tte import time_to_event
    from trialkit.stats import survival as sv

    trial = simulate(seed=11)
    res = pw.analyze_trial(trial)
    tte = time_to_event(trial, endpoint="transplant_free", horizon="primary")
    lr = sv.logrank(tte, groups=trial.study.arm_ids, control=trial.study.control_arm)
    got = res[res["analysis"] == "logrank"]
    assert got["term"].tolist() == lr["comparison"].tolist()
    np.testing.assert_array_equal(got["p_value"], lr["p_value"])
    for name, inter in (("cox_main", False), ("cox_interaction", True)):
        t = sv.cox_factorial(tte, trial.study, interaction=inter).table
        got = res[res["analysis"] == name]
        assert got["term"].tolist() == t["term"].tolist()
        np.testing.assert_array_equal(got["estimate"], t["estimate"])
        np.testing.assert_array_equal(got["ci_high"], t["ci_high"])
    cm = res[res["analysis"] == "cox_main"].set_index("term")
    assert cm.loc["msc", "truth"] == 0.6 and cm.loc["pe", "truth"] == 0.8
    assert math.isclose(cm.loc["msc", "truth_coef"], math.log(0.6))
    ci = res[res["analysis"] == "cox_interaction"].set_index("term")
    assert ci.loc["msc:pe", "truth"] == 1.0 and ci.loc["msc:pe", "null_true"] is True
    glob = res[res["term"] == "global"].iloc[0]
    assert glob["null_true"] is False and glob["df"] == 3 and glob["events"] == tte["event"].sum()


def test_analyze_trial_labs_match_the_mmrm_contrasts():
    from trialkit.derive.change import change_from_baseline
    from trialkit.stats.longitudinal import analyze_parameters

    trial = simulate(seed=3)
    res = pw.analyze_trial(trial, analyses=("labs",), labs=("TBIL", "ALB"))
    assert set(res["analysis"]) == {"labs"}
    long = change_from_baseline(trial, ["TBIL", "ALB"], horizon="secondary", log=("TBIL",))
    ct = analyze_parameters(long, trial.study, ["TBIL", "ALB"], model="arm", covariance="unstructured",
                            population="survivors")["contrasts"]
    ct = ct[ct["visit"] == "W24"]
    np.testing.assert_allclose(res["estimate"].to_numpy(float), ct["estimate"].to_numpy(float), rtol=1e-12)
    r = res.set_index("term")
    assert r.loc["TBIL[msc]", "scale"] == "log ratio" and r.loc["ALB[msc]", "scale"] == "difference"
    assert r.loc["TBIL[msc]", "truth"] == pytest.approx(-0.15)
    assert r.loc["ALB[pe_msc]", "truth"] == pytest.approx(1.5)
    assert r.loc["ALB[pe]", "null_true"] is True and r.loc["ALB[msc]", "null_true"] is False


def test_two_arm_design_runs_without_interaction_terms():
    res = pw.run_replicates(two_arm_scenario(), study=TWO_ARM_STUDY, n_trials=3, seed=2)
    study = load_study(TWO_ARM_STUDY)
    assert set(res["analysis"]) == {"logrank", "cox_main"}  # no interaction to fit
    assert set(res.loc[res["analysis"] == "logrank", "term"]) == {"global", f"ucmsc vs {study.control_arm}"}
    assert res.loc[res["analysis"] == "cox_main", "truth"].eq(0.6).all()
    assert res["n_subjects"].eq(60).all() and res["replicate"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_failed_analysis_is_recorded_not_raised(monkeypatch):
    def boom(*a, **k):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(pw, "analyze_trial", boom)
    res = pw.run_replicates("default", n_trials=2, seed=1, engine="per-trial")
    assert res["analysis"].tolist() == ["error", "error"] and res["term"].eq("LinAlgError").all()
    oc = sm.operating_characteristics(pd.concat([res, _fake_results()], ignore_index=True))
    assert oc.empty is False


# ------------------------------------------------------------------------------------------------
# the batch engine against the per-trial path
# ------------------------------------------------------------------------------------------------
def _assert_same_results(batch: pd.DataFrame, per_trial: pd.DataFrame) -> None:
    """Identical rows, labels, flags and integer columns; floats to 1e-8 (they agree to about 1e-13)."""
    pd.testing.assert_frame_equal(batch, per_trial, check_exact=False, rtol=1e-8, atol=1e-10)
    floats = [c for c in pw.RESULT_COLUMNS if batch[c].dtype.kind == "f"]
    assert (batch[floats].isna() == per_trial[floats].isna()).all().all()  # NaN exactly where it was


def test_batch_simulates_the_per_trial_data():
    from trialkit.derive.tte import time_to_event

    for spec in (pw.design_spec("default"), pw.design_spec(two_arm_scenario(), study=TWO_ARM_STUDY)):
        seeds = pw.replicate_seeds(3, 4)
        sv = bt.simulate_replicates(spec, seeds)
        for r, seed in enumerate(seeds):
            tte = time_to_event(simulate(study=spec.study, scenario=spec.scenario, seed=seed))
            assert [spec.study.arm_ids[a] for a in sv.arm[r]] == tte["arm"].tolist()
            np.testing.assert_array_equal(sv.time[r], tte["time"].to_numpy())
            np.testing.assert_array_equal(sv.event[r], tte["event"].to_numpy() == 1)


def test_batch_engine_equals_the_per_trial_path_replicate_by_replicate():
    batch = pw.run_replicates("default", n_trials=40, seed=21, engine="batch")
    per_trial = pw.run_replicates("default", n_trials=40, seed=21, engine="per-trial")
    assert set(batch["analysis"]) == {"logrank", "cox_main", "cox_interaction"} and batch["coef"].notna().sum() == 200
    _assert_same_results(batch, per_trial)
    two = {"scenario": two_arm_scenario(), "study": TWO_ARM_STUDY, "n_trials": 10, "seed": 2}
    _assert_same_results(pw.run_replicates(**two, engine="batch"), pw.run_replicates(**two, engine="per-trial"))


def test_batch_flags_non_estimable_replicates_exactly_as_today():
    """16 subjects (4 per arm): arms without events, i.e. monotone likelihoods, are common."""
    spec = pw.design_spec("default", n_subjects=16)
    seeds = pw.replicate_seeds(2, 30)
    _, redo = bt.analyze_replicates(spec, range(30), seeds)
    assert 3 <= redo.sum() < 30  # flagged: handed to the per-trial path
    batch = pw.run_replicates("default", n_trials=30, n_subjects=16, seed=2)
    per_trial = pw.run_replicates("default", n_trials=30, n_subjects=16, seed=2, engine="per-trial")
    cox = batch[batch["analysis"].str.startswith("cox")]
    assert cox["coef"].isna().sum() >= 3  # "not estimable" terms: NaN, as the per-trial path reports them
    _assert_same_results(batch, per_trial)


def test_batch_fallback_records_a_failed_analysis(monkeypatch):
    """A flagged replicate goes through analyze_trial; if that fails, the replicate is an error row."""
    def boom(*a, **k):
        raise np.linalg.LinAlgError("singular")

    monkeypatch.setattr(pw, "analyze_trial", boom)
    spec = pw.design_spec("default", n_subjects=16)
    seeds = pw.replicate_seeds(2, 12)
    _, redo = bt.analyze_replicates(spec, range(12), seeds)
    res = pw.run_replicates("default", n_trials=12, n_subjects=16, seed=2)
    errors = res.loc[res["analysis"] == "error", "replicate"].tolist()
    assert errors == np.flatnonzero(redo).tolist() and 0 < len(errors) < 12
    assert res["replicate"].is_monotonic_increasing


def test_batch_statistics_on_tied_data_equal_lifelines_and_the_numpy_logrank():
    """Heavy ties (times in weeks), three arms, one factor-coded Cox model: every replicate."""
    from trialkit.stats import survival as sv

    rng = np.random.default_rng(5)
    r, n = 25, 45
    arm = np.tile(np.repeat([0, 1, 2], 15), (r, 1))
    time = np.ceil(rng.exponential(20 / np.array([1.0, 0.6, 1.4])[arm]) / 7) * 7
    event = rng.random((r, n)) < 0.7
    time = np.minimum(time, 70.0)
    event &= time < 70.0
    s = bt.sort_replicates(bt.SurvivalReplicates(arm=arm, time=time, event=event))
    design = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    fit = bt.cox_replicates(s, design)
    lr = bt.logrank_replicates(s, k=3, control=0)
    assert fit.ok.all()
    for i in range(r):
        d = pd.DataFrame({"arm": np.array(["c", "a", "b"])[arm[i]], "time": time[i], "event": event[i].astype(int)})
        d["a"], d["b"] = (d["arm"] == "a").astype(float), (d["arm"] == "b").astype(float)
        ref = sv.cox_model(d, ["a", "b"]).table
        np.testing.assert_allclose(fit.coef[i], ref["coef"], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(fit.se[i], ref["se"], rtol=1e-8, atol=1e-12)
        lrt = sv.logrank(d, groups=["c", "a", "b"])
        np.testing.assert_allclose([lr["global"][i], *lr["pairwise"][i]], lrt["statistic"], rtol=1e-8, atol=1e-12)
        assert [int(d["event"].sum()), *lr["pair_events"][i]] == lrt["events"].tolist()


def test_engine_choice():
    assert pw._engine(pw.design_spec("default"), "auto") == "batch"
    assert pw._engine(pw.design_spec("default", analyses=("labs",)), "auto") == "per-trial"
    with pytest.raises(ValueError, match="engine 'batch' runs the survival analyses only"):
        pw.run_replicates("default", n_trials=1, analyses=("labs",), engine="batch")
    with pytest.raises(ValueError, match="expected one of"):
        pw.run_replicates("default", n_trials=1, engine="fast")


# ------------------------------------------------------------------------------------------------
# reproducibility across workers and schedulers
# ------------------------------------------------------------------------------------------------
def test_same_results_with_one_or_two_workers_and_by_chunk():
    a = pw.run_replicates("default", n_trials=30, seed=9, n_jobs=1)
    for kw in ({"n_jobs": 2, "chunk_size": 7}, {"chunk_size": 1}):
        pd.testing.assert_frame_equal(a, pw.run_replicates("default", n_trials=30, seed=9, **kw), check_exact=True)
    c = pw.run_replicates("default", n_trials=4, seed=9, start=26)  # extending a run
    pd.testing.assert_frame_equal(a[a["replicate"] >= 26].reset_index(drop=True), c, check_exact=True)
    p1 = pw.run_replicates("default", n_trials=4, seed=9, engine="per-trial")
    p2 = pw.run_replicates("default", n_trials=4, seed=9, engine="per-trial", n_jobs=2, chunk_size=3)
    pd.testing.assert_frame_equal(p1, p2, check_exact=True)


@pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0")  # lifelines, in dask's worker threads
def test_dask_local_cluster_gives_the_joblib_tables():
    """A scheduler and two workers on 127.0.0.1 (TCP), started and shut down here: the replicate
    results and the operating-characteristics tables are identical to the joblib (loky) run."""
    from distributed import Client, LocalCluster

    kw = {"n_trials": 40, "seed": 4, "chunk_size": 6}
    ref = pw.run_replicates("default", n_jobs=2, **kw)
    ref_pt = pw.run_replicates("default", n_trials=4, seed=4, n_jobs=2, engine="per-trial")
    with LocalCluster(host="127.0.0.1", protocol="tcp", processes=False, n_workers=2, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:") and len(client.nthreads()) == 2
        by_client = pw.run_replicates("default", scheduler=client, **kw)
        by_address = pw.run_replicates("default", scheduler=cluster.scheduler_address, **kw)
        by_client_pt = pw.run_replicates("default", n_trials=4, seed=4, scheduler=client, engine="per-trial")
    for got in (by_client, by_address):
        pd.testing.assert_frame_equal(ref, got, check_exact=True)
        for table in (sm.power_table, sm.bias_coverage, sm.type_one_error):
            pd.testing.assert_frame_equal(table(ref), table(got), check_exact=True)
    pd.testing.assert_frame_equal(ref_pt, by_client_pt, check_exact=True)


# ------------------------------------------------------------------------------------------------
# the statistical checks of issue 8
# ------------------------------------------------------------------------------------------------
def test_type_one_error_and_coverage_over_2000_null_trials():
    """On the batch engine (the default): the global log-rank test's type I error and the coverage of
    the Cox 95% CIs (true hazard ratio 1) over 2,000 trials of the null scenario."""
    res = pw.run_replicates("null", n_trials=2000, seed=8, analyses=("logrank", "cox_main"), n_jobs=2)
    t1 = sm.type_one_error(res).set_index(["analysis", "term"])
    assert t1.loc[("logrank", "global"), "n"] == 2000
    assert 0.04 <= t1.loc[("logrank", "global"), "estimate"] <= 0.06
    assert (t1["estimate"] > 0.03).all() and (t1["estimate"] < 0.07).all()  # each pairwise test, each Cox term too
    bc = sm.bias_coverage(res).set_index("term")
    assert set(bc.index) == {"msc", "pe"} and (bc["n"] == 2000).all() and (bc["truth"] == 1.0).all()
    assert bc["estimate"].between(0.93, 0.97).all()


def test_coverage_of_the_cox_ci_for_the_msc_hazard_ratio():
    res = pw.run_replicates("default", n_trials=2000, seed=8, analyses=("cox_main",), n_jobs=2)
    bc = sm.bias_coverage(res).set_index("term")
    assert bc.loc["msc", "n"] == 2000 and bc.loc["msc", "truth"] == 0.6
    assert 0.93 <= bc.loc["msc", "estimate"] <= 0.97
    assert abs(bc.loc["msc", "bias"]) < 0.05  # log-HR bias: small against its SE of about 0.31
    assert bc.loc["msc", "model_se"] == pytest.approx(bc.loc["msc", "empirical_se"], rel=0.1)


# ------------------------------------------------------------------------------------------------
# summaries
# ------------------------------------------------------------------------------------------------
def _fake_results() -> pd.DataFrame:
    """Four replicates of one Cox term and one log-rank test with hand-checkable answers."""
    cox = pd.DataFrame({"scenario": "s", "n_subjects": 100, "replicate": range(4), "seed": range(4),
                        "analysis": "cox_main", "term": "msc", "label": "M", "estimate": np.exp([-1.0, -0.5, 0.0, -0.3]),
                        "coef": [-1.0, -0.5, 0.0, -0.3], "se": 0.25,
                        "ci_low": np.exp(np.array([-1.0, -0.5, 0.0, -0.3]) - 0.49),
                        "ci_high": np.exp(np.array([-1.0, -0.5, 0.0, -0.3]) + 0.49),
                        "p_value": [0.001, 0.04, 0.9, 0.2], "truth": 0.5, "truth_coef": math.log(0.5),
                        "null_true": False, "scale": "hazard ratio", "events": [40, 42, 44, 46]})
    lr = pd.DataFrame({"scenario": "s", "n_subjects": 100, "replicate": range(4), "seed": range(4),
                       "analysis": "logrank", "term": "global", "label": "G", "statistic": 1.0,
                       "p_value": [0.01, 0.5, 0.6, 0.7], "null_true": True, "scale": "chi-square", "events": 40})
    return pd.concat([cox, lr], ignore_index=True)


def test_operating_characteristics_by_hand():
    oc = sm.operating_characteristics(_fake_results()).set_index("term")
    m = oc.loc["msc"]
    assert m["rejection_rate"] == 0.5 and m["kind"] == "power" and m["n_tested"] == 4
    assert m["bias"] == pytest.approx(np.mean([-1.0, -0.5, 0.0, -0.3]) - math.log(0.5))
    assert m["bias_mc_se"] == pytest.approx(np.std([-1.0, -0.5, 0.0, -0.3], ddof=1) / 2)
    # covered when |coef - log 0.5| <= 0.49: -1.0 (0.31) yes, -0.5 (0.19) yes, 0.0 (0.69) no, -0.3 (0.39) yes
    assert m["coverage"] == 0.75
    assert m["mean_estimate"] == pytest.approx(math.exp(-0.45)) and m["mean_events"] == 43
    g = oc.loc["global"]
    assert g["kind"] == "type I error" and g["rejection_rate"] == 0.25 and math.isnan(g["coverage"])
    t1 = sm.type_one_error(_fake_results())
    assert t1["term"].tolist() == ["global"] and t1.loc[0, "nominal"] == 0.05


def test_wilson_interval_matches_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    for k, n in [(0, 30), (13, 200), (100, 2000), (950, 1000)]:
        lo, hi = sm.wilson_interval(k, n)
        elo, ehi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert lo == pytest.approx(elo, abs=1e-12) and hi == pytest.approx(ehi, abs=1e-12)


def test_schoenfeld_reproduces_the_clinical_reference():
    # clinical-reference.md section 5.2: HR 0.6 with ~48 deaths: main effect ~42%, interaction ~14%,
    # ~120 events needed for 80% power
    assert sm.schoenfeld_power(0.6, 48) == pytest.approx(0.42, abs=0.01)
    assert sm.schoenfeld_power(0.6, 48, variance_factor=16) == pytest.approx(0.14, abs=0.01)
    assert sm.schoenfeld_events(0.6) == pytest.approx(120, abs=1)
    assert sm.schoenfeld_power(0.6, sm.schoenfeld_events(0.6, power=0.9)) == pytest.approx(0.9)


def test_power_curve_over_sample_size_and_effect_size():
    cv = sm.power_curve("default", n_subjects=[60, 240], hrs=[0.4, 1.0], n_trials=4, seed=5,
                        analyses=("logrank", "cox_main"))
    assert set(cv["n_subjects"]) == {60, 240} and set(cv["hr"]) == {0.4, 1.0} and set(cv["factor"]) == {"msc"}
    msc = cv[(cv["analysis"] == "cox_main") & (cv["term"] == "msc")].set_index(["hr", "n_subjects"])
    assert msc.loc[(0.4, 240), "mean_events"] > msc.loc[(0.4, 60), "mean_events"]
    assert msc.loc[(1.0, 60), "kind"] == "type I error" and msc.loc[(0.4, 60), "kind"] == "power"
    assert msc.loc[(0.4, 240), "schoenfeld"] > msc.loc[(0.4, 60), "schoenfeld"] > 0.05
    assert cv.loc[cv["term"] == "pe", "schoenfeld"].isna().all()
    import matplotlib

    matplotlib.use("Agg")
    ax = plot_power_curve(cv[cv["hr"] == 0.4], x="n_subjects")
    assert len(ax.get_legend().get_texts()) == cv[["analysis", "term"]].drop_duplicates().shape[0]


# ------------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------------
def _parser():
    p = argparse.ArgumentParser(prog="trialkit")
    add_power_parser(p.add_subparsers(dest="command", required=True))
    return p


def test_power_parser_options():
    a = _parser().parse_args(["power", "--scenario", "params/scenarios/null.yaml", "--n-trials", "7",
                              "--n-subjects", "60", "120", "--jobs", "2", "--out", "x", "--scheduler",
                              "tcp://h:8786", "--seed", "3"])
    assert (a.scenario, a.n_trials, a.n_subjects, a.jobs, a.out, a.scheduler, a.seed) == (
        "params/scenarios/null.yaml", 7, [60, 120], 2, "x", "tcp://h:8786", 3)
    d = _parser().parse_args(["power"])
    assert (d.n_trials, d.jobs, d.scheduler, d.labs, d.null, d.engine) == (1000, 1, None, None, False, "auto")
    assert _parser().parse_args(["power", "--engine", "per-trial"]).engine == "per-trial"
    with pytest.raises(SystemExit):
        _parser().parse_args(["power", "--n-trials", "many"])


def test_power_command_writes_tables(tmp_path, capsys):
    a = _parser().parse_args(["power", "--n-trials", "3", "--seed", "1", "--null", "--out", str(tmp_path),
                              "--no-progress"])
    assert a.func(a) == 0
    printed = capsys.readouterr().out
    assert "global log-rank (4 arms)" in printed and "type I error" in printed
    # the main-effects and interaction Cox rows share labels: the printed tables name the analysis
    assert all(f" {a} " in printed for a in ("logrank", "cox_main", "cox_interaction"))
    for name in OUTPUT_FILES.values():
        assert (tmp_path / name).is_file()
    reps = pd.read_csv(tmp_path / OUTPUT_FILES["replicates"])
    assert set(reps["scenario"]) == {"default", "default (null)"} and reps["replicate"].max() == 2
    t1 = pd.read_csv(tmp_path / OUTPUT_FILES["type1_error"])
    assert (t1["scenario"] == "default (null)").any()


def test_power_command_rejects_bad_input(capsys):
    a = _parser().parse_args(["power", "--n-trials", "0"])
    assert a.func(a) == 2
    a = _parser().parse_args(["power", "--n-trials", "1", "--hr", "0.5", "--factor", "nope", "--no-progress"])
    assert a.func(a) == 2
    assert "factors are msc, pe" in capsys.readouterr().err
    for argv, fragment in ((["--n-subjects", "120", "0"], "--n-subjects must be positive"),
                           (["--hr", "-1"], "--hr must be positive"), (["--alpha", "1.5"], "--alpha must be"),
                           (["--jobs", "0"], "--jobs must be"), (["--seed", "-3"], "--seed must be"),
                           (["--engine", "batch", "--labs"], "--labs needs --engine per-trial")):
        a = _parser().parse_args(["power", "--n-trials", "1", "--no-progress", *argv])
        assert a.func(a) == 2
        assert fragment in capsys.readouterr().err


# ------------------------------------------------------------------------------------------------
# the notebook on a two-arm design
# ------------------------------------------------------------------------------------------------
def test_design_notebook_runs_on_a_two_arm_study(tmp_path):
    """notebooks/05_design_simulation.ipynb, unchanged, on params/study_two_arm.yaml with the two-arm
    scenario of params/two_arm.yaml, with few trials (the committed outputs are checked by nbval)."""
    out = tmp_path / "out"
    text = run_notebook("05_design_simulation.ipynb", tmp_path, study_file=str(TWO_ARM_STUDY), scenario=two_arm_scenario(),
                        out_dir=str(out), n_trials=12, curve_trials=4, curve_sizes=[120], curve_hrs=[1.0], lab_trials=2)
    assert "2 arms (Standard of care, UC-MSC + standard of care)" in text
    tables = {p.stem for p in (out / "tables").glob("*.csv")}
    assert {"design_true_effects", "design_power", "design_schoenfeld", "design_bias_coverage", "design_type1_error",
            "design_power_curve_n", "design_power_curve_hr", "design_lab_effects"} <= tables
    power = pd.read_csv(out / "tables" / "design_power.csv")
    assert set(power["analysis"]) == {"logrank", "cox_main"} and set(power["n"]) == {12}
    curve = pd.read_csv(out / "tables" / "design_power_curve_n.csv")
    assert set(curve["n_subjects"]) == {60, 120}
    labs = pd.read_csv(out / "tables" / "design_lab_effects.csv")
    assert set(labs["term"]) == {"TBIL[ucmsc]", "ALB[ucmsc]"}
    assert {p.stem for p in (out / "figures").glob("*.png")} == {"design_power_curve_n", "design_power_curve_hr"}
