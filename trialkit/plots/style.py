"""One colour per arm for every figure of the kit (seaborn's colour-blind palette, study order)."""
from __future__ import annotations

__all__ = ["arm_colors"]


def arm_colors(arms) -> dict:
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

    groups = list(getattr(arms, "arm_ids", arms))
    pal = sns.color_palette("colorblind", max(len(groups), 3))
    return {g: pal[i % len(pal)] for i, g in enumerate(groups)}
