"""What every analytics query shares: the window, the interval, breakdowns and the
chart-ready result tables.

Each query in :mod:`shopsense.analytics` is one SQL statement (DuckDB's dialect) that
the store runs on its own snapshot (:meth:`~shopsense.store.base.AnalyticsStore.
analytics_query`); every value a caller gives is a bound parameter, and the few names
inlined into the SQL (the interval, breakdown sources) come from closed lists here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

import pyarrow as pa

from shopsense.core.errors import ValidationFailedError

Interval = Literal["day", "week", "month"]
"""Calendar buckets: days, ISO weeks (Monday first) or months, in the query's time zone."""
INTERVALS: tuple[str, ...] = get_args(Interval)

NO_VALUE = "(none)"
"""The breakdown value of rows where the property is missing."""

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
    breakdown the value is the empty text, so one query shape serves both."""

    value: str
    params: list[Any]
    join: str

    @classmethod
    def of(cls, breakdown: Breakdown | None) -> BreakdownSQL:
        if breakdown is None:
            return cls(value="''", params=[], join="")
        value, params = breakdown.expression()
        join = "LEFT JOIN users u ON u.user_id = e.user_id" if breakdown.source == "user" else ""
        return cls(value=value, params=params, join=join)


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

    def timestamps(self, *, before_days: int = 0) -> tuple[str, str]:
        """SQL of the window's first and end instants as TIMESTAMPTZ in the query's time
        zone (the store's cursor runs in it), ``before_days`` earlier at the start."""
        return (
            f"CAST(DATE '{(self.start - timedelta(days=before_days)).isoformat()}' AS TIMESTAMPTZ)",
            f"CAST(DATE '{self.end.isoformat()}' AS TIMESTAMPTZ)",
        )


def bucket(interval: Interval, column: str = "ts") -> str:
    """SQL of the calendar bucket (a DATE) that ``column`` falls in."""
    check_interval(interval)
    return f"CAST(date_trunc('{interval}', {column}) AS DATE)"


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
        names = tuple(table.column_names)
        rows = [tuple(clean(row[name]) for name in names) for row in table.to_pylist()]
        return cls(columns=names, rows=rows)

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
    "NO_VALUE",
    "Breakdown",
    "BreakdownSQL",
    "Interval",
    "Report",
    "ResultTable",
    "Window",
    "bucket",
    "check_interval",
    "clean",
    "type_filter",
]
