"""The committed notebooks as files: up to date with `make notebooks` (text and image outputs),
parameters cells papermill reads fully, the environment's kernelspec, saved as JupyterLab saves.

The up-to-date check re-executes every committed notebook once, as ``make notebooks`` does (into
a temporary folder), and compares every output of every cell exactly; it replaces running nbval
in the suite (``pytest --nbval notebooks/ --nbval-sanitize-with tests/nbval_sanitize.cfg`` still
works by hand, but compares text only).
"""
from __future__ import annotations

import ast
import base64
import io
import logging
import typing
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from trialkit.report import notebooks, runner

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
FIXTURES = sorted((ROOT / "tests" / "fixtures" / "notebooks").glob("*/[0-9][0-9]_*.ipynb"))
ALL = COMMITTED + FIXTURES
#: the types of the parameters every notebook declares (docs/architecture.md, "Notebook parameters")
STANDARD_TYPES = {"dataset": "str", "study_file": "Optional[str]", "scenario": "Optional[str]", "seed": "Optional[int]",
                  "alpha": "float", "out_dir": "Optional[str]", "allow_listings": "bool"}


def _ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


def _conforms(value, tp) -> bool:
    """Does a literal default match a (typing) annotation: str, int, float, bool, None, Optional,
    Union, list[...], dict[..., ...]?"""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return value is None
    if origin is typing.Union:
        return any(_conforms(value, a) for a in args)
    if origin is list:
        return isinstance(value, list) and all(_conforms(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_conforms(k, args[0]) and _conforms(v, args[1])
                                               for k, v in value.items())
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)


# ------------------------------------------------------------------------------------------------
# Parameters cells (papermill --help-notebook)
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL, ids=_ids(ALL))
def test_papermill_reads_every_parameter_with_type_and_help(path, caplog):
    """``papermill --help-notebook`` (papermill.inspect_notebook) lists every parameter the runner
    reads from the parameters cell, each with a type annotation matching its default and a help
    comment, without warnings ("Unable to parse line")."""
    with caplog.at_level(logging.WARNING, logger="papermill"):
        inspected = pm.inspect_notebook(str(path))
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("papermill")]
    declared = notebooks.notebook_parameters(path)
    assert list(inspected) == list(declared), f"{path.name}: papermill sees {list(inspected)}"
    assert list(declared)[:len(STANDARD_TYPES)] == list(STANDARD_TYPES)
    namespace = {"Optional": typing.Optional, "Union": typing.Union}
    for name, p in inspected.items():
        assert p["help"], f"{path.name}: parameter {name} has no help comment"
        assert p["inferred_type_name"] not in ("None", ""), f"{path.name}: parameter {name} has no type"
        if name in STANDARD_TYPES:
            assert p["inferred_type_name"] == STANDARD_TYPES[name], name
        tp = eval(p["inferred_type_name"], namespace)  # noqa: S307 - the notebook's own annotation
        assert _conforms(ast.literal_eval(p["default"]), tp), f"{path.name}: {name} = {p['default']} is not {tp}"


# ------------------------------------------------------------------------------------------------
# Kernelspec, and saving as JupyterLab saves
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL, ids=_ids(ALL))
def test_kernelspec_is_the_environments_and_a_jupyterlab_save_changes_nothing(path):
    """The stored kernelspec is ipykernel's (name and display name), and writing the notebook as
    jupyter_server saves it (FileContentsManager._save_notebook: ``nbformat.write(nb, f,
    version=NO_CONVERT)``, utf-8, after the frontend sets the running kernel's spec) gives the
    same bytes: opening and saving an unchanged notebook leaves ``git status`` clean."""
    text = path.read_text(encoding="utf-8")
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    assert dict(nb.metadata["kernelspec"]) == notebooks.notebook_kernelspec()
    assert notebooks.notebook_kernelspec()["display_name"] == "Python 3 (ipykernel)"
    nb.metadata["kernelspec"] = notebooks.notebook_kernelspec()
    buf = io.StringIO()
    nbformat.write(nb, buf, version=nbformat.NO_CONVERT)
    assert buf.getvalue() == text


# ------------------------------------------------------------------------------------------------
# Committed notebooks are what `make notebooks` produces now
# ------------------------------------------------------------------------------------------------
def test_committed_notebooks_are_what_make_notebooks_produces(tmp_path):
    """Re-execute every committed notebook as ``make notebooks`` does (into a temporary folder)
    and compare every output of every cell, images byte for byte."""
    assert COMMITTED, "no committed notebooks in notebooks/"
    results = runner.refresh_notebooks(COMMITTED, progress=False, into=tmp_path)
    failed = [r.describe() for r in results if r.status != "done"]
    assert not failed, "\n".join(failed)
    stale = [line for p in COMMITTED for line in notebooks.notebook_differences(p, tmp_path / p.name)]
    assert not stale, ("committed notebooks differ from a re-execution; run `make notebooks` and commit:\n"
                       + "\n".join(stale))


def test_stale_text_and_image_outputs_are_named_by_notebook_and_cell(tmp_path):
    """A committed notebook whose printed number or figure was not refreshed is reported with its
    path and the 1-based cell number; nothing else is reported."""
    source = ROOT / "notebooks" / "01_exploratory.ipynb"
    nb = nbformat.read(str(source), as_version=4)
    text_cell = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                     and any(o.get("output_type") == "stream" for o in c.outputs))
    image_cell = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code"
                      and any("image/png" in o.get("data", {}) for o in c.outputs))
    stream = next(o for o in nb.cells[text_cell].outputs if o.get("output_type") == "stream")
    stream["text"] = stream["text"].replace("1", "7", 1) if "1" in stream["text"] else stream["text"] + "x"
    image = next(o for o in nb.cells[image_cell].outputs if "image/png" in o.get("data", {}))
    png = bytearray(base64.b64decode(image["data"]["image/png"]))
    png[-20] ^= 0xFF  # one byte of the figure
    image["data"]["image/png"] = base64.b64encode(bytes(png)).decode()
    stale = tmp_path / source.name
    nbformat.write(nb, str(stale))
    found = notebooks.notebook_differences(stale, source)
    assert len(found) == 2
    assert found[0].startswith(f"{stale}: cell {text_cell + 1} (") and "stream stdout differs: committed" in found[0]
    assert found[1].startswith(f"{stale}: cell {image_cell + 1} (") and "image/png differs (image bytes)" in found[1]
    assert notebooks.notebook_differences(source, source) == []


def test_check_mode_of_make_notebooks_reports_stale_cells(tmp_path, capsys):
    """``python -m trialkit.report.runner --check NOTEBOOK`` exits 1 naming the stale cell and
    leaves the file alone; after ``make notebooks`` (no --check) it exits 0."""
    path = tmp_path / "01_answer.ipynb"
    cell = nbformat.v4.new_code_cell("print(6 * 7)", execution_count=1,
                                     outputs=[nbformat.v4.new_output("stream", text="41\n")])
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Answer"), cell])
    nb.metadata["kernelspec"] = notebooks.notebook_kernelspec()
    nbformat.write(nb, str(path))
    before = path.read_bytes()
    assert runner.main(["--check", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}: cell 2 (print(6 * 7)): stream stdout differs: committed \"41\", now \"42\"" in err
    assert "make notebooks" in err and path.read_bytes() == before
    assert runner.main([str(path)]) == 0
    assert runner.main(["--check", str(path)]) == 0
