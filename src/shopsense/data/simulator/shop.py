"""What a simulation returns (:class:`SimulatedShop`, :class:`SimulationTruth`), how the
truth is saved, and how a simulated shop is written into a store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from shopsense.data.schemas import Event, Item, Order, OrderLine, OrderStatus, User
from shopsense.data.simulator.calendar import MICROSECONDS_PER_SECOND
from shopsense.data.simulator.catalog import FloatArray, IntArray, taxonomy
from shopsense.data.simulator.config import SimulationConfig
from shopsense.data.simulator.population import NO_CHURN
from shopsense.data.simulator.world import ShopWorld
from shopsense.data.tables import (
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    TIMESTAMP,
    USER_SCHEMA,
    order_line_batches,
)

if TYPE_CHECKING:
    from shopsense.store.base import AppendResult

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` while work proceeds (e.g. to drive a progress bar)."""

TRUTH_FILES: tuple[str, ...] = ("users", "items", "repurchase_cycles", "calendar")
"""The tables of :class:`SimulationTruth`, saved as ``<name>.parquet``."""

_TOP_TASTES_KEPT = 3


@dataclass(frozen=True, slots=True)
class SimulationTruth:
    """The hidden state behind the simulated data, kept to evaluate models against.

    - ``users``: per shopper ``user_id``, ``is_newcomer``, ``signup_day`` (offset from the
      start; negative for the base), ``signup_date``, ``churn_day`` (first day without
      activity; may lie beyond the period, null if the hazard is 0), ``churned`` (within
      the period), ``churn_hazard`` (per day), ``activity_rate`` (sessions per ordinary
      day), ``price_sensitivity``, ``brand_loyalty``, ``cycle_factor``,
      ``top_categories`` and ``top_subcategories`` (best three, best first),
      ``category_taste`` (one share per top category, in ``category_names`` order) and
      ``favourite_brands`` (one per top category).
    - ``items``: per item ``item_id``, ``top_category``, ``subcategory``, ``brand``,
      ``popularity`` (Zipf weight, sums to 1), ``quality``, ``consumable``,
      ``cycle_days`` (typical re-buy cycle, null for durable goods), ``created_day``.
    - ``repurchase_cycles``: per (shopper, consumable) pair bought at least once,
      ``cycle_days`` = item cycle x the shopper's ``cycle_factor`` (the median re-buy
      interval), and ``n_purchases``.
    - ``calendar``: per day ``day``, ``date``, ``activity_multiplier``, ``price_factor``.
    """

    category_names: tuple[str, ...]
    users: pa.Table
    items: pa.Table
    repurchase_cycles: pa.Table
    calendar: pa.Table

    def save(self, directory: Path) -> list[Path]:
        """Write the tables as ``<directory>/<name>.parquet``; returns the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        paths: list[Path] = []
        for name in TRUTH_FILES:
            table: pa.Table = getattr(self, name)
            if name == "users":
                metadata = {b"category_names": json.dumps(self.category_names).encode()}
                table = table.replace_schema_metadata(metadata)
            path = directory / f"{name}.parquet"
            pq.write_table(table, path)
            paths.append(path)
        return paths

    @classmethod
    def load(cls, directory: Path) -> SimulationTruth:
        """Read the tables that :meth:`save` wrote."""
        tables = {name: pq.read_table(directory / f"{name}.parquet") for name in TRUTH_FILES}
        metadata = tables["users"].schema.metadata or {}
        names = tuple(json.loads(metadata.get(b"category_names", b"[]")))
        tables["users"] = tables["users"].replace_schema_metadata(None)
        return cls(category_names=names, **tables)


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class SimulatedShop:
    """A simulated shop: its tables in the store's schemas, and the truth behind them.

    ``events`` matches :data:`~shopsense.data.tables.EVENT_SCHEMA` (ordered by ``ts``),
    ``items`` :data:`~shopsense.data.tables.ITEM_SCHEMA`, ``users``
    :data:`~shopsense.data.tables.USER_SCHEMA` and ``order_lines``
    :data:`~shopsense.data.tables.ORDER_LINE_SCHEMA` (one row per line; :meth:`orders`
    gives them as :class:`~shopsense.data.schemas.Order` records). ``world`` holds the
    hidden arrays the :class:`~shopsense.data.simulator.response.ResponseModel` needs.
    """

    config: SimulationConfig
    world: ShopWorld
    events: pa.Table
    items: pa.Table
    users: pa.Table
    order_lines: pa.Table
    truth: SimulationTruth

    @property
    def n_orders(self) -> int:
        """How many orders there are."""
        return len(self.order_lines.column("order_id").unique())

    def orders(self) -> Iterator[Order]:
        """The orders as validated :class:`~shopsense.data.schemas.Order` records."""
        return _orders_from_lines(self.order_lines)

    def sample_events(self, n: int, seed: int = 0) -> list[Event]:
        """``n`` events drawn at random, as validated :class:`Event` records."""
        rows = np.random.default_rng(seed).choice(self.events.num_rows, size=n, replace=False)
        return [_event_from_row(row) for row in self.events.take(np.sort(rows)).to_pylist()]

    def item_records(self) -> list[Item]:
        """The catalog as validated :class:`Item` records."""
        return [
            Item.model_validate({**row, "attributes": json.loads(row["attributes"] or "{}")})
            for row in self.items.to_pylist()
        ]

    def user_records(self) -> list[User]:
        """The shoppers as validated :class:`User` records."""
        return [
            User.model_validate({**row, "attributes": json.loads(row["attributes"] or "{}")})
            for row in self.users.to_pylist()
        ]


def _event_from_row(row: dict[str, object]) -> Event:
    props = row.pop("props")
    return Event.model_validate({**row, "props": json.loads(str(props)) if props else {}})


def _orders_from_lines(lines: pa.Table) -> Iterator[Order]:
    """Group consecutive rows of one ``order_id`` into :class:`Order` records."""
    columns = lines.to_pydict()
    n_rows = lines.num_rows
    start = 0
    while start < n_rows:
        order_id = columns["order_id"][start]
        end = start + 1
        while end < n_rows and columns["order_id"][end] == order_id:
            end += 1
        yield Order(
            order_id=order_id,
            user_id=columns["user_id"][start],
            ts=columns["ts"][start],
            status=OrderStatus(columns["status"][start]),
            currency=columns["currency"][start],
            lines=[
                OrderLine(
                    item_id=columns["item_id"][row],
                    quantity=columns["quantity"][row],
                    price=columns["price"][row],
                )
                for row in range(start, end)
            ],
        )
        start = end


def _list_column(values: list[str] | FloatArray, width: int) -> pa.Array[Any]:
    """A list column whose rows each hold ``width`` consecutive ``values``."""
    offsets = np.arange(0, len(values) + 1, width, dtype=np.int32).tolist()
    flat: pa.Array[Any] = pa.array(values)
    lists: pa.Array[Any] = pa.ListArray.from_arrays(offsets, flat)
    return lists


def _nullable(values: npt.NDArray[np.generic], missing: npt.NDArray[np.bool_]) -> pa.Array[Any]:
    nullable: pa.Array[Any] = pa.array(values, mask=missing)
    return nullable


def build_shop_tables(
    world: ShopWorld,
    *,
    events: pa.Table,
    order_lines: dict[str, npt.NDArray[np.generic]],
    consumable_purchase_keys: IntArray,
    first_event_us: IntArray,
    activity_multiplier: FloatArray,
    price_factor: FloatArray,
) -> SimulatedShop:
    """Turn the generator's arrays into the store's tables and the truth tables."""
    config, catalog, population = world.config, world.catalog, world.population
    tree = taxonomy()
    item_ids = pa.array(catalog.item_ids, type=pa.string())
    user_ids = pa.array(population.user_ids, type=pa.string())

    items = pa.Table.from_arrays(
        [
            item_ids,
            pa.array(catalog.titles, type=pa.string()),
            pa.array(catalog.descriptions, type=pa.string()),
            _list_column(
                [
                    name
                    for top, sub in zip(catalog.top_category, catalog.subcategory, strict=True)
                    for name in (tree.top_names[top], tree.subcategory_names[sub])
                ],
                2,
            ),
            pa.array([tree.brand_names[b] for b in catalog.brand], type=pa.string()),
            pa.array(catalog.price),
            pa.array(np.full(catalog.n_items, config.currency)),
            pa.array(np.ones(catalog.n_items, dtype=np.bool_)),
            pa.array(np.ones(catalog.n_items, dtype=np.bool_)),
            pa.array(catalog.created_us, type=TIMESTAMP),
            pa.array([json.dumps({"size": size}) for size in catalog.sizes], type=pa.string()),
        ],
        schema=ITEM_SCHEMA,
    )

    # A newcomer's account exists before their first event (they sign up during it).
    signup_us = np.where(
        population.is_newcomer,
        np.minimum(population.signup_us, first_event_us - MICROSECONDS_PER_SECOND),
        population.signup_us,
    )
    users = pa.Table.from_arrays(
        [
            user_ids,
            pa.array(signup_us, type=TIMESTAMP),
            pa.array(population.attributes_json, type=pa.string()),
        ],
        schema=USER_SCHEMA,
    )

    order_table = _order_line_table(world, order_lines)
    truth = _truth(
        world,
        consumable_purchase_keys=consumable_purchase_keys,
        activity_multiplier=activity_multiplier,
        price_factor=price_factor,
        item_ids=item_ids,
        user_ids=user_ids,
    )
    return SimulatedShop(
        config=config,
        world=world,
        events=events,
        items=items,
        users=users,
        order_lines=order_table,
        truth=truth,
    )


def _order_line_table(world: ShopWorld, lines: dict[str, npt.NDArray[np.generic]]) -> pa.Table:
    """Order lines by time, with status ``returned`` where every line came back."""
    config = world.config
    order = np.asarray(lines["order"], dtype=np.int64)
    users = np.asarray(lines["user"], dtype=np.int64)
    items = np.asarray(lines["item"], dtype=np.int64)
    n_orders = int(order.max()) + 1 if len(order) else 0
    line_counts = np.bincount(order, minlength=n_orders)
    returned_counts = np.bincount(order, weights=lines["returned"], minlength=n_orders)
    fully_returned = returned_counts[order] == line_counts[order]
    status = np.where(fully_returned, str(OrderStatus.RETURNED), str(OrderStatus.COMPLETED))
    by_time = np.lexsort((lines["line_no"], order, lines["ts"]))
    prefix = f"sim-{config.seed}-o"
    return pa.Table.from_arrays(
        [
            pa.array([f"{prefix}{number}" for number in order[by_time]], type=pa.string()),
            pa.array(world.population.user_ids, type=pa.string()).take(users[by_time]),
            pa.array(lines["ts"][by_time], type=TIMESTAMP),
            pa.array(status[by_time], type=pa.string()),
            pa.array(np.full(len(order), config.currency), type=pa.string()),
            pa.array(lines["line_no"][by_time].astype(np.int32)),
            pa.array(world.catalog.item_ids, type=pa.string()).take(items[by_time]),
            pa.array(lines["quantity"][by_time].astype(np.float64)),
            pa.array(lines["price"][by_time].astype(np.float64)),
        ],
        schema=ORDER_LINE_SCHEMA,
    )


def _truth(
    world: ShopWorld,
    *,
    consumable_purchase_keys: IntArray,
    activity_multiplier: FloatArray,
    price_factor: FloatArray,
    item_ids: pa.Array[Any],
    user_ids: pa.Array[Any],
) -> SimulationTruth:
    config, catalog, population = world.config, world.catalog, world.population
    tree = taxonomy()
    best_categories = np.argsort(-population.category_taste, axis=1)[:, :_TOP_TASTES_KEPT]
    best_subcategories = np.argsort(-population.subcategory_taste, axis=1)[:, :_TOP_TASTES_KEPT]
    never_churns = population.churn_day >= NO_CHURN
    users = pa.table(
        {
            "user_id": user_ids,
            "is_newcomer": pa.array(population.is_newcomer),
            "signup_day": pa.array(population.signup_day.astype(np.int32)),
            "signup_date": pa.array(
                [config.start + timedelta(days=int(day)) for day in population.signup_day],
                type=pa.date32(),
            ),
            "churn_day": _nullable(
                np.where(never_churns, 0, population.churn_day).astype(np.int32), never_churns
            ),
            "churned": pa.array(population.churn_day < config.days),
            "churn_hazard": pa.array(population.churn_hazard),
            "activity_rate": pa.array(population.activity_rate),
            "price_sensitivity": pa.array(population.price_sensitivity),
            "brand_loyalty": pa.array(population.brand_loyalty),
            "cycle_factor": pa.array(population.cycle_factor),
            "top_categories": _list_column(
                [tree.top_names[c] for c in best_categories.ravel()], _TOP_TASTES_KEPT
            ),
            "top_subcategories": _list_column(
                [tree.subcategory_names[s] for s in best_subcategories.ravel()],
                _TOP_TASTES_KEPT,
            ),
            "category_taste": _list_column(population.category_taste.ravel(), tree.n_top),
            "favourite_brands": _list_column(
                [tree.brand_names[b] for b in population.favourite_brand.ravel()], tree.n_top
            ),
        }
    )
    consumable = catalog.is_consumable
    items = pa.table(
        {
            "item_id": item_ids,
            "top_category": pa.array([tree.top_names[c] for c in catalog.top_category]),
            "subcategory": pa.array([tree.subcategory_names[s] for s in catalog.subcategory]),
            "brand": pa.array([tree.brand_names[b] for b in catalog.brand]),
            "popularity": pa.array(catalog.popularity),
            "quality": pa.array(catalog.quality),
            "consumable": pa.array(consumable),
            "cycle_days": _nullable(np.nan_to_num(catalog.cycle_days), ~consumable),
            "created_day": pa.array(catalog.created_day.astype(np.int32)),
        }
    )
    pair_keys, pair_purchases = np.unique(consumable_purchase_keys, return_counts=True)
    pair_users, pair_items = np.divmod(pair_keys, catalog.n_items)
    repurchase_cycles = pa.table(
        {
            "user_id": user_ids.take(pair_users),
            "item_id": item_ids.take(pair_items),
            "cycle_days": pa.array(
                catalog.cycle_days[pair_items] * population.cycle_factor[pair_users]
            ),
            "n_purchases": pa.array(pair_purchases.astype(np.int32)),
        }
    )
    calendar = pa.table(
        {
            "day": pa.array(np.arange(config.days, dtype=np.int32)),
            "date": pa.array(
                [config.start + timedelta(days=day) for day in range(config.days)],
                type=pa.date32(),
            ),
            "activity_multiplier": pa.array(activity_multiplier),
            "price_factor": pa.array(price_factor),
        }
    )
    return SimulationTruth(
        category_names=tree.top_names,
        users=users,
        items=items,
        repurchase_cycles=repurchase_cycles,
        calendar=calendar,
    )


class ShopSink(Protocol):
    """What :func:`write_to_store` needs of a store (every backend's ``Store`` has it)."""

    def append_events(self, events: Iterable[Event] | pa.Table) -> AppendResult: ...

    def upsert_items(self, items: Iterable[Item] | pa.Table) -> int: ...

    def upsert_users(self, users: Iterable[User] | pa.Table) -> int: ...

    def upsert_orders(self, orders: Iterable[Order] | pa.Table) -> int: ...


@dataclass(frozen=True, slots=True)
class StoreWriteReport:
    """What :func:`write_to_store` wrote."""

    items: int
    users: int
    orders: int
    events_received: int
    events_inserted: int


def write_to_store(
    shop: SimulatedShop,
    store: ShopSink,
    *,
    batch_size: int = 50_000,
    progress: ProgressCallback | None = None,
) -> StoreWriteReport:
    """Upsert the shop's items, users and orders and append its events into ``store``.

    Events go in batches of ``batch_size``, each batch atomic; writing the same shop again
    changes nothing (event ids are deterministic, the rest are upserts).
    ``progress(done, total)`` counts rows (items + users + events + orders).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    n_orders = shop.n_orders
    total = shop.items.num_rows + shop.users.num_rows + shop.events.num_rows + n_orders
    done = 0

    def advance(rows: int) -> None:
        nonlocal done
        done += rows
        if progress is not None:
            progress(done, total)

    items = store.upsert_items(shop.items)
    advance(shop.items.num_rows)
    users = store.upsert_users(shop.users)
    advance(shop.users.num_rows)
    received = inserted = 0
    for offset in range(0, shop.events.num_rows, batch_size):
        result = store.append_events(shop.events.slice(offset, batch_size))
        received += result.received
        inserted += result.inserted
        advance(result.received)
    orders = 0
    for batch in order_line_batches(shop.order_lines, batch_size):
        written = store.upsert_orders(batch)
        orders += written
        advance(written)
    return StoreWriteReport(
        items=items,
        users=users,
        orders=orders,
        events_received=received,
        events_inserted=inserted,
    )
