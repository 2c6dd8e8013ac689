"""Efficacy figures (trialkit.plots.survival, forest, longitudinal) and the efficacy notebook on a
two-arm design with another horizon and visit schedule."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from conftest import run_notebook  # noqa: E402
from trialkit.plots.forest import forest_panels, forest_plot  # noqa: E402
from trialkit.plots.longitudinal import lsmeans_plot, symptom_bars  # noqa: E402
from trialkit.plots.survival import cif_plot, default_times, km_plot  # noqa: E402
from trialkit.stats.survival import number_at_risk  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_km_plot_draws_the_number_at_risk_table(tte):
    arms = ["control", "msc", "pe", "pe_msc"]
    times = [0, 56, 112, 168, 224, 280, 336]
    fig = km_plot(tte, groups=arms, labels={"control": "Control"}, times=times, horizon=336)
    ax, tab = fig.axes
    expected = number_at_risk(tte, times, groups=arms)
    drawn = [int(t.get_text()) for t in tab.texts]
    assert drawn == expected.to_numpy().ravel().tolist()
    assert [t.get_text() for t in tab.get_yticklabels()] == ["pe_msc", "pe", "msc", "Control"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Control", "msc", "pe", "pe_msc"]
    assert ax.get_xlim() == (0.0, 48.0)
    # curves plus CI bands: one step line and one filled band per arm
    assert len(ax.collections) >= len(arms)


def test_number_at_risk_counts_subjects_still_followed():
    d = pd.DataFrame({"arm": ["a", "a", "a", "b"], "time": [3.0, 7.0, 7.0, 1.0], "event": [1, 0, 1, 1]})
    n = number_at_risk(d, [0, 3, 4, 7, 8])
    assert n.loc["a"].tolist() == [3, 3, 2, 2, 0]
    assert n.loc["b"].tolist() == [1, 0, 0, 0, 0]


def test_default_times():
    assert default_times(168) == [0.0, 28.0, 56.0, 84.0, 112.0, 140.0, 168.0]
    assert default_times(360)[-1] <= 360 and len(default_times(360)) <= 9


def test_forest_plot_rows_groups_and_missing():
    df = pd.DataFrame({"var": ["MELD", "MELD", "Age"], "level": ["low", "high", "young"],
                       "estimate": [0.7, np.nan, 1.2], "ci_low": [0.4, np.nan, 0.8], "ci_high": [1.1, np.nan, 1.9]})
    ax = forest_plot(df, label="level", group="var", log=True)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["MELD", "   low", "   high", "Age", "   young"]
    assert [t.get_fontweight() for t in ax.get_yticklabels()][0] == "bold"
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["0.70 (0.40 to 1.10)", "—", "1.20 (0.80 to 1.90)"]
    assert ax.get_xscale() == "log"


def test_forest_panels_use_their_own_scale():
    d = pd.DataFrame({"lab": ["ALB", "ALB", "TBIL"], "arm": ["x", "y", "x"], "estimate": [2.0, 1.0, 0.8],
                      "ci_low": [1.0, -0.5, 0.6], "ci_high": [3.0, 2.5, 1.1], "scale": ["identity", "identity", "log"]})
    fig = forest_panels(d, panel="lab", log_column="scale", label="arm")
    a, b = fig.axes
    assert a.get_xscale() == "linear" and b.get_xscale() == "log"
    assert a.get_title(loc="left") == "ALB" and len(a.get_yticklabels()) == 2


def test_lsmeans_plot_panels():
    ls = pd.DataFrame({"parameter": ["A"] * 4 + ["B"] * 4, "arm": ["c", "c", "t", "t"] * 2,
                       "visit_day": [7, 28] * 4, "display_estimate": [0.0, 1, 0.5, 2, 1.0, 0.9, 1.1, 0.8],
                       "display_ci_low": [-1.0, 0, 0, 1, 0.9, 0.8, 1.0, 0.7],
                       "display_ci_high": [1.0, 2, 1, 3, 1.1, 1.0, 1.2, 0.9],
                       "scale": ["identity"] * 4 + ["log"] * 4})
    fig = lsmeans_plot(ls, arms=["c", "t"], labels={"t": "Treated"}, titles={"A": "Albumin"})
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in visible] == ["Albumin", "B"]
    assert visible[1].get_ylabel().startswith("Ratio")
    assert [t.get_text() for t in visible[0].get_legend().get_texts()] == ["c", "Treated"]


def test_symptom_bars_stack_to_one():
    sv = pd.DataFrame({"arm": ["c"] * 4 + ["t"] * 2, "symptom": "fatigue", "visit": ["V0", "V0", "V1", "V1", "V0", "V1"],
                       "visit_day": [0, 0, 7, 7, 0, 7], "score": [0, 3, 1, 1, 2, 0]})
    fig = symptom_bars(sv, symptom="fatigue", arms=["c", "t"])
    ax = fig.axes[0]
    heights = np.array([p.get_height() for p in ax.patches]).reshape(4, 2)  # 4 scores x 2 visits
    assert np.allclose(heights.sum(axis=0), 1.0)
    assert np.allclose(heights[:, 0], [0.5, 0, 0, 0.5])
    assert [t.get_text() for t in ax.texts] == ["2", "2"]


def test_cif_plot():
    c = pd.DataFrame({"group": ["a", "a", "b", "b"], "time": [0.0, 70, 0, 70], "estimate": [0.0, 0.1, 0.0, 0.05]})
    ax = cif_plot(c, labels={"a": "A"})
    assert len(ax.lines) == 2 and ax.get_ylim()[1] >= 0.1


# ------------------------------------------------------------------------------------------------
# the notebook on a two-arm design
# ------------------------------------------------------------------------------------------------
def test_efficacy_notebook_runs_on_a_two_arm_study(tmp_path):
    """notebooks/03_efficacy.ipynb, unchanged, on params/study_two_arm.yaml (one factor, two arms, horizons
    168/84 days, other visit ids) simulated with the two-arm scenario of params/two_arm.yaml."""
    run = yaml.safe_load((ROOT / "params" / "two_arm.yaml").read_text())
    out = tmp_path / "out"
    text = run_notebook("03_efficacy.ipynb", tmp_path, study_file=str(ROOT / "params" / "study_two_arm.yaml"),
                        scenario=run["scenario"], out_dir=str(out))
    assert "Not a factorial design" in text and "Factorial analysis skipped" in text
    tables = {p.stem for p in (out / "tables").glob("*.csv")}
    assert {"efficacy_estimands", "efficacy_km_survival", "efficacy_logrank", "efficacy_cox_arm", "efficacy_rmst",
            "efficacy_lsmeans", "efficacy_contrasts_w24", "efficacy_symptoms", "efficacy_immune", "efficacy_hcc",
            "efficacy_worst_rank", "efficacy_subgroups", "efficacy_multiplicity"} <= tables
    assert "efficacy_cox_factorial" not in tables and "efficacy_factorial_labs" not in tables
    w24 = pd.read_csv(out / "tables" / "efficacy_contrasts_w24.csv")
    assert set(w24["visit"]) == {"WK12"} and set(w24["arm"]) == {"ucmsc"}
    km = pd.read_csv(out / "tables" / "efficacy_km_survival.csv")
    assert km["time"].max() == 168 and set(km["group"]) == {"soc", "ucmsc"}
    # aggregate only: no subject identifier in any output or table
    import re

    import trialkit as tk

    ids = tk.simulate(study=ROOT / "params" / "study_two_arm.yaml", scenario=run["scenario"]).subjects["subject_id"]
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(map(re.escape, ids)) + r")(?![A-Za-z0-9_])")
    assert not pattern.search(text)
    for p in (out / "tables").glob("*.csv"):
        assert not pattern.search(p.read_text()), p.name
