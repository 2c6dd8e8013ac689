"""Run parameters (``params/default.yaml``): the one schema, read and checked in one place.

:func:`load_params` reads the YAML, applies command-line overrides and checks every key
(:func:`check_params`); :func:`check_horizons` checks the analysis horizons against the data's
follow-up once the dataset is known.

Examples
--------
>>> p = load_params(None)        # params/default.yaml
>>> p.dataset, p.code in ("show", "fold", "hide")
('simulate', True)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

import yaml

from trialkit.errors import TrialkitError
from trialkit.report.citation import check_settings
from trialkit.report.folders import project_root
from trialkit.report.jsontypes import JsonTypeError, check_json_value, load_yaml_json
from trialkit.study import parse_days
from trialkit.yamlcheck import Checker

__all__ = ["RunParams", "ParamsError", "load_params", "check_horizons", "HORIZON_PARAMETERS"]
CODE_MODES = ("show", "fold", "hide")


class ParamsError(TrialkitError):
    """The run-parameters file is unreadable or inconsistent."""


# ------------------------------------------------------------------------------------------------
# Run parameters
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunParams:
    """The run parameters (``params/default.yaml``); relative paths are relative to the working folder.

    Attributes
    ----------
    name : str
        Report folder name: the report lands in ``<outputs>/<name>``.
    outputs : str
        Folder holding the reports (default ``outputs``).
    dataset : str
        ``"simulate"`` or a dataset directory / Excel workbook.
    scenario : str, dict or None
        With ``simulate``: a scenario YAML (path or bare name), or an inline scenario mapping
        (``extends:`` a bundled one); ``None`` = ``params/scenarios/default.yaml``.
    seed, n_subjects : int or None
        With ``simulate``: the seed (``None`` = the scenario's) and number of subjects.
    study : str or None
        Study file; ``None`` = the dataset's own ``study.yaml`` (simulated data carry the one used),
        else ``params/study.yaml``.
    alpha : float
        Two-sided significance level passed to every notebook.
    horizons : dict or None
        ``{primary: days, secondary: days}`` overriding the study file's; ``None`` = the study's.
        Read exactly like the study file's horizons (:func:`trialkit.study.parse_days`): days
        (fractions allowed) or ``48 weeks``, ``6 months``, ``10 years`` with the day lengths of
        :data:`trialkit.study.DAY_LENGTHS`; held here in days.
    code : {"show", "fold", "hide"}
        Code cells in the HTML: shown, folded under a "Code" toggle, or left out.
    allow_listings : bool
        True only for internal reports: notebooks may show subject-level listings and the
        identifier check is skipped.
    notebooks : str
        Folder of the notebooks (``notebooks``).
    notebook_parameters : dict
        Extra parameters per notebook (``{"04_predictive": {"n_splits": 5}}``); each must be
        declared in that notebook's ``parameters`` cell.
    cell_timeout : int or None
        Seconds a single cell may run (``None`` = no limit).
    archive : dict
        Metadata of the supplementary-material archive (``trialkit archive``): title, authors,
        version, description, keywords, license_content, license_code, repository_code; see
        :mod:`trialkit.report.archive`.
    pseudonymize_ids : {"auto", True, False}
        With a dataset (not ``simulate``): the notebooks see pseudonyms (``PSN001`` …, see
        :mod:`trialkit.data.ids`) instead of the subject ids — always (``true``), never
        (``false``), or when some ids cannot be told apart from ordinary numbers or words and the
        report is not internal (``auto``).
    source : str or None
        The YAML file these parameters came from.
    """

    name: str = "default"
    outputs: str = "outputs"
    dataset: str = "simulate"
    scenario: Any = None
    seed: int | None = None
    n_subjects: int | None = None
    study: str | None = None
    alpha: float = 0.05
    horizons: dict | None = None
    code: str = "fold"
    allow_listings: bool = False
    notebooks: str = "notebooks"
    notebook_parameters: dict = field(default_factory=dict)
    cell_timeout: int | None = None
    archive: dict = field(default_factory=dict)
    pseudonymize_ids: Any = "auto"
    source: str | None = None

    @property
    def simulate(self) -> bool:
        return str(self.dataset) == "simulate"

    def as_dict(self) -> dict:
        return asdict(self)


PARAM_KEYS = tuple(f for f in RunParams.__dataclass_fields__ if f != "source")
_NULLABLE = ("scenario", "seed", "n_subjects", "study", "horizons", "cell_timeout")  # null = "default"


_PATH_KEYS = ("outputs", "dataset", "notebooks")
_HORIZON_TEXT = "a positive number of days or '<number> days|weeks|months|years' (e.g. '48 weeks', '10 years')"


def check_params(raw: dict, src: str) -> RunParams:
    """Check the run-parameters mapping ``raw`` read from ``src``: :class:`RunParams` or :class:`ParamsError`.

    Every message is one line ``<file>: <key.path>: expected <what>, got <value>``
    (:mod:`trialkit.yamlcheck`); ``horizons`` are read by :func:`trialkit.study.parse_days`, exactly
    like the study file's.

    Examples
    --------
    >>> check_params({"horizons": {"primary": "48 weeks", "secondary": 84.5}}, "run.yaml").horizons
    {'primary': 336, 'secondary': 84.5}
    >>> check_params({"alpah": 0.01}, "run.yaml")
    Traceback (most recent call last):
    ...
    trialkit.report.params.ParamsError: run.yaml: alpah: expected one of the keys name, ..., got unknown key 'alpah' (did you mean 'alpha'?)
    """
    c = Checker(src, ParamsError)
    c.known_keys(raw, PARAM_KEYS)
    try:
        check_json_value({k: v for k, v in raw.items() if k != "source"})
    except JsonTypeError as exc:
        raise ParamsError(f"{src}: {exc}") from None
    p = RunParams(**{k: v for k, v in raw.items() if v is not None or k in _NULLABLE}, source=src)
    if not isinstance(p.name, str) or not p.name or "/" in p.name or p.name.startswith("."):
        raise c.fail("name", "a folder name (no '/', not starting with '.')", p.name)
    for key in _PATH_KEYS:
        c.text(asdict(p), key, what="a path")
    if p.study is not None and not isinstance(p.study, str):
        raise c.fail("study", "a study file path or null", p.study)
    if p.scenario is not None and not isinstance(p.scenario, (str, dict)):
        raise c.fail("scenario", "a scenario file, an inline mapping or null", p.scenario)
    if not p.simulate:
        for key in ("scenario", "seed", "n_subjects"):
            if getattr(p, key) is not None:
                raise c.fail(key, f"null when dataset is not 'simulate' (dataset: {p.dataset!r})", getattr(p, key))
    for key, lo in (("seed", 0), ("n_subjects", 1), ("cell_timeout", 1)):
        c.integer({key: getattr(p, key)}, key, default=None, lo=lo)
    c.value(p.alpha, "alpha", lo=0, hi=1, lo_open=True, hi_open=True)
    horizons = p.horizons
    if horizons is not None:
        c.mapping({"horizons": horizons}, "horizons", what="a mapping like {primary: 48 weeks, secondary: 168}")
        if not horizons:
            raise c.fail("horizons", "a mapping like {primary: 48 weeks, secondary: 168}", horizons)
        try:
            horizons = {str(k): parse_days(v, f"horizons.{k}") for k, v in horizons.items()}
        except ValueError as exc:
            raise ParamsError(f"{src}: {exc}") from None
    c.choice({"code": p.code}, "code", CODE_MODES)
    c.boolean({"allow_listings": p.allow_listings}, "allow_listings")
    c.choice({"pseudonymize_ids": p.pseudonymize_ids}, "pseudonymize_ids", ("auto", True, False))
    nb_params = c.mapping({"notebook_parameters": p.notebook_parameters}, "notebook_parameters",
                          what="a mapping notebook name -> {parameter: value}")
    for nb in nb_params:
        c.mapping(nb_params, nb, "notebook_parameters", what="a mapping {parameter: value}")
    check_settings(p.archive, src)
    return replace(p, horizons=horizons)


def load_params(path: str | Path | None = None, **overrides: Any) -> RunParams:
    """Read run parameters from YAML (default ``params/default.yaml``), then apply ``overrides``.

    Raises
    ------
    ParamsError
        Naming the file and the key, for unknown keys and bad values.
    FileNotFoundError
        When ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "params.yaml"
    >>> _ = f.write_text("name: pilot\\nalpha: 0.01\\nn_subjects: 40\\ncode: hide\\n")
    >>> p = load_params(f, code="show")          # keyword overrides win over the file
    >>> p.name, p.dataset, p.alpha, p.n_subjects, p.code, p.simulate
    ('pilot', 'simulate', 0.01, 40, 'show', True)
    >>> load_params(f, alpha=1.5)
    Traceback (most recent call last):
    ...
    trialkit.report.params.ParamsError: ...params.yaml: alpha: expected a number strictly between 0 and 1, got 1.5
    """
    if path is None:
        path = Path("params/default.yaml")
        if not path.is_file():
            path = project_root() / "params" / "default.yaml"
    path = Path(path)
    src = str(path)
    try:
        raw = load_yaml_json(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{src}: not valid YAML: {exc}") from None
    except JsonTypeError as exc:
        raise ParamsError(f"{src}: {exc}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise Checker(src, ParamsError).fail("", "a mapping of run parameters", raw)
    raw.update({k: v for k, v in overrides.items() if v is not None})
    return check_params(raw, src)


#: Notebook parameters that name a time point: the unit of their values. A value given in the run
#: parameters' ``notebook_parameters`` must lie within the data's follow-up (see :func:`check_horizons`).
HORIZON_PARAMETERS = {"horizon": "days", "horizon_days": "days", "landmark_days": "days", "landmark_weeks": "weeks"}


def check_horizons(horizons: dict, last_follow_up: float | None, notebook_parameters: dict | None = None, *,
                   source: str = "<params>", from_params: Iterable[str] = (), study_file: str = "study file") -> None:
    """Refuse horizons and landmarks beyond the last follow-up day of the data.

    Survival at a time nobody was followed to has nobody at risk, and a restricted mean survival
    time up to it is an extrapolation: the report would print numbers the data cannot give. So
    every study horizon (with the run parameters' ``horizons`` applied) and every time point given
    in ``notebook_parameters`` (:data:`HORIZON_PARAMETERS`; weeks count 7 days) must be at most the
    last day recorded in the ``events`` table.

    Parameters
    ----------
    horizons : dict
        ``{name: day}`` as the notebooks will see them.
    last_follow_up : float or None
        Largest ``day`` of the events table (None: no events, nothing to check).
    notebook_parameters : dict, optional
        ``{notebook: {parameter: value}}`` as injected.
    source : str
        The parameters file (for the message).
    from_params : iterable of str
        Horizon names set by the run parameters (the others come from the study file).
    study_file : str
        The study file (for the message).

    Raises
    ------
    ParamsError
        Naming the horizon or parameter, its value and the last follow-up day.

    Examples
    --------
    >>> check_horizons({"primary": 336, "secondary": 168}, 350.0) is None
    True
    >>> check_horizons({"primary": 5000}, 350.0, source="run.yaml", from_params=["primary"])
    Traceback (most recent call last):
    ...
    trialkit.report.params.ParamsError: run.yaml: horizons.primary: expected a day within the data's follow-up (at most day 350: ...), got 5000
    >>> check_horizons({"primary": 336}, 350.0, {"03_efficacy": {"landmark_weeks": [4, 60]}}, source="run.yaml")
    Traceback (most recent call last):
    ...
    trialkit.report.params.ParamsError: run.yaml: notebook_parameters.03_efficacy.landmark_weeks: expected a day within ..., got week 60 (day 420)
    """
    if last_follow_up is None:
        return
    last = int(last_follow_up) if float(last_follow_up).is_integer() else last_follow_up
    expected = (f"a day within the data's follow-up (at most day {last}: nobody is followed longer, so survival, "
                "risk sets and RMST there would be extrapolated)")
    from_params = set(from_params)
    for name, day in horizons.items():
        if isinstance(day, (int, float)) and day > last_follow_up:
            where = source if name in from_params else study_file
            raise Checker(where, ParamsError).fail(f"horizons.{name}", expected, day)
    for nb, values in (notebook_parameters or {}).items():
        for key, unit in HORIZON_PARAMETERS.items():
            if key not in values:
                continue
            items = values[key] if isinstance(values[key], list) else [values[key]]
            for v in items:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue  # a named horizon ("primary") is checked above
                day = v * 7 if unit == "weeks" else v
                if day > last_follow_up:
                    shown = f"week {v} (day {day})" if unit == "weeks" else f"day {v}"
                    raise Checker(source, ParamsError).fail(f"notebook_parameters.{nb}.{key}", expected, shown=shown)
