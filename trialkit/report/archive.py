"""Supplementary material a journal or a repository accepts: ``trialkit archive REPORT``.

:func:`archive_report` turns a published report folder (``outputs/<name>``) into
``outputs/<name>.zip``, holding one folder ``supplement/``:

- the report itself: ``index.html``, the notebook pages (``NN_name.html``) and notebooks
  (``.ipynb``), ``tables/``, ``figures/``, ``study.yaml``, ``scenario.yaml``, ``manifest.json``;
- ``pdf/``: one PDF per notebook page and ``supplement.pdf`` (a cover listing the numbered tables
  and figures, then every page), printed by Chromium with a print stylesheet (no header bar or
  contents panel, code hidden, wide tables shrunk to the page width, page numbers in the footer);
- ``README.md`` (what it is, what to open first, the numbered supplementary tables and figures,
  how to reproduce), ``LICENSE``, ``CITATION.cff``, ``params.yaml`` (the run parameters),
  ``requirements-lock.txt``, ``ro-crate-metadata.json`` (RO-Crate 1.1) and ``SHA256SUMS``.

A simulated dataset (the report's ``data/``) is included. Real data files are copied into
``data/`` only for an internal report (``allow_listings: true``); otherwise they are described by
name and SHA-256 (from the manifest) and marked as not included. Machine paths never enter the
archive: paths in ``manifest.json`` and ``params.yaml`` are written relative to the checkout (or
as a bare file name), and the archive is
refused if the checkout path, the home folder, the temporary folder or the host name appears in
any file.

Metadata for ``README.md``, ``CITATION.cff`` and the RO-Crate come from the ``archive`` mapping
of the run parameters (:data:`SETTINGS`): title (default: the study's), authors, version,
description, keywords, ``license_content`` (default ``CC-BY-4.0``), ``license_code`` (default
``MIT``, the licence in ``pyproject.toml``). The date is the run's (``manifest.json``), so
archiving the same report twice gives the same zip, byte for byte (fixed entry times and order).

The RO-Crate is written here to the 1.1 specification rather than with the ``rocrate`` package:
the package stamps the current time and its own identifiers, and this file must be a function of
the report; the test suite reads it back with ``rocrate``.

Examples
--------
>>> check_settings({"authors": [{"family-names": "Doe", "given-names": "Ann"}], "version": "1.0"}, "run.yaml")
>>> check_settings({"license_content": "CC-BY-5"}, "run.yaml")
Traceback (most recent call last):
...
trialkit.report.archive.ArchiveError: run.yaml: archive.license_content: 'CC-BY-5' is not an SPDX licence identifier
"""
from __future__ import annotations

import functools
import json
import mimetypes
import os
import re
import shutil
import socket
import tempfile
import zipfile
from html import escape as html_escape
from pathlib import Path
from typing import Any

from trialkit.errors import TrialkitError

__all__ = ["ArchiveError", "SETTINGS", "CFF_SCHEMA", "PRINT_CSS", "check_settings", "archive_settings",
           "archive_report", "citation_cff", "validate_citation", "ro_crate", "sha256sums", "neutral_paths",
           "find_machine_strings", "print_pdfs", "prepare_print", "fit_tables", "clipped_tables", "pdf_page_count",
           "find_chromium"]

CFF_SCHEMA = Path(__file__).resolve().parent / "cff-1.2.0.schema.json"
ROOT_FOLDER = "supplement"
CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
CRATE_SPEC = "https://w3id.org/ro/crate/1.1"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
#: ``archive:`` keys of the run parameters and their defaults (None = derived, see the module docstring).
SETTINGS: dict[str, Any] = {"title": None, "description": None, "authors": None, "version": "1.0",
                            "keywords": None, "license_content": "CC-BY-4.0", "license_code": "MIT",
                            "repository_code": None}
_AUTHOR_KEYS = ("name", "family-names", "given-names", "affiliation", "orcid", "email")
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


class ArchiveError(TrialkitError):
    """The report cannot be archived (not a report, bad settings, a machine path would be published)."""


# ------------------------------------------------------------------------------------------------
# Settings
# ------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _cff_schema() -> dict:
    return json.loads(CFF_SCHEMA.read_text(encoding="utf-8"))


def _spdx_ids() -> set[str]:
    return set(_cff_schema()["definitions"]["license-enum"]["enum"])


def check_settings(raw: Any, src: str = "<params>") -> None:
    """Check the ``archive`` mapping of the run parameters; raise :class:`ArchiveError` naming the key.

    Examples
    --------
    >>> check_settings({"authors": [{"name": "The DEMO-1 investigators"}]})
    >>> check_settings({"authors": [{"given-names": "Ann"}]}, "run.yaml")
    Traceback (most recent call last):
    ...
    trialkit.report.archive.ArchiveError: run.yaml: archive.authors[1]: expected 'name' or 'family-names'
    """
    if raw is None:
        return
    if not isinstance(raw, dict):
        raise ArchiveError(f"{src}: archive: expected a mapping with keys {', '.join(SETTINGS)}")
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise ArchiveError(f"{src}: archive.{unknown[0]}: unknown key; expected one of {', '.join(SETTINGS)}")
    for key in ("title", "description", "version", "repository_code"):
        v = raw.get(key)
        if v is not None and (not isinstance(v, str) or not v.strip()):
            raise ArchiveError(f"{src}: archive.{key}: expected a text, got {v!r}")
    if raw.get("keywords") is not None and (not isinstance(raw["keywords"], list)
                                            or not all(isinstance(k, str) and k for k in raw["keywords"])):
        raise ArchiveError(f"{src}: archive.keywords: expected a list of words, got {raw['keywords']!r}")
    for key in ("license_content", "license_code"):
        v = raw.get(key)
        if v is not None and v not in _spdx_ids():
            raise ArchiveError(f"{src}: archive.{key}: {v!r} is not an SPDX licence identifier")
    authors = raw.get("authors")
    if authors is not None:
        if not isinstance(authors, list) or not authors:
            raise ArchiveError(f"{src}: archive.authors: expected a list of authors, got {authors!r}")
        for i, a in enumerate(authors, start=1):
            if not isinstance(a, dict) or not all(isinstance(v, str) and v for v in a.values()):
                raise ArchiveError(f"{src}: archive.authors[{i}]: expected a mapping of texts, got {a!r}")
            bad = sorted(set(a) - set(_AUTHOR_KEYS))
            if bad:
                raise ArchiveError(f"{src}: archive.authors[{i}].{bad[0]}: unknown key; expected one of "
                                   f"{', '.join(_AUTHOR_KEYS)}")
            if "name" not in a and "family-names" not in a:
                raise ArchiveError(f"{src}: archive.authors[{i}]: expected 'name' or 'family-names'")
            if "orcid" in a and not re.fullmatch(r"https://orcid\.org/\d{4}-\d{4}-\d{4}-\d{3}[0-9X]", a["orcid"]):
                raise ArchiveError(f"{src}: archive.authors[{i}].orcid: expected "
                                   f"https://orcid.org/0000-0000-0000-0000, got {a['orcid']!r}")


def archive_settings(raw: dict | None, *, study_title: str, study_id: str | None = None) -> dict:
    """The ``archive`` settings with defaults filled in (title from the study, authors from its id).

    Examples
    --------
    >>> s = archive_settings({"version": "2.1"}, study_title="DEMO-1: a demonstration trial", study_id="DEMO-1")
    >>> s["title"], s["version"], s["authors"]
    ('Supplementary material: DEMO-1: a demonstration trial', '2.1', [{'name': 'DEMO-1 investigators'}])
    >>> s["license_content"], s["license_code"]
    ('CC-BY-4.0', 'MIT')
    """
    check_settings(raw)
    s = {**SETTINGS, **{k: v for k, v in (raw or {}).items() if v is not None}}
    s["title"] = s["title"] or f"Supplementary material: {study_title}"
    s["description"] = s["description"] or (
        f"Supplementary material of {study_title}: the analysis notebooks as executed, as web pages and PDF, "
        "with every result table (CSV) and figure, the study and run parameters, and the record of the run.")
    s["authors"] = s["authors"] or [{"name": f"{study_id or 'The study'} investigators"}]
    return s


# ------------------------------------------------------------------------------------------------
# Machine paths
# ------------------------------------------------------------------------------------------------
_ABS = re.compile(r"^(/|[A-Za-z]:[\\/])")


def neutral_paths(value: Any, root: str | Path) -> Any:
    """``value`` with every absolute path made relative to ``root`` (the checkout), else its file name.

    Examples
    --------
    >>> neutral_paths({"notebooks": "/home/ann/kit/notebooks", "data": ["/mnt/x/trial.xlsx", "data"], "n": 3},
    ...               "/home/ann/kit")
    {'notebooks': 'notebooks', 'data': ['trial.xlsx', 'data'], 'n': 3}
    """
    if isinstance(value, dict):
        return {k: neutral_paths(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [neutral_paths(v, root) for v in value]
    if isinstance(value, str) and _ABS.match(value) and "\n" not in value:
        p, r = Path(value), Path(root)
        return p.relative_to(r).as_posix() if p.is_relative_to(r) else p.name
    return value


def _machine_strings(root: Path) -> list[tuple[str, re.Pattern]]:
    out = []
    home = str(Path.home())
    for label, text in (("the checkout path", str(root.resolve())), ("the home folder", home),
                        ("the temporary folder", tempfile.gettempdir())):
        if len(text) > 1:
            out.append((label, re.compile(re.escape(text) + r"(?![A-Za-z0-9_.-])")))
    host = socket.gethostname()
    if len(host) >= 3 and host not in ("localhost",):
        out.append(("the host name", re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(host)}(?![A-Za-z0-9_-])")))
    out.append(("a file:// address", re.compile(r"file:///")))
    return out


def find_machine_strings(folder: str | Path, root: str | Path) -> list[str]:
    """Files (``path: what``) of ``folder`` naming the checkout path, home or temporary folder, or host name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (tmp / "ok.txt").write_text("relative/path.csv")
    >>> _ = (tmp / "leak.json").write_text('{"python": "' + str(tmp / "bin" / "python") + '"}')
    >>> find_machine_strings(tmp, "/nowhere")
    ['leak.json: the temporary folder']
    """
    folder = Path(folder)
    checks = _machine_strings(Path(root))
    problems = []
    for p in sorted(folder.rglob("*")):
        if not p.is_file():
            continue
        text = p.read_bytes().decode("latin-1")
        for label, pat in checks:
            if pat.search(text):
                problems.append(f"{p.relative_to(folder).as_posix()}: {label}")
                break
    return problems


# ------------------------------------------------------------------------------------------------
# CITATION.cff, LICENSE, README.md
# ------------------------------------------------------------------------------------------------
def citation_cff(settings: dict, date: str) -> str:
    """``CITATION.cff`` (Citation File Format 1.2.0) for the supplement.

    Examples
    --------
    >>> s = archive_settings({"authors": [{"family-names": "Doe", "given-names": "Ann"}]}, study_title="DEMO-1")
    >>> text = citation_cff(s, "2026-01-31")
    >>> print(text.splitlines()[0]); validate_citation(text)
    cff-version: 1.2.0
    """
    import yaml

    authors = [{k: a[k] for k in _AUTHOR_KEYS if k in a} for a in settings["authors"]]
    doc = {"cff-version": "1.2.0",
           "message": "If you use this supplementary material, please cite it using these metadata.",
           "type": "dataset", "title": settings["title"], "version": str(settings["version"]),
           "date-released": date, "authors": authors, "abstract": settings["description"],
           "license": settings["license_content"]}
    if settings.get("keywords"):
        doc["keywords"] = list(settings["keywords"])
    if settings.get("repository_code"):
        doc["repository-code"] = settings["repository_code"]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def validate_citation(text: str) -> None:
    """Validate ``CITATION.cff`` text against the CFF 1.2.0 JSON schema (what ``cffconvert --validate`` checks).

    The schema is the one cffconvert 2.0.0 ships (``cff-1.2.0.schema.json``, CC-BY-4.0); cffconvert
    itself cannot be installed beside this kit (it requires ``jsonschema<4``).

    Examples
    --------
    >>> validate_citation("cff-version: 1.2.0\\nmessage: hi\\ntitle: t\\nauthors: []\\n")
    Traceback (most recent call last):
    ...
    trialkit.report.archive.ArchiveError: CITATION.cff: authors: [] should be non-empty
    """
    import jsonschema
    import yaml

    doc = yaml.safe_load(text)
    validator = jsonschema.Draft7Validator(_cff_schema(), format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        raise ArchiveError(f"CITATION.cff: {'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}")


_MIT = """MIT License

Copyright (c) {year} {holders}

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def _author_name(a: dict) -> str:
    return a.get("name") or " ".join(x for x in (a.get("given-names"), a.get("family-names")) if x)


def _license_text(settings: dict, date: str) -> str:
    holders = ", ".join(_author_name(a) for a in settings["authors"])
    content, code = settings["license_content"], settings["license_code"]
    parts = [f"Licences of this supplementary material\n{'=' * 39}\n",
             f"Content - the text, tables (CSV), figures (PNG, SVG), web pages (HTML) and PDF files:\n"
             f"  {content}, https://spdx.org/licenses/{content}.html\n",
             f"Code - the notebooks (.ipynb, their code cells) and the parameter files:\n"
             f"  {code}, https://spdx.org/licenses/{code}.html\n",
             f"Copyright (c) {date[:4]} {holders}.\n"]
    if code == "MIT":
        parts.append("\n" + "-" * 100 + "\nThe licence of the code:\n\n" + _MIT.format(year=date[:4], holders=holders))
    return "\n".join(parts)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _readme(settings: dict, manifest: dict, captions: list[dict], pages: list[dict], data_note: str,
            date: str) -> str:
    authors = ", ".join(_author_name(a) for a in settings["authors"])
    git = manifest.get("git") or {}
    lines = [f"# {settings['title']}", "", settings["description"], "",
             f"Version {settings['version']}, {date}. Authors: {authors}. How to cite: `CITATION.cff`. "
             f"Licences: `LICENSE` (content {settings['license_content']}, code {settings['license_code']}).", "",
             "## What to open first", "",
             "- `index.html`: the report's entry page (headline results, links to every notebook page, table and "
             "figure). Open it in a web browser; it needs no network.",
             "- `pdf/supplement.pdf`: everything as one printable document (one PDF per notebook in `pdf/`).", "",
             "## Contents", "", "| file | what |", "|---|---|"]
    for p in pages:
        lines.append(f"| `{p['stem']}.html`, `pdf/{p['stem']}.pdf` | {_md_cell(p['title'])} (the notebook as "
                     f"executed: `{p['stem']}.ipynb`) |")
    lines += ["| `tables/*.csv` | the result tables (UTF-8 CSV) |",
              "| `figures/*.png`, `figures/*.svg` | the figures |",
              "| `study.yaml` | the study design the analyses used |"]
    if (manifest.get("parameters") or {}).get("dataset") == "simulate":
        lines.append("| `scenario.yaml` | the simulation scenario (self-contained) |")
    lines += ["| `params.yaml` | the run parameters |",
              "| `requirements-lock.txt` | the exact versions of every Python package used |",
              "| `manifest.json` | the record of the run: parameters, SHA-256 of every input and output, "
              "package versions, times |",
              "| `ro-crate-metadata.json` | archive metadata (RO-Crate 1.1): every file, the notebooks with their "
              "parameters, the inputs, the software |",
              "| `SHA256SUMS` | checksums of every file: `sha256sum -c SHA256SUMS` |",
              "| `LICENSE`, `CITATION.cff` | licences and citation |", ""]
    for kind, heading in (("table", "Supplementary tables"), ("figure", "Supplementary figures")):
        items = [c for c in captions if c["kind"] == kind]
        lines += [f"## {heading}", ""]
        if not items:
            lines += ["None.", ""]
            continue
        lines += ["| number | caption | file | notebook |", "|---|---|---|---|"]
        lines += [f"| {c['label']} | {_md_cell(c['caption'])} | `{c['href']}` | `{c['notebook']}.html` |"
                  for c in items]
        lines.append("")
    lines += ["## Data", "", data_note, "",
              "## How to reproduce", "",
              "With Python 3.11 and the trialkit source"
              + (f" at commit `{git['commit']}`" if git.get("commit") else "")
              + " (the commit `manifest.json` records), in the trialkit folder, two commands:", "",
              "```", "make install                                  # the exact packages of requirements-lock.txt",
              ".venv/bin/trialkit run --params params.yaml  # executes every notebook, writes the report", "```", "",
              "`params.yaml` is the parameters file of this run (copy it into the trialkit folder) and "
              "`requirements-lock.txt` the lock file `make install` installs. The same data, parameters and lock "
              "file give byte-identical tables, figures and pages: compare them with `SHA256SUMS` or the "
              "`outputs` of `manifest.json`. `trialkit archive outputs/<name>` then writes this archive.", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# RO-Crate
# ------------------------------------------------------------------------------------------------
_MIME = {".ipynb": "application/x-ipynb+json", ".csv": "text/csv", ".yaml": "application/yaml",
         ".cff": "application/yaml", ".md": "text/markdown", ".json": "application/json", ".txt": "text/plain",
         ".svg": "image/svg+xml", ".png": "image/png", ".pdf": "application/pdf", ".html": "text/html"}


def _mime(path: str) -> str:
    name = Path(path).name
    if name in ("LICENSE", "SHA256SUMS"):
        return "text/plain"
    return _MIME.get(Path(path).suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _spdx(ident: str) -> dict:
    return {"@id": f"https://spdx.org/licenses/{ident}", "@type": "CreativeWork", "name": ident,
            "identifier": ident}


def _author_entity(i: int, a: dict) -> dict:
    if "family-names" in a:
        e = {"@id": a.get("orcid") or f"#author-{i}", "@type": "Person", "name": _author_name(a),
             "familyName": a["family-names"]}
        if "given-names" in a:
            e["givenName"] = a["given-names"]
        if "affiliation" in a:
            e["affiliation"] = a["affiliation"]
    else:
        e = {"@id": a.get("orcid") or f"#author-{i}", "@type": "Organization", "name": a["name"]}
    if "email" in a:
        e["email"] = a["email"]
    return e


def ro_crate(folder: str | Path, *, settings: dict, manifest: dict, captions: list[dict], pages: list[dict],
             date: str, excluded: list[dict]) -> dict:
    """The RO-Crate 1.1 metadata of the supplement folder (every file present in it, plus ``excluded`` inputs).

    Every file is a ``File`` with its media type, size and SHA-256 (``SHA256SUMS``, written after
    this, without them); folders are ``Dataset``; the
    notebooks are also ``SoftwareSourceCode``; each notebook's execution is a ``CreateAction``
    (instrument: the notebook; object: its injected parameters as ``PropertyValue`` and the
    inputs; result: its page, PDF, tables and figures); the software (Python, trialkit and the
    locked packages, versions from the manifest) are ``SoftwareApplication`` entities.
    ``excluded`` inputs (``path``, ``sha256``, ``note``) are described but not part of the crate.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "index.html").write_text("<h1>demo</h1>")
    >>> s = archive_settings({}, study_title="DEMO-1")
    >>> crate = ro_crate(folder, settings=s, manifest={"python": "3.11.9", "packages": {"pandas": "3.0"}},
    ...                  captions=[], pages=[], date="2026-01-31", excluded=[])
    >>> graph = {e["@id"]: e for e in crate["@graph"]}
    >>> graph["ro-crate-metadata.json"]["conformsTo"], graph["./"]["hasPart"], graph["index.html"]["encodingFormat"]
    ({'@id': 'https://w3id.org/ro/crate/1.1'}, [{'@id': 'SHA256SUMS'}, {'@id': 'index.html'}], 'text/html')
    """
    from trialkit.report.publish import sha256_file

    folder = Path(folder)
    files = sorted({p.relative_to(folder).as_posix() for p in folder.rglob("*")
                    if p.is_file() and p.name != "ro-crate-metadata.json"} | {"SHA256SUMS"})
    dirs = sorted({f.rsplit("/", 1)[0] + "/" for f in files if "/" in f})
    by_href = {c["href"]: c for c in captions}
    page_titles = {p["stem"]: p["title"] for p in pages}
    content_license, code_license = _spdx(settings["license_content"]), _spdx(settings["license_code"])
    graph: list[dict] = [
        {"@id": "ro-crate-metadata.json", "@type": "CreativeWork", "conformsTo": {"@id": CRATE_SPEC},
         "about": {"@id": "./"}},
    ]
    authors = [_author_entity(i, a) for i, a in enumerate(settings["authors"], start=1)]
    runs = [f"#run-{p['stem']}" for p in pages]
    root = {"@id": "./", "@type": "Dataset", "name": settings["title"], "description": settings["description"],
            "datePublished": date, "version": str(settings["version"]), "license": {"@id": content_license["@id"]},
            "author": [{"@id": a["@id"]} for a in authors],
            "hasPart": [{"@id": d} for d in dirs] + [{"@id": f} for f in files if "/" not in f],
            "mentions": [{"@id": r} for r in runs]}
    if settings.get("keywords"):
        root["keywords"] = ", ".join(settings["keywords"])
    graph.append(root)
    for d in dirs:
        graph.append({"@id": d, "@type": "Dataset", "name": d.rstrip("/"),
                      "hasPart": [{"@id": f} for f in files if f.startswith(d)]})
    for f in files:
        if not (folder / f).is_file():  # SHA256SUMS, written last: it holds this file's hash
            graph.append({"@id": f, "@type": "File", "name": f, "encodingFormat": _mime(f),
                          "description": "SHA-256 of every other file (sha256sum -c SHA256SUMS)"})
            continue
        e: dict[str, Any] = {"@id": f, "@type": "File", "name": Path(f).name, "encodingFormat": _mime(f),
                             "contentSize": str((folder / f).stat().st_size), "sha256": sha256_file(folder / f)}
        stem = Path(f).stem
        if f.endswith(".ipynb"):
            e["@type"] = ["File", "SoftwareSourceCode"]
            e["name"] = page_titles.get(stem, stem)
            e["programmingLanguage"] = {"@id": "#python"}
            e["license"] = {"@id": code_license["@id"]}
        elif f in by_href:
            c = by_href[f]
            e["name"], e["description"] = c["label"], c["caption"]
        elif (f.endswith(".html") or f.endswith(".pdf")) and stem in page_titles:
            e["name"] = f"{page_titles[stem]} ({'web page' if f.endswith('.html') else 'PDF'})"
        graph.append(e)
    for x in excluded:
        graph.append({"@id": f"#not-included/{x['path']}", "@type": "CreativeWork", "name": x["path"],
                      "description": x["note"], "encodingFormat": _mime(x["path"]), "sha256": x["sha256"]})
    graph += authors + [content_license] + ([code_license] if code_license["@id"] != content_license["@id"] else [])
    graph.append({"@id": "#python", "@type": ["ComputerLanguage", "SoftwareApplication"], "name": "Python",
                  "version": str(manifest.get("python", "")), "url": {"@id": "https://www.python.org/"}})
    software = [{"@id": f"#software/{name}", "@type": "SoftwareApplication", "name": name, "version": str(v)}
                for name, v in sorted((manifest.get("packages") or {}).items(), key=lambda kv: kv[0].lower())
                if v is not None]
    graph += software
    inputs = [{"@id": f} for f in ("study.yaml", "scenario.yaml", "params.yaml") if f in files]
    inputs += [{"@id": f} for f in files if f.startswith("data/")]
    inputs += [{"@id": f"#not-included/{x['path']}"} for x in excluded]
    injected = manifest.get("injected_parameters") or {}
    for p in pages:
        stem = p["stem"]
        values = []
        for key, value in sorted((injected.get(stem) or {}).items()):
            pid = f"#parameter/{stem}/{key}"
            graph.append({"@id": pid, "@type": "PropertyValue", "name": key,
                          "value": value if isinstance(value, str) else json.dumps(value)})
            values.append({"@id": pid})
        results = [f for f in (f"{stem}.html", f"pdf/{stem}.pdf") if f in files]
        results += [c["href"] for c in captions if c["notebook"] == stem and c["href"] in files]
        action = {"@id": f"#run-{stem}", "@type": "CreateAction", "name": f"Execution of {stem}.ipynb",
                  "instrument": [{"@id": f"{stem}.ipynb"}] + [{"@id": s["@id"]} for s in software
                                                               if s["name"] == "trialkit"],
                  "object": values + inputs, "result": [{"@id": r} for r in results]}
        if manifest.get("finished"):
            action["endTime"] = manifest["finished"]
        graph.append(action)
    return {"@context": [CRATE_CONTEXT, {"sha256": "http://schema.org/sha256"}], "@graph": graph}


def sha256sums(folder: str | Path) -> str:
    """``SHA256SUMS`` of every file in ``folder`` (except itself), sorted: ``sha256sum -c`` format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "abc.txt").write_bytes(b"abc")
    >>> print(sha256sums(folder), end="")
    ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  abc.txt
    """
    from trialkit.report.publish import sha256_file

    folder = Path(folder)
    rows = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}" for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "SHA256SUMS"]
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------------
# PDF
# ------------------------------------------------------------------------------------------------
#: The print stylesheet added to each page before printing (and in the browser test).
PRINT_CSS = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
html, body { background: #fff !important; }
body { font-size: 10pt; }
.tk-bar, nav.tk-toc, #toc { display: none !important; }
main { margin: 0 !important; padding: 0 !important; }
details.tk-code, .jp-CodeCell .jp-Cell-inputWrapper, .jp-CodeCell .jp-InputArea,
.jp-InputPrompt, .jp-OutputPrompt, .jp-Collapser { display: none !important; }
.jp-Cell, .jp-OutputArea-child, .jp-OutputArea-output { overflow: visible !important; max-width: 100% !important; }
.jp-Cell { padding: 0 !important; }
table { max-width: 100%; font-size: 8pt !important; }
th, td { white-space: normal !important; overflow-wrap: anywhere; }
img, svg { max-width: 100% !important; height: auto !important; break-inside: avoid; }
h1, h2, h3, h4 { break-after: avoid; }
.tk-caption { break-before: avoid; }
.tk-cover { break-after: page; }
.tk-cover td { text-align: left !important; vertical-align: top; }
.tk-cover td:first-child, .tk-cover td:last-child { white-space: nowrap !important; }
.tk-part { break-before: page; }
"""
FOOTER = ('<div style="font: 8px sans-serif; color: #555; width: 100%; text-align: center;">'
          '<span class="title"></span> &middot; page <span class="pageNumber"></span> of '
          '<span class="totalPages"></span></div>')
CONTENT_WIDTH_PX = round((210 - 24) / 25.4 * 96)  # A4 minus the side margins of PRINT_CSS, at 96 px per inch

_FIT_JS = """(width) => {
  const out = [];
  const main = document.querySelector('main') || document.body;
  const left = main.getBoundingClientRect().left;
  document.querySelectorAll('table').forEach((t, i) => {
    if (t.closest('table') !== t || t.parentElement.closest('table')) return;
    const w = t.getBoundingClientRect().right - left;
    if (w > width + 1) { const z = Math.max(0.3, width / w); t.style.zoom = z; out.push([i, w, z]); }
  });
  return out;
}"""
_CLIPPED_JS = """(width) => {
  const out = [];
  const main = document.querySelector('main') || document.body;
  const left = main.getBoundingClientRect().left;
  document.querySelectorAll('table').forEach((t, i) => {
    const r = t.getBoundingClientRect();
    if (r.width > 0 && (r.right - left > width + 1)) out.push([i, r.right - left]);
  });
  return out;
}"""
_STRIP_LINKS_JS = """() => {
  document.querySelectorAll('a[href]').forEach(a => {
    if (!a.getAttribute('href').startsWith('#')) a.removeAttribute('href');
  });
}"""


def find_chromium() -> str:
    """Path of the Chromium that prints the PDFs: ``$TRIALKIT_CHROMIUM``, else Debian's ``/usr/bin/chromium``.

    Examples
    --------
    >>> import os
    >>> os.environ["TRIALKIT_CHROMIUM"] = "/bin/sh"        # any executable file is accepted
    >>> find_chromium()
    '/bin/sh'
    >>> del os.environ["TRIALKIT_CHROMIUM"]
    """
    env = os.environ.get("TRIALKIT_CHROMIUM")
    candidates = [env] if env else list(CHROMIUM_PATHS) + [shutil.which("chromium") or ""]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    raise ArchiveError("no Chromium to print the PDFs: install it (Debian: apt-get install chromium), set "
                       "TRIALKIT_CHROMIUM to its path, or archive without PDFs (--no-pdf)")


def fit_tables(page, width: int = CONTENT_WIDTH_PX) -> list:
    """Shrink (CSS zoom) every table wider than ``width`` px in a playwright ``page``; returns ``[index, width, zoom]``.

    Examples
    --------
    >>> fit_tables.__name__      # needs a browser page: exercised by tests/test_archive.py
    'fit_tables'
    """
    return page.evaluate(_FIT_JS, width)


def clipped_tables(page, width: int = CONTENT_WIDTH_PX) -> list:
    """Tables of a playwright ``page`` extending past ``width`` px from the content's left edge: ``[index, right]``.

    Examples
    --------
    >>> clipped_tables.__name__  # needs a browser page: exercised by tests/test_archive.py
    'clipped_tables'
    """
    return page.evaluate(_CLIPPED_JS, width)


def prepare_print(page) -> None:
    """Make a loaded notebook page printable: print media, :data:`PRINT_CSS`, tables fitted, outside links removed.

    Examples
    --------
    >>> prepare_print.__name__   # needs a browser page: exercised by tests/test_archive.py
    'prepare_print'
    """
    page.set_viewport_size({"width": CONTENT_WIDTH_PX, "height": 1100})
    page.emulate_media(media="print")
    page.add_style_tag(content=PRINT_CSS)
    fit_tables(page)
    page.evaluate(_STRIP_LINKS_JS)


def _fix_pdf_dates(data: bytes) -> bytes:
    """Chromium stamps the current time: replace the digits in place (same length, offsets unchanged)."""
    def fixed(m: re.Match) -> bytes:
        n = len(m.group(2))
        return m.group(0)[:-n] + b"19800101000000"[:n].ljust(n, b"0")

    return re.sub(rb"/(CreationDate|ModDate)\s*\(D:(\d+)", fixed, data)


def pdf_page_count(path: str | Path) -> int:
    """Number of pages of a PDF file (its ``/Type /Page`` objects).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "x.pdf"
    >>> _ = f.write_bytes(b"%PDF-1.4 1 0 obj <</Type /Pages /Count 2>> 2 0 obj <</Type /Page>> 3 0 obj <</Type/Page>>")
    >>> pdf_page_count(f)
    2
    """
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", Path(path).read_bytes()))


def _main_content(html: str) -> tuple[str, str]:
    head = re.search(r"<head>(.*?)</head>", html, re.S)
    body = re.search(r"<main>(.*)</main>", html, re.S)
    head_text = re.sub(r"<title>.*?</title>", "", head.group(1), flags=re.S) if head else ""
    return head_text, (body.group(1) if body else html)


def _cover_html(settings: dict, captions: list[dict], pages: list[dict], date: str) -> str:
    import html as h

    authors = ", ".join(_author_name(a) for a in settings["authors"])
    ordered = [c for c in captions if c["kind"] == "table"] + [c for c in captions if c["kind"] == "figure"]
    rows = "".join(f"<tr><td><b>{h.escape(c['label'])}</b></td><td>{h.escape(c['caption'])}</td>"
                   f"<td>{h.escape(c['notebook'])}</td></tr>" for c in ordered)
    parts = "".join(f"<li>{h.escape(p['title'])} <small>({h.escape(p['stem'])})</small></li>" for p in pages)
    return (f'<section class="tk-cover jp-RenderedHTMLCommon"><h1>{h.escape(settings["title"])}</h1>'
            f"<p>{h.escape(authors)} &middot; version {h.escape(str(settings['version']))} &middot; {date}</p>"
            f"<p>{h.escape(settings['description'])}</p><h2>Contents</h2><ol>{parts}</ol>"
            f"<h2>Supplementary tables and figures</h2><table><tbody>{rows}</tbody></table></section>")


def print_pdfs(folder: str | Path, pages: list[dict], *, settings: dict, captions: list[dict], date: str,
               progress=None) -> list[Path]:
    """Print ``pdf/<stem>.pdf`` for each notebook page of ``folder`` and ``pdf/supplement.pdf`` (cover + all).

    Chromium (:func:`find_chromium`) driven by playwright, from the files on disk, no network.

    Examples
    --------
    >>> print_pdfs.__name__      # starts a browser: exercised by tests/test_archive.py
    'print_pdfs'
    """
    from playwright.sync_api import sync_playwright

    folder = Path(folder)
    out_dir = folder / "pdf"
    out_dir.mkdir(exist_ok=True)
    written = []
    pdf_options = {"format": "A4", "print_background": True, "display_header_footer": True,
                   "header_template": "<div></div>", "footer_template": FOOTER, "prefer_css_page_size": True}
    heads, bodies = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                           "--disable-background-networking", "--disable-component-update"])
        try:
            page = browser.new_page()
            page.route("http*://**", lambda route: route.abort())  # never the network
            for p in pages:
                if progress is not None:
                    progress(f"printing pdf/{p['stem']}.pdf")
                src = folder / f"{p['stem']}.html"
                html = src.read_text(encoding="utf-8")
                head, body = _main_content(html)
                heads.append(head)
                bodies.append(body)
                page.goto(src.resolve().as_uri(), wait_until="load")
                prepare_print(page)
                dest = out_dir / f"{p['stem']}.pdf"
                dest.write_bytes(_fix_pdf_dates(page.pdf(**pdf_options)))
                written.append(dest)
            if progress is not None:
                progress("printing pdf/supplement.pdf")
            combined = (f"<!DOCTYPE html><html><head>{heads[0] if heads else ''}"
                        f"<title>{html_escape(settings['title'])}</title></head><body class=\"jp-Notebook\"><main>"
                        + _cover_html(settings, captions, pages, date)
                        + "".join(f'<div class="tk-part">{b}</div>' for b in bodies) + "</main></body></html>")
            tmp = Path(tempfile.mkdtemp(prefix="tk-print-"))
            try:
                (tmp / "supplement.html").write_text(combined, encoding="utf-8")
                page.goto((tmp / "supplement.html").as_uri(), wait_until="load")
                prepare_print(page)
                dest = out_dir / "supplement.pdf"
                dest.write_bytes(_fix_pdf_dates(page.pdf(**pdf_options)))
                written.append(dest)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        finally:
            browser.close()
    return written


# ------------------------------------------------------------------------------------------------
# The archive
# ------------------------------------------------------------------------------------------------
def _is_ours(zip_path: Path) -> bool:
    try:
        with zipfile.ZipFile(zip_path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False
    return {f"{ROOT_FOLDER}/SHA256SUMS", f"{ROOT_FOLDER}/ro-crate-metadata.json"} <= names


def _zip(folder: Path, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                info = zipfile.ZipInfo(f"{ROOT_FOLDER}/{p.relative_to(folder).as_posix()}", date_time=ZIP_DATE)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, p.read_bytes(), compresslevel=9)
    os.replace(tmp, dest)


def archive_report(report: str | Path, *, out: str | Path | None = None, pdf: bool = True,
                   progress=None) -> Path:
    """Write ``<report>.zip`` beside the report folder: the report as supplementary material (module docstring).

    Parameters
    ----------
    report : path
        A report folder written by ``trialkit run`` (it holds ``manifest.json``).
    out : path, optional
        The zip file (default ``<report>.zip``); replaced only if an earlier archive wrote it.
    pdf : bool
        Print the PDFs (needs Chromium).
    progress : callable, optional
        Called with a short message at each step.

    Returns
    -------
    Path
        The zip file.

    Raises
    ------
    ArchiveError
        Not a report, bad ``archive`` settings, a machine path in a file, or no Chromium.
    FileExistsError
        ``out`` exists and is not an archive this function wrote.

    Examples
    --------
    >>> archive_report("/nonexistent/report")
    Traceback (most recent call last):
    ...
    trialkit.report.archive.ArchiveError: /nonexistent/report: not a report folder (no manifest.json)
    """
    import nbformat
    import yaml

    from trialkit.report.captions import collect_captions
    from trialkit.report.folders import project_root
    from trialkit.report.publish import notebook_title

    report = Path(report)
    if not (report / "manifest.json").is_file():
        raise ArchiveError(f"{report}: not a report folder (no manifest.json)")
    manifest = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
    dest = Path(out) if out is not None else report.with_name(f"{report.name}.zip")
    if dest.exists() and not _is_ours(dest):
        raise FileExistsError(f"{dest} exists and is not a trialkit archive: not overwritten")
    params = manifest.get("parameters") or {}
    study_file = report / "study.yaml"
    study = yaml.safe_load(study_file.read_text(encoding="utf-8")) if study_file.is_file() else {}
    st = (study or {}).get("study") or {}
    study_title = f"{st.get('id')}: {st.get('title')}" if st.get("id") else str(st.get("title") or report.name)
    try:
        settings = archive_settings(params.get("archive"), study_title=study_title, study_id=st.get("id"))
    except ArchiveError as exc:
        raise ArchiveError(f"{report / 'manifest.json'}: parameters: {exc}") from None
    date = str(manifest.get("finished") or manifest.get("started") or "1980-01-01")[:10]
    stems = [n["name"] for n in manifest.get("notebooks", []) if (report / f"{n['name']}.ipynb").is_file()]
    pages = [{"stem": s, "title": notebook_title(nbformat.read(str(report / f"{s}.ipynb"), as_version=4), s)}
             for s in stems]
    captions = collect_captions(report, stems)
    root = project_root()
    simulated = params.get("dataset") == "simulate"
    allow = bool(params.get("allow_listings"))

    work = Path(tempfile.mkdtemp(prefix=f".{dest.stem}.archive-", dir=dest.parent))
    try:
        folder = work / ROOT_FOLDER
        if progress is not None:
            progress("copying the report")
        shutil.copytree(report, folder)
        neutral = neutral_paths(manifest, root)
        (folder / "manifest.json").write_text(json.dumps(neutral, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8", newline="\n")
        run_params = {k: v for k, v in neutral_paths(params, root).items() if k != "source"}
        (folder / "params.yaml").write_text(
            "# The run parameters of this report: `trialkit run --params params.yaml` reproduces it.\n"
            + yaml.safe_dump(run_params, sort_keys=False, allow_unicode=True), encoding="utf-8", newline="\n")
        lock = root / "requirements-lock.txt"
        if lock.is_file():
            shutil.copyfile(lock, folder / "requirements-lock.txt")
        excluded, copied = [], []
        if not simulated:  # the analysed files live outside the report: copied only for an internal report
            for raw_row, row in zip(manifest.get("inputs", []), neutral.get("inputs", [])):
                if raw_row.get("role") != "data":
                    continue
                src = Path(raw_row["path"]) if Path(raw_row["path"]).is_absolute() else root / raw_row["path"]
                if allow and src.is_file():
                    (folder / "data").mkdir(exist_ok=True)
                    shutil.copyfile(src, folder / "data" / src.name)
                    copied.append(f"data/{src.name}")
                else:
                    excluded.append({"path": row["path"], "sha256": row["sha256"], "note": (
                        "not included: subject-level data are not shared (the run did not allow listings); the "
                        "SHA-256 identifies the file analysed" if not allow else "not included: not found")})
        if simulated:
            data_note = ("The notebooks analysed a **simulated** trial; `data/` holds it (no real subject), and "
                         "`trialkit run --params params.yaml` regenerates it identically from `scenario.yaml` "
                         "and the seed.")
        elif copied:
            data_note = ("The dataset every notebook analysed is included in `data/` (an internal report: the run "
                         "allowed listings). `manifest.json` lists its SHA-256 hashes.")
        elif excluded:
            data_note = ("The subject-level data are **not included** (the run did not allow listings). "
                         "`manifest.json` and `ro-crate-metadata.json` give the SHA-256 of each input file ("
                         + ", ".join(f"`{x['path']}`" for x in excluded) + ") so that a reader holding the data "
                         "can check it is the same, then run the commands below with `dataset` in `params.yaml` "
                         "pointing to it.")
        else:
            data_note = "No data files are recorded for this run."
        (folder / "LICENSE").write_text(_license_text(settings, date), encoding="utf-8", newline="\n")
        cff = citation_cff(settings, date)
        validate_citation(cff)
        (folder / "CITATION.cff").write_text(cff, encoding="utf-8", newline="\n")
        (folder / "README.md").write_text(_readme(settings, neutral, captions, pages, data_note, date),
                                          encoding="utf-8", newline="\n")
        if pdf:
            print_pdfs(folder, pages, settings=settings, captions=captions, date=date, progress=progress)
        crate = ro_crate(folder, settings=settings, manifest=neutral, captions=captions, pages=pages, date=date,
                         excluded=excluded)
        (folder / "ro-crate-metadata.json").write_text(json.dumps(crate, indent=2, ensure_ascii=False) + "\n",
                                                       encoding="utf-8", newline="\n")
        (folder / "SHA256SUMS").write_text(sha256sums(folder), encoding="utf-8", newline="\n")
        leaks = find_machine_strings(folder, root)
        if leaks:
            raise ArchiveError("refusing to archive: machine-specific paths or names in " + "; ".join(leaks))
        if progress is not None:
            progress(f"writing {dest.name}")
        _zip(folder, dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest
