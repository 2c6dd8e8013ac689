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
- ``pbc``: the Mayo Clinic trial in primary biliary cirrhosis (Dickson et al. 1985; Fleming &
  Harrington 1991), 312 subjects, D-penicillamine vs placebo, up to 14 years of follow-up with the
  longitudinal labs and clinical signs of every visit (R ``survival::pbcseq``, exported once to
  ``tests/data/pbcseq.csv``); survival with transplant censoring.
- ``minimal``: a synthetic two-arm trial with deaths only (no labs, no optional table).
- ``three_arm``: a synthetic three-arm, non-factorial trial without labs or visits (deaths and
  progression).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

TRIALS = ("gbsg2", "leukemia", "rossi", "pbc", "minimal", "three_arm")

DATA = Path(__file__).parent / "data"


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


#: The PBC trial's labs: pbcseq column -> (parameter, unit, label). Units as measured (mg/dL, g/dL):
#: the study file declares them, nothing is converted.
PBC_LABS = {"bili": ("TBIL", "mg/dL", "Total bilirubin"), "albumin": ("ALB", "g/dL", "Albumin"),
            "protime": ("PT", "s", "Prothrombin time"), "alk_phos": ("ALP", "U/L", "Alkaline phosphatase"),
            "ast": ("AST", "U/L", "Aspartate aminotransferase"), "platelet": ("PLT", "10^9/L", "Platelets"),
            "chol": ("CHOL", "mg/dL", "Cholesterol")}
#: Clinical signs as ordinal symptom scores: present = 1; oedema 0 none, 1 untreated or controlled by
#: diuretics, 2 despite diuretics (pbcseq's 0 / 0.5 / 1).
PBC_SIGNS = {"ascites": "ascites", "hepato": "hepatomegaly", "spiders": "spiders", "edema": "edema"}


def _pbc_visits() -> list[dict]:
    """The protocol's schedule: baseline, 6 months, 1 year, then yearly to year 14; each window runs
    halfway to the neighbouring visits."""
    days = [0, 182] + [round(365.25 * k) for k in range(1, 15)]
    ids = ["BL", "M6"] + [f"Y{k}" for k in range(1, 15)]
    visits = [{"id": "BL", "day": 0, "window": [0, 0]}]
    for i in range(1, len(days)):
        lo = (days[i - 1] + days[i]) // 2 + 1 if i > 1 else 91
        hi = (days[i] + days[i + 1]) // 2 if i + 1 < len(days) else days[i] + 182
        visits.append({"id": ids[i], "day": days[i], "window": [lo, hi]})
    return visits


def _visit_of(rows: pd.DataFrame, visits: list[dict]) -> pd.Series:
    """The visit id of each (subject, day) row: the window holding the day; when a subject has several
    days in one window, only the one nearest the nominal day is that visit, the others are unscheduled
    (empty)."""
    vid = pd.Series("", index=rows.index, dtype=object)
    dist = pd.Series(np.inf, index=rows.index)
    for v in visits:
        lo, hi = v["window"]
        m = rows["day"].between(lo, hi)
        vid[m], dist[m] = v["id"], (rows.loc[m, "day"] - v["day"]).abs()
    nearest = dist.groupby([rows["subject_id"], vid]).transform("min")
    return vid.where(dist == nearest, "")


def pbc_trial() -> tuple[dict[str, pd.DataFrame], dict]:
    """Mayo Clinic PBC trial: D-penicillamine vs placebo; death with liver transplant censoring, 10 years;
    labs and clinical signs at every visit. ``trt`` 1 = D-penicillamine, 0 = placebo."""
    d = pd.read_csv(DATA / "pbcseq.csv")
    d["subject_id"] = [f"PBC{i:03d}" for i in d["id"]]
    first = d.drop_duplicates("id").reset_index(drop=True)
    subjects = pd.DataFrame({
        "subject_id": first["subject_id"],
        "arm": np.where(first["trt"] == 1, "dpca", "placebo"),
        "age": first["age"].astype(float),
        "sex": first["sex"].str.upper(),
        "histologic_stage": first["stage"].astype("Int64"),
    })
    status = first["status"].to_numpy()
    events = pd.concat([
        pd.DataFrame({"subject_id": first["subject_id"][status == 2], "event": "death",
                      "day": first["futime"][status == 2]}),
        pd.DataFrame({"subject_id": first["subject_id"][status == 1], "event": "transplant",
                      "day": first["futime"][status == 1]}),
        pd.DataFrame({"subject_id": first["subject_id"], "event": "last_contact", "day": first["futime"]}),
    ]).sort_values(["subject_id", "day"], kind="stable").reset_index(drop=True)

    visits = _pbc_visits()
    d["visit"] = _visit_of(d, visits)
    labs = pd.concat([
        pd.DataFrame({"subject_id": d["subject_id"], "day": d["day"], "visit": d["visit"], "parameter": name,
                      "value": d[col].astype(float), "unit": unit})
        for col, (name, unit, _) in PBC_LABS.items()]).dropna(subset=["value"])
    signs = d.assign(edema=(d["edema"] * 2).round())
    symptoms = pd.concat([
        pd.DataFrame({"subject_id": signs["subject_id"], "day": signs["day"], "visit": signs["visit"],
                      "symptom": name, "score": signs[col]})
        for col, name in PBC_SIGNS.items()]).dropna(subset=["score"])
    symptoms["score"] = symptoms["score"].astype(int)
    labs = labs.sort_values(["subject_id", "day", "parameter"], kind="stable").reset_index(drop=True)
    symptoms = symptoms.sort_values(["subject_id", "day", "symptom"], kind="stable").reset_index(drop=True)

    study = {
        "study": {"id": "MAYO-PBC", "title": "Mayo Clinic trial of D-penicillamine in primary biliary cirrhosis",
                  "condition": "primary biliary cirrhosis"},
        "factors": {"dpca": {"label": "D-penicillamine", "description": "oral, daily", "kind": "continuous"}},
        **_arms(("placebo", "Placebo", {"dpca": False}), ("dpca", "D-penicillamine", {"dpca": True}),
                control="placebo"),
        "visits": visits,
        "horizons": {"primary": "10 years", "secondary": "5 years"},
        "events": {"death": {"label": "Death"}, "transplant": {"label": "Liver transplantation"}},
        "endpoints": {
            "primary": {"name": "Survival", "events": ["death"], "censor": ["transplant"],
                        "description": "death; follow-up censored at liver transplantation"},
            "transplant_free": {"name": "Transplant-free survival", "events": ["death", "transplant"]},
        },
        "parameters": {name: {"unit": unit, "label": label} for name, unit, label in PBC_LABS.values()},
        "values": [{"subject_id": "PBC150", "parameter": "ALB", "day": 188, "action": "exclude",
                    "reason": "8.01 g/dL between 3.63 and 3.78 g/dL: a transcription error"}],
        "symptoms": list(PBC_SIGNS.values()),
        "subgroups": ["sex", "histologic_stage"],
        "analysis": {"trajectories": ["TBIL", "ALB", "PT", "AST", "ALP", "PLT"],
                     "trajectories_log_scale": ["TBIL", "AST", "ALP"],
                     "efficacy": ["TBIL", "ALB", "PT", "AST", "ALP", "PLT", "CHOL", "ALBI"],
                     "log_scale": ["TBIL", "AST", "ALP"]},
    }
    return {"subjects": subjects, "events": events, "labs": labs, "symptoms": symptoms}, study


def minimal_trial() -> tuple[dict[str, pd.DataFrame], dict]:
    """Synthetic: two arms of 30, deaths only, exponential survival, 48 weeks; no labs, no optional table."""
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
        "horizons": {"primary": "48 weeks"},
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
        "horizons": {"primary": "16 months"},
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


def own_words(study_text: str) -> tuple[str, ...]:
    """The :data:`DEFAULT_TRIAL_WORDS` that a trial's own study file uses (the PBC trial declares liver
    transplantation, bilirubin, hepatomegaly and cirrhosis itself): in that trial's report they are its
    words, not the default trial's. ``LT`` counts as its own when it declares a transplant event."""
    own = tuple(w for w in DEFAULT_TRIAL_WORDS
                if re.search(w, study_text, flags=re.IGNORECASE if w.islower() else 0))
    return own + ((r"\bLT\b",) if r"transplant" in own else ())


def default_trial_words(report_dir: Path, allowed: tuple[str, ...] = ()) -> list[tuple[str, str, str]]:
    """``(file, word, context)`` for every default-trial word in the report's prose and outputs, except
    the patterns in ``allowed`` (see :func:`own_words`)."""
    hits = []
    for name, text in report_text(report_dir).items():
        for w in DEFAULT_TRIAL_WORDS:
            if w in allowed:
                continue
            for m in re.finditer(w, text, flags=re.IGNORECASE if w.islower() else 0):
                hits.append((name, m.group(0), text[max(0, m.start() - 60):m.end() + 60].replace("\n", " ")))
    return hits
