"""Training the customer models on a store: what is read, what is registered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shopsense.core.errors import ConfigurationError, NotFittedError
from shopsense.core.settings import load_settings
from shopsense.data.schemas import Event
from shopsense.store import open_store
from shopsense.training.customers import (
    CUSTOMER_MODEL,
    load_customer_models,
    read_customer_events,
    train_customer_models,
)

START = datetime(2024, 1, 1, tzinfo=UTC)


def purchase(event_id: str, user: str, day: int, *, guest: bool = False) -> Event:
    return Event(
        event_id=event_id,
        type="purchase",
        user_id=user,
        item_id="I1",
        ts=START + timedelta(days=day),
        quantity=1,
        price=10.0,
        props={"guest": True} if guest else {},
    )


def test_guest_checkouts_are_not_customers(tmp_path: Path) -> None:
    with open_store(f"duckdb://{tmp_path / 'shop.duckdb'}") as store:
        store.append_events(
            [purchase("a", "alice", 0), purchase("g", "guest-536365", 1, guest=True)]
        )
        assert read_customer_events(store)["user_id"].tolist() == ["alice"]
        assert read_customer_events(store, user_id="guest-536365").empty


def test_a_store_without_purchases_cannot_be_trained(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    with open_store(settings.resolved_store_url) as store:
        with pytest.raises(ConfigurationError, match="no purchases"):
            train_customer_models(store, settings)
        with pytest.raises(NotFittedError, match="shopsense customers train"):
            load_customer_models(store)


def test_training_registers_a_version_with_its_scores(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    events = [
        purchase(f"{user}-{day}", f"U{user:03d}", day)
        for user in range(150)
        # A third of them stop buying after day 100: churners to learn from.
        for day in range(user % 7, 100 if user % 3 == 0 else 200, 10 + user % 40)
    ]
    with open_store(settings.resolved_store_url) as store:
        store.append_events(events)
        first = train_customer_models(store, settings)
        second = train_customer_models(store, settings)
        assert (first.version.version, second.version.version) == (1, 2)
        loaded = load_customer_models(store)
    assert loaded.version.name == CUSTOMER_MODEL and loaded.version.version == 2
    assert loaded.version.serving
    assert set(loaded.scores.index) == {f"U{user:03d}" for user in range(150)}
    assert loaded.scores.equals(second.scores)
    assert {"churn", "spend", "spend_choice", "fit_seconds", "as_of"} <= set(loaded.version.metrics)


def test_a_shop_without_prices_still_gets_churn_and_segments(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    events = [
        Event(
            event_id=f"{user}-{day}",
            type="purchase",
            user_id=f"U{user:03d}",
            item_id="I1",
            ts=START + timedelta(days=day),
        )
        for user in range(150)
        for day in range(user % 7, 100 if user % 3 == 0 else 200, 10 + user % 40)
    ]
    with open_store(settings.resolved_store_url) as store:
        store.append_events(events)
        run = train_customer_models(store, settings)
        loaded = load_customer_models(store)
    assert run.model.spend_ is None and run.model.spend_choice_ is None
    assert run.metrics["spend"] == {}
    assert loaded.scores["churn_probability"].between(0, 1).all()
    assert loaded.scores["segment"].notna().all()
