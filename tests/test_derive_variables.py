"""Which labs, scores, ratios and subgroups the notebooks analyse: the study file's `analysis:` lists,
`subgroups:` and `worse:`, filtered by the data, narrowed by a notebook parameter
(trialkit.derive.variables); and no notebook's parameters cell names the default trial's variables."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import tiny_tables
from trialkit.data.load import build_trial
from trialkit.derive.variables import analysis_subgroups, analysis_variables, higher_is_better
from trialkit.errors import StudyFileError
from trialkit.study import default_study_path, load_study, params_dir, study_from_dict

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def default_trial():
    """The tiny dataset (TBIL, INR, ALB, CREAT, NA, ALT, ASCITES; no PT, no TH1/TH2) under params/study.yaml."""
    return build_trial(tiny_tables(), load_study())


def _bare_study() -> dict:
    """params/study.yaml without the keys that choose variables (what a new user's file may look like)."""
    raw = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    for key in ("analysis", "subgroups", "immune_markers"):
        raw.pop(key)
    for spec in raw["parameters"].values():
        spec.pop("worse", None)
    return raw


@pytest.fixture(scope="module")
def bare_trial():
    return build_trial(tiny_tables(), study_from_dict(_bare_study(), "bare.yaml"))


def test_the_default_study_declares_todays_lists():
    """The default report analyses what it always did: the lists moved from the notebooks into params/study.yaml
    (and its two variants), unchanged and in the same order."""
    for name in ("study.yaml", "study_two_arm.yaml", "study_published.yaml"):
        s = load_study(params_dir() / name)
        assert s.analysis == {"trajectories": ("ALT", "TBIL", "ALB", "INR", "meld"),
                              "trajectories_log_scale": ("ALT", "TBIL"),
                              "efficacy": ("ALT", "ALB", "TBIL", "PT", "INR", "MELD", "CHILD_PUGH"),
                              "log_scale": ("ALT", "TBIL", "INR", "TH1", "TH2", "TH1_TH2"),
                              "simulation": ("TBIL", "ALB")}, name
        assert s.subgroups == {"MELD": "median", "age": "median", "cirrhosis": "categorical",
                               "hbeag_positive": "categorical"}, name


def test_study_lists_are_filtered_by_the_data(default_trial):
    used, missing = analysis_variables(default_trial, "efficacy")
    assert used == ["ALT", "ALB", "TBIL", "INR", "MELD"]  # the study's order; MELD: TBIL, INR, CREAT measured
    assert missing == ["PT", "CHILD_PUGH"]  # PT not measured; Child-Pugh needs HE
    assert analysis_variables(default_trial, "trajectories") == (["ALT", "TBIL", "ALB", "INR", "meld"], [])
    assert analysis_variables(default_trial, "immune") == ([], ["TH1", "TH2", "TH1_TH2"])  # markers + their ratio
    assert analysis_variables(default_trial, "simulation") == (["TBIL", "ALB"], [])


def test_a_parameter_narrows_the_list(default_trial):
    assert analysis_variables(default_trial, "efficacy", ["TBIL", "MELD"]) == (["TBIL", "MELD"], [])
    assert analysis_variables(default_trial, "efficacy", ["PT"]) == ([], ["PT"])
    assert analysis_variables(default_trial, "efficacy", []) == ([], [])
    assert analysis_variables(default_trial, "log_scale", ["ALB_INR"]) == (["ALB_INR"], [])  # a ratio of two labs


@pytest.mark.parametrize("bad", [["TBILL"], ["TBIL", "meld_score"], ["ALB_FOO"]])
def test_an_unknown_name_is_a_clear_error_naming_the_parameter(default_trial, bad):
    with pytest.raises(ValueError, match=rf"^lab_parameters: '{bad[-1]}' is not a declared parameter"):
        analysis_variables(default_trial, "efficacy", bad, parameter="lab_parameters")
    with pytest.raises(ValueError, match="lab_parameters: expected a list of names or None"):
        analysis_variables(default_trial, "efficacy", "TBIL", parameter="lab_parameters")
    with pytest.raises(ValueError, match="unknown analysis list 'labs'"):
        analysis_variables(default_trial, "labs")


def test_an_unknown_name_in_the_study_file_names_its_list():
    raw = _bare_study() | {"analysis": {"efficacy": ["ALT", "GGT"]}}
    trial = build_trial(tiny_tables(), study_from_dict(raw, "mine.yaml"))
    with pytest.raises(ValueError, match=r"^mine\.yaml: analysis\.efficacy: 'GGT' is not a declared parameter"):
        analysis_variables(trial, "efficacy")
    assert analysis_variables(trial, "efficacy", ["ALT"]) == (["ALT"], [])  # the parameter replaces the list


def test_a_study_without_the_keys_takes_every_declared_lab_with_data(bare_trial):
    """No `analysis:`: every declared, measured parameter in declaration order, grades (ASCITES) left out,
    no score (a score belongs to one disease); no immune markers, no log scale, no subgroups, no direction."""
    labs = ["ALT", "TBIL", "ALB", "INR", "CREAT", "NA"]  # the order of `parameters:` in the study file
    for key in ("trajectories", "efficacy", "simulation"):
        assert analysis_variables(bare_trial, key) == (labs, []), key
    for key in ("immune", "log_scale", "trajectories_log_scale"):
        assert analysis_variables(bare_trial, key) == ([], []), key
    assert analysis_subgroups(bare_trial) == {}
    assert [higher_is_better(bare_trial.study, p) for p in ("ALB", "TBIL", "MELD")] == [None, None, False]
    assert analysis_subgroups(bare_trial, ["age", "cirrhosis"]) == {"age": "median", "cirrhosis": None}


def test_immune_default_is_the_markers_and_their_ratio():
    raw = _bare_study() | {"immune_markers": ["ALT", "ALB"]}  # any two declared parameters
    trial = build_trial(tiny_tables(), study_from_dict(raw))
    assert analysis_variables(trial, "immune") == (["ALT", "ALB", "ALT_ALB"], [])
    assert analysis_variables(trial, "log_scale") == (["ALT", "ALB", "ALT_ALB"], [])
    assert analysis_variables(trial, "efficacy")[0] == ["TBIL", "INR", "CREAT", "NA"]  # markers analysed apart


def test_subgroups_follow_the_study_file_and_the_data(default_trial):
    # the study's order and cuts; MELD is a baseline score (computable here), hbeag_positive a column
    assert analysis_subgroups(default_trial) == {"MELD": "median", "age": "median", "cirrhosis": None,
                                                 "hbeag_positive": None}
    assert analysis_subgroups(default_trial, ["cirrhosis", "age"]) == {"cirrhosis": None, "age": "median"}
    assert analysis_subgroups(default_trial, ["sex"]) == {"sex": None}  # a subjects column: cut auto
    with pytest.raises(ValueError, match="^subgroup_variables: 'bmi' is neither a subgroup"):
        analysis_subgroups(default_trial, ["bmi"], parameter="subgroup_variables")
    raw = _bare_study() | {"subgroups": ["age", "sex", "weight_kg", "no_such_column"]}  # a list: cut auto
    trial = build_trial(tiny_tables(), study_from_dict(raw))
    assert analysis_subgroups(trial) == {"age": "median", "sex": None, "weight_kg": "median"}


def test_worse_gives_the_direction_of_benefit():
    study = load_study()
    assert higher_is_better(study, "ALB") is True and higher_is_better(study, "TBIL") is False
    assert higher_is_better(study, "CHILD_PUGH") is False and higher_is_better(study, "meld") is False
    assert higher_is_better(study, "TH1_TH2") is None and higher_is_better(study, "HE") is None


@pytest.mark.parametrize("patch,message", [
    ({"parameters": {"ALB": {"unit": "g/L", "worse": "down"}}}, r"parameters\.ALB\.worse: expected one of higher, lower, got 'down'"),
    ({"analysis": {"labs": ["ALB"]}}, r"analysis\.labs: expected one of the keys trajectories, .*got unknown key 'labs'"),
    ({"analysis": {"efficacy": "ALB"}}, r"analysis\.efficacy: expected a list"),
    ({"analysis": ["ALB"]}, r"analysis: expected a mapping of lists"),
    ({"subgroups": {"age": "tertiles"}}, r"subgroups\.age: expected one of median, categorical, auto"),
    ({"subgroups": "age"}, r"subgroups: expected a list of variables or a mapping"),
])
def test_bad_keys_are_clear_study_file_errors(patch, message):
    mini = {"arms": [{"id": "c"}, {"id": "t"}], "control_arm": "c", "horizons": {"primary": 90}}
    with pytest.raises(StudyFileError, match=rf"^s\.yaml: {message}"):
        study_from_dict(mini | patch, "s.yaml")


def _default_trial_variables() -> set[str]:
    """The labs, scores, ratios, immune markers, symptoms and subgroups params/study.yaml names."""
    raw = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
    names = set(raw["parameters"]) | set(raw.get("immune_markers", [])) | set(raw.get("symptoms", []))
    names |= set(raw.get("subgroups", {}))
    for values in raw.get("analysis", {}).values():
        names |= set(values)
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_parameters_cell_names_the_default_trials_variables(path):
    """Every notebook takes its variable lists from the study file and the data: its parameters cell
    (defaults and help comments) names no lab, score, marker, symptom or subgroup of params/study.yaml."""
    names = _default_trial_variables()
    assert {"TBIL", "MELD", "TH1", "age", "fatigue"} <= names  # read from the study file, not listed here
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "".join(cell["source"])
    hits = sorted(n for n in names if re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", source))
    assert not hits, f"{path.name}: the parameters cell names {hits}"
