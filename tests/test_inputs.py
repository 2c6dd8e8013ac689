"""Incremental re-runs: each kind of input changed re-executes exactly the notebooks that depend on it.

Runs the two small fixture notebooks (tests/fixtures/notebooks/report) into one report folder, again
and again, changing one input at a time.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from trialkit.cli import main
from trialkit.report import inputs
from trialkit.report.runner import run_report

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks" / "report"
BOTH = {"01_summary", "02_outcomes"}


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != "manifest.json"}


@pytest.fixture
def setup(tmp_path):
    nbs = tmp_path / "nbs"
    shutil.copytree(FIXTURES, nbs)
    params = {"name": "inc", "outputs": str(tmp_path / "outputs"), "notebooks": str(nbs), "n_subjects": 40}

    def run(force=False, **changes):
        f = tmp_path / "params.yaml"
        f.write_text(yaml.safe_dump({**params, **changes}))
        result = run_report(f, jobs=2, progress=False, force=force)
        return {r.name for r in result.notebooks if r.status == "done"}, result

    first, result = run()
    assert first == BOTH
    return {"run": run, "nbs": nbs, "target": result.target, "params": params, "tmp": tmp_path}


def test_nothing_changed_reuses_everything_and_republishes_an_identical_report(setup):
    before = _digest(setup["target"])
    ran, result = setup["run"]()
    assert ran == set() and {r.status for r in result.notebooks} == {"reused"}
    assert _digest(setup["target"]) == before
    manifest = json.loads((setup["target"] / "manifest.json").read_text())
    assert [n["status"] for n in manifest["notebooks"]] == ["reused", "reused"]
    assert all(len(n["inputs_sha256"]) == 64 and f"{n['name']}.ipynb" in n["files"] for n in manifest["notebooks"])
    assert setup["run"](force=True)[0] == BOTH, "--force re-executes everything"


@pytest.mark.parametrize("change, expected", [
    ({"alpha": 0.01}, BOTH),                                         # injected into every notebook
    ({"notebook_parameters": {"01_summary": {"label": "other"}}}, {"01_summary"}),  # one notebook's parameter
    ({"horizons": {"primary": 200}}, BOTH),                          # the study.yaml the notebooks read
    ({"n_subjects": 44}, BOTH),                                      # the scenario and the simulated data
    ({"seed": 7}, BOTH),
    ({"code": "show"}, BOTH),                                        # how the pages are rendered
    ({"name": "inc", "cell_timeout": 600}, set()),                   # nothing the outputs depend on
])
def test_a_changed_parameter_reruns_exactly_the_notebooks_using_it(setup, change, expected):
    assert setup["run"](**change)[0] == expected


def test_an_edited_notebook_reruns_only_itself(setup):
    path = setup["nbs"] / "02_outcomes.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"].append({"cell_type": "markdown", "id": "added", "metadata": {}, "source": "One more sentence."})
    path.write_text(json.dumps(nb))
    assert setup["run"]()[0] == {"02_outcomes"}
    assert "One more sentence." in (setup["target"] / "02_outcomes.html").read_text()
    assert setup["run"]()[0] == set()


def test_a_changed_scenario_file_reruns_everything(setup):
    scenario = yaml.safe_load((ROOT / "params" / "scenarios" / "default.yaml").read_text())
    f = setup["tmp"] / "scenario.yaml"
    f.write_text(yaml.safe_dump({**scenario, "study": str(ROOT / "params" / "study.yaml")}))
    assert setup["run"](scenario=str(f))[0] == BOTH
    assert setup["run"](scenario=str(f))[0] == set()
    f.write_text(yaml.safe_dump({**scenario, "study": str(ROOT / "params" / "study.yaml"), "seed": 99}))
    assert setup["run"](scenario=str(f))[0] == BOTH


def test_changed_data_or_study_file_reruns_everything(setup):
    from conftest import tiny_tables, write_csv_dataset

    data = setup["tmp"] / "tiny"
    write_csv_dataset(tiny_tables(), data)
    study_file = setup["tmp"] / "study.yaml"
    shutil.copyfile(ROOT / "params" / "study.yaml", study_file)
    real = {"dataset": str(data), "n_subjects": None, "study": str(study_file)}
    assert setup["run"](**real)[0] == BOTH
    assert setup["run"](**real)[0] == set()
    labs = data / "labs.csv"
    labs.write_text(labs.read_text().replace(",300.0,", ",301.0,", 1))
    assert setup["run"](**real)[0] == BOTH
    assert setup["run"](**real)[0] == set()
    study_file.write_text(study_file.read_text().replace("title: ", "title: Edited ", 1))
    assert setup["run"](**real)[0] == BOTH


def test_changed_software_reruns_everything(setup, monkeypatch):
    monkeypatch.setattr(inputs, "source_digest", lambda: "0" * 64)  # as if trialkit or the lock file changed
    assert setup["run"]()[0] == BOTH


def test_source_digest_follows_the_package_files_and_the_lock_file(tmp_path):
    pkg, lock = tmp_path / "pkg", tmp_path / "requirements-lock.txt"
    pkg.mkdir()
    (pkg / "a.py").write_text("x = 1\n")
    lock.write_text("numpy==1\n")
    first = inputs.source_digest(str(pkg), str(lock))
    (pkg / "a.py").write_text("x = 2\n")
    second = inputs.source_digest(str(pkg), str(lock))
    lock.write_text("numpy==2\n")
    third = inputs.source_digest(str(pkg), str(lock))
    assert len({first, second, third}) == 3


def test_an_edited_output_is_not_reused(setup):
    table = setup["target"] / "tables" / "fixture_events.csv"
    table.write_text(table.read_text() + "edited,1\n")
    assert setup["run"]()[0] == {"02_outcomes"}
    assert "edited" not in table.read_text()


def test_cli_force_flag(setup, capsys):
    f = setup["tmp"] / "params.yaml"
    assert main(["run", "--params", str(f)]) == 0
    assert "reused" in capsys.readouterr().err
    assert main(["run", "--params", str(f), "--force"]) == 0
    m = json.loads((setup["target"] / "manifest.json").read_text())
    assert [n["status"] for n in m["notebooks"]] == ["done", "done"]
