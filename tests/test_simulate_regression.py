"""The simulator draws exactly the same trials as before its table builders took one context object.

Regression fixture: the digests below were computed at commit 6f2b34a (before the builders of
``trialkit/simulate`` took a :class:`~trialkit.simulate.context.SimulationContext`), by running
:func:`_digest` on ``simulate_tables`` with the same arguments there. A changed digest means a
random draw moved, a table changed or its order or types did: the simulated data are no longer
byte-identical for the seed. Update them only with a change that means to alter simulated data,
and say so in its commit.
"""
from __future__ import annotations

import hashlib
import json

import pytest

from trialkit.simulate.core import TABLES, resolve_study, simulate_tables
from trialkit.simulate.scenario import load_scenario
from trialkit.study import params_dir

# (scenario, study file or None for the scenario's own, seed) -> sha256 at commit 6f2b34a
EXPECTED = {
    ("default", None, 1): "575f7ec8ec0f92fd96d864ad2cbd3da7507a5232c63716627a8249f09ed4efaf",
    ("default", None, 2): "d1b3bd6c711b7a0ed5c19cf8b63c2c2b753656884871d49ee415017e8765ec52",
    ("default", None, 20121101): "07bdcb06e0c2231bd8d1ef3db914388850af9b1ee99ed1dc6ab809b343e7032d",
    ("published", None, 7): "8c985bf62eca12bead8e80f4fb3e4149646239ca5d27e3aa7df0989edd51ca42",
    ("default", "study_two_arm.yaml", 1): "cf233a0692d17806515f53f604963c21202d9f99e55b378c1b6b503262460724",
    ("null", None, 3): "4b116dd9d01d1cd1706628e961d97275ca3da0e9f2bfea94a1fa77e198838aa6",
}


def _digest(tables, truth, latent) -> str:
    """sha256 over every table (name, column types, CSV with shortest round-trip floats), the latent
    values and the truth (JSON with sorted keys)."""
    h = hashlib.sha256()
    for name in sorted(tables):
        t = tables[name]
        h.update(name.encode())
        h.update(repr(list(t.dtypes.astype(str).items())).encode())
        h.update(t.to_csv(index=False, lineterminator="\n").encode())
    h.update(latent.to_csv(index=False, lineterminator="\n").encode())
    h.update(json.dumps(truth, sort_keys=True).encode())
    return h.hexdigest()


def _simulate(scenario: str, study: str | None, seed: int, **kwargs):
    sc = load_scenario(scenario)
    st = resolve_study(params_dir() / study if study else None, sc)
    return simulate_tables(st, sc, seed, **kwargs)


@pytest.mark.parametrize(("scenario", "study", "seed"), list(EXPECTED))
def test_simulated_tables_are_those_of_6f2b34a(scenario, study, seed):
    assert _digest(*_simulate(scenario, study, seed)) == EXPECTED[(scenario, study, seed)]


@pytest.mark.parametrize("subset", [("subjects", "events"), ("labs",), ("adverse_events",), ("symptoms", "infusions")])
def test_a_table_built_alone_is_the_same_table(subset):
    full, truth, latent = _simulate("default", None, 2)
    only, only_truth, only_latent = _simulate("default", None, 2, tables=subset)
    assert list(only) == [name for name in full if name in subset]
    for name in subset:
        assert only[name].equals(full[name]), name
    assert only_truth == truth and only_latent.equals(latent)


def test_unknown_tables_are_named():
    with pytest.raises(ValueError, match=r"unknown \['vitals'\]"):
        _simulate("default", None, 1, n_subjects=4, tables=("labs", "vitals"))
    assert set(TABLES) == {"subjects", "events", "labs", "symptoms", "infusions", "adverse_events"}
