"""Replicate runner: simulate many trials of a design and analyse each with the efficacy analyses.

Each replicate is one simulated trial (:mod:`trialkit.simulate`) analysed with the *same* library
functions as the efficacy notebook: :func:`trialkit.derive.tte.time_to_event` (transplant-free
survival to the primary horizon), :func:`trialkit.stats.survival.logrank` (global and each arm vs
control), :func:`trialkit.stats.survival.cox_factorial` (main effects "at the margins", and with the
interaction; the two fits behind :func:`trialkit.stats.factorial.survival_factorial`) and, for the
key secondary endpoints, :func:`trialkit.derive.change.change_from_baseline` with
:func:`trialkit.stats.longitudinal.analyze_parameters` (repeated-measures model, unstructured
covariance, survivors, each arm vs control at the secondary horizon's visit, as the efficacy
notebook's ``efficacy_contrasts_w24``). Nothing here re-implements an analysis.

Reproducibility: replicate ``i`` uses the seed ``replicate_seeds(seed, n)[i]``, drawn from
``numpy.random.SeedSequence(seed).spawn``; child ``i`` does not depend on ``n`` nor on which worker
runs it, so the results are identical for any ``n_jobs``, any scheduler, and the first ``m`` of
``n`` replicates are the ``m`` replicates of a smaller run.

Engines: by default (``engine="auto"``) a run of survival analyses only goes to the batch engine
(:mod:`trialkit.design.batch`): each chunk of replicates is simulated as (replicate × subject)
arrays with the same streams, and analysed together (about 3 ms per trial instead of about 50);
a replicate it cannot fit exactly as lifelines would (e.g. an arm without events) is re-run here,
per trial. Runs with the lab models (``"labs"``), ``tables="all"`` or ``validate=True`` use the
per-trial path: :func:`run_replicate` per replicate. The two engines give the same rows to about
1e-13 (``tests/test_design.py``).

Speed of the per-trial path: a replicate that needs only the survival analyses simulates only the
``subjects`` and ``events`` tables (``tables="auto"``), with the simulator's own components and
random streams, so they are identical to those of :func:`trialkit.simulate.simulate` (checked in
``tests/test_design.py``); and simulated tables are not re-validated (the simulator's output is
validated by its own tests). ``validate=True`` takes the slow, fully validated path.

Examples
--------
>>> res = run_replicates("default", n_trials=2, seed=1, analyses=("logrank", "cox_main"))
>>> sorted(res["analysis"].unique())
['cox_main', 'logrank']
>>> res.loc[res["term"] == "msc", ["replicate", "truth"]].to_string(index=False)
' replicate  truth\\n         0    0.6\\n         1    0.6'
"""
from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialkit.errors import TrialkitError

if TYPE_CHECKING:
    from distributed import Client

    from trialkit.data.trial import Trial
    from trialkit.simulate.scenario import Scenario
    from trialkit.study import Study

__all__ = ["ANALYSES", "PRIMARY_ANALYSES", "DEFAULT_ANALYSES", "RESULT_COLUMNS", "ENGINES", "DesignSpec", "replicate_seeds",
           "design_spec", "simulate_replicate", "analyze_trial", "run_replicate", "run_replicates",
           "with_effects", "null_scenario", "scenario_truth", "check_scheduler", "SchedulerError",
           "SCHEDULER_TIMEOUT"]

#: Every analysis a replicate can run.
ANALYSES = ("logrank", "cox_main", "cox_interaction", "labs")
#: The primary analysis: global (and pairwise) log-rank and the main-effects Cox model.
PRIMARY_ANALYSES = ("logrank", "cox_main")
#: The default set: the primary analysis and the factorial Cox model with interaction.
DEFAULT_ANALYSES = ("logrank", "cox_main", "cox_interaction")

#: Columns of the per-replicate results, in order.
RESULT_COLUMNS = ["scenario", "n_subjects", "replicate", "seed", "analysis", "term", "label", "estimate", "ci_low",
                  "ci_high", "coef", "se", "statistic", "df", "p_value", "truth", "truth_coef", "null_true",
                  "scale", "events", "n"]


@dataclass(frozen=True)
class DesignSpec:
    """What every replicate of a run does: the design, the truth and the analyses (picklable)."""

    study: Study
    scenario: Scenario
    n_subjects: int | None
    analyses: tuple
    labs: tuple | None  # None: the study file's analysis.simulation list, resolved on each trial
    alpha: float
    tables: str
    validate: bool
    lab_covariance: str
    lab_population: str
    truth: dict


# ------------------------------------------------------------------------------------------------
# seeds and scenarios
# ------------------------------------------------------------------------------------------------
def replicate_seeds(seed: int, n_trials: int) -> list[int]:
    """Per-replicate simulation seeds: child ``i`` of ``numpy.random.SeedSequence(seed)``.

    Child ``i`` is the same whatever ``n_trials`` is, so a longer run extends a shorter one.

    Examples
    --------
    >>> replicate_seeds(1, 3) == replicate_seeds(1, 5)[:3]
    True
    """
    children = np.random.SeedSequence(int(seed)).spawn(int(n_trials))
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def with_effects(scenario: str | Path | dict | Scenario | None = None, effects: dict | None = None, *, replace: bool = False,
                 name: str | None = None) -> Scenario:
    """The scenario with some true effects overridden (e.g. a smaller UC-MSC hazard ratio).

    Parameters
    ----------
    scenario : str, Path, dict or Scenario, optional
        Default: ``params/scenarios/default.yaml``.
    effects : dict
        Effects in the scenario's YAML form, keyed by factor name (``{"msc": {"hr": 0.5}}``) or
        ``"interaction"``. Merged key by key into the scenario's effects (a factor's other effects,
        e.g. on labs, are kept) unless ``replace``.
    replace : bool
        Replace the effects as a whole (``{}`` = no effect at all).
    name : str, optional
        Name of the new scenario (default: ``<name>+<override>``).

    Returns
    -------
    Scenario

    Examples
    --------
    >>> sc = with_effects("default", {"msc": {"hr": 0.5}})
    >>> sc.effects["msc"].hr, sc.effects["msc"].labs["ALB"].shift, sc.effects["pe"].hr
    (0.5, 1.5, 0.8)
    """
    from trialkit.simulate.scenario import load_scenario

    return load_scenario(scenario).with_effects(effects, replace=replace, name=name)


def null_scenario(scenario: str | Path | dict | Scenario | None = None) -> Scenario:
    """The scenario with every treatment effect removed (same natural history, same allocation).

    For a bundled scenario this is what ``params/scenarios/null.yaml`` is for ``default.yaml``; it
    also works for any other scenario (e.g. a two-arm one).

    Examples
    --------
    >>> null_scenario("default").effects, null_scenario("default").name
    ({}, 'default (null)')
    """
    from trialkit.simulate.scenario import load_scenario

    return load_scenario(scenario).null()


def scenario_truth(scenario: str | Path | dict | Scenario | None = None, study: Study | str | Path | None = None, n_subjects: int | None = None) -> dict:
    """The truth dict (``trial.truth``) of a scenario and design, without simulating a trial.

    Examples
    --------
    >>> scenario_truth("default")["hazard_ratios"]["terms"]
    {'msc': 0.6, 'pe': 0.8, 'msc*pe': 1.0}
    """
    from trialkit.simulate import allocation
    from trialkit.simulate.core import resolve_study
    from trialkit.simulate.effects import arm_effects
    from trialkit.simulate.scenario import load_scenario
    from trialkit.simulate.truth import build_truth, jsonable

    sc = load_scenario(scenario)
    st = resolve_study(study, sc)
    sizes, ratio = allocation.arm_sizes(sc, st, n_subjects)
    active = arm_effects(sc, st)
    return jsonable(build_truth(sc, st, sc.seed, sizes, ratio, active, 0,
                                allocation.effective_block_size(ratio, sc.block_size),
                                allocation.allocation_note(sc, st)))


def design_spec(scenario: str | Path | dict | Scenario | None = None, *, study: Study | str | Path | None = None, n_subjects: int | None = None,
                analyses: Sequence[str] = DEFAULT_ANALYSES, labs: Sequence[str] | None = None, alpha: float = 0.05, tables: str = "auto", validate: bool = False,
                lab_covariance: str = "unstructured", lab_population: str = "survivors") -> DesignSpec:
    """Resolve scenario, study and options into the :class:`DesignSpec` every replicate uses.

    See :func:`run_replicates` for the parameters.

    Examples
    --------
    >>> spec = design_spec("default", n_subjects=60, analyses=("logrank", "cox_main"))
    >>> spec.scenario.name, spec.n_subjects, spec.analyses, spec.labs, spec.tables
    ('default', 60, ('logrank', 'cox_main'), (), 'auto')
    >>> spec.truth["hazard_ratios"]["arms_vs_control"]
    {'control': 1.0, 'msc': 0.6, 'pe': 0.8, 'pe_msc': 0.48}
    >>> design_spec(analyses=("logrank", "anova"))
    Traceback (most recent call last):
    ...
    ValueError: unknown analyses ['anova']; expected some of ('logrank', 'cox_main', 'cox_interaction', 'labs')
    """
    from trialkit.simulate.core import resolve_study
    from trialkit.simulate.scenario import load_scenario

    analyses = tuple(analyses)
    bad = [a for a in analyses if a not in ANALYSES]
    if bad:
        raise ValueError(f"unknown analyses {bad}; expected some of {ANALYSES}")
    if tables not in ("auto", "all"):
        raise ValueError("tables: expected 'auto' or 'all'")
    sc = load_scenario(scenario)
    st = resolve_study(study, sc)
    labs = (None if labs is None else tuple(labs)) if "labs" in analyses else ()
    return DesignSpec(study=st, scenario=sc, n_subjects=None if n_subjects is None else int(n_subjects),
                      analyses=analyses, labs=labs, alpha=float(alpha), tables=tables, validate=bool(validate),
                      lab_covariance=lab_covariance, lab_population=lab_population,
                      truth=scenario_truth(sc, st, n_subjects))


# ------------------------------------------------------------------------------------------------
# one replicate
# ------------------------------------------------------------------------------------------------
def _survival_tables(study: Study, sc: Scenario, seed: int, n_subjects: int | None) -> dict:
    """Only ``subjects`` (id, arm) and ``events``, from the simulator's own components and streams
    (:func:`trialkit.simulate.core.simulate_survival`): the same arrays as
    :func:`trialkit.simulate.core.simulate_tables` draws; the other streams are simply not used."""
    from trialkit.simulate import allocation
    from trialkit.simulate.core import events_table, simulate_survival

    arm_idx, fu = simulate_survival(study, sc, seed, n_subjects)
    sid = pd.array(allocation.subject_ids(len(arm_idx)), dtype="str")
    arms = np.array(study.arm_ids, dtype=object)
    subjects = pd.DataFrame({"subject_id": sid, "arm": pd.array(arms[arm_idx], dtype="str")})
    return {"subjects": subjects, "events": events_table(fu, sid)}


_EMPTY_LABS = pd.DataFrame({"subject_id": pd.array([], dtype="str"), "day": np.array([], dtype=np.int64),
                            "visit": pd.array([], dtype="str"), "parameter": pd.array([], dtype="str"),
                            "value": np.array([], dtype=float), "unit": pd.array([], dtype="str")})


def simulate_replicate(spec: DesignSpec, seed: int) -> Trial:
    """One simulated trial for ``spec`` (see the module docstring for the fast path).

    Examples
    --------
    Survival analyses only: ``subjects`` and ``events`` are simulated, ``labs`` is left empty.

    >>> trial = simulate_replicate(design_spec("default", n_subjects=60, analyses=("logrank",)), seed=7)
    >>> trial.source, len(trial.subjects), len(trial.labs)
    ('simulated:default:seed=7', 60, 0)
    >>> trial.subjects["arm"].value_counts().sort_index().to_dict()
    {'control': 15, 'msc': 15, 'pe': 15, 'pe_msc': 15}
    """
    from trialkit.data.checks import sort_table
    from trialkit.data.trial import Trial
    from trialkit.simulate.core import simulate_tables

    sc, st = spec.scenario, spec.study
    source = f"simulated:{sc.name}:seed={seed}"
    if spec.validate:
        from trialkit.simulate import simulate

        return simulate(study=st, scenario=sc, seed=seed, n_subjects=spec.n_subjects)
    if spec.tables == "auto" and "labs" not in spec.analyses:
        tables = _survival_tables(st, sc, seed, spec.n_subjects)
        tables["labs"] = _EMPTY_LABS
    else:  # "auto": only the tables the analyses read (the same rows as in the full simulation)
        needed = ("subjects", "events", "labs") if spec.tables == "auto" else None
        tables, _, _ = simulate_tables(st, sc, seed, spec.n_subjects, tables=needed)
    tables = {k: sort_table(k, v) if k != "labs" or len(v) else v for k, v in tables.items()}
    return Trial(study=st, source=source, truth=spec.truth, **tables)


def _truth_hr(truth: dict, term: str) -> float:
    terms = truth["hazard_ratios"]["terms"]
    key = next((t for t in terms if frozenset(t.split("*")) == frozenset(term.split(":"))), None)
    return float(terms[key]) if key is not None else math.nan


def _logrank_meta(study: Study, truth: dict | None, comparison: str, group: str | None) -> dict:
    """The descriptive columns of a log-rank row (``"global"`` or ``"<arm> vs <control>"``)."""
    arm_hr = (truth or {}).get("hazard_ratios", {}).get("arms_vs_control", {})
    if comparison == "global":
        null = len({round(v, 12) for v in arm_hr.values()}) == 1 if arm_hr else None
        label = f"global log-rank ({len(study.arm_ids)} arms)"
    else:
        assert group is not None  # a pairwise comparison names its arm
        null = bool(abs(arm_hr[group] - 1) < 1e-12) if group in arm_hr else None
        label = f"{study.arm_labels[group]} vs {study.arm_labels[study.control_arm]} (log-rank)"
    return {"analysis": "logrank", "term": comparison, "label": label, "null_true": null, "scale": "chi-square"}


def _cox_meta(truth: dict | None, analysis: str, term: str, label: str) -> dict:
    """The descriptive columns and the truth of a Cox row (``term`` as ``"msc"`` or ``"msc:pe"``)."""
    hr = _truth_hr(truth, term) if truth else math.nan
    return {"analysis": analysis, "term": term, "label": label, "truth": hr,
            "truth_coef": math.log(hr) if hr > 0 else math.nan,
            "null_true": None if math.isnan(hr) else bool(abs(hr - 1) < 1e-12), "scale": "hazard ratio"}


def _truth_lab(truth: dict, lab: str, arm: str) -> float:
    """True difference (analysis scale) of ``arm`` vs control in ``lab`` at the secondary horizon."""
    params = truth.get("labs", {}).get("parameters", {})
    if lab in params:
        return float(params[lab]["arm_vs_control"].get(arm, math.nan))
    if "_" in lab:  # a ratio A_B on the log scale: log A - log B
        a, b = lab.split("_", 1)
        if a in params and b in params:
            return float(params[a]["arm_vs_control"].get(arm, math.nan) - params[b]["arm_vs_control"].get(arm, math.nan))
    return math.nan


def log_labs(truth: dict | None, labs: Sequence[str]) -> tuple[str, ...]:
    """Labs analysed on the log scale: those the truth states on the natural-log scale (a ratio
    ``A_B`` when both parts are); without a truth, none."""
    if not truth or not truth.get("labs"):
        return ()
    params = truth["labs"]["parameters"]
    is_log = {p: v["scale"] == "natural log" for p, v in params.items()}
    out = [p for p in labs if is_log.get(p, False)]
    out += [p for p in labs if "_" in p and all(is_log.get(x, False) for x in p.split("_", 1))]
    return tuple(out)


def analyze_trial(trial: Trial, *, analyses: Sequence[str] = DEFAULT_ANALYSES,
                  labs: Sequence[str] | None = None, alpha: float = 0.05,
                  truth: dict | None = None, lab_covariance: str = "unstructured",
                  lab_population: str = "survivors") -> pd.DataFrame:
    """Run the efficacy analyses on one trial and return one tidy row per test / estimate.

    Parameters
    ----------
    trial : Trial
    analyses : sequence of str
        Some of :data:`ANALYSES`: ``"logrank"`` (global, then each arm vs control),
        ``"cox_main"`` (Cox model on the factors, no interaction: effects at the margins),
        ``"cox_interaction"`` (with all identifiable interactions; skipped when the design has
        none), ``"labs"`` (repeated-measures model of change from baseline with arm indicators,
        each arm vs control at the secondary horizon's visit, as ``efficacy_contrasts_w24``).
    labs : sequence of str, optional
        Parameters for ``"labs"`` (labs of the study file, scores, ``A_B`` ratios); default: the
        study file's ``analysis.simulation`` list that the trial's data have
        (:func:`trialkit.derive.variables.analysis_variables`).
    alpha : float
    truth : dict, optional
        Default ``trial.truth``; gives the ``truth``/``null_true`` columns (NaN without it).
    lab_covariance : {"unstructured", "random_intercept"}
    lab_population : {"survivors", "all"}
        As the efficacy notebook's ``lab_population`` (see
        :func:`~trialkit.stats.longitudinal.analyze_parameters`); the truth of a lab effect is
        defined among survivors.

    Returns
    -------
    DataFrame
        ``analysis``, ``term``, ``label``, ``estimate`` (hazard ratio; difference on the lab's
        analysis scale), ``ci_low``, ``ci_high``, ``coef`` (log hazard ratio / difference), ``se``
        (of ``coef``), ``statistic`` (chi-square for log-rank, else z or t), ``df``, ``p_value``,
        ``truth`` (on the ``estimate`` scale), ``truth_coef``, ``null_true`` (the tested null
        hypothesis holds in the truth), ``scale``, ``events``, ``n``.

    Examples
    --------
    >>> from trialkit.datasets import example
    >>> r = analyze_trial(example(), analyses=("cox_main",))
    >>> r["term"].tolist(), r["truth"].tolist(), r["null_true"].tolist()
    (['msc', 'pe'], [0.6, 0.8], [False, False])
    """
    from trialkit.derive.tte import time_to_event
    from trialkit.stats import survival as sv

    truth = trial.truth if truth is None else truth
    study = trial.study
    rows: list[dict] = []
    tte = time_to_event(trial, endpoint="transplant_free", horizon="primary")
    events = int(tte["event"].sum())
    if "logrank" in analyses:
        lr = sv.logrank(tte, groups=study.arm_ids, control=study.control_arm)
        for r in lr.itertuples(index=False):
            rows.append({**_logrank_meta(study, truth, r.comparison, r.group), "statistic": r.statistic,
                         "df": float(r.df), "p_value": r.p_value, "events": int(r.events), "n": int(r.n)})
    for name, inter in (("cox_main", False), ("cox_interaction", True)):
        if name not in analyses:
            continue
        fit = sv.cox_factorial(tte, study, interaction=inter, alpha=alpha)
        t = fit.table
        if inter and not t["term"].str.contains(":").any():
            continue  # no identifiable interaction: the same model as cox_main
        for r in t.itertuples(index=False):
            rows.append({**_cox_meta(truth, name, r.term, r.label), "estimate": r.estimate, "ci_low": r.ci_low,
                         "ci_high": r.ci_high, "coef": r.coef, "se": r.se, "statistic": r.z, "p_value": r.p_value,
                         "events": int(r.events), "n": int(r.n)})
    if "labs" in analyses and labs:
        rows += _lab_rows(trial, labs, truth, alpha, lab_covariance, lab_population)
    out = pd.DataFrame(rows)
    for c in RESULT_COLUMNS:
        if c not in out:
            out[c] = np.nan
    out["events"] = out["events"].fillna(events)
    out["null_true"] = pd.Series([_flag(v) for v in out["null_true"]], index=out.index, dtype=object)
    return out[[c for c in RESULT_COLUMNS if c not in ("scenario", "n_subjects", "replicate", "seed")]]


def _flag(v):
    """True / False / None (unknown) as plain Python objects."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return bool(v)


def _lab_rows(trial: Trial, labs: Sequence[str] | None, truth: dict | None, alpha: float, covariance: str,
              population: str) -> list[dict]:
    """The efficacy notebook's lab analysis: change from baseline, repeated-measures model with arm
    indicators, each arm vs control at the secondary horizon's visit (``efficacy_contrasts_w24``)."""
    from trialkit.derive.change import available_parameters, change_from_baseline, parameter_label, target_visit
    from trialkit.stats.longitudinal import analyze_parameters

    study = trial.study
    if labs is None:
        from trialkit.derive.variables import analysis_variables

        labs = analysis_variables(trial, "simulation")[0]
    labs = available_parameters(trial, list(labs))
    if not labs:
        return []
    ch = change_from_baseline(trial, labs, horizon="secondary", log=log_labs(truth, labs))
    res = analyze_parameters(ch, study, labs, model="arm", covariance=covariance, population=population, alpha=alpha)
    ct = res["contrasts"]
    if ct.empty:
        return []
    tv = target_visit(study, "secondary")
    ct = ct[ct["visit"] == tv]
    n_sub = res["fits"].set_index("parameter")["n_subjects"]
    lab, ctrl = study.arm_labels, study.control_arm
    rows = []
    for r in ct.itertuples(index=False):
        tr = _truth_lab(truth, r.parameter, r.arm) if truth else math.nan
        rows.append({"analysis": "labs", "term": f"{r.parameter}[{r.arm}]",
                     "label": f"{parameter_label(study, r.parameter)}: {lab[r.arm]} vs {lab[ctrl]} at {tv}",
                     "estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high, "coef": r.estimate,
                     "se": r.se, "statistic": r.statistic, "df": r.df, "p_value": r.p_value, "truth": tr,
                     "truth_coef": tr, "null_true": None if math.isnan(tr) else bool(abs(tr) < 1e-6),
                     "scale": "log ratio" if r.scale == "log" else "difference", "n": int(n_sub[r.parameter])})
    return rows


def run_replicate(spec: DesignSpec, replicate: int, seed: int) -> pd.DataFrame:
    """Simulate and analyse replicate ``replicate`` (seed ``seed``); one tidy block of results.

    A replicate whose analysis fails (e.g. a Cox model that cannot be fitted) gives one row with
    ``analysis = "error"`` and the message in ``label`` instead of stopping the run.

    Examples
    --------
    >>> spec = design_spec("default", n_subjects=60, analyses=("logrank", "cox_main"))
    >>> r = run_replicate(spec, replicate=0, seed=7)
    >>> r[["replicate", "analysis", "term", "estimate", "p_value", "truth", "events"]].round(3)
       replicate  analysis               term  estimate  p_value  truth  events
    0          0   logrank             global       NaN    0.375    NaN      19
    1          0   logrank     msc vs control       NaN    0.642    NaN      11
    2          0   logrank      pe vs control       NaN    0.942    NaN      12
    3          0   logrank  pe_msc vs control       NaN    0.099    NaN       8
    4          0  cox_main                msc     0.519    0.168    0.6      19
    5          0  cox_main                 pe     0.683    0.413    0.8      19
    """
    trial = simulate_replicate(spec, seed)
    try:
        out = analyze_trial(trial, analyses=spec.analyses, labs=spec.labs, alpha=spec.alpha, truth=spec.truth,
                            lab_covariance=spec.lab_covariance, lab_population=spec.lab_population)
    except Exception as exc:  # noqa: BLE001 - recorded, counted by the summaries
        out = pd.DataFrame([{"analysis": "error", "term": type(exc).__name__, "label": str(exc)[:200]}])
    n = int(len(trial.subjects))
    return out.assign(scenario=spec.scenario.name, n_subjects=n, replicate=int(replicate), seed=int(seed))


def _run_chunk(spec: DesignSpec, items: list[tuple[int, int]]) -> list[pd.DataFrame]:
    """Per-trial engine: each replicate simulated and analysed on its own."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [run_replicate(spec, i, s) for i, s in items]


def _run_batch_chunk(spec: DesignSpec, items: list[tuple[int, int]]) -> list[pd.DataFrame]:
    """Batch engine (:mod:`trialkit.design.batch`): the chunk's replicates simulated and analysed as
    arrays; a replicate the batch flags (e.g. an arm without events) goes through :func:`run_replicate`."""
    import warnings

    from trialkit.design.batch import analyze_replicates

    reps = [i for i, _ in items]
    seeds = [s for _, s in items]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res, redo = analyze_replicates(spec, reps, seeds)
        if not redo.any():
            return [res]
        again = [run_replicate(spec, i, s) for (i, s), r in zip(items, redo) if r]
    out = pd.concat([res, *again], ignore_index=True)
    return [out.sort_values("replicate", kind="stable", ignore_index=True)]


#: The engines of :func:`run_replicates`.
ENGINES = ("auto", "batch", "per-trial")


def _engine(spec: DesignSpec, engine: str) -> str:
    from trialkit.design.batch import batch_supported

    if engine not in ENGINES:
        raise ValueError(f"engine {engine!r}: expected one of {ENGINES}")
    ok = batch_supported(spec)
    if engine == "batch" and not ok:
        raise ValueError("engine 'batch' runs the survival analyses only (no 'labs', tables='auto', no validation, "
                         "every arm with subjects); use engine='per-trial'")
    return "batch" if engine == "batch" or (engine == "auto" and ok) else "per-trial"


# ------------------------------------------------------------------------------------------------
# many replicates
# ------------------------------------------------------------------------------------------------
def _chunks(items: list, n_jobs: int, chunk_size: int | None, engine: str = "per-trial",
            n_subjects: int = 120) -> list[list]:
    if chunk_size is None:
        per_task = 4 if engine == "per-trial" else 2  # tasks per worker
        # replicates per task; a batch holds about 13 floats per subject and replicate in each array
        most = 25 if engine == "per-trial" else max(1, min(500, 120_000 // max(1, n_subjects)))
        chunk_size = max(1, min(most, math.ceil(len(items) / max(1, per_task * n_jobs))))
    return [items[i:i + chunk_size] for i in range(0, len(items), chunk_size)]


def run_replicates(scenario: str | Path | dict | Scenario | None = None, *, study: Study | str | Path | None = None, n_trials: int = 200,
                   n_subjects: int | None = None, seed: int | None = None, analyses: Sequence[str] = DEFAULT_ANALYSES,
                   labs: Sequence[str] | None = None, alpha: float = 0.05,
                   n_jobs: int = 1, scheduler: str | Client | None = None, progress: bool = False, chunk_size: int | None = None,
                   tables: str = "auto", validate: bool = False, lab_covariance: str = "unstructured",
                   lab_population: str = "survivors", start: int = 0, engine: str = "auto") -> pd.DataFrame:
    """Simulate ``n_trials`` trials under a scenario and analyse each one.

    Parameters
    ----------
    scenario : str, Path, dict or Scenario, optional
        Default ``params/scenarios/default.yaml``; see also :func:`with_effects`, :func:`null_scenario`.
    study : Study, str or Path, optional
        The design (default: the scenario's, else ``params/study.yaml``).
    n_trials : int
    n_subjects : int, optional
        Total subjects per trial (default: the scenario's allocation), keeping its ratio.
    seed : int, optional
        Master seed (default: the scenario's); replicate seeds come from :func:`replicate_seeds`.
    analyses : sequence of str
        Some of :data:`ANALYSES` (default :data:`DEFAULT_ANALYSES`).
    labs : sequence of str, optional
        Parameters of the ``"labs"`` analysis (default: the study file's ``analysis.simulation``).
    alpha : float
    n_jobs : int
        Worker processes (joblib, ``loky``); ``-1`` = all cores. Ignored with ``scheduler``.
    scheduler : str or distributed.Client, optional
        A Dask scheduler address (``"tcp://host:8786"``) or a ``distributed.Client``: the replicates
        run on that cluster through joblib's ``dask`` backend.
    progress : bool
        A tqdm progress bar on stderr.
    chunk_size : int, optional
        Replicates per task (default: about four tasks per worker, at most 25 per task).
    tables : {"auto", "all"}
        ``"auto"``: simulate only the tables the analyses need.
    validate : bool
        Build each trial through the validated :func:`trialkit.simulate.simulate` (slow).
    lab_covariance : {"unstructured", "random_intercept"}
    lab_population : {"survivors", "all"}
        Options of the ``"labs"`` analysis, as in the efficacy notebook (see :func:`analyze_trial`).
    start : int
        Index of the first replicate (to extend an earlier run with ``start=n_done``).
    engine : {"auto", "batch", "per-trial"}
        ``"batch"``: the replicates of a task are simulated and analysed together as arrays
        (:mod:`trialkit.design.batch`; survival analyses only, about 20× faster); ``"per-trial"``:
        one :class:`~trialkit.Trial` per replicate through the efficacy notebook's functions
        (:func:`run_replicate`; needed for ``"labs"``); ``"auto"`` (default): batch whenever it
        can. Both draw the same simulated trials and give the same results to about 1e-13
        (``tests/test_design.py``).

    Returns
    -------
    DataFrame
        :data:`RESULT_COLUMNS`: per replicate (``replicate``, ``seed``) the rows of
        :func:`analyze_trial`, in replicate order, identical for any ``n_jobs`` or scheduler.

    Examples
    --------
    >>> res = run_replicates("default", n_trials=3, n_subjects=60, seed=1, analyses=("cox_main",))
    >>> res[["replicate", "term", "estimate", "p_value", "truth", "events"]].round(3)
       replicate term  estimate  p_value  truth  events
    0          0  msc     0.587    0.225    0.6      22
    1          0   pe     0.682    0.377    0.8      22
    2          1  msc     0.679    0.319    0.6      27
    3          1   pe     0.655    0.281    0.8      27
    4          2  msc     1.021    0.957    0.6      27
    5          2   pe     0.818    0.605    0.8      27

    Extending the run: replicate 2 on its own is replicate 2 above.

    >>> more = run_replicates("default", n_trials=1, n_subjects=60, seed=1, analyses=("cox_main",), start=2)
    >>> more["estimate"].tolist() == res.loc[res["replicate"] == 2, "estimate"].tolist()
    True
    """
    from trialkit.simulate.scenario import load_scenario

    sc = load_scenario(scenario)
    spec = design_spec(sc, study=study, n_subjects=n_subjects, analyses=analyses, labs=labs, alpha=alpha,
                       tables=tables, validate=validate, lab_covariance=lab_covariance,
                       lab_population=lab_population)
    engine = _engine(spec, engine)
    seed = sc.seed if seed is None else int(seed)
    seeds = replicate_seeds(seed, start + n_trials)[start:]
    items = list(zip(range(start, start + n_trials), seeds))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc=f"{sc.name} (n={n_subjects or 'scenario'})", unit="trial")
    parts: list[pd.DataFrame] = []
    try:
        with _connect(scheduler) as client:
            workers = _n_workers(n_jobs, client)
            run = _run_batch_chunk if engine == "batch" else _run_chunk
            per_trial = int(spec.truth.get("n_subjects") or 120)
            chunks = _chunks(items, workers, chunk_size, engine, per_trial)
            for done, block in _map(run, spec, chunks, n_jobs, client):
                parts.extend(block)
                if bar is not None:
                    bar.update(done)
    finally:
        if bar is not None:
            bar.close()
    if not parts:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    out = pd.concat(parts, ignore_index=True).reindex(columns=RESULT_COLUMNS)
    out["null_true"] = pd.Series([_flag(v) for v in out["null_true"]], index=out.index, dtype=object)
    return out


def _n_workers(n_jobs: int, client: Client | None) -> int:
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    if n_jobs is None or n_jobs == 1:
        return 1
    import os

    return (os.cpu_count() or 1) if n_jobs < 0 else int(n_jobs)


@contextlib.contextmanager
def _connect(scheduler):
    """The ``distributed.Client`` for ``scheduler``: the one given, or one connected to an address
    for the duration of the run; ``None`` without a scheduler."""
    if scheduler is None:
        yield None
        return
    from distributed import Client

    if isinstance(scheduler, Client):
        yield scheduler
        return
    address = str(scheduler)
    check_scheduler(address)
    try:
        client = Client(address, set_as_default=False, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise SchedulerError(f"--scheduler {address}: could not connect within {SCHEDULER_TIMEOUT:g} s "
                             f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from None
    with client:
        yield client


#: Seconds to wait for a Dask scheduler before giving up (a quick TCP check comes first).
SCHEDULER_TIMEOUT = 10.0


class SchedulerError(TrialkitError):
    """The Dask scheduler given cannot be reached."""


def check_scheduler(address: str, timeout: float = 3.0) -> None:
    """Fail fast (:class:`SchedulerError`) when nothing listens at a ``tcp://host:port`` scheduler address.

    Other transports (``inproc://``, ``tls://`` …) are left to ``distributed`` itself.

    Examples
    --------
    >>> import socket
    >>> s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()  # a free port
    >>> check_scheduler(f"tcp://127.0.0.1:{port}")
    Traceback (most recent call last):
    ...
    trialkit.design.power.SchedulerError: --scheduler tcp://127.0.0.1:...: nothing answers there (ConnectionRefusedError...
    >>> check_scheduler("tcp://host-without-port")
    Traceback (most recent call last):
    ...
    trialkit.design.power.SchedulerError: --scheduler tcp://host-without-port: expected an address like tcp://host:8786
    """
    import socket

    if "://" in address and not address.startswith("tcp://"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise SchedulerError(f"--scheduler {address}: expected an address like tcp://host:8786")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise SchedulerError(f"--scheduler {address}: nothing answers there ({type(exc).__name__}: "
                             f"{exc.strerror or exc}); start the scheduler (dask scheduler) or check the "
                             "address") from None


def _map(run: Callable[[DesignSpec, list], pd.DataFrame], spec: DesignSpec, chunks: list[list], n_jobs: int,
         client: Client | None) -> Iterator[tuple[int, pd.DataFrame]]:
    """Yield (replicates done, results) of each chunk, in order; ``run(spec, chunk)`` does a chunk."""
    if client is None and (n_jobs is None or n_jobs == 1):
        for c in chunks:
            yield len(c), run(spec, c)
        return
    from joblib import Parallel, delayed, parallel_config

    if client is not None:
        with parallel_config(backend="dask", client=client, wait_for_workers_timeout=60):
            results = Parallel(return_as="generator")(delayed(run)(spec, c) for c in chunks)
            yield from zip(map(len, chunks), results)
    else:
        results = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(run)(spec, c) for c in chunks)
        yield from zip(map(len, chunks), results)
