"""Design simulation: power, type I error, bias and coverage over many simulated trials.

:mod:`~trialkit.design.power` runs the replicates (reproducible per-replicate seeds; joblib or a Dask
cluster) on one of two engines that draw the same simulated trials and give the same results:
:mod:`~trialkit.design.batch` simulates and analyses the survival part of many replicates at once as
arrays (the default), and the per-trial path analyses one :class:`~trialkit.Trial` at a time with the
efficacy notebook's functions (needed for the lab models; the reference in the tests).
:mod:`~trialkit.design.summaries` turns the results into operating characteristics and power
curves. ``trialkit power`` (:mod:`~trialkit.design.cli`) is the command line.
"""
from trialkit.design.power import (
                                   ANALYSES,
                                   DEFAULT_ANALYSES,
                                   PRIMARY_ANALYSES,
                                   analyze_trial,
                                   null_scenario,
                                   replicate_seeds,
                                   run_replicates,
                                   scenario_truth,
                                   with_effects,
)
from trialkit.design.summaries import (
                                   operating_characteristics,
                                   power_curve,
                                   power_table,
                                   schoenfeld_power,
                                   type_one_error,
)

__all__ = ["ANALYSES", "DEFAULT_ANALYSES", "PRIMARY_ANALYSES", "analyze_trial", "null_scenario", "replicate_seeds",
           "run_replicates", "scenario_truth", "with_effects", "operating_characteristics", "power_curve",
           "power_table", "schoenfeld_power", "type_one_error"]
