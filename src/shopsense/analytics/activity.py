"""Active users and stickiness: DAU, WAU, MAU, the DAU/MAU ratio over time, and how
many days a week (a month) the active users come.

WAU and MAU are *rolling*: on day ``d``, the users active in the 7 (30) days ending
with ``d``, the definition Facebook made standard for DAU/MAU. They are counted
without expanding each active day into the 30 days it covers: per user, consecutive
active days closer than the window merge into one covered span, a span adds one user
from its first day and removes them the day after it ends, and a running sum of those
changes over the calendar is the rolling count (one pass over distinct user-days).
"""

from __future__ import annotations

from datetime import timedelta

from shopsense.analytics._query import (
    AnalyticsSource,
    Breakdown,
    BreakdownSQL,
    Interval,
    Report,
    ResultTable,
    Window,
    bucket,
    check_interval,
    day_of,
    describe_breakdown,
    folding_summary,
    reading,
    type_filter,
)

WEEK_DAYS = 7
MONTH_DAYS = 30
"""The rolling windows of WAU and MAU, in days."""

SERIES_COLUMNS = ("period", "breakdown", "active_users", "dau", "wau", "mau", "stickiness")
ACTIVE_DAYS_COLUMNS = ("unit", "breakdown", "active_days", "users", "share")


def _active_days_sql(
    window: Window, types: tuple[str, ...] | None, split: BreakdownSQL
) -> tuple[str, list[object]]:
    """A ``SELECT`` of the distinct (breakdown, user_id, day) of activity from
    ``MONTH_DAYS - 1`` days before the window (the first day's MAU needs them)."""
    start, end = window.timestamps(before_days=MONTH_DAYS - 1)
    condition, params = type_filter(types, "e.type")
    where = f"e.ts >= {start} AND e.ts < {end} AND {condition}"
    day = day_of("e.ts", window.timezone)
    if split.join:
        # A user attribute has one value per user: join the users to the distinct
        # user-days, not to every event (ten times fewer rows to join).
        sql = (
            f"SELECT {split.value} AS breakdown, e.user_id, e.day FROM ("
            f"SELECT DISTINCT e.user_id, {day} AS day FROM events e "
            f"WHERE {where}) e {split.join}"
        )
    else:
        sql = (
            f"SELECT DISTINCT {split.value} AS breakdown, e.user_id, {day} AS day "
            f"FROM events e WHERE {where}"
        )
    return sql, [*split.params, *params]


def _distribution_sql(window: Window) -> str:
    """A ``SELECT`` over ``active`` of the users by number of active days in a week and in
    a month, counting only whole weeks (Monday to Sunday) and whole months inside the
    window: ``unit, breakdown, active_days, users, share``."""
    first = window.start.isoformat()
    end = window.end.isoformat()
    parts = []
    for unit, length in (("week", "INTERVAL 7 DAY"), ("month", "INTERVAL 1 MONTH")):
        parts.append(
            f"""
            SELECT '{unit}' AS unit, breakdown, active_days, count(*) AS users
            FROM (
                SELECT breakdown, user_id, {bucket(check_interval(unit), "day")} AS period,
                       count(*) AS active_days
                FROM active GROUP BY ALL
            )
            WHERE period >= DATE '{first}' AND period + {length} <= DATE '{end}'
            GROUP BY ALL
            """
        )
    return f"""
        SELECT unit, breakdown, active_days, users,
               users / sum(users) OVER (PARTITION BY unit, breakdown) AS share
        FROM ({" UNION ALL ".join(parts)})
    """


def _struct(columns: tuple[str, ...]) -> str:
    """SQL of a struct of ``columns`` (a row of a table returned as a list)."""
    return "{" + ", ".join(f"'{name}': {name}" for name in columns) + "}"


def stickiness(
    store: AnalyticsSource,
    window: Window,
    *,
    interval: Interval = "day",
    types: tuple[str, ...] | None = None,
    breakdown: Breakdown | None = None,
) -> Report:
    """DAU, rolling WAU and MAU and DAU/MAU per day, averaged per ``interval``; the
    distinct users active in each calendar period; and the distribution of active
    days per user-week and user-month (whole weeks and months inside the window).

    ``types``: the event types that count as activity (default: every type). One
    statement: the distinct user-days are read from the events once and feed the
    series, the distribution and the summary."""
    check_interval(interval)
    split = BreakdownSQL.of(breakdown)
    raw_active, params = _active_days_sql(window, types, split)
    first = window.start.isoformat()
    last = (window.end - timedelta(days=1)).isoformat()
    lookback = (window.start - timedelta(days=MONTH_DAYS - 1)).isoformat()
    # Folding values into (other) can give one user two rows on a day: count them once.
    active = (
        f"SELECT DISTINCT {split.folded('breakdown')} AS breakdown, user_id, day FROM raw_active"
        if split.split
        else "SELECT * FROM raw_active"
    )
    sql = f"""
        WITH raw_active AS {split.shared} ({raw_active}),
        {split.ranking(f"(SELECT breakdown, user_id FROM raw_active WHERE day >= DATE '{first}')")},
        active AS MATERIALIZED ({active}),
        marked AS (
            SELECT breakdown, user_id, day,
                   day - lag(day) OVER w AS gap_before,
                   lead(day) OVER w - day AS gap_after
            FROM active
            WINDOW w AS (PARTITION BY breakdown, user_id ORDER BY day)
        ),
        changes AS (
            SELECT breakdown, day AS on_day, count(*) AS dau,
                   count(*) FILTER (WHERE gap_before IS NULL OR gap_before >= {WEEK_DAYS}) AS wau,
                   count(*) FILTER (WHERE gap_before IS NULL OR gap_before >= {MONTH_DAYS}) AS mau
            FROM marked GROUP BY ALL
            UNION ALL
            SELECT breakdown, day + {WEEK_DAYS}, 0, -count(*), 0 FROM marked
            WHERE gap_after IS NULL OR gap_after >= {WEEK_DAYS} GROUP BY ALL
            UNION ALL
            SELECT breakdown, day + {MONTH_DAYS}, 0, 0, -count(*) FROM marked
            WHERE gap_after IS NULL OR gap_after >= {MONTH_DAYS} GROUP BY ALL
        ),
        summed AS (
            SELECT breakdown, on_day, sum(dau) AS dau, sum(wau) AS wau, sum(mau) AS mau
            FROM changes GROUP BY ALL
        ),
        calendar AS (
            SELECT breakdown, CAST(generate_series AS DATE) AS day
            FROM (SELECT DISTINCT breakdown FROM active),
                 generate_series(DATE '{lookback}', DATE '{last}', INTERVAL 1 DAY)
        ),
        daily AS (
            SELECT c.breakdown, c.day,
                   coalesce(s.dau, 0) AS dau,
                   sum(coalesce(s.wau, 0)) OVER running AS wau,
                   sum(coalesce(s.mau, 0)) OVER running AS mau
            FROM calendar c LEFT JOIN summed s ON s.breakdown = c.breakdown AND s.on_day = c.day
            WINDOW running AS (PARTITION BY c.breakdown ORDER BY c.day)
        ),
        periods AS (
            SELECT breakdown, {bucket(interval, "day")} AS period, count(DISTINCT user_id) AS users
            FROM active WHERE day >= DATE '{first}' GROUP BY ALL
        ),
        series AS (
            SELECT {bucket(interval, "d.day")} AS period, d.breakdown,
                   coalesce(any_value(p.users), 0) AS active_users,
                   avg(d.dau) AS dau, avg(d.wau) AS wau, avg(d.mau) AS mau,
                   avg(CASE WHEN d.mau > 0 THEN d.dau / d.mau END) AS stickiness
            FROM daily d
            LEFT JOIN periods p
              ON p.breakdown = d.breakdown AND p.period = {bucket(interval, "d.day")}
            WHERE d.day >= DATE '{first}'
            GROUP BY ALL
        ),
        distribution AS ({_distribution_sql(window)}),
        window_days AS (SELECT DISTINCT user_id, day FROM active WHERE day >= DATE '{first}')
        SELECT
            (SELECT list({_struct(SERIES_COLUMNS)} ORDER BY period, breakdown) FROM series)
                AS series,
            (SELECT list({_struct(ACTIVE_DAYS_COLUMNS)}
                         ORDER BY unit DESC, breakdown, active_days) FROM distribution)
                AS active_days,
            (SELECT count(DISTINCT user_id) FROM window_days) AS active_users,
            (SELECT count(*) / nullif(count(DISTINCT user_id), 0) FROM window_days)
                AS mean_active_days,
            {split.value_count()} AS breakdown_values
    """
    with reading(store, window.timezone) as session:
        (row,) = session.query(sql, params).to_pylist()
    series = ResultTable.from_records(SERIES_COLUMNS, row["series"])
    distribution = ResultTable.from_records(ACTIVE_DAYS_COLUMNS, row["active_days"])
    if breakdown is None:
        series = series.without("breakdown")
        distribution = distribution.without("breakdown")
    return Report(
        kind="stickiness",
        query={
            **window.describe(),
            "interval": interval,
            "types": list(types or ()),
            **describe_breakdown(breakdown),
        },
        summary={
            "active_users": row["active_users"],
            "mean_active_days": row["mean_active_days"],
            "days": window.days,
            **folding_summary(breakdown, row["breakdown_values"]),
        },
        tables={"series": series, "active_days": distribution},
    )


__all__ = ["MONTH_DAYS", "WEEK_DAYS", "stickiness"]
