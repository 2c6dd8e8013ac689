"""trialkit.simulate: determinism, protocol structure, the data contract, calibration, truth recovery.

The calibration and recovery tests use one 20,000-patient cohort (module fixture, ~8 s). Their
target ranges come from /work/shared/calibration.md and clinical-reference.md §3; the truth comes
from ``trial.truth`` (truth.json).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml
from lifelines import CoxPHFitter, KaplanMeierFitter
from scipy import stats

from trialkit.errors import ScenarioError, StudyFileError
from trialkit.simulate import allocation, cohort, core, load_scenario, scenarios_dir, simulate, write_simulation
from trialkit.study import load_study, params_dir

TABLES = ("subjects", "labs", "events", "infusions", "adverse_events", "symptoms")


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small():
    return simulate(seed=5)


@pytest.fixture(scope="module")
def big():
    """20,000 patients under the default scenario (registry design, 1:1:1:1)."""
    return simulate(n_subjects=20_000, seed=2024)


def _tte(trial) -> pd.DataFrame:
    """One row per subject: arm, factor indicators, time and status of death-or-LT."""
    ev = trial.events
    first = ev[ev["event"].isin(["death", "transplant"])].groupby("subject_id")["day"].min()
    last = ev[ev["event"] == "last_contact"].set_index("subject_id")["day"]
    s = trial.subjects.set_index("subject_id")
    out = pd.DataFrame({"arm": s["arm"].astype(object)})
    out["event"] = out.index.isin(first.index).astype(int)
    out["time"] = first.reindex(out.index).fillna(last.reindex(out.index)).astype(float)
    for f in trial.study.factors:
        out[f] = s["arm"].map({a.id: int(a.factors[f]) for a in trial.study.arms}).astype(int)
    return out


def _baseline(trial) -> pd.DataFrame:
    labs = trial.labs
    b = labs[labs["visit"] == trial.study.baseline_visit.id]
    return b.pivot(index="subject_id", columns="parameter", values="value")


def _two_arm_study(tmp_path: Path) -> Path:
    raw = yaml.safe_load((params_dir() / "study.yaml").read_text())
    raw["factors"] = {"msc": raw["factors"]["msc"]}
    raw["arms"] = [{"id": "control", "label": "SMT", "factors": {"msc": False}},
                   {"id": "msc", "label": "UC-MSC", "factors": {"msc": True}}]
    p = tmp_path / "two_arm.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


# ---------------------------------------------------------------------------------------------
# determinism and files
# ---------------------------------------------------------------------------------------------
def test_same_seed_gives_identical_trial(small):
    again = simulate(seed=5)
    for t in TABLES:
        pd.testing.assert_frame_equal(getattr(small, t), getattr(again, t))
    pd.testing.assert_frame_equal(small.latent, again.latent)
    assert small.truth == again.truth
    assert small.source == "simulated:default:seed=5"


def test_different_seed_gives_different_trial(small):
    other = simulate(seed=6)
    assert not small.labs["value"].equals(other.labs["value"])
    assert not small.subjects["arm"].equals(other.subjects["arm"])


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_write_is_byte_identical_and_loads_back(tmp_path, fmt, small):
    a, b = tmp_path / "a", tmp_path / "b"
    write_simulation(a, seed=5, fmt=fmt)
    write_simulation(b, seed=5, fmt=fmt)
    assert _digest(a) == _digest(b)
    names = set(_digest(a))
    assert {"study.yaml", "truth.json"} <= names
    assert (a / "study.yaml").read_text() == (params_dir() / "study.yaml").read_text()  # verbatim
    tr = json.loads((a / "truth.json").read_text())
    assert tr["seed"] == 5 and tr["hazard_ratios"]["terms"]["msc"] == 0.6
    from trialkit.data.load import load

    loaded = load(a / "trial.xlsx" if fmt == "xlsx" else a, study=params_dir() / "study.yaml")
    for t in TABLES:
        got, want = getattr(loaded, t), getattr(small, t)
        pd.testing.assert_frame_equal(got[want.columns].reset_index(drop=True), want, check_dtype=False)


def test_write_failure_leaves_nothing(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(core, "write_tables", boom)
    with pytest.raises(RuntimeError):
        write_simulation(tmp_path / "out", seed=1)
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary folder


def test_write_replaces_a_dataset_but_not_a_foreign_folder(tmp_path):
    out = tmp_path / "ds"
    write_simulation(out, seed=1)
    first = _digest(out)
    write_simulation(out, seed=2)
    assert _digest(out) != first
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        write_simulation(foreign, seed=1)
    assert (foreign / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------------------------
# protocol structure
# ---------------------------------------------------------------------------------------------
def test_arm_sizes_registry_and_published_designs(small):
    assert small.arm_sizes().to_dict() == {"control": 30, "msc": 30, "pe": 30, "pe_msc": 30}
    pub = simulate(scenario="published", seed=3)
    assert pub.arm_sizes().to_dict() == {"control": 30, "msc": 30, "pe": 30, "pe_msc": 20}
    assert pub.study.visit_ids == ["D0", "D30", "D60", "D90", "D180", "D360"]
    assert pub.truth["horizons"] == {"primary": 360, "secondary": 180}
    # n_subjects keeps the 3:3:3:2 ratio
    assert allocation.arm_sizes(load_scenario("published"), pub.study, 1100)[0] == \
        {"control": 300, "msc": 300, "pe": 300, "pe_msc": 200}


@pytest.mark.parametrize("scen, block, per_block", [("default", 8, [2, 2, 2, 2]), ("published", 11, [3, 3, 3, 2])])
def test_permuted_blocks_are_balanced_at_block_boundaries(scen, block, per_block):
    sc = load_scenario(scen)
    st = core.resolve_study(None, sc)
    sizes, ratio = allocation.arm_sizes(sc, st, 1000)
    arm_idx, blk = allocation.randomize(np.random.default_rng(1), sizes, ratio, block)
    counts = np.stack([np.cumsum(arm_idx == a) for a in range(4)], axis=1)
    ends = np.arange(block, len(arm_idx) + 1, block) - 1
    assert (counts[ends] == (np.arange(1, len(ends) + 1)[:, None] * np.array(per_block))).all()
    assert np.bincount(arm_idx).tolist() == list(sizes.values())  # exact sizes, incomplete last block
    assert (np.diff(blk) >= 0).all()
    assert len(set(map(tuple, np.sort(arm_idx[: len(ends) * block].reshape(-1, block), axis=1)))) == 1
    assert not (arm_idx[:block * 5].reshape(5, block) == arm_idx[:block]).all()  # blocks are permuted


def test_randomization_dates_in_recruitment_period_and_in_order(big):
    s = big.subjects
    assert s["randomization_date"].min() >= pd.Timestamp("2012-11-01")
    assert s["randomization_date"].max() <= pd.Timestamp("2015-03-31")
    assert s.sort_values("subject_id")["randomization_date"].is_monotonic_increasing


def test_visit_days_within_windows(big):
    win = big.study.visit_windows().set_index("visit")
    for table in (big.labs, big.symptoms):
        w = win.reindex(table["visit"].astype(object)).to_numpy()
        day = table["day"].to_numpy()
        assert ((day >= w[:, 1]) & (day <= w[:, 2])).all()
    base = big.labs[big.labs["visit"] == "D0"]
    assert base["day"].between(-3, 0).all() and (base["day"] == 0).mean() > 0.5
    assert (big.labs["day"] >= -3).all()


def test_dosing_days_follow_each_arms_schedule(big):
    st = big.study
    arm = big.subjects.set_index("subject_id")["arm"].astype(object)
    inf = big.infusions.assign(arm=lambda d: d["subject_id"].map(arm))
    assert set(inf["factor"]) == {"msc"}  # rows only for the infusion-kind factor
    for a in st.arm_ids:
        days = set(inf.loc[inf["arm"] == a, "day"])
        assert days == set(st.dosing_days(a, "msc"))  # every scheduled day used, no other
    assert set(st.dosing_days("pe_msc", "msc")) == {0, 6, 13, 20}  # the combined arm's override
    n_inf = inf.groupby("subject_id")["infusion"].nunique().reindex(big.subjects["subject_id"], fill_value=0)
    assert (n_inf.to_numpy() == big.subjects["msc_doses"].to_numpy()).all()
    doses = big.subjects.groupby("arm", observed=True)[["msc_doses", "pe_doses"]].agg(["min", "max", "mean"])
    assert doses.loc["control"].max() == 0 and doses.loc["pe", ("msc_doses", "max")] == 0
    assert doses.loc["msc", ("msc_doses", "max")] == 4 and doses.loc["pe_msc", ("pe_doses", "max")] == 3
    assert 3.3 < doses.loc["msc", ("msc_doses", "mean")] < 4  # a few missed doses or deaths


def test_infusion_rows_five_readings_per_infusion(big):
    inf = big.infusions
    assert sorted(inf["hours_after"].unique()) == [0.0, 1.0, 2.0, 4.0, 8.0]
    per = inf.groupby(["subject_id", "infusion"]).size()
    assert (per == 5).all()
    peak = inf.groupby(["subject_id", "infusion"])["temperature_c"].max()
    assert 0.015 < (peak >= 38.0).mean() < 0.05  # fever reactions ~3 % of infusions
    assert inf.loc[inf["hours_after"] == 0, "temperature_c"].between(35.5, 37.8).all()
    fev = big.adverse_events[big.adverse_events["term"] == "infusion-related fever"]
    assert len(fev) == (peak >= 38.0).sum()
    assert set(fev["hours_after_infusion"]) <= {2.0, 4.0}


def test_follow_up_rules_of_the_contract(big):
    ev = big.events
    lc = ev[ev["event"] == "last_contact"]
    assert lc["subject_id"].is_unique and len(lc) == big.n_subjects
    last = lc.set_index("subject_id")["day"]
    death = ev[ev["event"] == "death"].set_index("subject_id")["day"]
    assert (last.reindex(death.index) == death).all()
    assert ev.groupby(["subject_id", "event"]).size().max() == 1
    for name in ("labs", "symptoms", "infusions", "adverse_events"):
        t = getattr(big, name)
        assert (t["day"].to_numpy() <= last.reindex(t["subject_id"]).to_numpy()).all(), name
    ended = ev[ev["event"].isin(["death", "transplant"])].set_index("subject_id")["day"]
    labs = big.labs[big.labs["subject_id"].isin(ended.index)]
    assert (labs["day"].to_numpy() < ended.reindex(labs["subject_id"]).to_numpy()).all()
    assert not big.labs.duplicated(["subject_id", "day", "parameter"]).any()


def test_inclusion_criteria_hold_on_recorded_baseline(big):
    s = big.subjects
    assert s["age"].between(16, 65).all()
    b = _baseline(big)
    assert (b["TBIL"] >= 171).all()
    assert ((b["INR"] >= 1.5) | (b["PTA"] < 40)).all()
    from trialkit.scores import meld

    m = meld(bilirubin=b["TBIL"], inr=b["INR"], creatinine=b["CREAT"])
    assert m.max() < 30 and m.min() >= 15
    assert (b["HE"] <= 2).all() and (s["encephalopathy"] <= 2).all()
    assert (b["HE"].to_numpy() == s.set_index("subject_id").loc[b.index, "encephalopathy"].to_numpy()).all()


def test_meld_helper_matches_reference_vectors():
    # clinical-reference.md §4.4 [C] vectors (SI) and rows 3, 6 of the Lopez table (mg/dL -> SI)
    tb = np.array([442.5, 300, 171, 6.0 * 17.1, 12.0 * 17.1])
    cr = np.array([81, 80, 70, 1.5 * 88.4, 1.8 * 88.4])
    inr = np.array([2.08, 2.0, 1.5, 1.5, 2.2])
    m, raw = cohort.meld_optn(tb, cr, inr)
    assert m.tolist() == [27, 25, 20, 22, 30]
    assert raw[3] == pytest.approx(21.6244, abs=1e-3)


def test_coagulation_labs_are_consistent(big):
    b = big.labs[big.labs["parameter"].isin(["INR", "PT", "PTA"])]
    w = b.pivot_table(index=["subject_id", "day"], columns="parameter", values="value").dropna()
    assert np.allclose(w["PT"], 12.0 * w["INR"] ** (1 / 1.05), atol=0.15)
    assert stats.spearmanr(w["INR"], w["PTA"])[0] < -0.95
    assert (w.loc[w["INR"] >= 1.6, "PTA"] < 40).mean() > 0.97
    assert (w.loc[w["INR"] <= 1.2, "PTA"] > 60).mean() > 0.95 and (w.loc[w["INR"] <= 1.2, "PTA"] > 45).all()


def test_two_arm_study_with_one_factor(tmp_path):
    st = load_study(_two_arm_study(tmp_path))
    tr = simulate(study=st, seed=9)
    assert tr.arm_sizes().to_dict() == {"control": 60, "msc": 60}
    assert "pe_doses" not in tr.subjects.columns and tr.subjects["msc_doses"].max() == 4
    assert tr.truth["hazard_ratios"]["terms"] == {"msc": 0.6}
    assert sorted(tr.truth["ignored_effects"]) == ["msc*pe", "pe"]
    assert set(tr.labs["parameter"]) == set(st.parameters)


def test_units_follow_the_study_file(tmp_path):
    raw = yaml.safe_load((params_dir() / "study.yaml").read_text())
    raw["parameters"]["TBIL"]["unit"] = "mg/dL"
    raw["parameters"]["CREAT"]["unit"] = "mg/dL"
    raw["parameters"]["ALB"]["unit"] = "g/dL"
    raw["baseline_expected"] = {}
    p = tmp_path / "conv.yaml"
    p.write_text(yaml.safe_dump(raw))
    tr = simulate(study=p, seed=5)
    ref = simulate(seed=5)
    b, b_ref = _baseline(tr), _baseline(ref)
    assert np.allclose(b["TBIL"], b_ref["TBIL"] / 17.1, atol=0.006)
    assert np.allclose(b["ALB"], b_ref["ALB"] / 10, atol=0.006)
    assert set(tr.labs.loc[tr.labs["parameter"] == "TBIL", "unit"]) == {"mg/dL"}
    assert tr.truth["labs"]["parameters"]["ALB"]["effects"]["msc"] == pytest.approx(0.15)
    raw["parameters"]["NA"]["unit"] = "mEq/dL"
    p.write_text(yaml.safe_dump(raw))
    with pytest.raises(StudyFileError, match="parameters.NA.unit"):
        simulate(study=p, seed=5)


# ---------------------------------------------------------------------------------------------
# scenarios
# ---------------------------------------------------------------------------------------------
def test_bundled_scenarios_load():
    names = {p.stem for p in scenarios_dir().glob("*.yaml")}
    assert {"default", "null", "published", "large"} <= names
    assert load_scenario("null").effects == {} and load_scenario("null").interactions == {}
    assert load_scenario("large").total == 4000
    assert load_scenario("published").study.endswith("study_published.yaml")


@pytest.mark.parametrize("patch, where", [
    ({"effcts": {}}, "effcts"),
    ({"effects": {"msc": {"hr": -1}}}, "effects.msc.hr"),
    ({"effects": {"msc": {"labs": {"XYZ": 0.1}}}}, "effects.msc.labs.XYZ"),
    ({"survival": {"control": {84: 0.6, 168: 0.7}}}, "survival.control"),
    ({"block_size": 6}, "block_size"),
    ({"allocation": {"sizes": {"control": 30}, "total": 10}}, "allocation.total"),
    ({"baseline": {"correlations": {"TBIL~INR": 0.95, "INR~ALB": 0.95, "TBIL~ALB": -0.95}}}, "baseline.correlations"),
    ({"reactions": {"msc": {"headache": 0.1}}}, "reactions.msc.headache"),
])
def test_scenario_errors_name_the_key(patch, where):
    raw = {"extends": "default.yaml", "name": "bad", **patch}
    with pytest.raises(ScenarioError, match=where.replace(".", r"\.")):
        simulate(scenario=raw, seed=1)


def test_null_scenario_has_no_effects():
    tr = simulate(scenario="null", seed=1)
    assert set(tr.truth["hazard_ratios"]["arms_vs_control"].values()) == {1.0}
    assert all(v == 0 for p in tr.truth["labs"]["parameters"].values() for v in p["effects"].values())


# ---------------------------------------------------------------------------------------------
# calibration (calibration.md / clinical-reference.md §3) on 20,000 patients
# ---------------------------------------------------------------------------------------------
def test_control_survival_shape(big):
    d = _tte(big)
    c = d[d["arm"] == "control"]
    km = KaplanMeierFitter().fit(c["time"], c["event"])
    s84, s168, s336 = km.survival_function_at_times([84, 168, 336]).to_numpy()
    assert 0.50 <= s168 <= 0.60          # ~55 % at 24 weeks (Lin 2017)
    assert 0.46 <= s336 <= 0.55          # a little lower by 48 weeks
    early = ((c["event"] == 1) & (c["time"] <= 84)).sum() / ((c["event"] == 1) & (c["time"] <= 336)).sum()
    assert 0.72 <= early <= 0.85         # 75-80 % of deaths before week 12
    lt = (big.events["event"] == "transplant").sum() / big.n_subjects
    assert 0.005 <= lt <= 0.05           # LT uncommon: a few %


def test_baseline_distributions(big):
    b = _baseline(big)
    s = big.subjects
    assert 250 <= b["TBIL"].median() <= 400
    assert 1.8 <= b["INR"].median() <= 2.4
    assert 28 <= b["ALB"].median() <= 34
    assert 20 <= big.latent["meld_baseline"].median() <= 25
    assert 0.80 <= (s["sex"] == "M").mean() <= 0.92
    assert 40 <= s["age"].mean() <= 46
    assert 0.70 <= s["cirrhosis"].mean() <= 0.80
    assert 60 <= b["CREAT"].median() <= 90 and 132 <= b["NA"].median() <= 138
    assert 100 <= b["ALT"].median() <= 500


def test_hcc_is_rare(big):
    hcc = (big.events["event"] == "hcc").sum()
    assert 0 < hcc < 0.01 * big.n_subjects
    per_120 = hcc / big.n_subjects * 120
    assert per_120 < 1.0                 # 0-1 case in a 120-patient trial


def test_survivors_recover_and_non_survivors_worsen(big):
    labs = big.labs
    ended = big.events[big.events["event"].isin(["death", "transplant"])].set_index("subject_id")["day"]
    base = _baseline(big)
    tb = labs[(labs["parameter"] == "TBIL") & (labs["day"] > 0)].copy()
    tb["ratio"] = tb["value"].to_numpy() / base.loc[tb["subject_id"], "TBIL"].to_numpy()
    surv = tb[~tb["subject_id"].isin(ended.index)]
    assert surv.loc[surv["visit"] == "W12", "value"].median() < 3 * 17.1   # towards 2-3 x ULN by week 12
    assert surv.loc[surv["visit"] == "D28", "ratio"].median() < 0.7
    dying = tb[tb["subject_id"].isin(ended.index)]
    before = ended.reindex(dying["subject_id"]).to_numpy() - dying["day"].to_numpy()
    assert dying.loc[before <= 5, "ratio"].median() > 1.1                   # rising TBIL before death
    sy = big.symptoms
    assert sy.loc[sy["visit"] == "D0", "score"].mean() > 1.5
    assert sy.loc[(sy["visit"] == "W24") & ~sy["subject_id"].isin(ended.index), "score"].mean() < 0.5


# ---------------------------------------------------------------------------------------------
# truth recovery
# ---------------------------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Starting with pandas version 4.0")  # inside lifelines
def test_cox_recovers_true_hazard_ratios(big):
    d = _tte(big)
    truth_log = big.truth["log_hazard_ratios"]
    main = CoxPHFitter().fit(d[["time", "event", "msc", "pe"]], "time", "event")
    for f in ("msc", "pe"):
        assert abs(main.params_[f] - truth_log[f]) < 0.05
    d["msc_pe"] = d["msc"] * d["pe"]
    full = CoxPHFitter().fit(d[["time", "event", "msc", "pe", "msc_pe"]], "time", "event")
    ci = full.confidence_intervals_
    for f, key in (("msc", "msc"), ("pe", "pe"), ("msc_pe", "msc*pe")):
        assert ci.loc[f].iloc[0] < truth_log[key] < ci.loc[f].iloc[1]


def test_latent_severity_is_standard_normal_and_copula_uniform(big):
    lat = big.latent
    assert abs(lat["z"].mean()) < 0.03 and abs(lat["z"].std() - 1) < 0.03
    assert stats.kstest(lat["u"], "uniform").pvalue > 0.001
    # sicker patients die sooner: higher baseline MELD -> higher oracle risk
    assert stats.spearmanr(lat["meld_baseline"], lat["risk_day84"])[0] > 0.5


def test_oracle_risk_is_calibrated(big):
    lat = big.latent.set_index("subject_id")
    d = _tte(big)
    obs = ((d["event"] == 1) & (d["time"] <= 84)).reindex(lat.index)
    dec = pd.qcut(lat["risk_day84"], 10, labels=False)
    table = pd.DataFrame({"pred": lat["risk_day84"], "obs": obs.astype(float), "dec": dec}).groupby("dec").mean()
    assert (table["obs"] - table["pred"]).abs().max() < 0.035  # ~3 binomial SEs per decile
    assert table["pred"].iloc[-1] - table["pred"].iloc[0] > 0.5           # it discriminates
    assert abs(obs.mean() - lat["risk_day84"].mean()) < 0.01


def test_ancova_on_survivors_recovers_lab_effects(big):
    ended = set(big.events.loc[big.events["event"].isin(["death", "transplant"]), "subject_id"])
    base = _baseline(big)
    w24 = big.labs[(big.labs["visit"] == "W24") & ~big.labs["subject_id"].isin(ended)]
    w24 = w24.pivot(index="subject_id", columns="parameter", values="value")
    arms = _tte(big)
    truth_labs = big.truth["labs"]["parameters"]
    for lab, log in (("TBIL", True), ("ALB", False)):
        d = pd.DataFrame({"y": w24[lab], "b": base[lab]}).dropna()
        if log:
            d = np.log(d)
        d = d.join(arms[["msc", "pe"]])
        fit = smf.ols("I(y - b) ~ b + msc + pe", d).fit()
        for f in ("msc", "pe"):
            assert abs(fit.params[f] - truth_labs[lab]["effects"][f]) < 3 * fit.bse[f], (lab, f)
    d = pd.DataFrame({"y": np.log(w24["TH1"] / w24["TH2"]), "b": np.log(base["TH1"] / base["TH2"])}).dropna()
    fit = smf.ols("I(y - b) ~ b + msc + pe", d.join(arms[["msc", "pe"]])).fit()
    assert abs(fit.params["msc"] - big.truth["th1_th2"]["effects"]["msc"]) < 3 * fit.bse["msc"]


def test_symptom_truth_matches_survivor_means(big):
    ended = set(big.events.loc[big.events["event"].isin(["death", "transplant"]), "subject_id"])
    arm = big.subjects.set_index("subject_id")["arm"].astype(object)
    sy = big.symptoms[(big.symptoms["visit"] == "W24") & ~big.symptoms["subject_id"].isin(ended)]
    got = sy.assign(arm=sy["subject_id"].map(arm)).groupby(["symptom", "arm"])["score"].mean()
    for s, spec in big.truth["symptoms"]["symptoms"].items():
        for a, want in spec["mean_score_at_secondary"].items():
            assert abs(got[(s, a)] - want) < 0.035, (s, a)


def test_safety_rates(big):
    ae = big.adverse_events
    arm = big.subjects.set_index("subject_id")["arm"].astype(object)
    infect = ae[ae["term"].isin(["pneumonia", "spontaneous bacterial peritonitis", "urinary tract infection",
                                 "fungal infection"])]
    rate = infect.groupby(infect["subject_id"].map(arm))["subject_id"].nunique() / big.arm_sizes()
    assert 0.25 < rate["control"] < 0.40 and 0.10 < rate["msc"] < 0.22   # 33.3 % vs 16.1 % (Lin 2017)
    allergy = ae[ae["category"] == "allergy"]
    assert allergy["hours_after_infusion"].isna().all()                  # plasma exchange is a procedure
    assert 0.02 < len(allergy) / big.subjects["pe_doses"].sum() < 0.06
    deaths = (big.events["event"] == "death").sum()
    assert (ae["grade"] == 5).sum() == deaths
    assert ae.loc[ae["grade"] >= 3, "serious"].all()
