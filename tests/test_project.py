"""``trialkit init`` (trialkit/project.py) and where the kit finds its files (trialkit/resources.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from trialkit import resources
from trialkit.cli import main
from trialkit.project import ProjectExistsError, init_project
from trialkit.study import default_study_path, load_study, params_dir

ROOT = Path(__file__).resolve().parent.parent


def _tree(folder: Path) -> list[tuple[str, bytes | None]]:
    return sorted((p.relative_to(folder).as_posix(), p.read_bytes() if p.is_file() else None)
                  for p in folder.rglob("*"))


def test_init_copies_params_and_notebooks_byte_for_byte(tmp_path):
    dest = tmp_path / "a" / "new-project"
    written = init_project(dest)
    assert sorted(written) == sorted(p for p in dest.rglob("*") if p.is_file())
    for folder in ("params", "notebooks"):
        shipped = {p.relative_to(ROOT / folder).as_posix(): p.read_bytes()
                   for p in (ROOT / folder).rglob("*") if p.is_file()}
        copied = {p.relative_to(dest / folder).as_posix(): p.read_bytes()
                  for p in (dest / folder).rglob("*") if p.is_file()}
        extra = {"study_template.yaml"} if folder == "params" else set()
        assert set(copied) == set(shipped) | extra
        assert all(copied[k] == v for k, v in shipped.items())
    assert (dest / ".gitignore").read_text().splitlines()[0] == "outputs/"
    assert "trialkit run params/default.yaml" in (dest / "README.md").read_text()


def test_the_study_template_is_a_valid_two_arm_study(tmp_path):
    init_project(tmp_path / "p")
    study = load_study(tmp_path / "p" / "params" / "study_template.yaml")
    assert study.arm_ids == ["control", "active"] and study.control_arm == "control"
    assert study.horizons == {"primary": 84, "secondary": 84}


@pytest.mark.parametrize("content", ["file", "hidden", "folder"])
def test_init_refuses_a_folder_that_is_not_empty_and_changes_nothing(tmp_path, capsys, content):
    dest = tmp_path / "notes"
    dest.mkdir()
    {"file": lambda: (dest / "thesis.docx").write_text("years of work"),
     "hidden": lambda: (dest / ".git").mkdir(),
     "folder": lambda: (dest / "params").mkdir()}[content]()
    before = _tree(tmp_path)
    assert main(["init", str(dest)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not empty" in err and str(dest) in err
    assert _tree(tmp_path) == before
    with pytest.raises(ProjectExistsError):
        init_project(dest)


def test_init_refuses_a_file_and_accepts_an_empty_folder(tmp_path, capsys):
    (tmp_path / "plain").write_text("x")
    assert main(["init", str(tmp_path / "plain")]) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["init", str(tmp_path / "empty")]) == 0
    assert "trialkit run params/default.yaml" in capsys.readouterr().out
    assert resources.is_project(tmp_path / "empty")


def test_a_project_is_used_from_its_folder_and_below(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    init_project(proj)
    monkeypatch.chdir(proj / "notebooks")  # where a notebook runs in JupyterLab
    assert resources.project_root() == proj.resolve()
    assert params_dir() == proj.resolve() / "params" and default_study_path().parent == params_dir()
    monkeypatch.chdir(tmp_path)  # not in a project: the kit's own (here the checkout)
    assert resources.project_root() == resources.bundled_project() == ROOT
    assert resources.checkout() == ROOT


def test_run_takes_the_parameters_as_argument_or_option_but_not_two_different(tmp_path, capsys):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert main(["run", str(a), "--params", str(b)]) == 2
    assert capsys.readouterr().err.strip() == "error: give the run parameters once (PARAMS or --params)"
    assert main(["run", str(a)]) == 2  # read as the parameters file: it does not exist
    assert str(a) in capsys.readouterr().err
