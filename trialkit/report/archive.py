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
of the run parameters (:mod:`~trialkit.report.citation`); the PDFs are printed by
:mod:`~trialkit.report.pdf`. The date is the run's (``manifest.json``), so
archiving the same report twice gives the same zip, byte for byte (fixed entry times and order).

The RO-Crate is written here to the 1.1 specification rather than with the ``rocrate`` package:
the package stamps the current time and its own identifiers, and this file must be a function of
the report; the test suite reads it back with ``rocrate``.
"""
from __future__ import annotations

import json
import mimetypes
import os
import re
import shutil
import socket
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trialkit.report.citation import (
    ArchiveError,
    archive_settings,
    author_name,
    citation_cff,
    license_text,
    validate_citation,
)
from trialkit.report.pdf import print_pdfs

__all__ = ["archive_report", "ro_crate", "sha256sums", "neutral_paths", "find_machine_strings"]
ROOT_FOLDER = "supplement"
CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
CRATE_SPEC = "https://w3id.org/ro/crate/1.1"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


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
# README.md
# ------------------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _readme(settings: dict, manifest: dict, captions: list[dict], pages: list[dict], data_note: str,
            date: str) -> str:
    authors = ", ".join(author_name(a) for a in settings["authors"])
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
        e = {"@id": a.get("orcid") or f"#author-{i}", "@type": "Person", "name": author_name(a),
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
    from trialkit.data.io import sha256_file

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
    inputs: list[dict[str, str]] = [{"@id": f} for f in ("study.yaml", "scenario.yaml", "params.yaml") if f in files]
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
    from trialkit.data.io import sha256_file

    folder = Path(folder)
    rows = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}" for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != "SHA256SUMS"]
    return "\n".join(rows) + "\n"


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
                   progress: Callable[[str], object] | None = None) -> Path:
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
    trialkit.report.citation.ArchiveError: /nonexistent/report: not a report folder (no manifest.json)
    """
    import nbformat
    import yaml

    from trialkit.report.captions import collect_captions
    from trialkit.report.folders import project_root
    from trialkit.report.pages import notebook_title

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
        (folder / "LICENSE").write_text(license_text(settings, date), encoding="utf-8", newline="\n")
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
