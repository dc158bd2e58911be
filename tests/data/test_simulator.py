"""The shop simulator: determinism, schemas, and the behaviour its ground truth promises.

Every test uses fixed seeds and small shops; the statistics are compared with bands
derived from the config (and recorded in docs/simulator.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import ValidationError

from shopsense.data.schemas import Event, EventType, Item, Order, User
from shopsense.data.simulator import (
    SimulatedShop,
    SimulationConfig,
    SimulationTruth,
    simulate_shop,
    write_to_store,
)
from shopsense.data.simulator.calendar import black_friday
from shopsense.data.simulator.config import N_SUBCATEGORIES
from shopsense.data.simulator.vocabulary import CATEGORIES
from shopsense.store import open_store
from shopsense.store.base import (
    EVENT_SCHEMA,
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    USER_SCHEMA,
    AppendResult,
)

SMALL = SimulationConfig(users=300, items=120, days=30, seed=11)
MEDIUM = SimulationConfig(users=3_000, items=600, days=140, seed=3)


@pytest.fixture(scope="module")
def small_shop() -> SimulatedShop:
    return simulate_shop(SMALL)


@pytest.fixture(scope="module")
def shop() -> SimulatedShop:
    return simulate_shop(MEDIUM)


@pytest.fixture(scope="module")
def events(shop: SimulatedShop) -> pd.DataFrame:
    return shop.events.to_pandas()


def _of_type(events: pd.DataFrame, event_type: EventType) -> pd.DataFrame:
    return events[events["type"] == str(event_type)]


# --- configuration -----------------------------------------------------------------------


def test_config_is_frozen_and_validated() -> None:
    config = SimulationConfig()
    with pytest.raises(ValidationError):
        config.users = 5  # type: ignore[misc]
    with pytest.raises(ValidationError, match="users"):
        SimulationConfig(users=0)
    with pytest.raises(ValidationError, match="items"):
        SimulationConfig(items=N_SUBCATEGORIES - 1)
    with pytest.raises(ValidationError, match="cart_rate"):
        SimulationConfig(cart_rate=1.5)
    with pytest.raises(ValidationError, match="extra"):
        SimulationConfig(userz=10)  # type: ignore[call-arg]


def test_every_knob_is_documented() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "simulator.md").read_text()
    for name, field in SimulationConfig.model_fields.items():
        assert field.description, f"{name} has no description"
        assert f"| `{name}` | {field.default} |" in guide, f"{name} is missing in the docs"


# --- determinism -------------------------------------------------------------------------


def test_same_config_gives_identical_tables(small_shop: SimulatedShop) -> None:
    again = simulate_shop(SMALL)
    assert again.events.equals(small_shop.events)
    assert again.items.equals(small_shop.items)
    assert again.users.equals(small_shop.users)
    assert again.order_lines.equals(small_shop.order_lines)
    for name in ("users", "items", "repurchase_cycles", "calendar"):
        assert getattr(again.truth, name).equals(getattr(small_shop.truth, name)), name


def test_different_seed_gives_different_shop(small_shop: SimulatedShop) -> None:
    other = simulate_shop(SMALL.model_copy(update={"seed": 12}))
    assert not other.events.equals(small_shop.events)
    assert other.items.column("title") != small_shop.items.column("title")


def test_behaviour_knobs_keep_the_same_catalog_and_shoppers(small_shop: SimulatedShop) -> None:
    """Catalog, shoppers and behaviour draw from separate streams of the seed, so an
    experiment can vary behaviour over the very same world."""
    variant = simulate_shop(SMALL.model_copy(update={"cart_rate": 0.3, "search_probability": 0.6}))
    assert variant.items.equals(small_shop.items)
    assert variant.truth.users.equals(small_shop.truth.users)
    assert not variant.events.equals(small_shop.events)


def test_progress_is_reported_up_to_the_total() -> None:
    calls: list[tuple[int, int]] = []
    simulate_shop(SMALL.model_copy(update={"days": 5}), progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (6, 6)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# --- schemas -----------------------------------------------------------------------------


def test_tables_match_the_store_schemas(small_shop: SimulatedShop) -> None:
    assert small_shop.events.schema == EVENT_SCHEMA
    assert small_shop.items.schema == ITEM_SCHEMA
    assert small_shop.users.schema == USER_SCHEMA
    assert small_shop.order_lines.schema == ORDER_LINE_SCHEMA
    assert small_shop.items.num_rows == SMALL.items
    assert small_shop.users.num_rows == SMALL.users


def test_events_are_ordered_utc_unique_and_within_the_period(small_shop: SimulatedShop) -> None:
    events = small_shop.events
    ts = events.column("ts").to_numpy()
    assert (np.diff(ts.astype(np.int64)) >= 0).all()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert events.column("ts")[0].as_py() >= start
    assert events.column("ts")[-1].as_py() < start + timedelta(days=SMALL.days)
    event_ids = events.column("event_id").to_pylist()
    assert len(set(event_ids)) == len(event_ids)
    assert event_ids[:3] == ["sim-11-0", "sim-11-1", "sim-11-2"]
    assert set(events.column("type").unique().to_pylist()) == {
        "view",
        "search",
        "add_to_cart",
        "remove_from_cart",
        "purchase",
        "return",
        "rating",
    }


def test_sampled_records_validate_with_the_pydantic_schemas(small_shop: SimulatedShop) -> None:
    sample = small_shop.sample_events(400, seed=1)
    assert len(sample) == 400
    by_type = {event.type for event in sample}
    assert {"view", "add_to_cart", "purchase"} <= by_type
    for event in sample:
        assert event.ts.tzinfo is not None and event.ts.utcoffset() == timedelta(0)
    # Every rating and search (rarer types) validates too.
    rare = small_shop.events.filter(
        pc.is_in(small_shop.events["type"], pa.array(["rating", "search", "return"]))
    )
    for row in rare.to_pylist():
        props = row.pop("props")
        Event.model_validate({**row, "props": json.loads(props) if props else {}})
    items = small_shop.item_records()
    assert all(item.category and item.price is not None and item.title for item in items)
    users = small_shop.user_records()
    assert {"country", "age_band", "channel"} <= set(users[0].attributes)
    orders = list(small_shop.orders())
    assert len(orders) == small_shop.n_orders
    assert sum(len(order.lines) for order in orders) == small_shop.order_lines.num_rows


def test_titles_are_readable_and_from_the_word_lists(small_shop: SimulatedShop) -> None:
    brands = {brand for category in CATEGORIES for brand in category.brands}
    for title, brand, category in zip(
        small_shop.items.column("title").to_pylist(),
        small_shop.items.column("brand").to_pylist(),
        small_shop.items.column("category").to_pylist(),
        strict=True,
    ):
        assert brand in brands and brand in title
        assert len(category) == 2
    assert all(query for query in small_shop.events.column("query").drop_null().to_pylist())


# --- orders, returns, ratings ------------------------------------------------------------


def test_purchases_form_orders_and_returns_refer_to_them(
    events: pd.DataFrame, shop: SimulatedShop
) -> None:
    purchases = _of_type(events, EventType.PURCHASE)
    lines = shop.order_lines.to_pandas()
    assert len(purchases) == len(lines)
    assert set(purchases["order_id"]) == set(lines["order_id"])
    # One order per session, all its lines at one time.
    per_order = purchases.groupby("order_id").agg(
        sessions=("session_id", "nunique"), times=("ts", "nunique")
    )
    assert (per_order["sessions"] == 1).all() and (per_order["times"] == 1).all()
    returns = _of_type(events, EventType.RETURN)
    bought = set(zip(purchases["order_id"], purchases["item_id"], strict=True))
    assert set(zip(returns["order_id"], returns["item_id"], strict=True)) <= bought
    first_purchase = purchases.groupby("order_id")["ts"].min()
    assert (returns["ts"].to_numpy() > first_purchase[returns["order_id"]].to_numpy()).all()
    ratings = _of_type(events, EventType.RATING)
    assert ratings["value"].between(1, 5).all() and (ratings["value"] % 1 == 0).all()
    assert set(ratings["value"]) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_fashion_is_returned_more_than_groceries(events: pd.DataFrame, shop: SimulatedShop) -> None:
    category = dict(
        zip(
            shop.items.column("item_id").to_pylist(),
            [path[0] for path in shop.items.column("category").to_pylist()],
            strict=True,
        )
    )
    purchases = _of_type(events, EventType.PURCHASE)["item_id"].map(category).value_counts()
    returns = _of_type(events, EventType.RETURN)["item_id"].map(category).value_counts()
    assert (
        returns.get("Fashion", 0) / purchases["Fashion"]
        > 3 * returns.get("Groceries", 0) / purchases["Groceries"]
    )


# --- funnel ------------------------------------------------------------------------------


def test_funnel_rates_follow_the_config(events: pd.DataFrame) -> None:
    views = _of_type(events, EventType.VIEW)
    carts = _of_type(events, EventType.ADD_TO_CART)
    purchases = _of_type(events, EventType.PURCHASE)
    removes = _of_type(events, EventType.REMOVE_FROM_CART)
    assert len(views) > len(carts) > len(purchases) > 0
    distinct_views = len(views.drop_duplicates(["session_id", "item_id"]))
    cart_rate = len(carts) / distinct_views
    purchase_rate = len(purchases) / len(carts)
    assert 0.85 * MEDIUM.cart_rate <= cart_rate <= 1.2 * MEDIUM.cart_rate
    assert 0.9 * MEDIUM.purchase_rate <= purchase_rate <= 1.25 * MEDIUM.purchase_rate
    abandoned = len(carts) - len(purchases)
    assert abs(len(removes) / abandoned - MEDIUM.remove_from_cart_probability) < 0.05
    searches = _of_type(events, EventType.SEARCH)
    sessions = events["session_id"].nunique()
    assert abs(len(searches) / sessions - MEDIUM.search_probability) < 0.03
    assert 0.7 * MEDIUM.views_per_session < len(views) / sessions < 1.1 * MEDIUM.views_per_session


def test_views_that_match_taste_convert_more(events: pd.DataFrame, shop: SimulatedShop) -> None:
    views = _of_type(events, EventType.VIEW).drop_duplicates(["session_id", "item_id"])
    carted = set(
        zip(
            *[_of_type(events, EventType.ADD_TO_CART)[c] for c in ("session_id", "item_id")],
            strict=True,
        )
    )
    user_index = {uid: i for i, uid in enumerate(shop.world.population.user_ids)}
    item_index = {iid: i for i, iid in enumerate(shop.world.catalog.item_ids)}
    users = views["user_id"].map(user_index).to_numpy()
    items = views["item_id"].map(item_index).to_numpy()
    taste = shop.world.population.subcategory_taste[users, shop.world.catalog.subcategory[items]]
    was_carted = np.array(
        [pair in carted for pair in zip(views["session_id"], views["item_id"], strict=True)]
    )
    liked = taste >= np.median(taste)
    assert was_carted[liked].mean() > 1.3 * was_carted[~liked].mean()


def test_shoppers_view_their_favourite_categories(
    events: pd.DataFrame, shop: SimulatedShop
) -> None:
    views = _of_type(events, EventType.VIEW)
    category = dict(
        zip(
            shop.items.column("item_id").to_pylist(),
            [path[0] for path in shop.items.column("category").to_pylist()],
            strict=True,
        )
    )
    favourite = dict(
        zip(
            shop.truth.users.column("user_id").to_pylist(),
            [top[0] for top in shop.truth.users.column("top_categories").to_pylist()],
            strict=True,
        )
    )
    in_favourite = (views["item_id"].map(category) == views["user_id"].map(favourite)).mean()
    largest_share = max(category.share for category in CATEGORIES)
    assert in_favourite > 2 * largest_share


# --- repeat purchases --------------------------------------------------------------------


def test_consumables_are_rebought_on_the_true_cycle(
    events: pd.DataFrame, shop: SimulatedShop
) -> None:
    purchases = _of_type(events, EventType.PURCHASE)[["user_id", "item_id", "ts"]]
    cycles = shop.truth.repurchase_cycles.to_pandas().set_index(["user_id", "item_id"])[
        "cycle_days"
    ]
    consumable = purchases.set_index(["user_id", "item_id"]).index.isin(cycles.index)
    rebought = purchases[consumable].sort_values("ts")
    interval_days = (
        rebought.groupby(["user_id", "item_id"])["ts"].diff().dt.total_seconds() / 86_400
    )
    pairs = pd.MultiIndex.from_frame(rebought[["user_id", "item_id"]])
    ratio = (interval_days.to_numpy() / cycles.reindex(pairs).to_numpy())[
        interval_days.notna().to_numpy()
    ]
    assert len(ratio) > 300
    assert 0.9 < np.median(ratio) < 1.1
    # Durable goods are not re-bought on a cycle.
    truth_items = shop.truth.items.to_pandas()
    durable = set(truth_items.loc[~truth_items["consumable"], "item_id"])
    assert not set(cycles.index.get_level_values("item_id")) & durable


def test_truth_cycle_is_item_cycle_times_personal_factor(shop: SimulatedShop) -> None:
    cycles = shop.truth.repurchase_cycles.to_pandas()
    items = shop.truth.items.to_pandas().set_index("item_id")["cycle_days"]
    factor = shop.truth.users.to_pandas().set_index("user_id")["cycle_factor"]
    expected = items[cycles["item_id"]].to_numpy() * factor[cycles["user_id"]].to_numpy()
    np.testing.assert_allclose(cycles["cycle_days"], expected)
    assert (cycles["n_purchases"] >= 1).all() and (cycles["n_purchases"] > 1).mean() > 0.2


# --- churn and newcomers -----------------------------------------------------------------


def test_survival_follows_the_churn_hazard(shop: SimulatedShop) -> None:
    truth = shop.truth.users.to_pandas()
    base = truth[~truth["is_newcomer"]]
    churn_day = base["churn_day"].fillna(np.iinfo(np.int32).max).to_numpy()
    hazard = base["churn_hazard"].to_numpy()
    for day in (20, 60, 100, 139):
        observed = (churn_day > day).mean()
        expected = ((1.0 - hazard) ** day).mean()
        assert abs(observed - expected) < 0.03, (day, observed, expected)
    assert truth["churned"].mean() > 0.2


def test_churned_shoppers_have_no_events_from_their_churn_day(
    events: pd.DataFrame, shop: SimulatedShop
) -> None:
    truth = shop.truth.users.to_pandas().set_index("user_id")
    start = pd.Timestamp(MEDIUM.start, tz="UTC")
    churn_ts = start + pd.to_timedelta(truth["churn_day"].astype("float64"), unit="D")
    last_event = events.groupby("user_id")["ts"].max()
    churned = truth.index[truth["churned"]]
    with_events = churned.intersection(last_event.index)
    assert len(with_events) > 100
    assert (last_event[with_events] < churn_ts[with_events]).all()
    # Fewer of the base are active in the last month than in the first.
    base = truth.index[~truth["is_newcomer"]]
    first_month = events[events["ts"] < start + pd.Timedelta(days=30)]["user_id"]
    last_month = events[events["ts"] >= start + pd.Timedelta(days=MEDIUM.days - 30)]["user_id"]
    assert (
        last_month[last_month.isin(base)].nunique()
        < 0.85 * first_month[first_month.isin(base)].nunique()
    )


def test_newcomers_arrive_over_time_and_start_on_signup(
    events: pd.DataFrame, shop: SimulatedShop
) -> None:
    truth = shop.truth.users.to_pandas().set_index("user_id")
    newcomers = truth[truth["is_newcomer"]]
    assert len(newcomers) == round(MEDIUM.users * MEDIUM.newcomer_share)
    halves = (newcomers["signup_day"] < MEDIUM.days // 2).mean()
    assert 0.4 < halves < 0.6
    first_event = events.groupby("user_id")["ts"].min()
    start = pd.Timestamp(MEDIUM.start, tz="UTC")
    first_day = ((first_event[newcomers.index] - start) / pd.Timedelta(days=1)).astype(int)
    assert (first_day == newcomers["signup_day"]).all()
    created = shop.users.to_pandas().set_index("user_id")["created_at"]
    assert (created[first_event.index] <= first_event).all()
    # Daily active shoppers grow with the newcomers among them.
    active_newcomers = (
        events[events["user_id"].isin(newcomers.index)]
        .groupby(events["ts"].dt.date)["user_id"]
        .nunique()
    )
    assert active_newcomers.iloc[-20:].mean() > 3 * active_newcomers.iloc[:20].mean()


def test_items_added_during_the_period_appear_only_after_launch(
    events: pd.DataFrame, shop: SimulatedShop
) -> None:
    items = shop.items.to_pandas().set_index("item_id")
    start = pd.Timestamp(MEDIUM.start, tz="UTC")
    new = items[items["created_at"] >= start]
    assert len(new) == round(MEDIUM.items * MEDIUM.new_item_share)
    # Each subcategory keeps an item from before the start, whatever the share asks for.
    tiny = simulate_shop(
        SimulationConfig(users=20, items=N_SUBCATEGORIES + 3, days=5, new_item_share=1.0)
    )
    assert (tiny.truth.items.column("created_day").to_numpy() >= 0).sum() == 3
    first_view = _of_type(events, EventType.VIEW).groupby("item_id")["ts"].min()
    seen = new.index.intersection(first_view.index)
    assert len(seen) > 0.5 * len(new)
    assert (first_view[seen] > new.loc[seen, "created_at"]).all()


# --- rhythm ------------------------------------------------------------------------------


def test_weekends_are_busier_by_the_weekend_multiplier(events: pd.DataFrame) -> None:
    sessions = events.groupby("session_id")["ts"].min()
    per_day = sessions.groupby(sessions.dt.date).size()
    weekend = np.array([day.weekday() >= 5 for day in per_day.index])
    ratio = per_day[weekend].mean() / per_day[~weekend].mean()
    assert abs(ratio - MEDIUM.weekend_multiplier) < 0.12, ratio


def test_evenings_are_busier_than_nights(events: pd.DataFrame) -> None:
    hours = events["ts"].dt.hour.value_counts(normalize=True)
    assert hours[[19, 20, 21]].sum() > 8 * hours[[2, 3, 4]].sum()


def test_black_friday_peaks_with_discounted_prices() -> None:
    config = SimulationConfig(users=1_500, items=300, days=45, seed=5, start=date(2024, 11, 1))
    shop = simulate_shop(config)
    events = shop.events.to_pandas()
    views = _of_type(events, EventType.VIEW)
    per_day = views.groupby(views["ts"].dt.date).size()
    friday = black_friday(2024)
    assert friday == date(2024, 11, 29)
    ordinary_fridays = [date(2024, 11, 8), date(2024, 11, 15), date(2024, 11, 22)]
    assert per_day[friday] > 1.8 * per_day[ordinary_fridays].mean()
    list_price = shop.items.to_pandas().set_index("item_id")["price"]
    on_friday = views[views["ts"].dt.date == friday]
    np.testing.assert_allclose(
        on_friday["price"].to_numpy(),
        np.round(list_price[on_friday["item_id"]].to_numpy() * 0.8, 2),
    )
    calendar = shop.truth.calendar.to_pandas().set_index("date")
    assert calendar.loc[friday, "price_factor"] == pytest.approx(0.8)


# --- truth and store ---------------------------------------------------------------------


def test_truth_describes_every_shopper_and_round_trips(
    small_shop: SimulatedShop, tmp_path: Path
) -> None:
    truth = small_shop.truth
    assert truth.users.num_rows == SMALL.users and truth.items.num_rows == SMALL.items
    tastes = np.array(truth.users.column("category_taste").to_pylist())
    np.testing.assert_allclose(tastes.sum(axis=1), 1.0)
    assert truth.category_names == tuple(category.name for category in CATEGORIES)
    paths = truth.save(tmp_path / "truth")
    assert sorted(path.name for path in paths) == [
        "calendar.parquet",
        "items.parquet",
        "repurchase_cycles.parquet",
        "users.parquet",
    ]
    loaded = SimulationTruth.load(tmp_path / "truth")
    assert loaded.category_names == truth.category_names
    for name in ("users", "items", "repurchase_cycles", "calendar"):
        assert getattr(loaded, name).equals(getattr(truth, name)), name


class _RecordingSink:
    """A store stand-in that records what it is given."""

    def __init__(self) -> None:
        self.event_batches: list[int] = []
        self.items = self.users = self.orders = 0

    def append_events(self, events: Iterable[Event] | pa.Table) -> AppendResult:
        assert isinstance(events, pa.Table) and events.schema == EVENT_SCHEMA
        self.event_batches.append(events.num_rows)
        return AppendResult(received=events.num_rows, inserted=events.num_rows)

    def upsert_items(self, items: Iterable[Item] | pa.Table) -> int:
        assert isinstance(items, pa.Table)
        self.items += items.num_rows
        return items.num_rows

    def upsert_users(self, users: Iterable[User] | pa.Table) -> int:
        assert isinstance(users, pa.Table)
        self.users += users.num_rows
        return users.num_rows

    def upsert_orders(self, orders: Iterable[Order] | pa.Table) -> int:
        assert isinstance(orders, pa.Table) and orders.schema == ORDER_LINE_SCHEMA
        count = len(orders.column("order_id").unique())
        self.orders += count
        return count


def test_write_to_store_sends_batches_and_reports_progress(small_shop: SimulatedShop) -> None:
    sink = _RecordingSink()
    progress: list[tuple[int, int]] = []
    report = write_to_store(
        small_shop, sink, batch_size=1_000, progress=lambda d, t: progress.append((d, t))
    )
    n_events = small_shop.events.num_rows
    assert sum(sink.event_batches) == n_events and max(sink.event_batches) == 1_000
    assert (report.items, report.users, report.orders) == (
        SMALL.items,
        SMALL.users,
        small_shop.n_orders,
    )
    assert report.events_inserted == n_events
    assert progress[-1][0] == progress[-1][1]


def test_write_to_duckdb_store_is_idempotent(small_shop: SimulatedShop) -> None:
    with open_store("duckdb://:memory:") as store:
        first = write_to_store(small_shop, store)
        again = write_to_store(small_shop, store)
        assert first.events_inserted == small_shop.events.num_rows
        assert again.events_inserted == 0
        assert store.count_events() == small_shop.events.num_rows
        assert store.count_items() == SMALL.items
        assert store.count_users() == SMALL.users
        assert store.count_orders() == small_shop.n_orders
