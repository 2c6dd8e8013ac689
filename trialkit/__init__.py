"""trialkit: reproducible analysis kit for the UC-MSC +/- plasma exchange trial in HBV-ACLF.

The public API: :func:`load` / :func:`validate` a dataset, :func:`simulate` one, :func:`open_dataset`
(either, by name), the :class:`Trial` and :class:`Study` objects, and the modules ``scores``.
"""
from trialkit.data.load import load, validate
from trialkit.datasets import open_dataset
from trialkit.data.trial import Trial
from trialkit.study import Study, load_study

__version__ = "0.1.0"


def __getattr__(name):
    # `trialkit.simulate` is the simulator package, callable as a function (imported on first use).
    if name == "simulate":
        import trialkit.simulate

        return trialkit.simulate
    raise AttributeError(f"module 'trialkit' has no attribute {name!r}")


__all__ = ["Trial", "Study", "load", "validate", "simulate", "open_dataset", "load_study", "__version__"]
