"""Publishing executed notebooks: clean notebooks and their HTML pages.

Everything written here is a pure function of the inputs: no times, no temporary paths, no random
cell ids, so two runs give byte-identical files. :mod:`~trialkit.report.index` writes ``index.html``,
:mod:`~trialkit.report.manifest` ``manifest.json``, :mod:`~trialkit.report.privacy` checks for
subject identifiers. (Not named ``html.py``: that would shadow the standard library's ``html`` for
anything run from this folder.)
"""
from __future__ import annotations

import html as _html
import re
from pathlib import Path
from typing import TYPE_CHECKING

from trialkit.report.captions import place_captions
from trialkit.resources import package_file

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["clean_notebook", "finish_notebook", "finish_committed", "render_html",
           "notebook_title", "table_of_contents", "TEMPLATES"]

TEMPLATES = package_file("report", "templates")


# ------------------------------------------------------------------------------------------------
# Executed notebooks: strip what differs between runs
# ------------------------------------------------------------------------------------------------
_VOLATILE_NB = ("start_time", "end_time", "duration", "exception", "environment_variables")


def clean_notebook(nb: NotebookNode, source_name: str | None = None,
                   default_parameters: dict | None = None) -> NotebookNode:
    """Remove run-dependent metadata from a papermill output (in place; returns ``nb``).

    Drops timings (notebook and cell ``papermill`` timings, ``execution`` timestamps), replaces
    papermill's temporary input/output paths by ``source_name``, and gives the cells papermill
    creates (injected parameters, error markers) fixed ids instead of random ones.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_code_cell("alpha = 0.01", metadata={"tags": ["injected-parameters"],
    ...                                                         "papermill": {"duration": 0.1}}),
    ...     nbformat.v4.new_code_cell("print(alpha)", metadata={"execution": {"iopub.status.busy": "..."}})])
    >>> nb.metadata["papermill"] = {"start_time": "2026-01-01T00:00:00", "duration": 1.5,
    ...                             "input_path": "/tmp/tk/01_demo.ipynb", "output_path": "/tmp/build/01_demo.ipynb",
    ...                             "parameters": {"alpha": 0.01}}
    >>> nb is clean_notebook(nb, "notebooks/01_demo.ipynb", {"alpha": 0.05})
    True
    >>> dict(nb.metadata["papermill"])
    {'input_path': 'notebooks/01_demo.ipynb', 'output_path': '01_demo.ipynb', 'parameters': {'alpha': 0.01},
     'default_parameters': {'alpha': 0.05}}
    >>> [(c.id, dict(c.metadata)) for c in nb.cells][0], dict(nb.cells[1].metadata)
    (('injected-parameters', {'tags': ['injected-parameters']}), {})
    """
    pm = nb.metadata.get("papermill")
    if pm is not None:
        for key in _VOLATILE_NB:
            pm.pop(key, None)
        if source_name is not None:
            pm["input_path"] = source_name
            pm["output_path"] = Path(source_name).name
        if default_parameters is not None:
            pm["default_parameters"] = default_parameters
    seen: dict[str, int] = {}
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags", [])
        for tag in ("injected-parameters", "papermill-error-cell-tag"):
            if tag in tags:
                k = seen[tag] = seen.get(tag, 0) + 1
                cell["id"] = tag if k == 1 else f"{tag}-{k}"
    return nb


def _write_nb(nb: NotebookNode, path: Path) -> None:
    import nbformat

    text = nbformat.writes(nb)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8", newline="\n")


def finish_notebook(executed: str | Path, source: str | Path, *, code: str = "fold") -> None:
    """Clean an executed report notebook in place and render ``<stem>.html`` beside it.

    Examples
    --------
    The source notebook declares ``alpha = 0.05``; papermill's output injected ``alpha = 0.01``:

    >>> import tempfile, pathlib, nbformat
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> (tmp / "notebooks").mkdir(), (tmp / "build").mkdir()
    (None, None)
    >>> title = nbformat.v4.new_markdown_cell("# Demo")
    >>> params = nbformat.v4.new_code_cell("alpha = 0.05", metadata={"tags": ["parameters"]})
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[title, params, nbformat.v4.new_code_cell("print(alpha)")]),
    ...                str(tmp / "notebooks" / "01_demo.ipynb"))
    >>> ran = nbformat.v4.new_notebook(cells=[
    ...     title, params, nbformat.v4.new_code_cell("alpha = 0.01", metadata={"tags": ["injected-parameters"]}),
    ...     nbformat.v4.new_code_cell("print(alpha)", execution_count=3,
    ...                               outputs=[nbformat.v4.new_output("stream", text="0.01\\n")])])
    >>> ran.metadata["papermill"] = {"duration": 2.0, "input_path": "/tmp/in.ipynb", "parameters": {"alpha": 0.01}}
    >>> nbformat.write(ran, str(tmp / "build" / "01_demo.ipynb"))
    >>> finish_notebook(tmp / "build" / "01_demo.ipynb", tmp / "notebooks" / "01_demo.ipynb", code="hide")
    >>> sorted(p.name for p in (tmp / "build").iterdir())
    ['01_demo.html', '01_demo.ipynb']
    >>> nb = nbformat.read(str(tmp / "build" / "01_demo.ipynb"), as_version=4)
    >>> nb.metadata["papermill"]["input_path"], nb.metadata["papermill"]["default_parameters"], nb.cells[2].id
    ('notebooks/01_demo.ipynb', {'alpha': 0.05}, 'injected-parameters')
    >>> page = (tmp / "build" / "01_demo.html").read_text()
    >>> "0.01" in page, "print(alpha)" in page             # code="hide": outputs only
    (True, False)
    """
    import nbformat

    executed, source = Path(executed), Path(source)
    from trialkit.report.notebooks import notebook_parameters

    nb = nbformat.read(str(executed), as_version=4)
    clean_notebook(nb, f"{source.parent.name}/{source.name}", notebook_parameters(source))
    place_captions(nb)
    _write_nb(nb, executed)
    render_html(nb, executed.with_suffix(".html"), code=code, notebook_href=executed.name)


def finish_committed(executed: str | Path, source: str | Path) -> None:
    """``make notebooks``: copy outputs of an executed notebook into its source file.

    The source keeps its own metadata (notebook and cells); only outputs, execution counts,
    ``language_info`` and ``kernelspec`` (the environment's, :func:`~trialkit.report.notebooks.notebook_kernelspec`)
    change, so re-running an unchanged analysis leaves the file byte-identical.

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7", metadata={"tags": ["keep"]})])
    >>> nbformat.write(source, str(tmp / "01_answer.ipynb"))
    >>> answer = nbformat.v4.new_output("execute_result", data={"text/plain": "42"}, execution_count=1)
    >>> ran = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7", execution_count=1,
    ...                                                                  outputs=[answer])])
    >>> ran.metadata.update(papermill={"duration": 1.0}, language_info={"name": "python"})
    >>> nbformat.write(ran, str(tmp / "executed.ipynb"))
    >>> finish_committed(tmp / "executed.ipynb", tmp / "01_answer.ipynb")
    >>> nb = nbformat.read(str(tmp / "01_answer.ipynb"), as_version=4)
    >>> nb.cells[0].outputs[0]["data"], nb.cells[0].execution_count, dict(nb.cells[0].metadata)
    ({'text/plain': '42'}, 1, {'tags': ['keep']})
    >>> "papermill" in nb.metadata, nb.metadata["language_info"]["name"], nb.metadata["kernelspec"]["display_name"]
    (False, 'python', 'Python 3 (ipykernel)')
    """
    import nbformat

    from trialkit.report.notebooks import notebook_kernelspec

    executed, source = Path(executed), Path(source)
    ran = nbformat.read(str(executed), as_version=4)
    nb = nbformat.read(str(source), as_version=4)
    if len(ran.cells) != len(nb.cells):
        raise RuntimeError(f"{source}: executed notebook has {len(ran.cells)} cells, source {len(nb.cells)}")
    for cell, out in zip(nb.cells, ran.cells):
        if cell.cell_type == "code":
            cell.outputs = out.outputs
            cell.execution_count = out.execution_count
    if "language_info" in ran.metadata:
        nb.metadata["language_info"] = ran.metadata["language_info"]
    nb.metadata["kernelspec"] = notebook_kernelspec()
    nb.metadata.pop("papermill", None)
    _write_nb(nb, source)


# ------------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------------
_HEADING = re.compile(r'<h([1-3]) id="([^"]*)">(.*?)<a class="anchor-link"', re.S)


def table_of_contents(nb: NotebookNode, max_level: int = 3) -> list[dict]:
    """Headings of the markdown cells as ``{"level", "id", "text"}``, ids exactly as nbconvert makes them.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_markdown_cell("# Survival by arm\\n\\nText.\\n\\n## Cox model\\n\\n### Sub (a & b)"),
    ...     nbformat.v4.new_code_cell("# a comment, not a heading")])
    >>> for item in table_of_contents(nb):
    ...     print(item["level"], item["id"], item["text"])
    1 Survival-by-arm Survival by arm
    2 Cox-model Cox model
    3 Sub-(a-&-b) Sub (a & b)
    >>> [item["text"] for item in table_of_contents(nb, max_level=2)]
    ['Survival by arm', 'Cox model']
    """
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    toc = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or "#" not in cell.source:
            continue
        for level, anchor, inner in _HEADING.findall(markdown2html_mistune(cell.source)):
            if int(level) <= max_level:
                text = _html.unescape(re.sub(r"<[^>]+>", "", inner)).strip()
                toc.append({"level": int(level), "id": _html.unescape(anchor), "text": text})
    return toc


def notebook_title(nb: NotebookNode, default: str = "") -> str:
    """Text of the first level-1 heading, else ``default``.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("## Setup\\n\\n# Safety *overview*")])
    >>> notebook_title(nb)
    'Safety overview'
    >>> notebook_title(nbformat.v4.new_notebook(), "02_safety")
    '02_safety'
    """
    for item in table_of_contents(nb, max_level=1):
        return item["text"]
    return default


def render_html(nb: NotebookNode, dest: str | Path, *, code: str = "fold", notebook_href: str | None = None,
                index_href: str = "index.html") -> Path:
    """Render a notebook as one self-contained HTML page (images embedded) with a table of contents.

    ``code``: ``show`` the code cells, ``fold`` them under a "Code" toggle, or ``hide`` them.
    No external resources are referenced (no require.js, MathJax or fonts from a CDN).

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[
    ...     nbformat.v4.new_markdown_cell("# Survival by arm\\n\\n## Cox model"),
    ...     nbformat.v4.new_code_cell("6 * 7", execution_count=1, outputs=[nbformat.v4.new_output(
    ...         "execute_result", data={"text/plain": "42"}, execution_count=1)])])
    >>> page = render_html(nb, pathlib.Path(tempfile.mkdtemp()) / "01_survival.html", notebook_href="01_survival.ipynb")
    >>> page.name
    '01_survival.html'
    >>> html = page.read_text()
    >>> "<title>Survival by arm</title>" in html, 'href="#Cox-model"' in html, 'href="01_survival.ipynb"' in html
    (True, True, True)
    >>> html.count('<details class="tk-code">'), 'src="http' in html     # code folded; nothing from a CDN
    (1, False)
    """
    from nbconvert import HTMLExporter

    dest = Path(dest)
    exporter = HTMLExporter(extra_template_basedirs=[str(TEMPLATES)], template_name="trialkit",
                            embed_images=True, exclude_input=(code == "hide"),
                            exclude_input_prompt=(code == "hide"))
    title = notebook_title(nb, dest.stem)
    resources = {"metadata": {"name": title}, "tk_toc": table_of_contents(nb), "tk_code": code,
                 "tk_title": title, "tk_index_href": index_href, "tk_notebook_href": notebook_href}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    dest.write_text(body if body.endswith("\n") else body + "\n", encoding="utf-8", newline="\n")
    return dest
