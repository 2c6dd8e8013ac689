"""The report's one rounding rule: how a number is shown, by the kind of column it is in.

Result tables keep full precision (CSV files, DataFrames); rounding happens only when a table is
shown. :func:`~trialkit.report.save.notebook_setup` makes every DataFrame a notebook displays go
through :func:`display_table`, and the Table 1 renderer formats its SMD and p-value columns with
:func:`format_number`, so one rule holds across the report (``docs/outputs.md``, "Rounding"):

========================  ==============================================  ===================
column kind               recognised by                                   shown as
========================  ==============================================  ===================
p-value                   ``p_value``, ``*_p_value``, ``p``, ``p_adj*``,  2 significant digits;
                          ``q_value``                                     ``<0.001`` below 0.001
percentage                ``pct*``, ``*_pct``, ``percent*``, ``*%``       1 decimal
count                     integer values (integer dtype, or every value   no decimals
                          a whole number)
estimate (all others)     any other numeric column: estimates, CIs, SEs,  3 significant digits
                          rates, ratios, SMDs                             (integer digits all kept)
========================  ==============================================  ===================

Missing values are shown empty; text columns are left as they are.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"label": ["A", "B"], "n": [30, 29], "estimate": [0.5, 0.31349],
...                    "ci_low": [0.21, 0.0004567], "p_value": [0.04567, 0.00002], "pct_missed": [12.345, 0.0]})
>>> display_table(df)
  label   n estimate    ci_low p_value pct_missed
0     A  30    0.500     0.210   0.046       12.3
1     B  29    0.313  0.000457  <0.001        0.0
"""
from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["column_kind", "format_number", "display_table", "SIGNIFICANT_DIGITS"]

#: significant digits by column kind (counts and percentages use fixed decimals)
SIGNIFICANT_DIGITS = {"estimate": 3, "p_value": 2}
_P = re.compile(r"^(p|p_value|.*_p_value|p_adj.*|q_value)$")
_PCT = re.compile(r"^(pct.*|.*_pct|percent.*|.*%)$")


def column_kind(name: str, values: pd.Series | Sequence[object]) -> str:
    """The kind of a column for display: ``"p_value"``, ``"percentage"``, ``"count"``,
    ``"estimate"`` or ``"text"``.

    Parameters
    ----------
    name : str
        Column name (tidy snake_case names, see the module table).
    values : array-like
        The column's values.

    Returns
    -------
    str

    Examples
    --------
    >>> column_kind("p_value", [0.2]), column_kind("pct_observed", [50.0]), column_kind("n_events", [3.0, None])
    ('p_value', 'percentage', 'count')
    >>> column_kind("hazard_ratio", [0.71, 1.2]), column_kind("arm", ["a"]), column_kind("converged", [True])
    ('estimate', 'text', 'text')
    """
    s = pd.Series(values)
    if s.dtype == bool or str(s.dtype) == "boolean":
        return "text"
    num = pd.to_numeric(s, errors="coerce")
    known = s.notna()
    if not known.any() or num[known].isna().any() or s[known].map(lambda v: isinstance(v, (bool, np.bool_))).any():
        return "text"
    key = str(name).strip().lower()
    if _P.match(key):
        return "p_value"
    if _PCT.match(key):
        return "percentage"
    finite = num[known & np.isfinite(num.astype(float))].astype(float)
    if pd.api.types.is_integer_dtype(s.dtype) or (len(finite) and (np.mod(finite, 1) == 0).all()):
        return "count"
    return "estimate"


def _significant(x: float, digits: int) -> str:
    """``x`` with ``digits`` significant digits, in plain (not scientific) notation; a number with
    more integer digits keeps them all (12346, not 12300)."""
    if x == 0:
        return "0"
    if abs(x) >= 10 ** (digits - 1):
        return f"{x:.0f}"
    rounded = float(f"{x:.{digits - 1}e}")  # rounding first: 0.9996 -> 1.00, not 1.000
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:.{decimals}f}"


def format_number(x: Any, kind: str = "estimate") -> str:
    """One number as the report shows it in a column of kind ``kind`` (see the module table).

    Parameters
    ----------
    x : float or None
    kind : {"estimate", "p_value", "percentage", "count", "text"}

    Returns
    -------
    str
        Empty for a missing value; ``inf`` / ``-inf`` as such.

    Examples
    --------
    >>> [format_number(v) for v in (0.84, 1.7664, 0.0004567, 12345.6, -0.31349)]
    ['0.840', '1.77', '0.000457', '12346', '-0.313']
    >>> [format_number(p, "p_value") for p in (0.6461, 0.0412, 0.00099, 1.0)]
    ['0.65', '0.041', '<0.001', '1.0']
    >>> format_number(33.333, "percentage"), format_number(30.0, "count"), format_number(float("nan"))
    ('33.3', '30', '')
    """
    if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA:
        return ""
    if kind == "text":
        return str(x)
    x = float(x)
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if kind == "count":
        return f"{x:.0f}"
    if kind == "percentage":
        return f"{x:.1f}"
    if kind == "p_value":
        return "<0.001" if x < 0.001 else _significant(x, SIGNIFICANT_DIGITS["p_value"])
    if kind != "estimate":
        raise ValueError(f"kind {kind!r}: expected estimate, p_value, percentage, count or text")
    return _significant(x, SIGNIFICANT_DIGITS["estimate"])


def display_table(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with every numeric column formatted by the report's rounding rule.

    Parameters
    ----------
    df : DataFrame
        Any result table (not modified).

    Returns
    -------
    DataFrame
        Same index and columns; numeric columns as strings (:func:`format_number` with the
        kind from :func:`column_kind`), missing values empty, text columns unchanged.

    Examples
    --------
    >>> t = pd.DataFrame({"comparison": ["UC-MSC vs control"], "estimate": [0.71], "p_value": [0.577]})
    >>> display_table(t)
              comparison estimate p_value
    0  UC-MSC vs control    0.710    0.58
    >>> float(t["estimate"].iloc[0])          # the table itself keeps full precision
    0.71
    """
    out = df.copy()
    for i in range(out.shape[1]):
        col = out.iloc[:, i]
        kind = column_kind(out.columns[i] if not isinstance(out.columns[i], tuple) else out.columns[i][-1], col)
        if kind == "text":
            shown = col.astype(object).where(col.notna(), "")
        else:
            shown = col.map(lambda v, k=kind: format_number(v, k)).astype(object)
        out.isetitem(i, shown)
    return out
