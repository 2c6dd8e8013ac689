"""Randomization: arm sizes, permuted blocks, subject ids and randomization dates.

Subjects are numbered in randomization order. The allocation sequence is made of permuted blocks
of ``block_size``, each holding ``block_size / sum(ratio)`` copies of the ratio (a 3:3:3:2 ratio
with blocks of 11 gives 3, 3, 3 and 2 per block). When the arm sizes are not a whole number of
blocks, the last, incomplete block holds exactly the remaining allocations, in random order, so the
arm sizes are always exactly as requested. Randomization dates are sorted uniform draws over the
recruitment period, so dates never decrease along the sequence.

Examples
--------
>>> import numpy as np
>>> from trialkit.simulate.allocation import apportion
>>> apportion(110, {"control": 3, "msc": 3, "pe": 3, "pe_msc": 2})
{'control': 30, 'msc': 30, 'pe': 30, 'pe_msc': 20}
"""
from __future__ import annotations

import numpy as np

from trialkit.errors import ScenarioError
from trialkit.simulate.scenario import Scenario, ratio_from_sizes
from trialkit.study import Study

__all__ = ["apportion", "arm_sizes", "allocation_note", "randomize", "subject_ids", "randomization_dates",
           "effective_block_size"]


def apportion(total: int, ratio: dict[str, int]) -> dict[str, int]:
    """Split ``total`` by ``ratio`` with the largest-remainder method (ties: earlier arm first).

    Examples
    --------
    >>> apportion(10, {"control": 1, "msc": 1, "pe": 1})
    {'control': 4, 'msc': 3, 'pe': 3}
    >>> apportion(50, {"control": 1, "msc": 1, "pe": 1, "pe_msc": 1})
    {'control': 13, 'msc': 13, 'pe': 12, 'pe_msc': 12}
    """
    weights = np.array(list(ratio.values()), dtype=float)
    exact = total * weights / weights.sum()
    base = np.floor(exact).astype(int)
    rem = total - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:rem]] += 1
    return dict(zip(ratio, base.tolist()))


def _declared(sc: Scenario) -> dict[str, int]:
    """The scenario's allocation as written: its fixed arm sizes, else its ratio."""
    declared = sc.allocation_sizes if sc.allocation_sizes is not None else sc.allocation_ratio
    return declared or {}


def arm_sizes(sc: Scenario, study: Study, n_subjects: int | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """(sizes, ratio) per arm id of the study, in the study's arm order.

    ``n_subjects`` overrides the scenario's total, keeping its allocation ratio. A scenario written
    for a larger design serves a study whose arms are a subset of its arms (e.g. the default
    scenario on a two-arm ``control`` vs ``msc`` study): the ratio is restricted to those arms and
    the total kept. A study with arms the scenario does not allocate gets equal allocation (the
    truth records :func:`allocation_note`).

    Examples
    --------
    >>> import dataclasses
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> sc, study = load_scenario("default"), load_study()
    >>> arm_sizes(sc, study)
    ({'control': 30, 'msc': 30, 'pe': 30, 'pe_msc': 30}, {'control': 1, 'msc': 1, 'pe': 1, 'pe_msc': 1})
    >>> arm_sizes(load_scenario("published"), study, n_subjects=22)[0]
    {'control': 6, 'msc': 6, 'pe': 6, 'pe_msc': 4}

    A study with only the ``control`` and ``msc`` arms keeps the scenario's total of 120:

    >>> arm_sizes(sc, dataclasses.replace(study, arms=study.arms[:2]))
    ({'control': 60, 'msc': 60}, {'control': 1, 'msc': 1})
    """
    fixed = sc.allocation_sizes  # the parser guarantees fixed sizes, or a ratio and a total
    declared = _declared(sc)
    total = int(sum(fixed.values())) if fixed is not None else int(sc.total or 0)
    ratio = sc.allocation_ratio if sc.allocation_ratio is not None else ratio_from_sizes(declared)
    exact = fixed is not None and list(declared) == study.arm_ids
    if all(a in declared for a in study.arm_ids):
        ratio = {a: int(ratio[a]) for a in study.arm_ids}
    else:
        ratio = {a: 1 for a in study.arm_ids}
    if sum(ratio.values()) < 1:
        raise ScenarioError(f"{sc.source}: allocation: no subject would be allocated to the study's arms "
                            f"{study.arm_ids}")
    if n_subjects is not None:
        if int(n_subjects) < 1:
            raise ValueError(f"n_subjects must be a positive number of subjects, got {n_subjects!r}")
        sizes = apportion(int(n_subjects), ratio)
    elif fixed is not None and exact:
        sizes = {a: int(fixed[a]) for a in study.arm_ids}
    else:
        sizes = apportion(total, ratio)
    return sizes, ratio


def allocation_note(sc: Scenario, study: Study) -> str | None:
    """How the scenario's allocation was adapted to the study's arms (None when it fits as written).

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study, params_dir
    >>> sc = load_scenario("default")
    >>> allocation_note(sc, load_study()) is None
    True
    >>> print(allocation_note(sc, load_study(params_dir() / "study_two_arm.yaml")))
    the scenario allocates arms ['control', 'msc', 'pe', 'pe_msc'], not the study's arms ['soc', 'ucmsc']:
    equal allocation with the scenario's total was used
    """
    declared = list(_declared(sc))
    if declared == study.arm_ids:
        return None
    if all(a in declared for a in study.arm_ids):
        return (f"the scenario allocates arms {declared}; its ratio was restricted to the study's arms "
                f"{study.arm_ids}, keeping the total")
    return (f"the scenario allocates arms {declared}, not the study's arms {study.arm_ids}: "
            "equal allocation with the scenario's total was used")


def effective_block_size(ratio: dict[str, int], block_size: int) -> int:
    """``block_size`` if it is a multiple of the ratio's sum, else the nearest multiple below (>= 1 x sum).

    Examples
    --------
    >>> effective_block_size({"control": 1, "msc": 1}, 8), effective_block_size({"control": 1, "msc": 1}, 7)
    (8, 6)
    >>> effective_block_size({"control": 3, "msc": 3, "pe": 3, "pe_msc": 2}, 4)
    11
    """
    unit = sum(ratio.values())
    return unit * max(1, block_size // unit)


def randomize(rng: np.random.Generator, sizes: dict[str, int], ratio: dict[str, int],
              block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The allocation sequence: (arm index per subject, block number per subject, from 0).

    Examples
    --------
    Ten subjects 1:1 in blocks of 4: two full blocks, then an incomplete block of the remaining two.

    >>> arm, block = randomize(np.random.default_rng(1), {"control": 5, "msc": 5}, {"control": 1, "msc": 1}, 4)
    >>> arm.tolist()
    [1, 0, 1, 0, 0, 1, 0, 1, 1, 0]
    >>> block.tolist()
    [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    >>> np.bincount(arm).tolist()
    [5, 5]
    """
    block_size = effective_block_size(ratio, block_size)
    per_block = np.repeat(np.arange(len(ratio)), np.array(list(ratio.values())) * (block_size // sum(ratio.values())))
    n = sum(sizes.values())
    n_full = n // block_size
    counts_full = np.bincount(per_block, minlength=len(ratio)) * n_full
    rest = np.array(list(sizes.values())) - counts_full
    while (rest < 0).any():  # sizes far from the ratio: use fewer full blocks
        n_full -= 1
        counts_full = np.bincount(per_block, minlength=len(ratio)) * n_full
        rest = np.array(list(sizes.values())) - counts_full
    keys = rng.random((n_full, block_size))
    full = per_block[np.argsort(keys, axis=1)]
    tail = np.repeat(np.arange(len(ratio)), rest)
    tail = tail[rng.permutation(len(tail))]
    arm_idx = np.concatenate([full.ravel(), tail])
    block = np.concatenate([np.repeat(np.arange(n_full), block_size),
                            n_full + np.arange(len(tail)) // block_size])
    return arm_idx.astype(np.int64), block.astype(np.int64)


def subject_ids(n: int, prefix: str = "S") -> np.ndarray:
    """Zero-padded ids ``S001`` ... in randomization order (lexical order = numeric order).

    Examples
    --------
    >>> subject_ids(3).tolist()
    ['S001', 'S002', 'S003']
    >>> subject_ids(1200)[[0, -1]].tolist()
    ['S0001', 'S1200']
    """
    width = max(3, len(str(n)))
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def randomization_dates(rng: np.random.Generator, n: int, sc: Scenario) -> np.ndarray:
    """Sorted uniform dates (``datetime64[D]``) over the recruitment period.

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> sc = load_scenario("default")
    >>> [str(d) for d in sc.recruitment]
    ['2012-11-01', '2015-03-31']
    >>> randomization_dates(np.random.default_rng(1), 5, sc).astype(str).tolist()
    ['2012-12-01', '2013-12-22', '2014-01-25', '2014-08-28', '2015-02-16']
    """
    start, end = (np.datetime64(d, "D") for d in sc.recruitment)
    span = int((end - start).astype(int))
    return start + np.sort(rng.integers(0, span + 1, n)).astype("timedelta64[D]")
