"""Real randomized trials (shipped with lifelines) and two small synthetic designs, converted into the
documented format (docs/data-format.md), each with its study file: what a new user with real data does.

Each ``<name>_trial()`` returns ``(tables, study)``: the tables as DataFrames and the study file as a
mapping. :func:`write_trial` writes them as a dataset folder (CSV files plus ``study.yaml``) and a run
parameters file for ``trialkit run``.

- ``gbsg2``: German Breast Cancer Study Group 2 (Schumacher et al. 1994), 686 node-positive women,
  hormonal therapy (tamoxifen, a daily oral drug) yes/no; recurrence-free survival in days.
- ``leukemia``: Freireich et al. (1963), 42 children in remission, 6-mercaptopurine vs placebo;
  remission duration in weeks (converted to days).
- ``rossi``: Rossi, Berk & Lenihan (1980), 432 released prisoners, financial aid yes/no; weeks to
  re-arrest over one year (52 weeks).
- ``minimal``: a synthetic two-arm trial with deaths only (no labs, no optional table).
- ``three_arm``: a synthetic three-arm, non-factorial trial without labs or visits (deaths and
  progression).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

TRIALS = ("gbsg2", "leukemia", "rossi", "minimal", "three_arm")


def _events(ids, day, event, name: str) -> pd.DataFrame:
    """An ``events`` table: the event (``name``) on ``day`` when ``event`` is 1, and ``last_contact``
    on ``day`` for everybody (blank detail: follow-up simply ended there)."""
    ids, day, event = np.asarray(ids), np.asarray(day, dtype=int), np.asarray(event, dtype=bool)
    rows = pd.concat([
        pd.DataFrame({"subject_id": ids[event], "event": name, "day": day[event]}),
        pd.DataFrame({"subject_id": ids, "event": "last_contact", "day": day}),
    ])
    return rows.sort_values(["subject_id", "day"], kind="stable").reset_index(drop=True)


def _arms(*arms: tuple[str, str, dict], control: str) -> dict:
    return {"arms": [{"id": i, "label": label, "factors": f} for i, label, f in arms], "control_arm": control}


def gbsg2_trial() -> tuple[dict[str, pd.DataFrame], dict]:
    """GBSG-2: hormonal therapy yes/no, recurrence-free survival (recurrence or death), days."""
    from lifelines.datasets import load_gbsg2

    d = load_gbsg2()
    ids = [f"G{i + 1:03d}" for i in range(len(d))]
    subjects = pd.DataFrame({
        "subject_id": ids,
        "arm": np.where(d["horTh"] == "yes", "hormonal", "none"),
        "age": d["age"].astype(float),
        "sex": "F",
        "menopause": d["menostat"].str.lower(),
        "tumour_size_mm": d["tsize"].astype(float),
        "tumour_grade": d["tgrade"].astype(str),
        "positive_nodes": d["pnodes"].astype(int),
        "progesterone_receptor": d["progrec"].astype(float),
        "estrogen_receptor": d["estrec"].astype(float),
    })
    study = {
        "study": {"id": "GBSG-2", "title": "German Breast Cancer Study Group 2: hormonal therapy in node-positive "
                                           "breast cancer", "condition": "node-positive primary breast cancer"},
        "factors": {"tamoxifen": {"label": "Tamoxifen", "description": "30 mg daily for 2 years",
                                  "kind": "continuous"}},
        **_arms(("none", "No hormonal therapy", {"tamoxifen": False}),
                ("hormonal", "Hormonal therapy (tamoxifen)", {"tamoxifen": True}), control="none"),
        "horizons": {"primary": "7 years"},
        "events": {"recurrence": {"label": "Recurrence or death"}},
        "endpoints": {"primary": {"name": "Recurrence-free survival", "events": ["recurrence"]}},
        "subgroups": ["menopause", "tumour_grade", "positive_nodes"],
    }
    return {"subjects": subjects, "events": _events(ids, d["time"], d["cens"], "recurrence")}, study


def leukemia_trial() -> tuple[dict[str, pd.DataFrame], dict]:
    """Freireich 6-MP vs placebo: remission duration (weeks → days); ``Rx`` 0 = 6-MP, 1 = placebo."""
    from lifelines.datasets import load_leukemia

    d = load_leukemia()
    ids = [f"L{i + 1:02d}" for i in range(len(d))]
    subjects = pd.DataFrame({
        "subject_id": ids,
        "arm": np.where(d["Rx"] == 0, "mp6", "placebo"),
        "log_wbc": d["logWBC"].astype(float),
    })
    study = {
        "study": {"id": "FREIREICH-1963", "title": "6-mercaptopurine versus placebo for maintenance of remission",
                  "condition": "acute leukaemia in remission"},
        "factors": {"mp6": {"label": "6-MP", "description": "6-mercaptopurine, daily oral", "kind": "continuous"}},
        **_arms(("placebo", "Placebo", {"mp6": False}), ("mp6", "6-mercaptopurine", {"mp6": True}),
                control="placebo"),
        "horizons": {"primary": "35 weeks"},
        "events": {"relapse": {"label": "Relapse"}},
        "endpoints": {"primary": {"name": "Remission duration", "events": ["relapse"]}},
    }
    return {"subjects": subjects, "events": _events(ids, d["t"] * 7, d["status"], "relapse")}, study


def rossi_trial() -> tuple[dict[str, pd.DataFrame], dict]:
    """Rossi et al.: financial aid yes/no, weeks to re-arrest within 52 weeks (→ days)."""
    from lifelines.datasets import load_rossi

    d = load_rossi()
    ids = [f"R{i + 1:03d}" for i in range(len(d))]
    subjects = pd.DataFrame({
        "subject_id": ids,
        "arm": np.where(d["fin"] == 1, "aid", "no_aid"),
        "age": d["age"].astype(float),
        "sex": "M",
        "work_experience": d["wexp"].map({1: "yes", 0: "no"}),
        "married": d["mar"].map({1: "yes", 0: "no"}),
        "parole": d["paro"].map({1: "yes", 0: "no"}),
        "prior_convictions": d["prio"].astype(int),
    })
    study = {
        "study": {"id": "ROSSI-1980", "title": "Financial aid for released prisoners",
                  "condition": "release from state prison"},
        "factors": {"aid": {"label": "Financial aid", "description": "weekly payments for 13 weeks",
                            "kind": "continuous"}},
        **_arms(("no_aid", "No financial aid", {"aid": False}), ("aid", "Financial aid", {"aid": True}),
                control="no_aid"),
        "horizons": {"primary": "52 weeks"},
        "events": {"arrest": {"label": "Re-arrest"}},
        "endpoints": {"primary": {"name": "Time to re-arrest", "events": ["arrest"]}},
        "subgroups": ["work_experience", "married", "parole"],
    }
    return {"subjects": subjects, "events": _events(ids, d["week"] * 7, d["arrest"], "arrest")}, study


def minimal_trial() -> tuple[dict[str, pd.DataFrame], dict]:
    """Synthetic: two arms of 30, deaths only, exponential survival, 1 year; no labs, no optional table."""
    rng = np.random.default_rng(13)
    n = 60
    arm = np.repeat(["standard", "new"], n // 2)
    t = rng.exponential(np.where(arm == "new", 500.0, 300.0))
    c = rng.uniform(200, 365, n)
    day = np.maximum(np.minimum(t, c).round(), 1)
    ids = [f"M{i + 1:02d}" for i in range(n)]
    subjects = pd.DataFrame({"subject_id": ids, "arm": arm, "age": rng.normal(60, 10, n).round(),
                             "sex": rng.choice(["M", "F"], n)})
    study = {
        "study": {"id": "MINIMAL", "title": "A minimal two-arm trial", "condition": "a fatal disease"},
        "factors": {"new": {"label": "New drug", "kind": "procedure", "days": [0]}},
        **_arms(("standard", "Standard care", {"new": False}), ("new", "New drug", {"new": True}),
                control="standard"),
        "horizons": {"primary": "12 months"},
    }
    return {"subjects": subjects, "events": _events(ids, day, t <= c, "death")}, study


def three_arm_trial() -> tuple[dict[str, pd.DataFrame], dict]:
    """Synthetic: three arms (placebo, low and high dose, not factorial), no labs, no visits; the
    primary endpoint is progression-free survival (progression or death)."""
    rng = np.random.default_rng(31)
    n = 90
    arm = np.repeat(["placebo", "low", "high"], n // 3)
    scale = pd.Series(arm).map({"placebo": 200.0, "low": 260.0, "high": 340.0}).to_numpy()
    prog = rng.exponential(scale)
    death = prog + rng.exponential(200.0, n)
    c = rng.uniform(300, 540, n)
    ids = [f"T{i + 1:02d}" for i in range(n)]
    rows = []
    for i, sid in enumerate(ids):
        end = int(max(round(min(death[i], c[i])), 1))
        if prog[i] <= c[i]:
            rows.append((sid, "progression", int(max(round(prog[i]), 1))))
        if death[i] <= c[i]:
            rows.append((sid, "death", end))
        rows.append((sid, "last_contact", end))
    events = pd.DataFrame(rows, columns=["subject_id", "event", "day"])
    events["day"] = events.groupby("subject_id")["day"].transform(lambda s: np.minimum(s, s.max()))
    subjects = pd.DataFrame({"subject_id": ids, "arm": arm, "age": rng.normal(55, 12, n).round(),
                             "sex": rng.choice(["M", "F"], n)})
    study = {
        "study": {"id": "THREE-ARM", "title": "Two doses versus placebo", "condition": "an advanced cancer"},
        "factors": {"low": {"label": "Low dose", "kind": "continuous"},
                    "high": {"label": "High dose", "kind": "continuous"}},
        **_arms(("placebo", "Placebo", {"low": False, "high": False}),
                ("low", "Low dose", {"low": True, "high": False}),
                ("high", "High dose", {"low": False, "high": True}), control="placebo"),
        "horizons": {"primary": "18 months"},
        "events": {"death": {"label": "Death"}, "progression": {"label": "Progression"}},
        "endpoints": {"primary": {"name": "Progression-free survival", "events": ["progression", "death"]}},
    }
    return {"subjects": subjects, "events": events}, study


def trial(name: str) -> tuple[dict[str, pd.DataFrame], dict]:
    """The tables and study file of trial ``name`` (one of :data:`TRIALS`)."""
    return globals()[f"{name}_trial"]()


def write_trial(name: str, folder: Path, *, alpha: float = 0.05, notebook_parameters: dict | None = None) -> Path:
    """Write trial ``name`` as ``folder/data/`` (CSV tables + study.yaml) and ``folder/params.yaml``
    (run parameters: the report goes to ``folder/outputs/<name>``); return the params file."""
    tables, study = trial(name)
    data = Path(folder) / "data"
    data.mkdir(parents=True, exist_ok=True)
    for table, df in tables.items():
        df.to_csv(data / f"{table}.csv", index=False)
    (data / "study.yaml").write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    params = {"name": name, "outputs": str(Path(folder) / "outputs"), "dataset": str(data), "alpha": alpha,
              "notebook_parameters": notebook_parameters or {}}
    path = Path(folder) / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


#: Words that belong to the default trial (its disease, treatments, scores and literature): none may
#: appear in the prose or printed output of another trial's report.
DEFAULT_TRIAL_WORDS = (r"ACLF", r"UC-MSC", r"\bMSC\b", r"plasma exchange", r"\bPE\b", r"HBV", r"HBeAg", r"MELD",
                       r"Xu et al", r"liver", r"2×2", r"transplant", r"\bLT\b", r"hepat", r"Child.Pugh", r"bilirubin",
                       r"Th1", r"Th2", r"\bHCC\b", r"cirrhosis")


def report_text(report_dir: Path) -> dict[str, str]:
    """What a reader of the report reads: the markdown and the outputs (not the code) of every executed
    notebook, and the text of ``index.html``; by file name."""
    import json
    import re

    out = {}
    for nb_path in sorted(Path(report_dir).glob("*.ipynb")):
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        parts = []
        for cell in nb["cells"]:
            if cell["cell_type"] == "markdown":
                parts.append("".join(cell["source"]))
            for o in cell.get("outputs", []):
                parts.append("".join(o.get("text", "")))
                data = o.get("data", {})
                parts.append("".join(data.get("text/plain", "")))
                parts.append(re.sub(r"<[^>]+>", " ", "".join(data.get("text/html", ""))))
        out[nb_path.name] = "\n".join(parts)
    index = Path(report_dir) / "index.html"
    if index.is_file():
        out["index.html"] = re.sub(r"<[^>]+>", " ", index.read_text(encoding="utf-8"))
    return out


def default_trial_words(report_dir: Path) -> list[tuple[str, str, str]]:
    """``(file, word, context)`` for every default-trial word in the report's prose and outputs."""
    import re

    hits = []
    for name, text in report_text(report_dir).items():
        for w in DEFAULT_TRIAL_WORDS:
            for m in re.finditer(w, text, flags=re.IGNORECASE if w.islower() else 0):
                hits.append((name, m.group(0), text[max(0, m.start() - 60):m.end() + 60].replace("\n", " ")))
    return hits
