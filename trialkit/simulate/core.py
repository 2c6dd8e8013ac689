"""`simulate` and `write_simulation`: one scenario + one study file + one seed -> one validated Trial."""
from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.data.io import FORMATS, write_tables
from trialkit.data.load import build_trial
from trialkit.data.trial import Trial
from trialkit.simulate import allocation, cohort, course, events, schedule, treatment
from trialkit.simulate.context import SimulationContext, random_streams, simulation_context
from trialkit.simulate.effects import arm_effects, arm_hazard_ratio
from trialkit.simulate.scenario import Scenario, load_scenario
from trialkit.simulate.truth import build_truth, jsonable
from trialkit.study import Study, default_study_path, load_study

__all__ = ["simulate", "simulate_tables", "simulate_survival", "events_table", "write_simulation", "write_trial",
           "resolve_study", "TABLES"]

_EVENT_ORDER = {"death": 0, "hcc": 1, "last_contact": 2, "transplant": 3}  # canonical: alphabetical
#: The tables :func:`simulate_tables` can build, in the order it builds them.
TABLES: tuple[str, ...] = ("subjects", "events", "labs", "symptoms", "infusions", "adverse_events")


def resolve_study(study: Study | str | Path | None, scenario: Scenario) -> Study:
    """The study to simulate: ``study`` if given, else the scenario's ``study``, else params/study.yaml.

    Examples
    --------
    >>> from trialkit.study import params_dir
    >>> resolve_study(None, load_scenario("default")).arm_ids
    ['control', 'msc', 'pe', 'pe_msc']
    >>> Path(resolve_study(None, load_scenario("published")).path).name  # the scenario names its study
    'study_published.yaml'
    >>> resolve_study(params_dir() / "study_two_arm.yaml", load_scenario("default")).arm_ids
    ['soc', 'ucmsc']
    """
    if isinstance(study, Study):
        return study
    if study is not None:
        return load_study(study)
    return load_study(scenario.study if scenario.study else default_study_path())


def simulate_tables(study: Study, scenario: Scenario, seed: int, n_subjects: int | None = None, *,
                    tables: Collection[str] | None = None) -> tuple[dict[str, pd.DataFrame], dict, pd.DataFrame]:
    """The raw simulation: (tables dict, truth dict, latent DataFrame), not yet validated.

    Parameters
    ----------
    study : Study
        The study file.
    scenario : Scenario
        The data-generating model.
    seed : int
        The same seed gives identical tables.
    n_subjects : int, optional
        Overrides the scenario's number of subjects, keeping its allocation ratio.
    tables : collection of str, optional
        Build only these tables (of :data:`TABLES`; default all). Each component draws from its own
        random stream, so a table built alone is identical to the same table of the full simulation;
        ``("subjects", "events", "labs")`` skips the symptom and adverse-event models (what the
        design simulation's lab analyses read; its survival-only replicates use the still leaner
        :func:`simulate_survival`). The optional tables (``infusions``, ``adverse_events``, ``symptoms``)
        are absent when the study has no infusion factor or no symptoms, or when nothing happened.

    Returns
    -------
    tables : dict of DataFrame
    truth : dict
        The true effects (``trial.truth``).
    latent : DataFrame
        One row per subject (see :func:`simulate`).

    Examples
    --------
    >>> tables, truth, latent = simulate_tables(load_study(), load_scenario("default"), seed=1, n_subjects=8)
    >>> sorted(tables)
    ['adverse_events', 'events', 'infusions', 'labs', 'subjects', 'symptoms']
    >>> tables["subjects"]["arm"].tolist()
    ['pe', 'pe_msc', 'control', 'msc', 'msc', 'control', 'pe', 'pe_msc']
    >>> truth["arm_sizes"]
    {'control': 2, 'msc': 2, 'pe': 2, 'pe_msc': 2}
    >>> latent.loc[:2, ["subject_id", "arm", "event_day", "event_observed"]]
      subject_id      arm  event_day  event_observed
    0       S001       pe      16964           False
    1       S002   pe_msc        100            True
    2       S003  control       2761           False
    >>> tables["events"].head(3)
      subject_id         event  day               detail
    0       S001  last_contact  335            completed
    1       S002         death  100  multi-organ failure
    2       S002  last_contact  100                 died

    Only some tables: the same rows, without drawing the others.

    >>> only, _, _ = simulate_tables(load_study(), load_scenario("default"), seed=1, n_subjects=8,
    ...                              tables=("subjects", "events"))
    >>> sorted(only), only["events"].equals(tables["events"]), only["subjects"].equals(tables["subjects"])
    (['events', 'subjects'], True, True)
    """
    wanted = set(TABLES if tables is None else tables)
    unknown = sorted(wanted - set(TABLES))
    if unknown:
        raise ValueError(f"tables: unknown {unknown}; expected some of {list(TABLES)}")
    if "labs" in wanted:
        course.output_parameters(study)  # unit check before any work
    ctx = simulation_context(study, scenario, seed, n_subjects)
    built: dict[str, pd.DataFrame | None] = {}
    if "labs" in wanted:
        built["labs"] = course.lab_table(ctx)
    if "symptoms" in wanted:
        built["symptoms"], _ = course.symptom_table(ctx)
    # one treatment stream, drawn in this order: dosing, reactions, infusions, adverse events
    counts, doses = treatment.dosing(ctx)
    if wanted & {"infusions", "adverse_events"}:
        reacts = treatment.reactions(ctx, doses)
        built["infusions"], fever = treatment.infusion_table(ctx, doses, reacts["fever"])
        if "adverse_events" in wanted:
            built["adverse_events"] = treatment.adverse_event_table(ctx, doses, reacts, fever)

    base = ctx.baseline
    arm_names = np.array(study.arm_ids, dtype=object)
    sid = pd.array(ctx.subject_ids, dtype="str")
    subjects = pd.DataFrame({
        "subject_id": sid,
        "arm": pd.array(arm_names[ctx.arm_index], dtype="str"),
        "randomization_date": pd.to_datetime(ctx.randomization_dates),
        "age": base["AGE"].astype(float),
        "sex": pd.array(np.where(base["MALE"], "M", "F").astype(object), dtype="str"),
        "weight_kg": base["WEIGHT"],
        "hbv_dna_log10": base["HBVDNA"],
        "hbeag_positive": base["HBEAG"].astype(bool),
        "cirrhosis": base["CIRRHOSIS"].astype(bool),
        "ascites": base["ASCITES"].astype(np.int64),
        "encephalopathy": base["HE"].astype(np.int64),
        **{f"{f}_doses": counts[f] for f in study.factors},
    })
    built["subjects"], built["events"] = subjects, events_table(ctx.follow_up, sid)
    out: dict[str, pd.DataFrame] = {}
    for name in ("subjects", "labs", "events", "infusions", "adverse_events", "symptoms"):
        table = built.get(name)
        # optional tables: absent when the study has no infusion factor / no symptoms, and (tiny
        # trials only) when nothing happened: the validator does not accept empty optional tables
        if name in wanted and table is not None and (name in ("subjects", "labs", "events") or len(table)):
            out[name] = table
    return out, _truth(ctx, seed), _latent(ctx, subjects["arm"])


def _truth(ctx: SimulationContext, seed: int) -> dict:
    sc, study = ctx.scenario, ctx.study
    return jsonable(build_truth(sc, study, seed, ctx.arm_sizes, ctx.allocation_ratio, ctx.active_effects,
                                int(ctx.baseline["screened"]),
                                allocation.effective_block_size(ctx.allocation_ratio, sc.block_size),
                                allocation.allocation_note(sc, study)))


def _latent(ctx: SimulationContext, arm: pd.Series) -> pd.DataFrame:
    """One row per subject: the latent values behind the tables (see :func:`simulate`)."""
    primary = int(ctx.study.horizons["primary"])
    secondary = int(ctx.study.horizons.get("secondary", primary))
    z, hr, fu = ctx.severity_z, ctx.hazard_ratio, ctx.follow_up
    curve, rho = ctx.survival_curve, ctx.scenario.survival["copula_rho"]
    return pd.DataFrame({
        "subject_id": pd.array(ctx.subject_ids, dtype="str"),
        "arm": arm,
        "block": ctx.block,
        "severity_score": ctx.severity_score,
        "z": z,
        "eps": ctx.copula_noise,
        "u": ctx.copula_uniform,
        "hr_arm": hr,
        "event_time": ctx.event_time,
        "event_day": fu.event_day,
        "event_observed": fu.observed,
        "censor_day": fu.censor_day,
        "end_day": fu.end_day,
        "hcc_time": fu.hcc_time,
        "meld_baseline": ctx.baseline["MELD"],
        "risk_day84": events.oracle_risk(84, z, hr, curve, rho),
        "risk_secondary": events.oracle_risk(secondary, z, hr, curve, rho),
        "risk_primary": events.oracle_risk(primary, z, hr, curve, rho),
    })


def simulate_survival(study: Study, scenario: Scenario, seed: int,
                      n_subjects: int | None = None) -> tuple[np.ndarray, events.FollowUp]:
    """Only the survival part of :func:`simulate_tables`: (arm index per subject, follow-up).

    The same components and random streams (``allocation``, ``cohort``, ``visits``, ``events``)
    as :func:`simulate_tables`, so the arrays are those behind its ``subjects`` and ``events``
    tables for the same seed; the other streams are not drawn. Arm indices follow
    ``study.arm_ids``; subjects are in randomization order (``S001``, ...). About 1.5 ms for 120
    subjects: the design simulation (:mod:`trialkit.design`) calls it once per replicate.

    Examples
    --------
    >>> arm, fu = simulate_survival(load_study(), load_scenario("default"), seed=1, n_subjects=8)
    >>> tables, _, _ = simulate_tables(load_study(), load_scenario("default"), seed=1, n_subjects=8)
    >>> [load_study().arm_ids[a] for a in arm] == tables["subjects"]["arm"].tolist()
    True
    >>> fu.event_day[:3].tolist(), fu.observed[:3].tolist()
    ([16964, 100, 2761], [False, True, False])
    >>> events_table(fu, tables["subjects"]["subject_id"].array).equals(tables["events"])
    True
    """
    streams = random_streams(seed)
    sizes, ratio = allocation.arm_sizes(scenario, study, n_subjects)
    arm_index, _ = allocation.randomize(streams["allocation"], sizes, ratio, scenario.block_size)
    n = len(arm_index)
    baseline = cohort.draw_cohort(streams["cohort"], n, scenario)
    _, severity_z = cohort.severity_z(baseline, scenario)
    active = arm_effects(scenario, study)
    hazard_ratio = np.array([arm_hazard_ratio(active[a]) for a in study.arm_ids])[arm_index]
    days, _ = schedule.visit_schedule(streams["visits"], study, n, scenario)
    curve = events.PiecewiseSurvival(scenario.survival["control"])
    event_time, _, _ = events.event_times(streams["events"], severity_z, hazard_ratio, curve,
                                          scenario.survival["copula_rho"])
    return arm_index, events.follow_up(streams["events"], event_time, days[:, -1], scenario)


def events_table(fu: events.FollowUp, sid: pd.api.extensions.ExtensionArray) -> pd.DataFrame:
    """The ``events`` table of a follow-up (one row per HCC, transplant, death and last contact),
    sorted by subject, day and event; ``sid`` are the subject ids (a pandas string array).

    Examples
    --------
    >>> arm, fu = simulate_survival(load_study(), load_scenario("default"), seed=1, n_subjects=2)
    >>> events_table(fu, pd.array(["S001", "S002"], dtype="str"))
      subject_id         event  day     detail
    0       S001  last_contact  336  completed
    1       S002         death   28     sepsis
    2       S002  last_contact   28       died
    """
    n = len(fu.last_day)
    idx = np.arange(n)
    hcc = np.flatnonzero(~np.isnan(fu.hcc_day))
    death = np.flatnonzero(fu.observed & ~fu.transplant)
    lt = np.flatnonzero(fu.transplant)
    parts = [
        (hcc, "hcc", fu.hcc_day[hcc].astype(np.int64), np.full(len(hcc), "HCC on imaging", dtype=object)),
        (lt, "transplant", fu.event_day[lt], np.full(len(lt), "liver transplantation", dtype=object)),
        (death, "death", fu.event_day[death], fu.cause[death]),
        (idx, "last_contact", fu.last_day, fu.reason),
    ]
    subj = np.concatenate([p[0] for p in parts])
    ev = np.concatenate([np.full(len(p[0]), p[1], dtype=object) for p in parts])
    day = np.concatenate([p[2] for p in parts]).astype(np.int64)
    detail = np.concatenate([p[3] for p in parts])
    code = np.concatenate([np.full(len(p[0]), _EVENT_ORDER[p[1]]) for p in parts])
    order = np.lexsort((code, day, subj))
    return pd.DataFrame({"subject_id": sid.take(subj[order]),
                         "event": pd.array(ev[order], dtype="str"),
                         "day": day[order],
                         "detail": pd.array(detail[order], dtype="str")})


def simulate(study: Study | str | Path | None = None, scenario: str | Path | dict | Scenario | None = None,
             seed: int | None = None, n_subjects: int | None = None) -> Trial:
    """Simulate one trial under a scenario and return it as a validated :class:`~trialkit.Trial`.

    Parameters
    ----------
    study : Study, str or Path, optional
        The design. Default: the scenario's ``study`` file, else ``params/study.yaml``.
    scenario : str, Path, dict or Scenario, optional
        The data-generating model (see :func:`trialkit.simulate.load_scenario`). Default:
        ``params/scenarios/default.yaml``.
    seed : int, optional
        Default: the scenario's ``seed``. The same seed gives identical tables.
    n_subjects : int, optional
        Overrides the scenario's number of subjects, keeping its allocation ratio.

    Returns
    -------
    Trial
        With ``source = "simulated:<scenario>:seed=<seed>"``, ``truth`` (the true effects, see
        :mod:`trialkit.simulate.truth`) and ``latent`` (one row per subject: ``subject_id``,
        ``arm``, ``block``, ``severity_score``, ``z``, ``eps``, ``u``, ``hr_arm``, ``event_time``,
        ``event_day``, ``event_observed``, ``censor_day``, ``end_day``, ``hcc_time``,
        ``meld_baseline``, and the oracle risks of death-or-LT ``risk_day84``, ``risk_secondary``,
        ``risk_primary``).

    Raises
    ------
    ScenarioError, StudyFileError
        For an inconsistent scenario or a study the simulator cannot serve (e.g. unsupported unit).
    ValidationError
        If the simulated tables break the data contract (a bug: please report it).

    Examples
    --------
    >>> from trialkit.simulate import simulate
    >>> trial = simulate(seed=1)
    >>> trial.arm_sizes().tolist()
    [30, 30, 30, 30]
    >>> trial.source
    'simulated:default:seed=1'
    >>> trial.truth["hazard_ratios"]["terms"]
    {'msc': 0.6, 'pe': 0.8, 'msc*pe': 1.0}
    """
    sc = load_scenario(scenario)
    st = resolve_study(study, sc)
    seed = sc.seed if seed is None else int(seed)
    tables, truth, latent = simulate_tables(st, sc, seed, n_subjects)
    return build_trial(tables, st, f"simulated:{sc.name}:seed={seed}", truth=truth, latent=latent)


def _study_text(study: Study) -> str:
    if study.path and Path(study.path).is_file():
        return Path(study.path).read_text(encoding="utf-8")
    return study.to_yaml()


def _dataset_files() -> set[str]:
    from trialkit.data.trial import TABLES

    return {f"{t}.{ext}" for t in TABLES for ext in ("csv", "parquet")} | {"trial.xlsx", "study.yaml", "truth.json"}


def write_trial(trial: Trial, out_dir: str | Path, fmt: str = "csv", overwrite: bool = True) -> Path:
    """Write a Trial's tables, its ``study.yaml`` and (if simulated) ``truth.json`` into ``out_dir``.

    The folder is written atomically (temporary folder + rename) and replaces an existing dataset
    folder; a folder holding anything else is never replaced. Returns ``out_dir``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from trialkit.simulate import simulate, write_trial
    >>> out = write_trial(simulate(seed=2), pathlib.Path(tempfile.mkdtemp()) / "ds", fmt="parquet")
    >>> sorted(p.suffix for p in out.iterdir())
    ['.json', '.parquet', '.parquet', '.parquet', '.parquet', '.parquet', '.parquet', '.yaml']
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    out = Path(out_dir)
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _dataset_files())
        if foreign:
            raise FileExistsError(f"{out} holds files that are not part of a dataset ({', '.join(foreign[:5])}); "
                                  "refusing to replace it")
    extra = {"study.yaml": _study_text(trial.study)}
    if trial.truth is not None:
        text = json.dumps(jsonable(trial.truth), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        extra["truth.json"] = text + "\n"
    write_tables(trial.tables(), out, fmt, extra_files=extra, overwrite=overwrite)
    return Path(out_dir)


def write_simulation(out_dir: str | Path, study: Study | str | Path | None = None,
                     scenario: str | Path | dict | Scenario | None = None, seed: int | None = None,
                     n_subjects: int | None = None, fmt: str = "csv", overwrite: bool = True) -> Trial:
    """Simulate a trial and write it as a self-describing dataset folder.

    Writes ``<table>.csv`` (or ``.parquet``; for ``fmt="xlsx"`` one workbook ``trial.xlsx`` with a
    sheet per table), ``study.yaml`` (the study file used, verbatim) and ``truth.json`` (sorted
    keys, floats to 12 significant digits). The same arguments give byte-identical files. The
    folder appears only when everything was written (temporary folder + rename).

    Parameters
    ----------
    out_dir : str or Path
        Target folder. An existing folder is replaced (atomically) only if it holds nothing but
        dataset files (tables, ``study.yaml``, ``truth.json``); otherwise FileExistsError.
    study, scenario, seed, n_subjects
        As for :func:`simulate`.
    fmt : {"csv", "parquet", "xlsx"}
    overwrite : bool
        ``False``: refuse to replace a non-empty ``out_dir`` at all.

    Returns
    -------
    Trial
        The simulated trial (as :func:`simulate` returns it).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from trialkit.simulate import write_simulation
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "sim"
    >>> trial = write_simulation(out, seed=3)
    >>> sorted(p.name for p in out.iterdir())  # doctest: +NORMALIZE_WHITESPACE
    ['adverse_events.csv', 'events.csv', 'infusions.csv', 'labs.csv', 'study.yaml', 'subjects.csv',
     'symptoms.csv', 'truth.json']
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    trial = simulate(study=study, scenario=scenario, seed=seed, n_subjects=n_subjects)
    write_trial(trial, out_dir, fmt=fmt, overwrite=overwrite)
    return trial
