"""Write the analysis datasets that tests/reference/efficacy.R reads (run once; outputs are committed).

    .venv/bin/python tests/reference/efficacy_data.py     # writes tests/reference/efficacy_*.csv
    Rscript tests/reference/efficacy.R                     # writes tests/reference/efficacy_r.csv

The data: the default scenario simulated with seed 2012 (120 subjects, 4 arms), derived with
trialkit.derive. The CSVs are committed so the comparison tests do not depend on the simulator
staying unchanged.
"""
from __future__ import annotations

from pathlib import Path

import trialkit as tk
from trialkit.derive.change import baseline_values, change_from_baseline, symptom_outcomes, worst_rank_inputs
from trialkit.derive.tte import competing_risks, time_to_event

HERE = Path(__file__).resolve().parent
SEED = 2012


def main() -> None:
    trial = tk.simulate(seed=SEED)
    tte = time_to_event(trial, endpoint="transplant_free")
    cr = competing_risks(trial, cause="death", competing=["transplant"])
    base = baseline_values(trial, ["MELD"])
    tte["status"] = cr["status"].map({"censored": 0, "death": 1, "transplant": 2})  # codes efficacy.R reads
    tte["meld_bl"] = base["MELD"].to_numpy()
    tte["age"] = base["age"].to_numpy()
    tte["cirrhosis"] = base["cirrhosis"].astype(int).to_numpy()
    tte.to_csv(HERE / "efficacy_tte.csv", index=False, float_format="%.10g", lineterminator="\n")

    labs = change_from_baseline(trial, ["TBIL", "ALB"], log=["TBIL"])
    cols = ["subject_id", "arm", "msc", "pe", "parameter", "visit", "visit_day", "baseline", "change"]
    labs[cols].to_csv(HERE / "efficacy_labs.csv", index=False, float_format="%.17g", lineterminator="\n")

    wr = worst_rank_inputs(trial, "TBIL", log=["TBIL"])
    wr[["subject_id", "arm", "event", "event_day", "change"]].to_csv(
        HERE / "efficacy_worst_rank.csv", index=False, float_format="%.17g", lineterminator="\n")

    so = symptom_outcomes(trial)
    so[["subject_id", "arm", "symptom", "baseline", "score", "event", "improved"]].to_csv(
        HERE / "efficacy_symptoms.csv", index=False, float_format="%.10g", lineterminator="\n")


if __name__ == "__main__":
    main()
