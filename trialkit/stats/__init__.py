"""Statistical methods, one submodule per family; each is imported on first use.

``from trialkit.stats import categorical`` or ``trialkit.stats.competing`` both work; nothing is
imported here eagerly, so adding a submodule never touches this file.
"""
from __future__ import annotations

from trialkit._lazy import lazy_submodules

__all__: list[str] = []
__getattr__ = lazy_submodules(__name__)
