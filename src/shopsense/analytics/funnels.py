"""Funnels: of the users who did step 1, how many went on to step 2, then step 3, ...
in order, within a conversion window.

The rules (Mixpanel's and Amplitude's "first entry" funnel):

- a user enters at their **first** step-1 event in the window;
- step ``k`` is their first event of that type after step ``k - 1`` (at the same
  instant counts, unless both steps are the same type: a second purchase must come at
  a later time, so another line of the same order is not a second purchase) and no
  later than ``conversion window`` after the entry;
- every step happens inside the window (an event after ``end`` is not seen).

Per step: users, conversion from the previous step and from step 1, and the median
time from the previous step and from the entry. A breakdown splits users by the
property of their entry event (or their user attribute).
"""

from __future__ import annotations

from datetime import timedelta

from shopsense.analytics._query import (
    Breakdown,
    BreakdownSQL,
    Report,
    ResultTable,
    Window,
    clean,
)
from shopsense.core.errors import ValidationFailedError
from shopsense.store.base import AnalyticsStore

MAX_STEPS = 10
DEFAULT_CONVERSION_WINDOW = timedelta(days=14)


def funnel(
    store: AnalyticsStore,
    window: Window,
    steps: tuple[str, ...],
    *,
    conversion_window: timedelta = DEFAULT_CONVERSION_WINDOW,
    breakdown: Breakdown | None = None,
) -> Report:
    """The funnel of event types ``steps`` (2 to :data:`MAX_STEPS`), step by step."""
    if not 2 <= len(steps) <= MAX_STEPS:
        raise ValidationFailedError(
            f"a funnel has 2 to {MAX_STEPS} steps, not {len(steps)} "
            "(e.g. view,add_to_cart,purchase)",
            details={"field": "steps"},
        )
    if conversion_window <= timedelta(0):
        raise ValidationFailedError(
            "the conversion window must be positive", details={"field": "conversion_window"}
        )
    split = BreakdownSQL.of(breakdown)
    start, end = window.timestamps()
    seconds = int(conversion_window.total_seconds())
    ctes = [
        f"""s1 AS (
            SELECT e.user_id, arg_min({split.value}, e.ts) AS breakdown, min(e.ts) AS t1
            FROM events e {split.join}
            WHERE e.type = ? AND e.ts >= {start} AND e.ts < {end}
            GROUP BY e.user_id
        )"""
    ]
    params: list[object] = [*split.params, steps[0]]
    for k in range(2, len(steps) + 1):
        after = ">" if steps[k - 1] == steps[k - 2] else ">="
        carried = ", ".join(f"p.t{j}" for j in range(1, k))
        ctes.append(
            f"""s{k} AS (
                SELECT p.user_id, p.breakdown, {carried}, min(e.ts) AS t{k}
                FROM s{k - 1} p JOIN events e
                  ON e.user_id = p.user_id AND e.type = ?
                 AND e.ts {after} p.t{k - 1}
                 AND e.ts <= p.t1 + INTERVAL {seconds} SECOND AND e.ts < {end}
                GROUP BY ALL
            )"""
        )
        params.append(steps[k - 1])
    selects = [
        "SELECT breakdown, 1 AS step, count(*) AS users, NULL::DOUBLE, NULL::DOUBLE "
        "FROM s1 GROUP BY ALL"
    ]
    for k in range(2, len(steps) + 1):
        selects.append(
            f"SELECT breakdown, {k}, count(*), "
            f"median(epoch(t{k}) - epoch(t{k - 1})), median(epoch(t{k}) - epoch(t1)) "
            f"FROM s{k} GROUP BY ALL"
        )
    sql = (
        f"WITH {', '.join(ctes)} "
        f"SELECT * FROM ({' UNION ALL '.join(selects)}) "
        "AS f(breakdown, step, users, from_previous, from_start) "
        "ORDER BY breakdown, step"
    )
    found = store.analytics_query(sql, params, timezone=window.timezone)
    reached: dict[tuple[str, int], tuple[int, float | None, float | None]] = {
        (str(value), int(step)): (int(users), from_previous, from_start)
        for value, step, users, from_previous, from_start in zip(
            *(found.column(name).to_pylist() for name in found.column_names), strict=True
        )
    }
    columns = (
        "breakdown",
        "step",
        "event",
        "users",
        "conversion_from_previous",
        "conversion_overall",
        "median_seconds_from_previous",
        "median_seconds_from_start",
    )
    rows: list[tuple[object, ...]] = []
    entered_total = converted_total = 0
    for value in sorted({value for value, _ in reached}):
        entered = previous = reached[(value, 1)][0]
        users = entered
        for k, event in enumerate(steps, start=1):
            users, from_previous, from_start = reached.get((value, k), (0, None, None))
            cells = (
                value,
                k,
                event,
                users,
                users / previous if previous else None,
                users / entered if entered else None,
                from_previous,
                from_start,
            )
            rows.append(tuple(clean(cell) for cell in cells))
            previous = users
        entered_total += entered
        converted_total += users
    table = ResultTable(columns=columns, rows=rows)
    if breakdown is None:
        table = table.without("breakdown")
    return Report(
        kind="funnel",
        query={
            "start": window.start,
            "end": window.end,
            "timezone": window.timezone,
            "steps": list(steps),
            "conversion_window_seconds": seconds,
            "breakdown": str(breakdown) if breakdown else None,
        },
        summary={
            "entered": entered_total,
            "converted": converted_total,
            "conversion": converted_total / entered_total if entered_total else None,
        },
        tables={"steps": table},
    )


__all__ = ["DEFAULT_CONVERSION_WINDOW", "MAX_STEPS", "funnel"]
