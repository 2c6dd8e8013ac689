"""Report building: what notebooks call to save tables and figures, the papermill runner, publishing.

- :mod:`~trialkit.report.save`: ``notebook_setup``, ``save_table``, ``save_figure`` (called by notebooks);
- :mod:`~trialkit.report.runner`: ``run_report`` (``trialkit run``), ``refresh_notebooks`` (``make notebooks``);
  it uses :mod:`~trialkit.report.params` (``load_params``), :mod:`~trialkit.report.notebooks`,
  :mod:`~trialkit.report.kernels`, :mod:`~trialkit.report.progress` and :mod:`~trialkit.report.jobs`;
- publishing: :mod:`~trialkit.report.pages` (clean notebooks, HTML), :mod:`~trialkit.report.privacy` (the
  subject-identifier check), :mod:`~trialkit.report.index` (``index.html``), :mod:`~trialkit.report.manifest`
  (``manifest.json``); :mod:`~trialkit.report.archive` (``trialkit archive``, with
  :mod:`~trialkit.report.citation` and :mod:`~trialkit.report.pdf`).

Importing this package stays light: the runner's modules are imported on first use of their names.
"""
from typing import Any

from trialkit.report.save import notebook_setup, save_figure, save_table

_LAZY = {"run_report": "runner", "refresh_notebooks": "runner", "load_params": "params", "ParamsError": "params",
         "NotebookFailed": "jobs"}

__all__ = ["notebook_setup", "save_table", "save_figure", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"trialkit.report.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'trialkit.report' has no attribute {name!r}")
