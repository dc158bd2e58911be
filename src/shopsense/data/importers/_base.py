"""What every importer shares: options, the report, the :class:`RecordSink` that validates,
batches and writes records, and the :class:`Importer` Protocol a format implements.

An importer parses its file(s) and hands every record to the sink: ``sink.event(...)``,
``sink.item(...)``, ``sink.user(...)``, ``sink.order(...)``, or ``sink.reject(...)`` for a
row it cannot use. The sink groups records into batches of ``batch_size`` and writes
each batch with one store call (one transaction), so a killed import leaves whole
batches behind and a re-run completes it: events de-duplicate by ``event_id`` and
items, users and orders are upserts. A sink without a store only validates (strict
mode's first pass).
"""

from __future__ import annotations

import codecs
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa
from pydantic import BaseModel, ValidationError

from shopsense.core.errors import ConfigurationError, describe_validation_error
from shopsense.data.schemas import Event, Item, Order, User, ValidationOptions
from shopsense.data.tables import EventTableBuilder, order_line_batches

if TYPE_CHECKING:
    from shopsense.store.base import Store

logger = logging.getLogger(__name__)

MAX_REJECTED_ROWS = 100
"""How many rejected rows a report keeps verbatim (all of them are counted)."""

MAX_EXCERPT_CHARS = 200
"""Raw text kept per rejected row."""

ProgressCallback = Callable[[int, int | None], None]
"""``progress(done, total)``: bytes (or rows) processed so far and the total when known."""

RecordT = TypeVar("RecordT", bound=BaseModel)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportOptions:
    """Format-specific knobs of an import; every field has a default that suits the
    original public files. Fields a format does not use are ignored by it.

    - ``timezone``: IANA zone in which naive local times are read. Online Retail and
      CDNOW (local times by nature) default to UTC; generic CSV/Parquet reject naive
      timestamps unless it is given.
    - ``anonymous``: Online Retail lines with no CustomerID are kept as guest purchases
      (``"guest"``, user ``guest-<InvoiceNo>``) or skipped and counted (``"skip"``).
    - ``kind``: what the rows of a generic CSV/Parquet file are.
    - ``mapping``: shopsense field -> source column, for generic files; fields not
      mapped take the column of the same name when there is one.
    - ``event_type``: event type for rows without one (generic files) or of every
      interaction (Amazon sequences, default ``"purchase"``).
    - ``delimiter`` / ``encoding``: how a generic CSV file is written.
    - ``datamaps``: the Amazon ``datamaps.json``; default: the one beside the sequences.
    - ``validation``: the shop's schema rules (event types; see ``ValidationOptions``).
    """

    timezone: str | None = None
    anonymous: Literal["guest", "skip"] = "guest"
    kind: Literal["events", "items", "users"] = "events"
    mapping: Mapping[str, str] = field(default_factory=dict)
    event_type: str | None = None
    delimiter: str = ","
    encoding: str = "utf-8"
    datamaps: Path | None = None
    validation: ValidationOptions = field(default_factory=ValidationOptions)

    def __post_init__(self) -> None:
        if self.anonymous not in ("guest", "skip"):
            raise ConfigurationError(f"anonymous must be 'guest' or 'skip', not {self.anonymous!r}")
        if self.kind not in ("events", "items", "users"):
            raise ConfigurationError(
                f"kind must be 'events', 'items' or 'users', not {self.kind!r}"
            )
        if len(self.delimiter) != 1 or self.delimiter in '\r\n"':
            raise ConfigurationError(
                f"delimiter must be one character other than a quote or newline, "
                f"not {self.delimiter!r}"
            )
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise ConfigurationError(f"unknown text encoding {self.encoding!r}") from None
        if not _ascii_compatible(self.encoding):
            # Files are split into lines as bytes, which only works when ASCII bytes are
            # themselves (not UTF-16/32, not a bytes-to-bytes codec such as rot13).
            raise ConfigurationError(
                f"text encoding {self.encoding!r} is not ASCII-compatible; convert the file "
                "to UTF-8 first (e.g. iconv -f UTF-16 -t UTF-8)"
            )
        if self.timezone is not None:
            _zone(self.timezone)
        if self.event_type is not None and self.event_type not in self.validation.event_types:
            raise ConfigurationError(
                f"unknown event type {self.event_type!r}; known types: "
                f"{', '.join(sorted(self.validation.event_types))}"
            )
        # A read-only copy, so that the frozen options cannot change under an import.
        object.__setattr__(self, "mapping", MappingProxyType(dict(self.mapping)))

    def zone(self) -> tzinfo | None:
        """The zone for naive times, or None when no ``timezone`` was given."""
        return None if self.timezone is None else _zone(self.timezone)

    def zone_or_utc(self) -> tzinfo:
        """The zone for naive times in files whose times are local by nature (UTC default)."""
        return self.zone() or UTC


def _ascii_compatible(encoding: str) -> bool:
    try:
        return all(bytes([code]).decode(encoding) == chr(code) for code in range(128))
    except (UnicodeDecodeError, LookupError):
        return False


def _zone(name: str) -> tzinfo:
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'Europe/London'"
        ) from None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """One row an import could not use: where it is, why, and what it said."""

    file: str
    line: int
    reason: str
    excerpt: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "reason": self.reason,
            "excerpt": self.excerpt,
        }


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did. ``line`` numbers are physical lines, 1-based, header = line 1
    (for Parquet: the row number). ``rejected_rows`` keeps the first
    :data:`MAX_REJECTED_ROWS`; ``rejected_by_reason`` counts all of them."""

    format: str
    path: str
    rows_read: int
    events_received: int
    events_inserted: int
    duplicates_skipped: int
    items_written: int
    users_written: int
    orders_written: int
    rejected: int
    rejected_by_reason: dict[str, int]
    rejected_rows: tuple[RejectedRow, ...]
    skipped: int
    skipped_by_reason: dict[str, int]
    notes: tuple[str, ...]
    elapsed_seconds: float

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data (what the CLI renders and ``--json`` writes)."""
        return {
            "format": self.format,
            "path": self.path,
            "rows_read": self.rows_read,
            "events_received": self.events_received,
            "events_inserted": self.events_inserted,
            "duplicates_skipped": self.duplicates_skipped,
            "items_written": self.items_written,
            "users_written": self.users_written,
            "orders_written": self.orders_written,
            "rejected": self.rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "rejected_rows": [row.to_dict() for row in self.rejected_rows],
            "skipped": self.skipped,
            "skipped_by_reason": dict(self.skipped_by_reason),
            "notes": list(self.notes),
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


def integer_id(text: str) -> str:
    """A numeric id as an integer string: ``"17850.0"`` (a spreadsheet's float) -> ``"17850"``."""
    text = text.strip()
    if text.endswith(".0") and text[:-2].isdigit():
        return text[:-2]
    return text


def excerpt(raw: str) -> str:
    """``raw`` cut to :data:`MAX_EXCERPT_CHARS` for a report."""
    return raw if len(raw) <= MAX_EXCERPT_CHARS else raw[: MAX_EXCERPT_CHARS - 1] + "…"


class RecordSink:
    """Receives an importer's records, validates what it is asked to, batches and writes.

    Events go to the store every ``batch_size`` events; items and users (keyed by id,
    the last version wins) every ``batch_size`` records; orders every ``batch_size``
    order lines. :meth:`flush` writes everything pending in the order items, users,
    events, orders, so that an importer that emits reference data first can store it
    before the events that cite it. With ``store=None`` nothing is written.
    """

    def __init__(
        self,
        store: Store | None,
        *,
        batch_size: int,
        validation: ValidationOptions,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self.context: dict[str, Any] = validation.context()
        self._progress = progress
        self.file = ""
        self._events = EventTableBuilder()
        self._items: dict[str, Item] = {}
        self._users: dict[str, User] = {}
        self._orders: dict[str, Order] = {}
        self._order_tables: list[pa.Table] = []
        self._pending_order_lines = 0
        self.rows_read = 0
        self.events_received = 0
        self.events_inserted = 0
        self.items_written = 0
        self.users_written = 0
        self.orders_written = 0
        self.rejected_by_reason: Counter[str] = Counter()
        self.rejected_rows: list[RejectedRow] = []
        self.skipped_by_reason: Counter[str] = Counter()
        self.notes: list[str] = []

    @property
    def writes(self) -> bool:
        """Whether records reach a store (False in a validate-only pass)."""
        return self._store is not None

    @property
    def rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    # -- what importers call -------------------------------------------------------------

    def open_file(self, path: Path) -> None:
        """Name the file that following rejections refer to."""
        self.file = path.name

    def row_read(self) -> None:
        """Count one data row (a line or a Parquet row) examined."""
        self.rows_read += 1

    def progress(self, done: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress(done, total)

    def reject(self, line: int, reason: str, raw: str) -> None:
        """Record that row ``line`` of the current file was not imported, and why."""
        self.rejected_by_reason[reason] += 1
        if len(self.rejected_rows) < MAX_REJECTED_ROWS:
            self.rejected_rows.append(RejectedRow(self.file, line, reason, excerpt(raw)))

    def skip(self, reason: str) -> None:
        """Count a valid row left out on purpose (e.g. an anonymous line with
        ``anonymous="skip"``)."""
        self.skipped_by_reason[reason] += 1

    def note(self, text: str) -> None:
        """Something the person running the import should know (shown in the report)."""
        if text not in self.notes:
            self.notes.append(text)
            logger.info("%s", text)

    def validate(
        self,
        model: type[RecordT],
        data: Mapping[str, Any],
        *,
        line: int,
        raw: str,
        columns: Mapping[str, str] | None = None,
    ) -> RecordT | None:
        """``data`` validated as ``model``, or None after rejecting row ``line``."""
        try:
            return model.model_validate(data, context=self.context)
        except ValidationError as error:
            self.reject(line, describe_validation_error(error, columns), raw)
            return None

    def event(self, event: Event) -> None:
        self.events_received += 1
        if self._store is None:
            return
        self._events.append(event)
        if len(self._events) >= self._batch_size:
            self._write_events()

    def item(self, item: Item) -> None:
        if self._store is None:
            return
        self._items[item.item_id] = item
        if len(self._items) >= self._batch_size:
            self._write_items()

    def user(self, user: User) -> None:
        if self._store is None:
            return
        self._users[user.user_id] = user
        if len(self._users) >= self._batch_size:
            self._write_users()

    def order(self, order: Order) -> None:
        if self._store is None:
            return
        previous = self._orders.pop(order.order_id, None)
        if previous is not None:
            self._pending_order_lines -= len(previous.lines)
        self._orders[order.order_id] = order
        self._pending_order_lines += len(order.lines)
        if self._pending_order_lines >= self._batch_size:
            self._write_orders()

    def order_lines(self, lines: pa.Table) -> None:
        """Orders as one :data:`~shopsense.data.tables.ORDER_LINE_SCHEMA` table (an
        order's lines adjacent), for importers that assemble them from records the sink
        has already validated; written at :meth:`flush` in batches of whole orders."""
        if self._store is None:
            return
        self._order_tables.append(lines)

    def flush(self) -> None:
        """Write everything pending: items, users, events, then orders."""
        self._write_items()
        self._write_users()
        self._write_events()
        self._write_orders()

    # -- writing -------------------------------------------------------------------------

    def _write_events(self) -> None:
        if self._store is None or not len(self._events):
            return
        result = self._store.append_events(self._events.to_table())
        self.events_inserted += result.inserted
        logger.debug("stored %d events (%d new)", result.received, result.inserted)
        self._events = EventTableBuilder()

    def _write_items(self) -> None:
        if self._store is None or not self._items:
            return
        self.items_written += self._store.upsert_items(list(self._items.values()))
        self._items = {}

    def _write_users(self) -> None:
        if self._store is None or not self._users:
            return
        self.users_written += self._store.upsert_users(list(self._users.values()))
        self._users = {}

    def _write_orders(self) -> None:
        if self._store is None:
            return
        if self._orders:
            self.orders_written += self._store.upsert_orders(list(self._orders.values()))
            self._orders = {}
            self._pending_order_lines = 0
        for table in self._order_tables:
            for batch in order_line_batches(table, self._batch_size):
                self.orders_written += self._store.upsert_orders(batch)
        self._order_tables = []

    def report(self, *, format_name: str, path: Path, elapsed_seconds: float) -> ImportReport:
        """The finished import's report (call after :meth:`flush`)."""
        return ImportReport(
            format=format_name,
            path=str(path),
            rows_read=self.rows_read,
            events_received=self.events_received,
            events_inserted=self.events_inserted,
            duplicates_skipped=self.events_received - self.events_inserted if self.writes else 0,
            items_written=self.items_written,
            users_written=self.users_written,
            orders_written=self.orders_written,
            rejected=self.rejected,
            rejected_by_reason=dict(self.rejected_by_reason.most_common()),
            rejected_rows=tuple(self.rejected_rows),
            skipped=sum(self.skipped_by_reason.values()),
            skipped_by_reason=dict(self.skipped_by_reason.most_common()),
            notes=tuple(self.notes),
            elapsed_seconds=elapsed_seconds,
        )


class Importer(Protocol):
    """One file format: parses ``path`` and hands every record to the sink."""

    name: str
    """The format's name on the command line, e.g. ``"online-retail"``."""
    summary: str
    """One line saying what the format is."""

    def read(self, path: Path, options: ImportOptions, sink: RecordSink) -> None:
        """Parse ``path``, sending records and rejected rows to ``sink``; raise
        :class:`~shopsense.core.errors.ImportDataError` when the file cannot be read."""
        ...
