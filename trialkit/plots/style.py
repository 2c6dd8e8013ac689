"""One colour per arm for every figure of the kit (seaborn's colour-blind palette, study order)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from trialkit.study import Study

__all__ = ["arm_colors", "error_bars"]


def arm_colors(arms: Study | Sequence) -> dict:
    """A stable colour per arm: the i-th arm gets the i-th colour of seaborn's ``colorblind`` palette.

    Parameters
    ----------
    arms : Study or sequence
        A :class:`~trialkit.study.Study` (its arms in study-file order) or the group labels in the order
        they should be coloured. Pass the study's order everywhere so an arm has the same colour in
        every figure.

    Returns
    -------
    dict
        ``{arm: (r, g, b)}``.

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> colors = arm_colors(load_study())
    >>> list(colors)
    ['control', 'msc', 'pe', 'pe_msc']
    >>> colors == arm_colors(["control", "msc", "pe", "pe_msc"])
    True
    >>> tuple(round(float(v), 3) for v in colors["control"])
    (0.004, 0.451, 0.698)
    """
    import seaborn as sns

    groups = list(arms.arm_ids if hasattr(arms, "arm_ids") else arms)
    pal = sns.color_palette("colorblind", max(len(groups), 3))
    return {g: pal[i % len(pal)] for i, g in enumerate(groups)}


def error_bars(estimate: npt.ArrayLike, ci_low: npt.ArrayLike, ci_high: npt.ArrayLike) -> np.ndarray:
    """``yerr``/``xerr`` for matplotlib from an estimate and its interval: a 2 x n array of distances,
    never negative (an interval that stops a rounding error short of its estimate, or is missing, draws
    no bar instead of failing).

    Examples
    --------
    >>> error_bars([0.0, 0.5, 0.2], [1e-17, 0.4, float("nan")], [0.3, 0.7, 0.4]).round(3).tolist()
    [[0.0, 0.1, 0.0], [0.3, 0.2, 0.2]]
    """
    import numpy as np

    est = np.asarray(estimate, dtype=float)
    err = np.vstack([est - np.asarray(ci_low, dtype=float), np.asarray(ci_high, dtype=float) - est])
    return np.clip(np.nan_to_num(err), 0.0, None)
