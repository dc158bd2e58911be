"""UCI Online Retail (Chen, Sain & Guo 2012): one CSV line per invoice line.

Columns ``InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,
Country`` (Online Retail II's ``Invoice``, ``Price`` and ``Customer ID`` are accepted
too), gzip or plain. The rules, also in ``docs/importers.md``:

- a line of a sales invoice is a ``purchase`` event; a line of an invoice whose number
  starts with ``C`` (a cancellation) is a ``return`` event with ``quantity = -Quantity``;
- ``InvoiceDate`` is a naive local time, read in ``options.timezone`` (default UTC);
- event id ``online-retail:<InvoiceNo>:<line number>``, so re-importing adds nothing and
  the file's exact duplicate lines stay distinct events (they are distinct invoice lines);
- a line without CustomerID is a guest purchase of user ``guest-<InvoiceNo>`` with props
  ``{"guest": true}`` (``anonymous="guest"``) or is skipped and counted
  (``anonymous="skip"``);
- rejected: a non-positive quantity on a sales invoice, a non-negative one on a
  cancellation, a negative price, an unreadable date, a missing stock code or invoice;
- catalog: one item per stock code (trimmed, upper-case) seen on a valid line, title
  the most frequent non-empty description (ties: the latest), price the latest unit
  price above 0, currency GBP, ``created_at`` first seen;
- users: one per CustomerID, ``created_at`` the first invoice, attributes
  ``{"country": <the latest invoice's country>}``;
- orders: one per invoice with its accepted lines, ``completed`` for sales and
  ``cancelled`` for C invoices.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import pyarrow as pa

from shopsense.core.errors import ImportDataError
from shopsense.data.importers._base import ImportOptions, RecordSink, integer_id
from shopsense.data.importers._text import (
    csv_splitter,
    parse_records,
    read_header,
    read_lines,
)
from shopsense.data.schemas import Event, Item, OrderStatus, User
from shopsense.data.tables import ORDER_LINE_SCHEMA

CURRENCY = "GBP"

COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    "InvoiceNo": ("InvoiceNo", "Invoice"),
    "StockCode": ("StockCode",),
    "Description": ("Description",),
    "Quantity": ("Quantity",),
    "InvoiceDate": ("InvoiceDate",),
    "UnitPrice": ("UnitPrice", "Price"),
    "CustomerID": ("CustomerID", "Customer ID"),
    "Country": ("Country",),
}
"""The columns the importer reads, with the names they go by in the file's versions."""

SOURCE_COLUMNS = {
    "event_id": "InvoiceNo",
    "order_id": "InvoiceNo",
    "item_id": "StockCode",
    "quantity": "Quantity",
    "ts": "InvoiceDate",
    "price": "UnitPrice",
    "user_id": "CustomerID",
}
"""Which column each event field comes from, to name it in rejection reasons."""

_DATE_FORMATS = ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")  # the spreadsheet's US export


def local_time_parser(zone: tzinfo) -> Callable[[str], datetime | None]:
    """A parser of ISO 8601 (``2010-12-01 08:26:00``) or ``12/1/2010 8:26`` times: naive
    ones are read in ``zone``; the result is UTC, or None when the text is no time.
    Results are cached: files repeat the same time on many lines."""
    cache: dict[str, datetime | None] = {}

    def parse(text: str) -> datetime | None:
        try:
            return cache[text]
        except KeyError:
            pass
        value: datetime | None = None
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            for date_format in _DATE_FORMATS:
                try:
                    value = datetime.strptime(text, date_format)
                    break
                except ValueError:
                    continue
        if value is not None:
            if value.tzinfo is None:
                value = value.replace(tzinfo=zone)
            value = value.astimezone(UTC)
        cache[text] = value
        return value

    return parse


@dataclass(slots=True)
class _ItemDraft:
    first_seen: datetime
    descriptions: dict[str, list[Any]] = field(default_factory=dict)  # text -> [n, latest]
    price: float | None = None
    price_seen: tuple[datetime, int] | None = None

    def add(self, description: str, price: float, seen: tuple[datetime, int]) -> None:
        self.first_seen = min(self.first_seen, seen[0])
        if description:
            counted = self.descriptions.get(description)
            if counted is None:
                self.descriptions[description] = [1, seen]
            else:
                counted[0] += 1
                counted[1] = max(counted[1], seen)
        if price > 0 and (self.price_seen is None or seen >= self.price_seen):
            self.price, self.price_seen = price, seen

    def title(self) -> str | None:
        if not self.descriptions:
            return None
        return max(self.descriptions.items(), key=lambda entry: (entry[1][0], entry[1][1]))[0]


@dataclass(slots=True)
class _CustomerDraft:
    first_invoice: datetime
    country: str
    country_seen: tuple[datetime, int]


@dataclass(slots=True)
class _InvoiceDraft:
    user_id: str
    ts: datetime
    status: OrderStatus
    lines: list[dict[str, Any]] = field(default_factory=list)


class OnlineRetailImporter:
    """UCI Online Retail invoice lines -> purchase/return events, catalog, customers, orders."""

    name = "online-retail"
    summary = "UCI Online Retail CSV (gz or plain): invoice lines, catalog, customers, orders"

    def read(self, path: Path, options: ImportOptions, sink: RecordSink) -> None:
        split = csv_splitter(",")
        lines = read_lines(path, encoding=options.encoding, sink=sink)
        header = read_header(lines, split, path)
        position = _column_positions(header, path)
        i_invoice, i_code, i_description = (
            position["InvoiceNo"],
            position["StockCode"],
            position["Description"],
        )
        i_quantity, i_date, i_price = (
            position["Quantity"],
            position["InvoiceDate"],
            position["UnitPrice"],
        )
        i_customer, i_country = position["CustomerID"], position["Country"]
        parse_time = local_time_parser(options.zone_or_utc())
        skip_guests = options.anonymous == "skip"
        aggregates = _Aggregates()

        for record in parse_records(lines, split, sink, n_fields=len(header)):
            fields = record.fields
            invoice = fields[i_invoice].strip()
            cancelled = invoice[:1] in ("C", "c")
            try:
                quantity = float(fields[i_quantity])
            except ValueError:
                quantity = math.nan
            if not math.isfinite(quantity):
                sink.reject(record.line, "Quantity: not a number", record.text)
                continue
            if cancelled:
                if quantity >= 0:
                    sink.reject(
                        record.line,
                        "Quantity: must be negative on a cancellation (C) invoice",
                        record.text,
                    )
                    continue
                quantity = -quantity
            elif quantity <= 0:
                sink.reject(
                    record.line, "Quantity: must be positive on a sales invoice", record.text
                )
                continue
            ts = parse_time(fields[i_date].strip())
            if ts is None:
                sink.reject(
                    record.line,
                    "InvoiceDate: not a date and time like 2010-12-01 08:26:00",
                    record.text,
                )
                continue
            customer = integer_id(fields[i_customer])
            event = sink.validate(
                Event,
                {
                    "event_id": f"online-retail:{invoice}:{record.line}",
                    "type": "return" if cancelled else "purchase",
                    "user_id": customer or f"guest-{invoice}",
                    "item_id": fields[i_code].strip().upper(),
                    "ts": ts,
                    "quantity": quantity,
                    "price": fields[i_price],
                    "order_id": invoice,
                    "props": {} if customer else {"guest": True},
                },
                line=record.line,
                raw=record.text,
                columns=SOURCE_COLUMNS,
            )
            if event is None:
                continue
            aggregates.add_to_catalog(event, fields[i_description].strip(), record.line)
            if not customer and skip_guests:
                sink.skip("no CustomerID (anonymous='skip')")
                continue
            sink.event(event)
            aggregates.add_to_customer_and_order(
                event, customer, fields[i_country].strip(), record.line
            )
        aggregates.emit(sink)


class _Aggregates:
    """What needs the whole file: the catalog, the customers and the orders."""

    def __init__(self) -> None:
        self.items: dict[str, _ItemDraft] = {}
        self.customers: dict[str, _CustomerDraft] = {}
        self.invoices: dict[str, _InvoiceDraft] = {}

    def add_to_catalog(self, event: Event, description: str, line: int) -> None:
        item_id = event.item_id or ""
        draft = self.items.get(item_id)
        if draft is None:
            draft = self.items[item_id] = _ItemDraft(first_seen=event.ts)
        draft.add(description, event.price or 0.0, (event.ts, line))

    def add_to_customer_and_order(
        self, event: Event, customer: str, country: str, line: int
    ) -> None:
        seen = (event.ts, line)
        if customer:
            found = self.customers.get(customer)
            if found is None:
                self.customers[customer] = _CustomerDraft(
                    first_invoice=event.ts, country=country, country_seen=seen
                )
            else:
                found.first_invoice = min(found.first_invoice, event.ts)
                if country and seen >= found.country_seen:
                    found.country, found.country_seen = country, seen
        invoice = event.order_id or ""
        order = self.invoices.get(invoice)
        if order is None:
            order = self.invoices[invoice] = _InvoiceDraft(
                user_id=event.user_id,
                ts=event.ts,
                status=OrderStatus.CANCELLED if event.type == "return" else OrderStatus.COMPLETED,
            )
        order.ts = min(order.ts, event.ts)
        order.lines.append(
            {"item_id": event.item_id, "quantity": event.quantity, "price": event.price}
        )

    def emit(self, sink: RecordSink) -> None:
        for item_id in sorted(self.items):
            draft = self.items[item_id]
            sink.item(
                Item(
                    item_id=item_id,
                    title=draft.title(),
                    price=draft.price,
                    currency=CURRENCY,
                    created_at=draft.first_seen,
                )
            )
        for customer_id in sorted(self.customers):
            found = self.customers[customer_id]
            sink.user(
                User(
                    user_id=customer_id,
                    created_at=found.first_invoice,
                    attributes={"country": found.country} if found.country else {},
                )
            )
        # Every line of an order is an event the sink has validated (quantity > 0,
        # price >= 0), so the orders go as one table; the store checks it again.
        columns: dict[str, list[Any]] = {name: [] for name in ORDER_LINE_SCHEMA.names}
        for invoice, draft_order in self.invoices.items():
            for line_no, line in enumerate(draft_order.lines, start=1):
                columns["order_id"].append(invoice)
                columns["user_id"].append(draft_order.user_id)
                columns["ts"].append(draft_order.ts)
                columns["status"].append(draft_order.status.value)
                columns["currency"].append(CURRENCY)
                columns["line_no"].append(line_no)
                columns["item_id"].append(line["item_id"])
                columns["quantity"].append(line["quantity"])
                columns["price"].append(line["price"])
        sink.order_lines(pa.table(columns, schema=ORDER_LINE_SCHEMA))


def _column_positions(header: list[str], path: Path) -> dict[str, int]:
    positions: dict[str, int] = {}
    missing: list[str] = []
    for column, names in COLUMN_NAMES.items():
        found = next((header.index(name) for name in names if name in header), None)
        if found is None:
            missing.append(column)
        else:
            positions[column] = found
    if missing:
        raise ImportDataError(
            f"{path} is not an Online Retail file: its header has no "
            f"{', '.join(missing)} column(s); expected {', '.join(COLUMN_NAMES)}",
            details={"path": str(path), "missing_columns": missing, "header": header},
        )
    return positions
