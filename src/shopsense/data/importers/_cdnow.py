"""CDNOW purchases (the BG/NBD papers' data): one line per customer purchase day.

Two layouts, told apart by the number of fields on the first data line (an optional
header line is recognised by its non-numeric first field):

- master, 4 fields: ``customer date(YYYYMMDD) n_cds dollars``;
- 1/10 sample, 5 fields: ``customer id_in_sample date n_cds dollars`` (the first field
  is the master file's customer id, the second the sample's own 1..2357 numbering).

CDNOW records no products, so every line is a ``purchase`` of the one catalog item
``CD`` with ``quantity = n_cds`` and ``price = dollars / n_cds`` (USD), and one order of
one line. 0-dollar lines are valid purchases and kept. User ids are the master ids as
integers (``"00004"`` -> ``"4"``), so the sample's lines get the same ids as in the
master; the sample id is kept in the user's attributes. Dates are read as midnight in
``options.timezone`` (default UTC). Event and order id: ``cdnow:<customer>:<date>:<k>``
where ``k`` counts that customer's lines on that day (1, 2, ...): deterministic, and a
line of the sample has the same id as the same line of the master.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any

from shopsense.data.importers._base import ImportOptions, RecordSink
from shopsense.data.importers._text import (
    parse_records,
    read_lines,
    whitespace_split,
)
from shopsense.data.schemas import Event, Item, Order, OrderLine, User

ITEM_ID = "CD"
CURRENCY = "USD"
MASTER_FIELDS = 4
SAMPLE_FIELDS = 5

SOURCE_COLUMNS = {
    "user_id": "customer",
    "ts": "date",
    "quantity": "n_cds",
    "price": "dollars",
}


class CdnowImporter:
    """CDNOW master or sample file -> purchases of item ``CD``, orders and customers."""

    name = "cdnow"
    summary = "CDNOW purchases (master: customer date n_cds dollars; or the 1/10 sample)"

    def read(self, path: Path, options: ImportOptions, sink: RecordSink) -> None:
        zone = options.zone_or_utc()
        lines = _without_header(read_lines(path, encoding="ascii", sink=sink))
        first = next(lines, None)
        if first is None:
            sink.note(f"{path.name} has no purchase lines")
            return
        n_fields = len(whitespace_split(first[1]))
        if n_fields not in (MASTER_FIELDS, SAMPLE_FIELDS):
            n_fields = MASTER_FIELDS  # the first line is then rejected like any other
        sample = n_fields == SAMPLE_FIELDS
        sink.note(f"{path.name}: CDNOW {'sample' if sample else 'master'} layout")
        occurrences: dict[tuple[str, str], int] = {}
        customers: dict[str, dict[str, Any]] = {}
        first_purchase: datetime | None = None
        for record in parse_records(
            chain([first], lines), whitespace_split, sink, n_fields=n_fields
        ):
            fields = record.fields
            customer = fields[0].lstrip("0") or "0"
            date_text, n_cds_text, dollars_text = fields[-3:]
            try:
                ts = datetime.strptime(date_text, "%Y%m%d").replace(tzinfo=zone).astimezone(UTC)
            except ValueError:
                sink.reject(record.line, "date: not a date like 19970101", record.text)
                continue
            try:
                n_cds, dollars = float(n_cds_text), float(dollars_text)
            except ValueError:
                sink.reject(record.line, "n_cds/dollars: not a number", record.text)
                continue
            if not customer.isdigit():
                sink.reject(record.line, "customer: not a number", record.text)
                continue
            if n_cds <= 0:
                sink.reject(record.line, "n_cds: must be positive", record.text)
                continue
            key = (customer, date_text)
            occurrences[key] = occurrence = occurrences.get(key, 0) + 1
            event_id = f"cdnow:{customer}:{date_text}:{occurrence}"
            event = sink.validate(
                Event,
                {
                    "event_id": event_id,
                    "type": "purchase",
                    "user_id": customer,
                    "item_id": ITEM_ID,
                    "ts": ts,
                    "quantity": n_cds,
                    "price": dollars / n_cds,
                    "order_id": event_id,
                },
                line=record.line,
                raw=record.text,
                columns=SOURCE_COLUMNS,
            )
            if event is None:
                continue
            sink.event(event)
            sink.order(
                Order(
                    order_id=event_id,
                    user_id=customer,
                    ts=ts,
                    currency=CURRENCY,
                    lines=[OrderLine(item_id=ITEM_ID, quantity=n_cds, price=event.price or 0.0)],
                )
            )
            first_purchase = ts if first_purchase is None else min(first_purchase, ts)
            known = customers.get(customer)
            if known is None:
                attributes = {"sample_id": fields[1].lstrip("0") or "0"} if sample else {}
                customers[customer] = {"created_at": ts, "attributes": attributes}
            else:
                known["created_at"] = min(known["created_at"], ts)

        if first_purchase is not None:
            sink.item(
                Item(
                    item_id=ITEM_ID,
                    title="CD",
                    description="CDNOW records no products: every purchase is of this one item",
                    currency=CURRENCY,
                    created_at=first_purchase,
                )
            )
        for customer in sorted(customers, key=int):
            sink.user(User(user_id=customer, **customers[customer]))


def _without_header(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """``lines`` without a first line whose first field is a name, not a number."""
    for number, text in lines:
        if text.split()[0].isdigit():
            yield number, text
        yield from lines
        return
