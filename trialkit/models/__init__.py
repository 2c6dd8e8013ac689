"""Predictive models: who dies or needs a transplant, and does anything beat MELD?

Submodules (imported on first use):

- :mod:`~trialkit.models.features`: the analysis dataset (baseline features known at day 0, the
  outcome by a horizon), the leakage guard, the simulator's oracle risk;
- :mod:`~trialkit.models.pipelines`: scikit-learn pipelines (imputation, scaling, one-hot inside),
  penalized logistic regression, gradient boosting, random forest, penalized Cox, recalibrated scores;
- :mod:`~trialkit.models.evaluation` gathers, for notebooks: :mod:`~trialkit.models.metrics` (AUC
  with CIs, DeLong, Brier score, calibration, the corrected resampled t-test),
  :mod:`~trialkit.models.cv` (repeated stratified nested cross-validation, the final refit),
  :mod:`~trialkit.models.performance` (performance table, paired comparison with MELD, curves,
  hold-out performance, learning curves) and :mod:`~trialkit.models.interpret` (permutation
  importance, partial dependence, the true risk factors);
- :mod:`~trialkit.models.decision`: decision curve analysis (net benefit).
"""
from __future__ import annotations

from trialkit._lazy import lazy_submodules

__all__: list[str] = []
__getattr__ = lazy_submodules(__name__)
