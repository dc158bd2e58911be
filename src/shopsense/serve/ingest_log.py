"""What ingestion did lately: events accepted and rejected per minute over the last
hour, totals since the server started, and the most recent rejected requests with the
reason of each failing field (what the dashboard's Data page shows).

The Prometheus counters (:mod:`shopsense.serve.metrics`) hold totals only, and nobody
may be scraping them; this log keeps the recent past in memory, bounded (``minutes``
per-minute buckets and ``max_rejections`` rejections), so memory stays flat however
much arrives. Recording an accepted batch takes one lock and touches one bucket: it
runs on every ``POST /v1/events``. A rejected event is one refused with a 422 (the
whole batch is refused with it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json

from shopsense.core.errors import ShopsenseError

SECONDS_PER_MINUTE = 60


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One failing field of a rejected request, by its path in the body (``events[3].ts``)."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """One request refused with its events."""

    at: datetime
    n_events: int
    """Events the request carried (all refused with it; a body that is not JSON counts as
    one, so that a client sending garbage still shows in the counts)."""
    message: str
    """The problem's summary, as the client got it."""
    problems: tuple[FieldProblem, ...]
    """The failing fields, the first ``max_problems`` of them."""
    n_problems: int
    """How many fields failed in all."""
    key_id: str | None
    """The API key that sent it (None when keys are not required)."""


@dataclass(frozen=True, slots=True)
class MinuteCount:
    """Events accepted and rejected in the minute starting at ``start`` (UTC)."""

    start: datetime
    accepted: int
    rejected: int


@dataclass(frozen=True, slots=True)
class IngestTotals:
    """Counts since the log was created (the server's start)."""

    since: datetime
    accepted_events: int
    accepted_requests: int
    rejected_events: int
    rejected_requests: int


def count_records(body: bytes, key: str = "events") -> int:
    """Records in a request body, in the three shapes ``/v1/events`` accepts
    (``{"events": [...]}``, a JSON array, one record); 1 for a body that is not JSON or
    not one of those shapes. Only for bodies already refused: parsing twice is cheap
    beside a client's round trip, and the accepted path never calls it."""
    try:
        data: Any = from_json(body) if body.strip() else None
    except ValueError:
        return 1
    if isinstance(data, dict) and set(data) == {key}:
        data = data[key]
    if isinstance(data, list):
        return len(data)
    return 1


class IngestLog:
    """The recent past of ingestion (see the module docstring). Thread-safe; ``clock``
    (Unix seconds) is injectable for tests."""

    def __init__(
        self,
        *,
        minutes: int = 60,
        max_rejections: int = 50,
        max_problems: int = 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if minutes < 1 or max_rejections < 1 or max_problems < 1:
            raise ValueError("minutes, max_rejections and max_problems must be at least 1")
        self.minutes = minutes
        self.max_problems = max_problems
        self._clock = clock
        self._lock = threading.Lock()
        # [minute number since the epoch, accepted, rejected], oldest first
        self._buckets: deque[list[int]] = deque(maxlen=minutes)
        self._rejections: deque[Rejection] = deque(maxlen=max_rejections)
        self._since = datetime.fromtimestamp(clock(), UTC)
        self._accepted_events = 0
        self._accepted_requests = 0
        self._rejected_events = 0
        self._rejected_requests = 0

    def record_accepted(self, n_events: int) -> None:
        """A request whose ``n_events`` events were answered 2xx (stored or repeats)."""
        now = self._clock()
        with self._lock:
            self._bucket(now)[1] += n_events
            self._accepted_events += n_events
            self._accepted_requests += 1

    def record_rejected(
        self, error: ShopsenseError, *, body: bytes, key_id: str | None = None
    ) -> Rejection:
        """A request refused with ``error`` (its ``details["errors"]`` name the fields);
        ``body`` is the request's, to count the refused events."""
        now = self._clock()
        listed = error.details.get("errors")
        problems = [
            FieldProblem(field=str(entry.get("field", "")), message=str(entry.get("message", "")))
            for entry in (listed if isinstance(listed, list) else [])
            if isinstance(entry, dict)
        ]
        rejection = Rejection(
            at=datetime.fromtimestamp(now, UTC),
            n_events=count_records(body),
            message=error.message,
            problems=tuple(problems[: self.max_problems]),
            n_problems=len(problems),
            key_id=key_id,
        )
        with self._lock:
            self._bucket(now)[2] += rejection.n_events
            self._rejected_events += rejection.n_events
            self._rejected_requests += 1
            self._rejections.append(rejection)
        return rejection

    def per_minute(self) -> list[MinuteCount]:
        """The last ``minutes`` minutes, oldest first, ending with the current one; a
        minute without events counts zero."""
        current = int(self._clock() // SECONDS_PER_MINUTE)
        with self._lock:
            counted = {minute: (accepted, rejected) for minute, accepted, rejected in self._buckets}
        return [
            MinuteCount(
                start=datetime.fromtimestamp(minute * SECONDS_PER_MINUTE, UTC),
                accepted=counted.get(minute, (0, 0))[0],
                rejected=counted.get(minute, (0, 0))[1],
            )
            for minute in range(current - self.minutes + 1, current + 1)
        ]

    def rejections(self) -> list[Rejection]:
        """The most recent rejections, newest first."""
        with self._lock:
            return list(reversed(self._rejections))

    def totals(self) -> IngestTotals:
        with self._lock:
            return IngestTotals(
                since=self._since,
                accepted_events=self._accepted_events,
                accepted_requests=self._accepted_requests,
                rejected_events=self._rejected_events,
                rejected_requests=self._rejected_requests,
            )

    def _bucket(self, now: float) -> list[int]:
        """The current minute's bucket (the lock is held). A clock that stepped back
        counts into the newest bucket rather than reopening an old one."""
        minute = int(now // SECONDS_PER_MINUTE)
        if self._buckets and self._buckets[-1][0] >= minute:
            return self._buckets[-1]
        bucket = [minute, 0, 0]
        self._buckets.append(bucket)  # maxlen drops the bucket older than an hour
        return bucket


__all__ = [
    "FieldProblem",
    "IngestLog",
    "IngestTotals",
    "MinuteCount",
    "Rejection",
    "count_records",
]
