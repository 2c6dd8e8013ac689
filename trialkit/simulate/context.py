"""The simulated trial's latent state, drawn once and handed to every table builder.

:func:`simulation_context` runs the components every table depends on: allocation (arms, blocks,
dates), the baseline cohort and its latent severity, the visit schedule, the event times and the
follow-up. Its result, a frozen :class:`SimulationContext`, is the one argument of the table
builders (:func:`trialkit.simulate.course.lab_table`, ``symptom_table``, and
:mod:`~trialkit.simulate.treatment`'s ``dosing``, ``reactions``, ``infusion_table``,
``adverse_event_table``), which draw from the context's own random stream for their component
(``ctx.stream("labs")``).

Each component draws from an independent stream (a numpy ``SeedSequence`` child of the seed, see
:data:`STREAMS`), so adding e.g. a lab parameter does not change the survival times; within a
stream the draws happen in a fixed order, so the same seed gives the same trial.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from trialkit.simulate import allocation, cohort, events, schedule
from trialkit.simulate.effects import arm_effects, arm_hazard_ratio
from trialkit.simulate.scenario import Effect, Scenario
from trialkit.study import Study

__all__ = ["STREAMS", "SimulationContext", "observable_visits", "random_streams", "simulation_context"]

#: The simulator's components, one independent random stream each (in ``SeedSequence.spawn`` order).
STREAMS: tuple[str, ...] = ("allocation", "cohort", "visits", "events", "labs", "symptoms", "treatment")

#: The effects active in one arm: ``(factor or "interaction", Effect)`` pairs.
ActiveEffects = list[tuple[str, Effect]]


def random_streams(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per component of :data:`STREAMS`, children of ``seed``.

    Examples
    --------
    >>> streams = random_streams(1)
    >>> list(streams) == list(STREAMS)
    True
    >>> round(float(streams["events"].random()), 6) == round(float(random_streams(1)["events"].random()), 6)
    True
    """
    children = np.random.SeedSequence(int(seed)).spawn(len(STREAMS))
    return {name: np.random.Generator(np.random.PCG64(c)) for name, c in zip(STREAMS, children)}


@dataclass(frozen=True)
class SimulationContext:
    """What every table builder of one simulated trial reads: study, scenario, subjects' latent state.

    Arrays have one row per subject, in randomization order (``S001``, ...); ``(n, visits)`` arrays
    have one column per study visit, in day order. The random streams are the only mutable part:
    each builder draws from the stream of its component.

    Attributes
    ----------
    study, scenario
        The study file and the data-generating model.
    streams
        The random generator of each component (:data:`STREAMS`).
    subject_ids
        ``S001``, ``S002``, ...
    arm_index
        Each subject's arm, an index into ``study.arm_ids``.
    block
        Each subject's randomization block.
    arm_sizes, allocation_ratio
        Subjects per arm and the allocation ratio used (``study.arm_ids`` order).
    active_effects
        The scenario's effects active in each arm, by arm id; ``active_by_arm`` the same list in
        ``study.arm_ids`` order.
    hazard_ratio
        Each subject's arm hazard ratio for death or LT against control.
    baseline
        The recorded baseline (a dict of arrays keyed by internal name: ``TBIL``, ``MELD``, ``AGE``,
        ``ASCITES_LATENT``, ..., and the scalar ``screened``).
    severity_score, severity_z
        The linear severity score and its standard-normal transform (:mod:`~trialkit.simulate.cohort`).
    visit_days, attended
        ``(n, visits)`` study day of each visit, and whether it took place.
    survival_curve
        The control arm's transplant-free survival curve.
    event_time, copula_noise, copula_uniform
        The latent time of death or LT (days, continuous), the copula's independent noise and its
        uniform ``U`` (:mod:`~trialkit.simulate.events`).
    follow_up
        Event days, censoring, causes of death, HCC.
    observable
        ``(n, visits)`` visits that can have data: attended, before death or LT, up to the last
        contact, not before randomization.

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=8)
    >>> ctx.n_subjects, ctx.arm_ids[:3]
    (8, ['pe', 'pe_msc', 'control'])
    >>> ctx.follow_up.event_day[:3].tolist()
    [16964, 100, 2761]
    """

    study: Study
    scenario: Scenario
    streams: Mapping[str, np.random.Generator] = field(repr=False)
    subject_ids: np.ndarray
    arm_index: np.ndarray
    block: np.ndarray
    arm_sizes: dict[str, int]
    allocation_ratio: dict[str, int]
    randomization_dates: np.ndarray
    active_effects: dict[str, ActiveEffects]
    active_by_arm: list[ActiveEffects]
    hazard_ratio: np.ndarray
    baseline: dict[str, np.ndarray] = field(repr=False)
    severity_score: np.ndarray
    severity_z: np.ndarray
    visit_days: np.ndarray
    attended: np.ndarray
    survival_curve: events.PiecewiseSurvival
    event_time: np.ndarray
    copula_noise: np.ndarray
    copula_uniform: np.ndarray
    follow_up: events.FollowUp
    observable: np.ndarray

    @property
    def n_subjects(self) -> int:
        """The number of subjects."""
        return len(self.arm_index)

    @property
    def arm_ids(self) -> list[str]:
        """Each subject's arm id."""
        return [self.study.arm_ids[a] for a in self.arm_index]

    def stream(self, component: str) -> np.random.Generator:
        """The random generator of ``component`` (one of :data:`STREAMS`)."""
        return self.streams[component]


def simulation_context(study: Study, scenario: Scenario, seed: int,
                       n_subjects: int | None = None) -> SimulationContext:
    """Draw the allocation, cohort, visit schedule, event times and follow-up of one trial.

    Uses the ``allocation``, ``cohort``, ``visits`` and ``events`` streams of ``seed``; the
    ``labs``, ``symptoms`` and ``treatment`` streams are left for the table builders.

    Parameters
    ----------
    study : Study
        The study file (arms, visits, factors).
    scenario : Scenario
        The data-generating model.
    seed : int
        The trial's seed.
    n_subjects : int, optional
        Overrides the scenario's number of subjects, keeping its allocation ratio.

    Returns
    -------
    SimulationContext

    Examples
    --------
    >>> from trialkit.simulate.scenario import load_scenario
    >>> from trialkit.study import load_study
    >>> ctx = simulation_context(load_study(), load_scenario("default"), seed=1, n_subjects=4)
    >>> ctx.subject_ids.tolist(), ctx.arm_index.tolist()
    (['S001', 'S002', 'S003', 'S004'], [3, 1, 0, 2])
    >>> ctx.visit_days.shape, ctx.observable.shape
    ((4, 11), (4, 11))
    """
    streams = random_streams(seed)
    sizes, ratio = allocation.arm_sizes(scenario, study, n_subjects)
    arm_index, block = allocation.randomize(streams["allocation"], sizes, ratio, scenario.block_size)
    n = len(arm_index)
    subject_ids = allocation.subject_ids(n)
    dates = allocation.randomization_dates(streams["allocation"], n, scenario)

    baseline = cohort.draw_cohort(streams["cohort"], n, scenario)
    score, z = cohort.severity_z(baseline, scenario)
    active = arm_effects(scenario, study)
    active_by_arm = [active[a] for a in study.arm_ids]
    hazard_ratio = np.array([arm_hazard_ratio(active[a]) for a in study.arm_ids])[arm_index]

    days, attended = schedule.visit_schedule(streams["visits"], study, n, scenario)
    curve = events.PiecewiseSurvival(scenario.survival["control"])
    event_time, eps, u = events.event_times(streams["events"], z, hazard_ratio, curve,
                                            scenario.survival["copula_rho"])
    follow_up = events.follow_up(streams["events"], event_time, days[:, -1], scenario)

    observable = observable_visits(days, attended, follow_up)
    observable[:, [v.day < 0 for v in study.visits]] = False
    return SimulationContext(
        study=study, scenario=scenario, streams=streams, subject_ids=subject_ids, arm_index=arm_index,
        block=block, arm_sizes=sizes, allocation_ratio=ratio, randomization_dates=dates,
        active_effects=active, active_by_arm=active_by_arm, hazard_ratio=hazard_ratio, baseline=baseline,
        severity_score=score, severity_z=z, visit_days=days, attended=attended, survival_curve=curve,
        event_time=event_time, copula_noise=eps, copula_uniform=u, follow_up=follow_up,
        observable=observable)


def observable_visits(days: np.ndarray, attended: np.ndarray, follow_up: events.FollowUp) -> np.ndarray:
    """(n, visits) mask of visits that can have data: attended, not after last contact or death/LT.

    Examples
    --------
    Three subjects, visits on days 0, 7 and 28: the second missed its day-7 visit, the third died
    on day 20 (no data on or after the event day).

    >>> from types import SimpleNamespace
    >>> days = np.array([[0, 7, 28], [-1, 8, 27], [0, 6, 29]])
    >>> attended = np.array([[True, True, True], [True, False, True], [True, True, True]])
    >>> fu = SimpleNamespace(last_day=np.array([336, 336, 20]), observed=np.array([False, False, True]),
    ...                      event_day=np.array([0, 0, 20]))
    >>> observable_visits(days, attended, fu).tolist()
    [[True, True, True], [True, False, True], [True, True, False]]
    """
    before_event = ~follow_up.observed[:, None] | (days < follow_up.event_day[:, None])
    return attended & (days <= follow_up.last_day[:, None]) & before_event
