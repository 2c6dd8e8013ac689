"""A non-editable install runs a report anywhere: build the wheel of the checkout, install it into a
fresh virtual environment, lay out a project with ``trialkit init`` in a folder outside the checkout
and publish the default report there with ``trialkit run params/default.yaml``.

No network: the wheel is built without build isolation (the environment's setuptools) and
installed with ``--no-index``; the new environment sees the test environment's dependencies through a
``.pth`` file, added after the install so that pip never sees (nor touches) the editable trialkit,
and their data files (nbconvert's templates) through ``JUPYTER_PATH``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What the build reads: the package, its metadata and the top-level params/ and notebooks/ it bundles.
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "trialkit", "params", "notebooks")
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SMALLER = {  # as tests/test_archive.py: same pages, fewer resamples and simulated trials
    "04_predictive": {"n_repeats": 1, "learning_curve_replicates": 1, "learning_curve_sizes": [60, 120],
                      "learning_curve_test_size": 500},
    "05_design_simulation": {"n_trials": 20, "curve_trials": 5, "lab_trials": 5},
}


def _env(venv: Path | None = None) -> dict[str, str]:
    """The process environment without anything pointing back at the checkout or the test venv."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTHONSTARTUP", "PIP_INDEX_URL",
                        "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")}
    env["PIP_NO_INDEX"] = "1"  # no network, whatever pip.conf says
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if venv is not None:
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(venv)
        # the dependencies' data files (nbconvert's page templates) lie in the test environment's share/
        env["JUPYTER_PATH"] = os.pathsep.join([str(Path(sys.prefix) / "share" / "jupyter")]
                                              + [p for p in [env.get("JUPYTER_PATH")] if p])
    return env


def _run(cmd: list, cwd: Path, env: dict, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the checkout's sources, built (offline) from a copy so the checkout is not written."""
    src = tmp_path_factory.mktemp("source")
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info", "build")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=skip)
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", src, "-w", dist],
         cwd=dist, env=_env(), timeout=600)
    wheels = sorted(dist.glob("trialkit-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (not editable); the test venv's packages visible via a .pth."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent, env=_env())
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel],
         cwd=venv.parent, env=_env(), timeout=600)
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   cwd=venv.parent, env=_env(venv)).stdout.strip()
    # after the install: the dependencies of the test environment, but not its editable trialkit (a path
    # line in a .pth adds the folder without running that folder's own .pth files, the editable finder)
    (Path(purelib) / "test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("elsewhere")
    assert not work.resolve().is_relative_to(ROOT)
    return work


def test_the_wheel_carries_templates_schema_notebooks_and_params(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {"trialkit/report/templates/headlines.yaml", "trialkit/report/templates/report_index.html.j2",
                "trialkit/report/templates/trialkit/index.html.j2", "trialkit/report/templates/trialkit/conf.json",
                "trialkit/report/captions.yaml", "trialkit/report/cff-1.2.0.schema.json",
                "trialkit/project_template/README.md", "trialkit/project_template/Makefile",
                "trialkit/project_template/params/study_template.yaml"}
    for folder in ("params", "notebooks"):
        for p in (ROOT / folder).rglob("*"):
            if p.is_file() and (folder == "params" or p.suffix == ".ipynb"):
                expected.add(f"trialkit/_project/{folder}/{p.relative_to(ROOT / folder).as_posix()}")
    assert sorted(expected - names) == []
    assert any(n.startswith("trialkit/_project/notebooks/05_") for n in names)
    # one copy of each, byte-identical to the checkout's
    with zipfile.ZipFile(wheel) as z:
        assert z.read("trialkit/_project/params/study.yaml") == (ROOT / "params" / "study.yaml").read_bytes()
        assert z.read("trialkit/report/captions.yaml") == (ROOT / "trialkit" / "report" / "captions.yaml").read_bytes()


def test_the_installed_package_is_the_wheel_not_the_checkout(venv, workdir):
    out = _run([venv / "bin" / "python", "-c",
                "import trialkit, trialkit.resources as r; print(trialkit.__file__); print(r.bundled_project()); "
                "print(r.checkout())"], cwd=workdir, env=_env(venv)).stdout.split("\n")
    assert Path(out[0]).resolve().is_relative_to(venv.resolve()), out
    assert Path(out[1]) == Path(out[0]).parent / "_project", out
    assert out[2] == "None", out


def test_init_then_run_publishes_the_default_report_outside_the_checkout(venv, workdir):
    env = _env(venv)
    trialkit = venv / "bin" / "trialkit"
    proc = _run([trialkit, "init", "proj"], cwd=workdir, env=env)
    assert "trialkit run params/default.yaml" in proc.stdout
    proj = workdir / "proj"
    assert sorted(p.name for p in (proj / "notebooks").iterdir()) == [f"{s}.ipynb" for s in NOTEBOOKS]
    for name in ("default.yaml", "study.yaml", "study_template.yaml", "scenarios/default.yaml"):
        assert (proj / "params" / name).is_file(), name
    assert "trialkit run params/default.yaml" in (proj / "README.md").read_text()
    assert "$(TRIALKIT) run params/default.yaml" in (proj / "Makefile").read_text()

    # a second init into the now non-empty folder: exit 2, one line, nothing changed
    before = sorted((p.relative_to(proj), p.stat().st_mtime_ns) for p in proj.rglob("*"))
    again = subprocess.run([str(trialkit), "init", "proj"], cwd=workdir, env=env, capture_output=True, text=True)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert "not empty" in again.stderr and "Traceback" not in again.stderr
    assert sorted((p.relative_to(proj), p.stat().st_mtime_ns) for p in proj.rglob("*")) == before

    # the project's own files are used: its study title reaches the report, its notebooks run
    study = proj / "params" / "study.yaml"
    text = study.read_text(encoding="utf-8")
    title_line = next(line for line in text.splitlines() if line.strip().startswith("title:"))
    study.write_text(text.replace(title_line, title_line + " (project copy)", 1), encoding="utf-8")
    params = proj / "params" / "default.yaml"
    ptext = params.read_text(encoding="utf-8")
    assert "notebook_parameters: {}" in ptext
    params.write_text(ptext.replace("notebook_parameters: {}", f"notebook_parameters: {json.dumps(SMALLER)}", 1),
                      encoding="utf-8")

    proc = _run([trialkit, "run", "params/default.yaml", "--jobs", "2"], cwd=proj, env=env, timeout=1800)
    report = proj / "outputs" / "default"
    assert f"report written to {report.resolve()}" in proc.stdout
    index = (report / "index.html").read_text(encoding="utf-8")
    assert "(project copy)" in index
    manifest = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
    assert [(n["name"], n["status"]) for n in manifest["notebooks"]] == [(s, "done") for s in NOTEBOOKS]
    for stem in NOTEBOOKS:
        assert (report / f"{stem}.html").is_file() and f'href="{stem}.html"' in index, stem
    assert (report / "study.yaml").read_text(encoding="utf-8").count("(project copy)") == 1
