"""Publishing an executed run: clean notebooks, HTML, the identifier check, index.html, manifest.json.

Everything written here except ``manifest.json`` is a pure function of the inputs: no times, no
temporary paths, no random cell ids, so two runs give byte-identical files.

The identifier check (:func:`find_identifiers`)
-----------------------------------------------
A published report must not show a subject identifier. After rendering, **every file of the report**
is searched for every ``subject_id`` of the analysed data: each executed notebook (cell sources and
text, HTML, Markdown, LaTeX, JSON and error outputs, and its metadata; not embedded images), the
result tables, the HTML pages (embedded ``data:`` images removed, entities decoded, attributes
included), SVG figures (their text and comments), the text chunks of PNG figures, ``study.yaml``,
``manifest.json`` and any other file, and every file *name*. Only ``data/`` of a simulated run (a
synthetic dataset published on purpose) is skipped. The rule depends on the id's kind
(:func:`trialkit.data.ids.id_kind`):

- a **distinctive** id (letters and digits, e.g. ``S017``, ``PT-0012``) matches in any letter case
  and as part of a compound token: it must not touch another letter or digit, but ``_``, ``-``,
  ``.`` and any other punctuation separate (``s017``, ``S017_visit1``, ``visit-S017`` and
  ``(S017)`` match; ``S0170``, ``XS017`` do not). One occurrence is enough;
- an id that **looks like a number or a word** (``101``, ``001``, ``Ann``) cannot be told apart
  from ordinary text. ``trialkit run`` therefore shows the notebooks pseudonyms instead
  (run parameter ``pseudonymize_ids``, default ``auto``) and searches for those. Only when that is
  switched off are such ids searched, as a best effort: as whole tokens (case-sensitive), never as
  part of a decimal (``0.083``), grouped number (``1,101``), exponent (``1.75e-146``), percentage
  or CSS value (``125%``, ``101px``) or colour (``#101``), and only where **at least three
  distinct ones appear in the same cell** (notebooks), line (HTML, SVG) or file (others): a listing
  shows many ids, a count ("120 randomized") or a day coincides with one or two;
- an id of fewer than 3 characters is not searched.

Examples
--------
>>> hits = find_identifiers_in_text("Patient s017 died (S018_visit1); 120 patients", ["S017", "S018", "120"])
>>> [h.subject_id for h in hits]
['S017', 'S018']
>>> [h.subject_id for h in find_identifiers_in_text("ids 101, 102 and 117", ["101", "102", "117"])]
['101', '102', '117']
"""
from __future__ import annotations

import hashlib
import html as _html
import json
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata as _md
from pathlib import Path
from typing import Any, Iterable

from trialkit.data.ids import id_kind
from trialkit.errors import TrialkitError
from trialkit.report.captions import collect_captions, place_captions
from trialkit.report.folders import BUILD_MARKER, SIGNATURE

__all__ = [
    "PrivacyError",
    "Hit",
    "identifier_pattern",
    "find_identifiers_in_text",
    "find_identifiers",
    "check_privacy",
    "clean_notebook",
    "select_study_cells",
    "finish_notebook",
    "finish_committed",
    "render_html",
    "notebook_title",
    "table_of_contents",
    "write_index",
    "write_manifest",
    "headline_results",
    "HEADLINES",
    "sha256_file",
    "package_versions",
    "git_commit",
    "TEMPLATES",
]

TEMPLATES = Path(__file__).resolve().parent / "templates"
MIN_NUMERIC_IDS = 3


class PrivacyError(TrialkitError):
    """A subject identifier appears in the rendered outputs."""

    def __init__(self, hits: list["Hit"]):
        self.hits = hits
        shown = hits[:20]
        lines = [f"refusing to publish: subject identifiers appear in {len({h.where for h in hits})} place(s) "
                 f"(use --allow-listings only for an internal report):"]
        lines += [f"  {h.where}: {h.subject_id!r} in …{h.context}…" for h in shown]
        if len(hits) > len(shown):
            lines.append(f"  … and {len(hits) - len(shown)} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Hit:
    """A subject id found in an output: ``where`` names the file and cell (or line)."""

    where: str
    subject_id: str
    context: str


_SEP = r"A-Za-z0-9"


def identifier_pattern(ids: Iterable[str]) -> tuple[re.Pattern | None, re.Pattern | None]:
    """Two regexes: (distinctive ids, ambiguous ids: number- or word-like); either is None when there are none.

    Examples
    --------
    >>> pat, amb = identifier_pattern(["S017", "S018", "101", "102", "S1"])
    >>> [m.group(0) for m in pat.finditer("s017, S0170, XS018, S018_visit1 and (S018)")]
    ['s017', 'S018', 'S018']
    >>> amb.findall("day 101, 0.101, 1,102, 101.5, 1.75e-102, 101%, #101 and 102")
    ['101', '102']
    >>> identifier_pattern(["S1", "42"])                # shorter than 3 characters: nothing to search
    (None, None)
    """
    ids = sorted({str(i).strip() for i in ids}, key=lambda s: (-len(s), s))
    plain = [re.escape(i) for i in ids if id_kind(i) == "distinctive"]
    other = [re.escape(i) for i in ids if id_kind(i) in ("number-like", "word-like")]
    pat = re.compile(rf"(?<![{_SEP}])(?:{'|'.join(plain)})(?![{_SEP}])", re.I) if plain else None
    amb = re.compile(rf"(?<![A-Za-z0-9_#])(?<![0-9][.,])(?<![0-9][eE][-+])(?:{'|'.join(other)})"
                     rf"(?![A-Za-z0-9_])(?![.,][0-9])(?!\s*%)") if other else None
    return pat, amb


def _context(text: str, start: int, end: int, width: int = 30) -> str:
    s = text[max(0, start - width):end + width]
    return " ".join(s.split())


def find_identifiers_in_text(text: str, ids: Iterable[str] | tuple, where: str = "", *,
                             patterns: tuple | None = None, canonical: dict | None = None,
                             by_line: bool = False) -> list[Hit]:
    """Subject ids occurring in ``text`` under the rule of this module's docstring (one hit per id).

    ``by_line`` counts the three-distinct-ambiguous-ids rule per line instead of per text.

    Examples
    --------
    >>> find_identifiers_in_text("Patient S017 died on day 12; s017 was", ["S017", "S018"], "notes.txt")
    [Hit(where='notes.txt', subject_id='S017', context='Patient S017 died on day 12; s017 was')]
    >>> find_identifiers_in_text("n = 120 at day 101", ["101", "120", "115"])   # two number-like ids: ordinary
    []
    """
    pat, amb = patterns if patterns is not None else identifier_pattern(ids)
    if canonical is None:
        canonical = {str(i).strip().lower(): str(i).strip() for i in ids}
    hits: dict[str, Hit] = {}
    if pat is not None:
        for m in pat.finditer(text):
            sid = canonical.get(m.group(0).lower(), m.group(0))
            hits.setdefault(sid, Hit(where, sid, _context(text, m.start(), m.end())))
    if amb is not None:
        for unit in (text.splitlines() if by_line else [text]):
            found: dict[str, Hit] = {}
            for m in amb.finditer(unit):
                found.setdefault(m.group(0), Hit(where, m.group(0), _context(unit, m.start(), m.end())))
            if len(found) >= MIN_NUMERIC_IDS:
                for k, h in found.items():
                    hits.setdefault(k, h)
    return list(hits.values())


_TEXT_MIME = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")


def _cell_texts(cell) -> Iterable[str]:
    yield cell.get("source", "")
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            yield out.get("text", "")
        elif kind == "error":
            yield f"{out.get('ename', '')}: {out.get('evalue', '')}"
            yield "\n".join(out.get("traceback", []))
        else:
            for mime, value in out.get("data", {}).items():
                if mime in _TEXT_MIME or mime.endswith("+json") or mime.endswith("+xml"):
                    text = value if isinstance(value, str) else json.dumps(value)
                    yield _DATA_URI.sub("data:", text)  # images embedded in HTML are not text
            if out.get("metadata"):
                yield json.dumps(out["metadata"])


_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+", re.I)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _png_text(path: Path) -> str:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG file: where a PNG can carry words."""
    import struct
    import zlib

    data = path.read_bytes()
    out, pos = [], 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        try:
            if kind == b"tEXt":
                out.append(body.decode("latin-1").replace("\x00", ": "))
            elif kind == b"zTXt":
                key, _, rest = body.partition(b"\x00")
                out.append(key.decode("latin-1") + ": " + zlib.decompress(rest[1:]).decode("latin-1"))
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\x00")
                compressed, rest = rest[0], rest[2:]
                _lang, _, rest = rest.partition(b"\x00")
                _tkey, _, text = rest.partition(b"\x00")
                text = zlib.decompress(text) if compressed else text
                out.append(key.decode("latin-1") + ": " + text.decode("utf-8", "replace"))
        except (zlib.error, IndexError, UnicodeDecodeError):
            out.append(body.decode("latin-1"))
    return "\n".join(out)


def _file_text(path: Path) -> str:
    if path.suffix.lower() == ".png":
        return _png_text(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # a binary file (e.g. Parquet): searched as bytes
        text = raw.decode("latin-1")
    if path.suffix.lower() in (".html", ".htm", ".svg", ".xml"):
        text = _html.unescape(_DATA_URI.sub("data:", text))
    return text


def find_identifiers(report_dir: str | Path, ids: Iterable[str], notebooks: Iterable[str] | None = None, *,
                     skip: Iterable[str] = ()) -> list[Hit]:
    """Every subject-id occurrence in a report folder: every file's content and every file name.

    Notebook hits name the cell (``02_safety.ipynb cell 12``: the 1-based cell number in the
    source notebook, as failures are reported); other files name the line. ``notebooks`` (stems)
    are searched cell by cell (default: every ``*.ipynb``); ``skip`` names top-level folders
    left out (``data`` of a simulated run).

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> printed = nbformat.v4.new_output("stream", text="first subject: S017\\n")
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Listing"),
    ...                                      nbformat.v4.new_code_cell("print(first)", outputs=[printed])])
    >>> nbformat.write(nb, str(report / "01_listing.ipynb"))
    >>> (report / "tables").mkdir(), (report / "figures").mkdir()
    (None, None)
    >>> _ = (report / "tables" / "listing.csv").write_text("subject_id,day\\nok,1\\ns018_v1,12\\n")
    >>> _ = (report / "figures" / "km.svg").write_text("<svg><!-- S019 --></svg>")
    >>> _ = (report / "index.html").write_text("<td title='S017'>x</td>")
    >>> for h in find_identifiers(report, ["S017", "S018", "S019", "S020"]):
    ...     print(h.where, h.subject_id)
    01_listing.ipynb cell 2 S017
    figures/km.svg line 1 S019
    index.html line 1 S017
    tables/listing.csv line 3 S018
    """
    import nbformat

    report_dir = Path(report_dir)
    ids = [str(i).strip() for i in ids]
    patterns = identifier_pattern(ids)
    if patterns == (None, None):
        return []
    canonical = {i.lower(): i for i in ids}

    def search(text, where, by_line=False):
        return find_identifiers_in_text(text, (), where, patterns=patterns, canonical=canonical, by_line=by_line)

    hits: list[Hit] = []
    stems = set(notebooks) if notebooks is not None else {p.stem for p in report_dir.glob("*.ipynb")}
    flagged_pages = set()
    skip = set(skip) | {BUILD_MARKER}
    files = sorted(p for p in report_dir.rglob("*")
                   if p.is_file() and p.relative_to(report_dir).parts[0] not in skip)
    for path in files:
        rel = path.relative_to(report_dir).as_posix()
        hits += search(rel, f"file name {rel}")
        if path.suffix == ".ipynb" and path.parent == report_dir and path.stem in stems:
            nb = nbformat.read(str(path), as_version=4)
            found = search(json.dumps(nb.metadata, ensure_ascii=False), f"{rel} metadata")
            for cell, label in zip(nb.cells, _source_cell_labels(nb)):
                found += search(_ANSI.sub("", "\n".join(_cell_texts(cell))), f"{rel} {label}")
            if found:
                flagged_pages.add(f"{path.stem}.html")
            hits += found
            continue
        if rel in flagged_pages:
            continue  # already reported by notebook cell
        text = _file_text(path)
        lines = text.splitlines()
        for h in search(text, "", by_line=path.suffix.lower() in (".html", ".htm", ".svg")):
            low = h.subject_id.lower()
            n = next((k for k, line in enumerate(lines, start=1) if low in line.lower()), None)
            hits.append(Hit(f"{rel} line {n}" if n else rel, h.subject_id, h.context))
    return hits


def _source_cell_labels(nb) -> list[str]:
    """``cell N`` with N the 1-based cell number in the *source* notebook (as in JupyterLab):
    cells papermill added (injected parameters, error markers) are named, not counted."""
    labels, n = [], 0
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags:
            labels.append("injected parameters cell")
        elif "papermill-error-cell-tag" in tags:
            labels.append("papermill error marker")
        else:
            n += 1
            labels.append(f"cell {n}")
    return labels


def check_privacy(report_dir: str | Path, ids: Iterable[str], notebooks: Iterable[str] | None = None, *,
                  skip: Iterable[str] = ()) -> None:
    """Raise :class:`PrivacyError` naming notebook and cell (or file and line) if any subject id appears.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> (report / "tables").mkdir()
    >>> _ = (report / "tables" / "listing.csv").write_text("subject_id,day\\nS017,12\\n")
    >>> check_privacy(report, ["S018", "S019"]) is None      # none of these ids appears: silent
    True
    >>> check_privacy(report, ["S017", "S018"])
    Traceback (most recent call last):
    ...
    trialkit.report.publish.PrivacyError: refusing to publish: subject identifiers appear in 1 place(s) ...
      tables/listing.csv line 2: 'S017' in …subject_id,day S017,12…
    """
    hits = find_identifiers(report_dir, ids, notebooks, skip=skip)
    if hits:
        raise PrivacyError(hits)


# ------------------------------------------------------------------------------------------------
# Executed notebooks: strip what differs between runs
# ------------------------------------------------------------------------------------------------
_VOLATILE_NB = ("start_time", "end_time", "duration", "exception", "environment_variables")


def select_study_cells(nb, study_id: str):
    """Drop the cells that speak about another trial (in place; returns ``nb``).

    A notebook cell tagged ``study:<id>`` (e.g. remarks on the default trial's literature) is kept
    only in a report of the study with that ``id``; untagged cells are always kept.

    Examples
    --------
    >>> import nbformat
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("Generic."),
    ...     nbformat.v4.new_markdown_cell("About NCT01724398.", metadata={"tags": ["study:NCT01724398"]})])
    >>> [c.source for c in select_study_cells(nb, "GBSG-2").cells]
    ['Generic.']
    >>> len(select_study_cells(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
    ...     "About NCT01724398.", metadata={"tags": ["study:NCT01724398"]})]), "NCT01724398").cells)
    1
    """
    def keep(cell):
        ids = [t.split(":", 1)[1] for t in cell.get("metadata", {}).get("tags", []) if t.startswith("study:")]
        return not ids or study_id in ids

    nb.cells = [c for c in nb.cells if keep(c)]
    return nb


def clean_notebook(nb, source_name: str | None = None, default_parameters: dict | None = None):
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


def _write_nb(nb, path: Path) -> None:
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
    study_file = executed.parent / "study.yaml"
    if study_file.is_file():
        from trialkit.study import load_study

        select_study_cells(nb, load_study(study_file).id)
    place_captions(nb)
    _write_nb(nb, executed)
    render_html(nb, executed.with_suffix(".html"), code=code, notebook_href=executed.name)


def finish_committed(executed: str | Path, source: str | Path) -> None:
    """``make notebooks``: copy outputs of an executed notebook into its source file.

    The source keeps its own metadata (notebook and cells); only outputs, execution counts,
    ``language_info`` and ``kernelspec`` (the environment's, :func:`~trialkit.report.runner.notebook_kernelspec`)
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


def table_of_contents(nb, max_level: int = 3) -> list[dict]:
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


def notebook_title(nb, default: str = "") -> str:
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


def render_html(nb, dest: str | Path, *, code: str = "fold", notebook_href: str | None = None,
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


# ------------------------------------------------------------------------------------------------
# index.html
# ------------------------------------------------------------------------------------------------
#: Headline results on index.html, read from the saved tables: for each section the first of its
#: candidate ``tables`` that the run produced, rows matching ``where``, the listed ``columns`` that
#: exist (all columns, if none does). A missing table gives "not produced", never an error.
#: ``{endpoint}`` in a title or note is the study's primary endpoint, ``{ci}`` the interval level
#: that ``alpha`` gives (e.g. ``95% CI``).
HEADLINES: list[dict] = [
    {"title": "Participants and follow-up",
     "note": "randomized subjects by arm and how their follow-up ended by the primary horizon",
     "tables": ["exploratory_consort_counts"],
     "columns": ["label", "allocated", "died", "transplanted", "withdrew", "lost", "censored", "completed",
                 "analysed"]},
    {"title": "{endpoint} at the primary horizon",
     "note": "Kaplan–Meier probability of being event-free ({endpoint_events}), by arm, with {ci}",
     "tables": ["efficacy_survival_at_horizon"],
     "columns": ["arm", "n", "n_events", "survival", "ci_low", "ci_high"]},
    {"title": "Primary hypothesis test",
     "note": "the confirmatory test of the primary endpoint (the multiplicity table lists all)",
     "tables": ["efficacy_multiplicity"], "where": {"family": "primary"},
     "columns": ["hypothesis", "p_value", "p_adjusted", "role", "significant"]},
    {"title": "Treatment effects on {endpoint_lower}",
     "note": "hazard ratios (estimate, {ci}) of the factorial Cox model (each factor and their interaction) or, "
             "for a design that is not factorial, of each arm against control",
     "tables": ["efficacy_cox_factorial", "efficacy_cox_arm"],
     "columns": ["label", "estimate", "ci_low", "ci_high", "p_value", "n", "events"]},
    {"title": "Infusion reactions",
     "note": "infused patients with any reaction (fever, rash, allergy) within 0–8 h of an infusion: proportion and {ci}",
     "tables": ["safety_infusion_reactions"], "where": {"reaction": "any"},
     "columns": ["arm", "n_patients", "patients_with", "estimate", "ci_low", "ci_high"]},
    {"title": "Serious adverse events",
     "note": "patients with at least one serious adverse event: proportion, {ci}, p-value against the control arm",
     "tables": ["safety_serious_aes"], "where": {"level": "any"},
     "columns": ["arm", "n", "n_patients", "estimate", "ci_low", "ci_high", "p_value"]},
    {"title": "Adverse-event rates",
     "note": "all adverse events per 100 patient-years, rate ratio and p-value against the control arm",
     "tables": ["safety_ae_rates"], "where": {"level": "all"},
     "columns": ["arm", "n", "events", "patient_years", "estimate", "ci_low", "ci_high", "rate_ratio", "p_value"]},
]
_MAX_ROWS = 12
_MAX_COLS = 10


def _fmt(v: Any, col: str) -> str:
    import math

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if col.startswith("p_") or col == "p":
            return "<0.001" if v < 0.001 else f"{v:.3f}"
        if v.is_integer() and abs(v) < 1e9:
            return str(int(v))
        return f"{v:.3g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
    return str(v)


def _endpoint_words(study_file: Path) -> dict:
    """The primary endpoint's name and events, from the report's study file (headline wording)."""
    from trialkit.study import load_study

    if not study_file.is_file():
        return {}
    study = load_study(study_file)
    ep = study.primary_endpoint
    return {"endpoint": ep.name, "endpoint_events": " or ".join(study.events[e].label.lower() for e in ep.events)}


def headline_results(tables_dir: str | Path, arm_labels: dict[str, str] | None = None, *,
                     endpoint: str = "Transplant-free survival", endpoint_events: str = "death or liver transplantation",
                     alpha: float = 0.05) -> list[dict]:
    """The headline sections for index.html, read from the saved tables (absent ones noted).

    Arm ids in an ``arm`` column are shown with their study-file labels (``arm_labels``); titles and
    notes name the study's primary ``endpoint`` (and the events that make it) and the interval level
    that ``alpha`` gives.

    Examples
    --------
    Only the serious-adverse-event table was produced; its ``level == "any"`` rows are shown:

    >>> import tempfile, pathlib
    >>> tables = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tables / "safety_serious_aes.csv").write_text(
    ...     "arm,level,n,n_patients,estimate,ci_low,ci_high,p_value\\n"
    ...     "ctl,any,20,5,0.25,0.087,0.491,\\n"
    ...     "trt,any,20,3,0.15,0.032,0.379,0.0004\\n"
    ...     "trt,grade3,20,1,0.05,0.001,0.249,0.6\\n")
    >>> sections = headline_results(tables, {"ctl": "Control", "trt": "Treatment"})
    >>> len(sections) == len(HEADLINES), [s["title"] for s in sections if s["table"] is not None]
    (True, ['Serious adverse events'])
    >>> sae = sections[5]
    >>> sae["columns"]
    ['arm', 'n', 'n_patients', 'estimate', 'ci_low', 'ci_high', 'p_value']
    >>> sae["rows"]
    [['Control', '20', '5', '0.25', '0.087', '0.491', '–'],
     ['Treatment', '20', '3', '0.15', '0.032', '0.379', '<0.001']]
    """
    import pandas as pd

    from trialkit.report.narrate import ci_label

    tables_dir = Path(tables_dir)
    words = {"endpoint": endpoint, "endpoint_lower": endpoint[:1].lower() + endpoint[1:],
             "endpoint_events": endpoint_events, "ci": ci_label(alpha)}
    out = []
    for spec in HEADLINES:
        name = next((t for t in spec["tables"] if (tables_dir / f"{t}.csv").is_file()), None)
        section = {"title": spec["title"].format(**words), "note": spec["note"].format(**words), "table": name,
                   "columns": [], "rows": [], "more": 0}
        out.append(section)
        if name is None:
            continue
        try:
            df = pd.read_csv(tables_dir / f"{name}.csv")
        except (ValueError, OSError) as exc:  # empty or malformed: say so, do not fail the report
            section["error"] = f"could not be read ({type(exc).__name__})"
            continue
        for col, value in (spec.get("where") or {}).items():
            if col in df.columns:
                df = df[df[col].astype(str) == str(value)]
        cols = [c for c in spec.get("columns", []) if c in df.columns] or list(df.columns)
        cols = cols[:_MAX_COLS]
        if arm_labels and "arm" in cols:
            df = df.assign(arm=[arm_labels.get(str(a), a) for a in df["arm"]])
        section["columns"] = cols
        section["numeric"] = [pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
                              for c in cols]
        section["rows"] = [[_fmt(v, c) for c, v in zip(cols, row)]
                           for row in df[cols].head(_MAX_ROWS).astype(object).itertuples(index=False)]
        section["more"] = max(0, len(df) - _MAX_ROWS)
    return out


def _jinja():
    import jinja2

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def write_index(report_dir: str | Path, *, params, notebooks: list[str], study_title: str,
                dataset_source: str) -> Path:
    """Write ``index.html``: headline results, notebooks, tables, figures, provenance links.

    Examples
    --------
    >>> import tempfile, pathlib, nbformat
    >>> from trialkit.report.params import RunParams
    >>> report = pathlib.Path(tempfile.mkdtemp())
    >>> nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Safety overview")]),
    ...                str(report / "01_safety.ipynb"))
    >>> (report / "tables").mkdir()
    >>> _ = (report / "tables" / "safety_serious_aes.csv").write_text("arm,level,n,n_patients\\nctl,any,20,5\\n")
    >>> page = write_index(report, params=RunParams(), notebooks=["01_safety"],
    ...                    study_title="DEMO-1: a demonstration trial", dataset_source="simulated:default:seed=1")
    >>> page.name
    'index.html'
    >>> html = page.read_text()
    >>> "DEMO-1: a demonstration trial" in html, "Safety overview" in html, 'href="01_safety.html"' in html
    (True, True, True)
    >>> "tables/safety_serious_aes.csv" in html, "Serious adverse events" in html
    (True, True)
    """
    import nbformat
    import yaml

    report_dir = Path(report_dir)
    pages = []
    for stem in notebooks:
        nb = nbformat.read(str(report_dir / f"{stem}.ipynb"), as_version=4)
        pages.append({"stem": stem, "title": notebook_title(nb, stem), "html": f"{stem}.html",
                      "ipynb": f"{stem}.ipynb"})
    tables = sorted(p.name for p in (report_dir / "tables").iterdir() if p.is_file()) if (report_dir / "tables").is_dir() else []
    fig_dir = report_dir / "figures"
    figures = []
    for png in sorted(fig_dir.glob("*.png")) if fig_dir.is_dir() else []:
        svg = png.with_suffix(".svg")
        figures.append({"name": png.stem, "png": f"figures/{png.name}",
                        "svg": f"figures/{svg.name}" if svg.is_file() else None})
    study = yaml.safe_load((report_dir / "study.yaml").read_text(encoding="utf-8")) if (report_dir / "study.yaml").is_file() else {}
    from trialkit.study import parse_days

    horizons = {k: f"{parse_days(v):g}" for k, v in (study.get("horizons") or {}).items()}  # "8 years" -> 2922
    if dataset_source.startswith("simulated:"):
        _, scen, seed = (dataset_source.split(":") + ["", ""])[:3]
        dataset_text = f"simulated trial (scenario “{scen}”, {seed.replace('=', ' ')})"
    else:
        dataset_text = Path(dataset_source).name
    ctx = {
        "study_title": study_title, "dataset": dataset_text, "alpha": params.alpha, "horizons": horizons,
        "code": params.code, "allow_listings": params.allow_listings,
        "headlines": headline_results(report_dir / "tables",
                                      {str(a.get("id")): str(a.get("label", a.get("id"))) for a in study.get("arms", [])},
                                      **_endpoint_words(report_dir / "study.yaml"), alpha=params.alpha),
        "pages": pages, "tables": tables, "figures": figures, "has_data": (report_dir / "data" / "subjects.csv").is_file(),
        "supplement": collect_captions(report_dir, notebooks),
        "has_truth": (report_dir / "data" / "truth.json").is_file(),
        "areas": _group(tables),
    }
    html = _jinja().get_template("report_index.html.j2").render(**ctx)
    path = report_dir / "index.html"
    path.write_text(html, encoding="utf-8", newline="\n")
    return path


def _group(names: list[str]) -> list[tuple[str, list[str]]]:
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.split("_", 1)[0], []).append(n)
    return list(groups.items())


# ------------------------------------------------------------------------------------------------
# manifest.json
# ------------------------------------------------------------------------------------------------
def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "abc.txt"
    >>> _ = f.write_bytes(b"abc")
    >>> sha256_file(f)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of trialkit's declared (locked) runtime dependencies, plus the kit's own.

    Examples
    --------
    >>> versions = package_versions()       # e.g. {'distributed': '...', ..., 'trialkit': '0.1.0'}
    >>> {"pandas", "papermill", "trialkit"} <= set(versions)
    True
    >>> list(versions) == sorted(versions, key=str.lower)
    True
    """
    out = {}
    try:
        reqs = _md.requires("trialkit") or []
    except _md.PackageNotFoundError:  # pragma: no cover - not installed
        reqs = []
    for r in reqs:
        if "extra ==" in r:
            continue
        name = re.split(r"[\s;<>=!~\[(]", r, maxsplit=1)[0]
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            out[name] = None
    try:
        out["trialkit"] = _md.version("trialkit")
    except _md.PackageNotFoundError:  # pragma: no cover
        pass
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def git_commit(root: str | Path) -> dict | None:
    """``{"commit", "dirty"}`` of the checkout at ``root``; None outside git or without git.

    Examples
    --------
    A throw-away repository with one commit, then an uncommitted change:

    >>> import subprocess, tempfile, pathlib
    >>> repo = pathlib.Path(tempfile.mkdtemp())
    >>> git = ["git", "-C", str(repo), "-c", "user.name=demo", "-c", "user.email=demo@example.org",
    ...        "-c", "commit.gpgsign=false"]
    >>> _ = subprocess.run(git + ["init", "-q"], check=True)
    >>> _ = (repo / "analysis.py").write_text("x = 1\\n")
    >>> _ = subprocess.run(git + ["add", "analysis.py"], check=True)
    >>> _ = subprocess.run(git + ["commit", "-q", "-m", "first"], check=True)
    >>> info = git_commit(repo)
    >>> sorted(info), len(info["commit"]), info["dirty"]
    (['commit', 'dirty'], 40, False)
    >>> _ = (repo / "analysis.py").write_text("x = 2\\n")
    >>> git_commit(repo)["dirty"]
    True
    >>> git_commit(tempfile.mkdtemp()) is None       # not a git checkout
    True
    """
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def _display_path(path: Path, root: Path, report_dir: Path) -> str:
    path = Path(path).resolve()
    for base in (report_dir.resolve(), root.resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.as_posix()


def write_manifest(report_dir: str | Path, *, name: str, params, inputs: list[tuple[str, Path]], notebooks: list[Path],
                   results, injected: dict, started, finished, wall_seconds: float, jobs: int,
                   root: str | Path, t0: float | None = None) -> dict:
    """Write ``manifest.json``: parameters, input hashes, versions, git commit, times, durations, outputs.

    Per notebook: ``seconds`` executing its cells (kernel start-up and imports, which overlap the
    preparation, excluded) and ``started_after`` (seconds from the start of the run).

    Input paths inside the report folder (the simulated ``data/``) are relative to it; inside the
    checkout, relative to the checkout; else absolute. This is the only output that records times.

    Examples
    --------
    >>> import datetime as dt, json, tempfile, pathlib
    >>> from trialkit.report.jobs import NotebookResult
    >>> from trialkit.report.params import RunParams
    >>> root = pathlib.Path(tempfile.mkdtemp())          # stands for the checkout
    >>> (root / "notebooks").mkdir(), (root / "report").mkdir(), (root / "report" / "data").mkdir()
    (None, None, None)
    >>> _ = (root / "notebooks" / "01_safety.ipynb").write_text("{}")
    >>> _ = (root / "report" / "data" / "subjects.csv").write_text("subject_id\\nS001\\n")
    >>> _ = (root / "report" / "index.html").write_text("<h1>demo</h1>\\n")
    >>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    >>> m = write_manifest(root / "report", name="demo", params=RunParams(),
    ...                    inputs=[("data", root / "report" / "data" / "subjects.csv")],
    ...                    notebooks=[root / "notebooks" / "01_safety.ipynb"],
    ...                    results=[NotebookResult("01_safety", status="done", seconds=1.234, cells=3)],
    ...                    injected={"01_safety": {"alpha": 0.05}}, started=t0, finished=t0 + dt.timedelta(seconds=5),
    ...                    wall_seconds=5.0, jobs=1, root=root)
    >>> [(i["role"], i["path"]) for i in m["inputs"]]
    [('data', 'data/subjects.csv'), ('notebook', 'notebooks/01_safety.ipynb')]
    >>> m["notebooks"]
    [{'name': '01_safety', 'status': 'done', 'seconds': 1.23, 'cells': 3, 'started_after': None}]
    >>> [o["path"] for o in m["outputs"]], m["started"], m["wall_seconds"]     # data/ is hashed as an input
    (['index.html'], '2026-01-01T00:00:00+00:00', 5.0)
    >>> json.loads((root / "report" / "manifest.json").read_text())["report"]
    'demo'
    """
    report_dir, root = Path(report_dir), Path(root)
    files = list(inputs)
    if params.source and Path(params.source).is_file():
        files.append(("params", Path(params.source)))
    files += [("notebook", Path(nb)) for nb in notebooks]
    seen = set()
    input_rows = []
    for role, path in files:
        key = (role, Path(path).resolve())
        if key in seen:
            continue
        seen.add(key)
        input_rows.append({"role": role, "path": _display_path(path, root, report_dir), "sha256": sha256_file(path)})
    outputs = []
    for p in sorted(report_dir.rglob("*")):
        if p.is_file() and p.name not in ("manifest.json", BUILD_MARKER) and "data" not in p.relative_to(report_dir).parts[:1]:
            outputs.append({"path": p.relative_to(report_dir).as_posix(), "sha256": sha256_file(p)})
    manifest = {
        "generator": SIGNATURE,  # marks the folder as a report the kit wrote (and may replace)
        "report": name,
        "parameters": {k: v for k, v in params.as_dict().items()},
        "injected_parameters": injected,
        "inputs": input_rows,
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "executable": Path(sys.executable).name,  # the interpreter's name only: no machine path in a report
        "git": git_commit(root),
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "wall_seconds": round(wall_seconds, 2),
        "jobs": jobs,
        "notebooks": [{"name": r.name, "status": r.status, "seconds": round(r.seconds, 2), "cells": r.cells,
                       "started_after": (round(r.started - t0, 2) if t0 is not None and r.started else None)}
                      for r in results],
        "outputs": outputs,
    }
    (report_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n",
                                              encoding="utf-8", newline="\n")
    return manifest
