"""Lifecycle: in each period, who is new, returning, resurrecting or dormant.

PostHog's definitions, on the users' activity (events of the chosen types):

- **new**: active in the period, which is the period of their first activity ever;
- **returning**: active in the period and in the one before;
- **resurrecting**: active in the period, not in the one before, but at some time
  earlier;
- **dormant**: active in the period before, not in this one. Dormant counts are
  negative, as PostHog draws them: a stacked bar chart shows the growth above the axis
  and the loss below it.

Periods are whole calendar periods: the first one starts at the bucket of the window's
start (activity before ``start`` in that period counts), the last one ends with the
window.
"""

from __future__ import annotations

from shopsense.analytics._query import (
    Breakdown,
    BreakdownSQL,
    Interval,
    Report,
    ResultTable,
    Window,
    bucket,
    check_interval,
    type_filter,
)
from shopsense.store.base import AnalyticsStore

STATUSES = ("new", "returning", "resurrecting", "dormant")


def lifecycle(
    store: AnalyticsStore,
    window: Window,
    *,
    interval: Interval = "week",
    types: tuple[str, ...] | None = None,
    breakdown: Breakdown | None = None,
) -> Report:
    """Users per (period, status), with ``breakdown`` when given; and the totals."""
    check_interval(interval)
    condition, params = type_filter(types, "e.type")
    split = BreakdownSQL.of(breakdown)
    value, join = split.value, split.join
    step = f"INTERVAL 1 {interval.upper()}"
    first = f"CAST(date_trunc('{interval}', DATE '{window.start.isoformat()}') AS DATE)"
    _, end = window.timestamps()
    sql = f"""
        WITH firsts AS (
            SELECT {value} AS breakdown, e.user_id, min({bucket(interval, "e.ts")}) AS first_period
            FROM events e {join} WHERE {condition} AND e.ts < {end} GROUP BY ALL
        ),
        active AS (
            SELECT DISTINCT {value} AS breakdown, e.user_id, {bucket(interval, "e.ts")} AS period
            FROM events e {join}
            WHERE e.ts >= CAST({first} - {step} AS TIMESTAMPTZ) AND e.ts < {end} AND {condition}
        ),
        marked AS (
            SELECT a.breakdown, a.user_id, a.period, f.first_period,
                   lag(a.period) OVER w AS previous, lead(a.period) OVER w AS next
            FROM active a JOIN firsts f ON f.breakdown = a.breakdown AND f.user_id = a.user_id
            WINDOW w AS (PARTITION BY a.breakdown, a.user_id ORDER BY a.period)
        ),
        statuses AS (
            SELECT breakdown, period,
                   CASE WHEN period = first_period THEN 'new'
                        WHEN previous = CAST(period - {step} AS DATE) THEN 'returning'
                        ELSE 'resurrecting' END AS status,
                   count(*) AS users
            FROM marked GROUP BY ALL
            UNION ALL
            SELECT breakdown, CAST(period + {step} AS DATE), 'dormant', -count(*)
            FROM marked WHERE next IS NULL OR next > CAST(period + {step} AS DATE)
            GROUP BY ALL
        )
        SELECT period, breakdown, status, users FROM statuses
        WHERE period >= {first} AND period < DATE '{window.end.isoformat()}'
        ORDER BY period, breakdown,
                 CASE status WHEN 'new' THEN 0 WHEN 'returning' THEN 1
                             WHEN 'resurrecting' THEN 2 ELSE 3 END
    """
    params_all = [*split.params, *params, *split.params, *params]
    table = ResultTable.from_arrow(store.analytics_query(sql, params_all, timezone=window.timezone))
    if breakdown is None:
        table = table.without("breakdown")
    status_index = table.columns.index("status")
    users_index = table.columns.index("users")
    totals = dict.fromkeys(STATUSES, 0)
    for row in table.rows:
        totals[row[status_index]] += row[users_index]
    return Report(
        kind="lifecycle",
        query={
            "start": window.start,
            "end": window.end,
            "timezone": window.timezone,
            "interval": interval,
            "types": list(types or ()),
            "breakdown": str(breakdown) if breakdown else None,
        },
        summary=totals,
        tables={"series": table},
    )


__all__ = ["STATUSES", "lifecycle"]
