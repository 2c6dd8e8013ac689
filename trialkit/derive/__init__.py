"""Analysis datasets derived from a :class:`~trialkit.data.trial.Trial` (ADaM-like).

Submodules: :mod:`~trialkit.derive.visits` (the one visit-window rule), :mod:`~trialkit.derive.codes`
(column values as integer positions),
:mod:`~trialkit.derive.severity` (severity scores per subject and visit), :mod:`~trialkit.derive.status`
(follow-up status, CONSORT counts, reasons data are missing), :mod:`~trialkit.derive.baseline` (the
one-row-per-subject baseline dataset), :mod:`~trialkit.derive.tte` (time to event, the one
competing-risks dataset), :mod:`~trialkit.derive.change` (change from baseline) and
:mod:`~trialkit.derive.variables` (which labs, scores and subgroups each analysis takes). Submodules are
imported on first use, so adding one never touches this file.
"""
from __future__ import annotations

import importlib
from typing import Any

from trialkit._lazy import lazy_submodules

__all__ = ["baseline_dataset", "baseline_labs", "follow_up_status", "consort_counts",
           "assign_visits", "add_scores", "visit_status", "missing_summary"]

_WHERE = {"baseline_dataset": "baseline", "baseline_labs": "baseline", "follow_up_status": "status",
          "consort_counts": "status", "assign_visits": "visits", "add_scores": "severity", "visit_status": "status",
          "missing_summary": "status"}


_submodule = lazy_submodules(__name__)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    return _submodule(name)
