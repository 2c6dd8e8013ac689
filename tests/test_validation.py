"""Every validation rule: a bad-input fixture and the message it must give (file, row, column, value)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import tiny_tables, write_csv_dataset
from trialkit.cli import main
from trialkit.data.handoff import write_validated
from trialkit.data.load import build_trial, load, validate
from trialkit.errors import StudyFileError, ValidationError
from trialkit.study import default_study_path, load_study


def _problems(tmp_path: Path, tables: dict, **kw) -> list[str]:
    d = tmp_path / "ds"
    if d.exists():
        shutil.rmtree(d)
    write_csv_dataset(tables, d)
    report = validate(d, **kw)
    return [str(p) for p in report.problems]


def _one(problems: list[str], *fragments: str) -> str:
    hits = [p for p in problems if all(f in p for f in fragments)]
    assert hits, f"no problem mentions {fragments}; got:\n" + "\n".join(problems)
    return hits[0]


def test_tiny_dataset_is_valid(tmp_path):
    d = tmp_path / "ds"
    write_csv_dataset(tiny_tables(), d)
    report = validate(d)
    assert report.ok, report.text()
    trial = report.trial
    assert trial.subjects["randomization_date"].dtype == "datetime64[ns]"
    assert trial.subjects["hbeag_positive"].tolist() == [True, False, False, True]
    assert trial.labs["day"].dtype == "int64"
    assert set(trial.labs["unit"]) >= {"µmol/L", "umol/L"}  # both spellings accepted, kept as given
    assert trial.summary().loc["total", "death"] == 1


def test_every_problem_is_reported_at_once(tmp_path):
    t = tiny_tables()
    t["subjects"].loc[0, "age"] = 130
    t["labs"].loc[3, "value"] = -1.0
    t["events"].loc[0, "event"] = "died"
    probs = _problems(tmp_path, t)
    _one(probs, "subjects.csv", "row 2", "'age'", "130", "<= 120")
    _one(probs, "labs.csv", "row 5", "'value'", "cannot be negative")
    _one(probs, "events.csv", "row 2", "'event'", "'died'", "expected an event")


@pytest.mark.parametrize("table", ["subjects", "events"])
def test_missing_required_table(tmp_path, table):
    t = tiny_tables()
    del t[table]
    _one(_problems(tmp_path, t), f"required table '{table}' is missing")


def test_optional_tables_may_be_absent(tmp_path):
    t = tiny_tables()
    for name in ("infusions", "adverse_events", "symptoms"):
        del t[name]
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    trial = load(d)
    assert not trial.has("infusions") and trial.has("labs")
    del t["labs"]  # labs are optional too: an empty, typed table
    write_csv_dataset(t, tmp_path / "nolabs")
    trial = load(tmp_path / "nolabs")
    assert not trial.has("labs") and len(trial.labs) == 0 and trial.labs["day"].dtype == "int64"


def test_optional_subject_columns_may_be_absent(tmp_path):
    t = tiny_tables()
    t["subjects"] = t["subjects"][["subject_id", "arm", "randomization_date", "age", "sex"]]
    assert validate_ok(tmp_path, t)


def validate_ok(tmp_path, t) -> bool:
    probs = _problems(tmp_path, t)
    assert not probs, probs
    return True


@pytest.mark.parametrize("table,column", [("subjects", "arm"), ("labs", "parameter"), ("events", "day")])
def test_missing_required_column(tmp_path, table, column):
    t = tiny_tables()
    t[table] = t[table].drop(columns=column)
    _one(_problems(tmp_path, t), f"{table}.csv", f"column '{column}'", "required column is missing")


def test_wrong_types(tmp_path):
    t = tiny_tables()
    t["subjects"]["age"] = t["subjects"]["age"].astype(object)
    t["subjects"].loc[1, "age"] = "forty"
    t["subjects"].loc[2, "randomization_date"] = "05/13/2013x"
    t["labs"]["day"] = t["labs"]["day"].astype(object)
    t["labs"].loc[0, "day"] = 1.5
    t["subjects"].loc[3, "cirrhosis"] = "maybe"
    probs = _problems(tmp_path, t)
    _one(probs, "subjects.csv", "row 3", "'age'", "'forty'", "expected a number")
    _one(probs, "subjects.csv", "row 4", "'randomization_date'", "expected a date YYYY-MM-DD")
    _one(probs, "labs.csv", "row 2", "'day'", "expected a whole number")
    _one(probs, "subjects.csv", "row 5", "'cirrhosis'", "'maybe'", "expected true/false")


def test_empty_required_value(tmp_path):
    t = tiny_tables()
    t["subjects"].loc[1, "arm"] = None
    _one(_problems(tmp_path, t), "subjects.csv", "row 3", "'arm'", "required value is empty")


def test_unparsable_files(tmp_path):
    d = tmp_path / "ds"
    write_csv_dataset(tiny_tables(), d)
    (d / "symptoms.csv").write_text("")
    (d / "events.csv").write_bytes("subject_id,event,day\nS01,d\xe9c\xe8s,3\n".encode("latin-1"))
    lines = (d / "labs.csv").read_text().splitlines()
    lines[4] += ",extra"
    (d / "labs.csv").write_text("\n".join(lines) + "\n")
    (d / "infusions.csv").unlink()
    (d / "infusions.parquet").write_bytes(b"PAR1 this is not parquet")
    probs = [str(p) for p in validate(d).problems]
    _one(probs, "symptoms.csv", "file is empty")
    _one(probs, "events.csv", "row 2", "not UTF-8")
    _one(probs, "labs.csv", "row 5", "has 7 fields, the header has 6")
    _one(probs, "infusions.parquet", "unreadable Parquet")


def test_semicolon_and_tab_separated_files_are_named(tmp_path):
    """European Excel exports use ';' (and some systems tabs): say so instead of 'column missing'."""
    d = tmp_path / "ds"
    t = tiny_tables()
    write_csv_dataset(t, d)
    t["subjects"].to_csv(d / "subjects.csv", index=False, sep=";")
    t["events"].to_csv(d / "events.csv", index=False, sep="\t")
    probs = [str(p) for p in validate(d).problems]
    _one(probs, "subjects.csv", "semicolon-separated")
    _one(probs, "events.csv", "tab-separated")
    assert not any("required column is missing" in p for p in probs)


def test_table_given_twice(tmp_path):
    d = tmp_path / "ds"
    write_csv_dataset(tiny_tables(), d)
    tiny_tables()["events"].to_parquet(d / "events.parquet")
    _one([str(p) for p in validate(d).problems], "table given twice")


def test_unknown_arm_parameter_visit_symptom(tmp_path):
    t = tiny_tables()
    t["subjects"].loc[0, "arm"] = "placebo"
    t["labs"].loc[0, "parameter"] = "GGT"
    t["labs"].loc[1, "visit"] = "W99"
    t["symptoms"].loc[0, "symptom"] = "itching"
    t["adverse_events"].loc[0, "category"] = "infection"
    probs = _problems(tmp_path, t)
    _one(probs, "subjects.csv", "row 2", "'arm'", "'placebo'", "expected an arm of the study file")
    _one(probs, "labs.csv", "row 2", "'parameter'", "'GGT'", "expected a parameter of the study file")
    _one(probs, "labs.csv", "row 3", "'visit'", "'W99'", "expected a visit")
    _one(probs, "symptoms.csv", "row 2", "'itching'", "expected a symptom")
    _one(probs, "adverse_events.csv", "row 2", "'infection'", "expected a category")


@pytest.mark.parametrize("table,column,row,value,message", [
    ("labs", "value", 1, -3.0, "cannot be negative"),                 # ALT < 0 (row 1 = INR? no: see below)
    ("infusions", "temperature_c", 0, 29.5, ">= 30"),
    ("infusions", "temperature_c", 0, 45.5, "<= 45"),
    ("subjects", "age", 0, -1, ">= 0"),
    ("subjects", "age", 0, 121, "<= 120"),
    ("subjects", "ascites", 0, 3, "ascites grade"),
    ("subjects", "encephalopathy", 0, 5, "West Haven"),
    ("adverse_events", "grade", 0, 6, "CTCAE grade"),
    ("symptoms", "score", 0, 4, "symptom score"),
])
def test_impossible_values(tmp_path, table, column, row, value, message):
    t = tiny_tables()
    t[table][column] = t[table][column].astype(object)
    t[table].loc[row, column] = value
    _one(_problems(tmp_path, t), f"{table}.csv", f"row {row + 2}", f"'{column}'", message)


def test_inr_must_be_positive(tmp_path):
    t = tiny_tables()
    i = t["labs"].index[t["labs"]["parameter"] == "INR"][0]
    t["labs"].loc[i, "value"] = 0.0
    _one(_problems(tmp_path, t), "labs.csv", f"row {i + 2}", "impossible value for INR: expected > 0")


def test_grade_parameters_are_whole_and_bounded(tmp_path):
    t = tiny_tables()
    i = t["labs"].index[t["labs"]["parameter"] == "ASCITES"]
    t["labs"].loc[i[0], "value"] = 1.5
    t["labs"].loc[i[1], "value"] = 3.0
    probs = _problems(tmp_path, t)
    _one(probs, f"row {i[0] + 2}", "ASCITES is a grade: expected a whole number")
    _one(probs, f"row {i[1] + 2}", "impossible value for ASCITES")


def test_study_range_overrides_library_limits(tmp_path):
    study = load_study()
    raw = dict(study.raw)
    raw["parameters"] = dict(raw["parameters"])
    raw["parameters"]["ALT"] = {"unit": "U/L", "range": [0, 150]}
    p = tmp_path / "study.yaml"
    import yaml

    p.write_text(yaml.safe_dump(raw))
    probs = _problems(tmp_path, tiny_tables(), study=p)
    _one(probs, "impossible value for ALT: expected >= 0 and <= 150 U/L")


def test_duplicates(tmp_path):
    t = tiny_tables()
    t["subjects"] = pd.concat([t["subjects"], t["subjects"].iloc[[1]]], ignore_index=True)
    t["labs"] = pd.concat([t["labs"], t["labs"].iloc[[0]]], ignore_index=True)
    t["symptoms"] = pd.concat([t["symptoms"], t["symptoms"].iloc[[0]]], ignore_index=True)
    probs = _problems(tmp_path, t)
    _one(probs, "subjects.csv", "row 6", "duplicated subject_id = (S02), first at row 3")
    n = len(t["labs"]) + 1
    _one(probs, "labs.csv", f"row {n}", "duplicated (subject_id, day, parameter) = (S01, 0, TBIL), first at row 2")
    _one(probs, "symptoms.csv", "duplicated (subject_id, day, symptom)")


def test_rows_for_subjects_never_randomized(tmp_path):
    t = tiny_tables()
    t["labs"].loc[len(t["labs"])] = ["S99", 3, "D3", "TBIL", 250.0, "umol/L"]
    _one(_problems(tmp_path, t), "labs.csv", f"row {len(t['labs']) + 1}", "'S99'", "never randomized")


def test_days_before_randomization(tmp_path):
    t = tiny_tables()
    t["labs"].loc[len(t["labs"])] = ["S01", -2, "D0", "PT", 20.0, "s"]   # inside baseline window: fine
    t["labs"].loc[len(t["labs"])] = ["S01", -10, "", "PT", 20.0, "s"]    # before it: error
    t["adverse_events"].loc[0, "day"] = -1
    probs = _problems(tmp_path, t)
    _one(probs, "labs.csv", f"row {len(t['labs']) + 1}", "day before randomization", "baseline window")
    assert not any(f"row {len(t['labs'])}," in p and "labs.csv" in p for p in probs)
    _one(probs, "adverse_events.csv", "row 2", ">= 0")


def test_records_after_death(tmp_path):
    t = tiny_tables()
    # S01 died on day 40; a lab on day 41 and a symptom on day 50 are impossible
    t["labs"].loc[len(t["labs"])] = ["S01", 41, "", "TBIL", 500.0, "umol/L"]
    t["symptoms"].loc[len(t["symptoms"])] = ["S01", 50, "", "fatigue", 3]
    probs = _problems(tmp_path, t)
    _one(probs, "labs.csv", f"row {len(t['labs']) + 1}", "record after the subject's death")
    _one(probs, "symptoms.csv", "record after the subject's death")


def test_follow_up_rules(tmp_path):
    t = tiny_tables()
    ev = t["events"]
    ev = ev[~((ev["subject_id"] == "S03") & (ev["event"] == "last_contact"))]
    ev = pd.concat([ev, pd.DataFrame({"subject_id": ["S02", "S01"], "event": ["last_contact", "death"],
                                      "day": [300, 45]})], ignore_index=True)
    t["events"] = ev
    probs = _problems(tmp_path, t)
    _one(probs, "subjects.csv", "row 4", "'S03'", "no 'last_contact'")
    _one(probs, "events.csv", "more than one 'last_contact'")
    _one(probs, "events.csv", "more than one 'death'")


def test_last_contact_must_equal_death_day(tmp_path):
    t = tiny_tables()
    t["events"].loc[1, "day"] = 35  # S01 died on day 40
    _one(_problems(tmp_path, t), "events.csv", "row 3", "last_contact must be the day of death")


def test_record_after_last_contact(tmp_path):
    t = tiny_tables()
    t["labs"].loc[len(t["labs"])] = ["S03", 335, "W48", "TBIL", 20.0, "umol/L"]  # last contact day 330
    _one(_problems(tmp_path, t), "labs.csv", "record after the subject's last_contact")


def test_unit_contradicting_study_file(tmp_path):
    t = tiny_tables()
    i = t["labs"].index[t["labs"]["parameter"] == "NA"][0]
    t["labs"].loc[i, "unit"] = "mEq/L"
    _one(_problems(tmp_path, t), "labs.csv", f"row {i + 2}", "'unit'", "contradicts the study file for NA")


def test_unit_mixup_declared_unit(tmp_path):
    t = tiny_tables()
    m = t["labs"]["parameter"] == "TBIL"
    t["labs"].loc[m, "unit"] = "mg/dL"
    t["labs"].loc[m, "value"] = t["labs"].loc[m, "value"] / 17.1
    msg = _one(_problems(tmp_path, t), "labs.csv", "'unit'", "likely unit mix-up")
    assert "× 17.1" in msg


def test_unit_mixup_values_in_the_other_unit(tmp_path):
    """Bilirubin that looks like mg/dL where µmol/L is declared is reported as such."""
    t = tiny_tables()
    m = t["labs"]["parameter"] == "ALB"
    t["labs"].loc[m, "value"] = 3.0  # g/dL written under g/L
    m = (t["labs"]["parameter"] == "TBIL") & (t["labs"]["day"] == 0)
    t["labs"].loc[m, "value"] = 17.5  # 17.5 mg/dL = 299 µmol/L: below the inclusion minimum 85 µmol/L
    probs = _problems(tmp_path, t)
    _one(probs, "labs.csv", "ALB values are implausible in g/L but ordinary in g/dL (median 3)", "likely unit mix-up")
    _one(probs, "labs.csv", "baseline TBIL", "would meet them as mg/dL", "likely unit mix-up")


def test_infusion_rows_for_an_arm_without_infusions(tmp_path):
    t = tiny_tables()
    t["infusions"].loc[0, "subject_id"] = "S03"  # PE arm: no infusion-kind factor
    _one(_problems(tmp_path, t), "infusions.csv", "row 2", "receives no infusion-kind treatment")


def test_visit_outside_window_is_a_warning_not_an_error(tmp_path):
    t = tiny_tables()
    t["labs"].loc[0, "visit"] = "D14"  # day 0 is not in D14's window
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    report = validate(d)
    assert report.ok
    assert any("window does not contain their day" in w for w in report.warnings)


def test_long_listings_are_capped_then_summarised(tmp_path):
    t = tiny_tables()
    t["labs"]["day"] = -20
    probs = [p for p in _problems(tmp_path, t) if "day before randomization" in p]
    assert len(probs) == 21 and "and 56 more rows with this problem" in probs[-1]
    report = validate(tmp_path / "ds", limit=None)
    assert sum("day before randomization" in str(p) for p in report.problems) == len(t["labs"])


def test_input_files_are_never_modified(tmp_path):
    t = tiny_tables()
    t["subjects"].loc[0, "age"] = 500
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in d.iterdir()}
    validate(d)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in d.iterdir()}
    assert before == after


def test_load_raises_with_all_problems(tmp_path):
    t = tiny_tables()
    t["subjects"].loc[0, "sex"] = "X"
    t["subjects"].loc[1, "sex"] = "Y"
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    with pytest.raises(ValidationError) as exc:
        load(d)
    assert len(exc.value.problems) == 2
    assert "'X'" in str(exc.value) and "'Y'" in str(exc.value)


def test_build_trial_validates_in_memory_tables():
    t = tiny_tables()
    t["subjects"].loc[0, "arm"] = "nope"
    with pytest.raises(ValidationError, match="expected an arm"):
        build_trial(t, load_study())


def test_two_arm_study_file(tmp_path):
    """The same code validates a trial with one factor and two arms."""
    import yaml

    raw = dict(load_study().raw)
    raw["factors"] = {"msc": raw["factors"]["msc"]}
    raw["arms"] = [{"id": "soc", "label": "SOC", "factors": {"msc": False}},
                   {"id": "cells", "label": "MSC", "factors": {"msc": True}}]
    raw["control_arm"] = "soc"
    sp = tmp_path / "two.yaml"
    sp.write_text(yaml.safe_dump(raw))
    t = tiny_tables()
    t["subjects"]["arm"] = ["soc", "cells", "soc", "cells"]
    t["subjects"] = t["subjects"].drop(columns=["pe_doses"])
    t["infusions"] = t["infusions"]
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    trial = load(d, study=sp)
    assert trial.arm_sizes().to_dict() == {"soc": 2, "cells": 2}
    # a 4-arm id is now unknown
    t["subjects"].loc[0, "arm"] = "pe"
    write_csv_dataset(t, d)
    assert any("expected an arm" in str(p) for p in validate(d, study=sp).problems)


# ---------------------------------------------------------------------------------------------
# CLI: exit codes and no tracebacks
# ---------------------------------------------------------------------------------------------
def test_cli_validate_ok(tmp_path, capsys):
    d = tmp_path / "ds"
    write_csv_dataset(tiny_tables(), d)
    assert main(["validate", str(d)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "control" in out


def test_cli_validate_bad_exits_2_without_traceback(tmp_path, capsys):
    t = tiny_tables()
    t["subjects"]["age"] = t["subjects"]["age"].astype(object)
    t["subjects"].loc[0, "age"] = "old"
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    assert main(["validate", str(d)]) == 2
    err = capsys.readouterr().err
    assert "subjects.csv, row 2, column 'age': value 'old': expected a number" in err
    assert "Traceback" not in err


def test_cli_missing_path_and_bad_study(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "dataset not found" in capsys.readouterr().err
    d = tmp_path / "ds"
    write_csv_dataset(tiny_tables(), d)
    bad = tmp_path / "study.yaml"
    bad.write_text("arms: [oops\n")
    assert main(["validate", str(d), "--study", str(bad)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_missing_value_spellings_in_number_columns_but_not_in_text(tmp_path):
    """R writes NA for missing; in a number column that is empty, in `parameter` it is sodium."""
    t = tiny_tables()
    t["subjects"]["weight_kg"] = t["subjects"]["weight_kg"].astype(object)
    t["subjects"].loc[0, "weight_kg"] = "NA"
    t["subjects"]["hbv_dna_log10"] = t["subjects"]["hbv_dna_log10"].astype(object)
    t["subjects"].loc[1, "hbv_dna_log10"] = "NA"
    write_csv_dataset(t, tmp_path / "na")
    trial = load(tmp_path / "na")  # NA in number columns is empty, so nothing to report
    assert pd.isna(trial.subjects.loc[0, "weight_kg"]) and pd.isna(trial.subjects.loc[1, "hbv_dna_log10"])
    d = tmp_path / "ds"
    t = tiny_tables()
    t["subjects"].loc[0, "weight_kg"] = float("nan")
    write_csv_dataset(t, d)
    trial = load(d)
    assert "NA" in set(trial.labs["parameter"])
    assert pd.isna(trial.subjects.loc[0, "weight_kg"])


def test_empty_optional_tables_are_valid(tmp_path):
    """A trial where nobody had an infusion or an adverse event: header-only files load."""
    t = tiny_tables()
    t["infusions"] = t["infusions"].iloc[0:0]
    t["adverse_events"] = t["adverse_events"].iloc[0:0]
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    trial = load(d)
    assert trial.infusions is not None and len(trial.infusions) == 0 and not trial.has("infusions")
    assert trial.infusions["day"].dtype == "int64"
    assert len(build_trial(t, load_study()).adverse_events) == 0


def test_infusion_factor_must_be_an_infusion_kind_factor(tmp_path):
    t = tiny_tables()
    t["infusions"]["factor"] = "msc"
    t["infusions"].loc[3, "factor"] = "pe"  # PE is a procedure, not an infusion
    _one(_problems(tmp_path, t), "infusions.csv", "row 5", "'factor'", "'pe'", "expected an infusion-kind factor")


def test_study_parameter_with_stray_keys_is_refused(tmp_path):
    """An unquoted label with commas inside a YAML flow mapping splits into stray keys: refused, not
    silently truncated."""
    text = (Path(__file__).resolve().parent.parent / "params" / "study.yaml").read_text()
    text = text.replace('label: "Ascites (0 none, 1 mild, 2 moderate-severe)"',
                        "label: Ascites (0 none, 1 mild, 2 moderate-severe)")
    p = tmp_path / "study.yaml"
    p.write_text(text)
    with pytest.raises(StudyFileError, match=r"study.yaml: parameters.ASCITES.1 mild: expected one of the keys unit, "
                                             r"label, range, uln, worse, got unknown key '1 mild' \(quote a label that contains "
                                             r"commas\)"):
        load_study(p)
    assert load_study().parameters["ASCITES"].label.endswith("moderate-severe)")


def test_single_implausible_value_is_a_warning_and_the_study_file_decides(tmp_path):
    """One albumin of 3 g/L among ordinary values is not a unit mix-up: a warning naming the row; a
    study-file `values` entry excludes it (listed, never silent) or accepts it (no warning)."""
    import yaml

    t = tiny_tables()
    row = t["labs"].index[(t["labs"]["parameter"] == "ALB") & (t["labs"]["subject_id"] == "S02")
                          & (t["labs"]["day"] == 7)][0]
    t["labs"].loc[row, "value"] = 3.0
    d = tmp_path / "ds"
    write_csv_dataset(t, d)
    report = validate(d)
    assert report.ok, report.problems
    assert any(f"labs row {row + 2}: ALB = 3 g/L is implausible" in w for w in report.warnings)
    raw = yaml.safe_load(default_study_path().read_text())
    for action in ("exclude", "accept"):
        raw["values"] = [{"subject_id": "S02", "parameter": "ALB", "day": 7, "action": action,
                          "reason": "transcription error confirmed by the site"}]
        (d / "study.yaml").write_text(yaml.safe_dump(raw))
        trial = load(d)
        kept = ((trial.labs["subject_id"] == "S02") & (trial.labs["parameter"] == "ALB") & (trial.labs["day"] == 7)).sum()
        assert kept == (0 if action == "exclude" else 1)
        done = {"exclude": "excluded", "accept": "accepted"}[action]
        assert any(f"{done} by the study file: transcription error" in w for w in trial.warnings)
        assert not any("is implausible" in w for w in trial.warnings)
        assert trial.labs.attrs == {}  # the validated tables hand off as Parquet (trialkit run)
        write_validated(trial, tmp_path / f"handoff-{action}")


def test_unit_mixup_is_called_on_the_distribution(tmp_path):
    """Every albumin in g/dL under a g/L declaration is a mix-up; one genuine bilirubin of 0.1 mg/dL
    written as 1.71 µmol/L (below the plausible range) among ordinary values is only a warning."""
    t = tiny_tables()
    m = t["labs"]["parameter"] == "ALB"
    t["labs"].loc[m, "value"] = t["labs"].loc[m, "value"] / 10
    _one(_problems(tmp_path / "a", t), "labs.csv", "ALB values are implausible in g/L but ordinary in g/dL",
         "likely unit mix-up")
    t = tiny_tables()
    row = t["labs"].index[(t["labs"]["parameter"] == "TBIL") & (t["labs"]["day"] == 28)][0]
    t["labs"].loc[row, "value"] = 1.71
    write_csv_dataset(t, tmp_path / "b")
    report = validate(tmp_path / "b")
    assert report.ok and any(f"labs row {row + 2}: TBIL = 1.71 umol/L is implausible" in w for w in report.warnings)


def test_large_file_paths_give_the_same_trial_and_problems(tmp_path, monkeypatch):
    """Files of 100,000+ rows take pyarrow's CSV parser and number cast (trialkit.data.load); forced onto
    the default dataset they give the same validated tables, and the same problems for bad cells."""
    from trialkit.data import load as load_module
    from trialkit.simulate import write_simulation

    ds = tmp_path / "ds"
    write_simulation(ds, seed=1)
    labs = pd.read_csv(ds / "labs.csv", dtype=str, keep_default_na=False)
    labs.loc[3, "value"] = "4,5"  # quoted in the file: the csv module and pandas' parser
    labs.loc[7, "day"] = "seven"
    bad = tmp_path / "bad"
    shutil.copytree(ds, bad)
    labs.to_csv(bad / "labs.csv", index=False)
    subjects = pd.read_csv(ds / "subjects.csv", dtype=str, keep_default_na=False)
    subjects.loc[2, "age"] = "forty"  # unquoted: the fast paths, then to_numeric for the bad column
    subjects.to_csv(bad / "subjects.csv", index=False)
    before_ok, before_bad = load(ds), [str(p) for p in validate(bad).problems]
    monkeypatch.setattr(load_module, "_ARROW_ROWS", 0)
    after_ok, after_bad = load(ds), [str(p) for p in validate(bad).problems]
    for name, df in before_ok.tables().items():
        assert (df is None and after_ok.tables()[name] is None) or df.equals(after_ok.tables()[name]), name
    assert after_bad == before_bad and len(before_bad) == 3


def test_validate_piped_into_a_reader_that_stops_gives_no_traceback(tmp_path, monkeypatch, capsys):
    """`trialkit validate DIR | head -1`: when the reader has closed the pipe, writing raises
    BrokenPipeError; the command ends quietly with exit 1 instead of a traceback."""
    import io
    import sys

    write_csv_dataset(tiny_tables(), tmp_path / "d")

    class ClosedPipe(io.StringIO):
        def __init__(self, fd: int):
            super().__init__()
            self._fd = fd

        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def fileno(self) -> int:
            return self._fd

    with open(tmp_path / "sink", "w") as sink:
        monkeypatch.setattr(sys, "stdout", ClosedPipe(sink.fileno()))
        assert main(["validate", str(tmp_path / "d")]) == 1
