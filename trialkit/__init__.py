"""trialkit: reproducible analysis kit for the UC-MSC +/- plasma exchange trial in HBV-ACLF.

The public API: :func:`load` / :func:`validate` a dataset, :func:`simulate` one, :func:`open_dataset`
(either, by name), the :class:`Trial` and :class:`Study` objects, and the modules ``scores``.
"""
from __future__ import annotations

import importlib as _importlib
from pathlib import Path as _Path
from typing import TYPE_CHECKING as _TYPE_CHECKING

from trialkit.data.load import load, validate
from trialkit.data.trial import Trial
from trialkit.datasets import open_dataset
from trialkit.study import Study, load_study

__version__ = "0.1.0"

# The simulator package (light: its modules load on first use) is imported before the function below
# is defined: importing a subpackage sets the parent's attribute of that name once, on first import,
# so defined afterwards, ``trialkit.simulate`` stays the function while ``from trialkit.simulate
# import ...`` still reaches the package.
_importlib.import_module("trialkit.simulate")

if _TYPE_CHECKING:
    from trialkit.simulate.scenario import Scenario


def simulate(study: Study | str | _Path | None = None, scenario: str | _Path | dict | Scenario | None = None,
             seed: int | None = None, n_subjects: int | None = None) -> Trial:
    """Simulate one trial: :func:`trialkit.simulate.core.simulate` (its parameters, its result).

    Parameters
    ----------
    study : Study, str or Path, optional
        The design (default: the scenario's study file, else ``params/study.yaml``).
    scenario : str, Path, dict or Scenario, optional
        The data-generating model (default ``params/scenarios/default.yaml``).
    seed : int, optional
        Default: the scenario's seed.
    n_subjects : int, optional
        Overrides the scenario's number of subjects.

    Examples
    --------
    >>> import trialkit
    >>> trialkit.simulate(seed=1).source
    'simulated:default:seed=1'
    """
    from trialkit.simulate.core import simulate as simulate_trial

    return simulate_trial(study=study, scenario=scenario, seed=seed, n_subjects=n_subjects)


__all__ = ["Trial", "Study", "load", "validate", "simulate", "open_dataset", "load_study", "__version__"]
