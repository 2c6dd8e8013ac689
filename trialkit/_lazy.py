"""Lazy submodules for the analysis packages (``trialkit.stats``, ``.plots``, ...).

``import trialkit.stats`` stays cheap; ``trialkit.stats.survival`` is imported on first use.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable


def lazy_submodules(package: str) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package`` that imports ``package.<name>`` on first access.

    Examples
    --------
    >>> getattr_ = lazy_submodules("trialkit.stats")
    >>> getattr_("survival").__name__
    'trialkit.stats.survival'
    """

    def __getattr__(name: str) -> ModuleType:
        try:
            return importlib.import_module(f"{package}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.{name}":
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
            raise

    return __getattr__
