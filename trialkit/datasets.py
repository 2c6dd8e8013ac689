"""One way to name a dataset, for notebooks and run parameters: a path, or "simulate".

It lives at the top of the kit, beside the loader (:mod:`trialkit.data`) and the simulator
(:mod:`trialkit.simulate`), because it knows both; ``data`` itself never imports the simulator.
"""
from __future__ import annotations

import copy
import functools
from pathlib import Path

from trialkit.data.trial import Trial

__all__ = ["open_dataset", "example"]


def open_dataset(dataset: str | Path = "simulate", *, study: str | Path | None = None,
                 scenario: str | Path | None = None, seed: int | None = None) -> Trial:
    """Load a dataset, or simulate one, returning a validated :class:`Trial`.

    Parameters
    ----------
    dataset : str or Path
        ``"simulate"`` (default) to simulate ``scenario`` with ``seed`` in memory, or a path to a
        dataset directory / Excel workbook (see ``docs/data-format.md``).
    study : str or Path, optional
        Study file; default: the dataset's ``study.yaml``, else the scenario's, else ``params/study.yaml``.
    scenario : str or Path, optional
        Scenario YAML for ``"simulate"`` (default ``params/scenarios/default.yaml``).
    seed : int, optional
        Seed for ``"simulate"`` (default: the scenario's).

    Examples
    --------
    >>> trial = open_dataset("simulate", seed=7)
    >>> trial.source.startswith("simulated")
    True
    """
    if str(dataset) == "simulate":
        from trialkit.simulate.core import simulate

        return simulate(study=study, scenario=scenario, seed=seed)
    from trialkit.data.load import load

    return load(dataset, study)


@functools.lru_cache(maxsize=4)
def _simulated(seed: int) -> Trial:
    from trialkit.simulate.core import simulate

    return simulate(seed=seed)


def example(seed: int = 1) -> Trial:
    """The kit's example dataset: the default study and scenario simulated with ``seed`` (120 subjects).

    The examples of the documentation share it, so the simulator runs once per seed in a session
    instead of once per example: the first call simulates (as ``open_dataset("simulate", seed=seed)``
    does), later calls return a deep copy of that trial, so an example that changes its copy leaves
    the next one's data as it was. Edits to ``params/`` after the first call are not seen (use
    :func:`open_dataset` for a fresh simulation).

    Parameters
    ----------
    seed : int
        Seed of the simulation (default 1, the one the examples use).

    Examples
    --------
    >>> trial = example()
    >>> trial.source.startswith("simulated"), len(trial.subjects)
    (True, 120)
    >>> again = example()
    >>> again is trial, again.subjects.equals(trial.subjects)
    (False, True)
    """
    return copy.deepcopy(_simulated(int(seed)))
