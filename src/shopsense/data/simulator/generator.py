"""The event generator: a day-by-day, vectorised simulation of the shop's history.

Each simulated day draws, for all shoppers alive that day at once: their sessions
(Poisson on activity x calendar), the views of each session (a main subcategory from
taste, items by popularity among a few candidates chosen by affinity), the funnel
(add-to-cart, purchase, remove-from-cart), one order per session with purchases, later
returns and ratings, and the re-buys of consumables that fall due. Only the loop over
days is in Python; everything inside a day is a handful of numpy operations over
arrays of sessions and views, which is what makes a million events take seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from shopsense.data.schemas import EventType
from shopsense.data.simulator.calendar import (
    MICROSECONDS_PER_DAY,
    MICROSECONDS_PER_SECOND,
    SECONDS_PER_DAY,
    day_activity_multipliers,
    day_price_factors,
    hour_of_day_cumulative,
)
from shopsense.data.simulator.catalog import (
    QUERIES_PER_ITEM,
    BoolArray,
    FloatArray,
    IntArray,
    start_microseconds,
    taxonomy,
)
from shopsense.data.simulator.config import SimulationConfig
from shopsense.data.simulator.shop import ProgressCallback, SimulatedShop, build_shop_tables
from shopsense.data.simulator.world import (
    RandomStream,
    ShopWorld,
    build_world,
    random_generator,
    sample_rows,
)
from shopsense.data.tables import EVENT_SCHEMA, TIMESTAMP

logger = logging.getLogger(__name__)

EVENT_TYPE_CODES: tuple[EventType, ...] = (
    EventType.VIEW,
    EventType.ADD_TO_CART,
    EventType.REMOVE_FROM_CART,
    EventType.PURCHASE,
    EventType.RETURN,
    EventType.RATING,
    EventType.SEARCH,
)
"""The event types the simulator emits; an event's type code is its index here."""

VIEW_SOURCES: tuple[str, ...] = ("browse", "search", "order_history")
"""Where a view came from (``props.source`` of view events); its code is its index."""

_VIEW, _CART, _REMOVE, _PURCHASE, _RETURN, _RATING, _SEARCH = range(len(EVENT_TYPE_CODES))
_BROWSE, _FROM_SEARCH, _FROM_ORDER_HISTORY = range(len(VIEW_SOURCES))

# Dwell times (seconds) and delays (days): medians and spreads of the log-normal or
# Poisson draws below, chosen to look like web-shop click streams.
_VIEW_DWELL_MEDIAN_S = 40.0
_VIEW_DWELL_SPREAD = 0.9
_SEARCH_DWELL_MEDIAN_S = 15.0
_CART_AT_SHARE_OF_DWELL = 0.4
_CHECKOUT_MAX_S = 240.0
_RETURN_DELAY_MEAN_DAYS = 6.0
_RATING_DELAY_MEAN_DAYS = 7.0
_RETURN_AFFINITY_SLOPE = 0.3
_RATING_BASE = 4.4
_RATING_AFFINITY_SLOPE = 0.6
_RATING_NOISE = 1.0


def _group_starts(group_sizes: IntArray) -> IntArray:
    """Index of the first element of each consecutive group of the given sizes."""
    starts: IntArray = np.cumsum(group_sizes) - group_sizes
    return starts


def _seconds(values: FloatArray) -> IntArray:
    """Seconds as whole microseconds."""
    microseconds: IntArray = np.round(values * MICROSECONDS_PER_SECOND).astype(np.int64)
    return microseconds


class _ColumnChunks:
    """Columns built chunk by chunk (one chunk per simulated day and kind), joined at the
    end. Missing values of events: ``-1`` in index columns, NaN in float columns."""

    def __init__(self, dtypes: dict[str, type[np.generic]]) -> None:
        self.dtypes = dtypes
        self.chunks: dict[str, list[npt.NDArray[np.generic]]] = {name: [] for name in dtypes}

    def append(self, count: int, **columns: npt.NDArray[np.generic]) -> None:
        """Add ``count`` rows; columns not given are filled with their missing value."""
        if count == 0:
            return
        for name, chunks in self.chunks.items():
            given = columns.get(name)
            if given is not None:
                chunks.append(given)
            elif np.issubdtype(self.dtypes[name], np.floating):
                chunks.append(np.full(count, np.nan))
            else:
                chunks.append(np.full(count, -1, dtype=self.dtypes[name]))

    def joined(self) -> dict[str, npt.NDArray[np.generic]]:
        return {
            name: np.concatenate(chunks).astype(self.dtypes[name], copy=False)
            if chunks
            else np.empty(0, dtype=self.dtypes[name])
            for name, chunks in self.chunks.items()
        }


def _event_chunks() -> _ColumnChunks:
    index, real = np.int64, np.float64
    return _ColumnChunks(
        {
            "type": np.int8,
            "user": index,
            "item": index,
            "ts": index,
            "session": index,
            "quantity": real,
            "price": real,
            "value": real,
            "order": index,
            "query": index,
            "source": index,
        }
    )


def _order_line_chunks() -> _ColumnChunks:
    index, real = np.int64, np.float64
    return _ColumnChunks(
        {
            "order": index,
            "user": index,
            "ts": index,
            "line_no": index,
            "item": index,
            "quantity": real,
            "price": real,
            "returned": np.bool_,
        }
    )


class _Simulation:
    """The state carried from day to day: counters, pending re-buys, output chunks."""

    def __init__(self, world: ShopWorld) -> None:
        self.world = world
        self.config = world.config
        self.rng = random_generator(world.config.seed, RandomStream.BEHAVIOUR)
        self.activity_multiplier = day_activity_multipliers(world.config)
        self.price_factor = day_price_factors(world.config)
        self.hour_cumulative = hour_of_day_cumulative()
        self.start_us = start_microseconds(world.config.start)
        self.events = _event_chunks()
        self.order_lines = _order_line_chunks()
        self.n_sessions = 0
        self.n_orders = 0
        # Consumable re-buys: due day -> (users, items); the latest due day per pair wins,
        # so buying again before the due day reschedules instead of doubling up.
        self.pending_rebuys: dict[int, list[tuple[IntArray, IntArray]]] = {}
        self.latest_due: dict[int, int] = {}
        self.consumable_purchase_keys: list[IntArray] = []

    def _add_events(
        self, type_code: int, users: IntArray, ts: IntArray, **columns: npt.NDArray[np.generic]
    ) -> None:
        self.events.append(
            len(users),
            type=np.full(len(users), type_code, dtype=np.int8),
            user=users,
            ts=ts,
            **columns,
        )

    # --- one day ---------------------------------------------------------------------------

    def simulate_day(self, day: int) -> None:
        config, rng = self.config, self.rng
        population = self.world.population
        alive = np.flatnonzero((population.signup_day <= day) & (population.churn_day > day))
        session_counts = rng.poisson(
            population.activity_rate[alive] * self.activity_multiplier[day]
        )
        # A newcomer signs up during a visit, so their signup day has a session.
        session_counts = np.where(
            population.signup_day[alive] == day, np.maximum(session_counts, 1), session_counts
        )
        browse_users = np.repeat(alive, session_counts)
        rebuy_users, rebuy_items = self._due_rebuys(day)
        session_user = np.concatenate([browse_users, rebuy_users])
        n_sessions = len(session_user)
        if n_sessions == 0:
            return
        is_rebuy_session = np.arange(n_sessions) >= len(browse_users)
        n_views = np.concatenate(
            [
                rng.geometric(1.0 / config.views_per_session, len(browse_users)),
                np.ones(len(rebuy_users), dtype=np.int64),
            ]
        )
        has_search = rng.random(n_sessions) < config.search_probability
        view_session = np.repeat(np.arange(n_sessions), n_views)
        first_view = _group_starts(n_views)
        view_user = session_user[view_session]
        view_item, view_affinity = self._choose_viewed_items(day, session_user, view_session)
        rebuy_views = first_view[is_rebuy_session]
        view_item[rebuy_views] = rebuy_items
        view_affinity[rebuy_views] = self.world.affinity(
            rebuy_users, rebuy_items, self.price_factor[day]
        )

        carted, purchased, removed = self._funnel(view_session, view_item, view_affinity)
        carted[rebuy_views] = True
        purchased[rebuy_views] = True
        removed[rebuy_views] = False

        timing = self._session_timing(day, n_views, has_search, first_view, view_session)
        session_ids = self.n_sessions + np.arange(n_sessions)
        self.n_sessions += n_sessions
        view_session_ids = session_ids[view_session]

        source = np.full(len(view_item), _BROWSE, dtype=np.int64)
        source[rebuy_views] = _FROM_ORDER_HISTORY
        source[first_view[has_search]] = _FROM_SEARCH
        quantity = self._quantities(view_item)
        shown_price = np.round(self.world.catalog.price[view_item] * self.price_factor[day], 2)

        searching = np.flatnonzero(has_search)
        queries = view_item[first_view[searching]] * QUERIES_PER_ITEM + rng.integers(
            0, QUERIES_PER_ITEM, len(searching)
        )
        self._add_events(
            _SEARCH,
            session_user[searching],
            timing.session_start_us[searching],
            session=session_ids[searching],
            query=queries,
        )
        self._add_events(
            _VIEW,
            view_user,
            timing.view_us,
            item=view_item,
            session=view_session_ids,
            price=shown_price,
            source=source,
        )
        self._add_events(
            _CART,
            view_user[carted],
            timing.cart_us[carted],
            item=view_item[carted],
            session=view_session_ids[carted],
            quantity=quantity[carted],
            price=shown_price[carted],
        )
        self._add_events(
            _REMOVE,
            view_user[removed],
            timing.session_end_us[view_session[removed]]
            + _seconds(rng.uniform(5.0, 60.0, int(removed.sum()))),
            item=view_item[removed],
            session=view_session_ids[removed],
            quantity=quantity[removed],
            price=shown_price[removed],
        )
        lines = np.flatnonzero(purchased)
        self._orders(
            day,
            line_session=view_session[lines],
            line_session_id=view_session_ids[lines],
            line_user=view_user[lines],
            line_item=view_item[lines],
            line_quantity=quantity[lines],
            line_price=shown_price[lines],
            line_affinity=view_affinity[lines],
            checkout_us=timing.checkout_us,
        )

    def _choose_viewed_items(
        self, day: int, session_user: IntArray, view_session: IntArray
    ) -> tuple[IntArray, FloatArray]:
        """Each view's item and the viewer's affinity for it.

        A session has a main subcategory drawn from the shopper's taste; each view stays in
        it with probability ``session_focus`` or draws a fresh one from taste.
        """
        config, rng = self.config, self.rng
        population = self.world.population
        n_sessions, n_views = len(session_user), len(view_session)
        main = sample_rows(population.taste_cumulative[session_user], rng.random(n_sessions))
        view_user = session_user[view_session]
        subcategory = main[view_session]
        wander = np.flatnonzero(rng.random(n_views) >= config.session_focus)
        subcategory[wander] = sample_rows(
            population.taste_cumulative[view_user[wander]], rng.random(len(wander))
        )
        return self.world.choose_viewed_items(
            view_user, subcategory, day, rng, self.price_factor[day]
        )

    def _funnel(
        self, view_session: IntArray, view_item: IntArray, view_affinity: FloatArray
    ) -> tuple[BoolArray, BoolArray, BoolArray]:
        """Which views lead to add-to-cart, purchase, and removal of an unbought item."""
        config, rng = self.config, self.rng
        n_views = len(view_item)
        carted = rng.random(n_views) < self.world.cart_probability(view_affinity)
        # An item viewed twice in a session is carted (and bought) at most once.
        pair = view_session * self.world.catalog.n_items + view_item
        first_of_pair = np.zeros(n_views, dtype=np.bool_)
        first_of_pair[np.unique(pair, return_index=True)[1]] = True
        carted &= first_of_pair
        purchased = carted & (rng.random(n_views) < self.world.purchase_probability(view_affinity))
        removed = carted & ~purchased & (rng.random(n_views) < config.remove_from_cart_probability)
        return carted, purchased, removed

    def _quantities(self, items: IntArray) -> FloatArray:
        """Units per cart line: consumables often come in twos and threes."""
        uniforms = self.rng.random(len(items))
        consumable = self.world.catalog.is_consumable[items]
        extra = np.where(consumable, (uniforms < 0.3).astype(np.float64) + (uniforms < 0.1), 0.0)
        extra += ~consumable & (uniforms < 0.04)
        quantity: FloatArray = 1.0 + extra
        return quantity

    def _session_timing(
        self,
        day: int,
        n_views: IntArray,
        has_search: BoolArray,
        first_view: IntArray,
        view_session: IntArray,
    ) -> _SessionTiming:
        """When each session starts (time of day from the hourly curve) and when each of its
        events happens; a session ends (checkout included) before midnight."""
        rng = self.rng
        n_sessions = len(n_views)
        dwell = np.clip(
            rng.lognormal(np.log(_VIEW_DWELL_MEDIAN_S), _VIEW_DWELL_SPREAD, len(view_session)),
            3.0,
            900.0,
        )
        search_dwell = np.where(
            has_search,
            np.clip(rng.lognormal(np.log(_SEARCH_DWELL_MEDIAN_S), 0.6, n_sessions), 2.0, 300.0),
            0.0,
        )
        elapsed = np.cumsum(dwell)
        elapsed_before = elapsed - dwell
        view_offset = elapsed_before - elapsed_before[first_view][view_session]
        browse_seconds = np.add.reduceat(dwell, first_view)
        duration = search_dwell + browse_seconds + _CHECKOUT_MAX_S
        hours = np.minimum(
            np.searchsorted(self.hour_cumulative, rng.random(n_sessions), side="right"), 23
        )
        start = hours * 3_600.0 + rng.uniform(0.0, 3_600.0, n_sessions)
        start = np.clip(start, 0.0, np.maximum(SECONDS_PER_DAY - 1.0 - duration, 0.0))
        session_start_us = self.start_us + day * MICROSECONDS_PER_DAY + _seconds(start)
        view_us = session_start_us[view_session] + _seconds(
            search_dwell[view_session] + view_offset
        )
        session_end_us = session_start_us + _seconds(search_dwell + browse_seconds)
        return _SessionTiming(
            session_start_us=session_start_us,
            view_us=view_us,
            cart_us=view_us + _seconds(_CART_AT_SHARE_OF_DWELL * dwell),
            session_end_us=session_end_us,
            checkout_us=session_end_us + _seconds(rng.uniform(60.0, _CHECKOUT_MAX_S, n_sessions)),
        )

    def _orders(
        self,
        day: int,
        *,
        line_session: IntArray,
        line_session_id: IntArray,
        line_user: IntArray,
        line_item: IntArray,
        line_quantity: FloatArray,
        line_price: FloatArray,
        line_affinity: FloatArray,
        checkout_us: IntArray,
    ) -> None:
        """One order per session with purchases: purchase events, order lines, and the
        returns, ratings and future re-buys that follow from them."""
        n_lines = len(line_user)
        if n_lines == 0:
            return
        config, rng = self.config, self.rng
        catalog, population = self.world.catalog, self.world.population
        ordering_sessions, first_line, line_order_rank = np.unique(
            line_session, return_index=True, return_inverse=True
        )
        line_order = self.n_orders + line_order_rank
        self.n_orders += len(ordering_sessions)
        line_no = np.arange(n_lines) - first_line[line_order_rank] + 1  # 1-based, as stored
        line_ts = checkout_us[line_session]
        self._add_events(
            _PURCHASE,
            line_user,
            line_ts,
            item=line_item,
            session=line_session_id,
            quantity=line_quantity,
            price=line_price,
            order=line_order,
        )

        # Returns and ratings come days later; those past the period or past the shopper's
        # churn day never happen.
        horizon_us = self.start_us + np.minimum(population.churn_day[line_user], config.days) * (
            MICROSECONDS_PER_DAY
        )
        tree = taxonomy()
        # Centred on the average purchase, so the categories' return rates are averages.
        relative_affinity = line_affinity - self.world.purchase_affinity_mean
        return_probability = np.clip(
            tree.top_return_rates[catalog.top_category[line_item]]
            * config.return_rate_scale
            * np.exp(-_RETURN_AFFINITY_SLOPE * relative_affinity),
            0.0,
            0.95,
        )
        return_us = self._days_later(line_ts, 1.0, _RETURN_DELAY_MEAN_DAYS)
        returned = (rng.random(n_lines) < return_probability) & (return_us < horizon_us)
        self._add_events(
            _RETURN,
            line_user[returned],
            return_us[returned],
            item=line_item[returned],
            quantity=line_quantity[returned],
            price=line_price[returned],
            order=line_order[returned],
        )
        rating_us = self._days_later(line_ts, 2.0, _RATING_DELAY_MEAN_DAYS)
        satisfied = np.clip(
            np.round(
                _RATING_BASE
                + _RATING_AFFINITY_SLOPE * relative_affinity
                + rng.normal(0.0, _RATING_NOISE, n_lines)
            ),
            1.0,
            5.0,
        )
        disappointed = 1.0 + (rng.random(n_lines) < 0.35)
        rating = np.where(returned, disappointed, satisfied)
        rated = (rng.random(n_lines) < config.rating_probability) & (rating_us < horizon_us)
        self._add_events(
            _RATING,
            line_user[rated],
            rating_us[rated],
            item=line_item[rated],
            value=rating[rated],
        )

        self.order_lines.append(
            n_lines,
            order=line_order,
            user=line_user,
            ts=line_ts,
            line_no=line_no,
            item=line_item,
            quantity=line_quantity,
            price=line_price,
            returned=returned,
        )
        self._schedule_rebuys(day, line_user, line_item)

    def _days_later(self, ts: IntArray, minimum_days: float, mean_extra_days: float) -> IntArray:
        """``ts`` plus ``minimum_days + Poisson(mean_extra_days)`` days and a random time."""
        n = len(ts)
        days = minimum_days + self.rng.poisson(mean_extra_days, n) + self.rng.random(n)
        later: IntArray = ts + _seconds(days * SECONDS_PER_DAY)
        return later

    # --- consumables -------------------------------------------------------------------------

    def _schedule_rebuys(self, day: int, users: IntArray, items: IntArray) -> None:
        """Each consumable bought today falls due again after the shopper's cycle for it."""
        catalog, population = self.world.catalog, self.world.population
        consumable = catalog.is_consumable[items]
        users, items = users[consumable], items[consumable]
        if len(users) == 0:
            return
        keys = users * catalog.n_items + items
        self.consumable_purchase_keys.append(keys)
        cycle = catalog.cycle_days[items] * population.cycle_factor[users]
        interval = cycle * self.rng.lognormal(0.0, self.config.cycle_noise, len(users))
        due = day + np.maximum(np.round(interval), 1.0).astype(np.int64)
        self.latest_due.update(zip(keys.tolist(), due.tolist(), strict=True))
        upcoming = due < self.config.days
        for due_day in np.unique(due[upcoming]).tolist():
            falls_due = due == due_day
            self.pending_rebuys.setdefault(due_day, []).append((users[falls_due], items[falls_due]))

    def _due_rebuys(self, day: int) -> tuple[IntArray, IntArray]:
        """Shoppers (alive today) re-buying a consumable that falls due today."""
        scheduled = self.pending_rebuys.pop(day, [])
        if not scheduled:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        users = np.concatenate([users for users, _ in scheduled])
        items = np.concatenate([items for _, items in scheduled])
        keys = users * self.world.catalog.n_items + items
        first = np.zeros(len(keys), dtype=np.bool_)
        first[np.unique(keys, return_index=True)[1]] = True
        current = np.fromiter(
            (self.latest_due[key] == day for key in keys.tolist()), dtype=np.bool_, count=len(keys)
        )
        alive = self.world.population.churn_day[users] > day
        wants = self.rng.random(len(keys)) < self.config.repurchase_probability
        due = first & current & alive & wants
        return users[due], items[due]

    # --- output ------------------------------------------------------------------------------

    def first_event_us(self, columns: dict[str, npt.NDArray[np.generic]]) -> IntArray:
        """Each shopper's first event time (microseconds), or ``int64`` max if none."""
        first = np.full(self.world.population.n_users, np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, columns["user"].astype(np.int64), columns["ts"].astype(np.int64))
        return first

    def event_table(self, columns: dict[str, npt.NDArray[np.generic]]) -> pa.Table:
        """The joined event ``columns`` as a table of
        :data:`~shopsense.data.tables.EVENT_SCHEMA`, ordered by time."""
        order = np.argsort(columns["ts"], kind="stable")
        sorted_columns = {name: values[order] for name, values in columns.items()}
        prefix = f"sim-{self.config.seed}-"
        catalog, population = self.world.catalog, self.world.population
        type_names = pa.array([str(event_type) for event_type in EVENT_TYPE_CODES])
        sources = pa.array([f'{{"source": "{source}"}}' for source in VIEW_SOURCES])
        arrays = {
            "event_id": _numbered(prefix, np.arange(len(order), dtype=np.int64)),
            "type": type_names.take(pa.array(sorted_columns["type"])),
            "user_id": pa.array(population.user_ids).take(pa.array(sorted_columns["user"])),
            "item_id": _lookup(catalog.item_ids, sorted_columns["item"]),
            "ts": pa.array(sorted_columns["ts"], type=TIMESTAMP),
            "session_id": _numbered(prefix + "s", sorted_columns["session"]),
            "quantity": _floats(sorted_columns["quantity"]),
            "price": _floats(sorted_columns["price"]),
            "value": _floats(sorted_columns["value"]),
            "order_id": _numbered(prefix + "o", sorted_columns["order"]),
            "rec_id": pa.nulls(len(order), type=pa.string()),
            "query": _lookup(catalog.queries, sorted_columns["query"]),
            "props": sources.take(_indices(sorted_columns["source"])),
        }
        return pa.Table.from_arrays(list(arrays.values()), schema=EVENT_SCHEMA)


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class _SessionTiming:
    """Microsecond timestamps of one day's sessions and views."""

    session_start_us: IntArray  # (n_sessions,)
    view_us: IntArray  # (n_views,)
    cart_us: IntArray  # (n_views,)
    session_end_us: IntArray  # (n_sessions,) after the last view
    checkout_us: IntArray  # (n_sessions,)


def _indices(values: npt.NDArray[np.generic]) -> pa.Int64Array:
    """Indices for ``take``; negative values become nulls."""
    integers = np.asarray(values, dtype=np.int64)
    indices: pa.Int64Array = pa.array(integers, type=pa.int64(), mask=integers < 0)
    return indices


def _lookup(labels: Sequence[str], indices: npt.NDArray[np.generic]) -> pa.Array[Any]:
    """``labels[index]`` per index, null where the index is negative."""
    looked_up: pa.Array[Any] = pa.array(labels, type=pa.string()).take(_indices(indices))
    return looked_up


def _numbered(prefix: str, numbers: npt.NDArray[np.generic]) -> pa.Array[Any]:
    """``prefix + str(number)`` per number, null where the number is negative."""
    as_text = _indices(numbers).cast(pa.string())
    prefixes = pa.repeat(pa.scalar(prefix, type=pa.string()), len(as_text))
    no_separator = pa.repeat(pa.scalar("", type=pa.string()), len(as_text))
    joined: pa.Array[Any] = pc.binary_join_element_wise(prefixes, as_text, no_separator)
    return joined


def _floats(values: npt.NDArray[np.generic]) -> pa.Array[Any]:
    floats = np.asarray(values, dtype=np.float64)
    nullable: pa.Array[Any] = pa.array(floats, mask=np.isnan(floats))
    return nullable


def simulate_shop(
    config: SimulationConfig, progress: ProgressCallback | None = None
) -> SimulatedShop:
    """Simulate the shop of ``config``: catalog, shoppers, events, orders and ground truth.

    Deterministic: the same config gives identical tables. ``progress(done, total)`` is
    called after each simulated day and once more when the tables are built.
    """
    world = build_world(config)
    simulation = _Simulation(world)
    total_steps = config.days + 1
    for day in range(config.days):
        simulation.simulate_day(day)
        if progress is not None:
            progress(day + 1, total_steps)
    event_columns = simulation.events.joined()
    shop = build_shop_tables(
        world,
        events=simulation.event_table(event_columns),
        order_lines=simulation.order_lines.joined(),
        consumable_purchase_keys=np.concatenate(
            [np.empty(0, dtype=np.int64), *simulation.consumable_purchase_keys]
        ),
        first_event_us=simulation.first_event_us(event_columns),
        activity_multiplier=simulation.activity_multiplier,
        price_factor=simulation.price_factor,
    )
    if progress is not None:
        progress(total_steps, total_steps)
    logger.info(
        "simulated %d events, %d orders, %d users, %d items over %d days",
        shop.events.num_rows,
        shop.n_orders,
        config.users,
        config.items,
        config.days,
    )
    return shop
