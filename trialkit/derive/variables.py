"""Which labs, scores, ratios and subgroups a notebook analyses: the study file's lists, the data, a parameter.

No notebook names a trial's labs. Each analysis list is resolved in one place,
:func:`analysis_variables`: the study file's ``analysis.<list>`` (or, without it, a default built from
the study and the data), replaced by the notebook's parameter when one is given, then filtered by
what the data can provide (a measured lab, a score whose inputs were measured, a ratio whose two parts
were measured). :func:`analysis_subgroups` does the same for the subgroup variables (study file
``subgroups:``) and :func:`higher_is_better` gives the direction of benefit (study file ``worse:``).

Examples
--------
>>> import pandas as pd
>>> from trialkit.data.trial import Trial
>>> from trialkit.study import load_study
>>> labs = pd.DataFrame({"subject_id": "a", "day": 0, "visit": "D0", "parameter": ["ALT", "TBIL", "ALB"],
...                      "value": [80.0, 300.0, 30.0], "unit": ["U/L", "umol/L", "g/L"]})
>>> t = Trial(study=load_study(), subjects=pd.DataFrame({"subject_id": ["a"], "arm": ["msc"]}), labs=labs,
...           events=pd.DataFrame())
>>> analysis_variables(t, "efficacy")  # the study's list, without what these data lack
(['ALT', 'ALB', 'TBIL'], ['PT', 'INR', 'MELD', 'CHILD_PUGH'])
>>> analysis_variables(t, "efficacy", ["TBIL", "INR"], parameter="lab_parameters")  # narrowed
(['TBIL'], ['INR'])
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from trialkit.derive.change import SCORE_PARAMETERS, available_parameters
from trialkit.derive.severity import SCORE_INPUTS
from trialkit.study import ANALYSIS_LISTS

if TYPE_CHECKING:
    from trialkit.data.trial import Trial
    from trialkit.study import Study

__all__ = ["analysis_variables", "analysis_subgroups", "higher_is_better", "known_names"]


def known_names(study: Study) -> list[str]:
    """Every name an analysis list may hold: the declared parameters, the kit's scores (``MELD``,
    ``CHILD_PUGH``, … and their ``add_scores`` columns ``meld``, ``child_pugh_points``, …) and ratios
    ``A_B`` of two declared parameters (not enumerated here).

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> names = known_names(load_study())
    >>> "TBIL" in names, "MELD" in names, "meld" in names, "TH1_TH2" in names
    (True, True, True, False)
    """
    return [*study.parameters, *SCORE_PARAMETERS, *SCORE_INPUTS]


def _check(study: Study, names: Sequence[str], where: str) -> None:
    known = set(known_names(study))
    for p in names:
        parts = p.split("_", 1)
        if p not in known and not (len(parts) == 2 and all(x in study.parameters for x in parts)):
            raise ValueError(f"{where}: {p!r} is not a declared parameter of the study file, a score "
                             f"({', '.join(SCORE_PARAMETERS)}) or a ratio A_B of two declared parameters")


def _measured(study: Study, trial: Trial, exclude: Sequence[str] = ()) -> list[str]:
    """Declared parameters with data, in declaration order, except grades (ordinal) and ``exclude``."""
    have = set(available_parameters(trial, list(study.parameters)))
    return [p for p, spec in study.parameters.items()
            if p in have and p not in exclude and spec.unit.strip().lower() != "grade"]


def _default(study: Study, trial: Trial, key: str) -> list[str]:
    """The list ``key`` of a study file without it (see :func:`analysis_variables`)."""
    markers = list(study.immune_markers)
    immune = markers + (["_".join(markers)] if len(markers) == 2 else [])
    if key in ("trajectories", "efficacy"):
        return _measured(study, trial, exclude=markers)
    if key == "immune":
        return immune
    if key == "log_scale":
        return immune
    if key == "trajectories_log_scale":
        return _resolve(study, trial, "log_scale")
    if key == "simulation":
        return _resolve(study, trial, "efficacy")
    raise ValueError(f"unknown analysis list {key!r} (one of {', '.join(ANALYSIS_LISTS)})")


def _resolve(study: Study, trial: Trial, key: str) -> list[str]:
    if key in study.analysis:
        names = list(study.analysis[key])
        _check(study, names, f"{study.path or 'study file'}: analysis.{key}")
        return names
    return _default(study, trial, key)


def analysis_variables(trial: Trial, key: str, requested: Sequence[str] | None = None, *, parameter: str | None = None
                       ) -> tuple[list[str], list[str]]:
    """The labs, scores and ratios of one analysis list: from the study file, narrowed, filtered by the data.

    Parameters
    ----------
    trial : Trial
    key : str
        One of :data:`trialkit.study.ANALYSIS_LISTS`: ``trajectories`` (drawn over the visits),
        ``trajectories_log_scale`` (of those, drawn as geometric means on a log axis), ``efficacy``
        (change from baseline), ``immune`` (immune markers and their ratio), ``log_scale`` (analysed
        as log ratios), ``simulation`` (simulated lab effects checked).
    requested : list of str, optional
        The notebook parameter: these names instead of the study's list. ``None``: the study's.
    parameter : str, optional
        The notebook parameter's name, for the error message.

    Returns
    -------
    used : list of str
        The names the data can provide, in the list's order.
    missing : list of str
        The names of the list the data cannot provide (not measured, a score without its inputs).

    Raises
    ------
    ValueError
        A name that is neither a declared parameter, a score nor a ratio of two declared
        parameters; the message names the parameter (or the study file's list).

    Notes
    -----
    Without ``analysis.<key>`` in the study file: ``trajectories`` and ``efficacy`` are every declared
    parameter measured in the data (declaration order; grades and immune markers left out; no
    score, since a score belongs to one disease); ``immune`` is ``immune_markers`` (plus their ratio
    ``A_B`` when there are two); ``log_scale`` is the immune list; ``trajectories_log_scale`` is the
    ``log_scale`` list; ``simulation`` is the ``efficacy`` list.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import study_from_dict
    >>> study = study_from_dict({"arms": [{"id": "c"}, {"id": "t"}], "control_arm": "c", "horizons": {"primary": 90},
    ...                          "parameters": {"CRP": {"unit": "mg/L"}, "HB": {"unit": "g/L"},
    ...                                         "PAIN": {"unit": "grade"}}})
    >>> labs = pd.DataFrame({"subject_id": "a", "day": 0, "parameter": ["HB", "PAIN"], "value": [120.0, 1.0],
    ...                      "unit": ["g/L", "grade"]})
    >>> t = Trial(study=study, subjects=pd.DataFrame({"subject_id": ["a"], "arm": ["t"]}), labs=labs,
    ...           events=pd.DataFrame())
    >>> analysis_variables(t, "efficacy")  # no analysis: section: every measured lab but grades
    (['HB'], [])
    >>> analysis_variables(t, "efficacy", ["CRP", "HB"])
    (['HB'], ['CRP'])
    >>> analysis_variables(t, "efficacy", ["ALT"], parameter="lab_parameters")
    Traceback (most recent call last):
    ...
    ValueError: lab_parameters: 'ALT' is not a declared parameter of the study file, a score (MELD, MELD_NA, MELD_3, CHILD_PUGH, ALBI, COSSH_ACLF_II) or a ratio A_B of two declared parameters
    """
    study = trial.study
    if key not in ANALYSIS_LISTS:
        raise ValueError(f"unknown analysis list {key!r} (one of {', '.join(ANALYSIS_LISTS)})")
    if requested is None:
        names = _resolve(study, trial, key)
    else:
        if isinstance(requested, str) or not all(isinstance(p, str) for p in requested):
            raise ValueError(f"{parameter or key}: expected a list of names or None, got {requested!r}")
        names = list(requested)
        _check(study, names, parameter or key)
    used = available_parameters(trial, names)
    return used, [p for p in names if p not in used]


def _has_values(trial: Trial, variable: str) -> bool:
    subjects = trial.subjects
    if variable in subjects.columns:
        return subjects[variable].nunique() > 1
    return bool(available_parameters(trial, [variable]))


def analysis_subgroups(trial: Trial, requested: Sequence[str] | Mapping[str, str | None] | None = None, *,
                       parameter: str | None = None) -> dict[str, str | None]:
    """Subgroup variables and their cut, as :func:`trialkit.stats.subgroups.subgroup_cox` takes them.

    Parameters
    ----------
    trial : Trial
    requested : list of str, optional
        The notebook parameter: these variables instead of the study file's ``subgroups``; each must
        be declared there, or be a column of ``subjects``, a declared parameter or a score.
    parameter : str, optional
        The notebook parameter's name, for the error message.

    Returns
    -------
    dict
        variable -> ``"median"`` (split at the median) or ``None`` (by level), in the study's order,
        keeping only variables the data have: a ``subjects`` column with more than one value, or a
        lab or score measured at baseline. A cut ``auto`` (or a variable given as a list item) is
        ``"median"`` for a numeric column with more than two values, else ``None``.

    Raises
    ------
    ValueError
        A requested variable the study file, the subjects table and the labs all ignore.

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.data.trial import Trial
    >>> from trialkit.study import load_study
    >>> s = pd.DataFrame({"subject_id": ["a", "b", "c"], "arm": ["msc", "control", "pe"], "age": [40.0, 50.0, 61.0],
    ...                   "cirrhosis": [True, False, True]})
    >>> t = Trial(study=load_study(), subjects=s, labs=pd.DataFrame(columns=["subject_id", "day", "visit",
    ...           "parameter", "value", "unit"]), events=pd.DataFrame())
    >>> analysis_subgroups(t)  # the study's subgroups that these data have
    {'age': 'median', 'cirrhosis': None}
    >>> analysis_subgroups(t, ["cirrhosis"])
    {'cirrhosis': None}
    >>> analysis_subgroups(t, ["bmi"], parameter="subgroup_variables")
    Traceback (most recent call last):
    ...
    ValueError: subgroup_variables: 'bmi' is neither a subgroup of the study file, a column of subjects, a declared parameter nor a score
    """
    study, subjects = trial.study, trial.subjects
    cuts = dict(study.subgroups)
    if requested is not None:
        if isinstance(requested, str) or not all(isinstance(v, str) for v in requested):
            raise ValueError(f"{parameter or 'subgroups'}: expected a list of variables or None, got {requested!r}")
        known = set(cuts) | set(subjects.columns) | set(known_names(study))
        for v in requested:
            if v not in known:
                raise ValueError(f"{parameter or 'subgroups'}: {v!r} is neither a subgroup of the study file, a "
                                 "column of subjects, a declared parameter nor a score")
        cuts = {v: cuts.get(v, "auto") for v in requested}
    out = {}
    for v, cut in cuts.items():
        if not _has_values(trial, v):
            continue
        if cut == "auto":
            col = subjects[v] if v in subjects.columns else None
            numeric = col is None or (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)
                                      and col.nunique() > 2)
            cut = "median" if numeric else "categorical"
        out[v] = "median" if cut == "median" else None
    return out


def higher_is_better(study: Study, name: str) -> bool | None:
    """The direction of benefit of a change in ``name``: from the study file's ``worse:``; every score
    of the kit rises with severity; ``None`` when undeclared (a ratio, a parameter without ``worse``).

    Examples
    --------
    >>> from trialkit.study import load_study
    >>> [higher_is_better(load_study(), p) for p in ("ALB", "TBIL", "MELD", "TH1_TH2", "HE")]
    [True, False, False, None, None]
    """
    spec = study.parameters.get(name)
    if spec is not None:
        return None if spec.worse is None else spec.worse == "lower"
    if name in SCORE_PARAMETERS or name in SCORE_INPUTS:
        return False
    return None
