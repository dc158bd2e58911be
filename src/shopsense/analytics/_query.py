"""What every analytics query shares: the window, the interval, breakdowns and the
chart-ready result tables.

Each report in :mod:`shopsense.analytics` runs its SQL statements (DuckDB's dialect) in
one :class:`~shopsense.store.base.AnalyticsSession`, so they all read one snapshot of
the store (:func:`reading`); every value a caller gives is a bound parameter, and the
few names inlined into the SQL (the interval, breakdown sources) come from closed lists
here.

A breakdown keeps its :data:`MAX_BREAKDOWN_VALUES` values with the most users and
folds the others into :data:`OTHER_VALUE`, so a property with a value per item or per
session cannot blow up a report (:meth:`BreakdownSQL.ranking`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from shopsense.core.errors import ValidationFailedError
from shopsense.store.base import AnalyticsSession, AnalyticsStore

Interval = Literal["day", "week", "month"]
"""Calendar buckets: days, ISO weeks (Monday first) or months, in the query's time zone."""
INTERVALS: tuple[str, ...] = get_args(Interval)

NO_VALUE = "(none)"
"""The breakdown value of rows where the property is missing."""
OTHER_VALUE = "(other)"
"""The breakdown value that the values beyond the :data:`MAX_BREAKDOWN_VALUES` with the
most users are folded into."""
MAX_BREAKDOWN_VALUES = 20
"""How many breakdown values a report keeps apart (the ones with the most users)."""

EVENT_COLUMNS = ("type", "item_id", "session_id", "order_id", "rec_id")
"""Event columns a breakdown may name directly (``event.type``); any other
``event.<name>`` reads ``props.<name>``."""
MIN_YEAR, MAX_YEAR = 1971, 9998
MAX_WINDOW_DAYS = 3660
_PROPERTY = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A property to split results by: ``event.<name>`` (an event column such as
    ``type``, else a key of the event's ``props``) or ``user.<name>`` (a key of the
    user's ``attributes``)."""

    source: Literal["event", "user"]
    name: str

    @classmethod
    def parse(cls, text: str) -> Breakdown:
        source, _, name = text.strip().partition(".")
        if source not in ("event", "user") or not _PROPERTY.match(name):
            raise ValidationFailedError(
                f"breakdown {text!r} must read event.<property> or user.<attribute>, "
                "e.g. event.type, event.country or user.country",
                details={"field": "breakdown"},
            )
        return cls(source=source, name=name)  # type: ignore[arg-type]

    def expression(self, events: str = "e", users: str = "u") -> tuple[str, list[Any]]:
        """SQL of the breakdown value (text, :data:`NO_VALUE` when missing) with its
        parameters; a ``user`` breakdown needs ``users`` joined on ``user_id``."""
        if self.source == "event" and self.name in EVENT_COLUMNS:
            return f"coalesce(CAST({events}.{self.name} AS VARCHAR), ?)", [NO_VALUE]
        column = f"{events}.props" if self.source == "event" else f"{users}.attributes"
        return f"coalesce(json_extract_string({column}, ?), ?)", [f"$.{self.name}", NO_VALUE]

    def __str__(self) -> str:
        return f"{self.source}.{self.name}"


@dataclass(frozen=True, slots=True)
class BreakdownSQL:
    """How a query reads a breakdown off events ``e``: the ``value`` expression, its
    ``params`` and the ``join`` it needs (users ``u`` for a user attribute). Without a
    breakdown the value is the empty text, so one query shape serves both.

    The values are capped: :meth:`ranking` finds the :data:`MAX_BREAKDOWN_VALUES` with
    the most users and :meth:`folded` reads every other one as :data:`OTHER_VALUE`."""

    value: str
    params: list[Any]
    join: str
    split: bool
    """Whether a breakdown was asked for (else ``value`` is the constant ``''``)."""
    per_user: bool = False
    """Whether the value is the user's (an attribute), the same on all their events."""

    @classmethod
    def of(cls, breakdown: Breakdown | None) -> BreakdownSQL:
        if breakdown is None:
            return cls(value="''", params=[], join="", split=False)
        value, params = breakdown.expression()
        per_user = breakdown.source == "user"
        join = "LEFT JOIN users u ON u.user_id = e.user_id" if per_user else ""
        return cls(value=value, params=params, join=join, split=True, per_user=per_user)

    @property
    def shared(self) -> str:
        """How to declare a CTE that the ranking reads besides the query: ``MATERIALIZED``
        with a breakdown (computed once, read twice), else nothing."""
        return "MATERIALIZED" if self.split else ""

    def first_value(self, events: str = "e") -> str:
        """SQL of the aggregate: the value of the earliest of the ``events`` grouped
        (of events at one instant, the one with the smallest ``event_id``, so the answer
        never depends on storage order); ``''`` without a breakdown."""
        if not self.split:
            return "''"
        if self.per_user:  # one value for all the user's events: no order to find
            return f"any_value({self.value})"
        return f"arg_min({self.value}, ({events}.ts, {events}.event_id))"

    def ranking(self, rows: str) -> str:
        """The CTEs ``breakdown_users`` (each value of ``rows``, a relation with columns
        ``breakdown`` and ``user_id``, and its distinct users) and ``kept_values`` (the
        :data:`MAX_BREAKDOWN_VALUES` with the most users, ties by value), separated by a
        comma. Without a breakdown both are empty and ``rows`` is not read."""
        if not self.split:
            return (
                "breakdown_users AS (SELECT '' AS breakdown, 0 AS users WHERE FALSE), "
                "kept_values AS (SELECT '' AS breakdown)"
            )
        return f"""
            breakdown_users AS (
                SELECT breakdown, count(DISTINCT user_id) AS users FROM {rows} GROUP BY breakdown
            ),
            kept_values AS (
                SELECT breakdown FROM breakdown_users
                ORDER BY users DESC, breakdown LIMIT {MAX_BREAKDOWN_VALUES}
            )"""

    def folded(self, column: str) -> str:
        """SQL of ``column`` (a breakdown value) with the values :meth:`ranking` did not
        keep read as :data:`OTHER_VALUE`."""
        if not self.split:
            return column
        return (
            f"CASE WHEN {column} IN (SELECT breakdown FROM kept_values) "
            f"THEN {column} ELSE '{OTHER_VALUE}' END"
        )

    @staticmethod
    def value_count() -> str:
        """SQL of how many values :meth:`ranking` found (0 without a breakdown)."""
        return "(SELECT count(*) FROM breakdown_users)"


def describe_breakdown(breakdown: Breakdown | None) -> dict[str, Any]:
    """A report's ``query`` entries of its breakdown: the property and, with one, the
    cap on its values."""
    if breakdown is None:
        return {"breakdown": None}
    return {"breakdown": str(breakdown), "breakdown_limit": MAX_BREAKDOWN_VALUES}


def folding_summary(breakdown: Breakdown | None, n_values: int) -> dict[str, int]:
    """A report's ``summary`` entries of a breakdown of ``n_values`` values: how many
    there were and how many were folded into :data:`OTHER_VALUE` (none without one)."""
    if breakdown is None:
        return {}
    return {
        "breakdown_values": n_values,
        "folded_values": max(0, n_values - MAX_BREAKDOWN_VALUES),
    }


def pop_value_count(table: pa.Table, column: str = "breakdown_values") -> tuple[pa.Table, int]:
    """``table`` without its ``column`` of :meth:`BreakdownSQL.value_count` (the same in
    every row), and that count (0 for an empty table)."""
    count = table.column(column)[0].as_py() if table.num_rows else 0
    return table.drop_columns([column]), int(count or 0)


@dataclass(frozen=True, slots=True)
class Window:
    """The dates a query covers, ``start <= day < end``, in ``timezone``.

    ``end`` is exclusive: ``Window(date(2024, 1, 1), date(2024, 2, 1))`` is January."""

    start: date
    end: date
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if self.start.year < MIN_YEAR or self.end.year > MAX_YEAR:
            raise ValidationFailedError(
                f"the window {self.start} .. {self.end} must lie between the years "
                f"{MIN_YEAR} and {MAX_YEAR}",
                details={"field": "start"},
            )
        if (self.end - self.start).days > MAX_WINDOW_DAYS:
            raise ValidationFailedError(
                f"the window covers {(self.end - self.start).days} days; at most "
                f"{MAX_WINDOW_DAYS} (ten years) are allowed",
                details={"field": "start"},
            )
        if self.end <= self.start:
            raise ValidationFailedError(
                f"the window ends ({self.end}) on or before it starts ({self.start}); "
                "the end date is exclusive",
                details={"field": "end"},
            )

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def describe(self) -> dict[str, Any]:
        """The window as every report's ``query`` echoes it."""
        return {"start": self.start, "end": self.end, "timezone": self.timezone}

    def first_period(self, interval: Interval) -> date:
        """The first day of the ``interval`` period holding ``start``: reports by period
        count whole periods from it, activity before ``start`` in it included."""
        check_interval(interval)
        if interval == "week":
            return self.start - timedelta(days=self.start.weekday())
        if interval == "month":
            return self.start.replace(day=1)
        return self.start

    def timestamps(self, *, before_days: int = 0) -> tuple[str, str]:
        """SQL of the window's first and end instants as TIMESTAMPTZ in the query's time
        zone (the store's cursor runs in it), ``before_days`` earlier at the start."""
        return (
            timestamp_sql(self.start - timedelta(days=before_days)),
            timestamp_sql(self.end),
        )


def timestamp_sql(day: date) -> str:
    """SQL of the first instant of ``day`` as TIMESTAMPTZ in the query's time zone."""
    return f"CAST(DATE '{day.isoformat()}' AS TIMESTAMPTZ)"


AnalyticsSource = AnalyticsStore | AnalyticsSession
"""What a report reads from: a store (the report opens a session of its own) or a
session already open (a request's, whose default window was read from it)."""


@contextmanager
def reading(source: AnalyticsSource, timezone: str) -> Iterator[AnalyticsSession]:
    """The session a report runs all its statements in, so they read one snapshot:
    ``source`` itself when it is a session, else a new session of the store."""
    if isinstance(source, AnalyticsSession):
        if source.timezone != timezone:
            raise ValidationFailedError(
                f"the report is asked in {timezone!r} but its session reads {source.timezone!r}",
                details={"field": "timezone"},
            )
        yield source
        return
    with source.analytics_session(timezone=timezone) as session:
        yield session


def bucket(interval: Interval, column: str = "ts") -> str:
    """SQL of the calendar bucket (a DATE) that ``column`` falls in: a DATE column, or a
    TIMESTAMPTZ taken in the session's time zone (for event times in a scan, prefer
    :func:`period_of`, which is faster)."""
    check_interval(interval)
    return f"CAST(date_trunc('{interval}', {column}) AS DATE)"


MICROSECONDS_PER_DAY = 86_400_000_000
_PROBE_YEARS = range(1990, 2041, 5)


def fixed_offset_microseconds(timezone: str) -> int | None:
    """The zone's offset from UTC in microseconds when it never changes (UTC, Asia/
    Shanghai, ...), None for a zone with daylight saving or historical changes."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return None  # the session refuses it with a clear error
    offsets = {
        zone.utcoffset(datetime(year, month, 1, 12))
        for year in _PROBE_YEARS
        for month in (1, 4, 7, 10)
    }
    if len(offsets) != 1:
        return None
    (offset,) = offsets
    return None if offset is None else int(offset.total_seconds()) * 1_000_000


def day_of(column: str, timezone: str) -> str:
    """SQL of the local DATE of the TIMESTAMPTZ ``column`` in ``timezone``.

    In a zone of one fixed offset the day is integer arithmetic on the epoch
    (microseconds + offset, divided by a day): on ten million events it takes half the
    time of the general conversion, and date buckets over it a fifth (the time-zone
    library is not called per row). Zones with daylight saving take the general path."""
    offset = fixed_offset_microseconds(timezone)
    if offset is None:
        return f"CAST({column} AS DATE)"
    return (
        f"(DATE '1970-01-01' + CAST((epoch_us({column}) + {offset}) "
        f"// {MICROSECONDS_PER_DAY} AS INTEGER))"
    )


def period_of(interval: Interval, column: str, timezone: str) -> str:
    """SQL of the calendar bucket (a DATE) of the TIMESTAMPTZ ``column`` in ``timezone``."""
    return bucket(interval, day_of(column, timezone))


def check_interval(interval: str) -> Interval:
    if interval not in INTERVALS:
        raise ValidationFailedError(
            f"interval {interval!r} must be one of: {', '.join(INTERVALS)}",
            details={"field": "interval"},
        )
    return interval  # type: ignore[return-value]


def type_filter(types: tuple[str, ...] | None, column: str = "type") -> tuple[str, list[Any]]:
    """SQL (``TRUE`` when every type counts) and parameters of an event type filter."""
    if not types:
        return "TRUE", []
    return f"list_contains(?, {column})", [list(types)]


def clean(value: Any) -> Any:
    """A cell as JSON can carry it: dates as ISO text, NaN as None, floats rounded."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, 6)
    return value


@dataclass(frozen=True, slots=True)
class ResultTable:
    """A long-format table a chart can draw directly: one row per point, ``columns``
    naming each cell (e.g. ``period, breakdown, users``)."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    @classmethod
    def from_arrow(cls, table: pa.Table) -> ResultTable:
        return cls.from_records(tuple(table.column_names), table.to_pylist())

    @classmethod
    def from_records(
        cls, columns: tuple[str, ...], records: list[dict[str, Any]] | None
    ) -> ResultTable:
        """The table of ``records`` (e.g. a SQL ``list`` of structs; None is no rows)."""
        rows = [tuple(clean(record[name]) for name in columns) for record in records or []]
        return cls(columns=columns, rows=rows)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": list(self.columns), "rows": [list(row) for row in self.rows]}

    def without(self, column: str) -> ResultTable:
        """This table without ``column`` (e.g. the empty breakdown of a plain query)."""
        keep = [i for i, name in enumerate(self.columns) if name != column]
        return ResultTable(
            columns=tuple(self.columns[i] for i in keep),
            rows=[tuple(row[i] for i in keep) for row in self.rows],
        )


@dataclass(frozen=True, slots=True)
class Report:
    """One analytics answer: what was asked (``query``), headline figures
    (``summary``) and named tables."""

    kind: str
    query: dict[str, Any]
    tables: dict[str, ResultTable]
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "query": {key: clean(value) for key, value in self.query.items()},
            "summary": {key: clean(value) for key, value in self.summary.items()},
            "tables": {name: table.to_dict() for name, table in self.tables.items()},
        }


__all__ = [
    "EVENT_COLUMNS",
    "INTERVALS",
    "MAX_BREAKDOWN_VALUES",
    "NO_VALUE",
    "OTHER_VALUE",
    "AnalyticsSource",
    "Breakdown",
    "BreakdownSQL",
    "Interval",
    "Report",
    "ResultTable",
    "Window",
    "bucket",
    "check_interval",
    "clean",
    "day_of",
    "describe_breakdown",
    "fixed_offset_microseconds",
    "folding_summary",
    "period_of",
    "pop_value_count",
    "reading",
    "timestamp_sql",
    "type_filter",
]
