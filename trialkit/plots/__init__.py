"""Figures (matplotlib; every function takes ``ax=`` and returns it): CONSORT, trajectories, safety.

Submodules are imported on first use: ``from trialkit.plots import consort, trajectories, safety``.
"""
from __future__ import annotations

from trialkit._lazy import lazy_submodules

__all__: list[str] = []
__getattr__ = lazy_submodules(__name__)
