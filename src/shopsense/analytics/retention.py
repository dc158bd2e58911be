"""Retention cohorts: of the users who started in a period, how many came back ``k``
periods later.

The choices, as product-analytics tools (PostHog, Amplitude) name them:

- **cohort** ``first_time``: a user joins the cohort of the period of their first start
  event *ever* (users whose first one is before the window are not in any cohort);
  ``recurring``: every period with a start event opens a cohort for the user.
- **start** and **return** events: the types that count (default: any event). Cohorts
  by first visit are ``start=None``; by first purchase, ``start=("purchase",)``.
- **mode** ``on``: counted in period ``k`` if they did a return event in that period;
  ``on_or_after``: if they did one in period ``k`` or any later period (unbounded
  retention, never rising with ``k``).

Periods are whole calendar periods from the one holding the window's start (as in
:mod:`~shopsense.analytics.lifecycle`): with weekly cohorts and a window starting on a
Wednesday, the first cohort is the whole week from Monday, for cohorts and returns
alike. Period 0 is the cohort itself (100%); each share is against period 0. A cell
whose period starts at or after the window's end is not observed and left out; the
last observed period may be partial. The average curve weights each cohort by its size,
over the cohorts that reached that period.

A breakdown splits the cohorts by an event property (``first_time``: of the user's first
start event, of two at one instant the one with the smaller ``event_id``; ``recurring``:
of each start event in the period, so a user can open a cohort under two values) or by
their user attribute.
"""

from __future__ import annotations

from typing import Literal

from shopsense.analytics._query import (
    AnalyticsSource,
    Breakdown,
    BreakdownSQL,
    Interval,
    Report,
    ResultTable,
    Window,
    check_interval,
    clean,
    describe_breakdown,
    folding_summary,
    period_of,
    pop_value_count,
    reading,
    timestamp_sql,
    type_filter,
)
from shopsense.core.errors import ValidationFailedError

CohortKind = Literal["first_time", "recurring"]
ReturnMode = Literal["on", "on_or_after"]
MAX_PERIODS = 400


def periods_in(window: Window, interval: Interval) -> int:
    """How many ``interval`` buckets the window touches (the largest useful ``k`` + 1)."""
    if interval == "day":
        return window.days
    if interval == "week":
        return ((window.end - window.first_period("week")).days - 1) // 7 + 1
    return (
        (window.end.year - window.start.year) * 12
        + window.end.month
        - window.start.month
        + (1 if window.end.day > 1 else 0)
    )


def retention(
    store: AnalyticsSource,
    window: Window,
    *,
    interval: Interval = "week",
    start_types: tuple[str, ...] | None = None,
    return_types: tuple[str, ...] | None = None,
    cohort: CohortKind = "first_time",
    mode: ReturnMode = "on",
    periods: int | None = None,
    breakdown: Breakdown | None = None,
) -> Report:
    """The cohort matrix (``cohort, k, size, users, share``) and the size-weighted
    average curve (``k, cohorts, cohort_users, users, share``) of the window."""
    check_interval(interval)
    if cohort not in ("first_time", "recurring"):
        raise ValidationFailedError(
            f"cohort {cohort!r} must be first_time or recurring", details={"field": "cohort"}
        )
    if mode not in ("on", "on_or_after"):
        raise ValidationFailedError(
            f"mode {mode!r} must be on or on_or_after", details={"field": "mode"}
        )
    # Default: every period the window holds (0 for a window of one period: the
    # cohorts alone), at most MAX_PERIODS.
    horizon = periods if periods is not None else min(periods_in(window, interval) - 1, MAX_PERIODS)
    if periods is not None and not 1 <= horizon <= MAX_PERIODS:
        raise ValidationFailedError(
            f"periods must be between 1 and {MAX_PERIODS}, not {horizon}",
            details={"field": "periods"},
        )
    # Whole periods: cohorts and returns from the start of the period holding `start`.
    start = timestamp_sql(window.first_period(interval))
    _, end = window.timestamps()
    start_condition, start_params = type_filter(start_types, "e.type")
    return_condition, return_params = type_filter(return_types, "type")
    split = BreakdownSQL.of(breakdown)
    value, join = split.value, split.join
    first_period = period_of(interval, "first_ts", window.timezone)
    event_period = period_of(interval, "e.ts", window.timezone)
    if cohort == "first_time":
        members = f"""
            SELECT user_id, breakdown, {first_period} AS cohort FROM (
                SELECT e.user_id, min(e.ts) AS first_ts, {split.first_value()} AS breakdown
                FROM events e {join} WHERE {start_condition} GROUP BY e.user_id
            ) WHERE first_ts >= {start} AND first_ts < {end}
        """
    else:
        members = f"""
            SELECT DISTINCT e.user_id, {value} AS breakdown, {event_period} AS cohort
            FROM events e {join}
            WHERE e.ts >= {start} AND e.ts < {end} AND {start_condition}
        """
    # Folding values into (other) can put a user twice in one cohort: count them once.
    cohorts = (
        f"SELECT DISTINCT user_id, {split.folded('breakdown')} AS breakdown, cohort FROM members"
        if split.split
        else "SELECT * FROM members"
    )
    returns = f"""
        SELECT DISTINCT user_id, {period_of(interval, "ts", window.timezone)} AS period FROM events
        WHERE ts >= {start} AND ts < {end} AND {return_condition}
    """
    if mode == "on":
        # The horizon bounds the join itself: a user's periods beyond it never pair up.
        hits = f"""
            SELECT c.breakdown, c.cohort, date_diff('{interval}', c.cohort, r.period) AS k,
                   count(*) AS users
            FROM cohorts c JOIN returns r
              ON r.user_id = c.user_id AND r.period > c.cohort
             AND r.period <= CAST(c.cohort + to_{interval}s({horizon}) AS DATE)
            GROUP BY ALL
        """
    else:
        # Came back in k or later <=> their last return is k or more periods on.
        hits = f"""
            SELECT breakdown, cohort, k, CAST(sum(n) OVER (
                       PARTITION BY breakdown, cohort ORDER BY k DESC) AS BIGINT) AS users
            FROM (
                SELECT c.breakdown, c.cohort,
                       least(date_diff('{interval}', c.cohort, l.last_period), {horizon}) AS k,
                       count(*) AS n
                FROM cohorts c
                JOIN (SELECT user_id, max(period) AS last_period FROM returns GROUP BY user_id) l
                  ON l.user_id = c.user_id AND l.last_period > c.cohort
                GROUP BY ALL
            )
        """
    # on_or_after: the running count at the nearest return period at or after k.
    hit_join = "h.k >= g.k" if mode == "on_or_after" else "h.k = g.k"
    sql = f"""
        WITH members AS {split.shared} ({members}),
        {split.ranking("members")},
        cohorts AS ({cohorts}),
        returns AS ({returns}),
        hits AS ({hits}),
        sizes AS (SELECT breakdown, cohort, count(*) AS size FROM cohorts GROUP BY ALL),
        grid AS (
            SELECT s.breakdown, s.cohort, s.size, t.k
            FROM sizes s, range(0, {horizon} + 1) t(k)
            WHERE s.cohort + to_{interval}s(CAST(t.k AS INTEGER)) < DATE '{window.end.isoformat()}'
        )
        SELECT g.cohort, g.breakdown, g.k, g.size,
               CASE WHEN g.k = 0 THEN g.size
                    ELSE coalesce(max(h.users), 0) END AS users,
               {split.value_count()} AS breakdown_values
        FROM grid g
        LEFT JOIN hits h ON h.breakdown = g.breakdown AND h.cohort = g.cohort AND {hit_join}
        GROUP BY g.cohort, g.breakdown, g.k, g.size
        ORDER BY g.cohort, g.breakdown, g.k
    """
    params = [*split.params, *start_params, *return_params]
    with reading(store, window.timezone) as session:
        matrix, n_values = pop_value_count(session.query(sql, params))
    rows = matrix.to_pylist()
    for row in rows:
        row["share"] = row["users"] / row["size"] if row["size"] else None
    curve: dict[tuple[str, int], list[int]] = {}
    for row in rows:
        totals = curve.setdefault((row["breakdown"], row["k"]), [0, 0, 0])
        totals[0] += 1
        totals[1] += row["size"]
        totals[2] += row["users"]
    with_breakdown = breakdown is not None
    matrix_columns = (
        "cohort",
        *(("breakdown",) if with_breakdown else ()),
        "k",
        "size",
        "users",
        "share",
    )
    matrix_table = ResultTable(
        columns=matrix_columns,
        rows=[_cells(row, matrix_columns) for row in rows],
    )
    curve_columns = (
        *(("breakdown",) if with_breakdown else ()),
        "k",
        "cohorts",
        "cohort_users",
        "users",
        "share",
    )
    curve_rows = []
    for (value_key, k), (n_cohorts, size, users) in sorted(curve.items()):
        row = {
            "breakdown": value_key,
            "k": k,
            "cohorts": n_cohorts,
            "cohort_users": size,
            "users": users,
            "share": users / size if size else None,
        }
        curve_rows.append(_cells(row, curve_columns))
    users_in_cohorts = sum(row["size"] for row in rows if row["k"] == 0)
    return Report(
        kind="retention",
        query={
            **window.describe(),
            "interval": interval,
            "start_types": list(start_types or ()),
            "return_types": list(return_types or ()),
            "cohort": cohort,
            "mode": mode,
            "periods": horizon,
            **describe_breakdown(breakdown),
        },
        summary={
            "cohorts": sum(1 for row in rows if row["k"] == 0),
            "users": users_in_cohorts,
            **folding_summary(breakdown, n_values),
        },
        tables={
            "matrix": matrix_table,
            "curve": ResultTable(columns=curve_columns, rows=curve_rows),
        },
    )


def _cells(row: dict[str, object], columns: tuple[str, ...]) -> tuple[object, ...]:
    return tuple(clean(row[name]) for name in columns)


__all__ = ["CohortKind", "ReturnMode", "periods_in", "retention"]
