"""Live state that changes with every accepted event: each user's recent history and
purchases, and what is trending.

Models score from these histories at request time, so an event changes the next
recommendations at once, without retraining. Times are Unix seconds; the server's
clock for "this week" and re-buy cycles is the newest event time it has seen (a shop
replaying last year's data gets last year's "this week", not an empty one).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

SECONDS_PER_DAY = 86_400
PURCHASE = "purchase"
ADD_TO_CART = "add_to_cart"
REMOVE_FROM_CART = "remove_from_cart"
TREND_WEIGHTS = {PURCHASE: 5.0, ADD_TO_CART: 3.0}
"""How much one event counts towards trending (others: 1): buying says more than looking."""


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One item event of a user's live history."""

    item: int  # global item code (see ServingCatalog)
    ts: int
    type: str


class Trending:
    """Weighted event counts per item over a sliding window that ends at the newest
    event seen; the ranking is cached for ``refresh_seconds`` of wall time."""

    def __init__(
        self,
        window_days: float,
        refresh_seconds: float = 1.0,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window_seconds = int(window_days * SECONDS_PER_DAY)
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._events: deque[tuple[int, int, float]] = deque()
        self._counts: dict[int, float] = defaultdict(float)
        self._latest = 0
        self._lock = threading.Lock()
        self._ranking: tuple[IntArray, FloatArray] | None = None
        self._ranked_at = 0.0

    def add(self, items: Sequence[int], stamps: Sequence[int], types: Sequence[str]) -> None:
        with self._lock:
            # The clock follows the events but never runs ahead of the wall clock: one
            # event with a wrong future time must not age everything else out.
            latest = max(self._latest, min(max(stamps, default=0), int(self.clock())))
            start = latest - self.window_seconds
            for item, ts, kind in sorted(zip(items, stamps, types, strict=True), key=_by_ts):
                if ts < start:
                    continue
                weight = TREND_WEIGHTS.get(kind, 1.0)
                # A future time (a wrong client clock) counts as now: it must expire in
                # turn, not hold up everything appended after it.
                self._events.append((min(ts, latest), item, weight))
                self._counts[item] += weight
            self._latest = latest
            self._expire()
            # The ranking is not dropped here: under steady ingestion every request would
            # rebuild it; it follows the counts within refresh_seconds.

    def _expire(self) -> None:
        start = self._latest - self.window_seconds
        events, counts = self._events, self._counts
        # Events arrive roughly in time order; a late one stays until it reaches the front.
        while events and events[0][0] < start:
            _, item, weight = events.popleft()
            counts[item] -= weight
            if counts[item] <= 1e-9:
                del counts[item]

    def reset(self) -> None:
        """Forget every count (the caller adds the window's events again)."""
        with self._lock:
            self._events.clear()
            self._counts = defaultdict(float)
            self._ranking = None

    @property
    def latest(self) -> int:
        """The newest event time seen (Unix seconds; 0 before any)."""
        return self._latest

    def ranking(self) -> tuple[IntArray, FloatArray]:
        """Items by trending weight, most first (ties: lower code first)."""
        cached = self._ranking
        if cached is not None and time.monotonic() - self._ranked_at < self.refresh_seconds:
            return cached
        with self._lock:
            items = np.fromiter(self._counts.keys(), dtype=np.int64, count=len(self._counts))
            weights = np.fromiter(self._counts.values(), dtype=np.float64, count=len(items))
        order = np.lexsort((items, -weights))
        ranking = (items[order], weights[order])
        self._ranking, self._ranked_at = ranking, time.monotonic()
        return ranking


def _by_ts(entry: tuple[int, int, str]) -> int:
    return entry[1]


class LiveHistories:
    """Per user: the ``length`` most recent item events of ``event_types`` (time
    ordered), every purchase (item -> times) and the current cart, updated as events
    are stored."""

    def __init__(self, *, length: int, event_types: Sequence[str], trending_days: float) -> None:
        self.length = length
        self.event_types = frozenset(event_types)
        self._recent: dict[str, list[HistoryEvent]] = {}
        self._purchases: dict[str, dict[int, list[int]]] = {}
        self._carts: dict[str, dict[int, None]] = {}
        self._lock = threading.Lock()
        self.trending = Trending(trending_days)

    def __len__(self) -> int:
        """Users with a live history (the metrics gauge reads it after every commit)."""
        return len(self._recent)

    def add(
        self,
        user_ids: Sequence[str],
        items: Sequence[int],
        stamps: Sequence[int],
        types: Sequence[str],
    ) -> None:
        """Record item events (any order): histories, purchases, carts and trending."""
        self._record(user_ids, items, stamps, types, history=True, other=True)

    def _record(
        self,
        user_ids: Sequence[str],
        items: Sequence[int],
        stamps: Sequence[int],
        types: Sequence[str],
        *,
        history: bool,
        other: bool,
    ) -> None:
        trend: tuple[list[int], list[int], list[str]] = ([], [], [])
        with self._lock:
            for user, item, ts, kind in zip(user_ids, items, stamps, types, strict=True):
                if other:
                    self._other(user, item, ts, kind)
                if history and kind in self.event_types:
                    trend[0].append(item)
                    trend[1].append(ts)
                    trend[2].append(kind)
                    self._append(user, HistoryEvent(item=item, ts=ts, type=kind))
        if trend[0]:
            self.trending.add(*trend)

    def _other(self, user: str, item: int, ts: int, kind: str) -> None:
        if kind == PURCHASE:
            self._purchases.setdefault(user, {}).setdefault(item, []).append(ts)
            cart = self._carts.get(user)
            if cart is not None:
                cart.pop(item, None)
        elif kind == ADD_TO_CART:
            self._carts.setdefault(user, {})[item] = None
        elif kind == REMOVE_FROM_CART:
            self._carts.get(user, {}).pop(item, None)

    def _append(self, user: str, event: HistoryEvent) -> None:
        recent = self._recent.setdefault(user, [])
        if not recent or recent[-1].ts <= event.ts:
            recent.append(event)
        else:  # a late event goes where its time says
            position = len(recent)
            while position > 0 and recent[position - 1].ts > event.ts:
                position -= 1
            recent.insert(position, event)
        if len(recent) > self.length:
            del recent[: len(recent) - self.length]

    def load(
        self,
        user_ids: npt.NDArray[np.object_],
        items: IntArray,
        stamps: IntArray,
        types: npt.NDArray[np.object_],
    ) -> None:
        """Bulk start-up load of events ordered by time: keeps only each user's last
        ``length`` history events (vectorised; millions of rows take seconds)."""
        if len(user_ids) == 0:
            return
        users, user_codes = np.unique(user_ids.astype(str), return_inverse=True)
        kinds = types.astype(str)
        in_history = np.flatnonzero(np.isin(kinds, list(self.event_types)))
        # Rank each history event from the newest back, per user; keep rank < length.
        order = in_history[np.lexsort((-np.arange(len(in_history)), user_codes[in_history]))]
        grouped = user_codes[order]
        starts = np.r_[0, np.flatnonzero(np.diff(grouped)) + 1]
        rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
        keep = np.sort(order[rank < self.length])
        self._record(
            users[user_codes[keep]].tolist(),
            items[keep].tolist(),
            stamps[keep].tolist(),
            kinds[keep].tolist(),
            history=True,
            other=False,
        )
        rest = np.flatnonzero(np.isin(kinds, [PURCHASE, ADD_TO_CART, REMOVE_FROM_CART]))
        self._record(
            users[user_codes[rest]].tolist(),
            items[rest].tolist(),
            stamps[rest].tolist(),
            kinds[rest].tolist(),
            history=False,
            other=True,
        )

    def sample(self, n: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
        """Up to ``n`` users' histories (item codes, times), drawn with ``seed`` among
        users who have one: what a typical request scores."""
        with self._lock:
            users = [user for user, events in self._recent.items() if events]
            if not users:
                return []
            rng = np.random.default_rng(seed)
            chosen = rng.choice(len(users), min(n, len(users)), replace=False).tolist()
            return [
                (
                    [event.item for event in self._recent[users[i]]],
                    [event.ts for event in self._recent[users[i]]],
                )
                for i in chosen
            ]

    def knows(self, user_id: str) -> bool:
        return user_id in self._recent or user_id in self._purchases

    def recent(self, user_id: str) -> list[HistoryEvent]:
        """The user's history, oldest first (a copy)."""
        with self._lock:
            return list(self._recent.get(user_id, ()))

    def purchases(self, user_id: str) -> dict[int, list[int]]:
        """Item -> purchase times of the user (a copy)."""
        with self._lock:
            return {item: list(times) for item, times in self._purchases.get(user_id, {}).items()}

    def cart(self, user_id: str) -> list[int]:
        """Items added to the cart and neither removed nor bought since, in the order
        added."""
        with self._lock:
            return list(self._carts.get(user_id, ()))

    def forget(self, user_id: str) -> None:
        """Erase the user's history, purchases and cart (erasure). Their share of
        trending may reach further back than the kept history: the server rebuilds
        trending from the store afterwards."""
        with self._lock:
            self._recent.pop(user_id, None)
            self._purchases.pop(user_id, None)
            self._carts.pop(user_id, None)

    def add_trending(
        self, items: Sequence[int], stamps: Sequence[int], types: Sequence[str]
    ) -> None:
        """Count events towards trending only (the rebuild after an erasure)."""
        kept = [
            (item, ts, kind)
            for item, ts, kind in zip(items, stamps, types, strict=True)
            if kind in self.event_types
        ]
        if kept:
            self.trending.add(*map(list, zip(*kept, strict=True)))


__all__ = ["HistoryEvent", "LiveHistories", "Trending"]
