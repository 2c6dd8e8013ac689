"""One checker, one error format for the three YAML files (issue 14): the study file, a scenario and
the run parameters each refuse malformed input with one line

    <file>: <key.path>: expected <what>, got <value>

(unknown keys with a "did you mean" suggestion), exit status 2 through the CLI, no traceback. The run
parameters' ``horizons`` are read by the study file's parser (same forms, same day lengths), and
every seed parameter is called ``seed`` or ``<what>_seed``."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from trialkit.cli import build_parser, main
from trialkit.errors import ScenarioError, StudyFileError, TrialkitError
from trialkit.report.notebooks import discover_notebooks, notebook_parameters
from trialkit.report.params import PARAM_KEYS, ParamsError, load_params
from trialkit.simulate.scenario import default_scenario_path, load_scenario
from trialkit.study import DAY_LENGTHS, default_study_path, load_study, parse_days, study_from_dict

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"(?P<file>[^:\n]+): (?P<path>[^:\n]+): expected (?P<what>[^\n]+), got (?P<got>[^\n]+)")
STUDY = yaml.safe_load(default_study_path().read_text(encoding="utf-8"))
SCENARIO = yaml.safe_load(default_scenario_path().read_text(encoding="utf-8"))


def _edit(base: dict, path: str, value=..., delete: bool = False) -> dict:
    """A deep copy of ``base`` with the dotted ``path`` (``[i]`` for list items) set or deleted."""
    out = copy.deepcopy(base)
    keys = [int(k) if k.isdigit() else k for k in re.findall(r"[^.\[\]]+", path)]
    node = out
    for k in keys[:-1]:
        node = node[k]
    if delete:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return out


def _check_line(message: str, file: Path, path: str, fragment: str) -> None:
    assert "\n" not in message.strip() and "Traceback" not in message
    m = LINE.fullmatch(message.strip().removeprefix("error: "))
    assert m, message
    assert m["file"] == str(file) and m["path"] == path, message
    assert fragment in message, message


# (label, edit of the default file, key path named, fragment of the message)
STUDY_CASES = [
    ("wrong type", lambda: _edit(STUDY, "arms", "control"), "arms", "expected a list of arms, got 'control'"),
    ("unknown key", lambda: _edit(STUDY, "horizon", {"primary": 7}), "horizon",
     "got unknown key 'horizon' (did you mean 'horizons'?)"),
    ("missing required key", lambda: _edit(STUDY, "control_arm", delete=True), "control_arm", "got nothing"),
    ("bad nested value", lambda: _edit(STUDY, "factors.msc.days", [0, "day 7"]), "factors.msc.days",
     "expected a list of whole study days, got [0, 'day 7']"),
    ("bad nested boolean", lambda: _edit(STUDY, "arms[1].factors.msc", "yes"), "arms[1].factors.msc",
     "expected true or false, got 'yes'"),
    ("unknown nested key", lambda: _edit(STUDY, "parameters.TBIL.unti", "umol/L"), "parameters.TBIL.unti",
     "(did you mean 'unit'?"),
    ("missing nested key", lambda: _edit(STUDY, "visits[2].window", delete=True), "visits[2].window",
     "expected [first day, last day], got nothing"),
    ("bad horizon", lambda: _edit(STUDY, "horizons.primary", "ten years"), "horizons.primary", "got 'ten years'"),
    ("unknown choice", lambda: _edit(STUDY, "control_arm", "contrl"), "control_arm",
     "got 'contrl' (did you mean 'control'?)"),
]


@pytest.mark.parametrize("label, make, path, fragment", STUDY_CASES, ids=[c[0] for c in STUDY_CASES])
def test_study_file_errors_have_one_format(tmp_path, capsys, label, make, path, fragment):
    f = tmp_path / "study.yaml"
    f.write_text(yaml.safe_dump(make(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(StudyFileError) as exc:
        load_study(f)
    _check_line(str(exc.value), f, path, fragment)
    assert main(["simulate", "--out", str(tmp_path / "sim"), "--study", str(f)]) == 2
    _check_line(capsys.readouterr().err, f, path, fragment)
    assert not (tmp_path / "sim").exists()


SCENARIO_CASES = [
    ("wrong type", lambda: _edit(SCENARIO, "seed", "abc"), "seed", "expected a whole number >= 0, got 'abc'"),
    ("unknown key", lambda: _edit(SCENARIO, "effcts", {}), "effcts",
     "got unknown key 'effcts' (did you mean 'effects'?)"),
    ("missing required key", lambda: _edit(SCENARIO, "block_size", delete=True), "block_size",
     "expected a whole number >= 1, got nothing"),
    ("bad nested value", lambda: _edit(SCENARIO, "effects.msc.hr", -1), "effects.msc.hr",
     "expected a number > 0, got -1"),
    ("unknown nested key", lambda: _edit(SCENARIO, "survival.contrl", {84: 0.5}), "survival.contrl",
     "(did you mean 'control'?)"),
    ("missing nested key", lambda: _edit(SCENARIO, "baseline.age.sd", delete=True), "baseline.age.sd",
     "got nothing"),
    ("bad nested choice", lambda: _edit(SCENARIO, "adverse_events.groups.late_fever.category", "fevr"),
     "adverse_events.groups.late_fever.category", "got 'fevr' (did you mean 'fever'?)"),
]


@pytest.mark.parametrize("label, make, path, fragment", SCENARIO_CASES, ids=[c[0] for c in SCENARIO_CASES])
def test_scenario_errors_have_one_format(tmp_path, capsys, label, make, path, fragment):
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(make(), sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        load_scenario(f)
    # the scenario names its file as given on the command line or by the runner (the base name)
    _check_line(str(exc.value), Path(f.name), path, fragment)
    assert main(["simulate", "--out", str(tmp_path / "sim"), "--scenario", str(f)]) == 2
    _check_line(capsys.readouterr().err, Path(f.name), path, fragment)
    assert not (tmp_path / "sim").exists()


PARAMS_CASES = [
    ("wrong type", {"alpha": "0.05"}, "alpha", "expected a number strictly between 0 and 1, got '0.05'"),
    ("unknown key", {"alpah": 0.01}, "alpah", "got unknown key 'alpah' (did you mean 'alpha'?)"),
    ("missing required key", {"archive": {"authors": [{"given-names": "Ann"}]}}, "archive.authors[0]",
     "expected 'name' or 'family-names', got {'given-names': 'Ann'}"),
    ("bad nested value", {"horizons": {"primary": "ten years"}}, "horizons.primary", "got 'ten years'"),
    ("bad nested mapping", {"notebook_parameters": {"01_exploratory": 3}}, "notebook_parameters.01_exploratory",
     "expected a mapping {parameter: value}, got 3"),
    ("unknown nested key", {"archive": {"titel": "x"}}, "archive.titel", "(did you mean 'title'?)"),
    ("unknown choice", {"code": "folded"}, "code", "got 'folded' (did you mean 'fold'?)"),
    ("wrong type seed", {"seed": -1}, "seed", "expected a whole number >= 0, got -1"),
    ("non-JSON value", {"n_subjects": float("nan")}, "n_subjects", "expected a finite number, got nan"),
]


@pytest.mark.parametrize("label, raw, path, fragment", PARAMS_CASES, ids=[c[0] for c in PARAMS_CASES])
def test_run_parameter_errors_have_one_format(tmp_path, capsys, label, raw, path, fragment):
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump({"outputs": str(tmp_path / "out"), **raw}, sort_keys=False), encoding="utf-8")
    with pytest.raises(TrialkitError) as exc:  # ParamsError, or ArchiveError for the archive mapping
        load_params(f)
    _check_line(str(exc.value), f, path, fragment)
    assert main(["run", "--params", str(f)]) == 2
    _check_line(capsys.readouterr().err, f, path, fragment)
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------
# Horizons: the run parameters read them exactly like the study file
# ------------------------------------------------------------------------------------------------
MINI = {"arms": [{"id": "c"}, {"id": "t"}], "control_arm": "c", "horizons": {"primary": 7}}


@pytest.mark.parametrize("text, days", [("48 weeks", 336), ("10 years", 3652.5), ("6 months", 182.625),
                                        (12.5, 12.5), ("84.5 days", 84.5), ("2y", 730.5), (168, 168)])
def test_run_parameter_horizons_accept_the_study_file_forms(tmp_path, text, days):
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump({"horizons": {"primary": text, "secondary": 28}}), encoding="utf-8")
    p = load_params(f)
    study = study_from_dict({**MINI, "horizons": {"primary": text, "secondary": 28}})
    assert p.horizons == study.horizons == {"primary": days, "secondary": 28}
    assert p.horizons["primary"] == parse_days(text)
    assert DAY_LENGTHS == {"day": 1.0, "week": 7.0, "month": 30.4375, "year": 365.25}


@pytest.mark.parametrize("bad", ["ten years", "10 decades", "-3 days", 0, True, "10y later", [336]])
def test_a_bad_horizon_reads_the_same_in_both_files(tmp_path, bad):
    f = tmp_path / "run.yaml"
    f.write_text(yaml.safe_dump({"horizons": {"primary": bad}}), encoding="utf-8")
    with pytest.raises(ParamsError) as run_exc:
        load_params(f)
    with pytest.raises(StudyFileError) as study_exc:
        study_from_dict({**MINI, "horizons": {"primary": bad}}, str(f))
    assert str(run_exc.value) == str(study_exc.value)
    assert LINE.fullmatch(str(run_exc.value))


# ------------------------------------------------------------------------------------------------
# Vocabulary: seed parameters
# ------------------------------------------------------------------------------------------------
SEEDLIKE = re.compile(r"seed|random_state|rng|random", re.IGNORECASE)


def _seed_names(names) -> list[str]:
    return [n for n in names if SEEDLIKE.search(str(n))]


def _is_seed_name(name: str) -> bool:
    return name == "seed" or (name.endswith("_seed") and name != "_seed")


def test_every_seed_parameter_is_called_seed_or_what_seed(capsys):
    found = {}
    for nb in discover_notebooks(ROOT / "notebooks"):
        found[nb.stem] = _seed_names(notebook_parameters(nbformat.read(str(nb), as_version=4)))
    found["run parameters"] = _seed_names(PARAM_KEYS)
    found["scenario"] = _seed_names(SCENARIO)  # the reference scenario states every key
    for command in ("validate", "simulate", "summary", "run", "archive", "power"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        options = re.findall(r"--([a-z][a-z0-9-]*)", capsys.readouterr().out)
        found[f"trialkit {command}"] = _seed_names(o.replace("-", "_") for o in dict.fromkeys(options))
    names = [n for ns in found.values() for n in ns]
    assert all(_is_seed_name(n) for n in names), found
    assert found["04_predictive"] == ["seed", "model_seed"] and found["05_design_simulation"] == ["seed", "design_seed"]
    assert found["run parameters"] == found["scenario"] == found["trialkit simulate"] == found["trialkit power"] == ["seed"]
