"""Statistical methods, one submodule per family; each is imported on first use.

``from trialkit.stats import categorical`` or ``trialkit.stats.competing`` both work; nothing is
imported here eagerly, so adding a submodule never touches this file.
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
