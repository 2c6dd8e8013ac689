"""Every public function documents itself with a runnable example, and every example runs.

Each module's doctests run in isolation: pandas display options are reset first (a notebook's
``notebook_setup`` changes them), so an example's printed table is what a fresh session prints.
"""
from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import matplotlib
import pandas as pd
import pytest

import trialkit

matplotlib.use("Agg")
MODULES = sorted(m.name for m in pkgutil.walk_packages(trialkit.__path__, "trialkit."))
_DISPLAY = ("display.width", "display.max_columns", "display.max_rows", "display.precision", "display.max_colwidth")


def _public_functions(mod):
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name, None)
        if inspect.isfunction(obj) and obj.__module__ == mod.__name__:
            yield name, obj


@pytest.mark.parametrize("name", MODULES)
def test_examples_run(name):
    mod = importlib.import_module(name)
    for opt in _DISPLAY:
        pd.reset_option(opt)
    try:
        res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, report=True)
    finally:
        import matplotlib.pyplot as plt

        plt.close("all")
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples in {name} fail (printed above)"


@pytest.mark.parametrize("name", MODULES)
def test_public_functions_carry_an_example(name):
    mod = importlib.import_module(name)
    missing = [f for f, obj in _public_functions(mod) if ">>>" not in (obj.__doc__ or "")]
    assert not missing, f"{name}: public functions without an Examples section: {', '.join(missing)}"
