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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from trialkit.errors import StudyFileError
from trialkit.resources import project_root
from trialkit.yamlcheck import MISSING, Checker

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
        if m is None or unit is None:
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


#: The keys a study file may hold, per section (``*`` = any name, ``[]`` = every list item). Any other
#: key is an error with a "did you mean" suggestion. To add an optional key: list it here, read it in
#: the section's reader below (``_read_<section>``) into a dataclass field with a default, and document
#: it in ``docs/data-format.md``; a new top-level section gets its own ``_read_<section>`` called from
#: :func:`study_from_dict`.
STUDY_KEYS: dict[str, tuple[str, ...]] = {
    "": ("study", "condition", "factors", "arms", "control_arm", "visits", "horizons", "parameters",
         "baseline_expected", "events", "endpoints", "values", "symptoms", "subgroups", "immune_markers",
         "literature", "analysis", "notes"),
    "study": ("id", "title", "condition", "design"),
    "factors.*": ("label", "kind", "days", "description"),
    "arms[]": ("id", "label", "factors", "schedule"),
    "visits[]": ("id", "day", "window"),
    "parameters.*": ("unit", "label", "range", "uln", "worse"),
    "baseline_expected.*": ("min", "max"),
    "events.*": ("label",),
    "endpoints.*": ("name", "events", "competing", "censor", "description"),
    "values[]": ("subject_id", "parameter", "day", "action", "reason"),
}
_REQUIRED = {"arms": "a list of arms", "control_arm": "the id of the reference arm",
             "horizons": "a mapping with at least `primary` (days or e.g. '48 weeks')"}


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
        One line ``<file>: <key.path>: expected <what>, got <value>`` (see :mod:`trialkit.yamlcheck`)
        when the file is inconsistent (unknown control arm, a factor an arm does not set, overlapping
        visit windows, an unknown key, ...), or naming the file when it is unreadable.

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
    """Build a :class:`Study` from the parsed YAML mapping (see :func:`load_study`).

    Each section is read by its own reader, which checks its keys against :data:`STUDY_KEYS`.

    Examples
    --------
    >>> s = study_from_dict({"arms": [{"id": "a"}, {"id": "b"}], "control_arm": "a",
    ...                      "horizons": {"primary": "48 weeks"}})
    >>> s.arm_ids, s.horizons
    (['a', 'b'], {'primary': 336, 'secondary': 336})
    >>> study_from_dict({"arms": [{"id": "a"}], "control_arm": "a", "horizon": {"primary": 7}}, "s.yaml")
    Traceback (most recent call last):
    ...
    trialkit.errors.StudyFileError: s.yaml: horizon: expected one of the keys study, ..., got unknown key 'horizon' (did you mean 'horizons'?)
    """
    c = Checker(name, StudyFileError)
    if not isinstance(raw, dict):
        raise c.fail("", "a mapping of study keys (arms, control_arm, horizons, ...)", raw)
    c.known_keys(raw, STUDY_KEYS[""])
    for key, what in _REQUIRED.items():
        c.require(raw, key, what=what)
    meta = c.mapping(raw, "study", required=False)
    c.known_keys(meta, STUDY_KEYS["study"], "study")
    factors = _read_factors(c, raw)
    arms = _read_arms(c, raw, factors)
    control = c.choice(raw, "control_arm", [a.id for a in arms])
    parameters = _read_parameters(c, raw)
    events = _read_events(c, raw)
    names = {key: c.text_list(raw, key, what="a list of names or sentences")
             for key in ("symptoms", "immune_markers", "literature")}
    for i, p in enumerate(names["immune_markers"]):
        if p not in parameters:
            raise c.fail(f"immune_markers[{i}]", f"a declared parameter ({', '.join(parameters) or 'none'})", p)
    return Study(
        id=str(meta.get("id", "study")),
        title=str(meta.get("title", "")),
        arms=arms,
        control_arm=str(control),
        factors=factors,
        visits=_read_visits(c, raw),
        horizons=_read_horizons(c, raw),
        parameters=parameters,
        symptoms=names["symptoms"],
        baseline_expected=_read_baseline_expected(c, raw),
        condition=str(meta.get("condition", raw.get("condition", "")) or ""),
        events=events,
        endpoints=_read_endpoints(c, raw, events),
        subgroups=_read_subgroups(c, raw),
        analysis=_read_analysis(c, raw),
        immune_markers=names["immune_markers"],
        value_decisions=_read_values(c, raw, parameters),
        literature=names["literature"],
        notes=_read_notes(c, raw),
        path=name,
        raw=raw,
    )


def _items(c: Checker, raw: dict, key: str, what: str, note: str = "") -> dict:
    """The named entries of section ``key`` (absent: none), each entry a mapping (null: empty)."""
    section = c.mapping(raw, key, required=False, what=what)
    out = {}
    for k, spec in section.items():
        spec = {} if spec is None else spec
        if not isinstance(spec, dict):
            raise c.fail(f"{key}.{k}", "a mapping", spec)
        c.known_keys(spec, STUDY_KEYS[f"{key}.*"], f"{key}.{k}", note)
        out[str(k)] = spec
    return out


def _entries(c: Checker, specs: Any, key: str, what: str, item: str, *,
             nonempty: bool = False) -> Iterator[tuple[str, dict]]:
    """The entries of list section ``key`` (``arms``, ``visits``, ``values``) as ``(where, entry)``, each
    checked to be a mapping with the keys of ``STUDY_KEYS["<key>[]"]`` as it is reached (the list
    twin of :func:`_items`)."""
    if not isinstance(specs, list) or (nonempty and not specs):
        raise c.fail(key, what, specs)
    for i, spec in enumerate(specs):
        w = f"{key}[{i}]"
        if not isinstance(spec, dict):
            raise c.fail(w, item, spec)
        c.known_keys(spec, STUDY_KEYS[f"{key}[]"], w)
        yield w, spec


def _read_factors(c: Checker, raw: dict) -> dict[str, Factor]:
    out = {}
    for fname, spec in _items(c, raw, "factors", "a mapping of treatment factors").items():
        w = f"factors.{fname}"
        out[fname] = Factor(name=fname, label=str(spec.get("label", fname)),
                            kind=c.choice(spec, "kind", FACTOR_KINDS, w, default="procedure"),
                            days=c.int_list(spec.get("days", []), f"{w}.days"),
                            description=str(spec.get("description", "")))
    return out


def _read_arms(c: Checker, raw: dict, factors: dict[str, Factor]) -> tuple[Arm, ...]:
    arms: list[Arm] = []
    for w, spec in _entries(c, raw["arms"], "arms", "a list of arms", "a mapping {id, label, factors}", nonempty=True):
        arm_id = str(c.require(spec, "id", w, "an arm id"))
        if arm_id in [a.id for a in arms]:
            raise c.fail(f"{w}.id", "an id no other arm has", arm_id)
        levels = c.mapping(spec, "factors", w, required=False, what="a mapping factor: true or false")
        c.known_keys(levels, factors, f"{w}.factors")
        for f in factors:
            c.boolean(levels, f, f"{w}.factors")
        schedule = c.mapping(spec, "schedule", w, required=False, what="a mapping factor: dosing days")
        c.known_keys(schedule, factors, f"{w}.schedule")
        arms.append(Arm(id=arm_id, label=str(spec.get("label", arm_id)), factors=dict(levels),
                        schedule={str(f): c.int_list(d, f"{w}.schedule.{f}") for f, d in schedule.items()}))
    return tuple(arms)


def _read_visits(c: Checker, raw: dict) -> tuple[Visit, ...]:
    specs = raw.get("visits") or [{"id": "BL", "day": 0, "window": [0, 0]}]  # baseline only
    visits = []
    for w, spec in _entries(c, specs, "visits", "a list of visits {id, day, window: [lo, hi]}",
                            "a mapping {id, day, window: [lo, hi]}"):
        visit_id = str(c.require(spec, "id", w, "a visit id"))
        day = c.integer(spec, "day", w)
        window = c.require(spec, "window", w, "[first day, last day]")
        lo, hi = c.int_list(window, f"{w}.window", "[first day, last day]") if isinstance(window, list) \
            and len(window) == 2 else (None, None)
        if lo is None or hi is None:
            raise c.fail(f"{w}.window", "[first day, last day]", window)
        if not lo <= day <= hi:
            raise c.fail(f"{w}.day", f"a day within its window [{lo}, {hi}]", day)
        visits.append(Visit(id=visit_id, day=day, window=(lo, hi)))
    if not any(v.day == 0 for v in visits):
        raise c.fail("visits", "a baseline visit with nominal day 0", shown=f"days {[v.day for v in visits]}")
    ordered = sorted(visits, key=lambda v: v.day)
    for a, b in zip(ordered, ordered[1:]):
        if b.window[0] <= a.window[1]:
            raise c.fail(f"visits[{visits.index(b)}].window",
                         f"a window starting after {a.id}'s [{a.window[0]}, {a.window[1]}] (windows may not overlap)",
                         list(b.window))
    return tuple(ordered)


def _read_horizons(c: Checker, raw: dict) -> dict[str, float]:
    horizons = c.mapping(raw, "horizons", what=_REQUIRED["horizons"])
    c.require(horizons, "primary", "horizons", "a positive number of days or '<number> days|weeks|months|years'")
    try:
        out = {str(k): parse_days(v, f"horizons.{k}") for k, v in horizons.items()}
    except ValueError as exc:
        raise StudyFileError(f"{c.source}: {exc}") from None
    out.setdefault("secondary", out["primary"])  # labs: the primary horizon unless stated
    return out


def _read_parameters(c: Checker, raw: dict) -> dict[str, Parameter]:
    out = {}
    # an unquoted label with commas inside {...} splits into stray keys: say so
    for pname, spec in _items(c, raw, "parameters", "a mapping of lab parameters",
                              "quote a label that contains commas").items():
        w = f"parameters.{pname}"
        unit = str(c.require(spec, "unit", w, "a unit (e.g. umol/L; empty text for a ratio)"))
        uln = c.number(spec, "uln", w, default=None, lo=0, lo_open=True)
        rng = spec.get("range")
        if rng is not None:
            ok = isinstance(rng, list) and len(rng) == 2
            lo, hi = (c.value(x, f"{w}.range") for x in rng) if ok else (0, 0)
            if not ok or lo >= hi:
                raise c.fail(f"{w}.range", f"[lowest, highest] possible value in {unit}", rng)
            rng = (lo, hi)
        worse = c.choice(spec, "worse", ("higher", "lower"), w, default=None)
        out[pname] = Parameter(name=pname, unit=unit, label=str(spec.get("label", pname)), range=rng, uln=uln,
                               worse=worse)
    return out


def _read_baseline_expected(c: Checker, raw: dict) -> dict[str, dict[str, float]]:
    out = {}
    for pname, spec in _items(c, raw, "baseline_expected", "a mapping parameter: {min, max}").items():
        for k in spec:
            c.number(spec, k, f"baseline_expected.{pname}")  # checked; kept as written (85 stays an int)
        out[pname] = dict(spec)
    return out


_DEFAULT_EVENTS = {"death": {"label": "Death"}}


def _read_events(c: Checker, raw: dict) -> dict[str, EventType]:
    """``events``: a mapping event name -> {label} or a list of names; ``death`` ends follow-up."""
    spec = raw.get("events", _DEFAULT_EVENTS)
    if isinstance(spec, list):
        spec = {str(e): {} for e in spec}
    if not isinstance(spec, dict) or not spec:
        raise c.fail("events", "a mapping of event types, e.g. {death: {label: Death}}", spec)
    out = {}
    for ev, item in _items(c, {"events": spec}, "events", "").items():
        if ev == "last_contact":
            raise c.fail("events.last_contact", "events other than last_contact (always allowed; do not declare it)",
                         shown="last_contact")
        out[ev] = EventType(name=ev, label=str(item.get("label", ev.replace("_", " ").capitalize())),
                            ends_follow_up=ev == "death")
    return out


def _read_endpoints(c: Checker, raw: dict, events: dict[str, EventType]) -> dict[str, Endpoint]:
    """``endpoints.<id>``: {name, events, competing, censor}; default primary: death (overall survival)."""
    spec = raw.get("endpoints")
    if spec is None:
        first = "death" if "death" in events else next(iter(events))
        spec = {"primary": {"name": "Overall survival" if first == "death" else f"Time to {events[first].label.lower()}",
                            "events": [first]}}
    items = _items(c, {"endpoints": spec}, "endpoints", "a mapping with at least `primary`")
    c.require(items, "primary", "endpoints", "{name, events: [...], competing: [...], censor: [...]}")
    out = {}
    for key, item in items.items():
        w = f"endpoints.{key}"
        lists = {}
        for part in ("events", "competing", "censor"):
            value = item.get(part) or []
            if not isinstance(value, list) or any(str(v) not in events for v in value):
                raise c.fail(f"{w}.{part}", f"a list of declared events ({', '.join(events)})", value)
            lists[part] = tuple(str(v) for v in value)
        if not lists["events"]:
            raise c.fail(f"{w}.events", "at least one event that makes the endpoint", item.get("events", MISSING))
        overlap = (set(lists["events"]) & set(lists["competing"] + lists["censor"])) | (
            set(lists["competing"]) & set(lists["censor"]))
        if overlap:
            raise c.fail(w, "each event in one of events, competing, censor",
                         shown=f"{', '.join(sorted(overlap))} listed twice")
        out[key] = Endpoint(name=str(item.get("name", key)), description=str(item.get("description", "")), **lists)
    return out


def _read_subgroups(c: Checker, raw: dict) -> dict[str, str]:
    """``subgroups``: a list of variables (cut ``auto``) or a mapping variable -> median | categorical | auto."""
    spec = raw.get("subgroups") or {}
    if isinstance(spec, list):
        if not all(isinstance(v, str) for v in spec):
            raise c.fail("subgroups", "a list of variables or a mapping variable: cut", spec)
        spec = {v: "auto" for v in spec}
    if not isinstance(spec, dict):
        raise c.fail("subgroups", "a list of variables or a mapping variable: cut", spec)
    return {str(v): c.choice({v: "auto" if cut is None else cut}, v, SUBGROUP_CUTS, "subgroups")
            for v, cut in spec.items()}


def _read_analysis(c: Checker, raw: dict) -> dict[str, tuple[str, ...]]:
    """``analysis``: a mapping of ANALYSIS_LISTS keys to lists of names (checked against the data later)."""
    spec = c.mapping(raw, "analysis", required=False, what=f"a mapping of lists ({', '.join(ANALYSIS_LISTS)})")
    c.known_keys(spec, ANALYSIS_LISTS, "analysis")
    return {str(k): c.text_list(spec, k, "analysis", what="a list of parameter, score or ratio names") for k in spec}


def _read_notes(c: Checker, raw: dict) -> dict[str, str]:
    """``notes``: remarks only this trial can make (literature, protocol), by notebook section key
    (``efficacy.power``); :func:`trialkit.report.narrate.study_note` shows them as a labelled box."""
    spec = c.mapping(raw, "notes", required=False, what="a mapping of section key -> markdown")
    for key in spec:
        if not re.fullmatch(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*", str(key)):
            raise c.fail("notes", "section keys (words joined by dots, e.g. efficacy.power)", shown=repr(key))
        c.text(spec, key, "notes", what="markdown text")
    return {str(k): v.strip() for k, v in spec.items()}


def _read_values(c: Checker, raw: dict, parameters: dict) -> tuple[dict, ...]:
    """``values``: explicit decisions on single implausible lab values, ``accept`` or ``exclude``.

    Each entry names ``subject_id``, ``parameter``, ``day``, ``action`` (accept | exclude) and a
    ``reason``; the loader applies them and the report lists them.
    """
    out = []
    for w, item in _entries(c, raw.get("values") or [], "values", "a list of {subject_id, parameter, day, action, reason}",
                            "a mapping {subject_id, parameter, day, action, reason}"):
        subject = c.require(item, "subject_id", w, "a subject id")
        c.require(item, "day", w, "the study day of the value")
        out.append({"subject_id": str(subject), "parameter": c.choice(item, "parameter", parameters, w),
                    "day": item["day"], "action": c.choice(item, "action", ("accept", "exclude"), w),
                    "reason": str(item.get("reason", ""))})
    return tuple(out)
