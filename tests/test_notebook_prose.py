"""The notebooks are trial-agnostic: no cell names the default trial's labs, arms, events, condition
or literature. What only the default trial can say lives in its study file (``notes:``, rendered by
:func:`trialkit.report.narrate.study_note`); what needs the trial's names is computed from the study.

The word list is built from ``params/study.yaml`` (parameter ids and labels, factor and arm labels,
event labels, condition) plus ``tests/realdata.py``'s ``DEFAULT_TRIAL_WORDS``; a label that one of the
other trials of ``tests/realdata.py`` also declares (``Death``) is generic, not the default trial's.
The parameters cell is checked elsewhere (its defaults are being moved to the study file).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import realdata

from trialkit.report.narrate import study_note
from trialkit.study import default_study_path, load_study, study_from_dict

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _phrases(text: str) -> list[str]:
    """A label and, separately, what it puts in parentheses: ``"Foo bar (FB)"`` -> ``["Foo bar", "FB"]``."""
    inner = re.findall(r"\(([^()]*)\)", text)
    outer = re.sub(r"\s*\([^()]*\)", "", text).strip()
    return [p.strip() for p in [outer, *inner] if p.strip()]


def _generic_labels() -> set[str]:
    """Labels the other trials of tests/realdata.py declare too (so they do not mark the default trial)."""
    out = set()
    for name in realdata.TRIALS:
        s = study_from_dict(realdata.trial(name)[1], name)
        out |= {x.lower() for x in [*s.arm_labels.values(), *(f.label for f in s.factors.values()),
                                    *(e.label for e in s.events.values())]}
    return out


def default_study_words() -> list[re.Pattern]:
    """Patterns of the default trial's words: parameter ids (whole word, case as written), labels,
    arm/factor/event labels and the condition (whole phrase, any case), and DEFAULT_TRIAL_WORDS."""
    study = load_study(default_study_path())
    generic = _generic_labels()
    ids = [re.compile(rf"(?<![A-Za-z0-9_]){re.escape(p)}(?![A-Za-z0-9_])") for p in study.parameters]
    labels = [*(x for p in study.parameters.values() for x in _phrases(p.label)),
              *(f.label for f in study.factors.values()), *study.arm_labels.values(),
              *(e.label for e in study.events.values()), *_phrases(study.condition)]
    phrases = [re.compile(rf"(?<![A-Za-z0-9]){re.escape(x)}(?![A-Za-z0-9])", re.IGNORECASE)
               for x in dict.fromkeys(labels) if x.lower() not in generic]
    listed = [re.compile(w, re.IGNORECASE if w.islower() else 0) for w in realdata.DEFAULT_TRIAL_WORDS]
    return ids + phrases + listed


def _cells(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb["cells"]):
        if "parameters" not in cell.get("metadata", {}).get("tags", []):
            yield i, cell


def test_the_word_list_covers_the_study_file():
    words = default_study_words()
    def hit(text):
        return any(w.search(text) for w in words)
    for text in ("TBIL", "Total bilirubin", "albumin", "UC-MSC", "Conventional care", "liver transplantation",
                 "hepatocellular carcinoma", "ACLF", "Th1/Th2", "Xu et al. (2019)", "PT in seconds"):
        assert hit(text), text
    for text in ("Death and the primary endpoint", "the lab's unit", "HR 0.6", "PTAX", "he said", "NAN"):
        assert not hit(text), text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_notebook_cell_names_the_default_trial(path):
    words = default_study_words()
    hits = []
    for i, cell in _cells(path):
        text = "".join(cell["source"])
        for w in words:
            for m in w.finditer(text):
                hits.append(f"cell {i} ({cell['cell_type']}): {m.group(0)!r} in …{text[max(0, m.start() - 50):m.end() + 50]}…")
    assert not hits, "\n".join(hits)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_cell_is_tagged_for_one_study(path):
    """Per-study cells are gone: a remark about one trial is a note in its study file."""
    tagged = [i for i, c in _cells(path) if any(t.startswith("study:") for t in c.get("metadata", {}).get("tags", []))]
    assert not tagged, f"cells {tagged} are tagged study:<id>; move the remark to the study file's notes"


def test_every_note_key_the_notebooks_ask_for_exists_in_the_default_study():
    """A typo in a notebook's key would silently show nothing: every key asked for is one the default
    study file has, and every note of the default study file is shown by some notebook."""
    asked = set()
    for path in NOTEBOOKS:
        for _, cell in _cells(path):
            if cell["cell_type"] == "code":
                asked |= set(re.findall(r"study_note\(\s*\w+\s*,\s*\"([\w.]+)\"", "".join(cell["source"])))
    notes = load_study(default_study_path()).notes
    assert asked and asked == set(notes), (sorted(asked - set(notes)), sorted(set(notes) - asked))


def test_study_note_is_a_labelled_box_only_when_the_study_file_has_it():
    study = study_from_dict({"study": {"id": "X"}, "arms": [{"id": "a"}], "control_arm": "a",
                             "horizons": {"primary": 10},
                             "notes": {"efficacy.power": "Underpowered, as *Smith 2020* found."}}, "x.yaml")
    note = study_note(study, "efficacy.power")
    md = note._repr_markdown_()
    assert md.startswith("> **Note from the study file**") and "*Smith 2020*" in md
    assert "`notes: efficacy.power`" in md
    assert "Note from the study file (x.yaml, notes: efficacy.power): Underpowered" in repr(note)
    assert study_note(study, "efficacy.other") is None
    bare = study_from_dict({"arms": [{"id": "a"}], "control_arm": "a", "horizons": {"primary": 10}})
    assert bare.notes == {} and study_note(bare, "efficacy.power") is None
    two = study_from_dict({"arms": [{"id": "a"}], "control_arm": "a", "horizons": {"primary": 10},
                           "notes": {"k": "Line one.\n\nLine two."}})
    assert study_note(two, "k")._repr_markdown_().count("\n> ") >= 2  # every line stays inside the box


@pytest.mark.parametrize("notes, fragment", [
    (["a list"], "expected a mapping of section key -> markdown"),
    ({"efficacy.power": 3}, "notes.efficacy.power: expected markdown text"),
    ({"bad key!": "x"}, "notes: expected section keys (words joined by dots, e.g. efficacy.power), got 'bad key!'"),
])
def test_bad_notes_are_refused_naming_the_key(notes, fragment):
    from trialkit.errors import StudyFileError

    with pytest.raises(StudyFileError, match=re.escape(fragment)):
        study_from_dict({"arms": [{"id": "a"}], "control_arm": "a", "horizons": {"primary": 10}, "notes": notes},
                        "s.yaml")
