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

Statuses belong to users, not to their events: a user's first activity ever and their
activity in the period before are over all their events of the chosen types. So a
breakdown splits users by a **user attribute** (``user.<name>``), which each user has
once: every user is in one series, and the series add up to the report without a
breakdown. An event property would put one user in several series, new under one
value and returning under another, and is refused.
"""

from __future__ import annotations

from shopsense.analytics._query import (
    AnalyticsSource,
    Breakdown,
    BreakdownSQL,
    Interval,
    Report,
    ResultTable,
    Window,
    check_interval,
    describe_breakdown,
    folding_summary,
    period_of,
    pop_value_count,
    reading,
    type_filter,
)
from shopsense.core.errors import ValidationFailedError

STATUSES = ("new", "returning", "resurrecting", "dormant")


def lifecycle(
    store: AnalyticsSource,
    window: Window,
    *,
    interval: Interval = "week",
    types: tuple[str, ...] | None = None,
    breakdown: Breakdown | None = None,
) -> Report:
    """Users per (period, status), split by the user attribute ``breakdown`` when given
    (an event property is a :class:`ValidationFailedError`); and the totals."""
    check_interval(interval)
    if breakdown is not None and breakdown.source != "user":
        raise ValidationFailedError(
            f"lifecycle cannot split by {breakdown}: a user's status is decided over all "
            "their activity, so it splits users by an attribute they have once; use "
            "user.<attribute>, e.g. user.country",
            details={"field": "breakdown"},
        )
    condition, params = type_filter(types, "e.type")
    split = BreakdownSQL.of(breakdown)
    step = f"INTERVAL 1 {interval.upper()}"
    first = f"DATE '{window.first_period(interval).isoformat()}'"
    _, end = window.timestamps()
    # Each user's label: their attribute, the values ranked by the users the report
    # shows (the dormant of the first period included), the rest folded into (other).
    labels = (
        f"""labels AS MATERIALIZED (
            SELECT e.user_id, {split.value} AS breakdown
            FROM (SELECT DISTINCT user_id FROM active) e {split.join}
        ),"""
        if split.split
        else ""
    )
    label = split.folded("l.breakdown") if split.split else "''"
    label_join = "LEFT JOIN labels l ON l.user_id = a.user_id" if split.split else ""
    sql = f"""
        WITH firsts AS (
            SELECT e.user_id, {period_of(interval, "min(e.ts)", window.timezone)} AS first_period
            FROM events e WHERE {condition} AND e.ts < {end} GROUP BY e.user_id
        ),
        active AS (
            SELECT DISTINCT e.user_id, {period_of(interval, "e.ts", window.timezone)} AS period
            FROM events e
            WHERE e.ts >= CAST({first} - {step} AS TIMESTAMPTZ) AND e.ts < {end} AND {condition}
        ),
        {labels}
        {split.ranking("labels")},
        marked AS (
            SELECT {label} AS breakdown, a.user_id, a.period, f.first_period,
                   lag(a.period) OVER w AS previous, lead(a.period) OVER w AS next
            FROM active a JOIN firsts f ON f.user_id = a.user_id {label_join}
            WINDOW w AS (PARTITION BY a.user_id ORDER BY a.period)
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
        SELECT period, breakdown, status, users, {split.value_count()} AS breakdown_values
        FROM statuses
        WHERE period >= {first} AND period < DATE '{window.end.isoformat()}'
        ORDER BY period, breakdown,
                 CASE status WHEN 'new' THEN 0 WHEN 'returning' THEN 1
                             WHEN 'resurrecting' THEN 2 ELSE 3 END
    """
    params_all = [*params, *params, *split.params]
    with reading(store, window.timezone) as session:
        found, n_values = pop_value_count(session.query(sql, params_all))
    table = ResultTable.from_arrow(found)
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
            **window.describe(),
            "interval": interval,
            "types": list(types or ()),
            **describe_breakdown(breakdown),
        },
        summary={**totals, **folding_summary(breakdown, n_values)},
        tables={"series": table},
    )


__all__ = ["STATUSES", "lifecycle"]
