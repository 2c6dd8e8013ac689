"""trialkit.tables: Table 1 and safety tables against independent pandas / scipy calculations."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import trialkit
from trialkit.data.trial import Trial
from trialkit.derive import baseline_dataset
from trialkit.stats.categorical import clopper_pearson
from trialkit.study import load_study, study_from_dict
from trialkit.tables import baseline as tb
from trialkit.tables import safety as ts


@pytest.fixture(scope="module")
def sim():
    return trialkit.open_dataset("simulate", seed=11)


@pytest.fixture(scope="module")
def bl(sim):
    return baseline_dataset(sim, clif_missing_as_normal=True)


def _fmt_mean(x):
    return f"{x.mean():.1f} ({x.std(ddof=1):.1f})"


def _fmt_median(x):
    q1, med, q3 = np.percentile(x.dropna(), [25, 50, 75])
    return f"{med:.1f} [{q1:.1f},{q3:.1f}]"


# ---------------------------------------------------------------------------------------------
# Table 1
# ---------------------------------------------------------------------------------------------
def test_table_one_numbers_against_pandas(sim, bl):
    t1 = tb.table_one(bl, sim.study)
    arms = sim.study.arm_ids
    assert t1.columns.tolist()[:6] == ["variable", "label", "level", "statistic", "missing", "overall"]
    assert t1.columns.tolist()[6:10] == arms
    n = t1[t1["variable"] == "n"].iloc[0]
    assert int(n["overall"]) == len(bl) and [int(n[a]) for a in arms] == bl["arm"].value_counts()[arms].tolist()
    rule = tb.summary_choice(bl, ["age", "ALT", "ALB", "PLT"]).set_index("variable")
    assert rule["nonnormal"].to_dict() == {v: abs(bl[v].skew()) > 1 for v in ["age", "ALT", "ALB", "PLT"]}
    checked = 0
    for var in ["age", "ALT", "ALB", "PLT", "meld"]:
        row = t1[t1["variable"] == var].iloc[0]
        fmt = _fmt_median if rule.get("nonnormal", {}).get(var, abs(bl[var].skew()) > 1) else _fmt_mean
        assert row["statistic"] == ("median [Q1,Q3]" if fmt is _fmt_median else "mean (SD)")
        assert row["overall"] == fmt(bl[var])
        for a in arms:
            assert row[a] == fmt(bl.loc[bl["arm"] == a, var])
            checked += 1
        # SMD: (mean_arm - mean_control) / sqrt((var_arm + var_control) / 2)
        c = bl.loc[bl["arm"] == sim.study.control_arm, var]
        for a in arms[1:]:
            x = bl.loc[bl["arm"] == a, var]
            smd = (x.mean() - c.mean()) / np.sqrt((x.var() + c.var()) / 2)
            assert row[f"smd_{a}"] == pytest.approx(smd, rel=1e-12)
    assert checked == 20
    sex = t1[t1["variable"] == "sex"].set_index("level")
    for a in arms:
        s = bl.loc[bl["arm"] == a, "sex"]
        for lev in ["F", "M"]:
            k = int((s == lev).sum())
            assert sex.loc[lev, a] == f"{k} ({100 * k / len(s):.1f})"
    # binary SMD: |p1 - p0| / sqrt((p1 q1 + p0 q0) / 2)
    p0 = (bl.loc[bl["arm"] == "control", "sex"] == "F").mean()
    p1 = (bl.loc[bl["arm"] == "msc", "sex"] == "F").mean()
    smd = abs(p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert sex.iloc[0]["smd_msc"] == pytest.approx(smd, rel=1e-12)
    assert "p_value" not in t1.columns                                   # no tests by default


def test_table_one_missing_and_percentages_of_known(sim, bl):
    d = bl.copy()
    d.loc[d.index[:7], "weight_kg"] = np.nan
    d["cirrhosis"] = d["cirrhosis"].astype(object)
    d.loc[d.index[:3], "cirrhosis"] = np.nan
    t1 = tb.table_one(d, sim.study, continuous=["weight_kg"], categorical=["cirrhosis"])
    w = t1[t1["variable"] == "weight_kg"].iloc[0]
    assert w["missing"] == 7 and w["overall"] == _fmt_mean(d["weight_kg"].dropna())
    cz = t1[t1["variable"] == "cirrhosis"].set_index("level")
    known = d["cirrhosis"].dropna()
    k = int((known == True).sum())  # noqa: E712
    assert cz.loc["Yes", "overall"] == f"{k} ({100 * k / len(known):.1f})"
    assert cz["missing"].dropna().tolist() == [3]
    assert bl["weight_kg"].notna().all()                                  # caller's data untouched


def test_table_one_optional_tests(sim, bl):
    t1 = tb.table_one(bl, sim.study, continuous=["age", "ALT"], categorical=["sex"], tests=True)
    groups = [bl.loc[bl["arm"] == a, "age"] for a in sim.study.arm_ids]
    age = t1[t1["variable"] == "age"].iloc[0]
    assert age["p_value"] == pytest.approx(stats.f_oneway(*groups).pvalue, abs=6e-4)
    alt = t1[t1["variable"] == "ALT"].iloc[0]
    groups = [bl.loc[bl["arm"] == a, "ALT"] for a in sim.study.arm_ids]
    assert alt["p_value"] == pytest.approx(stats.kruskal(*groups).pvalue, abs=6e-4)
    assert alt["test"] == "Kruskal-Wallis"


REFERENCE = Path(__file__).resolve().parent / "reference"
#: the counts of tests/reference/smd.R: control, compared arm (a third arm only adds levels)
_SMD_CASES = {
    "binary": ([3, 27], [5, 25], ["F", "M"]),
    "fatigue_msc": ([0, 2, 6, 22], [0, 3, 11, 16], ["0", "1", "2", "3"]),
    "fatigue_pe": ([0, 2, 6, 22], [0, 2, 14, 14], ["0", "1", "2", "3"]),
    "fatigue_pe_msc": ([0, 2, 6, 22], [1, 1, 12, 16], ["0", "1", "2", "3"]),
    "absent_first": ([0, 5, 3, 2], [0, 2, 4, 4], ["0", "1", "2", "3"]),
    "absent_middle": ([5, 0, 3, 2], [2, 0, 4, 4], ["0", "1", "2", "3"]),
    "absent_in_one_arm": ([3, 2, 0], [1, 2, 3], ["a", "b", "c"]),
    "identical": ([2, 3, 5], [4, 6, 10], ["a", "b", "c"]),
    "same_constant": ([0, 4, 0], [0, 7, 0], ["a", "b", "c"]),
    "five_levels": ([4, 7, 9, 6, 4], [8, 5, 6, 9, 2], ["a", "b", "c", "d", "e"]),
}


def _expand(counts, levels):
    return [lev for k, lev in zip(counts, levels) for _ in range(k)]


def test_smd_against_R():
    """tests/reference/smd.R: R tableone's ExtractSmd algorithm (MASS::ginv on the covariance over
    all levels of the variable; R 4.2.2, MASS 7.3-58.2), incl. levels absent from both arms."""
    lines = (REFERENCE / "smd_expected.txt").read_text().splitlines()
    assert lines[0].startswith("# R version") and "MASS" in lines[0]
    ref = pd.read_csv(REFERENCE / "smd_expected.txt", comment="#").set_index("case")["smd"]
    assert set(_SMD_CASES) | {"continuous"} == set(ref.index)
    for case, (c0, c1, levels) in _SMD_CASES.items():
        assert tb.smd_categorical(_expand(c0, levels), _expand(c1, levels)) == pytest.approx(
            ref[case], rel=1e-13, abs=1e-15), case
    x0 = [40.2, 51.7, 38.9, 47.3, 55.0, 44.1]
    x1 = [45.6, 49.9, 60.3, 52.8, 41.7]
    assert tb.smd_continuous(x0, x1) == pytest.approx(ref["continuous"], rel=1e-13)
    assert tb.smd_continuous(x1, x0) == pytest.approx(-ref["continuous"], rel=1e-13)  # signed: arm - control


def test_smd_hand_computations_and_degenerate_levels():
    # two levels: |p1 - p0| / sqrt((p1 q1 + p0 q0) / 2) = 0.5 / sqrt((0.25 + 0) / 2)
    assert tb.smd_categorical(list("aabb"), list("aaaa")) == pytest.approx(0.5 / np.sqrt(0.125), rel=1e-15)
    # three levels by hand: p0 = (1/2, 1/4, 1/4), p1 = (1/4, 1/4, 1/2); drop a: d = (0, 1/4),
    # cov0 = [[3/16, -1/16], [-1/16, 3/16]], cov1 = [[3/16, -1/8], [-1/8, 1/4]],
    # S = [[3/16, -3/32], [-3/32, 7/32]], det S = 33/1024, (S^-1)_22 = (3/16) / det = 64/11,
    # d' S^-1 d = (1/16) (64/11) = 4/11
    x0, x1 = list("aabc"), list("abcc")
    assert tb.smd_categorical(x0, x1) == pytest.approx(np.sqrt(4 / 11), rel=1e-15)
    # an unused category (present in neither arm) changes nothing, whatever its place in the order
    cats = ["0", "a", "b", "c"]
    assert tb.smd_categorical(pd.Categorical(x0, categories=cats), pd.Categorical(x1, categories=cats)) == \
        tb.smd_categorical(x0, x1)
    # the fatigue case: the dropped first level ("0") absent from both arms; the covariance over
    # all levels is singular (numpy.linalg.cond ~ 2e16), the reduced one is not
    fat = tb.smd_categorical(_expand([2, 6, 22], "123"), _expand([3, 11, 16], "123"))
    assert fat == pytest.approx(0.427192104237253, rel=1e-13)
    # invariant to which level is dropped first (relabelling the levels) and to the row order
    relabel = {"1": "z", "2": "b", "3": "a"}
    a0, a1 = _expand([2, 6, 22], "123"), _expand([3, 11, 16], "123")
    assert tb.smd_categorical([relabel[v] for v in a0], [relabel[v] for v in a1]) == pytest.approx(fat, rel=1e-14)
    rng = np.random.default_rng(0)
    assert tb.smd_categorical(rng.permutation(a0), rng.permutation(a1)) == fat           # same bits
    # degenerate: the same single level -> 0; no shared level -> inf; an empty arm -> NaN
    assert tb.smd_categorical(list("bbb"), list("bb")) == 0.0
    assert tb.smd_categorical(list("aab"), list("cc")) == np.inf
    assert np.isnan(tb.smd_categorical([np.nan, np.nan], list("ab")))
    assert tb.smd_categorical(["a", np.nan, "b"], ["a", "b"]) == 0.0                    # missing dropped
    # continuous: same bits whatever the order; constants; too few values
    x = rng.normal(size=101) * 1e6 + 1e9
    y = rng.normal(size=99) * 1e6 + 1e9
    assert tb.smd_continuous(x, y) == tb.smd_continuous(x[::-1], rng.permutation(y))
    assert tb.smd_continuous([2.0, 2.0], [3.0, 3.0]) == np.inf and tb.smd_continuous([3.0, 3], [2.0, 2]) == -np.inf
    assert np.isnan(tb.smd_continuous([1.0], [1.0, 2.0]))


def test_table_one_smd_when_first_level_is_absent_from_two_arms():
    """The fatigue scores of the simulated trial (seed of the default scenario): level 0 only in a
    fourth arm. Python tableone's plain inverse of the singular covariance gave machine-dependent
    values (0.45 / 0.63 committed, 0.28 / 0.53 re-executed); R's value is 0.4272 / 0.6016."""
    ref = pd.read_csv(REFERENCE / "smd_expected.txt", comment="#").set_index("case")["smd"]
    counts = {"control": [0, 2, 6, 22], "msc": [0, 3, 11, 16], "pe": [0, 2, 14, 14], "pe_msc": [1, 1, 12, 16]}
    df = pd.DataFrame([{"arm": a, "symptom_fatigue": lev} for a, c in counts.items()
                       for lev in _expand(c, [0, 1, 2, 3])])
    t1 = tb.table_one(df, load_study(), continuous=[], categorical=["symptom_fatigue"])
    row = t1[t1["variable"] == "symptom_fatigue"].iloc[0]
    for a in ["msc", "pe", "pe_msc"]:
        assert row[f"smd_{a}"] == pytest.approx(ref[f"fatigue_{a}"], rel=1e-13)


def test_severity_table_and_rendering(sim, bl):
    sev = tb.severity_table(bl, sim.study)
    assert {"meld", "meld_na", "child_pugh_class", "aclf_grade"} <= set(sev["variable"])
    cp = sev[sev["variable"] == "child_pugh_class"].set_index("level")
    for lev, k in bl["child_pugh_class"].value_counts().items():
        if k:
            assert cp.loc[str(lev), "overall"].startswith(f"{k} (")
    smd = sev.loc[sev["level"] != "", [c for c in sev.columns if c.startswith("smd_")]].iloc[[0, 2]]
    assert smd.notna().all().all()                                       # singular cases handled
    html = tb.render_table_one(sev, sim.study).as_raw_html()
    assert html == tb.render_table_one(sev, sim.study).as_raw_html()    # deterministic
    for a in sim.study.arm_ids:
        assert sim.study.arm_labels[a] in html
    assert "N = 30" in html and "Child-Pugh class" in html
    assert not any(sid in html for sid in sim.subjects["subject_id"])   # aggregate only


def test_baseline_correlations_against_scipy(bl):
    cols = ["TBIL", "INR", "ALB", "meld"]
    c = tb.baseline_correlations(bl, cols)
    assert len(c) == 6 and c[["var1", "var2"]].iloc[0].tolist() == ["TBIL", "INR"]
    for _, r in c.iterrows():
        rho, p = stats.spearmanr(bl[r["var1"]], bl[r["var2"]])
        assert r["estimate"] == pytest.approx(rho) and r["p_value"] == pytest.approx(p)
    d = bl[cols].copy()
    d.loc[d.index[:5], "INR"] = np.nan
    c = tb.baseline_correlations(d, cols).set_index(["var1", "var2"])
    assert c.loc[("TBIL", "INR"), "n"] == len(d) - 5
    assert c.loc[("TBIL", "INR"), "estimate"] == pytest.approx(d[["TBIL", "INR"]].corr("spearman").iloc[0, 1])


# ---------------------------------------------------------------------------------------------
# infusion reactions
# ---------------------------------------------------------------------------------------------
def _renamed_study():
    """The default design with the infusion factor called 'cells': nothing may assume 'msc'."""
    raw = yaml.safe_load(yaml.safe_dump(load_study().raw))
    raw["factors"] = {"cells": raw["factors"]["msc"], "pe": raw["factors"]["pe"]}
    for arm in raw["arms"]:
        arm["factors"] = {"cells": arm["factors"]["msc"], "pe": arm["factors"]["pe"]}
        if "schedule" in arm:
            arm["schedule"] = {"cells": arm["schedule"]["msc"]}
    return study_from_dict(raw)


def test_infusion_arms_come_from_factor_kind():
    study = _renamed_study()
    assert ts.infusion_factors(study) == ["cells"]
    assert ts.infusion_arms(study) == ["msc", "pe_msc"]
    assert ts.reference_infusion_arm(study) == "msc"
    raw = yaml.safe_load(yaml.safe_dump(load_study().raw))
    raw["factors"]["msc"]["kind"] = "procedure"
    raw["factors"]["pe"]["kind"] = "infusion"
    study = study_from_dict(raw)
    assert ts.infusion_arms(study) == ["pe", "pe_msc"] and ts.reference_infusion_arm(study) == "pe"


def test_infusion_reaction_rules():
    study = _renamed_study()
    subj = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["msc", "pe_msc", "control"]})
    rows = []
    temps = {("a", 1): [36.5, 38.0, 37.0], ("a", 2): [36.5, 37.9, 37.0], ("b", 1): [36.6, 36.8, 36.7]}
    for (sid, k), tt in temps.items():
        day = {1: 0, 2: 7}[k]
        rows += [(sid, k, day, h, v) for h, v in zip([0, 2, 8], tt)]
    rows.append(("b", 1, 0, 12.0, 39.5))                                   # outside the 0-8 h window
    inf = pd.DataFrame(rows, columns=["subject_id", "infusion", "day", "hours_after", "temperature_c"])
    ae = pd.DataFrame({"subject_id": ["a", "b", "b", "c"], "term": "x",
                       "category": ["rash", "allergy", "rash", "rash"], "day": [8, 0, 0, 3],
                       "hours_after_infusion": [7.0, 12.0, 3.0, None], "grade": 1, "related": True,
                       "serious": False})
    t = Trial(study=study, subjects=subj, labs=pd.DataFrame(), events=pd.DataFrame(), infusions=inf,
              adverse_events=ae)
    ev = ts.infusion_reaction_events(t).set_index(["subject_id", "infusion"])
    assert ev["fever"].to_dict() == {("a", 1): True, ("a", 2): False, ("b", 1): False}   # >= 38.0
    assert ev["rash"].to_dict() == {("a", 1): False, ("a", 2): True, ("b", 1): True}     # next-day onset ok
    assert not ev["allergy"].any()                                                         # 12 h: outside
    assert ev.loc[("b", 1), "n_readings"] == 3
    ev38 = ts.infusion_reaction_events(t, fever_threshold=37.9)
    assert ev38["fever"].sum() == 2
    no_ae = ts.infusion_reaction_events(t.with_tables(adverse_events=None))
    assert no_ae["rash"].isna().all() and no_ae["fever"].sum() == 1
    assert ts.infusion_reactions_by_arm(no_ae, study)["reaction"].unique().tolist() == ["fever"]
    with pytest.raises(ValueError, match="no `infusions` table"):
        ts.infusion_reaction_events(t.with_tables(infusions=None))


def test_infusion_reactions_against_direct_counts(sim):
    ev = ts.infusion_reaction_events(sim, fever_threshold=38.0)
    by_arm = ts.infusion_reactions_by_arm(ev, sim.study)
    arm_of = sim.subjects.set_index("subject_id")["arm"]
    inf = sim.infusions[(sim.infusions["hours_after"] >= 0) & (sim.infusions["hours_after"] <= 8)]
    mx = inf.groupby(["subject_id", "infusion"])["temperature_c"].max().reset_index()
    mx["arm"] = mx["subject_id"].map(arm_of)
    for arm in ["msc", "pe_msc"]:
        m = mx[mx["arm"] == arm]
        r = by_arm[(by_arm["arm"] == arm) & (by_arm["reaction"] == "fever")].iloc[0]
        pat = m.groupby("subject_id")["temperature_c"].max() >= 38.0
        assert r["n_patients"] == len(pat) and r["patients_with"] == pat.sum()
        assert r["n_infusions"] == len(m) and r["infusions_with"] == (m["temperature_c"] >= 38.0).sum()
        cp = clopper_pearson(int(pat.sum()), len(pat)).iloc[0]
        assert (r["ci_low"], r["ci_high"]) == (cp["ci_low"], cp["ci_high"])
    assert set(by_arm["arm"]) == {"msc", "pe_msc"}                            # no control, no PE-only
    tests = ts.infusion_reaction_tests(by_arm, sim.study)
    assert tests["arm"].unique().tolist() == ["pe_msc"] and (tests["reference"] == "msc").all()
    f = tests[tests["reaction"] == "fever"].iloc[0]
    assert f["p_value"] == pytest.approx(stats.fisher_exact([[f["x"], f["n"] - f["x"]],
                                                             [f["x_ref"], f["n_ref"] - f["x_ref"]]]).pvalue)
    by_num = ts.infusion_reactions_by_number(ev, sim.study)
    fever = by_num[by_num["reaction"] == "fever"]
    assert fever.groupby("arm")["infusions_with"].sum().to_dict() == \
        by_arm[by_arm["reaction"] == "fever"].set_index("arm")["infusions_with"].to_dict()


def test_temperature_summary_against_pandas(sim):
    s = ts.temperature_summary(sim).set_index(["arm", "hours_after"])
    arm_of = sim.subjects.set_index("subject_id")["arm"]
    inf = sim.infusions.assign(arm=sim.infusions["subject_id"].map(arm_of))
    per = inf[inf["arm"] == "pe_msc"].groupby(["hours_after", "subject_id"])["temperature_c"].mean()
    x = per.loc[2.0]
    r = s.loc[("pe_msc", 2.0)]
    assert r["n"] == len(x) and r["mean"] == pytest.approx(x.mean())
    half = stats.t.ppf(0.975, len(x) - 1) * x.std() / np.sqrt(len(x))
    assert r["ci_low"] == pytest.approx(x.mean() - half) and r["ci_high"] == pytest.approx(x.mean() + half)


# ---------------------------------------------------------------------------------------------
# adverse events and rates
# ---------------------------------------------------------------------------------------------
def test_ae_incidence_against_direct_counts(sim):
    inc = ts.ae_incidence(sim, "category")
    ae = sim.adverse_events.merge(sim.subjects[["subject_id", "arm"]], on="subject_id")
    n_arm = sim.subjects["arm"].value_counts()
    anyr = inc[inc["level"] == "any"].set_index("arm")
    for arm in sim.study.arm_ids:
        assert anyr.loc[arm, "n_patients"] == ae.loc[ae["arm"] == arm, "subject_id"].nunique()
        assert anyr.loc[arm, "n_events"] == (ae["arm"] == arm).sum() and anyr.loc[arm, "n"] == n_arm[arm]
    cat = ae["category"].iloc[0]
    row = inc[(inc["level"] == cat) & (inc["arm"] == "msc")].iloc[0]
    k = ae.loc[(ae["arm"] == "msc") & (ae["category"] == cat), "subject_id"].nunique()
    k0 = ae.loc[(ae["arm"] == "control") & (ae["category"] == cat), "subject_id"].nunique()
    assert row["n_patients"] == k
    assert row["p_value"] == pytest.approx(stats.fisher_exact([[k, n_arm["msc"] - k],
                                                               [k0, n_arm["control"] - k0]]).pvalue)
    assert np.isnan(inc.loc[inc["arm"] == "control", "p_value"]).all()
    grade = ts.ae_incidence(sim, "grade")
    worst = ae.groupby("subject_id")["grade"].max()
    for g in sorted(worst.unique()):
        assert grade.loc[grade["level"] == str(g), "n_patients"].sum() == (worst == g).sum()
    per_grade = grade[grade["level"].isin([str(g) for g in range(1, 6)])].groupby("arm")["n_patients"].sum()
    assert per_grade.to_dict() == anyr["n_patients"].to_dict()             # each patient once
    ser = ts.ae_incidence(sim, "category", serious_only=True)
    assert ser.loc[ser["level"] == "any", "n_events"].sum() == ae["serious"].sum()
    rel = ts.ae_incidence(sim, "related")
    assert rel.loc[rel["level"] == "related", "n_events"].sum() == ae["related"].sum()
    wide = ts.format_incidence(inc, sim.study)
    assert wide.columns[1].startswith(sim.study.arm_labels["control"])


def test_event_rates_against_direct(sim):
    r = ts.event_rates(sim).set_index("arm")
    h = sim.study.horizons["primary"]
    ev = sim.events
    end = ev[ev["event"].isin(["last_contact", "death"])].groupby("subject_id")["day"].max().clip(upper=h)
    arm_of = sim.subjects.set_index("subject_id")["arm"]
    py = (end / 365.25).groupby(end.index.map(arm_of)).sum()
    ae = sim.adverse_events[sim.adverse_events["day"] <= h]
    k = ae["subject_id"].map(arm_of).value_counts()
    for arm in sim.study.arm_ids:
        assert r.loc[arm, "patient_years"] == pytest.approx(py[arm])
        assert r.loc[arm, "events"] == k.get(arm, 0)
        assert r.loc[arm, "estimate"] == pytest.approx(100 * k.get(arm, 0) / py[arm])
    assert np.isnan(r.loc["control", "rate_ratio"])
    assert r.loc["msc", "rate_ratio"] == pytest.approx((k["msc"] / py["msc"]) / (k["control"] / py["control"]))


def test_absent_tables_raise_clear_errors(sim):
    bare = sim.with_tables(adverse_events=None, infusions=None)
    with pytest.raises(ValueError, match="no `adverse_events` table"):
        ts.ae_incidence(bare)
    with pytest.raises(ValueError, match="no `infusions` table"):
        ts.temperature_summary(bare)


# ---------------------------------------------------------------------------------------------
# lab shift tables
# ---------------------------------------------------------------------------------------------
def test_ctcae_grades_at_the_boundaries():
    assert ts.ctcae_grade([40, 40.01, 120, 120.01, 200, 200.01, 800, 800.01, np.nan], "ALT", 40).tolist() == \
        [0, 1, 1, 2, 2, 3, 3, 4, -1]
    assert ts.ctcae_grade([17.1, 25.65, 25.66, 51.3, 51.31, 171, 171.1], "TBIL", 17.1).tolist() == \
        [0, 1, 2, 2, 3, 3, 4]
    with pytest.raises(ValueError):
        ts.ctcae_grade([1.0], "ALB", 1)


def test_shift_table_against_direct(sim):
    st = ts.shift_table(sim, "ALT")
    assert (st["uln"] == 40.0).all()
    bl = baseline_dataset(sim, scores=False)
    post = sim.labs[(sim.labs["parameter"] == "ALT") & (sim.labs["day"] >= 1) & (sim.labs["day"] <= 336)]
    worst = post.groupby("subject_id")["value"].max()
    base_g = ts.ctcae_grade(bl["ALT"], "ALT", 40.0)
    worst_g = ts.ctcae_grade(bl["subject_id"].map(worst).astype(float), "ALT", 40.0)
    for _, row in st.iterrows():
        m = (bl["arm"] == row["arm"]).to_numpy() & (base_g == int(row["baseline_grade"]))
        assert row["n"] == m.sum()
        for g in range(5):
            assert row[f"grade_{g}"] == ((worst_g == g) & m).sum()
        assert row["no_post_baseline"] == ((worst_g == -1) & m).sum()
    assert st["n"].sum() == len(bl)


def test_shift_table_unit_check():
    raw = yaml.safe_load(yaml.safe_dump(load_study().raw))
    raw["parameters"]["TBIL"]["unit"] = "mg/dL"
    raw["parameters"]["TBIL"].pop("uln")  # the CTCAE default ULN, converted: 17.1 umol/L = 1.0 mg/dL
    t = Trial(study=study_from_dict(raw), subjects=pd.DataFrame({"subject_id": ["a"], "arm": ["control"]}),
              labs=pd.DataFrame({"subject_id": ["a", "a"], "day": [0, 5], "visit": ["D0", ""], "parameter": "TBIL",
                                 "value": [5.0, 12.0], "unit": "mg/dL"}), events=pd.DataFrame())
    st = ts.shift_table(t, "TBIL")
    assert st.iloc[0]["uln"] == pytest.approx(1.0)
    assert st.iloc[0][["baseline_grade", "grade_4"]].tolist() == ["3", 1]
    pd.testing.assert_frame_equal(st, ts.shift_table(t, "TBIL", uln=1.0))
    raw["parameters"]["TBIL"]["unit"] = "mmol/L"  # no known conversion: the study file must say
    with pytest.raises(ValueError, match="declare `uln` in the study file"):
        ts.uln_for(study_from_dict(raw), "TBIL")


def test_a_uln_without_a_ctcae_rule_grades_nothing(sim):
    """A study file may give ``uln`` for any lab (e.g. alkaline phosphatase); only parameters with a CTCAE
    grading rule get a shift table (before: ctcae_grade raised in notebook 02)."""
    import dataclasses

    raw = yaml.safe_load(yaml.safe_dump(load_study().raw))
    raw["parameters"]["ALB"]["uln"] = 55.0
    raw["parameters"]["ALT"].pop("uln")
    trial = dataclasses.replace(sim, study=study_from_dict(raw))
    assert ts.shift_parameters(trial) == ["TBIL"]
    assert ts.shift_parameters(sim) == ["ALT", "TBIL"]


def test_write_html_is_deterministic(sim, bl, tmp_path):
    t1 = tb.table_one(bl, sim.study, continuous=["age"], categorical=["sex"])
    gt = tb.render_table_one(t1, sim.study)
    tb.write_html(gt, "demo_table", tmp_path)
    first = (tmp_path / "tables" / "demo_table.html").read_bytes()
    tb.write_html(tb.render_table_one(t1, sim.study), "demo_table", tmp_path)
    assert first == (tmp_path / "tables" / "demo_table.html").read_bytes()
    assert b"<html" in first and b"Age (years)" in first
    tb.write_html(gt, "nothing", None)                                   # interactive: writes nothing
    with pytest.raises(ValueError):
        tb.write_html(gt, "Bad Name", tmp_path)
    assert "symptom_fatigue" in tb.default_table_one_variables(bl, sim.study)["categorical"]


def test_table_one_lists_hbv_dna_once():
    from trialkit.study import load_study
    from trialkit.tables.baseline import default_table_one_variables

    df = pd.DataFrame({"arm": ["control", "msc"], "hbv_dna_log10": [5.1, 6.2], "HBVDNA": [5.1, 6.2], "ALT": [1.0, 2.0]})
    assert default_table_one_variables(df, load_study())["continuous"] == ["hbv_dna_log10", "ALT"]
    assert default_table_one_variables(df.drop(columns="hbv_dna_log10"), load_study())["continuous"] == \
        ["ALT", "HBVDNA"]  # study-file order


# ---------------------------------------------------------------------------------------------
# The report's rounding rule (trialkit.tables.display) and its use in notebooks
# ---------------------------------------------------------------------------------------------
def test_display_rounding_rule_by_column_kind():
    from trialkit.tables.display import column_kind, display_table, format_number

    df = pd.DataFrame({"label": ["a", None, "c"], "n": [30, 29, 1], "events": [3.0, np.nan, 12.0],
                       "estimate": [0.5, 0.313492, 1234.56], "ci_high": [0.99951, -0.0001234, np.inf],
                       "p_value": [0.04567, 0.00099, 0.995], "interaction_p_value": [0.5, np.nan, 0.001],
                       "pct_missed": [12.345, 0.0, 100.0], "converged": [True, False, True]})
    before = df.copy()
    shown = display_table(df)
    assert shown.to_dict("list") == {
        "label": ["a", "", "c"], "n": ["30", "29", "1"], "events": ["3", "", "12"],
        "estimate": ["0.500", "0.313", "1235"], "ci_high": ["1.00", "-0.000123", "inf"],
        "p_value": ["0.046", "<0.001", "0.99"], "interaction_p_value": ["0.50", "", "0.0010"],
        "pct_missed": ["12.3", "0.0", "100.0"], "converged": [True, False, True]}
    pd.testing.assert_frame_equal(df, before)                          # display only
    assert [column_kind(c, df[c]) for c in df] == ["text", "count", "count", "estimate", "estimate",
                                                    "p_value", "p_value", "percentage", "text"]
    with pytest.raises(ValueError, match="kind 'decimal'"):
        format_number(0.5, "decimal")


def test_notebook_dataframes_show_full_text_and_the_rounding_rule(tmp_path):
    """In a kernel, notebook_setup routes every displayed DataFrame through display_table and
    never cuts a cell with "..."; the saved CSV keeps full precision."""
    from IPython.core.interactiveshell import InteractiveShell

    from trialkit.report.save import notebook_setup, save_table

    shell = InteractiveShell.instance()
    try:
        out = notebook_setup(tmp_path)
        text = "all randomized subjects, analysed as randomized (intention to treat), any follow-up"
        df = save_table(pd.DataFrame({"population": [text], "estimate": [0.313492], "p_value": [0.0412]}),
                        "demo_display", out)
        data, _ = shell.display_formatter.format(df)
        for mime in ("text/html", "text/plain"):
            assert text in data[mime] and "..." not in data[mime] and "…" not in data[mime]
            assert "0.313" in data[mime] and "0.041" in data[mime] and "0.3134" not in data[mime]
        assert (tmp_path / "tables" / "demo_display.csv").read_text().splitlines()[1].endswith(",0.313492,0.0412")
    finally:
        InteractiveShell.clear_instance()
        pd.reset_option("display.max_colwidth")
