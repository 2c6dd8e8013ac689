"""Write the repeated-measures tables of the default trial, to compare two versions of
``trialkit.stats.longitudinal`` number by number (issue 16: the faster code must give the same numbers).

Run as a script::

    .venv/bin/python benchmarks/longitudinal_reference.py OUT.csv

It simulates the default trial (seed 1), takes change from baseline of TBIL (log) and ALB to the
secondary horizon, and runs :func:`~trialkit.stats.longitudinal.analyze_parameters` with both
covariance structures and both populations, plus the factorial model. The output (every float with 17
significant digits) was written with the code before issue 16's speed-up as
``tests/reference/longitudinal_before_speedup.csv``; ``tests/test_stats_longitudinal.py`` compares
today's tables with it to 1e-10.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout
import pandas as pd  # noqa: E402

from trialkit.derive.change import change_from_baseline  # noqa: E402
from trialkit.simulate import simulate  # noqa: E402
from trialkit.stats.longitudinal import analyze_parameters  # noqa: E402

CASES = [("arm", "unstructured", "survivors"), ("arm", "unstructured", "all"),
         ("arm", "random_intercept", "survivors"), ("arm", "random_intercept", "all"),
         ("factorial", "unstructured", "survivors")]


def reference_tables() -> pd.DataFrame:
    """The stacked ``lsmeans``, ``contrasts``, ``terms`` and ``fits`` tables of every case, long format."""
    trial = simulate(seed=1)
    ch = change_from_baseline(trial, ["TBIL", "ALB"], horizon="secondary", log=["TBIL"])
    out = []
    for model, cov, pop in CASES:
        res = analyze_parameters(ch, trial.study, ["TBIL", "ALB"], model=model, covariance=cov, population=pop)
        for table, df in res.items():
            if df.empty:
                continue
            keys = [c for c in ("parameter", "arm", "term", "visit") if c in df]
            num = [c for c in df.columns if c not in keys and pd.api.types.is_float_dtype(df[c])]
            long = df[keys + num].melt(id_vars=keys, var_name="column", value_name="value")
            out.append(long.assign(case=f"{model}/{cov}/{pop}", table=table))
    cols = ["case", "table", "parameter", "arm", "term", "visit", "column", "value"]
    df = pd.concat(out, ignore_index=True)
    return df.reindex(columns=cols)


if __name__ == "__main__":
    reference_tables().to_csv(sys.argv[1], index=False, float_format="%.17g")
