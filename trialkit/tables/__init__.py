"""Result tables (tidy DataFrames, plus HTML renderings): baseline (Table 1) and safety.

Submodules are imported on first use: ``from trialkit.tables import baseline, safety``.
"""
from __future__ import annotations

from trialkit._lazy import lazy_submodules

__all__: list[str] = []
__getattr__ = lazy_submodules(__name__)
