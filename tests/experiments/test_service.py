"""Experiments end to end on a store: lifecycle rules, per-user metrics from the events
after each user's first exposure, and the verdict."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from shopsense.core.errors import NotFoundError, ValidationFailedError
from shopsense.data.schemas import Event
from shopsense.experiments.design import ExperimentSpec
from shopsense.experiments.measure import measure_exposed_users
from shopsense.experiments.service import ExperimentService
from shopsense.store import Store, open_store
from shopsense.store.base import Exposure, ServedRecommendation

T0 = datetime(2024, 6, 3, 9, tzinfo=UTC)


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store("duckdb://:memory:") as opened:
        yield opened


def spec(**changes: object) -> ExperimentSpec:
    body: dict[str, object] = {
        "name": "home ranker",
        "scenario": "home",
        "variants": [{"name": "A"}, {"name": "B"}],
        "primary_metric": "conversion",
        "guardrails": ["revenue_per_user"],
    }
    return ExperimentSpec.model_validate(body | changes)


def test_one_running_experiment_per_scenario_and_models_must_exist(store: Store) -> None:
    service = ExperimentService(store)
    first = service.create(spec())
    second = service.create(spec(name="other"))
    service.start(first.experiment_id, now=T0)
    with pytest.raises(ValidationFailedError, match="already runs on scenario 'home'"):
        service.start(second.experiment_id)
    with pytest.raises(ValidationFailedError, match="has not started"):
        service.results(second.experiment_id)
    typo = service.create(
        spec(name="typo", scenario="item", variants=[{"name": "A"}, {"name": "B", "model": "alss"}])
    )
    with pytest.raises(ValidationFailedError, match="'alss', which has no serving version"):
        service.start(typo.experiment_id)
    assert service.running() == {"home": service.get(first.experiment_id)}
    service.stop(first.experiment_id, now=T0 + timedelta(days=1))
    service.start(second.experiment_id)
    assert [e.status for e in service.list()] == ["stopped", "running", "draft"]
    with pytest.raises(NotFoundError):
        service.get("nope")


def test_metrics_count_from_the_first_exposure_with_a_pre_period(store: Store) -> None:
    store.log_exposures([Exposure("x", "u1", "B", T0), Exposure("x", "u2", "A", T0)])
    store.log_served(
        [
            ServedRecommendation("r1", "u1", "home", "als", 1, ("i1",), T0, {"experiment": "x"}),
            ServedRecommendation("r2", "u1", "home", "als", 1, ("i1",), T0, {"experiment": "x"}),
            ServedRecommendation("r3", "u1", "home", "als", 1, ("i1",), T0, {}),
        ]
    )
    store.append_events(
        [
            Event(
                type="purchase", user_id="u1", item_id="i1", ts=T0 - timedelta(days=3), price=4.0
            ),
            Event(type="view", user_id="u1", item_id="i1", ts=T0 - timedelta(days=40)),
            Event(
                type="click", user_id="u1", item_id="i1", ts=T0 + timedelta(minutes=1), rec_id="r1"
            ),
            Event(
                type="purchase",
                user_id="u1",
                item_id="i1",
                ts=T0 + timedelta(hours=1),
                price=10.0,
                quantity=2,
            ),
            Event(type="view", user_id="u1", item_id="i1", ts=T0 + timedelta(days=3)),
            Event(type="return", user_id="u1", item_id="i1", ts=T0 + timedelta(days=4)),
            Event(type="view", user_id="u2", item_id="i1", ts=T0 + timedelta(days=9)),
        ]
    )
    users = measure_exposed_users(
        store,
        "x",
        end=T0 + timedelta(days=10),
        observation_days=10,
        attribution_window=timedelta(hours=24),
    )
    row = {name: values[users.user_ids.index("u1")] for name, values in users.columns.items()}
    assert row["conversion"] == 1 and row["conversion_pre"] == 1
    assert row["revenue_per_user"] == 20.0 and row["revenue_per_user_pre"] == 4.0
    assert row["rec_ctr"] == 1 and row["rec_ctr_denominator"] == 2  # r3 is not in "x"
    assert row["retention_7d"] == 1  # back on day 3
    # Days 0, 3 and 4 after; before, day -3 (the view 40 days ago is out of the pre-period).
    assert row["active_days"] == 3 and row["active_days_pre"] == 1
    assert row["returns_per_user"] == 1
    other = {name: values[users.user_ids.index("u2")] for name, values in users.columns.items()}
    assert other["conversion"] == 0 and other["retention_7d"] == 0  # day 9 is too late
    short_window = measure_exposed_users(
        store,
        "x",
        end=T0 + timedelta(days=5),
        observation_days=5,
        attribution_window=timedelta(hours=24),
    )
    assert np.isnan(short_window.columns["retention_7d"]).all()  # 5 days cannot show 7
    unfinished = measure_exposed_users(
        store,
        "x",
        end=T0 + timedelta(days=9),
        observation_days=10,
        attribution_window=timedelta(hours=24),
    )
    assert len(unfinished) == 0  # windows not over yet: nobody counts


def simulate(
    store: Store, service: ExperimentService, rates: dict[str, float], users: int, seed: int = 1
) -> str:
    """An experiment whose variants convert at ``rates``; returns its id."""
    experiment = service.start(service.create(spec()).experiment_id, now=T0)
    rng = np.random.default_rng(seed)
    exposures, events = [], []
    for index in range(users):
        user = f"u{index}"
        # Alternate arms (not the salted hash): the split, and so the test, is the same
        # on every run; assignment itself is tested in test_design.py.
        variant = ("A", "B")[index % 2]
        exposed = T0 + timedelta(minutes=int(rng.integers(0, 60 * 24)))
        exposures.append(Exposure(experiment.experiment_id, user, variant, exposed))
        if rng.random() < rates[variant]:
            events.append(
                Event(
                    type="purchase",
                    user_id=user,
                    item_id="i1",
                    ts=exposed + timedelta(hours=2),
                    price=float(rng.gamma(2.0, 10.0)),
                )
            )
    store.log_exposures(exposures)
    store.append_events(events)
    return experiment.experiment_id


def test_a_clear_winner_is_shipped(store: Store) -> None:
    service = ExperimentService(store)
    experiment_id = simulate(store, service, {"A": 0.10, "B": 0.16}, users=6000)
    results = service.results(experiment_id, end=T0 + timedelta(days=16))
    (verdict,) = results.verdicts
    assert verdict.decision == "ship", verdict.text
    assert "B beats A on conversion" in verdict.text and "Ship B" in verdict.text
    assert results.sample_ratio is not None and not results.sample_ratio.flagged
    primary = results.metrics[0]
    assert primary.primary and primary.comparisons[0].significant
    assert primary.comparisons[0].comparison.relative_lift.estimate > 0.3  # type: ignore[union-attr]


def test_no_difference_keeps_running_with_the_users_needed(store: Store) -> None:
    service = ExperimentService(store)
    experiment_id = simulate(store, service, {"A": 0.10, "B": 0.10}, users=2000)
    (verdict,) = service.results(experiment_id, end=T0 + timedelta(days=16)).verdicts
    assert verdict.decision == "keep_running"
    assert verdict.users_needed is not None and verdict.users_needed > 10_000
    assert "users per variant detect a 5% change" in verdict.text


def test_a_sample_ratio_mismatch_invalidates_the_experiment(store: Store) -> None:
    service = ExperimentService(store)
    experiment = service.start(service.create(spec()).experiment_id, now=T0)
    store.log_exposures(
        [Exposure(experiment.experiment_id, f"a{i}", "A", T0) for i in range(600)]
        + [Exposure(experiment.experiment_id, f"b{i}", "B", T0) for i in range(400)]
    )
    results = service.results(experiment.experiment_id, end=T0 + timedelta(days=16))
    assert results.sample_ratio is not None and results.sample_ratio.flagged
    assert results.verdicts[0].decision == "invalid"
    assert "sample ratio mismatch" in results.summary


def test_lower_is_better_primary_and_one_sided_guardrails(store: Store) -> None:
    service = ExperimentService(store)
    experiment = service.start(
        service.create(
            spec(name="fewer returns", primary_metric="returns_per_user", guardrails=["conversion"])
        ).experiment_id,
        now=T0,
    )
    rng = np.random.default_rng(3)
    exposures, events = [], []
    for index in range(4000):
        user = f"u{index}"
        variant = ("A", "B")[index % 2]  # a fixed split: the same on every run
        exposures.append(Exposure(experiment.experiment_id, user, variant, T0))
        # B halves the returns but also loses half the buyers: a guardrail harm.
        if rng.random() < (0.30 if variant == "A" else 0.15):
            events.append(
                Event(type="return", user_id=user, item_id="i1", ts=T0 + timedelta(days=2))
            )
        if rng.random() < (0.20 if variant == "A" else 0.10):
            events.append(
                Event(
                    type="purchase",
                    user_id=user,
                    item_id="i1",
                    ts=T0 + timedelta(days=1),
                    price=10.0,
                )
            )
    store.log_exposures(exposures)
    store.append_events(events)
    results = service.results(experiment.experiment_id, end=T0 + timedelta(days=15))
    primary, guardrail = results.metrics
    (row,) = primary.comparisons
    assert row.better is True  # fewer returns is better
    assert row.chance_to_be_better is not None and row.chance_to_be_better > 0.99
    (harm,) = guardrail.comparisons
    assert harm.significant and harm.better is False
    (verdict,) = results.verdicts
    assert verdict.decision == "keep_control"
    assert "makes conversion worse" in verdict.text


def test_default_guardrails_leave_out_the_primary_and_do_not_repeat() -> None:
    assert spec_without_guardrails("revenue_per_user").guardrails == ["returns_per_user"]
    assert spec_without_guardrails("conversion").guardrails == [
        "revenue_per_user",
        "returns_per_user",
    ]
    with pytest.raises(ValueError, match="repeat"):
        spec(guardrails=["rec_ctr", "rec_ctr"])


def spec_without_guardrails(primary: str) -> ExperimentSpec:
    return ExperimentSpec.model_validate(
        {
            "name": "x",
            "scenario": "home",
            "variants": [{"name": "A"}, {"name": "B"}],
            "primary_metric": primary,
        }
    )
