"""The confidence level that ``alpha`` gives, as every table, figure and sentence labels it."""
from __future__ import annotations

__all__ = ["level_pct", "ci_label"]


def level_pct(alpha: float) -> str:
    """The confidence level ``1 - alpha`` as a percentage string.

    Examples
    --------
    >>> level_pct(0.05), level_pct(0.01), level_pct(0.1), level_pct(0.025)
    ('95%', '99%', '90%', '97.5%')
    """
    return f"{100 * (1 - alpha):.10g}%"


def ci_label(alpha: float) -> str:
    """``"95% CI"`` for ``alpha = 0.05``, ``"99% CI"`` for 0.01, …

    Examples
    --------
    >>> ci_label(0.01)
    '99% CI'
    """
    return f"{level_pct(alpha)} CI"
