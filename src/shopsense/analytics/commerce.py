"""Commerce: orders, GMV, AOV, repeat purchases and the time between them.

Read from ``purchase`` events (what every shop sends), not from the order table: an
order is the events' ``order_id``, or for events without one, a user's purchases at
one instant. A line's value is ``quantity x price`` (quantity 1 when absent); lines
without a price add no value. ``return`` events give the value returned.

- **GMV** the value of the orders placed in the period; **AOV** GMV / orders;
- **orders per buyer** (purchase frequency) orders / buyers;
- **repeat buyers** per period: buyers who placed an order that was not their first
  ever; the **repeat-purchase rate** of the window: buyers with two or more orders in
  the window, over all buyers in it;
- **time between purchases**: days from a customer's previous order (at any time
  before) to each order in the window, median and mean.
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
    clean,
)
from shopsense.store.base import AnalyticsStore

SECONDS_PER_DAY = 86_400.0


def orders_sql(window: Window, split: BreakdownSQL) -> str:
    """A ``SELECT`` of every order up to the window's end: ``user_id, order_key, ts,
    value, breakdown, nth`` (the customer's 1st, 2nd, ... order) and
    ``previous_ts`` (their order before). Parameters: ``split.params``."""
    _, end = window.timestamps()
    return f"""
        SELECT *, row_number() OVER w AS nth, lag(ts) OVER w AS previous_ts
        FROM (
            SELECT e.user_id,
                   coalesce(e.order_id, e.user_id || '@' || CAST(epoch_us(e.ts) AS VARCHAR))
                       AS order_key,
                   min(e.ts) AS ts,
                   sum(coalesce(e.quantity, 1) * e.price) AS value,
                   any_value({split.value}) AS breakdown
            FROM events e {split.join}
            WHERE e.type = 'purchase' AND e.ts < {end}
            GROUP BY ALL
        )
        WINDOW w AS (PARTITION BY user_id ORDER BY ts, order_key)
    """


def commerce(
    store: AnalyticsStore,
    window: Window,
    *,
    interval: Interval = "week",
    breakdown: Breakdown | None = None,
) -> Report:
    """Per period (and breakdown value): orders, buyers, new and repeat buyers, GMV,
    AOV, orders per buyer, value returned; and the window's totals."""
    check_interval(interval)
    split = BreakdownSQL.of(breakdown)
    start, end = window.timestamps()
    orders = orders_sql(window, split)
    returns = f"""
        SELECT {bucket(interval, "e.ts")} AS period, {split.value} AS breakdown,
               sum(coalesce(e.quantity, 1) * e.price) AS returned_value
        FROM events e {split.join}
        WHERE e.type = 'return' AND e.ts >= {start} AND e.ts < {end}
        GROUP BY ALL
    """
    sql = f"""
        WITH orders AS ({orders}),
        placed AS (
            SELECT {bucket(interval, "ts")} AS period, breakdown,
                   count(*) AS orders, count(DISTINCT user_id) AS buyers,
                   count(DISTINCT user_id) FILTER (WHERE nth = 1) AS new_buyers,
                   count(DISTINCT user_id) FILTER (WHERE nth > 1) AS repeat_buyers,
                   coalesce(sum(value), 0) AS gmv
            FROM orders WHERE ts >= {start} GROUP BY ALL
        ),
        returned AS ({returns})
        SELECT coalesce(p.period, r.period) AS period,
               coalesce(p.breakdown, r.breakdown) AS breakdown,
               coalesce(p.orders, 0) AS orders, coalesce(p.buyers, 0) AS buyers,
               coalesce(p.new_buyers, 0) AS new_buyers,
               coalesce(p.repeat_buyers, 0) AS repeat_buyers,
               coalesce(p.gmv, 0) AS gmv,
               p.gmv / nullif(p.orders, 0) AS aov,
               p.orders / nullif(p.buyers, 0) AS orders_per_buyer,
               p.repeat_buyers / nullif(p.buyers, 0) AS repeat_buyer_share,
               coalesce(r.returned_value, 0) AS returned_value
        FROM placed p FULL JOIN returned r ON r.period = p.period AND r.breakdown = p.breakdown
        ORDER BY period, breakdown
    """
    series = ResultTable.from_arrow(
        store.analytics_query(sql, [*split.params, *split.params], timezone=window.timezone)
    )
    totals_sql = f"""
        WITH orders AS ({orders}),
        inside AS (SELECT * FROM orders WHERE ts >= {start}),
        per_buyer AS (SELECT user_id, count(*) AS n FROM inside GROUP BY user_id)
        SELECT (SELECT count(*) FROM inside) AS orders,
               (SELECT count(*) FROM per_buyer) AS buyers,
               (SELECT coalesce(sum(value), 0) FROM inside) AS gmv,
               (SELECT sum(value) / nullif(count(*), 0) FROM inside) AS aov,
               (SELECT count(*) FROM inside) / nullif((SELECT count(*) FROM per_buyer), 0)
                   AS orders_per_buyer,
               (SELECT count(*) FILTER (WHERE n >= 2) / nullif(count(*), 0) FROM per_buyer)
                   AS repeat_purchase_rate,
               (SELECT count(DISTINCT user_id) FILTER (WHERE nth > 1 AND
                       user_id IN (SELECT user_id FROM orders WHERE ts < {start}))
                       / nullif(count(DISTINCT user_id), 0) FROM inside)
                   AS returning_buyer_rate,
               (SELECT median(epoch(ts) - epoch(previous_ts)) / {SECONDS_PER_DAY}
                  FROM inside WHERE previous_ts IS NOT NULL) AS median_days_between_orders,
               (SELECT avg(epoch(ts) - epoch(previous_ts)) / {SECONDS_PER_DAY}
                  FROM inside WHERE previous_ts IS NOT NULL) AS mean_days_between_orders
    """
    totals = store.analytics_query(totals_sql, split.params, timezone=window.timezone).to_pylist()[
        0
    ]
    if breakdown is None:
        series = series.without("breakdown")
    return Report(
        kind="commerce",
        query={
            "start": window.start,
            "end": window.end,
            "timezone": window.timezone,
            "interval": interval,
            "breakdown": str(breakdown) if breakdown else None,
        },
        summary={key: clean(value) for key, value in totals.items()},
        tables={"series": series},
    )


__all__ = ["commerce", "orders_sql"]
