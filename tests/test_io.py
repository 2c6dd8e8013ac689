"""Round trips through CSV, Parquet and Excel give the same validated Trial; writes are atomic."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import tiny_tables, write_csv_dataset
from trialkit.data.io import atomic_dir, write_dataset, write_tables
from trialkit.data.load import build_trial, load, validate
from trialkit.study import load_study


@pytest.fixture
def trial():
    return build_trial(tiny_tables(), load_study(), "tiny")


def _same(a, b):
    for name, df in a.tables().items():
        other = b.tables()[name]
        pd.testing.assert_frame_equal(df, other, check_dtype=True, obj=name)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_round_trip(tmp_path, trial, fmt):
    out = tmp_path / fmt
    write_dataset(trial, out, fmt)
    path = out / "trial.xlsx" if fmt == "xlsx" else out
    back = load(path, study=out / "study.yaml")
    _same(trial, back)
    assert back.study.arm_ids == trial.study.arm_ids


def test_dataset_carries_its_study_file(tmp_path, trial):
    write_dataset(trial, tmp_path / "ds", "csv")
    assert (tmp_path / "ds" / "study.yaml").is_file()
    assert load(tmp_path / "ds").study == trial.study


def test_csv_writing_is_deterministic(tmp_path, trial):
    write_dataset(trial, tmp_path / "a", "csv")
    write_dataset(trial, tmp_path / "b", "csv")
    for f in (tmp_path / "a").iterdir():
        assert f.read_bytes() == (tmp_path / "b" / f.name).read_bytes()


def test_excel_with_numeric_ids_and_real_dates(tmp_path):
    """A workbook as a hospital would send it: numeric ids, Excel dates, extra sheets ignored."""
    t = tiny_tables()
    ids = {"S01": 101, "S02": 102, "S03": 103, "S04": 104}
    for df in t.values():
        df["subject_id"] = df["subject_id"].map(ids)
    t["subjects"]["randomization_date"] = pd.to_datetime(t["subjects"]["randomization_date"])
    path = tmp_path / "hospital.xlsx"
    with pd.ExcelWriter(path) as xw:
        for name, df in t.items():
            df.to_excel(xw, sheet_name=name.capitalize() if name == "labs" else name, index=False)
        pd.DataFrame({"note": ["ignore me"]}).to_excel(xw, sheet_name="README", index=False)
    trial = load(path)
    assert trial.subjects["subject_id"].tolist() == ["101", "102", "103", "104"]
    assert str(trial.subjects["randomization_date"].iloc[0].date()) == "2013-01-05"


def test_corrupt_excel_is_reported(tmp_path):
    p = tmp_path / "bad.xlsx"
    p.write_bytes(b"not a zip file")
    report = validate(p)
    assert not report.ok and "unreadable Excel workbook" in str(report.problems[0])


def test_failed_write_leaves_previous_output_untouched(tmp_path, trial):
    out = tmp_path / "ds"
    write_dataset(trial, out, "csv")
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(RuntimeError):
        with atomic_dir(out, overwrite=True) as tmp:
            (tmp / "half.csv").write_text("x")
            raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.tmp")]


def test_unknown_format_is_refused(tmp_path, trial):
    with pytest.raises(ValueError, match="unknown format"):
        write_tables(trial.tables(), tmp_path / "x", "json")


def test_load_brings_a_simulated_datasets_truth(tmp_path):
    """A folder the simulator wrote carries truth.json: load() attaches it (latent stays in memory only);
    an unreadable truth.json is a validation problem naming the file, not a traceback."""
    import json

    from trialkit import load, simulate
    from trialkit.errors import ValidationError
    from trialkit.simulate import write_simulation

    out = tmp_path / "ds"
    write_simulation(out, seed=4)
    t = load(out)
    assert t.truth == json.loads((out / "truth.json").read_text()) and t.latent is None
    assert t.truth["hazard_ratios"] == simulate(seed=4).truth["hazard_ratios"]
    (out / "truth.json").write_text("{not json")
    with pytest.raises(ValidationError, match=r"truth.json: not readable JSON"):
        load(out)


@pytest.mark.parametrize("argv, fragment", [
    (["simulate", "--out", "X", "--n-subjects", "0"], "--n-subjects: must be at least 1"),
    (["simulate", "--out", "X", "--seed", "-5"], "--seed: must be >= 0"),
    (["simulate", "--out", "X", "--seed", "abc"], "expected a whole number"),
    (["run", "--jobs", "0"], "--jobs: must be at least 1"),
])
def test_cli_rejects_impossible_numbers_without_traceback(argv, fragment, capsys):
    from trialkit.cli import main

    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and fragment in err and "Traceback" not in err


def test_cli_simulate_never_overwrites_a_foreign_folder(tmp_path, capsys):
    from trialkit.cli import main

    (tmp_path / "notes.txt").write_text("mine")
    assert main(["simulate", "--out", str(tmp_path)]) == 2
    assert "refusing to replace it" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


# ------------------------------------------------------------------------------------------------
# One line, exit 2, instead of a traceback (issue 12)
# ------------------------------------------------------------------------------------------------
def test_validate_reads_the_folder_simulate_wrote_as_a_workbook(tmp_path, capsys):
    from trialkit.cli import main

    assert main(["simulate", "--out", str(tmp_path / "xl"), "--format", "xlsx", "--seed", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "xl").iterdir()) == ["study.yaml", "trial.xlsx", "truth.json"]
    assert main(["validate", str(tmp_path / "xl")]) == 0
    assert f"{tmp_path / 'xl'}: valid" in capsys.readouterr().out
    shutil.copy(tmp_path / "xl" / "trial.xlsx", tmp_path / "xl" / "copy.xlsx")
    assert main(["validate", str(tmp_path / "xl")]) == 2
    assert "no CSV/Parquet tables but 2 workbooks (copy.xlsx, trial.xlsx)" in capsys.readouterr().err


def test_time_zone_aware_dates_are_a_problem_not_a_traceback(tmp_path, capsys):
    from trialkit.cli import main

    t = tiny_tables()
    out = tmp_path / "pq"
    out.mkdir()
    for name, df in t.items():
        if df is not None:
            df.to_parquet(out / f"{name}.parquet", index=False)
    s = pd.read_parquet(out / "subjects.parquet")
    s["randomization_date"] = pd.to_datetime(s["randomization_date"]).dt.tz_localize("Asia/Shanghai")
    s.to_parquet(out / "subjects.parquet", index=False)
    assert main(["validate", str(out)]) == 2
    err = capsys.readouterr().err
    assert ("subjects.parquet, column 'randomization_date': expected dates without a time zone (the column holds "
            "times in Asia/Shanghai)") in err and "Traceback" not in err
    csv = tmp_path / "csv"
    t["subjects"]["randomization_date"] = ["2013-01-05T08:00:00+08:00", "2013-01-07", "2013-02-01", "2013-03-10"]
    write_csv_dataset(t, csv)
    assert main(["validate", str(csv)]) == 2
    assert ("row 2, column 'randomization_date': value '2013-01-05T08:00:00+08:00': expected a date YYYY-MM-DD "
            "without a time zone") in capsys.readouterr().err


def test_whole_numbers_beyond_exact_range_are_a_problem_not_a_traceback(tmp_path, capsys):
    from trialkit.cli import main

    t = tiny_tables()
    t["events"]["day"] = t["events"]["day"].astype(float)
    t["events"].loc[0, "day"] = 1e20
    write_csv_dataset(t, tmp_path / "ds")
    assert main(["validate", str(tmp_path / "ds")]) == 2
    err = capsys.readouterr().err
    assert ("events.csv, row 2, column 'day': value 1e+20: expected a whole number between -9007199254740991 and "
            "9007199254740991") in err and "Traceback" not in err


def test_power_scheduler_where_nothing_listens_fails_fast(capsys):
    import socket
    import time

    from trialkit.cli import main

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t0 = time.monotonic()
    assert main(["power", "--scheduler", f"tcp://127.0.0.1:{port}", "--n-trials", "2", "--no-progress"]) == 2
    assert time.monotonic() - t0 < 10  # refused at once, not after distributed's 30 s timeout
    err = capsys.readouterr().err
    assert f"error: --scheduler tcp://127.0.0.1:{port}: nothing answers there (ConnectionRefusedError" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------------
# Validate once, hand the validated tables to the kernels (issue 12, scale)
# ------------------------------------------------------------------------------------------------
def test_handoff_returns_exactly_the_validated_trial_and_only_for_its_dataset(tmp_path, monkeypatch):
    from trialkit.data import handoff
    from trialkit.data import load as load_module

    data = tmp_path / "ds"
    write_csv_dataset(tiny_tables(), data)
    study = tmp_path / "study.yaml"
    shutil.copy(load_study(None).path, study)
    trial = load(data, study)
    folder = handoff.write_validated(trial, tmp_path / "input", study_file=study, dataset=data)
    again = handoff.read_validated(folder, study, dataset=data)
    for name, df in trial.tables().items():
        if df is not None:  # the long tables' text columns come back as categoricals, same values
            pd.testing.assert_frame_equal(getattr(again, name).astype(df.dtypes.to_dict()), df)
    assert isinstance(again.labs["parameter"].dtype, pd.CategoricalDtype)
    assert list(again.labs["parameter"].cat.categories) == sorted(trial.labs["parameter"].unique())
    assert again.warnings == trial.warnings and again.study.id == trial.study.id

    assert handoff.read_validated(folder, study, dataset=tmp_path / "other") is None     # another dataset
    other = tmp_path / "other.yaml"
    other.write_text(study.read_text() + "\n# edited\n")
    assert handoff.read_validated(folder, other, dataset=data) is None                  # another study file

    monkeypatch.setenv(handoff.HANDOFF_ENV, str(folder))
    monkeypatch.setattr(load_module, "validate", lambda *a, **k: pytest.fail("validated again"))
    assert load(data, study).labs.equals(again.labs)                                     # the fast path

    table = folder / "labs.parquet"
    table.write_bytes(table.read_bytes()[:-10] + b"0123456789")                          # tampered with
    assert handoff.read_validated(folder, study, dataset=data) is None
    with pytest.raises(pytest.fail.Exception, match="validated again"):
        load(data, study)                                                                # falls back


def test_handoff_reads_long_text_columns_dictionary_encoded_with_sorted_categories(tmp_path):
    """The lean read (pyarrow ``read_dictionary``) equals reading the strings and converting them: the
    same values, missing cells kept, categories sorted whatever order the row groups met them in, and a
    column with more than one distinct value per two rows left as the same text dtype as a plain read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trialkit.data.handoff import _read_table

    rng = np.random.default_rng(5)
    n = 5000
    df = pd.DataFrame({"subject_id": rng.choice([f"S{i:03d}" for i in range(300, 0, -1)], n),
                       "day": rng.integers(0, 300, n),
                       "visit": pd.Series(rng.choice(["W8", "D0", "W12", None], n), dtype="str"),
                       "parameter": rng.choice(["TBIL", "ALB", "INR"], n),
                       "value": rng.normal(size=n),
                       "note": [f"free text {i}" for i in range(n)]})         # nearly all distinct
    path = tmp_path / "labs.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=700)
    plain = pd.read_parquet(path, engine="pyarrow")
    lean = _read_table(path, "labs")
    assert lean["visit"].isna().sum() == plain["visit"].isna().sum() > 0
    for col in ("subject_id", "visit", "parameter"):
        assert isinstance(lean[col].dtype, pd.CategoricalDtype)
        assert list(lean[col].cat.categories) == sorted(plain[col].dropna().unique())
    assert lean["note"].dtype == plain["note"].dtype                                   # stays text
    pd.testing.assert_frame_equal(lean.astype(plain.dtypes.to_dict()), plain)
    pd.testing.assert_frame_equal(_read_table(path, "subjects"), plain)                # other tables: as stored
    assert lean.sort_values(["subject_id", "day"], kind="stable").index.equals(
        plain.sort_values(["subject_id", "day"], kind="stable").index)                # sorts as the strings did
