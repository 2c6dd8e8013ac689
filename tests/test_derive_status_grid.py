"""visit_status's grid (categorical, built on codes) against a row-by-row reference, and
missing_summary on object and categorical grids."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import trialkit
from trialkit.derive.status import follow_up_status, missing_summary, visit_status
from trialkit.derive.visits import assign_visits


@pytest.fixture(scope="module")
def sim():
    return trialkit.open_dataset("simulate", seed=11)


def reference_grid(trial, parameters, horizon_day):
    """The documented rule, one row at a time (slow, obvious)."""
    study = trial.study
    st = follow_up_status(trial)
    arm_rank = {a: i for i, a in enumerate(study.arm_ids)}
    st = st.iloc[np.argsort(st["arm"].map(arm_rank).to_numpy(), kind="stable")]
    placed = assign_visits(trial.labs, study)
    seen = set(zip(placed["subject_id"].astype(object), placed["visit"], placed["parameter"].astype(object)))
    rows = []
    for s in st.itertuples():
        for v in study.visits:
            if v.day > horizon_day:
                continue
            lo, hi = v.window
            for p in parameters:
                if (s.subject_id, v.id, p) in seen:
                    status = "observed"
                elif s.death_day <= hi:
                    status = "died"
                elif s.transplant_day <= hi:
                    status = "transplanted"
                elif s.end_day < lo:
                    status = "dropout"
                else:
                    status = "missed"
                rows.append((s.subject_id, s.arm, v.id, v.day, p, status))
    return pd.DataFrame(rows, columns=["subject_id", "arm", "visit", "visit_day", "parameter", "status"])


def test_visit_status_grid_equals_row_by_row_reference(sim):
    params = ["TBIL", "ALT", "INR"]
    got = visit_status(sim, params, horizon="primary")
    ref = reference_grid(sim, params, sim.study.horizons["primary"])
    # every reason occurs, so a swapped precedence or a misplaced broadcast would show
    assert set(ref["status"]) == {"observed", "died", "transplanted", "dropout", "missed"}
    for c in ["subject_id", "arm", "visit", "parameter", "status"]:
        assert isinstance(got[c].dtype, pd.CategoricalDtype)
        cats = list(got[c].cat.categories)
        assert cats == sorted(cats)  # groupby/pivot/sort order as on strings
    assert got["visit_day"].dtype == np.int64
    pd.testing.assert_frame_equal(got.astype({c: object for c in ref.columns if c != "visit_day"}),
                                  ref.astype({c: object for c in ref.columns if c != "visit_day"}))


def test_missing_summary_same_on_object_and_categorical_grids(sim):
    vs = visit_status(sim, ["TBIL", "ALT"], horizon="secondary")
    as_object = vs.astype({c: object for c in ["subject_id", "arm", "visit", "parameter", "status"]})
    study = sim.study
    for by, kw in [(["arm", "visit"], {"arm_order": study.arm_ids, "visit_order": study.visit_ids}),
                   (["parameter", "arm"], {"arm_order": study.arm_ids}), (["visit"], {}), (["arm"], {})]:
        a, b = missing_summary(vs, by, **kw), missing_summary(as_object, by, **kw)
        pd.testing.assert_frame_equal(a, b)
        direct = as_object.groupby(by)["status"].value_counts().unstack(fill_value=0)
        for row in a.itertuples(index=False):
            key = tuple(getattr(row, c) for c in by)
            counts = direct.loc[key if len(by) > 1 else key[0]]
            assert row.observed == counts.get("observed", 0) and row.missed == counts.get("missed", 0)
            assert row.expected == counts.sum()
    # default order: first appearance (parameters as requested, not sorted)
    assert missing_summary(vs, ["parameter"])["parameter"].tolist() == ["TBIL", "ALT"]
    # a missing status is not counted, an unknown one not in the reasons
    odd = as_object.head(40).copy()
    odd.loc[odd.index[:3], "status"] = [None, "other", "missed"]
    a = missing_summary(odd, ["arm"])
    pd.testing.assert_frame_equal(a, missing_summary(odd.astype({"status": "category", "arm": "category"}), ["arm"]))


def reference_assign_visits(rows, study, keys, one_per_visit):
    """The documented rule of assign_visits, one row at a time."""
    ids = {v.id: v for v in study.visits}
    placed = []
    for pos, r in enumerate(rows.itertuples(index=False)):
        label = "" if pd.isna(r.visit) else str(r.visit).strip()
        if label:
            if label not in ids:
                continue
            v = ids[label]
        else:
            inside = [v for v in study.visits if v.window[0] <= r.day <= v.window[1]]
            if not inside:
                continue
            v = min(inside, key=lambda v: abs(r.day - v.day))  # first of equally close (study order)
        placed.append((pos, v.id, v.day, label == ""))
    df = pd.DataFrame(placed, columns=["pos", "visit", "visit_day", "unscheduled"])
    src = rows.iloc[df["pos"]].reset_index(drop=True)
    for k in keys:
        df[k] = src[k].to_numpy()
    df["day"] = src["day"].to_numpy()
    df["dist"] = (df["day"] - df["visit_day"]).abs()
    key_rank = {k: pd.factorize(rows[k], sort=True) for k in keys}
    for k in keys:
        df[f"_r_{k}"] = pd.Index(key_rank[k][1]).get_indexer(df[k])
    if one_per_visit:
        df = df.sort_values(["unscheduled", "dist", "day", "pos"], kind="stable")
        df = df.drop_duplicates([f"_r_{k}" for k in keys] + ["visit_day"])
    df = df.sort_values([f"_r_{keys[0]}", "visit_day", *(f"_r_{k}" for k in keys[1:]), "day", "pos"],
                        kind="stable")
    out = rows.iloc[df["pos"]].copy()
    out["visit"] = df["visit"].to_numpy()
    out.insert(list(out.columns).index("visit") + 1, "visit_day", df["visit_day"].to_numpy(dtype="int64"))
    return out.reset_index(drop=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_assign_visits_equals_row_by_row_reference(sim, seed):
    """Duplicates, unscheduled rows between and inside windows, unknown labels, missing keys."""
    rng = np.random.default_rng(seed)
    study = sim.study
    n = 400
    rows = pd.DataFrame({
        "subject_id": rng.choice(["s1", "s2", "s3", None], n, p=[0.4, 0.3, 0.25, 0.05]).astype(object),
        "parameter": rng.choice(["ALT", "TBIL"], n),
        "day": rng.integers(-3, 400, n),
        "visit": rng.choice(["", "D0", "D7", "W48", "X9", None, " D3 "], n).astype(object),
        "value": rng.normal(size=n),
    })
    rows.loc[rows.sample(frac=0.3, random_state=seed).index, "day"] = rng.choice([0, 3, 7, 6, 8, 336], 120)
    for keys in (("subject_id", "parameter"), ("subject_id",), ("parameter", "subject_id")):
        for opv in (True, False):
            got = assign_visits(rows, study, keys=keys, one_per_visit=opv)
            ref = reference_assign_visits(rows, study, list(keys), opv)
            pd.testing.assert_frame_equal(got.astype({"visit": object}), ref.astype({"visit": object}))
    cat = rows.astype({"subject_id": "category", "parameter": "category", "visit": "category"})
    pd.testing.assert_frame_equal(assign_visits(cat, study).astype({"visit": object}),
                                  reference_assign_visits(cat, study, ["subject_id", "parameter"], True)
                                  .astype({"visit": object}))


def test_add_scores_wide_table_equals_pivot(sim):
    """add_scores' (subject, visit) table built on codes is the pivot, for object and categorical ids."""
    from trialkit.derive.severity import _TO_SI, _by_subject_visit

    lab = assign_visits(sim.labs[sim.labs["parameter"].isin(list(_TO_SI))], sim.study)
    for frame in (lab, lab.astype({"subject_id": "category"}),
                  lab.astype({"subject_id": pd.CategoricalDtype(sorted(set(lab["subject_id"]), reverse=True))})):
        ref = frame.pivot(index=["subject_id", "visit"], columns="parameter", values="value")
        ref = ref.reindex(columns=list(_TO_SI)).reset_index()
        ref.columns.name = None
        pd.testing.assert_frame_equal(_by_subject_visit(frame), ref)
    with pytest.raises(ValueError, match="duplicate"):
        _by_subject_visit(pd.concat([lab, lab.head(1)]))


def test_trajectory_data_same_for_object_and_categorical_ids(sim):
    """The shared-string conversion of categorical ids and the per-part horizon cut change nothing."""
    from trialkit.plots.trajectories import trajectory_data

    cat = sim.with_tables(labs=sim.labs.astype({"subject_id": "category"}))
    for horizon in ("primary", None, 30):
        a = trajectory_data(sim, ["ALT", "meld"], horizon=horizon)
        b = trajectory_data(cat, ["ALT", "meld"], horizon=horizon)
        pd.testing.assert_frame_equal(a, b)
        assert a["subject_id"].dtype == object and set(a["parameter"]) == {"ALT", "meld"}
        cut = sim.study.horizons["primary"] if horizon == "primary" else horizon
        assert cut is None or a["visit_day"].max() <= cut
    assert trajectory_data(sim, ["ALT"], horizon=None)["visit_day"].max() > 30
    only_labs = trajectory_data(cat, ["ALT"])
    assert isinstance(only_labs["subject_id"].dtype, pd.CategoricalDtype)  # as before: nothing to join
    pd.testing.assert_frame_equal(only_labs.astype({"subject_id": object}),
                                  trajectory_data(sim, ["ALT"]).astype({"subject_id": object}))
