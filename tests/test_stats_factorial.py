"""Factorial reporting (trialkit.stats.factorial): margins with the interaction beside them, inside-the-table
estimates, and the designs that are not factorial."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialkit.stats import factorial as F
from trialkit.stats import survival as S
from trialkit.study import load_study, study_from_dict

REF = Path(__file__).parent / "reference"


def study_with(arms, factors=("msc", "pe")):
    raw = dict(load_study().raw)
    raw["factors"] = {f: raw["factors"][f] for f in factors}
    raw["arms"] = arms
    raw["control_arm"] = arms[0]["id"]
    return study_from_dict(raw)


def test_which_designs_are_factorial():
    assert F.is_factorial(load_study())
    two = study_with([{"id": "soc", "label": "SOC", "factors": {"msc": False}},
                      {"id": "cells", "label": "MSC", "factors": {"msc": True}}], factors=("msc",))
    assert F.not_factorial_reason(two).startswith("not a factorial design: the study has 1 treatment factor")
    three = study_with([a for a in load_study().raw["arms"] if a["id"] != "pe_msc"])
    assert "3 of the 4 combinations" in F.not_factorial_reason(three)
    with pytest.raises(ValueError, match="not a"):
        F.factorial_report(pd.Series(dtype=float), pd.DataFrame(), pd.Series(dtype=float), pd.DataFrame(), two)


def test_survival_factorial_against_R(tte, R):
    """Margins come from coxph(~ msc + pe), the interaction from coxph(~ msc * pe) (R, Efron)."""
    t = F.survival_factorial(tte, load_study())
    m = t[t["section"] == "margins"].set_index("factor")
    for f in ("msc", "pe"):
        assert np.isclose(m.loc[f, "coef"], R[("cox_main", f + ":coef")], rtol=1e-6)
        assert np.isclose(m.loc[f, "se"], R[("cox_main", f + ":se")], rtol=1e-6)
        assert np.isclose(m.loc[f, "estimate"], np.exp(R[("cox_main", f + ":coef")]), rtol=1e-6)
        assert np.isclose(np.log(m.loc[f, "interaction_estimate"]), R[("cox_factorial", "msc:pe:coef")], rtol=1e-6)
        assert m.loc[f, "interaction"] == "UC-MSC × Plasma exchange"
    z = R[("cox_main", "msc:z")]
    from scipy import stats
    assert np.isclose(m.loc["msc", "p_value"], 2 * stats.norm.sf(abs(z)), rtol=1e-6)


def test_inside_the_table_estimates_equal_the_arm_model(tte):
    """Each arm vs control from the interaction model equals the arm-indicator Cox model (same design)."""
    t = F.survival_factorial(tte, load_study())
    inside = t[t["section"] == "arm vs control"].set_index("comparison")["estimate"]
    arm = S.cox_arm(tte, load_study()).table.set_index("label")["estimate"]
    for label, hr in arm.items():
        assert np.isclose(inside[label], hr, rtol=1e-8)
    simple = t[t["section"] == "simple effect"].set_index("comparison")
    # the effect of UC-MSC without PE is the UC-MSC arm vs control; with PE it is PE+MSC vs PE
    assert np.isclose(simple.loc["UC-MSC vs no UC-MSC, without Plasma exchange", "estimate"],
                      arm["UC-MSC vs Conventional care"], rtol=1e-8)
    assert np.isclose(simple.loc["UC-MSC vs no UC-MSC, with Plasma exchange", "estimate"],
                      arm["PE + UC-MSC vs Conventional care"] / arm["Plasma exchange vs Conventional care"], rtol=1e-8)


def test_report_on_a_linear_scale_with_t_intervals():
    s = load_study()
    idx = ["msc", "pe"]
    main = pd.Series([1.0, 0.5], index=idx)
    mcov = pd.DataFrame(np.diag([0.25, 0.25]), index=idx, columns=idx)
    fidx = ["msc", "pe", "msc:pe"]
    full = pd.Series([1.2, 0.7, -0.4], index=fidx)
    fcov = pd.DataFrame(np.diag([0.5, 0.5, 1.0]), index=fidx, columns=fidx)
    t = F.factorial_report(main, mcov, full, fcov, s, df=20, outcome="difference")
    m = t[t["section"] == "margins"].set_index("factor")
    from scipy import stats
    q = stats.t.ppf(0.975, 20)
    assert np.isclose(m.loc["msc", "ci_high"], 1.0 + q * 0.5)
    assert np.isclose(m.loc["msc", "interaction_estimate"], -0.4)
    assert np.isclose(m.loc["msc", "interaction_ci_low"], -0.4 - q * 1.0)
    a = t[t["section"] == "arm vs control"].set_index("comparison")["estimate"]
    assert np.isclose(a["PE + UC-MSC vs Conventional care"], 1.2 + 0.7 - 0.4)
    assert (t["outcome"] == "difference").all()


def test_mmrm_factorial_table(tte):
    labs = pd.read_csv(REF / "efficacy_labs.csv")
    long = labs.assign(scale=np.where(labs["parameter"] == "TBIL", "log", "identity"), survivor=True)
    t = F.mmrm_factorial(long, load_study(), "W24", covariance="random_intercept")
    assert list(t.columns[:2]) == ["parameter", "visit"] and set(t["parameter"]) == {"TBIL", "ALB"}
    tb = t[(t["parameter"] == "TBIL") & (t["section"] == "margins")]
    assert (tb["outcome"] == "ratio of geometric means").all()
    assert np.allclose(tb["estimate"], np.exp(tb["coef"]))
    assert F.mmrm_factorial(long, load_study(), "W99").empty
