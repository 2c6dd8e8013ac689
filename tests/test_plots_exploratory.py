"""trialkit.plots: CONSORT, trajectories, correlation heatmap, safety figures (content, not pixels)."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import trialkit  # noqa: E402
from trialkit.derive import assign_visits, baseline_dataset, consort_counts  # noqa: E402
from trialkit.derive.tte import competing_risks  # noqa: E402
from trialkit.plots import consort as pc  # noqa: E402
from trialkit.plots import safety as ps  # noqa: E402
from trialkit.plots import trajectories as pt  # noqa: E402
from trialkit.stats.competing import aalen_johansen  # noqa: E402
from trialkit.tables.baseline import baseline_correlations  # noqa: E402
from trialkit.tables.safety import temperature_summary  # noqa: E402


@pytest.fixture(scope="module")
def sim():
    return trialkit.open_dataset("simulate", seed=11)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _all_text(fig) -> str:
    texts = [t.get_text() for t in fig.findobj(matplotlib.text.Text)]
    return "\n".join(texts)


def test_consort_figure_shows_the_counts(sim):
    counts = consort_counts(sim)
    ax = pc.plot_consort(counts, horizon_label="week 48")
    text = _all_text(ax.figure)
    total = counts.set_index("arm").loc["total"]
    assert f"Randomized (n = {total['allocated']})" in text
    for _, r in counts[counts["arm"] != "total"].iterrows():
        assert f"(n = {r['allocated']})" in text and f"Died (n = {r['died']})" in text
        assert f"Analysed (n = {r['analysed']})" in text
    boxes = [t for t in ax.texts if t.get_bbox_patch() is not None]
    assert len(boxes) == 1 + 3 * len(sim.study.arm_ids)
    arrows = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]
    assert len(arrows) == 3 * len(sim.study.arm_ids)
    assert not any(sid in text for sid in sim.subjects["subject_id"])


def test_consort_texts_for_arm_without_active_treatment(sim):
    texts = pc.consort_box_texts(consort_counts(sim))
    ctl = texts["arms"][sim.study.arm_ids.index(sim.study.control_arm)]
    assert "no study treatment to give" in ctl["allocation"]
    other = texts["arms"][1]["allocation"]
    assert "in full (n = " in other and "not at all (n = " in other


def test_consort_says_treatment_not_recorded_when_the_data_have_no_doses(sim):
    """A trial whose subjects table has no ``<factor>_doses`` columns: the active arms' boxes say the
    treatment received is not recorded, not "in full (n = 0) ... doses not recorded (n = 30)"; with the
    doses of only some subjects missing, the counts stay and the unknown ones are counted apart."""
    import dataclasses

    doses = [c for c in sim.subjects.columns if c.endswith("_doses")]
    bare = dataclasses.replace(sim, subjects=sim.subjects.drop(columns=doses))
    texts = pc.consort_box_texts(consort_counts(bare))
    for arm, box in zip(sim.study.arm_ids, texts["arms"]):
        if arm == sim.study.control_arm:
            assert "no study treatment to give" in box["allocation"]
        else:
            assert "treatment received: not recorded" in box["allocation"]
            assert "in full" not in box["allocation"] and "doses not recorded" not in box["allocation"]
    some = sim.subjects.copy()
    some.loc[some.index[:3], doses] = np.nan
    counts = consort_counts(dataclasses.replace(sim, subjects=some))
    assert counts.set_index("arm").loc["total", "treatment_unknown"] > 0
    joined = "\n".join(b["allocation"] for b in pc.consort_box_texts(counts)["arms"])
    assert "doses not recorded (n = " in joined and "in full (n = " in joined


def test_trajectory_data_and_summary_against_pandas(sim):
    d = pt.trajectory_data(sim, ["TBIL", "meld"])
    assert set(d["parameter"]) == {"TBIL", "meld"} and set(d["outcome"]) <= {"survivor", "died", "transplanted"}
    av = assign_visits(sim.labs[sim.labs["parameter"] == "TBIL"], sim.study)
    mine = d[d["parameter"] == "TBIL"].set_index(["subject_id", "visit"])["value"].sort_index()
    ref = av.set_index(["subject_id", "visit"])["value"].sort_index()
    ref.index = ref.index.set_levels([lvl.astype(object) for lvl in ref.index.levels])
    pd.testing.assert_series_equal(mine, ref, check_index_type=False)
    s = pt.summarize_trajectories(d)
    x = d[(d["arm"] == "pe") & (d["parameter"] == "TBIL") & (d["visit"] == "D28")]["value"]
    r = s[(s["arm"] == "pe") & (s["parameter"] == "TBIL") & (s["visit"] == "D28")].iloc[0]
    half = stats.t.ppf(0.975, len(x) - 1) * x.std() / np.sqrt(len(x))
    assert r["n"] == len(x) and r["mean"] == pytest.approx(x.mean())
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    g = pt.summarize_trajectories(d, log=True)
    r = g[(g["arm"] == "pe") & (g["parameter"] == "TBIL") & (g["visit"] == "D28")].iloc[0]
    assert r["mean"] == pytest.approx(np.exp(np.log(x).mean()))
    assert list(pd.unique(s["arm"])) == sim.study.arm_ids


def test_individual_trajectories_are_anonymous_and_deterministic(sim):
    d = pt.trajectory_data(sim, ["ALT"])

    def render():
        ax = pt.plot_individual_trajectories(d, "ALT", log=True)
        buf = io.BytesIO()
        ax.figure.savefig(buf, format="png", metadata={"Software": None})
        return ax, buf.getvalue()

    ax, png1 = render()
    _, png2 = render()
    assert png1 == png2
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata())]
    assert len(lines) == d["subject_id"].nunique()
    colours = {matplotlib.colors.to_hex(ln.get_color()) for ln in lines}
    assert colours <= {matplotlib.colors.to_hex(c) for c in pt.OUTCOME_COLORS.values()}
    assert all(ln.get_label().startswith("_") for ln in lines)            # no per-subject labels
    text = _all_text(ax.figure)
    assert not any(sid in text for sid in sim.subjects["subject_id"])
    died = d.loc[d["outcome"] == "died", "subject_id"].nunique()
    assert f"died (n = {died})" in text


def test_mean_trajectories_plot(sim):
    d = pt.trajectory_data(sim, ["ALB"])
    s = pt.summarize_trajectories(d)
    ax = pt.plot_trajectories(s, "ALB", sim.study, dodge=2.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [sim.study.arm_labels[a] for a in sim.study.arm_ids]
    first = ax.get_lines()[0]
    ctl = s[(s["arm"] == sim.study.control_arm)].sort_values("visit_day")
    np.testing.assert_allclose(first.get_ydata(), ctl["mean"].to_numpy())


def test_correlation_heatmap_matches_table(sim):
    b = baseline_dataset(sim)
    cols = ["TBIL", "INR", "ALB", "meld"]
    corr = baseline_correlations(b, cols)
    ax = pt.plot_correlation_heatmap(corr)
    m = ax.images[0].get_array()
    assert m.shape == (3, 3)
    r = corr.set_index(["var1", "var2"])["estimate"]
    assert m[0, 0] == pytest.approx(r[("TBIL", "INR")]) and m[2, 1] == pytest.approx(r[("INR", "meld")])
    assert np.ma.is_masked(m[0, 1])


def test_safety_plots(sim):
    s = temperature_summary(sim)
    ax = ps.plot_temperature(s, labels=sim.study.arm_labels, fever_threshold=38.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["UC-MSC", "PE + UC-MSC"]
    assert any(ln.get_ydata()[0] == 38.0 for ln in ax.get_lines() if len(ln.get_ydata()) == 2)
    cr = competing_risks(sim, cause="death", competing=("transplant",))
    cif = aalen_johansen(cr["time"], cr["status"], group=pd.Categorical(cr["arm"], sim.study.arm_ids),
                         censor="censored")
    ax = ps.plot_cumulative_incidence(cif, "death", labels=sim.study.arm_labels, horizon=336)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [sim.study.arm_labels[a] for a in sim.study.arm_ids]
    line = ax.get_lines()[0]
    ctl = cif[(cif["group"] == "control") & (cif["state"] == "death")]
    assert line.get_xdata()[-1] == 336 and line.get_ydata()[-1] == pytest.approx(ctl["estimate"].iloc[-1])
