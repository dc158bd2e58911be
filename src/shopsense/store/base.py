"""The store's narrow Protocols: events, catalog, customers/orders and the model registry.

A backend implements all four and :class:`Store` (their union plus erasure and
lifecycle); :func:`shopsense.store.open_store` picks the backend from the URL scheme
(``duckdb://path``; PostgreSQL comes later). Every backend must pass the contract
suite in ``tests/store/contract.py``.

Bulk paths take and return Apache Arrow tables whose columns are fixed here
(:data:`EVENT_SCHEMA` and friends), so that importers, the simulator, training and
analytics move columns, not Python objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from shopsense.data.schemas import Event, Item, Order, User

TIMESTAMP = pa.timestamp("us", tz="UTC")


def _fields(*fields: pa.Field[Any]) -> list[pa.Field[Any]]:
    return list(fields)


EVENT_SCHEMA = pa.schema(
    _fields(
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string()),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("session_id", pa.string()),
        pa.field("quantity", pa.float64()),
        pa.field("price", pa.float64()),
        pa.field("value", pa.float64()),
        pa.field("order_id", pa.string()),
        pa.field("rec_id", pa.string()),
        pa.field("query", pa.string()),
        pa.field("props", pa.string()),  # JSON object text, NULL when empty
    )
)
"""Columns of an event table, in :class:`~shopsense.data.schemas.Event` order."""

INTERACTION_COLUMNS: tuple[str, ...] = (
    "user_id",
    "item_id",
    "ts",
    "type",
    "quantity",
    "price",
    "value",
)
"""Columns of :meth:`EventStore.interactions`: the slim view training and analytics read."""

ITEM_SCHEMA = pa.schema(
    _fields(
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("description", pa.string()),
        pa.field("category", pa.list_(pa.string())),
        pa.field("brand", pa.string()),
        pa.field("price", pa.float64()),
        pa.field("currency", pa.string()),
        pa.field("in_stock", pa.bool_(), nullable=False),
        pa.field("active", pa.bool_(), nullable=False),
        pa.field("created_at", TIMESTAMP),
        pa.field("attributes", pa.string()),  # JSON object text
    )
)

USER_SCHEMA = pa.schema(
    _fields(
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("created_at", TIMESTAMP),
        pa.field("attributes", pa.string()),  # JSON object text
    )
)

ORDER_LINE_SCHEMA = pa.schema(
    _fields(
        pa.field("order_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("currency", pa.string()),
        pa.field("line_no", pa.int32(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("quantity", pa.float64(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
    )
)
"""Orders flattened to one row per line (order columns repeated on each line)."""


def json_text(value: dict[str, Any]) -> str | None:
    """A JSON object column value: compact text, or NULL for an empty object."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) if value else None


class EventTableBuilder:
    """Validated events gathered column by column, then one :data:`EVENT_SCHEMA` table.

    Holding tens of thousands of event *models* until a batch is full makes Python's
    cyclic garbage collector walk them again and again (it doubled the import time of
    Online Retail); plain strings, floats and datetimes are not tracked by it.
    """

    def __init__(self) -> None:
        self._columns: tuple[list[Any], ...] = tuple([] for _ in EVENT_SCHEMA.names)
        self._props = self._columns[EVENT_SCHEMA.names.index("props")]

    def __len__(self) -> int:
        return len(self._columns[0])

    def append(self, event: Event) -> None:
        for name, column in zip(EVENT_SCHEMA.names, self._columns, strict=True):
            column.append(getattr(event, name))
        self._props[-1] = json_text(self._props[-1])

    def to_table(self) -> pa.Table:
        return pa.table(
            dict(zip(EVENT_SCHEMA.names, self._columns, strict=True)), schema=EVENT_SCHEMA
        )


def events_to_table(events: Iterable[Event]) -> pa.Table:
    """Validated events as an :data:`EVENT_SCHEMA` table."""
    builder = EventTableBuilder()
    for event in events:
        builder.append(event)
    return builder.to_table()


def items_to_table(items: Iterable[Item]) -> pa.Table:
    """Validated items as an :data:`ITEM_SCHEMA` table."""
    columns: dict[str, list[Any]] = {name: [] for name in ITEM_SCHEMA.names}
    for item in items:
        for name in ITEM_SCHEMA.names:
            value = getattr(item, name)
            columns[name].append(json_text(value) if name == "attributes" else value)
    return pa.table(columns, schema=ITEM_SCHEMA)


def users_to_table(users: Iterable[User]) -> pa.Table:
    """Validated users as a :data:`USER_SCHEMA` table."""
    columns: dict[str, list[Any]] = {name: [] for name in USER_SCHEMA.names}
    for user in users:
        columns["user_id"].append(user.user_id)
        columns["created_at"].append(user.created_at)
        columns["attributes"].append(json_text(user.attributes))
    return pa.table(columns, schema=USER_SCHEMA)


def orders_to_table(orders: Iterable[Order]) -> pa.Table:
    """Validated orders flattened to :data:`ORDER_LINE_SCHEMA` (lines numbered from 1)."""
    columns: dict[str, list[Any]] = {name: [] for name in ORDER_LINE_SCHEMA.names}
    for order in orders:
        for line_no, line in enumerate(order.lines, start=1):
            columns["order_id"].append(order.order_id)
            columns["user_id"].append(order.user_id)
            columns["ts"].append(order.ts)
            columns["status"].append(order.status.value)
            columns["currency"].append(order.currency)
            columns["line_no"].append(line_no)
            columns["item_id"].append(line.item_id)
            columns["quantity"].append(line.quantity)
            columns["price"].append(line.price)
    return pa.table(columns, schema=ORDER_LINE_SCHEMA)


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one :meth:`EventStore.append_events` call did."""

    received: int
    inserted: int

    @property
    def duplicates(self) -> int:
        """Events not stored because an event with the same ``event_id`` already was."""
        return self.received - self.inserted


@dataclass(frozen=True, slots=True)
class EventSummary:
    """Counts over all stored events (what ``shopsense stats`` prints)."""

    n_events: int
    n_users: int
    n_items: int
    first_ts: datetime | None
    last_ts: datetime | None
    by_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """Rows deleted per table when a user was erased."""

    user_id: str
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered model version: where its artifact lives and how good it was."""

    name: str
    version: int
    created_at: datetime
    artifact_uri: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    data_fingerprint: str
    serving: bool


@runtime_checkable
class EventStore(Protocol):
    """Append-only behaviour events, de-duplicated by ``event_id``."""

    def append_events(self, events: Iterable[Event] | pa.Table) -> AppendResult:
        """Store a batch atomically (all or nothing); events whose ``event_id`` is already
        stored, or repeated within the batch, are skipped. A table must match
        :data:`EVENT_SCHEMA`'s columns."""
        ...

    def read_events(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
        user_id: str | None = None,
    ) -> pa.Table:
        """Events with ``start <= ts < end`` (either bound optional), ordered by ts."""
        ...

    def interactions(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
    ) -> pa.Table:
        """The :data:`INTERACTION_COLUMNS` of item events in the window, ordered by ts."""
        ...

    def count_events(self) -> int: ...

    def event_summary(self) -> EventSummary: ...

    def top_items(
        self, n: int = 10, *, types: Sequence[str] | None = None
    ) -> list[tuple[str, int]]:
        """The ``n`` items with most events (of ``types``), most first, ties by id."""
        ...


@runtime_checkable
class CatalogStore(Protocol):
    """The product catalog."""

    def upsert_items(self, items: Iterable[Item] | pa.Table) -> int:
        """Insert or replace items by ``item_id``; returns how many rows were written."""
        ...

    def get_item(self, item_id: str) -> Item:
        """The item, or :class:`~shopsense.core.errors.NotFoundError`."""
        ...

    def read_items(self) -> pa.Table:
        """All items as a table of :data:`ITEM_SCHEMA`."""
        ...

    def delete_item(self, item_id: str) -> bool: ...

    def count_items(self) -> int: ...


@runtime_checkable
class CustomerStore(Protocol):
    """Customers and their orders."""

    def upsert_users(self, users: Iterable[User] | pa.Table) -> int: ...

    def get_user(self, user_id: str) -> User: ...

    def read_users(self) -> pa.Table: ...

    def count_users(self) -> int: ...

    def upsert_orders(self, orders: Iterable[Order] | pa.Table) -> int:
        """Insert or replace whole orders (an order's lines are replaced together);
        returns how many orders were written. A table is :data:`ORDER_LINE_SCHEMA`, one
        row per line, the order's columns equal on all its lines; when an order appears
        twice in a batch, the last one wins."""
        ...

    def get_order(self, order_id: str) -> Order: ...

    def read_order_lines(
        self, *, start: datetime | None = None, end: datetime | None = None
    ) -> pa.Table:
        """Order lines in the window as :data:`ORDER_LINE_SCHEMA`, ordered by ts."""
        ...

    def count_orders(self) -> int: ...


@runtime_checkable
class ModelRegistry(Protocol):
    """Versioned model artifacts with their manifest data and metrics."""

    def register_model(
        self,
        name: str,
        *,
        artifact_uri: str,
        params: dict[str, Any],
        metrics: dict[str, Any],
        data_fingerprint: str,
    ) -> ModelVersion:
        """Record a new version (1, 2, ...) of ``name``; it is not serving until promoted."""
        ...

    def list_models(self, name: str | None = None) -> list[ModelVersion]: ...

    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        """A version, or the serving one (else the newest) when ``version`` is None."""
        ...

    def promote_model(self, name: str, version: int) -> ModelVersion:
        """Make ``version`` the one serving ``name`` (atomically replacing the previous)."""
        ...


@runtime_checkable
class Store(EventStore, CatalogStore, CustomerStore, ModelRegistry, Protocol):
    """A whole backend: the four narrow stores plus what spans them."""

    url: str

    def erase_user(self, user_id: str) -> ErasureReport:
        """Delete every row about ``user_id`` (events, profile, orders) in one transaction."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc_info: object) -> None: ...
