"""Symptoms (ordinal), worst-rank composite, multiplicity and subgroups, against R where R has the test.

Reference numbers: ``tests/reference/efficacy.R`` — ``wilcox.test(exact = FALSE, correct = FALSE)``,
``p.adjust(method = "holm")``, ``coxph(..., ties = "efron")``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trialkit.stats import multiplicity as M
from trialkit.stats import ordinal as O
from trialkit.stats import subgroups as SG
from trialkit.stats import worst_rank as W

REF = Path(__file__).parent / "reference"
ARMS = ["control", "msc", "pe", "pe_msc"]


def close(a, b, tol=1e-6):
    return abs(a - b) <= tol * max(abs(b), 1e-12)


# ------------------------------------------------------------------------------------------------
# symptoms
# ------------------------------------------------------------------------------------------------
def test_ordinal_test_against_R(R):
    sy = pd.read_csv(REF / "efficacy_symptoms.csv")
    t = O.ordinal_test(sy[sy["symptom"] == "fatigue"], arms=ARMS)
    assert t["arm"].tolist() == ARMS[1:]
    for r in t.itertuples():
        assert close(r.statistic, R[("ordinal_fatigue", f"{r.arm}:W")])
        assert close(r.p_value, R[("ordinal_fatigue", f"{r.arm}:p")])
        assert r.ci_low < r.prob_index < r.ci_high


@pytest.mark.parametrize("m,n,kind", [(1, 1, "ties"), (1, 6, "ties"), (7, 3, "ties"), (40, 25, "halves"),
                                        (300, 450, "ties"), (500, 800, "continuous"), (1200, 900, "halves")])
def test_mann_whitney_placements_equal_the_comparison_matrix(m, n, kind):
    """The placement values by binary search are the m x n comparison matrix's, bit for bit."""
    rng = np.random.default_rng(m * 1000 + n)

    def draw(k):
        if kind == "ties":
            return rng.integers(0, 5, k).astype(float)
        v = rng.normal(size=k)
        return np.round(v * 2) / 2 if kind == "halves" else v

    x, y = draw(m), draw(n)
    gt = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    v10, v01, pi = O._placements(x, y)
    assert np.array_equal(v10, gt.mean(axis=1)) and np.array_equal(v01, gt.mean(axis=0))
    assert pi == float(gt.mean())
    se = float(np.sqrt((gt.mean(axis=1).var(ddof=1) / m if m > 1 else 0)
                       + (gt.mean(axis=0).var(ddof=1) / n if n > 1 else 0)))
    r = O.mann_whitney(x, y)
    assert r["prob_index"] == pi and r["prob_index_se"] == se


def test_mann_whitney_probabilistic_index():
    r = O.mann_whitney([3, 4, 5, 6], [1, 2, 3])
    # pairs won: 3>1,3>2,3=3(half),4,5,6 beat all three: 2.5 + 9 = 11.5 of 12
    assert r["statistic"] == 11.5 and np.isclose(r["prob_index"], 11.5 / 12)
    ref = stats.mannwhitneyu([3, 4, 5, 6], [1, 2, 3], use_continuity=False, method="asymptotic")
    assert np.isclose(r["p_value"], ref.pvalue)
    assert np.isnan(O.mann_whitney([], [1, 2])["p_value"])


def test_symptom_improvement_denominators():
    o = pd.DataFrame({"arm": ["c"] * 5 + ["t"] * 4, "symptom": "fatigue",
                      "baseline": [2, 2, 0, 3, 1, 2, 2, 1, 3],
                      "event": [0, 1, 0, 0, 0, 0, 0, 0, 1],
                      "improved": [1, 0, 0, np.nan, 0, 1, 1, 0, 0]})
    t = O.symptom_improvement(o, arms=["c", "t"]).set_index("arm")
    # control: baseline 0 excluded (cannot improve); the missing survivor excluded; the death counts as 0
    assert t.loc["c", "n"] == 3 and t.loc["c", "n_improved"] == 1 and t.loc["c", "n_event"] == 1
    assert t.loc["c", "n_missing"] == 1
    assert t.loc["t", "n"] == 4 and t.loc["t", "proportion"] == 0.5
    assert np.isclose(t.loc["t", "difference"], 0.5 - 1 / 3)
    assert t.loc["t", "difference_ci_low"] < t.loc["t", "difference"] < t.loc["t", "difference_ci_high"]
    assert np.isnan(t.loc["c", "difference"])
    all_ = O.symptom_improvement(o, arms=["c", "t"], among="all").set_index("arm")
    assert all_.loc["c", "n"] == 4
    lo, hi = t.loc["t", ["ci_low", "ci_high"]]
    from statsmodels.stats.proportion import proportion_confint
    assert np.allclose([lo, hi], proportion_confint(2, 4, method="wilson"))


# ------------------------------------------------------------------------------------------------
# worst rank
# ------------------------------------------------------------------------------------------------
def test_worst_rank_against_R(R):
    """R ranks its own composite (deaths first by day, then survivors by -change) and runs wilcox.test."""
    wr = pd.read_csv(REF / "efficacy_worst_rank.csv")
    t = W.worst_rank_test(wr, higher_is_better=False, arms=ARMS)
    for r in t.itertuples():
        assert close(r.statistic, R[("worst_rank_TBIL", f"{r.arm}:W")])
        assert close(r.p_value, R[("worst_rank_TBIL", f"{r.arm}:p")])
    assert t["events_control"].nunique() == 1 and (t["events"] <= t["n"]).all()


def test_worst_rank_orders_deaths_below_every_survivor():
    d = pd.DataFrame({"event": [1, 1, 0, 0, 0], "event_day": [30, 5, np.nan, np.nan, np.nan],
                      "change": [np.nan, np.nan, -100.0, 0.0, 5.0]})
    up = W.worst_rank_scores(d, higher_is_better=True).tolist()
    assert up == [2.0, 1.0, 3.0, 4.0, 5.0]  # the earlier death is worst; the worst survivor beats both deaths
    down = W.worst_rank_scores(d, higher_is_better=False).tolist()
    assert down == [2.0, 1.0, 5.0, 4.0, 3.0]
    with pytest.raises(ValueError):
        W.worst_rank_scores(d.assign(change=[np.nan, np.nan, np.nan, 0, 1]), higher_is_better=True)


def test_worst_rank_effect_direction():
    d = pd.DataFrame({"arm": ["c"] * 6 + ["t"] * 6, "event": [1, 1, 0, 0, 0, 0] + [0] * 6,
                      "event_day": [10, 20] + [np.nan] * 10,
                      "change": [np.nan, np.nan, 0, 1, 2, 3] + [2, 3, 4, 5, 6, 7]})
    t = W.worst_rank_test(d, higher_is_better=True, arms=["c", "t"])
    assert t["prob_index"].item() > 0.85 and t["p_value"].item() < 0.05
    assert W.worst_rank_test(d, higher_is_better=False, arms=["c", "t"])["prob_index"].item() < 0.5


# ------------------------------------------------------------------------------------------------
# multiplicity
# ------------------------------------------------------------------------------------------------
def test_holm_against_R(R):
    pv = [0.012, 0.049, 0.003, 0.2, 0.04, np.nan, 0.0101]
    got = M.holm(pv)
    for i, g in enumerate(got):
        want = R[("holm", str(i + 1))]
        assert (np.isnan(g) and np.isnan(want)) or close(g, want)


def test_multiplicity_roles():
    t = pd.concat([M.hypotheses(pd.DataFrame({"h": ["global"], "p_value": [0.04]}), "primary", "h"),
                   M.hypotheses(pd.DataFrame({"parameter": ["ALT", "TBIL"], "arm": ["msc", "msc"],
                                              "p_value": [0.01, 0.03]}), "labs", "parameter", "arm"),
                   M.hypotheses(pd.DataFrame({"v": ["age"], "pi": [0.001]}), "subgroups", "v", p_column="pi")])
    m = M.multiplicity_table(t, primary="primary", secondary=["labs"])
    assert m["role"].tolist() == ["confirmatory", "secondary (Holm in family)", "secondary (Holm in family)",
                                  "exploratory (unadjusted)"]
    assert m["hypothesis"].tolist()[1] == "ALT / msc"
    assert np.allclose(m["p_adjusted"].iloc[:3], [0.04, 0.02, 0.03])
    assert m["significant"].tolist()[:3] == [True, True, True] and pd.isna(m["significant"].iloc[3])
    s = M.family_summary(m)
    assert s["hypotheses"].tolist() == [1, 2, 1] and s["significant"].tolist() == [1, 2, 0]


# ------------------------------------------------------------------------------------------------
# subgroups
# ------------------------------------------------------------------------------------------------
def test_subgroups_against_R(R):
    """R: coxph(~ msc + pe) within MELD <= / > median, and coxph(~ msc + pe + meld_hi + msc:meld_hi)."""
    tte = pd.read_csv(REF / "efficacy_tte.csv")
    sg = SG.subgroup_cox(tte, treatment="msc", adjust=["pe"], subgroups={"meld_bl": "median"})
    assert sg["level"].tolist()[0].startswith("≤") and sg["level"].tolist()[1].startswith(">")
    for i, r in enumerate(sg.itertuples()):
        assert close(np.log(r.estimate), R[("subgroup_meld", f"level{i}:coef")])
        se = (np.log(r.ci_high) - np.log(r.ci_low)) / (2 * stats.norm.ppf(0.975))
        assert close(se, R[("subgroup_meld", f"level{i}:se")])
    z = R[("subgroup_meld", "interaction_z")]
    assert close(sg["interaction_p_value"].iloc[0], stats.chi2.sf(z ** 2, 1))
    assert sg["n"].sum() == len(tte)


def test_subgroup_levels_and_guards():
    assert SG.subgroup_levels(pd.Series([30.0, 50, np.nan]), 40).tolist()[:2] == ["< 40", "≥ 40"]
    rng = np.random.default_rng(0)
    n = 120
    d = pd.DataFrame({"msc": rng.integers(0, 2, n), "site": rng.choice(["A", "B", "C"], n),
                      "flag": rng.random(n) < 0.1})
    d["time"] = rng.exponential(100, n)
    d["event"] = (d["time"] < 120).astype(int)
    d["time"] = d["time"].clip(upper=120)
    d.loc[d["flag"], "event"] = 0  # no event at all in the flagged subgroup
    sg = SG.subgroup_cox(d, treatment="msc", subgroups={"site": None, "flag": None, "missing": None})
    site = sg[sg["variable"] == "site"]
    assert site["level"].tolist() == ["A", "B", "C"] and site["interaction_p_value"].nunique() == 1
    flag = sg[sg["variable"] == "flag"].set_index("level")
    assert flag.loc["yes", "note"] == "too few events" and np.isnan(flag.loc["yes", "estimate"])
    assert flag["interaction_p_value"].isna().all()  # not estimable without events in a level
    assert sg.loc[sg["variable"] == "missing", "note"].item() == "variable not in the data"
    assert sg.loc[sg["variable"] == "site", "label"].iloc[0] == "site"
    assert SG.subgroup_cox(d.assign(cirrhosis=d["flag"]), treatment="msc",
                           subgroups={"cirrhosis": None})["label"].iloc[0] == "Cirrhosis"
