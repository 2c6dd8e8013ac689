"""The papermill report runner (trialkit.report.runner and the modules it uses) and publishing (pages, privacy, index,
manifest), and nbval.

Runner tests use the tiny notebooks of tests/fixtures/notebooks/ (one kernel start + imports each):
``report/`` saves tables and figures and prints what was injected, ``failing/`` raises mid-run,
``leaky/`` prints a subject id. The committed notebooks as files (up to date, parameters cells,
kernelspec) are checked in tests/test_notebooks.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import tiny_tables, write_csv_dataset
from trialkit.cli import main
from trialkit.report import index, jobs, kernels, notebooks, pages, privacy, runner
from trialkit.report.jobs import NotebookFailed
from trialkit.report.params import ParamsError, RunParams, load_params
from trialkit.report.privacy import PrivacyError, find_identifiers_in_text
from trialkit.report.runner import run_report

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"


def _params(tmp: Path, _file: str = "params.yaml", **kw) -> Path:
    p = tmp / _file
    p.write_text(yaml.safe_dump(kw, sort_keys=False))
    return p


def _digest(folder: Path, skip=("manifest.json",)) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name not in skip}


def _cell_index(nb_path: Path, needle: str) -> int:
    """1-based number of the cell whose source contains ``needle``."""
    nb = nbformat.read(str(nb_path), as_version=4)
    return next(i for i, c in enumerate(nb.cells, start=1) if needle in c.source)


# ------------------------------------------------------------------------------------------------
# Run parameters and notebook discovery
# ------------------------------------------------------------------------------------------------
def test_default_params_file():
    p = load_params(ROOT / "params" / "default.yaml")
    assert (p.name, p.dataset, p.alpha, p.code, p.allow_listings) == ("default", "simulate", 0.05, "fold", False)
    assert p.outputs == "outputs" and p.notebooks == "notebooks"


def test_two_arm_params_file_names_a_two_arm_study():
    p = load_params(ROOT / "params" / "two_arm.yaml")
    study = yaml.safe_load((ROOT / p.study).read_text())
    assert len(study["arms"]) == 2 and len(study["factors"]) == 1
    assert set(p.scenario["allocation"]["ratio"]) == {a["id"] for a in study["arms"]}


def test_two_arm_params_run(tmp_path):
    """params/two_arm.yaml (inline scenario, two-arm study file) simulates and runs; the notebooks
    see the two-arm design and its own horizons."""
    raw = yaml.safe_load((ROOT / "params" / "two_arm.yaml").read_text())
    raw.update(outputs=str(tmp_path), notebooks=str(FIXTURES / "report"), study=str(ROOT / raw["study"]))
    out = run_report(_params(tmp_path, **raw), only=["01"], progress=False).target
    nb = nbformat.read(str(out / "01_summary.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "arms ['soc', 'ucmsc']" in printed and "horizons {'primary': 168, 'secondary': 84}" in printed
    assert (out / "tables" / "fixture_arm_sizes.csv").read_text() == "arm,n\nsoc,30\nucmsc,30\n"
    m = json.loads((out / "manifest.json").read_text())
    assert [r["path"] for r in m["inputs"] if r["role"] == "study"] == ["params/study_two_arm.yaml"]
    assert [r["path"] for r in m["inputs"] if r["role"] == "scenario"] == ["params/scenarios/default.yaml"]


@pytest.mark.parametrize("raw, fragment", [
    ({"nmae": "x"}, "nmae: expected one of the keys name, outputs, "),
    ({"code": "folded"}, "code: expected one of show, fold, hide"),
    ({"alpha": 5}, "alpha: expected a number strictly between 0 and 1, got 5"),
    ({"dataset": "data/x", "seed": 3}, "seed: expected null when dataset is not 'simulate' (dataset: 'data/x'), got 3"),
    ({"horizons": {"primary": -1}}, "horizons.primary"),
    ({"name": "../up"}, "name: expected a folder name"),
])
def test_bad_params_name_file_and_key(tmp_path, raw, fragment):
    path = _params(tmp_path, **raw)
    with pytest.raises(ParamsError) as exc:
        load_params(path)
    assert str(path) in str(exc.value) and fragment in str(exc.value)


def test_cli_bad_params_exit_2_without_traceback(tmp_path, capsys):
    path = _params(tmp_path, code="sideways")
    assert main(["run", "--params", str(path)]) == 2
    err = capsys.readouterr().err
    assert "code: expected one of" in err and "Traceback" not in err


def test_unknown_notebook_parameter_exits_2_naming_it_and_the_real_ones(tmp_path, capsys):
    path = _params(tmp_path, outputs=str(tmp_path / "out"), notebooks=str(FIXTURES / "report"),
                   notebook_parameters={"01_summary": {"lable": "x"}})
    assert main(["run", "--params", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert ("notebook_parameters.01_summary.lable: expected one of the keys dataset, study_file, scenario, seed, alpha, "
            "out_dir, allow_listings, label, rendezvous, got unknown key 'lable' (did you mean 'label'?)") in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    path = _params(tmp_path, outputs=str(tmp_path / "out"), notebooks=str(FIXTURES / "report"),
                   notebook_parameters={"01_sumary": {"label": "x"}})
    assert main(["run", "--params", str(path), "--only", "02"]) == 2
    err = capsys.readouterr().err
    assert ("notebook_parameters.01_sumary: expected a notebook of" in err and "(have: 01_summary, 02_outcomes), got "
            "unknown notebook '01_sumary' (did you mean '01_summary'?)" in err)


def test_discover_and_only():
    report = FIXTURES / "report"
    assert [p.stem for p in notebooks.discover_notebooks(report)] == ["01_summary", "02_outcomes"]
    assert [p.stem for p in notebooks.discover_notebooks(report, ["outcomes"])] == ["02_outcomes"]
    assert [p.stem for p in notebooks.discover_notebooks(report, ["01"])] == ["01_summary"]
    with pytest.raises(ParamsError, match="--only nope: no such notebook"):
        notebooks.discover_notebooks(report, ["nope"])


def test_notebook_parameters_reads_the_parameters_cell():
    declared = notebooks.notebook_parameters(FIXTURES / "report" / "01_summary.ipynb")
    assert set(notebooks.STANDARD_PARAMETERS) <= set(declared)
    assert declared["label"] == "default label" and declared["alpha"] == 0.05 and declared["study_file"] is None


def test_kernels_are_this_interpreter_with_the_run_environment(tmp_path):
    """Whatever kernelspecs exist elsewhere, notebooks run in this venv's Python, in the job's
    folder, with the deterministic environment, on IPC sockets (no TCP ports)."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os, sys, json\n"
        "cf = json.load(open(get_ipython().kernel.config['IPKernelApp']['connection_file']))\n"
        "print(sys.executable, os.getcwd(), os.environ['PYTHONHASHSEED'], os.environ['OPENBLAS_NUM_THREADS'], "
        "cf['transport'])")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src = tmp_path / "01_probe.ipynb"
    nbformat.write(nb, str(src))
    job = jobs.NotebookJob(name="01_probe", source=src, output=tmp_path / "out.ipynb", parameters={}, cwd=tmp_path)
    [res] = kernels.execute_notebooks([job], 1)
    assert res.status == "done", res.describe()
    out = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4).cells[0].outputs[0]["text"].split()
    assert out == [sys.executable, str(tmp_path), "0", "1", "ipc"]


# ------------------------------------------------------------------------------------------------
# A full run of the fixture notebooks (simulated data, parallel), and a second identical run
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run1(tmp_path_factory):
    base = tmp_path_factory.mktemp("run1")
    rendezvous = tmp_path_factory.mktemp("rendezvous")
    params = _params(base, outputs=str(base / "outputs"), name="fx", notebooks=str(FIXTURES / "report"),
                     alpha=0.01, horizons={"primary": 200},
                     notebook_parameters={"01_summary": {"label": "injected label", "rendezvous": str(rendezvous)},
                                          "02_outcomes": {"rendezvous": str(rendezvous)}})
    result = run_report(params, jobs=2, progress=False)
    return {"result": result, "params": params, "base": base, "rendezvous": rendezvous}


def test_run_publishes_the_complete_report(run1):
    out = run1["result"].target
    assert out == run1["base"] / "outputs" / "fx"
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for stem in ("01_summary", "02_outcomes"):
        assert {f"{stem}.ipynb", f"{stem}.html"} <= names
    assert {"index.html", "manifest.json", "study.yaml", "tables/fixture_arm_sizes.csv", "tables/fixture_events.csv",
            "figures/fixture_arm_sizes.png", "figures/fixture_arm_sizes.svg", "figures/fixture_walk.png",
            "figures/fixture_walk.svg", "data/subjects.csv", "data/truth.json", "scenario.yaml"} <= names
    # nothing left beside the report: no build folder, no old copy
    assert sorted(p.name for p in out.parent.iterdir()) == ["fx"]


def test_parameters_are_injected(run1):
    out = run1["result"].target
    nb = nbformat.read(str(out / "01_summary.ipynb"), as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "dataset=simulate study=study.yaml alpha=0.01 out_dir=. label=injected label" in printed
    assert "horizons {'primary': 200, 'secondary': 168}" in printed  # run parameters override the study's
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and 'label = "injected label"' in injected[0].source
    assert nb.metadata.papermill["parameters"]["alpha"] == 0.01
    assert yaml.safe_load((out / "study.yaml").read_text())["horizons"] == {"primary": 200, "secondary": 168}


def test_notebooks_simulate_exactly_the_published_data(run1):
    """Each notebook simulates in memory (keeping the simulation truth) from the report's study.yaml,
    scenario.yaml and seed; the published data/ must be that very trial, table by table."""
    import pandas as pd

    from trialkit import load, open_dataset

    out = run1["result"].target
    m = json.loads((out / "manifest.json").read_text())
    injected = m["injected_parameters"]["01_summary"]
    assert (injected["dataset"], injected["study_file"], injected["scenario"]) == ("simulate", "study.yaml", "scenario.yaml")
    old = os.getcwd()
    os.chdir(out)  # the notebooks' working directory
    try:
        mine = open_dataset("simulate", study="study.yaml", scenario="scenario.yaml", seed=injected["seed"])
    finally:
        os.chdir(old)
    published = load(out / "data")
    assert mine.truth is not None and mine.latent is not None
    assert json.loads((out / "data" / "truth.json").read_text())["horizons"]["primary"] == 200
    for name, table in published.tables().items():
        pd.testing.assert_frame_equal(table.reset_index(drop=True), mine.tables()[name].reset_index(drop=True))


def test_n_subjects_is_folded_into_the_published_scenario(tmp_path):
    params = load_params(_params(tmp_path, n_subjects=17, scenario="null"))
    study, files = runner._write_scenario("null", params, tmp_path / "scenario.yaml")
    from trialkit.simulate import load_scenario

    sc = load_scenario(tmp_path / "scenario.yaml")
    assert (sc.total, sc.allocation_ratio, sc.study, sc.name) == (17, {"control": 1, "msc": 1, "pe": 1, "pe_msc": 1},
                                                                   None, "null")
    assert study.name == "study.yaml" and not sc.effects
    assert [f.name for f in files] == ["null.yaml", "default.yaml"]  # the file and the one it extends


def test_notebooks_ran_in_parallel(run1):
    """Each fixture notebook waits (up to 2 min) until the other has started: run one at a time,
    the first would time out and the run would fail."""
    assert sorted(p.name for p in run1["rendezvous"].iterdir()) == ["01_summary", "02_outcomes"]
    assert [r.status for r in run1["result"].notebooks] == ["done", "done"]


def test_executed_notebooks_carry_no_run_dependent_metadata(run1):
    out = run1["result"].target
    for stem in ("01_summary", "02_outcomes"):
        text = (out / f"{stem}.ipynb").read_text()
        nb = json.loads(text)
        assert not any("papermill" in c["metadata"] or "execution" in c["metadata"] for c in nb["cells"])
        assert not {"start_time", "end_time", "duration"} & set(nb["metadata"]["papermill"])
        assert ".build-" not in text and str(run1["base"]) not in text
        html = (out / f"{stem}.html").read_text()
        assert ".build-" not in html and str(run1["base"]) not in html


def test_manifest_content(run1):
    out = run1["result"].target
    m = json.loads((out / "manifest.json").read_text())
    assert m["report"] == "fx" and m["parameters"]["alpha"] == 0.01
    assert m["injected_parameters"]["01_summary"]["label"] == "injected label"
    roles = {}
    for row in m["inputs"]:
        roles.setdefault(row["role"], []).append(row["path"])
        path = out / row["path"] if row["role"] == "data" else Path(row["path"])
        path = path if path.is_absolute() else ROOT / path
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row["sha256"], row
    assert sorted(roles["data"]) == sorted(f"data/{p.name}" for p in (out / "data").iterdir())
    assert roles["scenario"] == ["params/scenarios/default.yaml"]
    assert roles["params"] == [str(run1["params"])]
    assert roles["notebook"] == [f"tests/fixtures/notebooks/report/{s}.ipynb" for s in ("01_summary", "02_outcomes")]
    from importlib.metadata import version

    assert m["packages"]["numpy"] == version("numpy") and m["packages"]["papermill"] == version("papermill")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    assert (m["git"] or {}).get("commit") == (head.stdout.strip() if head.returncode == 0 else None)
    assert m["started"] <= m["finished"]
    assert [(n["name"], n["status"]) for n in m["notebooks"]] == [("01_summary", "done"), ("02_outcomes", "done")]
    assert all(n["seconds"] > 0 for n in m["notebooks"])
    listed = {o["path"]: o["sha256"] for o in m["outputs"]}
    assert listed == {k: v for k, v in _digest(out).items() if not k.startswith("data/")}


def test_index_links_notebooks_tables_figures(run1):
    html = (run1["result"].target / "index.html").read_text()
    for ref in ('href="01_summary.html"', 'href="02_outcomes.ipynb"', 'href="tables/fixture_events.csv"',
                'src="figures/fixture_walk.png"', 'href="manifest.json"', "Fixture summary"):
        assert ref in html
    assert "Not produced in this run." in html  # fixture notebooks save no headline table
    assert "INTERNAL" not in html
    assert "primary horizon: day 200 ·" in html and "secondary horizon: day 168 (week 24)" in html  # run params: 200


def test_two_runs_give_identical_outputs(run1, tmp_path):
    """Every file but manifest.json is byte-identical (text, tables, figures, HTML, notebooks)."""
    for f in run1["rendezvous"].iterdir():
        f.unlink()  # the second run must rendezvous again
    params = yaml.safe_load(run1["params"].read_text())
    params["outputs"] = str(tmp_path / "outputs")
    second = run_report(_params(tmp_path, **params), jobs=2, progress=False).target
    first = run1["result"].target
    a, b = _digest(first), _digest(second)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert any(k.endswith(".png") for k in a) and any(k.endswith(".svg") for k in a)


def test_headline_results_read_saved_tables(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "efficacy_cox_factorial.csv").write_text(
        "term,label,estimate,ci_low,ci_high,p_value,n,extra\nmsc,UC-MSC,0.61,0.4,0.93,0.0004,120,x\n"
        "pe,PE,0.8,0.5,1.2,0.3,120,y\n")
    (tables / "safety_infusion_reactions.csv").write_text(
        "arm,reaction,n_patients,patients_with,estimate,ci_low,ci_high\nmsc,fever,29,3,0.1034,0.02,0.27\n"
        "msc,any,29,5,0.1724,0.058,0.358\n")
    (tables / "safety_serious_aes.csv").write_text("")  # unreadable: noted, not fatal
    sections = {s["title"]: s for s in index.headline_results(tables, {"msc": "UC-MSC"})}
    cox = sections["Treatment effects on primary endpoint"]
    assert cox["table"] == "efficacy_cox_factorial"
    assert cox["columns"] == ["label", "estimate", "ci_low", "ci_high", "p_value", "n"]
    assert cox["rows"] == [["UC-MSC", "0.61", "0.4", "0.93", "<0.001", "120"], ["PE", "0.8", "0.5", "1.2", "0.300", "120"]]
    reactions = sections["Infusion reactions"]
    assert reactions["rows"] == [["UC-MSC", "29", "5", "0.172", "0.058", "0.358"]]  # only reaction == any
    assert sections["Serious adverse events"]["error"].startswith("could not be read")
    assert sections["Participants and follow-up"]["table"] is None


# ------------------------------------------------------------------------------------------------
# Failure: notebook and cell named, previous report untouched
# ------------------------------------------------------------------------------------------------
def test_failing_notebook_leaves_previous_report_whole(tmp_path, capsys):
    folder = FIXTURES / "failing"
    params = _params(tmp_path, outputs=str(tmp_path / "outputs"), name="rep", notebooks=str(folder))
    previous = run_report(params, only=["01"], progress=False).target
    before = {**_digest(previous), "manifest.json": hashlib.sha256((previous / "manifest.json").read_bytes()).hexdigest()}

    with pytest.raises(NotebookFailed) as exc:
        run_report(params, jobs=2, progress=False)
    msg = str(exc.value)
    cell = _cell_index(folder / "02_raises.ipynb", "raise ValueError")
    assert f"notebook 02_raises.ipynb failed in cell {cell}" in msg
    assert "ValueError: planted failure in the middle" in msg
    assert 'raise ValueError("planted failure in the middle")' in msg
    after = {**_digest(previous), "manifest.json": hashlib.sha256((previous / "manifest.json").read_bytes()).hexdigest()}
    assert after == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["rep", "rep.failed"]  # no build left over
    assert (previous.parent / "rep.failed" / "02_raises.ipynb").is_file()

    assert main(["run", "--params", str(params), "--jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert f"02_raises.ipynb failed in cell {cell}" in err and "Traceback" not in err
    assert _digest(previous) == {k: v for k, v in before.items() if k != "manifest.json"}


# ------------------------------------------------------------------------------------------------
# Privacy gate
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def tiny_dataset(tmp_path):
    d = tmp_path / "tiny"
    write_csv_dataset(tiny_tables(), d)
    return d


def test_planted_subject_id_is_refused(tmp_path, tiny_dataset, capsys):
    params = _params(tmp_path, outputs=str(tmp_path / "outputs"), name="leak", dataset=str(tiny_dataset),
                     notebooks=str(FIXTURES / "leaky"))
    with pytest.raises(PrivacyError) as exc:
        run_report(params, progress=False)
    cell = _cell_index(FIXTURES / "leaky" / "01_leaks_id.ipynb", "first subject")
    assert f"01_leaks_id.ipynb cell {cell}: 'S01'" in str(exc.value)
    assert not (tmp_path / "outputs" / "leak").exists()

    assert main(["run", "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert "refusing to publish" in err and "01_leaks_id.ipynb cell" in err and "Traceback" not in err

    allowed = run_report(params, allow_listings=True, progress=False).target
    assert "first subject: S01" in (allowed / "01_leaks_id.html").read_text()
    assert "INTERNAL REPORT" in (allowed / "index.html").read_text()
    nb = nbformat.read(str(allowed / "01_leaks_id.ipynb"), as_version=4)
    assert nb.metadata.papermill["parameters"]["allow_listings"] is True
    # a path dataset is passed relative to the report folder (no absolute paths in the report)
    assert nb.metadata.papermill["parameters"]["dataset"] == os.path.relpath(tiny_dataset, allowed)


def test_invalid_dataset_exits_2_and_leaves_nothing(tmp_path, capsys):
    t = tiny_tables()
    t["subjects"].loc[0, "age"] = 130
    data = tmp_path / "bad"
    write_csv_dataset(t, data)
    params = _params(tmp_path, outputs=str(tmp_path / "outputs"), name="bad", dataset=str(data),
                     notebooks=str(FIXTURES / "report"))
    assert main(["run", "--params", str(params)]) == 2
    err = capsys.readouterr().err
    assert "subjects.csv" in err and "'age'" in err and "Traceback" not in err
    assert list((tmp_path / "outputs").iterdir()) == []  # no report, no build folder left behind


@pytest.mark.parametrize("code", ["show", "fold", "hide"])
def test_html_code_modes_toc_and_no_external_resources(tmp_path, code):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\nIntro."),
        nbformat.v4.new_code_cell("secret_marker = 41 + 1", execution_count=1),
        nbformat.v4.new_markdown_cell("## Section A\n\n### Sub (a & b)")])
    page = pages.render_html(nb, tmp_path / "p.html", code=code, notebook_href="p.ipynb").read_text()
    assert ("secret_marker" in page) == (code != "hide")
    assert page.count('<details class="tk-code">') == (1 if code == "fold" else 0)
    assert '<a href="#Section-A">Section A</a>' in page and 'id="Section-A"' in page
    assert 'href="#Sub-(a-&amp;-b)"' in page and "<title>Title</title>" in page
    assert 'href="index.html"' in page and 'href="p.ipynb"' in page
    assert not re.search(r"""(src|href)=["']https?://""", page)  # no CDN: opens offline


@pytest.mark.parametrize("text, ids, expected", [
    ("Patient S017 died", ["S017", "S018"], ["S017"]),
    ("S0170 and XS017 and S0171_b", ["S017"], []),          # not inside another letter/digit run
    ("S017_b and visit-s018", ["S017", "S018"], ["S017", "S018"]),  # compound tokens, any case
    ("(S017), S018.", ["S017", "S018"], ["S017", "S018"]),
    ("S1 and S2", ["S1", "S2"], []),                          # shorter than 3 characters: not searched
    ("n = 120 at day 101", ["101", "120", "115"], []),       # two number-like ids: ordinary numbers
    ("ids 101, 102 and 117", ["101", "102", "117"], ["101", "102", "117"]),  # three: a listing
    ("0.101 1,102 117.5 101 102", ["101", "102", "117"], []),  # parts of decimals / grouped numbers
    ("p 0.083, 0.001 and 0.120", ["001", "083", "120"], []),  # zero-padded ids inside decimals
    ("1.75e-146 1e-120 font-size: 125%; 101px #101", ["101", "120", "125", "146"], []),
    ("120 randomized, 101 analysed", ["101", "120", "117"], []),
    ("subject 007", ["007"], []),                             # number-like: one occurrence is a number
    ("id 12-0034 seen", ["12-0034"], ["12-0034"]),
])
def test_identifier_rule(text, ids, expected):
    assert sorted(h.subject_id for h in find_identifiers_in_text(text, ids)) == expected


def test_identifier_search_ignores_embedded_images(tmp_path):
    (tmp_path / "page.html").write_text('<img src="data:image/png;base64,AAAA+S017/BBBB"><p>fine</p>')
    assert privacy.find_identifiers(tmp_path, ["S017"], []) == []
    (tmp_path / "page.html").write_text("<td>S017</td>")
    assert [h.where for h in privacy.find_identifiers(tmp_path, ["S017"], [])] == ["page.html line 1"]


# ------------------------------------------------------------------------------------------------
# make notebooks: in-place refresh is deterministic
# ------------------------------------------------------------------------------------------------
def test_refresh_notebooks_in_place_is_deterministic(tmp_path, tiny_dataset):
    src = FIXTURES / "failing" / "01_fine.ipynb"
    nb = nbformat.read(str(src), as_version=4)
    nb.cells[1].source = nb.cells[1].source.replace('dataset = "simulate"', f'dataset = "{tiny_dataset}"')
    target = tmp_path / "01_fine.ipynb"
    nbformat.write(nb, str(target))
    original_meta = [dict(c.metadata) for c in nb.cells]

    results = runner.refresh_notebooks([target], progress=False)
    assert [r.status for r in results] == ["done"]
    once = target.read_bytes()
    ran = nbformat.read(str(target), as_version=4)
    assert [dict(c.metadata) for c in ran.cells] == original_meta and "papermill" not in ran.metadata
    assert any(o.get("output_type") == "execute_result" for c in ran.cells for o in c.get("outputs", []))
    runner.refresh_notebooks([target], progress=False)
    assert target.read_bytes() == once


# ------------------------------------------------------------------------------------------------
# The committed exploratory and safety notebooks on a two-arm design
# ------------------------------------------------------------------------------------------------
def test_exploratory_and_safety_notebooks_run_on_the_two_arm_params(tmp_path):
    """``trialkit run --params params/two_arm.yaml --only 01 02``: the real notebooks, unchanged, on a
    one-factor two-arm study; no error, no stderr, the tables saved under documented names."""
    raw = yaml.safe_load((ROOT / "params" / "two_arm.yaml").read_text())
    raw.update(outputs=str(tmp_path), study=str(ROOT / raw["study"]), notebooks=str(ROOT / "notebooks"))
    out = run_report(_params(tmp_path, **raw), only=["01", "02"], progress=False).target
    for stem in ("01_exploratory", "02_safety"):
        nb = nbformat.read(str(out / f"{stem}.ipynb"), as_version=4)
        for i, c in enumerate(nb.cells, start=1):
            for o in c.get("outputs", []):
                assert o["output_type"] != "error" and o.get("name") != "stderr", (stem, i, o)
    arms = (out / "tables" / "exploratory_consort_counts.csv").read_text()
    assert "soc" in arms and "ucmsc" in arms and "pe_msc" not in arms
    documented = (ROOT / "docs" / "outputs.md").read_text()
    saved = {p.stem for p in (out / "tables").glob("*.csv")} | {p.stem for p in (out / "figures").glob("*.png")}
    assert {"exploratory_table1", "safety_infusion_reactions", "safety_cumulative_incidence"} <= saved
    assert not {s for s in saved if f"`{s}`" not in documented}, "undocumented output names"


def test_every_notebook_runs_on_a_minimal_foreign_dataset(tmp_path):
    """Data nobody here wrote: another design (arms placebo/active, one factor `drugx` of kind procedure),
    only the required tables, six lab parameters, no HBV markers, prefixed ids, read from files (no
    simulation truth). Every committed notebook runs to the end without an error or stderr output,
    skipping what the data cannot support, and nothing identifies a subject."""
    import pandas as pd

    from trialkit import simulate

    two = yaml.safe_load((ROOT / "params" / "two_arm.yaml").read_text())
    trial = simulate(study=ROOT / "params" / "study_two_arm.yaml", scenario=two["scenario"])
    study = yaml.safe_load((ROOT / "params" / "study_two_arm.yaml").read_text())
    keep = ["ALT", "TBIL", "ALB", "INR", "CREAT", "NA"]
    study["study"]["id"] = "FOREIGN-01"
    study["factors"] = {"drugx": {"label": "Drug X", "kind": "procedure", "days": [0]}}
    study["arms"] = [{"id": "placebo", "label": "Placebo", "factors": {"drugx": False}},
                     {"id": "active", "label": "Drug X", "factors": {"drugx": True}}]
    study["control_arm"] = "placebo"
    study["parameters"] = {k: v for k, v in study["parameters"].items() if k in keep}
    for key in ("symptoms", "baseline_expected", "immune_markers", "analysis", "subgroups"):
        study.pop(key, None)
    data = tmp_path / "foreign"
    data.mkdir()
    (data / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    arm = {"soc": "placebo", "ucmsc": "active"}
    s = trial.subjects[["subject_id", "arm", "randomization_date", "age", "sex"]].astype({"arm": object})
    s = s.assign(subject_id="PT-" + s["subject_id"].astype(str), arm=s["arm"].map(arm))
    s.to_csv(data / "subjects.csv", index=False)
    labs = trial.labs[trial.labs["parameter"].isin(keep)]
    labs.assign(subject_id="PT-" + labs["subject_id"].astype(str)).to_csv(data / "labs.csv", index=False)
    ev = trial.events
    ev.assign(subject_id="PT-" + ev["subject_id"].astype(str)).to_csv(data / "events.csv", index=False)
    params = _params(tmp_path, outputs=str(tmp_path / "out"), name="foreign", dataset=str(data),
                     notebooks=str(ROOT / "notebooks"),
                     notebook_parameters={"05_design_simulation": {"n_trials": 6, "curve_trials": 2, "curve_sizes": [60],
                                                                   "curve_hrs": [1.0], "lab_trials": 2},
                                          "04_predictive": {"n_repeats": 1, "learning_curve_sizes": [60],
                                                            "learning_curve_replicates": 1,
                                                            "learning_curve_test_size": 200}})
    out = run_report(params, progress=False).target
    stems = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    printed = []
    for stem in stems:
        nb = nbformat.read(str(out / f"{stem}.ipynb"), as_version=4)
        for i, c in enumerate(nb.cells, start=1):
            for o in c.get("outputs", []):
                assert o["output_type"] != "error" and o.get("name") != "stderr", (stem, i, o)
                printed.append(o.get("text", ""))
    text = "\n".join(printed)
    assert "no `infusions` table" in text and "no symptoms table" in text and "no simulation truth" in text
    sizes = pd.read_csv(out / "tables" / "exploratory_consort_counts.csv")
    assert "active" in sizes.to_string() and "placebo" in sizes.to_string()


# ------------------------------------------------------------------------------------------------
# The runner replaces only folders it created (issue 12)
# ------------------------------------------------------------------------------------------------
def _fine_params(tmp: Path, **kw) -> Path:
    return _params(tmp, notebooks=str(FIXTURES / "failing"), n_subjects=40, **kw)


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_run_refuses_to_replace_a_folder_that_is_not_a_report(tmp_path, capsys):
    docs = tmp_path / "documents"
    (docs / "sub").mkdir(parents=True)
    (docs / "thesis.docx").write_bytes(b"years of work")
    (docs / "sub" / "notes.txt").write_text("more")
    before = _tree(docs)
    assert main(["run", "--params", str(_fine_params(tmp_path)), "--out", str(docs), "--only", "01"]) == 2
    err = capsys.readouterr().err
    assert f"refusing to replace {docs}" in err and "sub/, thesis.docx" in err and "Traceback" not in err
    assert _tree(docs) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "params.yaml"]  # no build, no lock left


def test_outputs_and_name_follow_the_same_rule(tmp_path, capsys):
    (tmp_path / "X" / "default").mkdir(parents=True)
    (tmp_path / "X" / "default" / "keep.txt").write_text("mine")
    params = _fine_params(tmp_path, outputs=str(tmp_path / "X"), name="default")
    assert main(["run", "--params", str(params), "--only", "01"]) == 2
    assert f"refusing to replace {tmp_path / 'X' / 'default'}" in capsys.readouterr().err
    assert (tmp_path / "X" / "default" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("where, fragment", [
    ("cwd", "it is the current folder"),
    ("parent_of_cwd", "it holds the current folder"),
    ("home", "it is the home folder"),
    ("dataset", "it is the dataset"),
    ("inside_dataset", "it is inside the dataset folder"),
    ("root", "it is the root of the file system"),
    ("etc_default", "it is inside the system folder /etc"),
    ("usr", "inside the system folder /usr"),
])
def test_run_never_writes_into_protected_folders(tmp_path, monkeypatch, capsys, where, fragment):
    work = tmp_path / "work"
    home = tmp_path / "home"
    data = tmp_path / "data"
    for d in (work, home):
        d.mkdir()
    write_csv_dataset(tiny_tables(), data)
    monkeypatch.chdir(work)
    monkeypatch.setenv("HOME", str(home))
    out = {"cwd": ".", "parent_of_cwd": "..", "home": str(home), "dataset": str(data),
           "inside_dataset": str(data / "report"), "root": "/", "etc_default": "/etc/default",
           "usr": "/usr/local/share/report"}[where]
    params = _params(tmp_path, notebooks=str(FIXTURES / "failing"), dataset=str(data))
    before = _tree(tmp_path)
    assert main(["run", "--params", str(params), "--out", out, "--only", "01"]) == 2
    err = capsys.readouterr().err
    assert "refusing to write a report into" in err and fragment in err and "Traceback" not in err
    assert _tree(tmp_path) == before


def test_outputs_in_a_system_folder_are_refused(tmp_path, capsys):
    params = _fine_params(tmp_path, outputs="/etc", name="default")
    assert main(["run", "--params", str(params)]) == 2
    assert "refusing to write a report into /etc/default: it is inside the system folder /etc" in capsys.readouterr().err


def test_a_second_concurrent_run_exits_2(tmp_path, capsys):
    from trialkit.report.folders import report_lock

    params = _fine_params(tmp_path, outputs=str(tmp_path / "out"), name="rep")
    (tmp_path / "out").mkdir()
    with report_lock(tmp_path / "out" / "rep"):
        assert main(["run", "--params", str(params), "--only", "01"]) == 2
    err = capsys.readouterr().err
    assert f"another trialkit run (process {os.getpid()}) is writing the report {tmp_path / 'out' / 'rep'}" in err
    assert list((tmp_path / "out").iterdir()) == []


def test_lock_is_exclusive_across_processes(tmp_path):
    """A lock held by another process (flock) stops this one; released when that process ends."""
    from trialkit.report.folders import TargetError, report_lock

    target = tmp_path / "rep"
    code = ("import sys, time; from trialkit.report.folders import report_lock\n"
            f"with report_lock({str(target)!r}):\n    print('held', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(TargetError, match=f"process {holder.pid}"):
            with report_lock(target):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with report_lock(target):  # free again
        pass


def test_report_is_replaced_and_leftover_builds_removed(tmp_path):
    from trialkit.report.folders import is_report_folder, new_build_folder

    params = _fine_params(tmp_path, outputs=str(tmp_path / "out"), name="rep")
    first = run_report(params, only=["01"], progress=False).target
    assert is_report_folder(first)
    assert json.loads((first / "manifest.json").read_text())["generator"] == "trialkit run"
    stale = new_build_folder(first)             # what a SIGKILLed run leaves: marked, with data
    (stale / "data").mkdir()
    (stale / "data" / "subjects.csv").write_text("subject_id\nS001\n")
    foreign = first.parent / ".rep.build-not-ours"
    foreign.mkdir()
    again = run_report(params, only=["01"], progress=False).target
    assert again == first and is_report_folder(again)
    assert sorted(p.name for p in first.parent.iterdir()) == [".rep.build-not-ours", "rep"]
    assert ".trialkit-build" not in {p.name for p in again.iterdir()}


def test_failed_build_never_replaces_a_foreign_failed_folder(tmp_path):
    out = tmp_path / "out"
    (out / "rep.failed").mkdir(parents=True)
    (out / "rep.failed" / "mine.txt").write_text("mine")
    params = _params(tmp_path, outputs=str(out), name="rep", notebooks=str(FIXTURES / "failing"), n_subjects=40)
    with pytest.raises(NotebookFailed) as exc:
        run_report(params, only=["02"], progress=False)
    assert exc.value.kept is None
    assert (out / "rep.failed" / "mine.txt").read_text() == "mine"


# ------------------------------------------------------------------------------------------------
# Parameters carry JSON types only, and reach the kernel exactly (issue 12)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, fragment", [
    ("notebook_parameters:\n  01_echo: {payload: !!set {\"__import__('os').system('id')\": null}}\n",
     "notebook_parameters.01_echo.payload: expected JSON types only (text, number, true/false, null, list, mapping), got a YAML set (tag !!set)"),
    ("notebook_parameters:\n  01_echo: {payload: !!binary aGVsbG8=}\n",
     "notebook_parameters.01_echo.payload: expected JSON types only (text, number, true/false, null, list, mapping), got binary data (tag !!binary)"),
    ("notebook_parameters:\n  01_echo: {payload: !!python/object/apply:os.system [id]}\n",
     "got a value (tag !!python/object/apply:os.system)"),
    ("notebook_parameters:\n  01_echo: {payload: !custom x}\n", "payload: expected JSON types only (text, number, true/false, null, list, mapping), got a value (tag !custom)"),
    ("notebook_parameters:\n  01_echo: {payload: 2024-01-31}\n", "got a date or time (quote it to pass it as text)"),
    ("notebook_parameters:\n  01_echo: {payload: [1, 2024-01-31 10:00:00]}\n", "payload.[1]: expected JSON types only"),
    ("notebook_parameters:\n  01_echo: {payload: 123456789012345678901}\n",
     "notebook_parameters.01_echo.payload: expected a whole number within ±9007199254740991 (exact in JSON), got 123456789012345678901"),
    ("seed: 9007199254740993\n", "seed: expected a whole number within ±9007199254740991 (exact in JSON), got 9007199254740993"),
    ("notebook_parameters:\n  01_echo: {payload: .nan}\n", "payload: expected a finite number, got nan"),
    ("alpha: -.inf\n", "alpha: expected a finite number, got -inf"),
    ("notebook_parameters:\n  01_echo: {1: x}\n", "notebook_parameters.01_echo: expected text keys, got key 1"),
    ("base: &b {a: 1}\nnotebook_parameters:\n  01_echo: {<<: *b}\n", "got a key with a merge key (<<)"),
    ("horizons: !!omap [{primary: 336}]\n", "horizons: expected JSON types only (text, number, true/false, null, list, mapping), got an ordered map (tag !!omap)"),
])
def test_params_refuse_non_json_types_naming_the_key(tmp_path, capsys, text, fragment):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError) as exc:
        load_params(path)
    assert str(path) in str(exc.value) and fragment in str(exc.value)
    assert main(["run", "--params", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


@pytest.mark.parametrize("value, fragment", [
    ({"x": {1, 2}}, "notebook_parameters.01_echo.x: expected JSON types only (text, number, true/false, null, list, mapping), got a set"),
    ({"x": b"abc"}, "notebook_parameters.01_echo.x: expected JSON types only (text, number, true/false, null, list, mapping), got binary data"),
    ({"x": (1, 2)}, "notebook_parameters.01_echo.x: expected JSON types only (text, number, true/false, null, list, mapping), got a tuple"),
    ({"x": float("inf")}, "notebook_parameters.01_echo.x: expected a finite number, got inf"),
    ({"x": 2**64}, "notebook_parameters.01_echo.x: expected a whole number within ±9007199254740991 (exact in JSON), got 18446744073709551616"),
])
def test_run_params_built_in_python_are_checked_too(tmp_path, value, fragment):
    params = RunParams(outputs=str(tmp_path), notebooks=str(FIXTURES / "report"),
                              notebook_parameters={"01_echo": value})
    with pytest.raises(ParamsError, match=re.escape(fragment)):
        run_report(params, progress=False)
    assert list(tmp_path.iterdir()) == []


PAYLOAD = {
    "quotes": "it's \"double\" and 'single' ''' \"\"\" `back`",
    "backslashes": "C:\\new\\table \\x41 \\u0041 \\N{BULLET} \\\\ \\",
    "newlines": "line 1\nline 2\r\nline 3\ttab\x0bvt\x00nul",
    "breakout": "\"\"\"); __import__('os').system('touch PWNED'); (\"\"\"",
    "breakout2": "'); import os; os.system('touch PWNED') #",
    "braces": "{__import__('os').getcwd()} %s {0}",
    "unicode": "é ✓ 😀 \u2028 \u202e right-to-left",
    "big": 9007199254740991,
    "negative": -9007199254740991,
    "tiny": 5e-324,
    "huge": 1.7976931348623157e308,
    "tenth": 0.1,
    "flags": [True, False, None],
    "nested": {"": [], "a b": {"c": [[], {}]}, "0": "0"},
    "empty": "",
}


def test_notebook_parameters_reach_the_kernel_exactly(tmp_path):
    """Strings full of quotes, backslashes and newlines, extreme numbers and nested containers are
    injected through papermill (the runner's path) and the kernel holds exactly the value given."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    params_cell = nbformat.v4.new_code_cell("payload = None", metadata={"tags": ["parameters"]})
    echo = nbformat.v4.new_code_cell("import json\nprint(json.dumps(payload, ensure_ascii=True))")
    meta = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"}}
    nbformat.write(nbformat.v4.new_notebook(cells=[params_cell, echo], metadata=meta), str(nbs / "01_echo.ipynb"))
    params = _params(tmp_path, outputs=str(tmp_path / "out"), name="echo", notebooks=str(nbs), n_subjects=40,
                     notebook_parameters={"01_echo": {"payload": PAYLOAD}})
    assert load_params(params).notebook_parameters["01_echo"]["payload"] == PAYLOAD
    out = run_report(params, progress=False).target
    nb = nbformat.read(str(out / "01_echo.ipynb"), as_version=4)
    printed = nb.cells[-1].outputs[0]["text"]
    received = json.loads(printed)
    assert received == PAYLOAD
    assert all(type(received[k]) is type(v) for k, v in PAYLOAD.items())
    assert not list(tmp_path.rglob("PWNED"))


# ------------------------------------------------------------------------------------------------
# Horizons and landmarks within the data's follow-up (issue 12)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra, fragment", [
    ({"horizons": {"primary": 5000}},
     "params.yaml: horizons.primary: expected a day within the data's follow-up (at most day 336: "),
    ({"horizons": {"secondary": "337 days"}}, "horizons.secondary: expected a day within the data's follow-up (at most "
                                             "day 336: nobody is followed longer, so survival, risk sets and RMST there "
                                             "would be extrapolated), got 337"),
    ({"notebook_parameters": {"03_efficacy": {"landmark_weeks": [4, 52]}}},
     "notebook_parameters.03_efficacy.landmark_weeks: expected a day within the data's follow-up (at most day 336: "),
    ({"notebook_parameters": {"03_efficacy": {"landmark_weeks": [4, 52]}}}, "extrapolated), got week 52 (day 364)"),
    ({"notebook_parameters": {"04_predictive": {"horizon_days": 400}}},
     "notebook_parameters.04_predictive.horizon_days: expected a day within the data's follow-up"),
    ({"notebook_parameters": {"01_exploratory": {"horizon": 999}}},
     "notebook_parameters.01_exploratory.horizon: expected a day within the data's follow-up"),
])
def test_horizons_beyond_follow_up_are_refused_before_any_notebook(tmp_path, tiny_dataset, capsys, extra, fragment):
    params = _params(tmp_path, outputs=str(tmp_path / "out"), name="h", dataset=str(tiny_dataset),
                     notebooks=str(ROOT / "notebooks"), **extra)
    assert main(["run", "--params", str(params), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert "running" not in err  # refused before any notebook executed
    assert list((tmp_path / "out").iterdir()) == []


def test_study_horizon_beyond_follow_up_names_the_study_file(tmp_path):
    study = yaml.safe_load((ROOT / "params" / "study.yaml").read_text())
    study["horizons"]["primary"] = 700
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False))
    t = tiny_tables()
    data = tmp_path / "tiny"
    write_csv_dataset(t, data)
    params = _params(tmp_path, outputs=str(tmp_path / "out"), name="h", dataset=str(data),
                     study=str(tmp_path / "study.yaml"), notebooks=str(FIXTURES / "report"))
    with pytest.raises(ParamsError, match=re.escape(f"{tmp_path / 'study.yaml'}: horizons.primary: expected a day within "
                                                    "the data's follow-up (at most day 336: ")):
        run_report(params, progress=False)


def test_notebook_parameters_for_a_notebook_that_does_not_exist_are_refused(tmp_path, capsys):
    params = _params(tmp_path, outputs=str(tmp_path / "out"), notebooks=str(FIXTURES / "report"),
                     notebook_parameters={"04_predictive": {"n_splits": 3}})
    assert main(["run", "--params", str(params), "--only", "01"]) == 2
    err = capsys.readouterr().err
    assert ("notebook_parameters.04_predictive: expected a notebook of" in err
            and "(have: 01_summary, 02_outcomes)" in err and "Traceback" not in err)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------
# The identifier gate: every published file, compound tokens, any case; no false positives (issue 12)
# ------------------------------------------------------------------------------------------------
def _png(*chunks: tuple[bytes, bytes]) -> bytes:
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(chunk(k, b) for k, b in chunks)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _nb_with(*, cells=None, metadata=None):
    nb = nbformat.v4.new_notebook(cells=cells or [nbformat.v4.new_markdown_cell("# Fine")])
    nb.metadata.update(metadata or {})
    return nb


def _stream(text):
    return nbformat.v4.new_code_cell("print(x)", outputs=[nbformat.v4.new_output("stream", text=text)])


def _data(mime, value):
    return nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output("display_data", data={mime: value})])


LEAK = "S047"
LEAK_FORMS = {  # name: (relative path, content: str | bytes | notebook)
    "stream": ("01_a.ipynb", _nb_with(cells=[_stream(f"first subject: {LEAK}\n")])),
    "lower case": ("01_a.ipynb", _nb_with(cells=[_stream("first subject: s047\n")])),
    "suffix": ("01_a.ipynb", _nb_with(cells=[_stream("S047_visit1 42\n")])),
    "prefix": ("01_a.ipynb", _nb_with(cells=[_stream("visit1-S047\n")])),
    "markdown source": ("01_a.ipynb", _nb_with(cells=[nbformat.v4.new_markdown_cell("Patient **S047** died")])),
    "code comment": ("01_a.ipynb", _nb_with(cells=[nbformat.v4.new_code_cell("x = 1  # see S047")])),
    "html output": ("01_a.ipynb", _nb_with(cells=[_data("text/html", "<table><td>S047</td></table>")])),
    "latex output": ("01_a.ipynb", _nb_with(cells=[_data("text/latex", r"\textbf{S047}")])),
    "json output": ("01_a.ipynb", _nb_with(cells=[_data("application/json", {"id": "S047"})])),
    "svg output": ("01_a.ipynb", _nb_with(cells=[_data("image/svg+xml", "<svg><text>S047</text></svg>")])),
    "error value": ("01_a.ipynb", _nb_with(cells=[nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        "error", ename="KeyError", evalue="'S047'", traceback=[])])])),
    "ansi traceback": ("01_a.ipynb", _nb_with(cells=[nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        "error", ename="E", evalue="", traceback=["\x1b[0;31mS047\x1b[0m is missing"])])])),
    "notebook metadata": ("01_a.ipynb", _nb_with(metadata={"papermill": {"parameters": {"who": "S047"}}})),
    "csv table": ("tables/listing.csv", "subject_id,day\nS047,12\n"),
    "html table": ("tables/listing.html", "<table><tr><td>S047</td></tr></table>"),
    "svg comment": ("figures/km.svg", "<svg><!-- S047 --><path d='M 0 0 L 101.2 4'/></svg>"),
    "svg text": ("figures/km.svg", "<svg><text x='1.5'>s047</text></svg>"),
    "png text chunk": ("figures/km.png", _png((b"tEXt", b"Title\x00Survival of S047"))),
    "png compressed text": ("figures/km.png", _png((b"zTXt", b"Comment\x00\x00" + __import__("zlib").compress(b"S047")))),
    "png international text": ("figures/km.png", _png((b"iTXt", b"Title\x00\x00\x00en\x00\x00S047 curve"))),
    "file name": ("figures/S047_trajectory.png", _png()),
    "html attribute": ("index.html", "<a title='S047' href='#'>a patient</a>"),
    "html entity": ("index.html", "<p>&#83;047 withdrew</p>"),
    "standalone page": ("extra.html", "<p>Subject S047 withdrew</p>"),
    "text in subfolder": ("tables/notes/readme.txt", "ask about S047"),
    "manifest": ("manifest.json", json.dumps({"parameters": {"notebook_parameters": {"01_a": {"who": "S047"}}}})),
    "yaml": ("study.yaml", "title: a study\nnote: excluded S047\n"),
    "binary table": ("tables/listing.parquet", b"PAR1\x00\x15\x04S047\x00\x00PAR1"),
    "range": ("01_a.ipynb", _nb_with(cells=[_stream("subjects S046-S047\n")])),
    "in parentheses": ("01_a.ipynb", _nb_with(cells=[_stream("(S047)\n")])),
}
IDS = [f"S{i:03d}" for i in range(1, 121) if i != 46]


def _write(base: Path, rel: str, content) -> None:
    path = base / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        nbformat.write(content, str(path))


@pytest.mark.parametrize("form", sorted(LEAK_FORMS))
def test_identifier_gate_catches_every_planted_leak(tmp_path, form):
    assert len(LEAK_FORMS) >= 20
    rel, content = LEAK_FORMS[form]
    _write(tmp_path, rel, content)
    hits = privacy.find_identifiers(tmp_path, IDS)
    assert [h.subject_id for h in hits] == [LEAK], form
    with pytest.raises(PrivacyError, match=re.escape(rel.split("/")[-1].split(".")[0])):
        privacy.check_privacy(tmp_path, IDS)


def test_identifier_gate_has_no_false_positives_in_ordinary_text(tmp_path):
    """Numbers in decimals, exponents, CSS, counts and hashes; ids inside longer tokens: nothing flagged,
    neither for distinctive ids nor for number-like ones (searched when pseudonyms are switched off)."""
    text = ("p = 0.083; 0.001; 0.120; HR 1.75e-146; font-size: 125%; width: 101px; color: #101; 120 randomized, "
            "117 analysed; 1,101 lab values; S0470 and XS047 and S047A1; sha256 a9f3e047b8c1; 2013-01-05\n")
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "numbers.csv").write_text("estimate,p_value,n\n" + "\n".join(
        f"{i / 7:.6g},{i / 1000:.3f},{i}" for i in range(1, 200)))
    (tmp_path / "index.html").write_text(f"<p style='font-size: 125%'>{text}</p>")
    nbformat.write(_nb_with(cells=[_stream(text), _data("text/html", f"<td>{text}</td>")]), str(tmp_path / "01_a.ipynb"))
    ids = IDS + [LEAK]
    assert privacy.find_identifiers(tmp_path, ids) == []
    assert privacy.find_identifiers(tmp_path, [f"{i:03d}" for i in range(1, 121)] + ["146", "125"]) == []


def test_identifier_gate_has_no_false_positives_on_the_default_report(tmp_path):
    """The committed notebooks (executed with the default parameters), rendered as the report renders
    them, searched for every subject id of the default simulated trial."""
    from trialkit import simulate

    ids = [str(s) for s in simulate().subjects["subject_id"]]
    for src in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(str(src), as_version=4)
        nbformat.write(nb, str(tmp_path / src.name))
        pages.render_html(nb, tmp_path / f"{src.stem}.html", notebook_href=src.name)
    assert privacy.find_identifiers(tmp_path, ids) == []


def test_number_like_ids_are_noted_at_validation_and_pseudonymized_in_the_report(tmp_path, capsys):
    t = tiny_tables()
    rename = {"S01": "101", "S02": "102", "S03": "103", "S04": "104"}
    for df in t.values():
        if df is not None and "subject_id" in df.columns:
            df["subject_id"] = df["subject_id"].map(rename)
    data = tmp_path / "numeric"
    write_csv_dataset(t, data)
    assert main(["validate", str(data)]) == 0
    out = capsys.readouterr().out
    assert "note: subjects: 4 subject_id value(s) look like ordinary numbers (e.g. '101', '102', '103')" in out
    assert "pseudonymize_ids" in out

    params = _params(tmp_path, outputs=str(tmp_path / "out"), name="num", dataset=str(data),
                     notebooks=str(FIXTURES / "leaky"))
    with pytest.raises(PrivacyError) as exc:  # the notebook saw (and printed) a pseudonym, never the id
        run_report(params, progress=False)
    assert "'PSN001'" in str(exc.value) and "101" not in str(exc.value)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
    internal = run_report(params, allow_listings=True, progress=False).target  # internal: the real ids
    assert "first subject: 101" in (internal / "01_leaks_id.html").read_text()
    assert not (internal / runner.KERNEL_INPUT).exists()


# ------------------------------------------------------------------------------------------------
# Interruption, disk full, permissions (issue 12)
# ------------------------------------------------------------------------------------------------
def _sleeper(tmp: Path) -> Path:
    nbs = tmp / "nbs"
    nbs.mkdir()
    meta = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"}}
    cells = [nbformat.v4.new_markdown_cell("# Sleeps"),
             nbformat.v4.new_code_cell("import time\nfor _ in range(600):\n    time.sleep(0.5)")]
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata=meta), str(nbs / "01_sleep.ipynb"))
    return nbs


def _previous_report(folder: Path) -> dict[str, bytes]:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"generator": "trialkit run", "report": folder.name}))
    (folder / "index.html").write_text("<h1>previous report</h1>")
    return _tree(folder)


def _processes_mentioning(text: str) -> list[str]:
    ps = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True).stdout.splitlines()
    return [line for line in ps if text in line and "ps -eww" not in line]


@pytest.mark.parametrize("sig, code, background", [("SIGTERM", 143, False), ("SIGINT", 130, True)])
def test_interrupted_run_stops_kernels_cleans_up_and_keeps_the_previous_report(tmp_path, sig, code, background):
    import signal
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    before = _previous_report(out / "rep")
    params = _params(tmp_path, outputs=str(out), name="rep", notebooks=str(_sleeper(tmp_path)), n_subjects=40)
    env = {**os.environ, "TMPDIR": str(tmp), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    ignore = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if background else None  # as `cmd &` starts it
    proc = subprocess.Popen([sys.executable, "-m", "trialkit.cli", "run", "--params", str(params), "--jobs", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                            preexec_fn=ignore)
    lines = []
    try:
        for line in proc.stderr:
            lines.append(line)
            if "01_sleep: running" in line:
                break
        time.sleep(2)
        assert _processes_mentioning(str(tmp)), "the kernel runs with its connection file in TMPDIR"
        proc.send_signal(getattr(signal, sig))
        _, rest = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = "".join(lines) + rest
    assert proc.returncode == code, err
    assert rest.strip().splitlines()[-1] == (f"interrupted by {sig}: notebooks stopped, build and temporary files "
                                              "removed; the previous report is untouched")
    assert "Traceback" not in err
    assert _tree(out / "rep") == before
    assert sorted(p.name for p in out.iterdir()) == ["rep"]          # no build, no lock
    assert list(tmp.iterdir()) == []                                   # sockets and connection files gone
    assert not (tmp_path / "runtime").exists() or not list((tmp_path / "runtime").iterdir())
    time.sleep(1)
    assert _processes_mentioning(str(tmp)) == []                       # the kernel is dead


def test_disk_full_and_permission_errors_are_one_line(tmp_path, monkeypatch, capsys):
    import errno
    import shutil

    params = _fine_params(tmp_path, outputs=str(tmp_path / "out"), name="rep")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / ".rep.build-x" / "index.html"))

    monkeypatch.setattr(index, "write_index", full)
    assert main(["run", "--params", str(params), "--only", "01", "--jobs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    written = tmp_path / "out" / ".rep.build-x" / "index.html"
    assert err[-1] == f"error: no space left on device while writing {written}; free some space and run again"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []

    def denied(target):
        raise PermissionError(errno.EACCES, "Permission denied", str(target.parent))

    monkeypatch.setattr(runner, "new_build_folder", denied)
    assert main(["run", "--params", str(params), "--only", "01"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"error: permission denied: {tmp_path / 'out'}"

    many = shutil.Error([(f"/a/{i}", f"/b/{i}", "[Errno 28] No space left on device") for i in range(500)])

    monkeypatch.setattr(runner, "new_build_folder", lambda target: (_ for _ in ()).throw(many))
    assert main(["run", "--params", str(params), "--only", "01"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: no space left on device while writing /b/0 (500 file(s) not copied); free some space "
                   "and run again"]


def test_a_run_killed_with_sigkill_is_cleaned_up_by_the_next_run(tmp_path):
    """SIGKILL cannot be handled: the build folder (with the dataset) and the kernel folder stay behind.
    The orphaned kernel exits by itself (its parent is gone); the next run of the report removes both."""
    import signal
    import time

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out"
    before = _previous_report(out / "rep")
    params = _params(tmp_path, outputs=str(out), name="rep", notebooks=str(_sleeper(tmp_path)), n_subjects=40)
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-m", "trialkit.cli", "run", "--params", str(params), "--jobs", "1"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    try:
        for line in proc.stderr:
            if "01_sleep: running" in line:
                break
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    builds = sorted(out.glob(".rep.build-*"))
    assert len(builds) == 1 and (builds[0] / "data" / "subjects.csv").is_file()
    assert [p.name.startswith(f"tk-k{proc.pid}-") for p in tmp.iterdir()] == [True]
    for _ in range(30):  # the kernel notices its parent is gone
        if not _processes_mentioning(str(tmp)):
            break
        time.sleep(1)
    assert _processes_mentioning(str(tmp)) == []
    assert _tree(out / "rep") == before

    nbs = tmp_path / "quick"
    nbs.mkdir()
    (nbs / "01_fine.ipynb").write_bytes((FIXTURES / "failing" / "01_fine.ipynb").read_bytes())
    raw = yaml.safe_load(params.read_text())
    raw["notebooks"] = str(nbs)
    params.write_text(yaml.safe_dump(raw))
    again = subprocess.run([sys.executable, "-m", "trialkit.cli", "run", "--params", str(params), "--jobs", "1"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in out.iterdir()) == ["rep"]          # the leftover build is gone
    assert list(tmp.iterdir()) == []                                   # and the killed run's kernel folder
    assert (out / "rep" / "01_fine.html").is_file()


def test_kernels_read_the_tables_the_driver_validated(tmp_path, tiny_dataset):
    """With a dataset, the driver validates once; every kernel's trialkit.load of it returns the stamped,
    validated tables (no second validation); the hand-off folder is not published."""
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    meta = {"kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
            "language_info": {"name": "python"}}
    params_cell = nbformat.v4.new_code_cell('dataset = "simulate"\nstudy = None', metadata={"tags": ["parameters"]})
    check = nbformat.v4.new_code_cell(
        "import os\nimport trialkit as tk\nfrom trialkit.data.handoff import HANDOFF_ENV, read_validated\n"
        "handed = read_validated(os.environ[HANDOFF_ENV], study, dataset=dataset)\n"
        "trial = tk.load(dataset, study)\n"
        "print(handed is not None, trial.labs.equals(handed.labs), len(trial.labs))")
    nbformat.write(nbformat.v4.new_notebook(cells=[params_cell, check], metadata=meta), str(nbs / "01_check.ipynb"))
    params = _params(tmp_path, outputs=str(tmp_path / "out"), name="h", dataset=str(tiny_dataset), notebooks=str(nbs))
    out = run_report(params, progress=False).target
    nb = nbformat.read(str(out / "01_check.ipynb"), as_version=4)
    from trialkit.data.load import load

    n_labs = len(load(tiny_dataset).labs)
    assert nb.cells[-1].outputs[0]["text"] == f"True True {n_labs}\n"
    assert not (out / runner.KERNEL_INPUT).exists()
    assert nb.metadata.papermill["parameters"]["dataset"] == os.path.relpath(tiny_dataset, out)
