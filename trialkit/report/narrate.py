"""Sentences a notebook prints, generated from the study file and the run's numbers.

The notebooks narrate; what they say about a result, an interval level or a skipped section is built
here so that it follows the data and ``alpha`` instead of the default trial. What only one trial can
say (its literature, protocol, disease) is not in the notebooks at all: it is a ``notes:`` entry of
its study file, shown by :func:`study_note` as a box labelled *Note from the study file*.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from trialkit.stats.levels import ci_label, level_pct

if TYPE_CHECKING:
    import pandas as pd

    from trialkit.study import Study

__all__ = ["data_source", "value_decisions", "skip_unless", "ci_label", "level_pct", "effect_sentence", "trial_context", "power_sentence",
           "StudyNote", "study_note"]


def skip_unless(ok: bool, what: str, why: str) -> bool:
    """Print one sentence saying that ``what`` is skipped because ``why`` when ``ok`` is false.

    Returns ``ok``, so a notebook writes ``if skip_unless(trial.has("labs"), "Lab trajectories",
    "the dataset has no labs"):`` and goes on either way.

    Examples
    --------
    >>> skip_unless(False, "Laboratory trajectories", "the dataset has no lab values")
    Skipped: Laboratory trajectories, because the dataset has no lab values.
    False
    >>> skip_unless(True, "anything", "no reason")
    True
    """
    if not ok:
        print(f"Skipped: {what}, because {why}.")
    return bool(ok)


def _fmt(x: float) -> str:
    return "NA" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def effect_sentence(row: object, *, alpha: float, measure: str = "hazard ratio", null: float = 1.0,
                    comparison: str = "") -> str:
    """One sentence stating an estimate, its interval at level ``1 - alpha`` and what the interval says.

    ``row`` needs ``estimate``, ``ci_low``, ``ci_high`` and optionally ``p_value``. The conclusion is
    computed: whether the interval includes ``null`` (no effect), and on which side it lies otherwise.

    Examples
    --------
    >>> effect_sentence({"estimate": 0.69, "ci_low": 0.54, "ci_high": 0.89, "p_value": 0.0034}, alpha=0.05,
    ...                 comparison="Hormonal therapy vs none")
    'Hormonal therapy vs none: hazard ratio 0.69 (95% CI 0.54 to 0.89; p = 0.0034); the interval lies below 1.'
    >>> effect_sentence({"estimate": 1.1, "ci_low": 0.7, "ci_high": 1.8}, alpha=0.01)
    'hazard ratio 1.10 (99% CI 0.70 to 1.80); the interval includes 1: no difference shown at this level.'
    >>> effect_sentence({"estimate": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}, alpha=0.05)
    'hazard ratio not estimable.'
    """
    get = row.get if hasattr(row, "get") else (lambda k, d=None: getattr(row, k, d))
    est, lo, hi, p = get("estimate"), get("ci_low"), get("ci_high"), get("p_value", None)
    head = f"{comparison}: " if comparison else ""
    if est is None or not math.isfinite(float(est)):
        return f"{head}{measure} not estimable."
    pv = "" if p is None or not math.isfinite(float(p)) else (
        "; p < 0.001" if p < 0.001 else f"; p = {p:.2g}" if p < 0.01 else f"; p = {p:.2f}")
    text = f"{head}{measure} {_fmt(est)} ({ci_label(alpha)} {_fmt(lo)} to {_fmt(hi)}{pv})"
    if not (math.isfinite(float(lo)) and math.isfinite(float(hi))):
        return text + "."
    nul = f"{null:g}"
    if lo <= null <= hi:
        return f"{text}; the interval includes {nul}: no difference shown at this level."
    return f"{text}; the interval lies {'below' if hi < null else 'above'} {nul}."


def trial_context(study: Study) -> str:
    """One paragraph about the trial from its study file: title, condition, arms, primary endpoint.

    Examples
    --------
    >>> from trialkit.study import load_study, params_dir
    >>> print(trial_context(load_study(params_dir() / "study_two_arm.yaml")))  # doctest: +NORMALIZE_WHITESPACE
    TWO-ARM-DEMO: UC-MSC versus standard of care in HBV-related acute-on-chronic liver failure (two-arm
    demonstration design). Condition: HBV-related acute-on-chronic liver failure (ACLF). 2 arms: Standard of
    care (control), UC-MSC + standard of care. Primary endpoint: Transplant-free survival (death or liver
    transplantation).
    """
    arms = ", ".join(f"{a.label} (control)" if a.id == study.control_arm else a.label for a in study.arms)
    parts = [f"{study.id}: {study.title}." if study.title else f"{study.id}."]
    if study.condition:
        parts.append(f"Condition: {study.condition}.")
    parts.append(f"{len(study.arms)} arms: {arms}.")
    ep = study.primary_endpoint
    events = " or ".join(study.events[e].label.lower() for e in ep.events)
    parts.append(f"Primary endpoint: {ep.name} ({events}).")
    parts += list(getattr(study, "literature", ()))
    return " ".join(parts)


def data_source(source: str | None) -> str:
    """How a report names the analysed data: a simulated trial's source as it is
    (``simulated:<scenario>:seed=<seed>``), a dataset by its folder or file name only — never a path of
    the machine that ran the report (the archive refuses such paths).

    Examples
    --------
    >>> data_source("simulated:default:seed=1"), data_source("/home/ana/trials/colon"), data_source(None)
    ('simulated:default:seed=1', 'colon', 'unknown')
    """
    if not source:
        return "unknown"
    if source.startswith("simulated:"):
        return source
    from pathlib import Path

    return Path(source).name


def value_decisions(study: Study) -> list[str]:
    """One sentence per ``values`` decision of the study file (a lab value excluded or accepted), without
    the subject identifier, so that the report says what was excluded; empty when there is none.

    Examples
    --------
    >>> from trialkit.study import study_from_dict
    >>> s = study_from_dict({"arms": [{"id": "a"}], "control_arm": "a", "horizons": {"primary": 90},
    ...                      "parameters": {"ALB": {"unit": "g/dL", "label": "Albumin"}},
    ...                      "values": [{"subject_id": "P17", "parameter": "ALB", "day": 188, "action": "exclude",
    ...                                  "reason": "transcription error"}]})
    >>> value_decisions(s)
    ['The study file excludes one Albumin value (day 188): transcription error.']
    """
    out = []
    for d in study.value_decisions:
        spec = study.parameters.get(d["parameter"])
        label = spec.label if spec is not None and spec.label else d["parameter"]
        verb = "excludes" if d["action"] == "exclude" else "accepts as plausible"
        out.append(f"The study file {verb} one {label} value (day {d['day']})"
                   + (f": {d['reason']}." if d["reason"] else "."))
    return out


def power_sentence(power: pd.DataFrame, *, alpha: float, comparison: str = "global") -> str:
    """What a power table (``hr``, ``comparison``, ``estimate``, ``mean_events``) says, in one sentence:
    the power of ``comparison`` at each hazard ratio, and the smallest effect with at least 80% power.

    Examples
    --------
    >>> import pandas as pd
    >>> pw = pd.DataFrame({"hr": [0.5, 0.7, 1.0], "comparison": "global", "estimate": [0.91, 0.42, 0.05],
    ...                    "mean_events": [80.0, 90.0, 100.0]})
    >>> power_sentence(pw, alpha=0.05)
    'Simulated power of the global log-rank test (alpha 0.05): 91% at hazard ratio 0.5, 42% at 0.7, 5% at 1 \
(type I error). At least 80% power needs a hazard ratio of 0.5 or further from 1.'
    """
    rows = power[power["comparison"] == comparison].sort_values("hr")
    parts = [f"{100 * r.estimate:.0f}% at {'hazard ratio ' if i == 0 else ''}{r.hr:g}"
             + (" (type I error)" if r.hr == 1 else "") for i, r in enumerate(rows.itertuples())]
    text = f"Simulated power of the {comparison} log-rank test (alpha {alpha:g}): {', '.join(parts)}."
    strong = rows[(rows["hr"] != 1) & (rows["estimate"] >= 0.8)]
    if strong.empty:
        return text + " No hazard ratio simulated here reaches 80% power."
    best = strong.loc[strong["hr"].sub(1).abs().idxmin(), "hr"]
    return text + f" At least 80% power needs a hazard ratio of {best:g} or further from 1."


class StudyNote(str):
    """A remark from the study file's ``notes:``, shown in a notebook as a labelled box.

    A ``str`` (the note's markdown) that Jupyter displays as a block quote headed *Note from the study
    file* with the file and key, so a reader sees where the sentence comes from and that it is not
    computed from the run. Build it with :func:`study_note`.

    Examples
    --------
    >>> note = StudyNote("Smaller than *planned*.", source="study.yaml", key="design.power")
    >>> print(note._repr_markdown_())
    > **Note from the study file** (`study.yaml`, `notes: design.power`)
    >
    > Smaller than *planned*.
    >>> note
    Note from the study file (study.yaml, notes: design.power): Smaller than *planned*.
    """

    source: str
    key: str

    def __new__(cls, text: str, *, source: str, key: str) -> StudyNote:
        self = super().__new__(cls, text)
        self.source, self.key = source, key
        return self

    def _repr_markdown_(self) -> str:
        body = "\n".join(f"> {line}".rstrip() for line in str(self).splitlines())
        return f"> **Note from the study file** (`{self.source}`, `notes: {self.key}`)\n>\n{body}"

    def __repr__(self) -> str:
        return f"Note from the study file ({self.source}, notes: {self.key}): {self}"


def study_note(study: Study, key: str) -> StudyNote | None:
    """The study file's note for notebook section ``key``, as a labelled box; ``None`` when it has none.

    Notebooks call ``study_note(study, "<notebook>.<section>")`` as the last line of a cell: a study
    file with that note shows it (remarks on the trial's literature or protocol that no number of the
    run can produce), any other study shows nothing. Notes are declared under ``notes:`` in the study
    file (docs/data-format.md).

    Examples
    --------
    >>> from trialkit.study import load_study, params_dir
    >>> note = study_note(load_study(), "design.power")  # params/study.yaml has this note
    >>> note.source, note.key, note[:30]
    ('study.yaml', 'design.power', '**The trial is underpowered.**')
    >>> study_note(load_study(params_dir() / "study_two_arm.yaml"), "design.power") is None
    True
    """
    text = getattr(study, "notes", {}).get(key)
    if text is None:
        return None
    return StudyNote(text, source=Path(study.path).name if study.path else "study file", key=key)
