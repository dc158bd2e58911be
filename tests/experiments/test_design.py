"""Experiment definitions and deterministic assignment."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments.design import Experiment, ExperimentSpec, VariantSpec, assign
from shopsense.store import open_store

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def spec(*weights: float) -> ExperimentSpec:
    return ExperimentSpec(
        name="home feed",
        scenario="home",
        variants=[
            VariantSpec(name=f"v{i}", weight=w, model=None if i == 0 else "als")
            for i, w in enumerate(weights)
        ],
    )


def test_assignment_is_sticky_and_independent_of_order() -> None:
    experiment = Experiment.create(spec(1, 1), now=T0)
    users = [f"u{i}" for i in range(2000)]
    first = [experiment.assign(user).name for user in users]
    again = [experiment.assign(user).name for user in reversed(users)]
    assert first == list(reversed(again))
    reloaded = Experiment.from_record(experiment.to_record())
    assert [reloaded.assign(user).name for user in users] == first


def test_assignment_follows_the_weights_and_passes_a_chi_square_test() -> None:
    weights = [0.5, 0.3, 0.2]
    counts = np.bincount([assign("salt-1", f"user-{i}", weights) for i in range(60_000)])
    expected = np.array(weights) * 60_000
    assert stats.chisquare(counts, expected).pvalue > 0.001


def test_two_experiments_assign_independently() -> None:
    users = [f"u{i}" for i in range(20_000)]
    a = np.array([assign("salt-a", user, [1, 1]) for user in users])
    b = np.array([assign("salt-b", user, [1, 1]) for user in users])
    table = np.array([[np.sum((a == i) & (b == j)) for j in (0, 1)] for i in (0, 1)])
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_lifecycle_draft_running_stopped() -> None:
    draft = Experiment.create(spec(1, 1), now=T0)
    running = draft.started(T0)
    assert running.status == "running" and running.started_at == T0
    with pytest.raises(ValidationFailedError, match="only a draft can start"):
        running.started()
    stopped = running.stopped(T0)
    assert stopped.status == "stopped"
    with pytest.raises(ValidationFailedError, match="only a running one can stop"):
        stopped.stopped()
    with open_store("duckdb://:memory:") as store:
        store.save_experiment(stopped.to_record())
        assert Experiment.from_record(store.get_experiment(stopped.experiment_id)) == stopped


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"variants": [{"name": "a"}]}, "at least 2"),
        ({"variants": [{"name": "a"}, {"name": "a"}]}, "must differ"),
        ({"variants": [{"name": "a", "weight": 0}, {"name": "b"}]}, "greater than 0"),
        ({"scenario": "checkout"}, "scenario"),
        ({"primary_metric": "happiness"}, "primary_metric"),
        ({"guardrails": ["conversion"]}, "not also a guardrail"),
    ],
)
def test_bad_definitions_say_what_is_wrong(changes: dict[str, object], message: str) -> None:
    body = {"name": "x", "scenario": "home", "variants": [{"name": "a"}, {"name": "b"}]}
    with pytest.raises(ValidationError, match=message):
        ExperimentSpec.model_validate(body | changes)
