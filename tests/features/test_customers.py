"""Customer features are what the hand computation says, and read nothing at or after the
cutoff: deleting, moving or adding later events changes no feature and no score."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shopsense.core.errors import ValidationFailedError
from shopsense.data.simulator import SimulationConfig, simulate_shop
from shopsense.features.customers import (
    FEATURE_NAMES,
    SECONDS_PER_DAY,
    customer_features,
    events_frame,
    line_spend,
    purchase_labels,
    rebuy_cycle_days,
    repeat_purchases,
)
from shopsense.models.customer.intelligence import CustomerIntelligence

DAY = SECONDS_PER_DAY
HOUR = 3_600
MINUTE = 60
CUTOFF = 100 * DAY
NAN = math.nan

Row = tuple[str, str, str | None, int, float, float, float]


def frame(rows: list[Row]) -> pd.DataFrame:
    """Events from ``(user_id, type, item_id, ts, quantity, price, value)`` rows."""
    return pd.DataFrame(
        rows, columns=["user_id", "type", "item_id", "ts", "quantity", "price", "value"]
    ).astype({"ts": np.int64})


def tiny_events() -> pd.DataFrame:
    """Customer ``a`` buys on days 5 (two lines), 40 (price missing: value) and 80.5,
    returns once, browses; ``b`` only browses before the cutoff; ``c`` buys once (no
    quantity); ``d`` buys exactly at the cutoff only."""
    return frame(
        [
            ("a", "purchase", "i1", 5 * DAY + 10 * HOUR, 2.0, 5.0, NAN),
            ("a", "purchase", "i2", 5 * DAY + 12 * HOUR, 1.0, 3.0, NAN),
            ("a", "purchase", "i1", 40 * DAY, 1.0, NAN, 7.0),
            ("a", "search", None, 60 * DAY, NAN, NAN, NAN),
            ("a", "purchase", "i3", 80 * DAY + 12 * HOUR, 3.0, 2.0, NAN),
            ("a", "return", "i1", 81 * DAY, 1.0, NAN, NAN),
            ("a", "view", "i1", 85 * DAY, NAN, NAN, NAN),
            ("a", "view", "i2", 85 * DAY + 20 * MINUTE, NAN, NAN, NAN),  # same visit
            ("a", "view", "i3", 85 * DAY + 60 * MINUTE, NAN, NAN, NAN),  # 40 min: new visit
            ("a", "add_to_cart", "i3", 85 * DAY + 61 * MINUTE, 1.0, NAN, NAN),
            ("a", "search", None, 90 * DAY, NAN, NAN, NAN),
            ("a", "view", "i4", 90 * DAY + 30 * MINUTE, NAN, NAN, NAN),  # exactly 30 min: same
            ("a", "view", "i4", 99 * DAY + 12 * HOUR, NAN, NAN, NAN),
            ("a", "purchase", "i9", CUTOFF, 100.0, 100.0, NAN),  # at the cutoff: excluded
            ("a", "view", "i9", CUTOFF + HOUR, NAN, NAN, NAN),
            ("b", "view", "i1", 50 * DAY, NAN, NAN, NAN),
            ("b", "purchase", "i1", CUTOFF + DAY, 1.0, 5.0, NAN),
            ("c", "purchase", "i2", 95 * DAY + 6 * HOUR, NAN, 4.0, NAN),
            ("d", "purchase", "i2", CUTOFF, 1.0, 4.0, NAN),
        ]
    )


def test_features_match_the_hand_computation() -> None:
    features = customer_features(tiny_events(), CUTOFF)
    assert list(features.columns) == list(FEATURE_NAMES)
    assert features.index.name == "user_id"
    assert features.index.tolist() == ["a", "c"]  # b never bought before, d at the cutoff
    assert (features.dtypes == np.float64).all()
    a, c = features.loc["a"], features.loc["c"]
    expected_a = {
        "recency_days": 19.5,  # last purchase at day 80.5
        "tenure_days": 100 - (5 + 10 / 24),  # first at day 5, 10:00
        "frequency": 3.0,  # days 5, 40, 80: the two lines on day 5 are one purchase day
        "monetary": 2 * 5.0 + 1 * 3.0 + 7.0 + 3 * 2.0,  # day 40 has no price: its value
        "average_order_value": 26.0 / 3,
        "distinct_items": 3.0,
        "gap_mean_days": 37.5,  # gaps of 35 and 40 days
        "gap_median_days": 37.5,
        "gap_std_days": math.sqrt(12.5),
        "gap_last_days": 40.0,
        "recency_gap_ratio": 19.5 / 37.5,
        "purchases_30d": 1.0,  # day 80 (day 70 onwards)
        "purchases_90d": 2.0,  # days 40 and 80 (day 10 onwards)
        "spend_90d": 13.0,
        "returns": 1.0,
        "return_rate": 0.25,  # 1 return over 4 purchase lines
        "views_30d": 5.0,
        "carts_30d": 1.0,
        "searches_30d": 1.0,  # the day-60 search is older than 30 days
        # Visits start at 80.5, 81, 85, 85+1h, 90, 99.5 (last 30 days) and 40, 60 before.
        "sessions_30d": 6.0,
        "sessions_90d": 8.0,
        "days_since_last_event": 0.5,
    }
    for name, value in expected_a.items():
        assert a[name] == pytest.approx(value, rel=1e-12), name
    assert math.isnan(a["categories"])  # no catalog categories given
    assert c["recency_days"] == c["tenure_days"] == pytest.approx(4.75)
    assert c["frequency"] == 1.0
    assert c["monetary"] == c["spend_90d"] == 4.0  # missing quantity counts as one
    for name in ("gap_mean_days", "gap_median_days", "gap_std_days", "gap_last_days"):
        assert math.isnan(c[name]), name
    assert math.isnan(c["recency_gap_ratio"])
    assert c["purchases_30d"] == c["purchases_90d"] == 1.0
    assert c["returns"] == c["return_rate"] == c["views_30d"] == 0.0
    assert c["sessions_30d"] == c["sessions_90d"] == 1.0
    assert c["days_since_last_event"] == pytest.approx(4.75)


def test_categories_count_the_top_categories_bought() -> None:
    categories = pd.Series({"i1": "home", "i2": "home", "i3": "garden"})
    features = customer_features(tiny_events(), CUTOFF, item_categories=categories)
    assert features.loc["a", "categories"] == 2.0
    assert features.loc["c", "categories"] == 1.0


def test_window_starts_are_inclusive_and_the_cutoff_exclusive() -> None:
    events = frame(
        [
            ("a", "purchase", "i1", CUTOFF - 90 * DAY, 1.0, 1.0, NAN),
            ("a", "purchase", "i1", CUTOFF - 30 * DAY, 1.0, 2.0, NAN),
            ("a", "view", "i1", CUTOFF - 30 * DAY, NAN, NAN, NAN),
            ("a", "purchase", "i1", CUTOFF - 1, 1.0, 4.0, NAN),
            ("a", "purchase", "i1", CUTOFF, 1.0, 1000.0, NAN),
        ]
    )
    features = customer_features(events, CUTOFF).loc["a"]
    assert features["purchases_30d"] == 2.0
    assert features["purchases_90d"] == 3.0
    assert features["spend_90d"] == features["monetary"] == 7.0
    assert features["views_30d"] == 1.0
    assert features["recency_days"] == pytest.approx(1 / DAY)


def test_no_purchase_before_the_cutoff_gives_an_empty_frame() -> None:
    events = frame(
        [
            ("a", "view", "i1", CUTOFF - DAY, NAN, NAN, NAN),
            ("a", "purchase", "i1", CUTOFF, 1.0, 1.0, NAN),
        ]
    )
    features = customer_features(events, CUTOFF)
    assert features.empty
    assert list(features.columns) == list(FEATURE_NAMES)


def test_missing_columns_are_rejected() -> None:
    with pytest.raises(ValidationFailedError, match="ts"):
        customer_features(pd.DataFrame({"user_id": ["a"], "type": ["purchase"]}), CUTOFF)


def test_line_spend_uses_quantity_times_price_else_the_value() -> None:
    lines = pd.DataFrame(
        {
            "quantity": [2.0, NAN, 3.0, 1.0, -1.0],
            "price": [5.0, 4.0, NAN, NAN, 3.0],
            "value": [99.0, NAN, 7.5, NAN, NAN],
        }
    )
    assert line_spend(lines).tolist() == [10.0, 4.0, 7.5, 0.0, 0.0]
    assert line_spend(pd.DataFrame({"price": [2.5]})).tolist() == [2.5]


def test_events_frame_turns_timestamps_into_unix_seconds() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    table = pa.table(
        {
            "user_id": ["a"],
            "type": ["purchase"],
            "item_id": ["i1"],
            "ts": pa.array([when], type=pa.timestamp("us", tz="UTC")),
            "quantity": [2.0],
            "price": [3.0],
            "session_id": ["s1"],
        }
    )
    events = events_frame(table)
    assert list(events.columns) == ["user_id", "type", "item_id", "ts", "quantity", "price"]
    assert events["ts"].tolist() == [int(when.timestamp())]
    assert events["ts"].dtype == np.int64


# -- leakage: nothing at or after the cutoff reaches a feature ---------------------------------

EVENT_TYPES = np.array(["purchase", "return", "view", "add_to_cart", "search", "remove_from_cart"])
TYPE_WEIGHTS = np.array([0.25, 0.05, 0.4, 0.12, 0.13, 0.05])
LEAK_CUTOFF = 400 * DAY


def random_events(
    rng: np.random.Generator, n: int, customers: list[str], low: int, high: int
) -> pd.DataFrame:
    """``n`` random events of ``customers`` at times in ``[low, high)``."""
    kinds = rng.choice(EVENT_TYPES, size=n, p=TYPE_WEIGHTS)
    price = np.round(rng.gamma(2.0, 10.0, size=n), 2)
    price[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "user_id": rng.choice(np.array(customers, dtype=object), size=n),
            "type": kinds.astype(object),
            "item_id": np.array([f"i{k}" for k in rng.integers(0, 60, size=n)], dtype=object),
            "ts": rng.integers(low, high, size=n).astype(np.int64),
            "quantity": rng.integers(1, 5, size=n).astype(np.float64),
            "price": price,
            "value": np.round(rng.gamma(2.0, 15.0, size=n), 2),
        }
    )


def by_time(events: pd.DataFrame) -> pd.DataFrame:
    """Ordered by time (stable: the rows before the cutoff keep their relative order, so
    even float sums come out bit for bit the same)."""
    return events.sort_values("ts", kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def shop_history() -> pd.DataFrame:
    """400 customers, all event types, over 300 days before and 100 after the cutoff,
    with bursts of events exactly at the cutoff and one second before it."""
    rng = np.random.default_rng(20240601)
    customers = [f"u{k:03d}" for k in range(400)]
    spread = random_events(rng, 16_000, customers, LEAK_CUTOFF - 300 * DAY, LEAK_CUTOFF + 100 * DAY)
    at_cutoff = random_events(rng, 200, customers, LEAK_CUTOFF, LEAK_CUTOFF + 1)
    just_before = random_events(rng, 200, customers, LEAK_CUTOFF - 1, LEAK_CUTOFF)
    return by_time(pd.concat([spread, at_cutoff, just_before], ignore_index=True))


CATEGORIES = pd.Series({f"i{k}": f"c{k % 7}" for k in range(60)})


def features_at_cutoff(events: pd.DataFrame) -> pd.DataFrame:
    return customer_features(events, LEAK_CUTOFF, item_categories=CATEGORIES)


def test_the_random_history_exercises_every_feature(shop_history: pd.DataFrame) -> None:
    features = features_at_cutoff(shop_history)
    assert len(features) > 350
    for name in FEATURE_NAMES:
        assert features[name].notna().any(), name
        assert features[name].nunique() > 1, name
    assert (features["recency_days"] > 0).all()
    assert (shop_history["ts"] >= LEAK_CUTOFF).sum() > 4_000


def test_features_ignore_deleted_future_events(shop_history: pd.DataFrame) -> None:
    expected = features_at_cutoff(shop_history)
    past = shop_history[shop_history["ts"] < LEAK_CUTOFF].reset_index(drop=True)
    pd.testing.assert_frame_equal(features_at_cutoff(past), expected, check_exact=True)


def test_features_ignore_moved_and_altered_future_events(shop_history: pd.DataFrame) -> None:
    expected = features_at_cutoff(shop_history)
    rng = np.random.default_rng(7)
    altered = shop_history.copy()
    future = (altered["ts"] >= LEAK_CUTOFF).to_numpy()
    n = int(future.sum())
    moved = rng.integers(LEAK_CUTOFF, LEAK_CUTOFF + 365 * DAY, size=n)
    altered.loc[future, "ts"] = np.where(rng.random(n) < 0.1, LEAK_CUTOFF, moved)  # some at it
    altered.loc[future, "type"] = rng.choice(EVENT_TYPES, size=n)
    altered.loc[future, "quantity"] = rng.integers(1, 50, size=n).astype(np.float64)
    altered.loc[future, "price"] = rng.gamma(1.0, 100.0, size=n)
    altered.loc[future, "value"] = rng.gamma(1.0, 100.0, size=n)
    altered.loc[future, "item_id"] = [f"i{k}" for k in rng.integers(0, 60, size=n)]
    altered = by_time(altered)
    assert not altered.equals(shop_history)
    pd.testing.assert_frame_equal(features_at_cutoff(altered), expected, check_exact=True)
    # Not vacuous: at a later cutoff the altered future does show.
    later = LEAK_CUTOFF + 60 * DAY
    assert not customer_features(altered, later).equals(customer_features(shop_history, later))


def test_features_ignore_new_future_events(shop_history: pd.DataFrame) -> None:
    expected = features_at_cutoff(shop_history)
    rng = np.random.default_rng(11)
    existing = sorted(set(shop_history["user_id"]))
    newcomers = [f"new{k:03d}" for k in range(150)]
    more = random_events(rng, 8_000, existing, LEAK_CUTOFF, LEAK_CUTOFF + 200 * DAY)
    fresh = random_events(rng, 4_000, newcomers, LEAK_CUTOFF, LEAK_CUTOFF + 200 * DAY)
    extended = by_time(pd.concat([shop_history, more, fresh], ignore_index=True))
    pd.testing.assert_frame_equal(features_at_cutoff(extended), expected, check_exact=True)


# -- leakage through the fitted models' scores -------------------------------------------------

SIM_HORIZON_DAYS = 30


@pytest.fixture(scope="module")
def simulated_events() -> pd.DataFrame:
    shop = simulate_shop(SimulationConfig(users=400, items=150, days=120, seed=3))
    return events_frame(shop.events)


def test_scores_ignore_events_after_now(simulated_events: pd.DataFrame) -> None:
    events = simulated_events
    now = int(events["ts"].min()) + 100 * DAY  # 20 days of events follow
    model = CustomerIntelligence(horizon_days=SIM_HORIZON_DAYS).fit(events, now)
    expected = model.score(events, now)
    assert len(expected) > 50

    rng = np.random.default_rng(5)
    later = (events["ts"] >= now).to_numpy()
    n = int(later.sum())
    assert n > 1_000
    altered = events.copy()
    altered.loc[later, "ts"] = rng.integers(now, now + 90 * DAY, size=n)
    altered.loc[later, "type"] = rng.choice(EVENT_TYPES, size=n)
    altered.loc[later, "quantity"] = rng.integers(1, 20, size=n).astype(np.float64)
    altered.loc[later, "price"] = rng.gamma(1.0, 200.0, size=n)
    newcomers = random_events(rng, 2_000, ["n1", "n2", "n3"], now, now + 30 * DAY)
    newcomers = newcomers.astype(events.dtypes.to_dict())
    altered = by_time(pd.concat([altered, newcomers], ignore_index=True))
    past = events[events["ts"].to_numpy() < now]

    for variant in (altered, past):
        scores = model.score(variant, now)
        pd.testing.assert_frame_equal(scores, expected, check_exact=True)
    for column in ("churn_probability", "expected_purchases", "p_alive", "segment", "drivers"):
        assert expected[column].nunique() > 1, column


# -- labels and re-buy cycles ------------------------------------------------------------------


def test_purchase_labels_count_the_window_only() -> None:
    events = frame(
        [
            ("a", "purchase", "i1", CUTOFF - 1, 1.0, 1000.0, NAN),  # before: not counted
            ("a", "purchase", "i1", CUTOFF, 2.0, 5.0, NAN),  # at the cutoff: counted
            ("a", "purchase", "i2", CUTOFF + 2 * DAY + HOUR, 1.0, NAN, 4.0),  # value
            ("a", "purchase", "i3", CUTOFF + 2 * DAY + 2 * HOUR, 1.0, 6.0, NAN),  # same day
            ("a", "view", "i3", CUTOFF + 3 * DAY, NAN, 500.0, NAN),  # not a purchase
            ("a", "purchase", "i1", CUTOFF + 30 * DAY, 1.0, 1000.0, NAN),  # window end: out
            ("c", "purchase", "i1", CUTOFF + 5 * DAY + 12 * HOUR, 3.0, 2.0, NAN),
            ("c", "return", "i1", CUTOFF + 6 * DAY, 1.0, 2.0, NAN),
            ("x", "purchase", "i1", CUTOFF + DAY, 1.0, 1.0, NAN),  # not asked about
        ]
    )
    customers = pd.Index(["c", "a", "b"], name="user_id")
    labels = purchase_labels(events, CUTOFF, horizon_days=30, customers=customers)
    assert labels.index.tolist() == ["c", "a", "b"]
    assert labels["spend"].tolist() == [6.0, 20.0, 0.0]
    assert labels["purchase_days"].tolist() == [1, 2, 0]
    assert labels["purchased"].tolist() == [True, True, False]
    assert labels.loc["a", "days_to_next"] == 0.0
    assert labels.loc["c", "days_to_next"] == pytest.approx(5.5)
    assert math.isnan(labels.loc["b", "days_to_next"])


def test_rebuy_cycle_is_the_median_gap_in_days() -> None:
    assert rebuy_cycle_days([0, 10 * DAY, 30 * DAY]) == 15.0  # gaps 10 and 20
    assert rebuy_cycle_days([30 * DAY, 0, 10 * DAY]) == 15.0  # order does not matter
    assert rebuy_cycle_days([0, 7 * DAY, 14 * DAY, 60 * DAY]) == 7.0
    assert rebuy_cycle_days([5 * DAY]) is None
    assert rebuy_cycle_days([]) is None
    assert rebuy_cycle_days([0, HOUR, 2 * HOUR]) is None  # one basket, not a cycle
    assert rebuy_cycle_days([0, DAY]) == 1.0


def test_repeat_purchases_count_days_and_sort_by_the_expected_date() -> None:
    events = frame(
        [
            # coffee: days 0 (twice) and 10 -> two days, every 10 days, next on day 20
            ("a", "purchase", "coffee", 0 * DAY + HOUR, 1.0, 5.0, NAN),
            ("a", "purchase", "coffee", 0 * DAY + 2 * HOUR, 1.0, 5.0, NAN),
            ("a", "purchase", "coffee", 10 * DAY + HOUR, 1.0, 5.0, NAN),
            # filters: days 2 and 8 -> every 6 days, next on day 14
            ("a", "purchase", "filters", 2 * DAY, 1.0, 2.0, NAN),
            ("a", "purchase", "filters", 8 * DAY + 5 * HOUR, 1.0, 2.0, NAN),
            # mug: twice on one day -> not a repeat
            ("a", "purchase", "mug", 3 * DAY, 1.0, 9.0, NAN),
            ("a", "purchase", "mug", 3 * DAY + HOUR, 1.0, 9.0, NAN),
            # tea: viewed often, bought once before the cutoff, again at it
            ("a", "view", "tea", 4 * DAY, NAN, NAN, NAN),
            ("a", "view", "tea", 9 * DAY, NAN, NAN, NAN),
            ("a", "purchase", "tea", 5 * DAY, 1.0, 3.0, NAN),
            ("a", "purchase", "tea", 19 * DAY, 1.0, 3.0, NAN),
        ]
    )
    repeats = repeat_purchases(events, 19 * DAY)
    assert [repeat.item_id for repeat in repeats] == ["filters", "coffee"]
    filters, coffee = repeats
    assert (filters.times, filters.every_days) == (2, 6.0)
    assert filters.last_ts == 8 * DAY + 5 * HOUR
    assert filters.expected_ts == 14 * DAY + 5 * HOUR
    assert (coffee.times, coffee.every_days) == (2, 10.0)
    assert coffee.last_ts == 10 * DAY + HOUR
    assert coffee.expected_ts == 20 * DAY + HOUR
    assert repeat_purchases(events, 2 * DAY) == []


def test_repeat_purchases_drop_items_overdue_by_more_than_a_cycle() -> None:
    events = frame(
        [
            # coffee: days 0, 10 (two lines) and 20 -> every 10 days, last at day 20
            ("a", "purchase", "coffee", 0 * DAY, 1.0, 5.0, NAN),
            ("a", "purchase", "coffee", 10 * DAY, 1.0, 5.0, NAN),
            ("a", "purchase", "coffee", 10 * DAY + HOUR, 1.0, 5.0, NAN),
            ("a", "purchase", "coffee", 20 * DAY, 1.0, 5.0, NAN),
            # filters: every 6 days, last at day 8
            ("a", "purchase", "filters", 2 * DAY, 1.0, 2.0, NAN),
            ("a", "purchase", "filters", 8 * DAY, 1.0, 2.0, NAN),
        ]
    )
    # Filters are due on day 14; at day 20 they are a whole cycle late, still kept.
    on_the_edge = repeat_purchases(events, 20 * DAY)
    assert [repeat.item_id for repeat in on_the_edge] == ["filters", "coffee"]
    assert on_the_edge[1].expected_ts == 20 * DAY + HOUR  # days 0 and 10: every 10 days
    # A second later they are more than a cycle late: the customer stopped buying them.
    later = repeat_purchases(events, 20 * DAY + 1)
    assert [repeat.item_id for repeat in later] == ["coffee"]
    assert (later[0].times, later[0].every_days) == (3, 10.0)
    assert later[0].expected_ts == 30 * DAY
