"""Figures (matplotlib; every function takes ``ax=`` and returns it): CONSORT, trajectories, safety.

Submodules are imported on first use: ``from trialkit.plots import consort, trajectories, safety``.
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
