"""Design simulation: power, type I error, bias and coverage over many simulated trials.

:mod:`~trialkit.design.power` runs the replicates (simulate a trial, analyse it with the efficacy
analyses; reproducible per-replicate seeds; joblib or a Dask cluster), and
:mod:`~trialkit.design.summaries` turns their results into operating characteristics and power
curves. ``trialkit power`` (:mod:`~trialkit.design.cli`) is the command line.
"""
from trialkit.design.power import (ANALYSES, DEFAULT_ANALYSES, PRIMARY_ANALYSES, analyze_trial, null_scenario,
                                   replicate_seeds, run_replicates, scenario_truth, with_effects)
from trialkit.design.summaries import (operating_characteristics, power_curve, power_table, schoenfeld_power,
                                       type_one_error)

__all__ = ["ANALYSES", "DEFAULT_ANALYSES", "PRIMARY_ANALYSES", "analyze_trial", "null_scenario", "replicate_seeds",
           "run_replicates", "scenario_truth", "with_effects", "operating_characteristics", "power_curve",
           "power_table", "schoenfeld_power", "type_one_error"]
