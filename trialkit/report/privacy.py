"""The subject-identifier check of a published report (:func:`check_privacy`).

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

import html as _html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from trialkit.data.ids import id_kind
from trialkit.errors import TrialkitError
from trialkit.report.folders import BUILD_MARKER

if TYPE_CHECKING:
    from nbformat import NotebookNode

__all__ = ["PrivacyError", "Hit", "identifier_pattern", "find_identifiers_in_text", "find_identifiers",
           "check_privacy"]
MIN_NUMERIC_IDS = 3


class PrivacyError(TrialkitError):
    """A subject identifier appears in the rendered outputs."""

    def __init__(self, hits: list["Hit"]) -> None:
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


def _cell_texts(cell: NotebookNode) -> Iterable[str]:
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


def _source_cell_labels(nb: NotebookNode) -> list[str]:
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
    trialkit.report.privacy.PrivacyError: refusing to publish: subject identifiers appear in 1 place(s) ...
      tables/listing.csv line 2: 'S017' in …subject_id,day S017,12…
    """
    hits = find_identifiers(report_dir, ids, notebooks, skip=skip)
    if hits:
        raise PrivacyError(hits)
