"""Per-table rules of the data contract, declared once.

Each table is a list of :class:`Col` (name, type, required, may be empty, value checks). The value
checks are pandera checks, run lazily so that every failure is collected; allowed-value lists that
depend on the design (arms, parameters, visits, symptoms) are filled in from the study file by
:func:`pandera_schema`. Cross-table and cross-row rules live in :mod:`trialkit.data.checks`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandera.pandas as pa

from trialkit.study import Study

__all__ = ["Col", "COLUMNS", "AE_CATEGORIES", "PARAMETER_LIMITS", "pandera_schema", "columns_for"]

AE_CATEGORIES = ("fever", "rash", "allergy", "other")
SEXES = ("M", "F")


@dataclass(frozen=True)
class Col:
    """One column of the contract.

    ``kind`` is one of ``str``, ``int``, ``float``, ``date``, ``bool``. ``required`` columns must be
    present; ``nonempty`` columns must have a value in every row. ``checks`` are pandera checks whose
    ``error`` text is the message shown to the user; ``allowed`` names a design list from the study
    file (``arms``, ``parameters``, ``visits``, ``symptoms``) the values must belong to.
    """

    name: str
    kind: str
    required: bool = True
    nonempty: bool = True
    checks: tuple = field(default=())
    allowed: str | None = None


def _range(lo=None, hi=None, what=""):
    checks = []
    if lo is not None:
        checks.append(pa.Check.ge(lo, error=f"expected {what}>= {lo}"))
    if hi is not None:
        checks.append(pa.Check.le(hi, error=f"expected {what}<= {hi}"))
    return tuple(checks)


def _isin(values, what):
    return (pa.Check.isin(list(values), error=f"expected {what}: one of {', '.join(map(str, values))}"),)


#: The contract, table by table (see docs/data-format.md).
COLUMNS: dict[str, tuple[Col, ...]] = {
    "subjects": (
        Col("subject_id", "str"),
        Col("arm", "str", allowed="arms"),
        Col("randomization_date", "date", required=False, nonempty=False),
        Col("age", "float", required=False, nonempty=False, checks=_range(0, 120, "an age in years ")),
        Col("sex", "str", required=False, nonempty=False, checks=_isin(SEXES, "sex")),
        Col("weight_kg", "float", required=False, nonempty=False, checks=_range(2, 300, "a weight in kg ")),
        Col("hbv_dna_log10", "float", required=False, nonempty=False, checks=_range(0, 12, "log10 IU/mL ")),
        Col("hbeag_positive", "bool", required=False, nonempty=False),
        Col("cirrhosis", "bool", required=False, nonempty=False),
        Col("ascites", "int", required=False, nonempty=False, checks=_isin((0, 1, 2), "an ascites grade")),
        Col("encephalopathy", "int", required=False, nonempty=False,
            checks=_isin((0, 1, 2, 3, 4), "a West Haven grade")),
    ),
    "labs": (
        Col("subject_id", "str"),
        Col("day", "int"),
        Col("visit", "str", nonempty=False, allowed="visits"),
        Col("parameter", "str", allowed="parameters"),
        Col("value", "float"),
        Col("unit", "str", nonempty=False),
    ),
    "events": (
        Col("subject_id", "str"),
        Col("event", "str", allowed="events"),
        Col("day", "int", checks=_range(0, None, "a study day ")),
        Col("detail", "str", required=False, nonempty=False),
    ),
    "infusions": (
        Col("subject_id", "str"),
        Col("infusion", "int", checks=_range(1, None, "an infusion number ")),
        Col("day", "int", checks=_range(0, None, "a study day ")),
        Col("hours_after", "float", checks=_range(0, 24, "hours after the infusion ")),
        Col("temperature_c", "float", checks=_range(30, 45, "a body temperature in °C ")),
        Col("factor", "str", required=False, nonempty=False, allowed="infusion_factors"),
    ),
    "adverse_events": (
        Col("subject_id", "str"),
        Col("term", "str"),
        Col("category", "str", checks=_isin(AE_CATEGORIES, "a category")),
        Col("day", "int", checks=_range(0, None, "a study day ")),
        Col("hours_after_infusion", "float", required=False, nonempty=False,
            checks=_range(0, 24, "hours after the infusion ")),
        Col("grade", "int", checks=_isin((1, 2, 3, 4, 5), "a CTCAE grade")),
        Col("related", "bool"),
        Col("serious", "bool"),
    ),
    "symptoms": (
        Col("subject_id", "str"),
        Col("day", "int"),
        Col("visit", "str", nonempty=False, allowed="visits"),
        Col("symptom", "str", allowed="symptoms"),
        Col("score", "int", checks=_isin((0, 1, 2, 3), "a symptom score")),
    ),
}

#: Limits of possible values per known parameter, whatever the unit: (low, high, low_inclusive).
#: A study file's ``range`` replaces these. Parameters not listed are checked only against the
#: study file's ``range``.
PARAMETER_LIMITS: dict[str, tuple[float | None, float | None, bool]] = {
    "ALT": (0, None, True),
    "AST": (0, None, True),
    "TBIL": (0, None, True),
    "ALB": (0, None, True),
    "PT": (0, None, False),
    "PTA": (0, 300, True),
    "INR": (0, None, False),
    "CREAT": (0, None, False),
    "NA": (50, 250, True),
    "UREA": (0, None, True),
    "HGB": (0, None, True),
    "WBC": (0, None, True),
    "NEUT": (0, None, True),
    "PLT": (0, None, True),
    "HBVDNA": (0, 12, True),
    "TH1": (0, 100, True),
    "TH2": (0, 100, True),
    "ASCITES": (0, 2, True),
    "HE": (0, 4, True),
}

#: Parameters that are ordinal grades: their values must be whole numbers.
GRADE_PARAMETERS = ("ASCITES", "HE")


def columns_for(table: str, study: Study) -> tuple[Col, ...]:
    """The columns of ``table``, adding the exposure columns ``<factor>_doses`` to subjects.

    Examples
    --------
    >>> from trialkit.study import load_study, params_dir
    >>> [col.name for col in columns_for("subjects", load_study())][-4:]
    ['ascites', 'encephalopathy', 'msc_doses', 'pe_doses']
    >>> [col.name for col in columns_for("subjects", load_study(params_dir() / "study_two_arm.yaml"))][-2:]
    ['encephalopathy', 'msc_doses']
    >>> [(col.name, col.kind, col.required) for col in columns_for("events", load_study())]
    [('subject_id', 'str', True), ('event', 'str', True), ('day', 'int', True), ('detail', 'str', False)]
    """
    cols = COLUMNS[table]
    if table == "subjects":
        cols = cols + tuple(
            Col(f"{f}_doses", "int", required=False, nonempty=False, checks=_range(0, None, "a dose count "))
            for f in study.factors
        )
    return cols


def _allowed(study: Study, which: str) -> list:
    return {
        "arms": study.arm_ids,
        "parameters": list(study.parameters),
        "visits": study.visit_ids,
        "symptoms": list(study.symptoms),
        "events": [*study.event_names, "last_contact"],
        "infusion_factors": [f for f, spec in study.factors.items() if spec.kind == "infusion"],
    }[which]


def pandera_schema(table: str, study: Study, present: set[str]) -> pa.DataFrameSchema:
    """The pandera schema of ``table`` for this study, over the columns that are present.

    Types are not checked here: :mod:`trialkit.data.load` has already coerced every column and
    reported what did not parse. Empty cells pass (they are reported by the loader when the column
    must have a value).

    Examples
    --------
    >>> import pandas as pd
    >>> from trialkit.study import load_study
    >>> schema = pandera_schema("subjects", load_study(), {"subject_id", "arm", "sex"})
    >>> list(schema.columns)
    ['subject_id', 'arm', 'sex']
    >>> df = pd.DataFrame({"subject_id": ["S001", "S002", "S003"], "arm": ["control", "placebo", "msc"],
    ...                    "sex": ["M", "F", "X"]})
    >>> try:
    ...     schema.validate(df, lazy=True)
    ... except pa.errors.SchemaErrors as exc:
    ...     failures = exc.failure_cases
    >>> failures[["column", "index", "failure_case"]]
      column  index failure_case
    0    arm      1      placebo
    1    sex      2            X
    >>> failures["check"].tolist()
    ['expected an arm of the study file: one of control, msc, pe, pe_msc', 'expected sex: one of M, F']
    """
    columns = {}
    for col in columns_for(table, study):
        if col.name not in present:
            continue
        checks = list(col.checks)
        if col.allowed:
            values = _allowed(study, col.allowed)
            singular = {"arms": "an arm", "parameters": "a parameter", "visits": "a visit",
                        "symptoms": "a symptom", "events": "an event", "infusion_factors": "an infusion-kind factor"}[col.allowed]
            checks.append(pa.Check.isin(values, error=f"expected {singular} of the study file: "
                                                      f"one of {', '.join(map(str, values))}"))
        columns[col.name] = pa.Column(None, checks=checks, nullable=True, required=False)
    return pa.DataFrameSchema(columns, strict=False, name=table)
