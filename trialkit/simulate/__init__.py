"""Simulated NCT01724398-like trials: protocol-faithful, calibrated, with a known truth.

Public API
----------
simulate(study=None, scenario=None, seed=None, n_subjects=None) -> Trial
    One validated Trial with ``truth`` (true effects) and ``latent`` (per-subject oracle values).
write_simulation(out_dir, study=None, scenario=None, seed=None, n_subjects=None, fmt="csv")
    The same, written as a dataset folder with ``study.yaml`` and ``truth.json``; byte-identical
    for the same arguments.
load_scenario(scenario) -> Scenario
    Parse and check a scenario YAML (``params/scenarios/*.yaml``).

The model, module by module: :mod:`~trialkit.simulate.scenario` (the YAML), ``allocation``
(permuted blocks, dates), ``cohort`` (baseline, inclusion criteria, latent severity), ``events``
(transplant-free survival via a Gaussian copula, follow-up, HCC), ``course`` (labs, grades,
symptoms), ``treatment`` (dosing, infusions, reactions, AEs) and ``truth`` (truth.json); files are
written by :mod:`trialkit.data.io` (deterministic, atomic).

Examples
--------
>>> from trialkit.simulate import simulate
>>> trial = simulate(scenario="published", seed=7)
>>> trial.arm_sizes().to_dict()
{'control': 30, 'msc': 30, 'pe': 30, 'pe_msc': 20}
"""
import sys as _sys
import types as _types

from trialkit.simulate.core import simulate, write_simulation, write_trial
from trialkit.simulate.scenario import Scenario, default_scenario_path, load_scenario, scenarios_dir

__all__ = ["simulate", "write_simulation", "write_trial", "load_scenario", "Scenario",
           "scenarios_dir", "default_scenario_path"]


class _CallablePackage(_types.ModuleType):
    """``trialkit.simulate`` is this package *and* callable: ``trialkit.simulate(...)`` simulates.

    A package attribute named like a subpackage is replaced by the subpackage as soon as anything
    imports it, so a plain function of that name could not survive; making the package callable
    keeps both ``trialkit.simulate(seed=1)`` and ``trialkit.simulate.write_simulation`` working.
    """

    def __call__(self, *args, **kwargs):
        return simulate(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallablePackage
