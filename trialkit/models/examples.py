"""Small shared inputs for the examples of the predictive chapter's functions.

The documentation's examples of :mod:`trialkit.models` fit and evaluate on one tiny synthetic
cohort (:func:`example_xy`: 80 subjects whose outcome depends on MELD, not on age) and read one
cross-validation of it (:func:`example_cv`), made once per session, instead of repeating the same
set-up in every example. Examples that need a whole trial use :func:`trialkit.datasets.example`.
"""
from __future__ import annotations

import copy
import functools

import numpy as np
import pandas as pd

from trialkit.models.cv import CVResult, nested_cv
from trialkit.models.pipelines import model_specs, score_spec

__all__ = ["example_xy", "example_cv"]


def example_xy(n: int = 80, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A synthetic cohort: features ``meld`` and ``age``, and a 0/1 outcome that depends on MELD only.

    ``meld ~ N(25, 4)``, ``age ~ N(45, 10)``, ``y = meld + N(0, 4) > 26``, drawn in that order from
    ``numpy.random.default_rng(seed)``.

    Returns
    -------
    (DataFrame, ndarray)
        ``X`` (``meld``, ``age``) and ``y`` (int).

    Examples
    --------
    >>> X, y = example_xy()
    >>> X.shape, int(y.sum())
    ((80, 2), 38)
    >>> X.round(2).head(2)
        meld    age
    0  25.50  46.89
    1  24.47  38.67
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"meld": rng.normal(25, 4, n), "age": rng.normal(45, 10, n)})
    y = (X["meld"] + rng.normal(0, 4, n) > 26).to_numpy(dtype=int)
    return X, y


@functools.lru_cache(maxsize=1)
def _cv() -> CVResult:
    X, y = example_xy()
    specs = [model_specs(["logistic"], grid="none")["logistic"], score_spec("meld", "MELD")]
    return nested_cv(X, y, specs, scores={"meld": "MELD"}, n_splits=3, n_repeats=2, seed=0,
                     keep_models=True)


def example_cv() -> CVResult:
    """Nested cross-validation of :func:`example_xy`: a penalized logistic regression beside MELD.

    The logistic model at its default penalty (``grid="none"``) and MELD used directly and
    recalibrated (:func:`~trialkit.models.pipelines.score_spec`), over 3 x 2 outer folds with
    ``seed=0``; the fitted fold models are kept (``keep_models=True``). Computed once per
    session; each call returns a deep copy.

    Examples
    --------
    >>> cv = example_cv()
    >>> cv.names, len(cv.models)
    (['logistic', 'meld_recalibrated', 'meld'], 12)
    """
    return copy.deepcopy(_cv())
