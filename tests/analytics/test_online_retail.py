"""shopsense.analytics on the real UCI Online Retail file (skipped when it is not there),
checked cell by cell against pandas over the raw CSV.

The expected values never touch shopsense: the CSV is read with pandas, the importer's
rules (docs of ``shopsense.data.importers._online_retail``) are restated as pandas
filters, and each report's definition (the docstrings of ``shopsense.analytics.*``) is
recomputed by brute force in Python. The store under test is built once per module.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shopsense.analytics import Window, commerce, funnel, lifecycle, retention, stickiness
from shopsense.data.importers import import_file
from shopsense.store import Store, open_store
from tests.conftest import dataset_path

pytestmark = pytest.mark.slow

ONLINE_RETAIL = "online-retail/online_retail.csv.gz"
YEAR = Window(date(2010, 12, 1), date(2011, 12, 1))
EPOCH = date(1970, 1, 1)


def approx(value: float | None) -> Any:
    """A float as the reports give it: rounded to 6 decimals."""
    return None if value is None else pytest.approx(value, rel=1e-9, abs=1e-6)


# -- the reference: the raw CSV in pandas -------------------------------------------------


def _parse_times(text: pd.Series) -> pd.Series:
    """``2010-12-01 08:26:00`` or the spreadsheet's ``12/1/2010 8:26``, naive = UTC."""
    iso = pd.to_datetime(text, format="%Y-%m-%d %H:%M:%S", errors="coerce")
    us = pd.to_datetime(text, format="%m/%d/%Y %H:%M", errors="coerce")
    return iso.fillna(us)


def load_events(path: Path) -> pd.DataFrame:
    """The events the importer's rules make of the raw lines: ``user, type, ts, invoice,
    quantity, price, value, day`` (``day``: days since 1970-01-01)."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    invoice = raw["InvoiceNo"].str.strip()
    cancelled = invoice.str[:1].str.upper().eq("C")
    quantity = pd.to_numeric(raw["Quantity"], errors="coerce")
    price = pd.to_numeric(raw["UnitPrice"], errors="coerce")
    ts = _parse_times(raw["InvoiceDate"].str.strip())
    customer = raw["CustomerID"].str.strip().str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    valid = (
        np.isfinite(quantity)
        & ((cancelled & (quantity < 0)) | (~cancelled & (quantity > 0)))
        & (price >= 0)
        & ts.notna()
        & raw["StockCode"].str.strip().ne("")
        & invoice.ne("")
    )
    events = pd.DataFrame(
        {
            "user": customer.where(customer.ne(""), "guest-" + invoice),
            "type": np.where(cancelled, "return", "purchase"),
            "ts": ts,
            "invoice": invoice,
            "quantity": quantity.abs(),
            "price": price,
        }
    )[valid].reset_index(drop=True)
    events["ts"] = events["ts"].astype("datetime64[us]")
    events["value"] = events["quantity"] * events["price"]
    events["day"] = events["ts"].to_numpy().astype("datetime64[D]").astype(np.int64)
    return events


def day_number(day: date) -> int:
    return (day - EPOCH).days


def periods(days: np.ndarray, interval: str) -> np.ndarray:
    """The bucket number of each day (days since 1970-01-01): the day itself, its ISO
    week (Monday first) or its month."""
    days = np.asarray(days, dtype=np.int64)
    if interval == "day":
        return days
    if interval == "week":
        return (days + 3) // 7  # 1970-01-05 was a Monday
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def period_of(day: date, interval: str) -> int:
    return int(periods(np.array([day_number(day)]), interval)[0])


def period_start(index: int, interval: str) -> date:
    if interval == "day":
        return EPOCH + timedelta(days=index)
    if interval == "week":
        return EPOCH + timedelta(days=7 * index - 3)
    return date(1970 + index // 12, index % 12 + 1, 1)


def in_window(events: pd.DataFrame, window: Window) -> pd.DataFrame:
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    return events[(events["ts"] >= start) & (events["ts"] < end)]


def periods_by_user(events: pd.DataFrame, interval: str) -> dict[str, set[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for user, period in zip(
        events["user"], periods(events["day"].to_numpy(), interval), strict=True
    ):
        found[user].add(int(period))
    return found


def expected_retention(
    events: pd.DataFrame, window: Window, interval: str, cohort: str, mode: str
) -> list[dict[str, Any]]:
    """Retention of purchase cohorts (returns = purchases): ``cohort, k, size, users``.
    Whole periods: cohorts and returns count from the first day of the period holding
    the window's start."""
    purchases = events[events["type"] == "purchase"]
    first_day = period_start(period_of(window.start, interval), interval)
    inside = in_window(purchases, Window(first_day, window.end))
    returns = periods_by_user(inside, interval)
    if cohort == "first_time":
        first = purchases.groupby("user")["ts"].min()
        first = first[(first >= pd.Timestamp(first_day)) & (first < pd.Timestamp(window.end))]
        first_days = first.to_numpy().astype("datetime64[D]").astype(np.int64)
        members = set(zip(first.index, periods(first_days, interval).tolist(), strict=True))
    else:
        members = {(user, p) for user, found in returns.items() for p in found}
    by_cohort: dict[int, list[str]] = defaultdict(list)
    for user, period in members:
        by_cohort[period].append(user)
    last = period_of(window.end - timedelta(days=1), interval)
    cells = []
    for c in sorted(by_cohort):
        users = by_cohort[c]
        for k in range(last - c + 1):
            if k == 0:
                back = len(users)
            elif mode == "on":
                back = sum(c + k in returns[user] for user in users)
            else:
                back = sum(max(returns[user]) >= c + k for user in users)
            cells.append(
                {
                    "cohort": period_start(c, interval).isoformat(),
                    "k": k,
                    "size": len(users),
                    "users": back,
                }
            )
    return cells


def expected_lifecycle(
    events: pd.DataFrame, window: Window, interval: str
) -> dict[tuple[str, str], int]:
    """PostHog's lifecycle of purchasers: ``{(period, status): users}``, zeros left out."""
    purchases = events[(events["type"] == "purchase") & (events["ts"] < pd.Timestamp(window.end))]
    active = periods_by_user(purchases, interval)
    first = {user: min(found) for user, found in active.items()}
    by_period: dict[int, set[str]] = defaultdict(set)
    for user, found in active.items():
        for period in found:
            by_period[period].add(user)
    counts: dict[tuple[str, str], int] = {}
    last = period_of(window.end - timedelta(days=1), interval)
    for p in range(period_of(window.start, interval), last + 1):
        now, before = by_period.get(p, set()), by_period.get(p - 1, set())
        new = sum(first[user] == p for user in now)
        returning = len(now & before)
        statuses = {
            "new": new,
            "returning": returning,
            "resurrecting": len(now) - new - returning,
            "dormant": -len(before - now),
        }
        label = period_start(p, interval).isoformat()
        counts.update({(label, status): n for status, n in statuses.items() if n})
    return counts


def expected_funnel(
    events: pd.DataFrame, window: Window, steps: tuple[str, ...], conversion: timedelta
) -> list[dict[str, Any]]:
    """First-entry funnel: ``step, users, median_seconds_from_previous/start``. Step k is
    the first event of its type at or after step k-1, strictly after every earlier step
    of the same type, within the conversion window of the entry."""
    seen = events[events["ts"] < pd.Timestamp(window.end)]
    entries = in_window(seen[seen["type"] == steps[0]], window).groupby("user")["ts"].min()
    reached = pd.DataFrame({"user": entries.index, "t1": entries.to_numpy()})
    rows: list[dict[str, Any]] = [
        {"step": 1, "users": len(reached), "from_previous": None, "from_start": None}
    ]
    for k in range(2, len(steps) + 1):
        candidates = seen.loc[seen["type"] == steps[k - 1], ["user", "ts"]].merge(
            reached, on="user"
        )
        keep = (candidates["ts"] >= candidates[f"t{k - 1}"]) & (
            candidates["ts"] <= candidates["t1"] + conversion
        )
        for j in range(1, k):
            if steps[j - 1] == steps[k - 1]:
                keep &= candidates["ts"] > candidates[f"t{j}"]
        step_ts = candidates[keep].groupby("user")["ts"].min().rename(f"t{k}")
        reached = reached.merge(step_ts, left_on="user", right_index=True)
        from_previous = (reached[f"t{k}"] - reached[f"t{k - 1}"]).dt.total_seconds()
        from_start = (reached[f"t{k}"] - reached["t1"]).dt.total_seconds()
        rows.append(
            {
                "step": k,
                "users": len(reached),
                "from_previous": float(from_previous.median()) if len(reached) else None,
                "from_start": float(from_start.median()) if len(reached) else None,
            }
        )
    return rows


def active_days_by_day(events: pd.DataFrame, window: Window) -> dict[int, set[str]]:
    """Who was active (any event) on each day from 29 days before the window."""
    lookback = Window(window.start - timedelta(days=29), window.end)
    found: dict[int, set[str]] = defaultdict(set)
    scope = in_window(events, lookback)
    for user, day in zip(scope["user"], scope["day"], strict=True):
        found[int(day)].add(user)
    return found


def expected_daily(events: pd.DataFrame, window: Window) -> list[dict[str, Any]]:
    """DAU, WAU (7 days ending on the day) and MAU (30 days) of each day, brute force."""
    by_day = active_days_by_day(events, window)
    rows = []
    for day in range(day_number(window.start), day_number(window.end)):
        wau = set().union(*(by_day.get(d, set()) for d in range(day - 6, day + 1)))
        mau = set().union(*(by_day.get(d, set()) for d in range(day - 29, day + 1)))
        dau = len(by_day.get(day, set()))
        rows.append(
            {
                "day": day,
                "period": period_start(day, "day").isoformat(),
                "dau": dau,
                "wau": len(wau),
                "mau": len(mau),
                "stickiness": dau / len(mau) if mau else None,
            }
        )
    return rows


def expected_orders(events: pd.DataFrame, window: Window) -> pd.DataFrame:
    """One row per invoice of purchase lines before the window's end: ``user, ts`` (its
    first line), ``value`` (sum of quantity x price), ``nth`` and ``previous_ts``."""
    purchases = events[(events["type"] == "purchase") & (events["ts"] < pd.Timestamp(window.end))]
    orders = purchases.groupby("invoice").agg(
        user=("user", "first"),
        buyers=("user", "nunique"),
        ts=("ts", "min"),
        value=("value", "sum"),
    )
    assert (orders["buyers"] == 1).all(), "an invoice with two customers"
    orders = orders.reset_index().sort_values(["user", "ts", "invoice"])
    orders["nth"] = orders.groupby("user").cumcount() + 1
    orders["previous_ts"] = orders.groupby("user")["ts"].shift()
    return orders


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def raw_events() -> pd.DataFrame:
    return load_events(dataset_path(ONLINE_RETAIL))


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    path = dataset_path(ONLINE_RETAIL)
    with open_store("duckdb://:memory:") as opened:
        import_file(opened, "online-retail", path)
        yield opened


# -- the tests -----------------------------------------------------------------------------


def test_the_store_holds_the_events_pandas_derives(store: Store, raw_events: pd.DataFrame) -> None:
    """The precondition of every other test: same events, user ids, times and values."""
    stored = store.analytics_query(
        "SELECT user_id AS user, type, CAST(ts AS TIMESTAMP) AS ts, order_id AS invoice, "
        "quantity, price FROM events",
        timezone="UTC",
    ).to_pandas()
    columns = ["user", "type", "ts", "invoice", "quantity", "price"]
    stored = stored.sort_values(columns).reset_index(drop=True)
    expected = raw_events[columns].sort_values(columns).reset_index(drop=True)
    assert len(stored) == len(expected) == 540_571
    for column in ("user", "type", "invoice"):
        assert stored[column].tolist() == expected[column].tolist(), column
    assert (stored["ts"].astype("datetime64[us]") == expected["ts"]).all()
    np.testing.assert_allclose(stored["quantity"], expected["quantity"], rtol=0, atol=0)
    np.testing.assert_allclose(stored["price"], expected["price"], rtol=0, atol=0)
    assert "12347" in set(stored["user"])  # CustomerID as integer text, not "12347.0"


# Starts on a Wednesday inside the data: the first weekly cohort is the whole week from
# Monday 2011-03-07, the first monthly one the whole of March.
MID_PERIOD = Window(date(2011, 3, 9), date(2011, 10, 20))


@pytest.mark.parametrize(
    ("interval", "cohort", "mode", "window"),
    [
        ("month", "first_time", "on", YEAR),
        ("month", "first_time", "on_or_after", YEAR),
        ("month", "recurring", "on", YEAR),
        ("month", "recurring", "on_or_after", YEAR),
        ("week", "first_time", "on", YEAR),
        ("week", "first_time", "on_or_after", YEAR),
        ("week", "first_time", "on", MID_PERIOD),
        ("week", "recurring", "on_or_after", MID_PERIOD),
        ("month", "recurring", "on", MID_PERIOD),
    ],
)
def test_retention_matrix_and_curve(
    store: Store, raw_events: pd.DataFrame, interval: str, cohort: str, mode: str, window: Window
) -> None:
    report = retention(
        store,
        window,
        interval=interval,  # type: ignore[arg-type]
        start_types=("purchase",),
        return_types=("purchase",),
        cohort=cohort,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
    )
    expected = expected_retention(raw_events, window, interval, cohort, mode)
    got = report.tables["matrix"].records()
    assert [(row["cohort"], row["k"]) for row in got] == [
        (row["cohort"], row["k"]) for row in expected
    ]
    for row, want in zip(got, expected, strict=True):
        assert (row["size"], row["users"]) == (want["size"], want["users"]), row
        assert row["share"] == approx(want["users"] / want["size"]), row
    if interval == "month" and window == YEAR:
        assert len({row["cohort"] for row in got}) == 12
        assert max(row["k"] for row in got) == 11

    curve: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for want in expected:
        totals = curve[want["k"]]
        totals[0] += 1
        totals[1] += want["size"]
        totals[2] += want["users"]
    got_curve = report.tables["curve"].records()
    assert [row["k"] for row in got_curve] == sorted(curve)
    for row in got_curve:
        n_cohorts, size, users = curve[row["k"]]
        assert (row["cohorts"], row["cohort_users"], row["users"]) == (n_cohorts, size, users)
        assert row["share"] == approx(users / size)
    assert report.summary["users"] == sum(want["size"] for want in expected if want["k"] == 0)


@pytest.mark.parametrize(
    ("interval", "window"),
    [
        ("month", YEAR),
        # A window inside the data that starts and ends mid-month: the first period is
        # the whole of February, the last is December up to the 5th.
        ("month", Window(date(2011, 2, 15), date(2011, 12, 5))),
        ("week", Window(date(2011, 1, 5), date(2011, 12, 9))),
    ],
)
def test_lifecycle_of_purchasers(
    store: Store, raw_events: pd.DataFrame, interval: str, window: Window
) -> None:
    report = lifecycle(store, window, interval=interval, types=("purchase",))  # type: ignore[arg-type]
    got = {
        (row["period"], row["status"]): row["users"] for row in report.tables["series"].records()
    }
    expected = expected_lifecycle(raw_events, window, interval)
    assert got == expected
    assert all(users < 0 for (_, status), users in got.items() if status == "dormant")
    for status in ("new", "returning", "resurrecting", "dormant"):
        want = sum(users for (_, s), users in expected.items() if s == status)
        assert report.summary[status] == want


@pytest.mark.parametrize(
    "steps",
    [("purchase", "return"), ("purchase", "purchase"), ("purchase", "return", "purchase")],
)
def test_funnel_steps_and_median_times(
    store: Store, raw_events: pd.DataFrame, steps: tuple[str, ...]
) -> None:
    window = Window(date(2011, 1, 1), date(2011, 7, 1))
    conversion = timedelta(days=14)
    report = funnel(store, window, steps, conversion_window=conversion)
    got = report.tables["steps"].records()
    expected = expected_funnel(raw_events, window, steps, conversion)
    assert [row["users"] for row in got] == [row["users"] for row in expected]
    assert all(row["users"] > 0 for row in expected)
    for row, want in zip(got, expected, strict=True):
        assert row["median_seconds_from_previous"] == approx(want["from_previous"]), row
        assert row["median_seconds_from_start"] == approx(want["from_start"]), row
    entered = expected[0]["users"]
    for row, previous, want in zip(got[1:], expected[:-1], expected[1:], strict=True):
        assert row["conversion_from_previous"] == approx(want["users"] / previous["users"])
        assert row["conversion_overall"] == approx(want["users"] / entered)
    assert report.summary["entered"] == entered
    assert report.summary["converted"] == expected[-1]["users"]


STICKY = Window(date(2011, 3, 1), date(2011, 6, 1))


def test_stickiness_daily_dau_wau_mau(store: Store, raw_events: pd.DataFrame) -> None:
    report = stickiness(store, STICKY, interval="day")
    got = report.tables["series"].records()
    expected = expected_daily(raw_events, STICKY)
    assert [row["period"] for row in got] == [row["period"] for row in expected]
    for row, want in zip(got, expected, strict=True):
        assert (row["dau"], row["wau"], row["mau"]) == (want["dau"], want["wau"], want["mau"]), row
        assert row["stickiness"] == approx(want["stickiness"]), row
        if want["dau"]:
            assert row["active_users"] == want["dau"], row
    # The shop is closed on Saturdays: days without activity are in the series too.
    assert any(want["dau"] == 0 for want in expected)

    by_day = active_days_by_day(raw_events, STICKY)
    first, end = day_number(STICKY.start), day_number(STICKY.end)
    user_days = [(user, day) for day in range(first, end) for user in by_day.get(day, set())]
    assert report.summary["active_users"] == len({user for user, _ in user_days})
    assert report.summary["mean_active_days"] == approx(
        len(user_days) / len({user for user, _ in user_days})
    )
    assert report.summary["days"] == end - first


def test_stickiness_active_users_is_zero_on_a_day_without_activity(store: Store) -> None:
    report = stickiness(store, STICKY, interval="day")
    closed = [row for row in report.tables["series"].records() if row["dau"] == 0]
    assert closed
    assert all(row["active_users"] == 0 for row in closed), closed[:3]


def test_stickiness_weekly_averages(store: Store, raw_events: pd.DataFrame) -> None:
    report = stickiness(store, STICKY, interval="week")
    daily = expected_daily(raw_events, STICKY)
    weeks: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for want in daily:
        weeks[int(periods(np.array([want["day"]]), "week")[0])].append(want)
    by_day = active_days_by_day(raw_events, STICKY)
    got = report.tables["series"].records()
    assert [row["period"] for row in got] == [period_start(w, "week").isoformat() for w in weeks]
    for row, (_, days) in zip(got, sorted(weeks.items()), strict=True):
        n = len(days)
        assert row["dau"] == approx(sum(d["dau"] for d in days) / n), row
        assert row["wau"] == approx(sum(d["wau"] for d in days) / n), row
        assert row["mau"] == approx(sum(d["mau"] for d in days) / n), row
        ratios = [d["stickiness"] for d in days if d["stickiness"] is not None]
        assert row["stickiness"] == approx(sum(ratios) / len(ratios)), row
        users = set().union(*(by_day.get(d["day"], set()) for d in days))
        assert row["active_users"] == len(users), row


def test_stickiness_active_days_distribution(store: Store, raw_events: pd.DataFrame) -> None:
    report = stickiness(store, STICKY, interval="day")
    got = report.tables["active_days"].records()
    inside = in_window(raw_events, STICKY)
    user_days = inside[["user", "day"]].drop_duplicates()
    expected: list[dict[str, Any]] = []
    for unit in ("week", "month"):
        period = periods(user_days["day"].to_numpy(), unit)
        per_user = (
            pd.DataFrame({"user": user_days["user"].to_numpy(), "period": period})
            .groupby(["user", "period"])
            .size()
            .reset_index(name="active_days")
        )
        whole = [
            p
            for p in map(int, per_user["period"].unique())
            if period_start(p, unit) >= STICKY.start
            and period_start(p + 1, unit) <= STICKY.end  # the next period starts by the end
        ]
        counted = per_user[per_user["period"].isin(whole)]
        distribution = counted.groupby("active_days").size()
        total = int(distribution.sum())
        expected.extend(
            {"unit": unit, "active_days": int(n), "users": int(users), "share": users / total}
            for n, users in distribution.items()
        )
    assert len(expected) > 10
    assert [(row["unit"], row["active_days"], row["users"]) for row in got] == [
        (row["unit"], row["active_days"], row["users"]) for row in expected
    ]
    for row, want in zip(got, expected, strict=True):
        assert row["share"] == approx(want["share"]), row


@pytest.mark.parametrize("window", [YEAR, Window(date(2011, 3, 1), date(2011, 9, 1))])
def test_commerce_totals_and_monthly_series(
    store: Store, raw_events: pd.DataFrame, window: Window
) -> None:
    report = commerce(store, window, interval="month")
    orders = expected_orders(raw_events, window)
    inside = orders[orders["ts"] >= pd.Timestamp(window.start)]
    per_buyer = inside.groupby("user").size()
    before = set(orders.loc[orders["ts"] < pd.Timestamp(window.start), "user"])
    gaps = (inside["ts"] - inside["previous_ts"]).dropna().dt.total_seconds() / 86_400

    summary = report.summary
    assert summary["orders"] == len(inside) == inside["invoice"].nunique()
    assert summary["buyers"] == len(per_buyer)
    assert summary["gmv"] == approx(inside["value"].sum())
    assert summary["aov"] == approx(inside["value"].sum() / len(inside))
    assert summary["orders_per_buyer"] == approx(len(inside) / len(per_buyer))
    assert summary["repeat_purchase_rate"] == approx((per_buyer >= 2).sum() / len(per_buyer))
    assert summary["returning_buyer_rate"] == approx(
        len(before & set(per_buyer.index)) / len(per_buyer)
    )
    assert summary["median_days_between_orders"] == approx(gaps.median())
    assert summary["mean_days_between_orders"] == approx(gaps.mean())

    month = periods(
        inside["ts"].to_numpy().astype("datetime64[D]").astype(np.int64), "month"
    ).tolist()
    returns = in_window(raw_events[raw_events["type"] == "return"], window)
    returned = returns.groupby(periods(returns["day"].to_numpy(), "month"))["value"].sum()
    got = report.tables["series"].records()
    months = sorted(set(month) | set(returned.index))
    assert [row["period"] for row in got] == [period_start(m, "month").isoformat() for m in months]
    by_month = inside.assign(month=month).groupby("month")
    for row, m in zip(got, months, strict=True):
        placed = by_month.get_group(m)
        buyers = placed["user"].nunique()
        repeat = placed.loc[placed["nth"] > 1, "user"].nunique()
        assert row["orders"] == len(placed), row
        assert row["buyers"] == buyers, row
        assert row["new_buyers"] == placed.loc[placed["nth"] == 1, "user"].nunique(), row
        assert row["repeat_buyers"] == repeat, row
        assert row["gmv"] == approx(placed["value"].sum()), row
        assert row["aov"] == approx(placed["value"].sum() / len(placed)), row
        assert row["orders_per_buyer"] == approx(len(placed) / buyers), row
        assert row["repeat_buyer_share"] == approx(repeat / buyers), row
        assert row["returned_value"] == approx(returned.get(m, 0.0)), row
