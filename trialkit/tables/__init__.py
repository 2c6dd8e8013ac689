"""Result tables (tidy DataFrames, plus HTML renderings): baseline (Table 1) and safety.

Submodules are imported on first use: ``from trialkit.tables import baseline, safety``.
"""
from __future__ import annotations

import importlib

__all__: list[str] = []


def __getattr__(name: str):
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        raise
