"""`simulate` and `write_simulation`: one scenario + one study file + one seed -> one validated Trial."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from trialkit.data.io import FORMATS, write_tables
from trialkit.data.load import build_trial
from trialkit.data.trial import Trial
from trialkit.simulate import allocation, cohort, course, events, schedule, treatment
from trialkit.simulate.effects import arm_effects, arm_hazard_ratio
from trialkit.simulate.scenario import Scenario, load_scenario
from trialkit.simulate.truth import build_truth, jsonable
from trialkit.study import Study, default_study_path, load_study

__all__ = ["simulate", "simulate_tables", "simulate_survival", "events_table", "write_simulation", "write_trial",
           "resolve_study"]

# One independent random stream per component (numpy SeedSequence children of the seed), so that
# e.g. adding a lab parameter does not change the survival times.
_STREAMS = ("allocation", "cohort", "visits", "events", "labs", "symptoms", "treatment")
_EVENT_ORDER = {"death": 0, "hcc": 1, "last_contact": 2, "transplant": 3}  # canonical: alphabetical


def resolve_study(study: Study | str | Path | None, sc: Scenario) -> Study:
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
    return load_study(sc.study if sc.study else default_study_path())


def _streams(seed: int) -> dict[str, np.random.Generator]:
    children = np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
    return {name: np.random.Generator(np.random.PCG64(c)) for name, c in zip(_STREAMS, children)}


def simulate_tables(study: Study, sc: Scenario, seed: int, n_subjects: int | None = None):
    """The raw simulation: (tables dict, truth dict, latent DataFrame), not yet validated.

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
    """
    rng = _streams(seed)
    params, skipped, _ = course.output_parameters(study)  # unit check before any work
    sizes, ratio = allocation.arm_sizes(sc, study, n_subjects)
    arm_idx, block = allocation.randomize(rng["allocation"], sizes, ratio, sc.block_size)
    n = len(arm_idx)
    ids = allocation.subject_ids(n)
    dates = allocation.randomization_dates(rng["allocation"], n, sc)

    base = cohort.draw_cohort(rng["cohort"], n, sc)
    s, z = cohort.severity_z(base, sc)
    active = arm_effects(sc, study)
    active_by_arm = [active[a] for a in study.arm_ids]
    hr = np.array([arm_hazard_ratio(active[a]) for a in study.arm_ids])[arm_idx]

    days, attended = schedule.visit_schedule(rng["visits"], study, n, sc)
    curve = events.PiecewiseSurvival(sc.survival["control"])
    rho = sc.survival["copula_rho"]
    T, eps, u = events.event_times(rng["events"], z, hr, curve, rho)
    fu = events.follow_up(rng["events"], T, days[:, -1], sc)

    can_see = course.observable(days, attended, fu.last_day, fu.observed, fu.event_day)
    can_see[:, [v.day < 0 for v in study.visits]] = False
    labs = course.lab_table(rng["labs"], study, sc, base, days, can_see, arm_idx, active_by_arm, T, ids)
    symptoms, _ = course.symptom_table(rng["symptoms"], study, sc, days, can_see, arm_idx, active_by_arm, T, ids)

    counts, doses = treatment.dosing(rng["treatment"], study, sc, arm_idx, fu)
    reacts = treatment.reactions(rng["treatment"], study, sc, doses)
    infusions, fever = treatment.infusion_table(rng["treatment"], study, doses, reacts["fever"], ids)
    aes = treatment.adverse_event_table(rng["treatment"], sc, doses, reacts, fever, arm_idx, active_by_arm, z, fu, ids)

    arm_names = np.array(study.arm_ids, dtype=object)
    sid = pd.array(ids, dtype="str")
    subjects = pd.DataFrame({
        "subject_id": sid,
        "arm": pd.array(arm_names[arm_idx], dtype="str"),
        "randomization_date": pd.to_datetime(dates),
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
    event_tbl = events_table(fu, sid)
    tables = {"subjects": subjects, "labs": labs, "events": event_tbl}
    # optional tables: absent when the study has no infusion factor / no symptoms, and (tiny
    # trials only) when nothing happened: the validator does not accept empty optional tables
    for name, table in (("infusions", infusions), ("adverse_events", aes), ("symptoms", symptoms)):
        if table is not None and len(table):
            tables[name] = table

    primary = int(study.horizons["primary"])
    secondary = int(study.horizons.get("secondary", primary))
    latent = pd.DataFrame({
        "subject_id": sid,
        "arm": subjects["arm"],
        "block": block,
        "severity_score": s,
        "z": z,
        "eps": eps,
        "u": u,
        "hr_arm": hr,
        "event_time": T,
        "event_day": fu.event_day,
        "event_observed": fu.observed,
        "censor_day": fu.censor_day,
        "end_day": fu.end_day,
        "hcc_time": fu.hcc_time,
        "meld_baseline": base["MELD"],
        "risk_day84": events.oracle_risk(84, z, hr, curve, rho),
        "risk_secondary": events.oracle_risk(secondary, z, hr, curve, rho),
        "risk_primary": events.oracle_risk(primary, z, hr, curve, rho),
    })
    truth = jsonable(build_truth(sc, study, seed, sizes, ratio, active, int(base["screened"]),
                                 allocation.effective_block_size(ratio, sc.block_size),
                                 allocation.allocation_note(sc, study)))
    return tables, truth, latent


def simulate_survival(study: Study, sc: Scenario, seed: int,
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
    rng = _streams(seed)
    sizes, ratio = allocation.arm_sizes(sc, study, n_subjects)
    arm_idx, _ = allocation.randomize(rng["allocation"], sizes, ratio, sc.block_size)
    n = len(arm_idx)
    base = cohort.draw_cohort(rng["cohort"], n, sc)
    _, z = cohort.severity_z(base, sc)
    active = arm_effects(sc, study)
    hr = np.array([arm_hazard_ratio(active[a]) for a in study.arm_ids])[arm_idx]
    days, _ = schedule.visit_schedule(rng["visits"], study, n, sc)
    curve = events.PiecewiseSurvival(sc.survival["control"])
    T, _, _ = events.event_times(rng["events"], z, hr, curve, sc.survival["copula_rho"])
    return arm_idx, events.follow_up(rng["events"], T, days[:, -1], sc)


def events_table(fu: events.FollowUp, sid) -> pd.DataFrame:
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
