"""Subject identifiers: which ones a text search can find, and pseudonyms for those it cannot.

A published report must not show a subject identifier, and the report runner checks that by
searching every published file for every id (:mod:`trialkit.report.privacy`). That works for an
id with letters *and* digits (``S017``, ``PT-0012``, ``12-A3``): such a token does not occur in
ordinary text. It cannot work for

- **number-like** ids: digits only (``101``, zero-padded ``001``), possibly with ``.`` or ``,``
  (``1.5``): the same text is a count, a day, a lab value or part of a decimal;
- **word-like** ids: no digit (``ALT``, ``Ann``): the same text is a word;
- **short** ids (fewer than :data:`MIN_ID_LENGTH` characters): too many coincidences.

:func:`ambiguous_ids` lists those; validation notes them (with advice) and ``trialkit run``
replaces all ids by pseudonyms (:func:`pseudonyms`) before any notebook sees the data, unless told
otherwise (run parameter ``pseudonymize_ids``).

Examples
--------
>>> [id_kind(s) for s in ("S017", "PT-0012", "101", "001", "1.5", "Ann", "S1")]
['distinctive', 'distinctive', 'number-like', 'number-like', 'number-like', 'word-like', 'short']
>>> pseudonyms(["101", "102", "117"])
{'101': 'PSN001', '102': 'PSN002', '117': 'PSN003'}
"""
from __future__ import annotations

import re
from typing import Iterable

__all__ = ["MIN_ID_LENGTH", "PSEUDONYM_PREFIX", "id_kind", "ambiguous_ids", "ambiguity_note", "pseudonyms"]

#: Ids shorter than this are not searched for (and count as ambiguous).
MIN_ID_LENGTH = 3
#: Prefix of the pseudonyms ``PSN001`` … (a letter part and a number part: distinctive).
PSEUDONYM_PREFIX = "PSN"
_NUMBER = re.compile(r"[0-9][0-9.,]*\Z")


def id_kind(subject_id: object) -> str:
    """``"distinctive"``, ``"number-like"``, ``"word-like"`` or ``"short"`` (see the module docstring).

    Examples
    --------
    >>> id_kind("01-101"), id_kind("12,5"), id_kind("A-B-C"), id_kind("  S01 ")
    ('distinctive', 'number-like', 'word-like', 'distinctive')
    """
    s = str(subject_id).strip()
    if len(s) < MIN_ID_LENGTH:
        return "short"
    if _NUMBER.match(s):
        return "number-like"
    if not any(c.isdigit() for c in s):
        return "word-like"
    return "distinctive"


def ambiguous_ids(ids: Iterable) -> dict[str, list[str]]:
    """The ids a text search cannot tell from ordinary text, by kind (kinds with none left out).

    Examples
    --------
    >>> ambiguous_ids(["S001", "002", "117", "Bob", "S2"])
    {'number-like': ['002', '117'], 'word-like': ['Bob'], 'short': ['S2']}
    >>> ambiguous_ids(["S001", "S002"])
    {}
    """
    out: dict[str, list[str]] = {}
    for s in ids:
        kind = id_kind(s)
        if kind != "distinctive":
            out.setdefault(kind, []).append(str(s).strip())
    return {k: out[k] for k in ("number-like", "word-like", "short") if k in out}


def ambiguity_note(ids: Iterable) -> str | None:
    """The validation note for ambiguous ids (None when every id is distinctive).

    Examples
    --------
    >>> print(ambiguity_note(["001", "002", "003", "004"]))
    subjects: 4 subject_id value(s) look like ordinary numbers (e.g. '001', '002', '003'): a published report cannot be searched for them reliably; `trialkit run` shows pseudonyms (PSN001 …) instead (run parameter pseudonymize_ids: auto), or give the subjects ids with letters and digits (e.g. S001)
    >>> ambiguity_note(["S001"]) is None
    True
    """
    amb = ambiguous_ids(ids)
    if not amb:
        return None
    what = {"number-like": "look like ordinary numbers", "word-like": "look like ordinary words",
            "short": f"are shorter than {MIN_ID_LENGTH} characters"}
    parts = [f"{len(v)} subject_id value(s) {what[k]} (e.g. {', '.join(repr(x) for x in v[:3])})"
             for k, v in amb.items()]
    return (f"subjects: {'; '.join(parts)}: a published report cannot be searched for them reliably; "
            f"`trialkit run` shows pseudonyms ({PSEUDONYM_PREFIX}001 …) instead (run parameter "
            "pseudonymize_ids: auto), or give the subjects ids with letters and digits (e.g. S001)")


def pseudonyms(ids: Iterable, prefix: str = PSEUDONYM_PREFIX) -> dict[str, str]:
    """Map ids (in the order given, duplicates once) to ``<prefix>001`` …, zero-padded to a common width.

    Deterministic: the same ids in the same order give the same pseudonyms, so the key can be
    rebuilt from the dataset and is never written into a report. A prefix that collides with an
    existing id is lengthened (``PSNX``) until it does not.

    Examples
    --------
    >>> pseudonyms(["b", "a", "b"])
    {'b': 'PSN001', 'a': 'PSN002'}
    >>> list(pseudonyms([str(i) for i in range(1, 1201)]).values())[-1]
    'PSN1200'
    >>> pseudonyms(["PSN001", "x"])
    {'PSN001': 'PSNX001', 'x': 'PSNX002'}
    """
    unique = list(dict.fromkeys(str(s).strip() for s in ids))
    width = max(3, len(str(len(unique))))
    while True:
        out = {s: f"{prefix}{i:0{width}d}" for i, s in enumerate(unique, start=1)}
        if not set(out.values()) & set(unique):
            return out
        prefix += "X"
