"""What a notebook calls to make its output deterministic and to save result tables and figures.

Tables go to ``<out_dir>/tables/<name>.csv`` and figures to ``<out_dir>/figures/<name>.png`` and
``.svg``; names are stable and documented (``docs/outputs.md``) so results can be cited and diffed
between runs. With ``out_dir=None`` (a notebook opened interactively) nothing is written.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> _ = notebook_setup(out)
>>> df = save_table(pd.DataFrame({"arm": ["a"], "n": [3]}), "demo_counts", out)
>>> (out / "tables" / "demo_counts.csv").read_text()
'arm,n\\na,3\\n'
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from trialkit.report.captions import show_caption

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["notebook_setup", "save_table", "save_figure", "FIGURE_FORMATS"]

FIGURE_FORMATS = ("png", "svg")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_]*$")


def notebook_setup(out_dir: str | Path | None = None, *, seed: int = 0, alpha: float = 0.05) -> Path | None:
    """Configure a notebook kernel for reproducible output; returns the output folder (or None).

    - matplotlib: Agg-safe defaults, ``svg.hashsalt`` fixed (stable SVG ids), no date metadata, a
      fixed DPI; seaborn's default theme.
    - ``SOURCE_DATE_EPOCH`` fixed so PDF backends write no current date.
    - pandas display options so tables print identically across machines, full cell text (no
      ``...``), and every DataFrame the notebook shows (a cell's value or ``display(df)``)
      rounded by the report's one rule, :func:`trialkit.tables.display.display_table` (shown
      only: the DataFrame and its CSV keep full precision).
    - captions: intervals in the registry's captions are labelled with the level ``1 - alpha``.
    - warnings: every warning is an error for trialkit's own code paths is too strict for a kernel;
      instead known-noisy third-party warnings are silenced (nbval compares stderr).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> out = notebook_setup(pathlib.Path(tempfile.mkdtemp()) / "report")
    >>> sorted(p.name for p in out.iterdir())
    ['figures', 'tables']
    >>> pd.get_option("display.precision"), pd.get_option("display.width"), pd.get_option("display.max_colwidth")
    (3, 120, None)
    >>> notebook_setup(None) is None      # interactive use: configure, but no output folder
    True
    """
    import matplotlib as mpl
    import numpy as np
    import seaborn as sns

    from trialkit.report.captions import set_alpha

    set_alpha(alpha)
    os.environ.setdefault("SOURCE_DATE_EPOCH", "0")
    sns.set_theme(context="notebook", style="whitegrid")
    mpl.rcParams.update({
        "svg.hashsalt": "trialkit",
        "svg.fonttype": "path",
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (7.0, 4.5),
        "figure.max_open_warning": 0,
    })
    pd.set_option("display.width", 120)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_rows", 80)
    pd.set_option("display.precision", 3)
    pd.set_option("display.max_colwidth", None)  # full cell text, never cut with "..."
    _install_table_display()
    np.random.seed(seed)  # only for third-party code that draws from the global state (seaborn jitter)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)
    if out_dir is None:
        return None
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    return out


def _install_table_display() -> None:
    """In an IPython kernel, show DataFrames through :func:`~trialkit.tables.display.display_table`
    (HTML and plain text); elsewhere (a script, a doctest) nothing changes."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the kernel
        return
    ip = get_ipython()
    if ip is None:
        return
    from trialkit.tables.display import display_table

    formatters = ip.display_formatter.formatters
    formatters["text/html"].for_type(pd.DataFrame, lambda df: display_table(df)._repr_html_())
    formatters["text/plain"].for_type(pd.DataFrame, lambda df, p, cycle: p.text(repr(display_table(df))))


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ValueError(f"output name {name!r}: use lower-case letters, digits and underscores")


def save_table(df: pd.DataFrame, name: str, out_dir: str | Path | None, *, index: bool = False,
               caption: str | None = None) -> pd.DataFrame:
    """Write ``df`` to ``<out_dir>/tables/<name>.csv`` (deterministic) and return it for display.

    In a report run (``out_dir`` given, inside a kernel) the notebook also shows the table's
    caption, numbered later as a supplementary table (:mod:`trialkit.report.captions`): ``caption``,
    else the registry's entry for ``name`` (``trialkit/report/captions.yaml``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> df = pd.DataFrame({"arm": ["A", "B"], "n": [12, 11], "rate": [1 / 3, 0.25]})
    >>> save_table(df, "demo_rates", out) is df      # returned for display as a cell's last line
    True
    >>> print((out / "tables" / "demo_rates.csv").read_text(), end="")
    arm,n,rate
    A,12,0.333333
    B,11,0.25
    >>> save_table(df, "Demo Rates", None)
    Traceback (most recent call last):
    ...
    ValueError: output name 'Demo Rates': use lower-case letters, digits and underscores
    """
    _check_name(name)
    if out_dir is not None:
        path = Path(out_dir) / "tables" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".csv.tmp")
        df.to_csv(tmp, index=index, lineterminator="\n", float_format="%.6g")
        os.replace(tmp, path)
        show_caption("table", name, caption)
    return df


def save_figure(fig: Figure, name: str, out_dir: str | Path | None, formats: Sequence[str] = FIGURE_FORMATS, *,
                caption: str | None = None) -> Figure:
    """Save a matplotlib figure as PNG and SVG with fixed metadata (byte-identical across runs).

    In a report run (``out_dir`` given, inside a kernel) the notebook also shows the figure's
    caption below it, numbered later as a supplementary figure (:mod:`trialkit.report.captions`):
    ``caption``, else the registry's entry for ``name`` (``trialkit/report/captions.yaml``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from matplotlib.figure import Figure
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> fig = Figure(figsize=(3, 2))
    >>> _ = fig.add_subplot().plot([0, 30, 60], [1.0, 0.8, 0.7])
    >>> fig is save_figure(fig, "demo_curve", out)
    True
    >>> sorted(p.name for p in (out / "figures").iterdir())
    ['demo_curve.png', 'demo_curve.svg']
    >>> first = (out / "figures" / "demo_curve.svg").read_bytes()
    >>> _ = save_figure(fig, "demo_curve", out)
    >>> (out / "figures" / "demo_curve.svg").read_bytes() == first
    True
    """
    _check_name(name)
    if out_dir is not None:
        folder = Path(out_dir) / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        for fmt in formats:
            meta = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None},
                    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None}}[fmt]
            path = folder / f"{name}.{fmt}"
            tmp = folder / f".{name}.{fmt}.tmp"
            fig.savefig(tmp, format=fmt, metadata=meta, bbox_inches="tight")
            os.replace(tmp, path)
        show_caption("figure", name, caption)
    return fig
