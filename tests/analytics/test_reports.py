"""Each analytics report on small shops whose answers are worked out by hand or by brute
force (the Online Retail checks against pandas are in test_online_retail.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest

from shopsense.analytics import (
    MAX_BREAKDOWN_VALUES,
    OTHER_VALUE,
    Breakdown,
    Report,
    Window,
    attribution,
    commerce,
    funnel,
    lifecycle,
    retention,
    stickiness,
)
from shopsense.analytics._query import day_of, fixed_offset_microseconds
from shopsense.analytics.requests import REQUESTS, FunnelRequest, StickinessRequest
from shopsense.core.errors import ValidationFailedError
from shopsense.core.settings import AnalyticsSettings
from shopsense.data.schemas import Event, User
from shopsense.store import Store, open_store
from shopsense.store.base import AnalyticsSession, ServedRecommendation


def at(day: str, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=UTC)


def event(kind: str, user: str, ts: datetime, item: str | None = "i1", **fields: object) -> Event:
    return Event(type=kind, user_id=user, item_id=item, ts=ts, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store("duckdb://:memory:") as opened:
        yield opened


# -- stickiness ---------------------------------------------------------------------------


def test_rolling_wau_and_mau_equal_brute_force(store: Store) -> None:
    rng = np.random.default_rng(7)
    start = date(2024, 1, 1)
    events = []
    for user in range(60):
        # Bursty users: some daily, some monthly, gaps of every length around 7 and 30.
        n = int(rng.integers(1, 25))
        for day in rng.integers(0, 120, size=n):
            events.append(event("view", f"u{user}", at(str(start + timedelta(days=int(day))))))
    store.append_events(events)
    window = Window(date(2024, 2, 1), date(2024, 4, 20))
    report = stickiness(store, window, interval="day")
    days_by_user: dict[str, set[date]] = {}
    for e in events:
        days_by_user.setdefault(e.user_id, set()).add(e.ts.date())
    rows = report.tables["series"].records()
    assert len(rows) == window.days
    for row in rows:
        day = date.fromisoformat(row["period"])

        def active(span: int, day: date = day) -> int:
            first = day - timedelta(days=span - 1)
            return sum(any(first <= d <= day for d in days) for days in days_by_user.values())

        assert row["dau"] == active(1)
        assert row["wau"] == active(7)
        assert row["mau"] == active(30)
        assert row["active_users"] == active(1)
        expected = active(1) / active(30) if active(30) else None
        assert row["stickiness"] == pytest.approx(expected, abs=1e-6)


def test_active_days_count_whole_weeks_inside_the_window(store: Store) -> None:
    # 2024-01-01 is a Monday. u1: 3 days in week 1, 1 day in week 2; u2: 7 days in week 1.
    days = {"u1": ["2024-01-01", "2024-01-03", "2024-01-05", "2024-01-09"]}
    days["u2"] = [f"2024-01-0{d}" for d in range(1, 8)]
    store.append_events(
        [event("view", user, at(day)) for user, listed in days.items() for day in listed]
        + [event("view", "u1", at("2024-01-15"))]  # week 3 is cut by the window's end
    )
    report = stickiness(store, Window(date(2024, 1, 1), date(2024, 1, 17)))
    weeks = {
        row["active_days"]: row["users"]
        for row in report.tables["active_days"].records()
        if row["unit"] == "week"
    }
    assert weeks == {3: 1, 7: 1, 1: 1}
    assert report.summary["active_users"] == 2


def test_stickiness_breakdown_by_user_attribute_and_type_filter(store: Store) -> None:
    store.upsert_users(
        [User(user_id="a", attributes={"country": "FR"}), User(user_id="b", attributes={})]
    )
    store.append_events(
        [
            event("view", "a", at("2024-01-02")),
            event("view", "b", at("2024-01-02")),
            event("purchase", "b", at("2024-01-03"), price=1.0),
        ]
    )
    window = Window(date(2024, 1, 2), date(2024, 1, 4))
    by_country = stickiness(store, window, breakdown=Breakdown.parse("user.country"))
    rows = {(r["period"], r["breakdown"]): r["dau"] for r in by_country.tables["series"].records()}
    assert rows == {
        ("2024-01-02", "(none)"): 1,
        ("2024-01-02", "FR"): 1,
        ("2024-01-03", "(none)"): 1,
        ("2024-01-03", "FR"): 0,
    }
    buyers = stickiness(store, window, types=("purchase",))
    assert [r["dau"] for r in buyers.tables["series"].records()] == [0, 1]


def test_days_follow_the_time_zone(store: Store) -> None:
    # 23:30 UTC on Jan 1 is Jan 2 in Shanghai.
    store.append_events([event("view", "u", at("2024-01-01", 23, 30))])
    utc = stickiness(store, Window(date(2024, 1, 1), date(2024, 1, 3)))
    shanghai = stickiness(store, Window(date(2024, 1, 1), date(2024, 1, 3), "Asia/Shanghai"))
    assert [r["dau"] for r in utc.tables["series"].records()] == [1, 0]
    assert [r["dau"] for r in shanghai.tables["series"].records()] == [0, 1]


# -- retention ----------------------------------------------------------------------------


@pytest.fixture
def weekly_shop(store: Store) -> Store:
    """Weeks from Monday 2024-01-01. a: weeks 0, 1, 3. b: weeks 0, 2. c: weeks 1, 2.
    d: a view in week 0 and first purchase in week 1."""
    weeks = {"a": [0, 1, 3], "b": [0, 2], "c": [1, 2]}
    events = [
        event("view", user, at("2024-01-01") + timedelta(weeks=week))
        for user, listed in weeks.items()
        for week in listed
    ]
    events += [
        event("view", "d", at("2024-01-02")),
        event("purchase", "d", at("2024-01-09"), price=5.0),
    ]
    store.append_events(events)
    return store


def matrix(report_rows: list[dict[str, object]]) -> dict[tuple[str, int], int]:
    return {(str(r["cohort"]), int(r["k"])): int(r["users"]) for r in report_rows}  # type: ignore[call-overload]


def test_retention_matrix_first_time_on_and_on_or_after(weekly_shop: Store) -> None:
    window = Window(date(2024, 1, 1), date(2024, 1, 29))
    on = retention(weekly_shop, window, interval="week")
    rows = matrix(on.tables["matrix"].records())
    assert rows[("2024-01-01", 0)] == 3 and rows[("2024-01-01", 1)] == 2
    assert rows[("2024-01-01", 2)] == 1 and rows[("2024-01-01", 3)] == 1
    assert rows[("2024-01-08", 0)] == 1 and rows[("2024-01-08", 1)] == 1
    assert rows[("2024-01-08", 2)] == 0
    assert ("2024-01-08", 3) not in rows  # starts after the window: not observed
    after = matrix(
        retention(weekly_shop, window, interval="week", mode="on_or_after")
        .tables["matrix"]
        .records()
    )
    assert after[("2024-01-01", 1)] == 3  # a (1, 3), b (2), d (1)
    assert after[("2024-01-01", 2)] == 2  # a, b
    assert after[("2024-01-01", 3)] == 1  # a
    curve = {r["k"]: r for r in on.tables["curve"].records()}
    assert curve[1]["cohort_users"] == 4 and curve[1]["users"] == 3
    assert curve[1]["share"] == pytest.approx(0.75)
    assert curve[3]["cohorts"] == 1


def test_retention_by_first_purchase_and_recurring(weekly_shop: Store) -> None:
    window = Window(date(2024, 1, 1), date(2024, 1, 29))
    buyers = retention(weekly_shop, window, interval="week", start_types=("purchase",))
    assert matrix(buyers.tables["matrix"].records())[("2024-01-08", 0)] == 1
    assert buyers.summary == {"cohorts": 1, "users": 1}
    recurring = matrix(
        retention(weekly_shop, window, interval="week", cohort="recurring")
        .tables["matrix"]
        .records()
    )
    # Week 1 is a cohort of a, c, d (all active in it); back in week 2: c.
    assert recurring[("2024-01-08", 0)] == 3
    assert recurring[("2024-01-08", 1)] == 1


def test_first_time_cohorts_skip_users_first_seen_before_the_window(weekly_shop: Store) -> None:
    report = retention(weekly_shop, Window(date(2024, 1, 8), date(2024, 1, 29)), interval="week")
    assert matrix(report.tables["matrix"].records())[("2024-01-08", 0)] == 1  # c only


# -- lifecycle ----------------------------------------------------------------------------


def test_lifecycle_statuses(weekly_shop: Store) -> None:
    report = lifecycle(weekly_shop, Window(date(2024, 1, 1), date(2024, 1, 29)), interval="week")
    got = {(r["period"], r["status"]): r["users"] for r in report.tables["series"].records()}
    assert got == {
        ("2024-01-01", "new"): 3,  # a, b, d
        ("2024-01-08", "new"): 1,  # c
        ("2024-01-08", "returning"): 2,  # a, d
        ("2024-01-08", "dormant"): -1,  # b
        ("2024-01-15", "returning"): 1,  # c
        ("2024-01-15", "resurrecting"): 1,  # b
        ("2024-01-15", "dormant"): -2,  # a, d
        ("2024-01-22", "resurrecting"): 1,  # a
        ("2024-01-22", "dormant"): -2,  # b, c
    }
    assert report.summary == {"new": 4, "returning": 3, "resurrecting": 2, "dormant": -5}


# -- funnels ------------------------------------------------------------------------------


def test_funnel_order_window_and_same_type_steps(store: Store) -> None:
    t = at("2024-01-02")
    store.append_events(
        [
            # u1 converts fully: view, cart 10 min later, purchase 1 h later.
            event("view", "u1", t),
            event("add_to_cart", "u1", t + timedelta(minutes=10)),
            event("purchase", "u1", t + timedelta(hours=1), price=3.0),
            # u2 carts before viewing: not in order, so only step 1.
            event("add_to_cart", "u2", t - timedelta(hours=1)),
            event("view", "u2", t),
            # u3 views, carts 3 days later: outside a 2-day window.
            event("view", "u3", t),
            event("add_to_cart", "u3", t + timedelta(days=3)),
            # u4 views and carts at the same instant: different types may tie.
            event("view", "u4", t),
            event("add_to_cart", "u4", t),
        ]
    )
    report = funnel(
        store,
        Window(date(2024, 1, 1), date(2024, 1, 10)),
        ("view", "add_to_cart", "purchase"),
        conversion_window=timedelta(days=2),
    )
    steps = report.tables["steps"].records()
    assert [s["users"] for s in steps] == [4, 2, 1]
    assert steps[1]["conversion_from_previous"] == pytest.approx(0.5)
    assert steps[2]["conversion_overall"] == pytest.approx(0.25)
    assert steps[1]["median_seconds_from_previous"] == pytest.approx(300.0)  # 0 and 600 s
    assert steps[2]["median_seconds_from_start"] == pytest.approx(3600.0)
    assert report.summary["conversion"] == pytest.approx(0.25)
    repeat = funnel(store, Window(date(2024, 1, 1), date(2024, 1, 10)), ("view", "view"))
    assert [s["users"] for s in repeat.tables["steps"].records()] == [4, 0]


def test_funnel_breakdown_by_event_property(store: Store) -> None:
    t = at("2024-01-02")
    store.append_events(
        [
            event("view", "u1", t, props={"channel": "email"}),
            event("purchase", "u1", t + timedelta(hours=1), price=1.0),
            event("view", "u2", t, props={"channel": "ads"}),
        ]
    )
    report = funnel(
        store,
        Window(date(2024, 1, 1), date(2024, 1, 3)),
        ("view", "purchase"),
        breakdown=Breakdown.parse("event.channel"),
    )
    got = {(r["breakdown"], r["step"]): r["users"] for r in report.tables["steps"].records()}
    assert got == {("ads", 1): 1, ("ads", 2): 0, ("email", 1): 1, ("email", 2): 1}


# -- commerce -----------------------------------------------------------------------------


def test_commerce_orders_gmv_repeat_and_gaps(store: Store) -> None:
    store.append_events(
        [
            # a: an order before the window, then two in it (two lines in the first).
            event("purchase", "a", at("2023-12-20"), order_id="o0", price=10.0),
            event("purchase", "a", at("2024-01-02"), order_id="o1", price=10.0, quantity=2),
            event("purchase", "a", at("2024-01-02"), "i2", order_id="o1", price=5.0),
            event("purchase", "a", at("2024-01-12"), order_id="o2", price=20.0),
            # b: one order without an order id (one instant) and one return.
            event("purchase", "b", at("2024-01-03"), price=7.0),
            event("purchase", "b", at("2024-01-03"), "i3", price=3.0),
            event("return", "b", at("2024-01-04"), price=3.0),
        ]
    )
    report = commerce(store, Window(date(2024, 1, 1), date(2024, 2, 1)), interval="month")
    summary = report.summary
    assert summary["orders"] == 3 and summary["buyers"] == 2
    assert summary["gmv"] == pytest.approx(25.0 + 20.0 + 10.0)
    assert summary["aov"] == pytest.approx(55.0 / 3)
    assert summary["repeat_purchase_rate"] == pytest.approx(0.5)  # a has two
    assert summary["returning_buyer_rate"] == pytest.approx(0.5)  # a bought before
    # Gaps to the previous order: a 13 days (o0 -> o1) and 10 days (o1 -> o2).
    assert summary["median_days_between_orders"] == pytest.approx(11.5)
    (month,) = report.tables["series"].records()
    assert month["new_buyers"] == 1 and month["repeat_buyers"] == 1
    assert month["returned_value"] == pytest.approx(3.0)


# -- attribution --------------------------------------------------------------------------


def test_attribution_credits_direct_and_clicked_purchases_within_the_window(store: Store) -> None:
    t = at("2024-01-01", 10)
    store.log_served(
        [
            ServedRecommendation(
                "r1",
                "u1",
                "home",
                "als",
                3,
                ("a", "b", "c"),
                t,
                {"experiment": "e", "variant": "B"},
            ),
            ServedRecommendation("r2", "u2", "home", "popular", 1, ("a", "d"), t, {}),
            ServedRecommendation("r3", "u3", "item", "als", 3, ("x",), t, {}),
        ]
    )
    store.append_events(
        [
            event("impression", "u1", t, None, rec_id="r1"),
            event("click", "u1", t + timedelta(minutes=1), "b", rec_id="r1"),
            # Bought what they clicked, 2 h later (credited), and again 30 h later (not).
            event("purchase", "u1", t + timedelta(hours=2), "b", price=10.0, quantity=2),
            event("purchase", "u1", t + timedelta(hours=30), "b", price=10.0),
            # Cites the list directly.
            event("purchase", "u2", t + timedelta(hours=1), "d", price=5.0, rec_id="r2"),
            # Not from a list.
            event("purchase", "u9", t + timedelta(hours=1), "z", price=100.0),
        ]
    )
    report = attribution(
        store, Window(date(2024, 1, 1), date(2024, 1, 3)), by=("scenario", "model", "variant")
    )
    rows = {(r["scenario"], r["model"], r["variant"]): r for r in report.tables["lists"].records()}
    assert rows[("home", "als", "B")]["lists_viewed"] == 1
    assert rows[("home", "als", "B")]["clicks"] == 1
    assert rows[("home", "als", "B")]["conversions"] == 1
    assert rows[("home", "als", "B")]["gmv"] == pytest.approx(20.0)
    assert rows[("home", "popular", "(none)")]["gmv"] == pytest.approx(5.0)
    assert rows[("item", "als", "(none)")]["ctr"] == 0
    assert report.summary["ctr"] == pytest.approx(1 / 3, abs=1e-6)
    assert report.summary["shop_gmv"] == pytest.approx(135.0)
    assert report.summary["share_of_gmv"] == pytest.approx(25.0 / 135.0, abs=1e-6)
    total = attribution(store, Window(date(2024, 1, 1), date(2024, 1, 3)), by=())
    assert total.tables["lists"].records()[0]["lists"] == 3
    with pytest.raises(ValidationFailedError, match="cannot group"):
        attribution(store, Window(date(2024, 1, 1), date(2024, 1, 3)), by=("colour",))


# -- requests -----------------------------------------------------------------------------


def test_requests_default_to_the_days_before_the_newest_event(store: Store) -> None:
    store.append_events([event("view", "u", at("2024-03-10"))])
    settings = AnalyticsSettings(default_days=30)
    window = StickinessRequest().window(store, settings)
    assert (window.start, window.end) == (date(2024, 2, 10), date(2024, 3, 11))
    assert StickinessRequest(days=7).window(store, settings).start == date(2024, 3, 4)
    report = FunnelRequest(steps="view,purchase").run(store, settings)
    assert report.summary["entered"] == 1


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        ("retention", {"interval": "year"}, "interval"),
        ("retention", {"cohort": "sometimes"}, "cohort"),
        ("funnel", {"steps": "view"}, "2 to 10 steps"),
        ("stickiness", {"breakdown": "colour"}, "event.<property>"),
        ("stickiness", {"start": "2024-02-01", "end": "2024-01-01"}, "exclusive"),
        ("stickiness", {"timezone": "Mars/Base"}, "time zone"),
        ("attribution", {"window_hours": -1}, "window_hours"),
    ],
)
def test_bad_requests_say_what_to_fix(
    store: Store, kind: str, values: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        REQUESTS[kind].parse(**values).run(store, AnalyticsSettings())


def test_retention_over_one_period_or_a_long_daily_window_needs_no_periods(
    weekly_shop: Store,
) -> None:
    one_month = retention(weekly_shop, Window(date(2024, 1, 1), date(2024, 2, 1)), interval="month")
    assert [r["k"] for r in one_month.tables["matrix"].records()] == [0]
    long_daily = retention(weekly_shop, Window(date(2023, 1, 1), date(2024, 3, 1)), interval="day")
    assert max(r["k"] for r in long_daily.tables["matrix"].records()) <= 400
    assert long_daily.query["periods"] == 400


def test_share_of_gmv_counts_the_same_purchase_times(store: Store) -> None:
    served_at = at("2024-01-31", 23)
    store.log_served([ServedRecommendation("r1", "u1", "home", "als", 1, ("a",), served_at)])
    store.append_events(
        [
            event("purchase", "u1", served_at + timedelta(hours=2), "a", price=100.0, rec_id="r1"),
            event("purchase", "u2", at("2024-01-15"), "b", price=10.0),
        ]
    )
    report = attribution(store, Window(date(2024, 1, 1), date(2024, 2, 1)), by=())
    assert report.summary["gmv"] == pytest.approx(100.0)
    assert report.summary["share_of_gmv"] == pytest.approx(100.0 / 110.0, abs=1e-6)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(1, 1, 1), date(2024, 1, 1), "between the years"),
        (date(2000, 1, 1), date(2024, 1, 1), "ten years"),
    ],
)
def test_windows_out_of_range_are_refused(start: date, end: date, message: str) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        Window(start, end)


# -- regressions --------------------------------------------------------------------------


def test_retention_counts_whole_periods_from_the_bucket_of_start(store: Store) -> None:
    # The window starts on Wednesday 2024-01-03; its first week starts on Monday 01-01.
    store.append_events(
        [
            event("view", "monday", at("2024-01-01")),  # before start, same week
            event("view", "monday", at("2024-01-08")),
            event("view", "wednesday", at("2024-01-03")),
            event("view", "wednesday", at("2024-01-10")),
        ]
    )
    window = Window(date(2024, 1, 3), date(2024, 1, 15))
    first_time = matrix(retention(store, window, interval="week").tables["matrix"].records())
    assert first_time == {("2024-01-01", 0): 2, ("2024-01-01", 1): 2}
    recurring = retention(store, window, interval="week", cohort="recurring")
    assert matrix(recurring.tables["matrix"].records()) == {
        ("2024-01-01", 0): 2,
        ("2024-01-01", 1): 2,
        ("2024-01-08", 0): 2,
    }


def test_funnel_never_uses_one_event_for_two_steps(store: Store) -> None:
    t = at("2024-01-02")
    store.append_events(
        [
            # u1: a view and a cart at one instant; no other view, so no step 3.
            event("view", "u1", t),
            event("add_to_cart", "u1", t),
            # u2: the same, and a second view later.
            event("view", "u2", t),
            event("add_to_cart", "u2", t),
            event("view", "u2", t + timedelta(hours=1)),
        ]
    )
    report = funnel(
        store, Window(date(2024, 1, 1), date(2024, 1, 10)), ("view", "add_to_cart", "view")
    )
    assert [s["users"] for s in report.tables["steps"].records()] == [2, 2, 1]


def test_lifecycle_splits_users_by_attribute_only(store: Store) -> None:
    store.upsert_users(
        [
            User(user_id="a", attributes={"country": "FR"}),
            User(user_id="c", attributes={"country": "DE"}),
        ]
    )
    store.append_events(
        [
            event("view", "c", at("2023-12-27")),  # dormant in the first week
            event("view", "a", at("2024-01-01")),
            event("purchase", "a", at("2024-01-09"), price=1.0),
            event("view", "a", at("2024-01-09")),
            event("view", "b", at("2024-01-09")),
        ]
    )
    window = Window(date(2024, 1, 1), date(2024, 1, 15))
    with pytest.raises(ValidationFailedError, match=r"use user\.<attribute>"):
        lifecycle(store, window, breakdown=Breakdown.parse("event.type"))
    by_country = lifecycle(store, window, breakdown=Breakdown.parse("user.country"))
    got = {
        (r["period"], r["breakdown"], r["status"]): r["users"]
        for r in by_country.tables["series"].records()
    }
    assert got == {
        ("2024-01-01", "DE", "dormant"): -1,
        ("2024-01-01", "FR", "new"): 1,
        ("2024-01-08", "(none)", "new"): 1,
        ("2024-01-08", "FR", "returning"): 1,
    }
    plain = lifecycle(store, window)
    assert {k: by_country.summary[k] for k in plain.summary} == plain.summary


def test_commerce_breakdown_by_a_line_property_credits_each_line(store: Store) -> None:
    store.append_events(
        [
            event("purchase", "a", at("2024-01-02"), "i1", order_id="o1", price=10.0, quantity=2),
            event("purchase", "a", at("2024-01-02"), "i2", order_id="o1", price=5.0),
            event("purchase", "b", at("2024-01-03"), "i1", order_id="o2", price=20.0),
        ]
    )
    window = Window(date(2024, 1, 1), date(2024, 2, 1))
    report = commerce(store, window, interval="month", breakdown=Breakdown.parse("event.item_id"))
    rows = {r["breakdown"]: r for r in report.tables["series"].records()}
    assert {value: (r["orders"], r["buyers"], r["gmv"]) for value, r in rows.items()} == {
        "i1": (2, 2, 40.0),
        "i2": (1, 1, 5.0),
    }
    assert rows["i1"]["aov"] == pytest.approx(20.0)
    # The summary counts each order once, whatever the breakdown.
    assert report.summary["orders"] == 2 and report.summary["gmv"] == pytest.approx(45.0)


@pytest.fixture
def crowded_shop(store: Store) -> Store:
    """25 segments: s00 has 3 users, s01 2, the others 1 each; every user views and buys
    on 2024-01-02 (one order each)."""
    sizes = {f"s{n:02d}": 3 if n == 0 else 2 if n == 1 else 1 for n in range(25)}
    users = [(f"{segment}-{i}", segment) for segment, size in sizes.items() for i in range(size)]
    store.upsert_users([User(user_id=user, attributes={"segment": s}) for user, s in users])
    store.append_events(
        [event("view", user, at("2024-01-02")) for user, _ in users]
        + [
            event("purchase", user, at("2024-01-02", 13), order_id=f"o-{user}", price=1.0)
            for user, _ in users
        ]
    )
    return store


def _report_with_breakdown(kind: str, store: Store, breakdown: Breakdown) -> Report:
    window = Window(date(2024, 1, 1), date(2024, 1, 8))
    if kind == "stickiness":
        return stickiness(store, window, breakdown=breakdown)
    if kind == "retention":
        return retention(store, window, interval="day", breakdown=breakdown)
    if kind == "lifecycle":
        return lifecycle(store, window, interval="day", breakdown=breakdown)
    if kind == "funnel":
        return funnel(store, window, ("view", "purchase"), breakdown=breakdown)
    return commerce(store, window, interval="day", breakdown=breakdown)


@pytest.mark.parametrize(
    ("kind", "table"),
    [
        ("stickiness", "series"),
        ("retention", "matrix"),
        ("lifecycle", "series"),
        ("funnel", "steps"),
        ("commerce", "series"),
    ],
)
def test_breakdowns_keep_the_top_values_and_fold_the_rest(
    crowded_shop: Store, kind: str, table: str
) -> None:
    report = _report_with_breakdown(kind, crowded_shop, Breakdown.parse("user.segment"))
    values = set(report.tables[table].column("breakdown"))
    kept = {f"s{n:02d}" for n in range(MAX_BREAKDOWN_VALUES)}
    assert values == kept | {OTHER_VALUE}
    assert report.summary["breakdown_values"] == 25
    assert report.summary["folded_values"] == 25 - MAX_BREAKDOWN_VALUES
    assert report.query["breakdown_limit"] == MAX_BREAKDOWN_VALUES
    records = report.tables[table].records()
    folded = [r for r in records if r["breakdown"] == OTHER_VALUE]
    if kind == "stickiness":
        assert [r["dau"] for r in folded if r["period"] == "2024-01-02"] == [5]
    elif kind == "retention":
        assert [r["size"] for r in folded if r["k"] == 0] == [5]
    elif kind == "lifecycle":
        assert [r["users"] for r in folded if r["status"] == "new"] == [5]
    elif kind == "funnel":
        assert [r["users"] for r in folded] == [5, 5]
    else:
        assert [r["orders"] for r in folded] == [5]
    busiest = [r for r in records if r["breakdown"] == "s00"]
    assert busiest


def test_ties_on_time_are_broken_by_event_id(store: Store) -> None:
    # Each user has two views, two clicks (from two lists) and a purchase; the views and
    # the clicks tie on time. Stored in a shuffled order, so storage order cannot pass
    # for the rule: the smaller event_id comes first, the larger last.
    rng = np.random.default_rng(3)
    t = at("2024-01-02")
    served, events = [], []
    for n in range(40):
        user = f"u{n}"
        served += [
            ServedRecommendation(f"{user}-als", user, "home", "als", 1, ("b",), t),
            ServedRecommendation(f"{user}-popular", user, "home", "popular", 1, ("b",), t),
        ]
        tied = [
            event("view", user, t, event_id=f"{user}-e1", props={"channel": "email"}),
            event("view", user, t, event_id=f"{user}-e2", props={"channel": "ads"}),
            event("click", user, t, "b", event_id=f"{user}-k1", rec_id=f"{user}-als"),
            event("click", user, t, "b", event_id=f"{user}-k2", rec_id=f"{user}-popular"),
        ]
        events += [tied[i] for i in rng.permutation(len(tied))]
        events.append(event("purchase", user, t + timedelta(minutes=5), "b", price=1.0))
    store.log_served(served)
    store.append_events(events)
    window = Window(date(2024, 1, 1), date(2024, 1, 8))
    channel = Breakdown.parse("event.channel")
    cohorts = retention(store, window, interval="week", start_types=("view",), breakdown=channel)
    assert matrix(cohorts.tables["matrix"].records()) == {("2024-01-01", 0): 40}
    assert cohorts.tables["matrix"].column("breakdown") == ["email"]
    entries = funnel(store, window, ("view", "purchase"), breakdown=channel)
    assert set(entries.tables["steps"].column("breakdown")) == {"email"}
    credited = attribution(store, window, by=("model",))
    conversions = {r["model"]: r["conversions"] for r in credited.tables["lists"].records()}
    assert conversions == {"als": 0, "popular": 40}  # the latest click: (t, k2)


class RecordingStore:
    """A store that records its analytics sessions, whose every statement is followed by
    a view and a purchase of a new user (events arriving while a report runs)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.sessions: list[ArrivingSession] = []

    @contextmanager
    def analytics_session(self, *, timezone: str = "UTC") -> Iterator[AnalyticsSession]:
        with self.store.analytics_session(timezone=timezone) as session:
            arriving = ArrivingSession(session, self.store)
            self.sessions.append(arriving)
            yield arriving

    def analytics_query(
        self, sql: str, params: Sequence[Any] = (), *, timezone: str = "UTC"
    ) -> pa.Table:
        with self.analytics_session(timezone=timezone) as session:
            return session.query(sql, params)


@dataclass
class ArrivingSession:
    session: AnalyticsSession
    store: Store
    statements: int = 0

    @property
    def timezone(self) -> str:
        return self.session.timezone

    def query(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        table = self.session.query(sql, params)
        self.statements += 1
        arriving, ts = f"late-{uuid.uuid4().hex}", at("2024-01-02", 18)
        self.store.append_events(
            [
                event("view", arriving, ts),
                event("purchase", arriving, ts, order_id=arriving, price=50.0),
            ]
        )
        return table


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_a_report_reads_one_snapshot_while_events_arrive(crowded_shop: Store, kind: str) -> None:
    settings = AnalyticsSettings(default_days=7)
    before = REQUESTS[kind].parse().run(crowded_shop, settings).to_dict()
    recording = RecordingStore(crowded_shop)
    report = REQUESTS[kind].parse().run(recording, settings)
    # One session: the default window's lookup and the report's statements (events
    # arrived after each, inside the window), and the report saw none of them.
    (session,) = recording.sessions
    assert session.statements >= 2
    assert report.to_dict() == before


def test_an_empty_store_defaults_to_today_in_the_query_time_zone(store: Store) -> None:
    # 26 hours apart: at any moment one of the two is on another date than the host.
    for timezone in ("Pacific/Kiritimati", "Etc/GMT+12"):
        before = datetime.now(ZoneInfo(timezone)).date()
        window = StickinessRequest(timezone=timezone).window(store, AnalyticsSettings())
        after = datetime.now(ZoneInfo(timezone)).date()
        assert window.end - timedelta(days=1) in {before, after}, timezone


def test_every_report_echoes_its_window(weekly_shop: Store) -> None:
    window = Window(date(2024, 1, 1), date(2024, 1, 29), "Europe/London")
    for kind in sorted(REQUESTS):
        report = (
            REQUESTS[kind]
            .parse(start="2024-01-01", end="2024-01-29", timezone="Europe/London")
            .run(weekly_shop, AnalyticsSettings())
        )
        assert {key: report.query[key] for key in ("start", "end", "timezone")} == window.describe()


@pytest.mark.parametrize(
    ("timezone", "fixed"), [("UTC", True), ("Asia/Kolkata", True), ("Europe/London", False)]
)
def test_local_days_agree_with_the_time_zone_library(
    store: Store, timezone: str, fixed: bool
) -> None:
    # Instants around midnight UTC in winter and in summer (London's clocks differ).
    instants = [
        at(day, hour, minute)
        for day in ("2024-01-15", "2024-07-15", "2024-03-31", "2024-10-27")
        for hour, minute in ((0, 10), (0, 50), (18, 20), (23, 10), (23, 50))
    ]
    store.append_events([event("view", f"u{i}", ts) for i, ts in enumerate(instants)])
    assert (fixed_offset_microseconds(timezone) is not None) == fixed
    fast = store.analytics_query(
        f"SELECT {day_of('ts', timezone)} AS day FROM events ORDER BY ts", timezone=timezone
    ).column("day")
    exact = store.analytics_query(
        "SELECT CAST(ts AS DATE) AS day FROM events ORDER BY ts", timezone=timezone
    ).column("day")
    assert fast.to_pylist() == exact.to_pylist()
    zone = ZoneInfo(timezone)
    assert fast.to_pylist() == [ts.astimezone(zone).date() for ts in sorted(instants)]
