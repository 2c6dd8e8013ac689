"""The study file: arms, factorial factors, control arm, visits and windows, horizons, units.

A study file is YAML (see ``params/study.yaml`` and ``docs/data-format.md``). Nothing in trialkit
knows how many arms a trial has or what its treatments are called: that is all read from here.

Examples
--------
>>> from trialkit.study import load_study, default_study_path
>>> study = load_study(default_study_path())
>>> study.arm_ids
['control', 'msc', 'pe', 'pe_msc']
>>> study.control_arm
'control'
>>> study.visit_for_day(13)
'D14'
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from trialkit.errors import StudyFileError
from trialkit.resources import project_root

__all__ = [
    "Arm",
    "Factor",
    "Visit",
    "Parameter",
    "Study",
    "load_study",
    "default_study_path",
    "params_dir",
    "normalize_unit",
    "normalize_units",
    "parse_days",
    "DAY_LENGTHS",
    "Endpoint",
    "EventType",
    "FACTOR_KINDS",
    "ANALYSIS_LISTS",
    "SUBGROUP_CUTS",
]


def params_dir() -> Path:
    """The ``params/`` folder of the project in use (study files, scenarios, run parameters).

    The nearest project's from the working folder up (a folder holding ``params/`` and
    ``notebooks/``: one laid out by ``trialkit init``, or the checkout), else the one shipped with
    trialkit (:func:`trialkit.resources.project_root`).

    Examples
    --------
    >>> folder = params_dir()
    >>> folder.name, (folder / "study_two_arm.yaml").is_file(), (folder / "scenarios").is_dir()
    ('params', True, True)
    >>> load_study(folder / "study_two_arm.yaml").arm_ids
    ['soc', 'ucmsc']
    """
    return project_root() / "params"


def default_study_path() -> Path:
    """Path of the default study file, ``params/study.yaml``.

    Examples
    --------
    >>> path = default_study_path()
    >>> path.name, path.parent == params_dir()
    ('study.yaml', True)
    >>> load_study(path) == load_study()  # what load_study() reads by default
    True
    """
    return params_dir() / "study.yaml"


_UNIT_ALIASES = {
    "µmol/l": "umol/l",
    "μmol/l": "umol/l",
    "x10^9/l": "10^9/l",
    "×10^9/l": "10^9/l",
    "10*9/l": "10^9/l",
    "10e9/l": "10^9/l",
    "g/l": "g/l",
    "iu/l": "u/l",
    "": "ratio",
    "1": "ratio",
    "log10iu/ml": "log10 iu/ml",
    "log iu/ml": "log10 iu/ml",
    "sec": "s",
    "seconds": "s",
}


def normalize_unit(unit: Any) -> str:
    """Canonical, comparable spelling of a unit string.

    Case, surrounding blanks and the micro sign are ignored; ``IU/L`` equals ``U/L`` and an empty
    unit or ``1`` means a dimensionless ratio.

    Examples
    --------
    >>> normalize_unit(" µmol/L ") == normalize_unit("umol/l")
    True
    >>> normalize_unit("IU/L")
    'u/l'
    """
    if unit is None or (isinstance(unit, float) and pd.isna(unit)):
        text = ""
    else:
        text = str(unit).strip().lower()
    text = " ".join(text.split())
    return _UNIT_ALIASES.get(text, _UNIT_ALIASES.get(text.replace(" ", ""), text))


def normalize_units(units: pd.Series) -> pd.Series:
    """:func:`normalize_unit` over a Series, computed once per distinct value (fast on millions of rows).

    Examples
    --------
    >>> units = pd.Series(["µmol/L", "IU/L", None, "x10^9/L", " g/L", "umol/l"])
    >>> normalize_units(units).tolist()  # a missing unit reads as dimensionless, like ""
    ['umol/l', 'u/l', 'ratio', '10^9/l', 'g/l', 'umol/l']
    """
    codes, uniques = pd.factorize(units, use_na_sentinel=True)
    table = np.array([normalize_unit(u) for u in uniques] + [normalize_unit(None)], dtype=object)
    return pd.Series(table[codes], index=units.index, dtype=object)


#: Day lengths used to read durations such as ``10 years`` or ``48 weeks`` (study file horizons).
DAY_LENGTHS = {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}
_UNIT_WORDS = {"d": "day", "day": "day", "days": "day", "w": "week", "wk": "week", "wks": "week", "week": "week",
               "weeks": "week", "m": "month", "mo": "month", "month": "month", "months": "month", "y": "year",
               "yr": "year", "yrs": "year", "year": "year", "years": "year"}

#: Treatment factor kinds: ``infusion`` (doses monitored 0-8 h afterwards, rows in ``infusions``),
#: ``procedure`` (discrete doses or sessions on ``days``), ``continuous`` (taken every day, e.g. a daily
#: oral drug: the arm is on treatment throughout, no dosing days).
FACTOR_KINDS = ("infusion", "procedure", "continuous")

#: The ``analysis:`` lists of a study file: which labs, scores and ratios each notebook analyses
#: (``trialkit.derive.variables.analysis_variables`` resolves them against the data).
ANALYSIS_LISTS = ("trajectories", "trajectories_log_scale", "efficacy", "immune", "log_scale", "simulation")
#: How a ``subgroups:`` variable is cut: at its median, by its levels, or ``auto`` (median when numeric
#: with more than two values, else by level).
SUBGROUP_CUTS = ("median", "categorical", "auto")


def parse_days(value: Any, where: str = "duration") -> float:
    """A duration in study days: a number of days (fractions allowed) or ``"<number> <unit>"``.

    Units: days, weeks (7 d), months (30.4375 d = 365.25 / 12) and years (365.25 d), singular or
    plural, also ``d``, ``w``, ``m``, ``y``. Anything else raises ``ValueError`` naming ``where``.

    Examples
    --------
    >>> parse_days(336), parse_days("48 weeks"), parse_days("10 years"), parse_days("6 months")
    (336, 336, 3652.5, 182.625)
    >>> parse_days("10y"), parse_days(12.5)
    (3652.5, 12.5)
    >>> parse_days("ten years", "horizons.primary")
    Traceback (most recent call last):
    ...
    ValueError: horizons.primary: expected a positive number of days or '<number> days|weeks|months|years' (e.g. '48 weeks', '10 years'), got 'ten years'
    """
    expected = (f"{where}: expected a positive number of days or '<number> days|weeks|months|years' "
                f"(e.g. '48 weeks', '10 years'), got {value!r}")
    if isinstance(value, bool):
        raise ValueError(expected)
    if isinstance(value, (int, float)):
        days = float(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]+)?\s*", value)
        unit = _UNIT_WORDS.get((m.group(2) or "day").lower()) if m else None
        if unit is None:
            raise ValueError(expected)
        days = float(m.group(1)) * DAY_LENGTHS[unit]
    else:
        raise ValueError(expected)
    if not np.isfinite(days) or days <= 0:
        raise ValueError(expected)
    return int(days) if days == int(days) else days


@dataclass(frozen=True)
class EventType:
    """An event type the ``events`` table may contain (besides ``last_contact``)."""

    name: str
    label: str
    ends_follow_up: bool = False  # True for death: nothing is recorded after it


@dataclass(frozen=True)
class Endpoint:
    """A time-to-event endpoint: the events that make it, those that compete with it, those that censor.

    The first of ``events`` (on or before the horizon) is the event; a ``competing`` event first ends
    follow-up as a competing event (cumulative incidence); a ``censor`` event first censors follow-up.
    Other event types are ignored.
    """

    name: str
    events: tuple[str, ...]
    competing: tuple[str, ...] = ()
    censor: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Factor:
    """A treatment factor of the (factorial) design."""

    name: str
    label: str
    kind: str = "procedure"  # "infusion": monitored 0-8 h after each dose; "continuous": daily
    days: tuple[int, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Arm:
    """A randomized arm: its id, label, factor levels and (optional) schedule overrides."""

    id: str
    label: str
    factors: dict[str, bool] = field(default_factory=dict)
    schedule: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Visit:
    """A scheduled visit: nominal study day and the window of days that count for it."""

    id: str
    day: int
    window: tuple[int, int]


@dataclass(frozen=True)
class Parameter:
    """A laboratory (or clinical-grade) parameter with its required unit."""

    name: str
    unit: str
    label: str = ""
    range: tuple[float, float] | None = None
    uln: float | None = None  # upper limit of normal, in ``unit`` (CTCAE grading)
    worse: str | None = None  # "higher" or "lower": the direction of harm (worst-rank analysis)


@dataclass(frozen=True)
class Study:
    """A parsed, checked study file. Build it with :func:`load_study`."""

    id: str
    title: str
    arms: tuple[Arm, ...]
    control_arm: str
    factors: dict[str, Factor]
    visits: tuple[Visit, ...]
    horizons: dict[str, float]
    parameters: dict[str, Parameter]
    symptoms: tuple[str, ...] = ()
    baseline_expected: dict[str, dict[str, float]] = field(default_factory=dict)
    condition: str = ""
    events: dict[str, EventType] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    subgroups: dict[str, str] = field(default_factory=dict)  # variable -> cut (SUBGROUP_CUTS)
    analysis: dict[str, tuple[str, ...]] = field(default_factory=dict)  # ANALYSIS_LISTS -> names
    immune_markers: tuple[str, ...] = ()
    value_decisions: tuple[dict, ...] = ()
    literature: tuple[str, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)  # notebook section key -> markdown remark
    path: str | None = field(default=None, compare=False)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    # -- convenience views -------------------------------------------------------------------
    @property
    def arm_ids(self) -> list[str]:
        return [a.id for a in self.arms]

    @property
    def arm_labels(self) -> dict[str, str]:
        return {a.id: a.label for a in self.arms}

    @property
    def factor_names(self) -> list[str]:
        return list(self.factors)

    @property
    def event_names(self) -> list[str]:
        """The declared event types (without ``last_contact``)."""
        return list(self.events)

    @property
    def primary_endpoint(self) -> Endpoint:
        """The study's primary time-to-event endpoint (``endpoints.primary``)."""
        return self.endpoints["primary"]

    @property
    def other_events(self) -> list[str]:
        """Declared events that are not part of the primary endpoint (e.g. HCC in the default study):
        analysed by cumulative incidence with the primary endpoint's events competing."""
        ep = self.primary_endpoint
        return [e for e in self.events if e not in ep.events + ep.competing + ep.censor]

    @property
    def interventions(self) -> list[str]:
        """One phrase per treatment factor: its label, and its description when given."""
        return [f"{f.label} ({f.description})" if f.description else f.label for f in self.factors.values()]

    @property
    def visit_ids(self) -> list[str]:
        return [v.id for v in self.visits]

    @property
    def baseline_visit(self) -> Visit:
        """The visit whose nominal day is 0 (randomization)."""
        return next(v for v in self.visits if v.day == 0)

    def arm(self, arm_id: str) -> Arm:
        for a in self.arms:
            if a.id == arm_id:
                return a
        raise KeyError(f"unknown arm {arm_id!r}; the study file defines {self.arm_ids}")

    def dosing_days(self, arm_id: str, factor: str) -> tuple[int, ...]:
        """Nominal dosing days of ``factor`` in arm ``arm_id`` (empty if the arm lacks it)."""
        arm = self.arm(arm_id)
        if not arm.factors.get(factor, False):
            return ()
        return arm.schedule.get(factor, self.factors[factor].days)

    def arm_factors(self) -> pd.DataFrame:
        """One row per arm: ``arm``, ``label`` and one boolean column per factor.

        >>> row = load_study(default_study_path()).arm_factors().loc[3]
        >>> row["arm"], row["label"], bool(row["msc"]), bool(row["pe"])
        ('pe_msc', 'PE + UC-MSC', True, True)
        """
        rows = [
            {"arm": a.id, "label": a.label, **{f: bool(a.factors.get(f, False)) for f in self.factors}}
            for a in self.arms
        ]
        return pd.DataFrame(rows, columns=["arm", "label", *self.factors])

    def visit_for_day(self, day: float) -> str | None:
        """The visit whose window contains ``day`` (closest nominal day wins), else ``None``."""
        best = None
        for v in self.visits:
            if v.window[0] <= day <= v.window[1]:
                if best is None or abs(day - v.day) < abs(day - best.day):
                    best = v
        return None if best is None else best.id

    def visit_windows(self) -> pd.DataFrame:
        """The visit schedule as a DataFrame: ``visit``, ``day``, ``window_lo``, ``window_hi``."""
        return pd.DataFrame(
            [(v.id, v.day, v.window[0], v.window[1]) for v in self.visits],
            columns=["visit", "day", "window_lo", "window_hi"],
        )

    def unit(self, parameter: str) -> str:
        return self.parameters[parameter].unit

    def to_yaml(self) -> str:
        """The study file's text (as loaded), for writing beside a dataset."""
        return yaml.safe_dump(self.raw, sort_keys=False, allow_unicode=True)


def _fail(path: str, where: str, msg: str) -> StudyFileError:
    return StudyFileError(f"{path}: {where}: {msg}")


def _int_list(value: Any, path: str, where: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(isinstance(x, int) and not isinstance(x, bool) for x in value):
        raise _fail(path, where, f"expected a list of whole study days, got {value!r}")
    return tuple(value)


def load_study(path: str | Path | None = None) -> Study:
    """Read and check a study file.

    Parameters
    ----------
    path : str or Path, optional
        The YAML file. Default: ``params/study.yaml``.

    Returns
    -------
    Study

    Raises
    ------
    StudyFileError
        With the file name and the offending key when the file is unreadable or inconsistent
        (unknown control arm, a factor an arm does not set, overlapping visit windows, ...).

    Examples
    --------
    >>> study = load_study()  # params/study.yaml
    >>> study.id, study.arm_ids, study.control_arm
    ('NCT01724398', ['control', 'msc', 'pe', 'pe_msc'], 'control')
    >>> study.horizons, study.dosing_days("pe_msc", "msc"), study.unit("TBIL")
    ({'primary': 336, 'secondary': 168}, (0, 6, 13, 20), 'umol/L')
    >>> load_study(params_dir() / "study_two_arm.yaml").visit_ids
    ['BL', 'WK1', 'WK2', 'WK4', 'WK8', 'WK12', 'WK24']
    >>> load_study("no/such.yaml")
    Traceback (most recent call last):
    ...
    trialkit.errors.StudyFileError: no/such.yaml: study file not found
    """
    p = Path(path) if path is not None else default_study_path()
    name = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudyFileError(f"{name}: study file not found") from None
    except UnicodeDecodeError as exc:
        raise StudyFileError(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StudyFileError(f"{name}: not valid YAML: {exc}") from None
    return study_from_dict(raw, name)


def study_from_dict(raw: Any, name: str = "<study>") -> Study:
    """Build a :class:`Study` from the parsed YAML mapping (see :func:`load_study`)."""
    if not isinstance(raw, dict):
        raise StudyFileError(f"{name}: expected a mapping at the top level")
    for key in ("arms", "control_arm", "horizons"):
        if key not in raw:
            raise _fail(name, key, "required key is missing")

    meta = raw.get("study") or {}
    factors: dict[str, Factor] = {}
    for fname, spec in (raw.get("factors") or {}).items():
        spec = spec or {}
        kind = spec.get("kind", "procedure")
        if kind not in FACTOR_KINDS:
            raise _fail(name, f"factors.{fname}.kind", f"expected one of {', '.join(FACTOR_KINDS)}, got {kind!r}")
        factors[str(fname)] = Factor(
            name=str(fname),
            label=str(spec.get("label", fname)),
            kind=kind,
            days=_int_list(spec.get("days", []), name, f"factors.{fname}.days"),
            description=str(spec.get("description", "")),
        )

    arms: list[Arm] = []
    if not isinstance(raw["arms"], list) or len(raw["arms"]) < 1:
        raise _fail(name, "arms", "expected a list of arms")
    for i, spec in enumerate(raw["arms"]):
        where = f"arms[{i}]"
        if not isinstance(spec, dict) or "id" not in spec:
            raise _fail(name, where, "each arm needs an `id`")
        levels = spec.get("factors") or {}
        unknown = set(levels) - set(factors)
        if unknown:
            raise _fail(name, f"{where}.factors", f"unknown factor(s) {sorted(unknown)}; declared: {list(factors)}")
        missing = set(factors) - set(levels)
        if missing:
            raise _fail(name, f"{where}.factors", f"arm {spec['id']!r} does not set factor(s) {sorted(missing)}")
        for f, v in levels.items():
            if not isinstance(v, bool):
                raise _fail(name, f"{where}.factors.{f}", f"expected true or false, got {v!r}")
        schedule = {
            str(f): _int_list(d, name, f"{where}.schedule.{f}") for f, d in (spec.get("schedule") or {}).items()
        }
        arms.append(Arm(id=str(spec["id"]), label=str(spec.get("label", spec["id"])), factors=dict(levels),
                        schedule=schedule))
    ids = [a.id for a in arms]
    dupes = sorted({x for x in ids if ids.count(x) > 1})
    if dupes:
        raise _fail(name, "arms", f"duplicated arm id(s) {dupes}")
    if raw["control_arm"] not in ids:
        raise _fail(name, "control_arm", f"{raw['control_arm']!r} is not one of the arms {ids}")

    visits: list[Visit] = []
    visit_specs = raw.get("visits") or [{"id": "BL", "day": 0, "window": [0, 0]}]  # baseline only
    for i, spec in enumerate(visit_specs):
        where = f"visits[{i}]"
        try:
            lo, hi = spec["window"]
            visit = Visit(id=str(spec["id"]), day=int(spec["day"]), window=(int(lo), int(hi)))
        except (KeyError, TypeError, ValueError):
            raise _fail(name, where, "expected {id, day, window: [lo, hi]}") from None
        if not lo <= visit.day <= hi:
            raise _fail(name, where, f"nominal day {visit.day} lies outside its window [{lo}, {hi}]")
        visits.append(visit)
    if not any(v.day == 0 for v in visits):
        raise _fail(name, "visits", "a baseline visit with nominal day 0 is required")
    ordered = sorted(visits, key=lambda v: v.day)
    for a, b in zip(ordered, ordered[1:]):
        if b.window[0] <= a.window[1]:
            raise _fail(name, "visits", f"windows of {a.id} and {b.id} overlap")

    horizons = raw["horizons"]
    if not isinstance(horizons, dict) or "primary" not in horizons:
        raise _fail(name, "horizons", "expected a mapping with at least `primary` (study days)")
    try:
        horizons = {str(k): parse_days(v, f"{name}: horizons.{k}") for k, v in horizons.items()}
    except ValueError as exc:
        raise StudyFileError(str(exc)) from None
    horizons.setdefault("secondary", horizons["primary"])  # labs: the primary horizon unless stated

    parameters: dict[str, Parameter] = {}
    for pname, spec in (raw.get("parameters") or {}).items():
        if not isinstance(spec, dict) or "unit" not in spec:
            raise _fail(name, f"parameters.{pname}", "each parameter needs a `unit`")
        extra = sorted(str(k) for k in spec if k not in ("unit", "label", "range", "uln", "worse"))
        if extra:  # e.g. an unquoted label with commas inside {...} splits into stray keys
            raise _fail(name, f"parameters.{pname}", f"unknown key(s) {', '.join(extra)} (allowed: unit, label, "
                                                     "range, uln, worse; quote a label that contains commas)")
        if spec.get("worse") not in (None, "higher", "lower"):
            raise _fail(name, f"parameters.{pname}.worse", f"expected higher or lower, got {spec['worse']!r}")
        uln = spec.get("uln")
        if uln is not None and (isinstance(uln, bool) or not isinstance(uln, (int, float)) or uln <= 0):
            raise _fail(name, f"parameters.{pname}.uln", f"expected a positive number in {spec['unit']}, got {uln!r}")
        rng = spec.get("range")
        parameters[str(pname)] = Parameter(
            name=str(pname), unit=str(spec["unit"]), label=str(spec.get("label", pname)),
            range=None if rng is None else (float(rng[0]), float(rng[1])),
            uln=None if uln is None else float(uln), worse=spec.get("worse"),
        )

    events = _event_types(raw, name)
    endpoints = _endpoints(raw, name, events)
    names = {"immune_markers": (), "literature": ()}
    for key in names:
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise _fail(name, key, f"expected a list of names or sentences, got {value!r}")
        names[key] = tuple(value)
    for p in names["immune_markers"]:
        if p not in parameters:
            raise _fail(name, "immune_markers", f"{p!r} is not a declared parameter")
    decisions = _value_decisions(raw, name, parameters)
    notes = _notes(raw, name)

    return Study(
        id=str(meta.get("id", "study")),
        title=str(meta.get("title", "")),
        arms=tuple(arms),
        control_arm=str(raw["control_arm"]),
        factors=factors,
        visits=tuple(sorted(visits, key=lambda v: v.day)),
        horizons=horizons,
        parameters=parameters,
        symptoms=tuple(raw.get("symptoms") or ()),
        baseline_expected={str(k): dict(v) for k, v in (raw.get("baseline_expected") or {}).items()},
        condition=str(meta.get("condition", raw.get("condition", "")) or ""),
        events=events,
        endpoints=endpoints,
        subgroups=_subgroups(raw, name),
        analysis=_analysis_lists(raw, name),
        immune_markers=names["immune_markers"],
        value_decisions=decisions,
        literature=names["literature"],
        notes=notes,
        path=name,
        raw=raw,
    )


def _subgroups(raw: dict, name: str) -> dict[str, str]:
    """``subgroups``: a list of variables (cut ``auto``) or a mapping variable -> median | categorical | auto."""
    spec = raw.get("subgroups") or {}
    if isinstance(spec, list):
        spec = {v: "auto" for v in spec}
    if not isinstance(spec, dict) or not all(isinstance(v, str) for v in spec):
        raise _fail(name, "subgroups", f"expected a list of variables or a mapping variable: cut, got {spec!r}")
    out = {}
    for v, cut in spec.items():
        cut = "auto" if cut is None else cut
        if cut not in SUBGROUP_CUTS:
            raise _fail(name, f"subgroups.{v}", f"expected one of {', '.join(SUBGROUP_CUTS)}, got {cut!r}")
        out[v] = cut
    return out


def _analysis_lists(raw: dict, name: str) -> dict[str, tuple[str, ...]]:
    """``analysis``: a mapping of ANALYSIS_LISTS keys to lists of names (checked against the data later)."""
    spec = raw.get("analysis") or {}
    if not isinstance(spec, dict):
        raise _fail(name, "analysis", f"expected a mapping of lists ({', '.join(ANALYSIS_LISTS)}), got {spec!r}")
    out = {}
    for key, value in spec.items():
        if key not in ANALYSIS_LISTS:
            raise _fail(name, f"analysis.{key}", f"unknown list (allowed: {', '.join(ANALYSIS_LISTS)})")
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise _fail(name, f"analysis.{key}", f"expected a list of parameter, score or ratio names, got {value!r}")
        out[key] = tuple(value)
    return out


_DEFAULT_EVENTS = {"death": {"label": "Death"}}


def _event_types(raw: dict, name: str) -> dict[str, EventType]:
    """``events``: a mapping event name -> {label} or a list of names; ``death`` ends follow-up."""
    spec = raw.get("events", _DEFAULT_EVENTS)
    if isinstance(spec, list):
        spec = {str(e): {} for e in spec}
    if not isinstance(spec, dict) or not spec:
        raise _fail(name, "events", f"expected a mapping of event types, e.g. {{death: {{label: Death}}}}, got {spec!r}")
    out = {}
    for ev, item in spec.items():
        item = item or {}
        if str(ev) == "last_contact":
            raise _fail(name, f"events.{ev}", "last_contact is always allowed; do not declare it")
        if not isinstance(item, dict) or set(item) - {"label"}:
            raise _fail(name, f"events.{ev}", f"expected {{label: ...}}, got {item!r}")
        out[str(ev)] = EventType(name=str(ev), label=str(item.get("label", str(ev).replace("_", " ").capitalize())),
                                 ends_follow_up=str(ev) == "death")
    return out


def _endpoints(raw: dict, name: str, events: dict[str, EventType]) -> dict[str, Endpoint]:
    """``endpoints.<id>``: {name, events, competing, censor}; default primary: death (overall survival)."""
    spec = raw.get("endpoints")
    if spec is None:
        first = "death" if "death" in events else next(iter(events))
        spec = {"primary": {"name": "Overall survival" if first == "death" else f"Time to {events[first].label.lower()}",
                            "events": [first]}}
    if not isinstance(spec, dict) or "primary" not in spec:
        raise _fail(name, "endpoints", "expected a mapping with at least `primary`")
    out = {}
    for key, item in spec.items():
        where = f"endpoints.{key}"
        if not isinstance(item, dict) or "events" not in item:
            raise _fail(name, where, "expected {name, events: [...], competing: [...], censor: [...]}")
        extra = sorted(set(item) - {"name", "events", "competing", "censor", "description"})
        if extra:
            raise _fail(name, where, f"unknown key(s) {', '.join(extra)}")
        lists = {}
        for part in ("events", "competing", "censor"):
            value = item.get(part) or []
            if not isinstance(value, list) or any(str(v) not in events for v in value):
                raise _fail(name, f"{where}.{part}", f"expected a list of declared events {list(events)}, got {value!r}")
            lists[part] = tuple(str(v) for v in value)
        if not lists["events"]:
            raise _fail(name, f"{where}.events", "at least one event makes the endpoint")
        overlap = (set(lists["events"]) & set(lists["competing"] + lists["censor"])) | (
            set(lists["competing"]) & set(lists["censor"]))
        if overlap:
            raise _fail(name, where, f"event(s) {sorted(overlap)} listed twice")
        out[str(key)] = Endpoint(name=str(item.get("name", key)), description=str(item.get("description", "")),
                                 **lists)
    return out


def _notes(raw: dict, name: str) -> dict[str, str]:
    """``notes``: remarks only this trial can make (literature, protocol), by notebook section key
    (``efficacy.power``); :func:`trialkit.report.narrate.study_note` shows them as a labelled box."""
    spec = raw.get("notes") or {}
    if not isinstance(spec, dict):
        raise _fail(name, "notes", f"expected a mapping of section key -> markdown, got {spec!r}")
    for key, text in spec.items():
        if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", str(key)):
            raise _fail(name, "notes", f"{key!r} is not a section key (words joined by dots, e.g. efficacy.power)")
        if not isinstance(text, str) or not text.strip():
            raise _fail(name, f"notes.{key}", f"expected markdown text, got {text!r}")
    return {str(k): v.strip() for k, v in spec.items()}


def _value_decisions(raw: dict, name: str, parameters: dict) -> tuple[dict, ...]:
    """``values``: explicit decisions on single implausible lab values, ``accept`` or ``exclude``.

    Each entry names ``subject_id``, ``parameter``, ``day``, ``action`` (accept | exclude) and a
    ``reason``; the loader applies them and the report lists them.
    """
    out = []
    for i, item in enumerate(raw.get("values") or []):
        where = f"values[{i}]"
        if not isinstance(item, dict):
            raise _fail(name, where, "expected {subject_id, parameter, day, action, reason}")
        missing = [k for k in ("subject_id", "parameter", "day", "action") if k not in item]
        if missing:
            raise _fail(name, where, f"missing key(s) {', '.join(missing)}")
        if item["action"] not in ("accept", "exclude"):
            raise _fail(name, f"{where}.action", f"expected accept or exclude, got {item['action']!r}")
        if item["parameter"] not in parameters:
            raise _fail(name, f"{where}.parameter", f"{item['parameter']!r} is not a declared parameter")
        out.append({"subject_id": str(item["subject_id"]), "parameter": str(item["parameter"]),
                    "day": item["day"], "action": item["action"], "reason": str(item.get("reason", ""))})
    return tuple(out)
