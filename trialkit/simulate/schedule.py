"""Visit days: each scheduled visit happens on a day jittered inside its window, or is missed.

The baseline visit falls on day 0 for most patients and otherwise on a day of the baseline window
before randomization (labs drawn shortly before). Other visits are centred on their nominal day
with a spread of a sixth of the window's width, clipped into the window. A post-baseline visit is
missed with the scenario's ``missingness.visit`` probability; the baseline visit never is.
"""
from __future__ import annotations

import numpy as np

from trialkit.simulate.scenario import Scenario
from trialkit.study import Study

__all__ = ["visit_schedule", "BASELINE_DAY0_SHARE"]

BASELINE_DAY0_SHARE = 0.7  # share of baseline labs drawn on the day of randomization itself


def visit_schedule(rng: np.random.Generator, study: Study, n: int, sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(days, attended): int64 and bool arrays of shape (n, number of visits), visits in day order.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> from trialkit.simulate.scenario import load_scenario
    >>> study = load_study()
    >>> days, attended = visit_schedule(np.random.default_rng(1), study, 3, load_scenario("default"))
    >>> study.visit_ids
    ['D0', 'D3', 'D7', 'D14', 'D21', 'D28', 'W8', 'W12', 'W24', 'W36', 'W48']
    >>> for row in days:
    ...     print(row.tolist())
    [0, 3, 7, 15, 21, 28, 56, 86, 167, 253, 334]
    [-2, 3, 7, 13, 22, 27, 55, 78, 166, 262, 346]
    [0, 3, 7, 14, 21, 28, 59, 80, 169, 247, 339]
    >>> [(int(i), study.visit_ids[j]) for i, j in zip(*np.nonzero(~attended))]  # missed visits
    [(2, 'D14')]
    """
    visits = study.visits
    days = np.empty((n, len(visits)), dtype=np.int64)
    for j, v in enumerate(visits):
        lo, hi = v.window
        if v.day == 0:
            early = rng.integers(lo, 0, n) if lo < 0 else np.zeros(n, dtype=np.int64)
            days[:, j] = np.where(rng.random(n) < BASELINE_DAY0_SHARE, 0, early)
        else:
            jitter = np.rint(rng.normal(0.0, max(hi - lo, 1) / 6.0, n)).astype(np.int64)
            days[:, j] = np.clip(v.day + jitter, lo, hi)
    attended = rng.random((n, len(visits))) >= sc.missingness["visit"]
    attended[:, [j for j, v in enumerate(visits) if v.day == 0]] = True
    return days, attended
