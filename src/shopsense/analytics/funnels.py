"""Funnels: of the users who did step 1, how many went on to step 2, then step 3, ...
in order, within a conversion window.

The rules (Mixpanel's and Amplitude's "first entry" funnel):

- a user enters at their **first** step-1 event in the window;
- step ``k`` is their first event of that type at or after step ``k - 1`` and strictly
  after every earlier step of the same type, no later than ``conversion window`` after
  the entry. So one event never completes two steps: in ``view, add_to_cart, view`` a
  view and a cart at one instant do not make step 3, which needs a later view; and a
  second purchase must come at a later time, so another line of the same order is not
  a second purchase;
- every step happens inside the window (an event after ``end`` is not seen).

Per step: users, conversion from the previous step and from step 1, and the median
time from the previous step and from the entry. A breakdown splits users by the
property of their entry event (of two entry events at one instant, the one with the
smaller ``event_id``) or their user attribute.
"""

from __future__ import annotations

from datetime import timedelta

from shopsense.analytics._query import (
    AnalyticsSource,
    Breakdown,
    BreakdownSQL,
    Report,
    ResultTable,
    Window,
    clean,
    describe_breakdown,
    folding_summary,
    pop_value_count,
    reading,
)
from shopsense.core.errors import ValidationFailedError

MAX_STEPS = 10
DEFAULT_CONVERSION_WINDOW = timedelta(days=14)


def funnel(
    store: AnalyticsSource,
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
        f"""entries AS {split.shared} (
            SELECT e.user_id, {split.first_value()} AS breakdown, min(e.ts) AS t1
            FROM events e {split.join}
            WHERE e.type = ? AND e.ts >= {start} AND e.ts < {end}
            GROUP BY e.user_id
        )""",
        split.ranking("entries"),
        f"s1 AS (SELECT user_id, {split.folded('breakdown')} AS breakdown, t1 FROM entries)",
    ]
    params: list[object] = [*split.params, steps[0]]
    for k in range(2, len(steps) + 1):
        # At or after step k-1, strictly after the latest earlier step of the same type
        # (the steps' times never decrease): one event never completes two steps.
        same_type = [j for j in range(1, k) if steps[j - 1] == steps[k - 1]]
        if same_type and same_type[-1] == k - 1:
            bounds = [f"e.ts > p.t{k - 1}"]
        else:
            bounds = [f"e.ts >= p.t{k - 1}", *(f"e.ts > p.t{j}" for j in same_type[-1:])]
        carried = ", ".join(f"p.t{j}" for j in range(1, k))
        ctes.append(
            f"""s{k} AS (
                SELECT p.user_id, p.breakdown, {carried}, min(e.ts) AS t{k}
                FROM s{k - 1} p JOIN events e
                  ON e.user_id = p.user_id AND e.type = ? AND {" AND ".join(bounds)}
                 AND e.ts >= {start} AND e.ts <= p.t1 + INTERVAL {seconds} SECOND
                 AND e.ts < {end}
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
        f"SELECT *, {split.value_count()} AS breakdown_values "
        f"FROM ({' UNION ALL '.join(selects)}) "
        "AS f(breakdown, step, users, from_previous, from_start) "
        "ORDER BY breakdown, step"
    )
    with reading(store, window.timezone) as session:
        found, n_values = pop_value_count(session.query(sql, params))
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
            **window.describe(),
            "steps": list(steps),
            "conversion_window_seconds": seconds,
            **describe_breakdown(breakdown),
        },
        summary={
            "entered": entered_total,
            "converted": converted_total,
            "conversion": converted_total / entered_total if entered_total else None,
            **folding_summary(breakdown, n_values),
        },
        tables={"steps": table},
    )


__all__ = ["DEFAULT_CONVERSION_WINDOW", "MAX_STEPS", "funnel"]
