"""The papermill report runner and publisher (trialkit.report.runner / .publish), and nbval.

Runner tests use the tiny notebooks of tests/fixtures/notebooks/ (one kernel start + imports each):
``report/`` saves tables and figures and prints what was injected, ``failing/`` raises mid-run,
``leaky/`` prints a subject id. The committed analysis notebooks are checked by nbval.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import yaml

from conftest import tiny_tables, write_csv_dataset
from trialkit.cli import main
from trialkit.report import publish, runner
from trialkit.report.publish import PrivacyError, find_identifiers_in_text
from trialkit.report.runner import NotebookFailed, ParamsError, load_params, run_report

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
    ({"nmae": "x"}, "nmae: unknown key"),
    ({"code": "folded"}, "code: expected one of show, fold, hide"),
    ({"alpha": 5}, "alpha: expected a number between 0 and 1"),
    ({"dataset": "data/x", "seed": 3}, "apply only when dataset is 'simulate'"),
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


def test_discover_and_only():
    report = FIXTURES / "report"
    assert [p.stem for p in runner.discover_notebooks(report)] == ["01_summary", "02_outcomes"]
    assert [p.stem for p in runner.discover_notebooks(report, ["outcomes"])] == ["02_outcomes"]
    assert [p.stem for p in runner.discover_notebooks(report, ["01"])] == ["01_summary"]
    with pytest.raises(ParamsError, match="--only nope: no such notebook"):
        runner.discover_notebooks(report, ["nope"])


def test_notebook_parameters_reads_the_parameters_cell():
    declared = runner.notebook_parameters(FIXTURES / "report" / "01_summary.ipynb")
    assert set(runner.STANDARD_PARAMETERS) <= set(declared)
    assert declared["label"] == "default label" and declared["alpha"] == 0.05 and declared["study"] is None


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
    job = runner.NotebookJob(name="01_probe", source=src, output=tmp_path / "out.ipynb", parameters={}, cwd=tmp_path)
    [res] = runner.execute_notebooks([job], 1)
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
    assert (injected["dataset"], injected["study"], injected["scenario"]) == ("simulate", "study.yaml", "scenario.yaml")
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
    params = runner.load_params(_params(tmp_path, n_subjects=17, scenario="null"))
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
    sections = {s["title"]: s for s in publish.headline_results(tables, {"msc": "UC-MSC"})}
    cox = sections["Treatment effects on transplant-free survival"]
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
    page = publish.render_html(nb, tmp_path / "p.html", code=code, notebook_href="p.ipynb").read_text()
    assert ("secret_marker" in page) == (code != "hide")
    assert page.count('<details class="tk-code">') == (1 if code == "fold" else 0)
    assert '<a href="#Section-A">Section A</a>' in page and 'id="Section-A"' in page
    assert 'href="#Sub-(a-&amp;-b)"' in page and "<title>Title</title>" in page
    assert 'href="index.html"' in page and 'href="p.ipynb"' in page
    assert not re.search(r"""(src|href)=["']https?://""", page)  # no CDN: opens offline


@pytest.mark.parametrize("text, ids, expected", [
    ("Patient S017 died", ["S017", "S018"], ["S017"]),
    ("S0170 and XS017 and S017_b", ["S017"], []),          # whole tokens only
    ("(S017), S018.", ["S017", "S018"], ["S017", "S018"]),
    ("S1 and S2", ["S1", "S2"], []),                          # shorter than 3 characters: not searched
    ("n = 120 at day 101", ["101", "120", "115"], []),       # two number-like ids: ordinary numbers
    ("ids 101, 102 and 117", ["101", "102", "117"], ["101", "102", "117"]),  # three: a listing
    ("0.101 1,102 117.5 101 102", ["101", "102", "117"], []),  # parts of decimals / grouped numbers
    ("subject 007", ["007"], ["007"]),                        # leading zero: distinctive
    ("id 12-0034 seen", ["12-0034"], ["12-0034"]),
])
def test_identifier_rule(text, ids, expected):
    assert sorted(h.subject_id for h in find_identifiers_in_text(text, ids)) == expected


def test_identifier_search_ignores_embedded_images(tmp_path):
    (tmp_path / "page.html").write_text('<img src="data:image/png;base64,AAAA+S017/BBBB"><p>fine</p>')
    assert publish.find_identifiers(tmp_path, ["S017"], []) == []
    (tmp_path / "page.html").write_text("<td>S017</td>")
    assert [h.where for h in publish.find_identifiers(tmp_path, ["S017"], [])] == ["page.html"]


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
# nbval on the committed notebooks
# ------------------------------------------------------------------------------------------------
def test_nbval_committed_notebooks():
    """``pytest --nbval notebooks/`` re-executes every committed notebook in this venv's kernel
    (``--nbval-current-env``, the runner's kernel environment) and compares the stored outputs."""
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks, "no committed notebooks in notebooks/"
    for path in notebooks:  # nbval skips cells never executed: require the stored default-run outputs
        nb = nbformat.read(str(path), as_version=4)
        counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
        assert counts == list(range(1, len(counts) + 1)), (
            f"{path.name} is not stored as executed top to bottom with its defaults (run `make notebooks`)")
        assert not any({"execution", "papermill"} & set(c.metadata) for c in nb.cells), (
            f"{path.name} carries run-dependent cell metadata (run `make notebooks`)")
    env = runner.kernel_env()

    def nbval(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "--nbval", "--nbval-current-env",
             "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:cacheprovider", "-q",
             str(path.relative_to(ROOT))],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)

    # one nbval process per notebook, as many at once as cores; the later (heavier) notebooks first
    with ThreadPoolExecutor(runner.default_jobs()) as pool:
        procs = list(pool.map(nbval, notebooks[::-1]))[::-1]
    for path, proc in zip(notebooks, procs):
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-60:])
        assert proc.returncode == 0, f"nbval failed on {path.name}:\n{tail}"
        assert " passed" in proc.stdout and " failed" not in proc.stdout


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
    for key in ("symptoms", "baseline_expected", "immune_markers"):
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
