"""Simulation scenarios: the YAML file that states the data-generating model, parsed and checked.

A scenario says *how many* patients are randomized and *what is true* about them: the allocation
and block size, the recruitment period, the inclusion criteria, the baseline distributions, the
control arm's transplant-free survival curve, the treatment effects (keyed by factor name, so the
same file drives a four-arm factorial study and a two-arm study), the lab and symptom courses,
treatment reactions, adverse events, HCC and missingness. ``params/scenarios/default.yaml`` is the
fully commented reference; other scenarios ``extends:`` it and override what differs.

Merging rule for ``extends``: mappings are merged key by key, except ``effects``, ``allocation``
and ``reactions``, which are replaced as a whole, so a scenario always states all of its effects
(``effects: {}`` means every effect is null).

Examples
--------
>>> from trialkit.simulate.scenario import load_scenario
>>> sc = load_scenario("default")
>>> sc.name, sc.effects["msc"].hr, sc.effects["pe"].hr
('default', 0.6, 0.8)
>>> load_scenario("null").effects
{}
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from trialkit.errors import ScenarioError
from trialkit.study import params_dir
from trialkit.yamlcheck import MISSING, Checker, suggest

__all__ = [
    "Scenario",
    "Effect",
    "LabEffect",
    "load_scenario",
    "scenarios_dir",
    "default_scenario_path",
    "ratio_from_sizes",
    "LAB_NAMES",
    "GRADE_NAMES",
    "SEVERITY_INPUTS",
    "REACTION_CATEGORIES",
]

# Lab parameters the simulator can generate (internal units: SI as in params/study.yaml).
LAB_NAMES = ("ALT", "AST", "TBIL", "ALB", "PT", "PTA", "INR", "CREAT", "NA", "UREA", "HGB", "WBC",
             "NEUT", "PLT", "HBVDNA", "TH1", "TH2")
# Parameters with their own latent course (PT and PTA derive from INR, NEUT from WBC).
COURSE_LABS = ("ALT", "AST", "TBIL", "ALB", "INR", "CREAT", "NA", "UREA", "HGB", "WBC", "PLT",
               "HBVDNA", "TH1", "TH2")
GRADE_NAMES = ("ASCITES", "HE")
# Variables of the Gaussian copula for the baseline (labs plus latent liabilities of binary and
# ordinal characteristics).
BASELINE_VARS = ("TBIL", "INR", "ALB", "ALT", "AST", "CREAT", "NA", "UREA", "HGB", "WBC", "PLT",
                 "HBVDNA", "TH1", "TH2", "CIRRHOSIS", "ASCITES", "HE", "HBEAG")
SEVERITY_INPUTS = ("MELD", "PTA", "HGB", "INR", "TBIL", "CREAT", "ALB", "NA", "HE", "ASCITES", "AGE")
REACTION_CATEGORIES = ("fever", "rash", "allergy")
AE_CATEGORIES = ("fever", "rash", "allergy", "other")

_TOP_KEYS = ("name", "description", "extends", "seed", "study", "allocation", "block_size",
             "recruitment", "inclusion", "baseline", "severity", "survival", "hcc", "effects",
             "course", "grades", "symptoms", "dosing", "reactions", "adverse_events", "missingness")
_REPLACED_ON_EXTEND = ("effects", "allocation", "reactions")


def scenarios_dir() -> Path:
    """The folder of bundled scenarios, ``params/scenarios/``.

    Examples
    --------
    >>> folder = scenarios_dir()
    >>> folder.relative_to(params_dir()).as_posix()
    'scenarios'
    >>> (folder / "null.yaml").is_file(), load_scenario(folder / "null.yaml").name
    (True, 'null')
    """
    return params_dir() / "scenarios"


def default_scenario_path() -> Path:
    """Path of the default scenario, ``params/scenarios/default.yaml``.

    Examples
    --------
    >>> path = default_scenario_path()
    >>> path.name, path.parent == scenarios_dir()
    ('default.yaml', True)
    >>> load_scenario(path) == load_scenario()  # what load_scenario() reads by default
    True
    """
    return scenarios_dir() / "default.yaml"


# ------------------------------------------------------------------------------------------------
# Effects
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LabEffect:
    """A treatment effect on one lab, on the lab's analysis scale (log for log-scale labs).

    ``shift`` is reached linearly by ``onset_days`` and then held; ``transient`` is an immediate
    effect that halves every ``halflife_days`` (e.g. plasma exchange removing bilirubin).
    """

    shift: float = 0.0
    onset_days: float = 28.0
    transient: float = 0.0
    halflife_days: float = 7.0

    def at(self, t: np.ndarray | float) -> np.ndarray:
        """The effect at study day(s) ``t`` (zero at and before day 0)."""
        t = np.asarray(t, dtype=float)
        pos = t > 0
        ramp = np.clip(t / self.onset_days, 0.0, 1.0) if self.onset_days > 0 else pos.astype(float)
        out = self.shift * ramp
        if self.transient:
            out = out + np.where(pos, self.transient * np.exp2(-np.maximum(t, 0) / self.halflife_days), 0.0)
        return out


@dataclass(frozen=True)
class Effect:
    """The true effect of one factor (or one interaction term) of the design."""

    hr: float = 1.0
    labs: dict[str, LabEffect] = field(default_factory=dict)
    symptoms: dict[str, float] = field(default_factory=dict)  # symptom -> latent shift; "*" = all
    symptom_onset_days: float = 28.0
    adverse_events: dict[str, float] = field(default_factory=dict)  # AE group -> risk ratio

    def symptom_shift(self, symptom: str) -> float:
        return float(self.symptoms.get(symptom, self.symptoms.get("*", 0.0)))


# ------------------------------------------------------------------------------------------------
# The scenario
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A parsed, checked simulation scenario. Build it with :func:`load_scenario`.

    The sections other than the allocation and the effects are kept as checked mappings (see
    ``params/scenarios/default.yaml`` for every key and its meaning).
    """

    name: str
    seed: int
    study: str | None
    allocation_sizes: dict[str, int] | None
    allocation_ratio: dict[str, int] | None
    total: int | None
    block_size: int
    recruitment: tuple[_dt.date, _dt.date]
    inclusion: dict
    baseline: dict
    severity: dict
    survival: dict
    hcc: dict
    effects: dict[str, Effect]
    interactions: dict[tuple[str, ...], Effect]
    course: dict
    grades: dict
    symptoms: dict
    dosing: dict
    reactions: dict
    adverse_events: dict
    missingness: dict
    description: str = ""
    source: str = "<dict>"
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    #: the YAML files read, the scenario's own first, then each file it ``extends`` (resolved paths)
    files: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def factor_effect(self, factor: str) -> Effect:
        """The effect of ``factor`` (a null effect when the scenario does not mention it)."""
        return self.effects.get(factor, Effect())

    def mapping(self) -> dict:
        """A self-contained YAML mapping of this scenario (``extends`` applied, ``study`` absolute)."""
        raw = copy.deepcopy(self.raw)
        raw.pop("extends", None)
        if self.study:
            raw["study"] = str(self.study)
        return raw

    def with_effects(self, effects: dict | None = None, *, replace: bool = False,
                     name: str | None = None) -> "Scenario":
        """This scenario with some true effects overridden, checked like a scenario file.

        ``effects`` is in the YAML form, keyed by factor (``{"msc": {"hr": 0.5}}``) or
        ``"interaction"``; it is merged key by key into the effects unless ``replace``.
        """
        raw = self.mapping()
        effects = {} if effects is None else copy.deepcopy(effects)
        raw["effects"] = effects if replace else _merge(raw.get("effects") or {}, effects, top=False)
        raw["name"] = name or f"{self.name}+{_short(effects)}"
        return load_scenario(raw)

    def null(self) -> "Scenario":
        """This scenario with every treatment effect removed (same natural history and allocation)."""
        return self.with_effects({}, replace=True, name=f"{self.name} (null)")

    def resolved(self, n_subjects: int | None = None) -> "Scenario":
        """This scenario made self-contained, with ``n_subjects`` folded into its allocation.

        Its :meth:`mapping` is then everything needed to simulate the same trials from one file:
        ``extends`` applied, the study path absolute and, with ``n_subjects``, the allocation written
        as its ratio and that total (what a report run with ``n_subjects`` simulates). The source
        and the files read are those of this scenario.

        Examples
        --------
        >>> sc = load_scenario("published").resolved(n_subjects=22)
        >>> sc.mapping()["allocation"], sc.total, Path(sc.source).name
        ({'ratio': {'control': 3, 'msc': 3, 'pe': 3, 'pe_msc': 2}, 'total': 22}, 22, 'published.yaml')
        """
        raw = self.mapping()
        if n_subjects is not None:
            ratio = self.allocation_ratio
            if ratio is None:  # the parser guarantees sizes or a ratio
                ratio = ratio_from_sizes(self.allocation_sizes or {})
            raw["allocation"] = {"ratio": dict(ratio), "total": int(n_subjects)}
        return dataclasses.replace(load_scenario(raw), source=self.source, files=self.files)


def _short(effects: dict) -> str:
    parts = []
    for k, v in effects.items():
        if isinstance(v, dict) and set(v) == {"hr"}:
            parts.append(f"{k}_hr={v['hr']:g}")
        else:
            parts.append(str(k))
    return ",".join(parts) or "no_effects"


# ------------------------------------------------------------------------------------------------
# Loading and merging
# ------------------------------------------------------------------------------------------------
def _resolve(ref: str | Path, base_dir: Path | None) -> Path:
    ref = Path(ref)
    candidates = []
    if ref.is_absolute():
        candidates.append(ref)
    else:
        if base_dir is not None:
            candidates.append(base_dir / ref)
        candidates += [Path.cwd() / ref, scenarios_dir() / ref]
    if not ref.suffix:
        candidates += [c.with_suffix(".yaml") for c in list(candidates)]
    for c in candidates:
        if c.is_file():
            return c.resolve()
    folders = list(dict.fromkeys(str(c.parent) for c in candidates))
    raise ScenarioError(f"{ref}: scenario file not found (looked in {', '.join(folders)})")


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise Checker(str(path), ScenarioError).fail("", "a mapping of scenario keys", raw)
    return raw


def _merge(base: dict, over: dict, top: bool = True) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not (top and k in _REPLACED_ON_EXTEND):
            out[k] = _merge(out[k], v, top=False)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _expand(raw: dict, name: str, base_dir: Path | None, seen: tuple[str, ...] = (),
            files: list[str] | None = None) -> dict:
    """Apply ``extends`` recursively (the parent is resolved relative to the child's folder); every
    parent file read is appended to ``files``."""
    parent_ref = raw.get("extends")
    if parent_ref is None:
        return raw
    if not isinstance(parent_ref, str):
        raise Checker(name, ScenarioError).fail("extends", "a scenario file name", parent_ref)
    parent_path = _resolve(parent_ref, base_dir)
    if str(parent_path) in seen:
        raise Checker(name, ScenarioError).fail("extends", "a chain of scenarios without a cycle",
                                                shown=" -> ".join(seen + (str(parent_path),)))
    if files is not None:
        files.append(str(parent_path))
    parent = _expand(_read_yaml(parent_path), str(parent_path), parent_path.parent, seen + (str(parent_path),),
                     files)
    child = {k: v for k, v in raw.items() if k != "extends"}
    return _merge(parent, child)


def load_scenario(scenario: str | Path | dict | Scenario | None = None) -> Scenario:
    """Read and check a scenario.

    Parameters
    ----------
    scenario : str, Path, dict, Scenario or None
        A YAML file (a bare name such as ``"null"`` is looked up in ``params/scenarios/``), an
        already parsed mapping (its ``extends`` and ``study`` are resolved against the current
        folder, then ``params/scenarios/``), or a Scenario (returned as is). Default:
        ``params/scenarios/default.yaml``.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        Naming the file and the offending key, e.g.
        ``default.yaml: survival.control: expected survival decreasing strictly with time (and < 1 after day
        0), got {84: 0.6, 168: 0.7}`` (see :mod:`trialkit.yamlcheck`).

    Examples
    --------
    >>> sc = load_scenario({"extends": "default.yaml", "name": "mine", "effects": {"msc": {"hr": 0.5}}})
    >>> sc.name, sc.effects["msc"].hr, sc.allocation_ratio
    ('mine', 0.5, {'control': 1, 'msc': 1, 'pe': 1, 'pe_msc': 1})
    """
    if isinstance(scenario, Scenario):
        return scenario
    if scenario is None:
        scenario = default_scenario_path()
    if isinstance(scenario, dict):
        name, base_dir, raw = "<scenario dict>", None, copy.deepcopy(scenario)
        files: list[str] = []
    else:
        path = _resolve(scenario, None)
        name, base_dir, raw = str(path), path.parent, _read_yaml(path)
        files = [name]
    merged = _expand(raw, name, base_dir, (name,), files)
    return _parse(merged, name, base_dir, tuple(files))


# ------------------------------------------------------------------------------------------------
# Checking
# ------------------------------------------------------------------------------------------------
class _Check(Checker):
    """The shared :class:`~trialkit.yamlcheck.Checker` (raising ScenarioError) plus the scenario's own
    value kinds: probabilities and knots (study day: value)."""

    def __init__(self, source: str):
        super().__init__(source, ScenarioError)

    def probabilities(self, v: Any, where: str, *, keys: tuple[str, ...] | None = None) -> dict:
        """A mapping of outcome -> probability summing to 1 (within 1e-6)."""
        if not isinstance(v, dict) or not v:
            raise self.fail(where, "a non-empty mapping of outcome: probability", v)
        out = {}
        for k, p in v.items():
            if keys is not None and k not in keys:
                raise self.fail(f"{where}.{k}", f"an outcome among {', '.join(keys)}", shown=f"unknown outcome {k!r}")
            out[k] = self.value(p, f"{where}.{k}", lo=0, hi=1)
        if abs(sum(out.values()) - 1) > 1e-6:
            raise self.fail(where, "probabilities summing to 1", shown=f"a sum of {sum(out.values()):.6g}")
        return out

    def knots(self, v: Any, where: str, *, neutral: float, positive: bool = False) -> dict[int, float]:
        """A mapping study day -> value, days >= 0 increasing; day 0 (if given) must be ``neutral``."""
        if not isinstance(v, dict) or not v:
            raise self.fail(where, "a mapping of study day: value", v)
        out: dict[int, float] = {}
        for d, x in v.items():
            day = self.value(d, f"{where}.{d}", lo=0, integer=True)
            out[day] = self.value(x, f"{where}.{d}", lo=0 if positive else None, lo_open=positive)
        if 0 in out and abs(out[0] - neutral) > 1e-12:
            raise self.fail(f"{where}.0", f"{neutral} at day 0 (no change at baseline)", v.get(0))
        out.setdefault(0, neutral)
        return dict(sorted(out.items()))


def _parse(raw: dict, source: str, base_dir: Path | None, files: tuple[str, ...] = ()) -> Scenario:
    c = _Check(Path(source).name if source != "<scenario dict>" else source)
    c.known_keys(raw, _TOP_KEYS, "")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise c.fail("name", "a non-empty scenario name", raw.get("name", MISSING))
    seed = c.number(raw, "seed", "", lo=0, integer=True)

    study = raw.get("study")
    if study is not None:
        if not isinstance(study, str):
            raise c.fail("study", "a study file path", study)
        study = str(_resolve_study(study, base_dir, c))

    sizes, ratio, total = _parse_allocation(c, c.mapping(raw, "allocation", ""))
    block = c.number(raw, "block_size", "", lo=1, integer=True)
    if ratio is None:
        assert sizes is not None  # _parse_allocation raises when neither `sizes` nor `ratio` is given
        base_ratio = ratio_from_sizes(sizes)
    else:
        base_ratio = ratio
    unit = sum(base_ratio.values())
    if block % unit:
        raise c.fail("block_size", f"a multiple of the allocation ratio's sum {unit} "
                                   f"({':'.join(str(v) for v in base_ratio.values())})", block)

    rec = c.mapping(raw, "recruitment", "")
    c.known_keys(rec, ("start", "end"), "recruitment.")
    start, end = (_date(c, rec, k) for k in ("start", "end"))
    if end < start:
        raise c.fail("recruitment.end", f"a date on or after the start {start}", shown=str(end))

    inclusion = _parse_inclusion(c, c.mapping(raw, "inclusion", ""))
    baseline = _parse_baseline(c, c.mapping(raw, "baseline", ""))
    severity = c.mapping(raw, "severity", "")
    for k, v in severity.items():
        if k not in SEVERITY_INPUTS:
            raise c.fail(f"severity.{k}", f"one of the inputs {', '.join(SEVERITY_INPUTS)}",
                         shown=f"unknown input {k!r}" + (f" (did you mean {suggest(k, SEVERITY_INPUTS)!r}?)"
                                                          if suggest(k, SEVERITY_INPUTS) else ""))
        c.value(v, f"severity.{k}")
    if not any(severity.values()):
        raise c.fail("severity", "at least one non-zero coefficient", severity)
    survival = _parse_survival(c, c.mapping(raw, "survival", ""))
    hcc = c.mapping(raw, "hcc", "")
    c.number(hcc, "rate_per_year", "hcc.", lo=0, hi=1)

    course = _parse_course(c, c.mapping(raw, "course", ""), baseline)
    grades = _parse_grades(c, c.mapping(raw, "grades", ""))
    symptoms = _parse_symptoms(c, c.mapping(raw, "symptoms", ""))
    effects, interactions = _parse_effects(c, c.mapping(raw, "effects", "", required=False), course)
    dosing = c.mapping(raw, "dosing", "")
    c.number(dosing, "miss_probability", "dosing.", lo=0, hi=1)
    reactions = _parse_reactions(c, c.mapping(raw, "reactions", "", required=False))
    adverse = _parse_adverse_events(c, c.mapping(raw, "adverse_events", ""))
    missing = c.mapping(raw, "missingness", "")
    c.known_keys(missing, ("visit", "value", "sparse_parameters", "sparse_min_day"), "missingness.")
    c.number(missing, "visit", "missingness.", lo=0, hi=0.5)
    c.number(missing, "value", "missingness.", lo=0, hi=0.5)
    c.number(missing, "sparse_min_day", "missingness.", lo=0)
    sp = missing.get("sparse_parameters", [])
    if not isinstance(sp, list) or any(p not in LAB_NAMES for p in sp):
        raise c.fail("missingness.sparse_parameters", f"a list of lab names from {', '.join(LAB_NAMES)}", sp)

    return Scenario(
        name=name.strip(), seed=int(seed), study=study, allocation_sizes=sizes, allocation_ratio=ratio,
        total=total, block_size=int(block), recruitment=(start, end), inclusion=inclusion,
        baseline=baseline, severity={k: float(v) for k, v in severity.items()}, survival=survival,
        hcc={"rate_per_year": float(hcc["rate_per_year"])}, effects=effects, interactions=interactions,
        course=course, grades=grades, symptoms=symptoms, dosing=dict(dosing), reactions=reactions,
        adverse_events=adverse, missingness=dict(missing), description=str(raw.get("description", "")),
        source=source, raw=raw, files=files,
    )


def _resolve_study(ref: str, base_dir: Path | None, c: _Check) -> Path:
    p = Path(ref)
    candidates = [p] if p.is_absolute() else (
        ([base_dir / p] if base_dir else []) + [Path.cwd() / p, params_dir() / p, params_dir().parent / p])
    for cand in candidates:
        if cand.is_file():
            return cand.resolve()
    raise c.fail("study", f"an existing study file (looked in {', '.join(str(x.parent) for x in candidates)})", ref)


def _date(c: _Check, d: dict, key: str) -> _dt.date:
    v = d.get(key)
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    try:
        return _dt.date.fromisoformat(str(v))
    except ValueError:
        raise c.fail(f"recruitment.{key}", "an ISO date YYYY-MM-DD", d.get(key, MISSING)) from None


def ratio_from_sizes(sizes: dict[str, int]) -> dict[str, int]:
    """The smallest whole-number allocation ratio of fixed arm sizes (sizes divided by their gcd).

    Examples
    --------
    >>> ratio_from_sizes({"control": 30, "msc": 30, "pe": 30, "pe_msc": 20})
    {'control': 3, 'msc': 3, 'pe': 3, 'pe_msc': 2}
    """
    g = 0
    for v in sizes.values():
        g = math.gcd(g, v)
    g = g or 1
    return {k: v // g for k, v in sizes.items()}


def _parse_allocation(c: _Check, alloc: dict) -> tuple[dict[str, int] | None, dict[str, int] | None, int | None]:
    c.known_keys(alloc, ("sizes", "ratio", "total"), "allocation.")
    sizes = ratio = total = None
    if "sizes" in alloc:
        raw = c.mapping(alloc, "sizes", "allocation.")
        sizes = {str(k): c.value(v, f"allocation.sizes.{k}", lo=0, integer=True) for k, v in raw.items()}
        if sum(sizes.values()) < 1:
            raise c.fail("allocation.sizes", "at least one subject", sizes)
        if "total" in alloc:
            raise c.fail("allocation.total", "no total beside `sizes` (give `sizes`, or `ratio` and `total`)",
                         alloc["total"])
    if "ratio" in alloc:
        raw = c.mapping(alloc, "ratio", "allocation.")
        ratio = {str(k): c.value(v, f"allocation.ratio.{k}", lo=0, integer=True) for k, v in raw.items()}
        if sum(ratio.values()) < 1:
            raise c.fail("allocation.ratio", "at least one arm with a positive ratio", ratio)
        if sizes is not None and list(ratio) != list(sizes):
            raise c.fail("allocation.ratio", f"the arms of `sizes` in the same order ({', '.join(sizes)})",
                         list(ratio))
    if sizes is None:
        if ratio is None:
            raise c.fail("allocation", "`sizes` (subjects per arm) or `ratio` and `total`", alloc)
        total = c.number(alloc, "total", "allocation.", lo=1, integer=True)
    return sizes, ratio, total


def _parse_inclusion(c: _Check, inc: dict) -> dict:
    keys = ("age", "tbil_min", "inr_min", "pta_max", "meld_below", "he_max", "creat_max")
    c.known_keys(inc, keys, "inclusion.")
    age = inc.get("age")
    if not (isinstance(age, list) and len(age) == 2):
        raise c.fail("inclusion.age", "[min, max] years", inc.get("age", MISSING))
    lo, hi = (c.value(a, "inclusion.age", lo=0, hi=120) for a in age)
    if hi < lo:
        raise c.fail("inclusion.age", "[min, max] years with min <= max", age)
    out = {"age": (lo, hi)}
    for k in keys[1:]:
        out[k] = c.number(inc, k, "inclusion.", lo=0)
    return out


def _parse_baseline(c: _Check, b: dict) -> dict:
    w = "baseline."
    c.known_keys(b, ("male", "age", "weight_kg", "hbeag_positive", "cirrhosis", "ascites", "he", "labs",
                     "neut_fraction", "coagulation", "correlations"), w)
    out = {"male": c.number(b, "male", w, lo=0, hi=1),
           "hbeag_positive": c.number(b, "hbeag_positive", w, lo=0, hi=1),
           "cirrhosis": c.number(b, "cirrhosis", w, lo=0, hi=1)}
    age = c.mapping(b, "age", w)
    out["age"] = {"mean": c.number(age, "mean", w + "age."), "sd": c.number(age, "sd", w + "age.", lo=0)}
    wt = c.mapping(b, "weight_kg", w)
    out["weight_kg"] = {}
    for sex in ("male", "female"):
        s = c.mapping(wt, sex, w + "weight_kg.")
        out["weight_kg"][sex] = {"mean": c.number(s, "mean", f"{w}weight_kg.{sex}.", lo=0),
                                 "sd": c.number(s, "sd", f"{w}weight_kg.{sex}.", lo=0)}
    for k, n in (("ascites", 3), ("he", 5)):
        v = b.get(k)
        if not (isinstance(v, list) and len(v) == n):
            raise c.fail(w + k, f"a list of {n} grade probabilities", b.get(k, MISSING))
        ps = [c.value(p, f"{w}{k}[{i}]", lo=0, hi=1) for i, p in enumerate(v)]
        if abs(sum(ps) - 1) > 1e-6:
            raise c.fail(w + k, "grade probabilities summing to 1", shown=f"a sum of {sum(ps):.6g}")
        out[k] = ps
    labs = c.mapping(b, "labs", w)
    out["labs"] = {}
    for lab in BASELINE_VARS[:14]:
        if lab not in labs:
            raise c.fail(f"{w}labs.{lab}", "{median, sd, log} or {mean, sd}")
    for lab, spec in labs.items():
        where = f"{w}labs.{lab}"
        if lab not in BASELINE_VARS[:14]:
            c.known_keys({lab: spec}, BASELINE_VARS[:14], w + "labs")
        if not isinstance(spec, dict):
            raise c.fail(where, "{median, sd, log} or {mean, sd}", spec)
        c.known_keys(spec, ("median", "mean", "sd", "log"), where + ".")
        log = bool(spec.get("log", False))
        center = c.number(spec, "median" if log else "mean", where + ".", lo=0 if log else None, lo_open=log)
        out["labs"][lab] = {"center": center, "sd": c.number(spec, "sd", where + ".", lo=0), "log": log}
    nf = c.mapping(b, "neut_fraction", w)
    out["neut_fraction"] = {"mean": c.number(nf, "mean", w + "neut_fraction.", lo=0, hi=1, lo_open=True),
                            "sd_logit": c.number(nf, "sd_logit", w + "neut_fraction.", lo=0)}
    co = c.mapping(b, "coagulation", w)
    out["coagulation"] = {k: c.number(co, k, w + "coagulation.", lo=0)
                          for k in ("mnpt_s", "isi", "pta_k", "pta_c", "pta_sd")}
    if out["coagulation"]["pta_c"] >= out["coagulation"]["mnpt_s"] * 0.8:
        raise c.fail(w + "coagulation.pta_c", f"a value well below the normal PT mnpt_s (< {out['coagulation']['mnpt_s'] * 0.8:g})",
                     out["coagulation"]["pta_c"])
    corr = c.mapping(b, "correlations", w, required=False)
    out["correlations"] = {}
    for pair, r in corr.items():
        parts = str(pair).split("~")
        if len(parts) != 2 or any(p not in BASELINE_VARS for p in parts) or parts[0] == parts[1]:
            raise c.fail(f"{w}correlations.{pair}", f"'A~B' with two different names from {', '.join(BASELINE_VARS)}",
                         shown=repr(str(pair)))
        out["correlations"][(parts[0], parts[1])] = c.value(r, f"{w}correlations.{pair}", lo=-0.99, hi=0.99)
    return out


def _parse_survival(c: _Check, s: dict) -> dict:
    w = "survival."
    c.known_keys(s, ("control", "copula_rho", "transplant_fraction", "loss_to_follow_up",
                     "withdrew_fraction", "terminal_window_days", "death_causes"), w)
    ctrl = s.get("control")
    if not isinstance(ctrl, dict) or not ctrl:
        raise c.fail(w + "control", "a mapping of study day: transplant-free survival", s.get("control", MISSING))
    days, surv = [], []
    for d, v in ctrl.items():
        days.append(c.value(d, f"{w}control.{d}", lo=0, lo_open=True, integer=True))
        surv.append(c.value(v, f"{w}control.{d}", lo=0, hi=1, lo_open=True))
    order = np.argsort(days)
    days = [days[i] for i in order]
    surv = [surv[i] for i in order]
    if any(b >= a for a, b in zip([1.0] + surv, surv)):
        raise c.fail(w + "control", "survival decreasing strictly with time (and < 1 after day 0)", ctrl)
    out = {"control": dict(zip(days, surv)),
           "copula_rho": c.number(s, "copula_rho", w, lo=0, hi=0.99),
           "transplant_fraction": c.number(s, "transplant_fraction", w, lo=0, hi=1),
           "loss_to_follow_up": c.number(s, "loss_to_follow_up", w, lo=0, hi=0.9),
           "withdrew_fraction": c.number(s, "withdrew_fraction", w, lo=0, hi=1),
           "terminal_window_days": c.number(s, "terminal_window_days", w, lo=1),
           "death_causes": c.probabilities(s.get("death_causes"), w + "death_causes")}
    return out


def _parse_course(c: _Check, course: dict, baseline: dict) -> dict:
    out = {}
    for lab in COURSE_LABS:
        if lab not in course:
            raise c.fail(f"course.{lab}", "a mapping {path, persistence, sd_subject, sd_visit, terminal}")
    for lab, spec in course.items():
        where = f"course.{lab}"
        if lab not in COURSE_LABS:
            c.known_keys({lab: spec}, COURSE_LABS, "course", note="PT/PTA follow INR, NEUT follows WBC")
        if not isinstance(spec, dict):
            raise c.fail(where, "a mapping", spec)
        c.known_keys(spec, ("path", "persistence", "sd_subject", "sd_visit", "terminal"), where + ".")
        out[lab] = _course_spec(c, spec, where, log=baseline["labs"][lab]["log"])
        out[lab]["log"] = baseline["labs"][lab]["log"]
    return out


def _course_spec(c: _Check, spec: dict, where: str, log: bool) -> dict:
    # `path` holds ratios to baseline for log-scale labs (neutral 1), differences otherwise (neutral 0).
    return {
        "path": c.knots(spec.get("path"), where + ".path", neutral=1.0 if log else 0.0, positive=log),
        "persistence": c.knots(spec.get("persistence", {0: 1.0}), where + ".persistence", neutral=1.0),
        "sd_subject": c.number(spec, "sd_subject", where + ".", lo=0),
        "sd_visit": c.number(spec, "sd_visit", where + ".", lo=0),
        "terminal": c.number(spec, "terminal", where + ".", default=None),
    }


def _parse_grades(c: _Check, grades: dict) -> dict:
    out = {}
    for g in GRADE_NAMES:
        spec = c.mapping(grades, g, "grades.")
        c.known_keys(spec, ("path", "sd_subject", "sd_visit", "terminal"), f"grades.{g}.")
        out[g] = _course_spec(c, spec, f"grades.{g}", log=False)
    return out


def _parse_symptoms(c: _Check, s: dict) -> dict:
    w = "symptoms."
    c.known_keys(s, ("baseline_mean", "shared", "thresholds", "path", "persistence", "sd_subject",
                     "sd_visit", "terminal"), w)
    bm = c.mapping(s, "baseline_mean", w)
    th = s.get("thresholds")
    if not (isinstance(th, list) and len(th) == 3):
        raise c.fail(w + "thresholds", "three increasing cut-points (scores 0|1|2|3)", s.get("thresholds", MISSING))
    th = [c.value(x, w + "thresholds") for x in th]
    if not th[0] < th[1] < th[2]:
        raise c.fail(w + "thresholds", "three increasing cut-points (scores 0|1|2|3)", th)
    out = _course_spec(c, s, w[:-1], log=False)
    out.update(baseline_mean={str(k): c.value(v, f"{w}baseline_mean.{k}") for k, v in bm.items()},
               shared=c.number(s, "shared", w, lo=0, hi=0.99), thresholds=th)
    if "*" not in out["baseline_mean"]:
        out["baseline_mean"].setdefault("*", float(np.mean(list(out["baseline_mean"].values()) or [0.0])))
    return out


def _parse_effect(c: _Check, spec: Any, where: str, course: dict) -> Effect:
    if spec is None:
        return Effect()
    if not isinstance(spec, dict):
        raise c.fail(where, "a mapping with hr, labs, symptoms, adverse_events", spec)
    c.known_keys(spec, ("hr", "labs", "symptoms", "symptom_onset_days", "adverse_events"), where + ".")
    hr = c.number(spec, "hr", where + ".", default=1.0, lo=0, lo_open=True)
    labs = {}
    for lab, le in c.mapping(spec, "labs", where + ".", required=False).items():
        lw = f"{where}.labs.{lab}"
        if lab not in course:
            c.known_keys({lab: le}, course, f"{where}.labs", note="effects apply to the course labs")
        if isinstance(le, (int, float)) and not isinstance(le, bool):
            le = {"shift": le}
        if not isinstance(le, dict):
            raise c.fail(lw, "a number or {shift, onset_days, transient, halflife_days}", le)
        c.known_keys(le, ("shift", "onset_days", "transient", "halflife_days"), lw + ".")
        labs[lab] = LabEffect(shift=c.number(le, "shift", lw + ".", default=0.0),
                              onset_days=c.number(le, "onset_days", lw + ".", default=28.0, lo=0),
                              transient=c.number(le, "transient", lw + ".", default=0.0),
                              halflife_days=c.number(le, "halflife_days", lw + ".", default=7.0, lo=0, lo_open=True))
    sym = spec.get("symptoms", {})
    if isinstance(sym, (int, float)) and not isinstance(sym, bool):
        sym = {"*": c.value(sym, where + ".symptoms")}
    elif isinstance(sym, dict):
        sym = {str(k): c.value(v, f"{where}.symptoms.{k}") for k, v in sym.items()}
    else:
        raise c.fail(where + ".symptoms", "a latent shift (number) or a mapping symptom: shift", sym)
    aes = {str(k): c.value(v, f"{where}.adverse_events.{k}", lo=0)
           for k, v in c.mapping(spec, "adverse_events", where + ".", required=False).items()}
    return Effect(hr=hr, labs=labs, symptoms=sym, adverse_events=aes,
                  symptom_onset_days=c.number(spec, "symptom_onset_days", where + ".", default=28.0, lo=0))


def _parse_effects(c: _Check, effects: dict, course: dict) -> tuple[dict[str, Effect], dict[tuple[str, ...], Effect]]:
    out: dict[str, Effect] = {}
    inter: dict[tuple[str, ...], Effect] = {}
    for k, spec in effects.items():
        if k == "interaction":
            if not isinstance(spec, dict):
                raise c.fail("effects.interaction", "a mapping like {msc*pe: {hr: 1.0}}", spec)
            for term, ispec in spec.items():
                parts = tuple(p.strip() for p in str(term).split("*"))
                if len(parts) < 2 or any(not p for p in parts) or len(set(parts)) != len(parts):
                    raise c.fail(f"effects.interaction.{term}", "different factor names joined by '*', e.g. msc*pe",
                                 shown=repr(str(term)))
                inter[parts] = _parse_effect(c, ispec, f"effects.interaction.{term}", course)
        else:
            out[str(k)] = _parse_effect(c, spec, f"effects.{k}", course)
    return out, inter


def _parse_reactions(c: _Check, reactions: dict) -> dict:
    out: dict[str, Any] = {}
    for factor, spec in reactions.items():
        where = f"reactions.{factor}"
        if not isinstance(spec, dict):
            raise c.fail(where, "a mapping of reaction category: probability per dose", spec)
        out[str(factor)] = {}
        for cat, p in spec.items():
            if cat not in REACTION_CATEGORIES:
                c.known_keys({cat: p}, REACTION_CATEGORIES, where)
            out[str(factor)][cat] = c.value(p, f"{where}.{cat}", lo=0, hi=1)
    return out


def _parse_adverse_events(c: _Check, ae: dict) -> dict:
    w = "adverse_events."
    c.known_keys(ae, ("window_days", "severity_log_odds", "groups"), w)
    out = {"window_days": c.number(ae, "window_days", w, lo=1, integer=True),
           "severity_log_odds": c.number(ae, "severity_log_odds", w), "groups": {}}
    for g, spec in c.mapping(ae, "groups", w).items():
        gw = f"{w}groups.{g}"
        if not isinstance(spec, dict):
            raise c.fail(gw, "a mapping", spec)
        c.known_keys(spec, ("probability", "category", "terms", "grades", "window"), gw + ".")
        cat = spec.get("category", "other")
        if cat not in AE_CATEGORIES:
            c.choice(spec, "category", AE_CATEGORIES, gw)
        grades = c.probabilities(spec.get("grades"), gw + ".grades")
        for gr in grades:
            if gr not in (1, 2, 3, 4):
                raise c.fail(f"{gw}.grades", "grades 1-4 only (grade 5 is generated from deaths)", shown=f"grade {gr!r}")
        window = spec.get("window", [1, out["window_days"]])
        if not (isinstance(window, list) and len(window) == 2):
            raise c.fail(gw + ".window", "[first day, last day]", window)
        lo, hi = (c.value(x, gw + ".window", lo=1, integer=True) for x in window)
        if hi < lo:
            raise c.fail(gw + ".window", "[first day, last day] with first <= last", window)
        out["groups"][str(g)] = {"probability": c.number(spec, "probability", gw + ".", lo=0, hi=1),
                                 "category": cat, "terms": c.probabilities(spec.get("terms"), gw + ".terms"),
                                 "grades": grades, "window": (lo, hi)}
    return out
