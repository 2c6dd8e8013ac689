"""Simulated trials from a study file and a scenario: protocol-faithful, calibrated, with a known truth.

Public API
----------
simulate(study=None, scenario=None, seed=None, n_subjects=None) -> Trial
    (a plain function, :func:`trialkit.simulate.core.simulate`; ``trialkit.simulate(...)`` at the top
    level calls it) One validated Trial with ``truth`` (true effects) and ``latent`` (per-subject oracle values).
write_simulation(out_dir, study=None, scenario=None, seed=None, n_subjects=None, fmt="csv")
    The same, written as a dataset folder with ``study.yaml`` and ``truth.json``; byte-identical
    for the same arguments.
simulate_tables(study, scenario, seed, n_subjects=None, *, tables=None) -> (tables, truth, latent)
    The raw, unvalidated tables, or only those named in ``tables`` (the same rows: each component
    has its own random stream); ``simulate_survival`` only the arms and follow-up (the design
    simulation's fast path) and ``events_table`` its ``events`` table.
load_scenario(scenario) -> Scenario
    Parse and check a scenario YAML (``params/scenarios/*.yaml``). ``Scenario.with_effects(...)``,
    ``Scenario.null()`` and ``Scenario.resolved(n_subjects)`` derive scenarios from it;
    ``resolve_study(study, scenario)`` picks the study file a simulation uses.
simulation_context(study, scenario, seed, n_subjects=None) -> SimulationContext
    The trial's latent state (allocation, cohort, visits, event times, follow-up): the one
    argument of every table builder.

The model, module by module: :mod:`~trialkit.simulate.scenario` (the YAML), ``allocation``
(permuted blocks, dates), ``cohort`` (baseline, inclusion criteria, latent severity), ``events``
(transplant-free survival via a Gaussian copula, follow-up, HCC), ``context`` (the above, drawn
once per trial), ``course`` (labs, grades, symptoms), ``treatment`` (dosing, infusions, reactions,
AEs) and ``truth`` (truth.json); files are written by :mod:`trialkit.data.io` (deterministic, atomic).

The package imports its modules on first use (``import trialkit`` stays cheap). Reach it with
from-imports (``from trialkit.simulate import core, simulate``): the top-level attribute
``trialkit.simulate`` is the function, so ``import trialkit.simulate.core as m`` does not work.

Examples
--------
>>> from trialkit.simulate import simulate
>>> trial = simulate(scenario="published", seed=7)
>>> trial.arm_sizes().to_dict()
{'control': 30, 'msc': 30, 'pe': 30, 'pe_msc': 20}
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the type checker sees; at run time ``__getattr__`` below imports on first use
    from trialkit.simulate.context import SimulationContext, simulation_context
    from trialkit.simulate.core import (
        TABLES,
        events_table,
        resolve_study,
        simulate,
        simulate_survival,
        simulate_tables,
        write_simulation,
        write_trial,
    )
    from trialkit.simulate.scenario import (
        Scenario,
        default_scenario_path,
        load_scenario,
        ratio_from_sizes,
        scenarios_dir,
    )

__all__ = ["simulate", "write_simulation", "write_trial", "simulate_tables", "simulate_survival", "events_table",
           "resolve_study", "TABLES", "load_scenario", "Scenario", "scenarios_dir", "default_scenario_path",
           "ratio_from_sizes", "SimulationContext", "simulation_context"]

# Where each public name lives; imported on first access (a module-level ``__getattr__``).
_HOME = {"simulate": "core", "write_simulation": "core", "write_trial": "core", "simulate_tables": "core",
         "simulate_survival": "core", "events_table": "core", "resolve_study": "core", "TABLES": "core",
         "load_scenario": "scenario", "Scenario": "scenario", "scenarios_dir": "scenario",
         "default_scenario_path": "scenario", "ratio_from_sizes": "scenario",
         "SimulationContext": "context", "simulation_context": "context"}


def __getattr__(name: str) -> object:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
