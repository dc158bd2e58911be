"""Units of the serving state: live histories and trending, and the writer thread
(group commit, ordering, cancelled requests) on a real in-memory store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import CancelledError
from datetime import UTC, datetime

import pytest

from shopsense.core.errors import ServiceUnavailableError
from shopsense.data.schemas import Event
from shopsense.serve.ingest import Writer
from shopsense.serve.live import SECONDS_PER_DAY, LiveHistories, Trending
from shopsense.store import open_store
from shopsense.store.base import events_to_table

NOW = int(time.time())


def histories(length: int = 3) -> LiveHistories:
    return LiveHistories(
        length=length, event_types=("view", "add_to_cart", "purchase"), trending_days=7
    )


def test_history_keeps_the_latest_events_in_time_order_and_late_events_in_place() -> None:
    live = histories(length=3)
    live.add(["u"] * 3, [1, 2, 3], [NOW - 30, NOW - 20, NOW - 10], ["view"] * 3)
    live.add(["u"], [4], [NOW - 15], ["view"])  # late: goes between 2 and 3
    assert [event.item for event in live.recent("u")] == [2, 4, 3]  # 1 fell off
    assert [event.ts for event in live.recent("u")] == sorted(e.ts for e in live.recent("u"))


def test_cart_follows_adds_removes_and_purchases() -> None:
    live = histories()
    live.add(["u"] * 3, [1, 2, 3], [NOW] * 3, ["add_to_cart"] * 3)
    live.add(["u", "u"], [2, 3], [NOW + 1] * 2, ["remove_from_cart", "purchase"])
    assert live.cart("u") == [1]
    assert live.purchases("u") == {3: [NOW + 1]}


def test_trending_counts_a_sliding_window_weighted_by_type() -> None:
    trending = Trending(window_days=7)
    trending.add([1, 2, 2], [NOW - 8 * SECONDS_PER_DAY, NOW - 1, NOW], ["view", "view", "purchase"])
    items, weights = trending.ranking()
    assert items.tolist() == [2] and weights.tolist() == [6.0]  # 1 is outside the window


def test_an_event_from_the_future_does_not_stop_trending_from_expiring() -> None:
    wall = [float(NOW)]
    trending = Trending(window_days=7, refresh_seconds=0, clock=lambda: wall[0])
    trending.add([1], [NOW + 365 * SECONDS_PER_DAY], ["view"])  # a wrong client clock
    trending.add([2], [NOW - 6 * SECONDS_PER_DAY], ["view"])
    assert sorted(trending.ranking()[0].tolist()) == [1, 2]
    assert trending.latest == NOW  # the clock never runs ahead of the wall clock
    wall[0] = NOW + 20 * SECONDS_PER_DAY  # twenty days on, an event arrives
    trending.add([3], [NOW + 20 * SECONDS_PER_DAY], ["view"])
    assert trending.ranking()[0].tolist() == [3]


def test_forget_erases_history_purchases_and_cart() -> None:
    live = histories()
    live.add(["u", "u", "v"], [1, 2, 1], [NOW, NOW, NOW], ["purchase", "add_to_cart", "view"])
    live.forget("u")
    assert not live.knows("u")
    assert live.recent("u") == [] and live.purchases("u") == {} and live.cart("u") == []
    assert live.knows("v")


def test_sample_draws_users_with_a_history() -> None:
    live = histories()
    live.add(["a", "b"], [1, 2], [NOW, NOW], ["view", "view"])
    sample = live.sample(5)
    assert sorted(items for items, _ in sample) == [[1], [2]]


# -- the writer ------------------------------------------------------------------------


def events(prefix: str, n: int) -> list[Event]:
    ts = datetime.now(UTC)
    return [
        Event(event_id=f"{prefix}{i}", type="view", user_id="u", item_id=f"i{i}", ts=ts)
        for i in range(n)
    ]


@pytest.fixture
def writer() -> Iterator[Writer]:
    store = open_store("duckdb://:memory:")
    stored: list[int] = []
    writer = Writer(store, on_stored=lambda table, ids: stored.append(len(ids)))
    writer.start()
    yield writer
    writer.stop()
    store.close()


def test_concurrent_batches_share_a_commit_and_each_gets_its_own_counts(writer: Writer) -> None:
    gate = threading.Event()
    writer.call(gate.wait)  # hold the writer so that the next batches queue up
    first = writer.append(events_to_table(events("a", 3)))
    second = writer.append(events_to_table([*events("a", 1), *events("b", 2)]))
    commits_before = writer.commits
    gate.set()
    assert first.result(10).inserted == 3
    assert second.result(10).inserted == 2  # a0 was the first batch's
    assert writer.commits == commits_before + 1  # one transaction for both
    assert writer.store.count_events() == 5


def test_a_request_that_gave_up_does_not_stop_the_writer(writer: Writer) -> None:
    gate = threading.Event()
    writer.call(gate.wait)
    abandoned = writer.append(events_to_table(events("x", 2)))
    waiting = writer.append(events_to_table(events("y", 2)))
    assert abandoned.cancel()
    gate.set()
    assert waiting.result(10).inserted == 2
    with pytest.raises(CancelledError):
        abandoned.result(1)
    assert writer.running
    assert writer.append(events_to_table(events("z", 1))).result(10).inserted == 1
    assert writer.store.count_events() == 5  # the abandoned batch is stored (idempotent)


def test_writes_after_stop_are_refused(writer: Writer) -> None:
    writer.stop()
    with pytest.raises(ServiceUnavailableError):
        writer.append(events_to_table(events("late", 1)))
    with pytest.raises(ServiceUnavailableError):
        writer.call(lambda: None)


def test_a_failing_call_reports_its_error_and_the_writer_goes_on(writer: Writer) -> None:
    def broken() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        writer.call(broken).result(10)
    assert writer.call(lambda: 42).result(10) == 42
