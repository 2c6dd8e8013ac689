"""The shared inputs of the documentation's examples: the same data as a fresh run, one copy per call."""
from __future__ import annotations

from trialkit.datasets import example, open_dataset
from trialkit.models.examples import example_cv, example_xy


def test_example_is_the_simulated_trial_and_each_call_an_independent_copy():
    fresh = open_dataset("simulate", seed=1)
    first = example()
    assert first.source == fresh.source and first.truth == fresh.truth
    for name, table in fresh.tables().items():
        assert first.tables()[name].equals(table), name
    first.subjects.loc[:, "age"] = -1.0          # an example that changes its copy ...
    first.truth["changed"] = True
    second = example()                            # ... leaves the next one's data as it was
    assert second.subjects["age"].equals(fresh.subjects["age"])
    assert "changed" not in second.truth


def test_example_cv_copies_do_not_share_state():
    cv = example_cv()
    X, y = example_xy()
    assert len(cv.y) == len(X) == len(y) and cv.names == ["logistic", "meld_recalibrated", "meld"]
    cv.predictions.loc[:, "risk"] = 0.0
    assert (example_cv().predictions["risk"] != 0.0).any()
