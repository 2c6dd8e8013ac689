"""Report building: what notebooks call to save tables and figures, the papermill runner, publishing.

- :mod:`~trialkit.report.save`: ``notebook_setup``, ``save_table``, ``save_figure`` (called by notebooks);
- :mod:`~trialkit.report.runner`: ``run_report`` (``trialkit run``), ``load_params``,
  ``refresh_notebooks`` (``make notebooks``);
- :mod:`~trialkit.report.publish`: HTML, the subject-identifier check, ``index.html``, ``manifest.json``.

Importing this package stays light: the runner is imported on first use of its names.
"""
from trialkit.report.save import notebook_setup, save_figure, save_table

_RUNNER = ("run_report", "load_params", "refresh_notebooks", "NotebookFailed", "ParamsError")

__all__ = ["notebook_setup", "save_table", "save_figure", *_RUNNER]


def __getattr__(name: str):
    if name in _RUNNER:
        from trialkit.report import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'trialkit.report' has no attribute {name!r}")
