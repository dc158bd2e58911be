"""The data model as Apache Arrow tables: fixed schemas and builders from the records.

Bulk paths (importers, the simulator, the store, training and analytics) move columns,
not Python objects; these schemas are the contract between them. JSON object fields
(``props``, ``attributes``) travel as compact JSON text, NULL when empty.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
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
        self._named_columns = tuple(zip(EVENT_SCHEMA.names, self._columns, strict=True))

    def __len__(self) -> int:
        return len(self._columns[0])

    def append(self, event: Event) -> None:
        # Read the validated values straight from the model's __dict__: on the import hot
        # path this is three times faster than getattr over the schema's names.
        values = event.__dict__
        for name, column in self._named_columns:
            column.append(values[name])
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


def order_line_batches(lines: pa.Table, max_lines: int) -> Iterator[pa.Table]:
    """Consecutive slices of the :data:`ORDER_LINE_SCHEMA` table ``lines`` that never split
    an order: each slice ends on the first order boundary at or after ``max_lines`` lines
    (or at the end). An order's lines must be adjacent in ``lines``."""
    if max_lines < 1:
        raise ValueError(f"max_lines must be at least 1, not {max_lines}")
    if lines.num_rows == 0:
        return
    order_ids = lines.column("order_id").to_numpy(zero_copy_only=False)
    order_ends = np.append(np.flatnonzero(order_ids[1:] != order_ids[:-1]) + 1, lines.num_rows)
    begin = 0
    while begin < lines.num_rows:
        position = min(int(np.searchsorted(order_ends, begin + max_lines)), len(order_ends) - 1)
        end = int(order_ends[position])
        yield lines.slice(begin, end - begin)
        begin = end
