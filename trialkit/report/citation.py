"""What the supplementary archive says about itself: its settings, ``CITATION.cff`` and the licence.

The ``archive`` mapping of the run parameters (:data:`SETTINGS`) gives the title (default: the
study's), authors, version, description, keywords, ``license_content`` (default ``CC-BY-4.0``) and
``license_code`` (default ``MIT``, the licence in ``pyproject.toml``); :func:`check_settings` checks
it when the run parameters are read, :func:`archive_settings` fills in the defaults, and
:func:`citation_cff` writes ``CITATION.cff`` (checked against the CFF 1.2.0 schema by
:func:`validate_citation`). :mod:`~trialkit.report.archive` builds the zip.

Examples
--------
>>> check_settings({"authors": [{"family-names": "Doe", "given-names": "Ann"}], "version": "1.0"}, "run.yaml")
>>> check_settings({"license_content": "CC-BY-5"}, "run.yaml")
Traceback (most recent call last):
...
trialkit.report.citation.ArchiveError: run.yaml: archive.license_content: expected an SPDX licence identifier (e.g. CC-BY-4.0, MIT), got 'CC-BY-5'
"""
from __future__ import annotations

import functools
import json
import re
from typing import Any

from trialkit.errors import TrialkitError
from trialkit.resources import package_file
from trialkit.yamlcheck import Checker

__all__ = ["ArchiveError", "SETTINGS", "CFF_SCHEMA", "check_settings", "archive_settings", "citation_cff",
           "validate_citation"]

CFF_SCHEMA = package_file("report", "cff-1.2.0.schema.json")
#: ``archive:`` keys of the run parameters and their defaults (None = derived, see the module docstring).
SETTINGS: dict[str, Any] = {"title": None, "description": None, "authors": None, "version": "1.0",
                            "keywords": None, "license_content": "CC-BY-4.0", "license_code": "MIT",
                            "repository_code": None}
_AUTHOR_KEYS = ("name", "family-names", "given-names", "affiliation", "orcid", "email")


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
    trialkit.report.citation.ArchiveError: run.yaml: archive.authors[0]: expected 'name' or 'family-names', got {'given-names': 'Ann'}
    """
    if raw is None:
        return
    c = Checker(src, ArchiveError)
    raw = c.mapping({"archive": raw}, "archive", what=f"a mapping with keys {', '.join(SETTINGS)}")
    c.known_keys(raw, SETTINGS, "archive")
    for key in ("title", "description", "version", "repository_code"):
        c.text(raw, key, "archive", default=None, what="a text")
    if raw.get("keywords") is not None and (not isinstance(raw["keywords"], list)
                                            or not all(isinstance(k, str) and k for k in raw["keywords"])):
        raise c.fail("archive.keywords", "a list of words", raw["keywords"])
    for key in ("license_content", "license_code"):
        v = raw.get(key)
        if v is not None and v not in _spdx_ids():
            raise c.fail(f"archive.{key}", "an SPDX licence identifier (e.g. CC-BY-4.0, MIT)", v)
    authors = raw.get("authors")
    if authors is not None:
        if not isinstance(authors, list) or not authors:
            raise c.fail("archive.authors", "a list of authors", authors)
        for i, a in enumerate(authors):
            w = f"archive.authors[{i}]"
            if not isinstance(a, dict) or not all(isinstance(v, str) and v for v in a.values()):
                raise c.fail(w, "a mapping of texts", a)
            c.known_keys(a, _AUTHOR_KEYS, w)
            if "name" not in a and "family-names" not in a:
                raise c.fail(w, "'name' or 'family-names'", a)
            if "orcid" in a and not re.fullmatch(r"https://orcid\.org/\d{4}-\d{4}-\d{4}-\d{3}[0-9X]", a["orcid"]):
                raise c.fail(f"{w}.orcid", "https://orcid.org/0000-0000-0000-0000", a["orcid"])


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
# CITATION.cff and LICENSE
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
    trialkit.report.citation.ArchiveError: CITATION.cff: authors: [] should be non-empty
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


def author_name(a: dict) -> str:
    return a.get("name") or " ".join(x for x in (a.get("given-names"), a.get("family-names")) if x)


def license_text(settings: dict, date: str) -> str:
    holders = ", ".join(author_name(a) for a in settings["authors"])
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
