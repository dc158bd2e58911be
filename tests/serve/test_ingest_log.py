"""The ingestion log: per-minute counts over a rolling hour, totals, the bounded ring of
rejections (newest first, with their field reasons), thread safety, and the hook in
``POST /v1/events``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopsense.core.errors import ValidationFailedError
from shopsense.serve.ingest_log import FieldProblem, IngestLog, count_records
from tests.serve.conftest import Api, copy_shop, start_api

START = datetime(2025, 3, 1, 12, 0, 10, tzinfo=UTC).timestamp()


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def bad_request(*fields: str) -> ValidationFailedError:
    return ValidationFailedError(
        f"{fields[0]}: bad",
        details={"errors": [{"field": field, "message": f"{field} is bad"} for field in fields]},
    )


def test_counts_fall_into_their_minute_and_the_hour_rolls_on() -> None:
    clock = FakeClock()
    log = IngestLog(minutes=60, clock=clock)
    log.record_accepted(5)
    log.record_accepted(3)
    log.record_rejected(bad_request("type"), body=b'{"events": [{}, {}]}')
    clock.now += 120  # two minutes later
    log.record_accepted(7)

    minutes = log.per_minute()
    assert len(minutes) == 60
    assert minutes[-1].start == datetime(2025, 3, 1, 12, 2, tzinfo=UTC)
    assert (minutes[-1].accepted, minutes[-1].rejected) == (7, 0)
    assert (minutes[-2].accepted, minutes[-2].rejected) == (0, 0)
    assert (minutes[-3].accepted, minutes[-3].rejected) == (8, 2)
    assert minutes[0].start == datetime(2025, 3, 1, 11, 3, tzinfo=UTC)

    clock.now += 59 * 60  # the first minute is now 61 minutes old: out of the hour
    assert sum(minute.accepted for minute in log.per_minute()) == 7
    clock.now += 60
    assert sum(minute.accepted for minute in log.per_minute()) == 0

    totals = log.totals()
    assert (totals.accepted_events, totals.accepted_requests) == (15, 3)
    assert (totals.rejected_events, totals.rejected_requests) == (2, 1)
    assert totals.since == datetime.fromtimestamp(START, UTC)


def test_a_clock_stepping_back_counts_into_the_newest_minute() -> None:
    clock = FakeClock()
    log = IngestLog(clock=clock)
    log.record_accepted(1)
    clock.now -= 300
    log.record_accepted(2)
    clock.now += 300
    assert log.per_minute()[-1].accepted == 3


def test_rejections_are_newest_first_and_bounded() -> None:
    clock = FakeClock()
    log = IngestLog(max_rejections=3, max_problems=2, clock=clock)
    for index in range(5):
        clock.now += 1
        log.record_rejected(
            bad_request(f"events[{index}].ts", "events[9].type", "events[9].user_id"),
            body=b"[{}, {}, {}]",
            key_id=f"key{index}",
        )
    rejections = log.rejections()
    assert [rejection.key_id for rejection in rejections] == ["key4", "key3", "key2"]
    newest = rejections[0]
    assert newest.n_events == 3
    assert newest.problems == (
        FieldProblem("events[4].ts", "events[4].ts is bad"),
        FieldProblem("events[9].type", "events[9].type is bad"),
    )
    assert newest.n_problems == 3
    assert newest.message == "events[4].ts: bad"
    assert newest.at == datetime.fromtimestamp(START + 5, UTC)
    assert log.totals().rejected_requests == 5  # totals count what the ring forgot


def test_a_rejection_without_field_details_keeps_its_message() -> None:
    log = IngestLog(clock=FakeClock())
    rejection = log.record_rejected(
        ValidationFailedError("the body is empty; send a JSON object"), body=b""
    )
    assert rejection.problems == ()
    assert rejection.message == "the body is empty; send a JSON object"
    assert rejection.n_events == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"events": [{}, {}, {}]}', 3),
        (b"[{}, {}]", 2),
        (b'{"type": "view", "user_id": "u1"}', 1),
        (b'{"events": []}', 0),
        (b"not json", 1),
        (b"   ", 1),
        (b'{"events": "nope"}', 1),
    ],
)
def test_count_records_reads_every_body_shape(body: bytes, expected: int) -> None:
    assert count_records(body) == expected


def test_the_log_is_bounded_and_rejects_nonsense_sizes() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        IngestLog(minutes=0)
    clock = FakeClock()
    log = IngestLog(minutes=5, clock=clock)
    for _ in range(100):
        log.record_accepted(1)
        clock.now += 60
    assert len(log._buckets) == 5


def test_concurrent_recording_loses_nothing() -> None:
    log = IngestLog(clock=FakeClock())

    def send() -> None:
        for _ in range(1_000):
            log.record_accepted(2)
            log.record_rejected(bad_request("type"), body=b"[{}]")

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    totals = log.totals()
    assert (totals.accepted_events, totals.rejected_events) == (16_000, 8_000)
    assert log.per_minute()[-1].accepted == 16_000
    assert log.per_minute()[-1].rejected == 8_000


@pytest.fixture
def api(trained_shop: Path, tmp_path: Path) -> Iterator[Api]:
    yield from start_api(copy_shop(trained_shop, tmp_path))


def test_the_events_endpoint_records_what_it_accepts_and_rejects(api: Api) -> None:
    log = api.client.app.state.server.ingest_log  # type: ignore[attr-defined]
    event = {"type": "view", "user_id": "u1", "item_id": "i1", "ts": "2025-01-01T10:00:00Z"}
    accepted = api.client.post(
        "/v1/events",
        json={"events": [event, {**event, "user_id": "u2"}]},
        headers=api.headers("ingest"),
    )
    assert accepted.status_code == 200, accepted.text
    refused = api.client.post(
        "/v1/events",
        json={"events": [event, {**event, "ts": "2025-01-01T10:00:00"}]},
        headers=api.headers("ingest"),
    )
    assert refused.status_code == 422
    empty = api.client.post("/v1/events", content=b"", headers=api.headers("ingest"))
    assert empty.status_code == 422

    totals = log.totals()
    assert (totals.accepted_events, totals.accepted_requests) == (2, 1)
    assert (totals.rejected_events, totals.rejected_requests) == (3, 2)
    newest, older = log.rejections()
    assert newest.problems == () and "empty" in newest.message
    assert [problem.field for problem in older.problems] == ["events[1].ts"]
    assert older.problems[0].message == refused.json()["errors"][0]["message"]
    assert older.key_id == api.keys["ingest"].split("_")[1]
    assert older.n_events == 2
