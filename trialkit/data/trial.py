"""The Trial object: one validated dataset plus its study design.

Every notebook, the simulator and every analysis function speak this object. Build it with
:func:`trialkit.load` (from files) or :func:`trialkit.simulate` (in memory); both validate.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from trialkit.study import Study

__all__ = ["Trial", "TABLES", "REQUIRED_TABLES", "OPTIONAL_TABLES"]

REQUIRED_TABLES = ("subjects", "events")
OPTIONAL_TABLES = ("labs", "infusions", "adverse_events", "symptoms")
TABLES = ("subjects", "labs", "events", "infusions", "adverse_events", "symptoms")


@dataclass(frozen=True)
class Trial:
    """A validated trial dataset.

    Attributes
    ----------
    study : Study
        The design (arms, factors, visits, horizons, units) from the study file.
    subjects, labs, events : DataFrame
        The required tables, with the columns and dtypes of ``docs/data-format.md``.
    infusions, adverse_events, symptoms : DataFrame or None
        The optional tables; ``None`` when the dataset does not have them.
    source : str or None
        Where the data came from (a path, or ``"simulated"``).
    warnings : tuple of str
        Non-fatal findings of validation (e.g. a measurement outside every visit window).
    truth : dict or None
        Simulated data only: the scenario's true effects (what ``truth.json`` holds).
    latent : DataFrame or None
        Simulated data only: per-subject latent variables (never written to the dataset files).
    """

    study: Study
    subjects: pd.DataFrame
    labs: pd.DataFrame
    events: pd.DataFrame
    infusions: pd.DataFrame | None = None
    adverse_events: pd.DataFrame | None = None
    symptoms: pd.DataFrame | None = None
    source: str | None = None
    warnings: tuple[str, ...] = field(default=(), compare=False)
    truth: dict | None = field(default=None, compare=False, repr=False)
    latent: pd.DataFrame | None = field(default=None, compare=False, repr=False)

    def has(self, table: str) -> bool:
        """Whether ``table`` is present and has rows (an optional table may be absent or empty)."""
        df = getattr(self, table)
        return df is not None and len(df) > 0

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables that are present, by name, in the contract's order."""
        return {t: getattr(self, t) for t in TABLES if getattr(self, t) is not None}

    def with_tables(self, **tables: pd.DataFrame | None) -> "Trial":
        """A copy with some tables replaced (the caller is responsible for validity)."""
        return replace(self, **cast("dict[str, Any]", tables))

    @property
    def n_subjects(self) -> int:
        return int(len(self.subjects))

    def arm_sizes(self) -> pd.Series:
        """Number of randomized subjects per arm, in the study file's arm order."""
        return self.subjects["arm"].value_counts().reindex(self.study.arm_ids, fill_value=0).rename("n")

    def summary(self) -> pd.DataFrame:
        """Per-arm summary: randomized, age, sex, subjects with each declared event type, lab rows.

        Returns
        -------
        DataFrame
            Index: arm ids plus ``total``; columns ``label``, ``n``, ``age_median``, ``male_pct``
            (NaN without an ``age`` or ``sex`` column), then one column per event type the study file
            declares (subjects with that event, e.g. ``death``), then ``lab_rows``.

        Examples
        --------
        >>> from trialkit.simulate import simulate
        >>> simulate(seed=1, n_subjects=40).summary().loc["total", ["n", "death", "transplant", "hcc"]].tolist()
        [40, 14, 0, 1]
        """
        s = self.subjects
        ev = self.events.merge(s[["subject_id", "arm"]], on="subject_id", how="left")
        # lab rows per subject, then per arm: not a merge copying every lab row (15 million at 100,000 subjects)
        per_subject = self.labs["subject_id"].value_counts()
        arm_of = s.set_index("subject_id")["arm"]
        lab_rows = per_subject.groupby(arm_of.reindex(per_subject.index).to_numpy()).sum()
        age = s["age"] if "age" in s else pd.Series(np.nan, index=s.index)
        male = s["sex"].eq("M") * 100.0 if "sex" in s else pd.Series(np.nan, index=s.index)
        out = pd.DataFrame(index=pd.Index(self.study.arm_ids, name="arm"))
        out["label"] = pd.Series(self.study.arm_labels)
        out["n"] = s.groupby("arm").size()
        out["age_median"] = age.groupby(s["arm"]).median()
        out["male_pct"] = male.groupby(s["arm"]).mean()
        total = {"label": "Total", "n": len(s), "age_median": age.median(), "male_pct": male.mean()}
        counts = ["n"]
        for event in self.study.event_names:
            hit = ev.loc[ev["event"] == event, ["subject_id", "arm"]].drop_duplicates()
            out[event] = hit.groupby("arm").size()
            total[event] = len(hit)
            counts.append(event)
        out["lab_rows"] = lab_rows
        total["lab_rows"] = len(self.labs)
        out.loc["total"] = pd.Series(total)
        for c in (*counts, "lab_rows"):
            out[c] = pd.to_numeric(out[c]).fillna(0).astype("int64")
        return out

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        present = ", ".join(f"{k}={len(v)}" for k, v in self.tables().items())
        return f"Trial(study={self.study.id!r}, source={self.source!r}, {present})"
