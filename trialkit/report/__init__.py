"""Report building: what notebooks call to save tables and figures, and (later) the papermill runner."""
from trialkit.report.save import notebook_setup, save_figure, save_table

__all__ = ["notebook_setup", "save_table", "save_figure"]
