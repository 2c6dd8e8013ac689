"""Shared fixtures: a tiny hand-made valid dataset, independent of the simulator, and the R reference
numbers of the efficacy analyses (tests/reference/efficacy.R)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from trialkit.study import load_study


def tiny_tables() -> dict[str, pd.DataFrame]:
    """A minimal dataset that satisfies every rule of docs/data-format.md (4 subjects, 4 arms)."""
    subjects = pd.DataFrame({
        "subject_id": ["S01", "S02", "S03", "S04"],
        "arm": ["control", "msc", "pe", "pe_msc"],
        "randomization_date": ["2013-01-05", "2013-01-07", "2013-02-01", "2013-03-10"],
        "age": [45, 38.5, 60, 16],
        "sex": ["M", "F", "M", "M"],
        "weight_kg": [70, 55, 80, 62],
        "hbv_dna_log10": [4.2, 5.1, 3.3, 6.0],
        "hbeag_positive": ["yes", "no", "false", "1"],
        "cirrhosis": ["true", "true", "false", "0"],
        "ascites": [1, 0, 2, 1],
        "encephalopathy": [0, 1, 0, 2],
        "msc_doses": [0, 4, 0, 4],
        "pe_doses": [0, 0, 3, 3],
    })
    lab_rows = []
    values = {"TBIL": 300.0, "INR": 2.0, "ALB": 30.0, "CREAT": 80.0, "NA": 135.0, "ALT": 200.0}
    units = {"TBIL": "umol/L", "INR": "ratio", "ALB": "g/L", "CREAT": "µmol/L", "NA": "mmol/L", "ALT": "U/L"}
    for sid in subjects["subject_id"]:
        for day, visit in ((0, "D0"), (7, "D7"), (28, "D28")):
            for p, v in values.items():
                lab_rows.append((sid, day, visit, p, v * (1 - day / 100), units[p]))
        lab_rows.append((sid, 0, "D0", "ASCITES", 1.0, "grade"))
    labs = pd.DataFrame(lab_rows, columns=["subject_id", "day", "visit", "parameter", "value", "unit"])
    events = pd.DataFrame({
        "subject_id": ["S01", "S01", "S02", "S03", "S04", "S04"],
        "event": ["death", "last_contact", "last_contact", "last_contact", "transplant", "last_contact"],
        "day": [40, 40, 336, 330, 60, 336],
    })
    infusions = pd.DataFrame(
        [(sid, i + 1, d, h, 36.6 + (0.2 if h == 2 else 0)) for sid, days in (("S02", (0, 7, 14, 21)),
                                                                                 ("S04", (0, 6, 13, 20)))
         for i, d in enumerate(days) for h in (0, 1, 2, 4, 8)],
        columns=["subject_id", "infusion", "day", "hours_after", "temperature_c"])
    adverse_events = pd.DataFrame({
        "subject_id": ["S02", "S03"],
        "term": ["Pyrexia", "Urticaria"],
        "category": ["fever", "allergy"],
        "day": [7, 3],
        "hours_after_infusion": [2.0, None],
        "grade": [1, 2],
        "related": ["yes", "yes"],
        "serious": ["no", "no"],
    })
    symptoms = pd.DataFrame({
        "subject_id": ["S01", "S01", "S02"],
        "day": [0, 28, 0],
        "visit": ["D0", "D28", "D0"],
        "symptom": ["fatigue", "fatigue", "leg_edema"],
        "score": [3, 2, 1],
    })
    return {"subjects": subjects, "labs": labs, "events": events, "infusions": infusions,
            "adverse_events": adverse_events, "symptoms": symptoms}


@pytest.fixture
def tables():
    return tiny_tables()


@pytest.fixture(scope="session")
def study():
    return load_study()


def write_csv_dataset(tables: dict[str, pd.DataFrame], path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(path / f"{name}.csv", index=False)


REFERENCE = Path(__file__).parent / "reference"


@pytest.fixture(scope="session")
def tte():
    """The time-to-event table tests/reference/efficacy.R analysed (one row per subject)."""
    return pd.read_csv(REFERENCE / "efficacy_tte.csv")


@pytest.fixture(scope="session")
def R():
    """What tests/reference/efficacy.R printed: ``{(block, name): value}``."""
    r = pd.read_csv(REFERENCE / "efficacy_r.csv", keep_default_na=False, na_values=["NA"])
    return {(b, n): v for b, n, v in r.itertuples(index=False)}


def run_notebook(name: str, tmp_path: Path, **parameters) -> str:
    """Execute ``notebooks/<name>`` unchanged with papermill, in the runner's kernel environment, with
    ``parameters`` injected; fail on any error or stderr output; return every printed/plain-text output."""
    import os

    import nbformat
    import papermill as pm

    from trialkit.report import kernels
    from trialkit.report.notebooks import notebook_parameters

    root = Path(__file__).resolve().parent.parent
    unknown = set(parameters) - set(notebook_parameters(root / "notebooks" / name))
    assert not unknown, f"{name} declares no parameter {sorted(unknown)} (papermill would ignore it)"
    nb_out = tmp_path / name
    old = dict(os.environ)
    os.environ.update(kernels.kernel_env())
    try:
        pm.execute_notebook(str(root / "notebooks" / name), str(nb_out), kernel_name="python3", parameters=parameters,
                            cwd=str(root / "notebooks"), progress_bar=False, log_output=False)
    finally:
        os.environ.clear()
        os.environ.update(old)
    text = []
    for c in nbformat.read(nb_out, as_version=4).cells:
        for o in c.get("outputs", []):
            assert o.get("name") != "stderr", o.get("text")
            assert o["output_type"] != "error", o.get("evalue")
            text.append(o.get("text", "") + o.get("data", {}).get("text/plain", ""))
    return "\n".join(text)
