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

A breakdown by an event property reads it per **line**: each line's value goes to its
own breakdown value, and an order counts under every value its lines have (an order of
a shirt and a hat counts once under each ``event.item_id``). GMV and returned value add
up across the values; orders, buyers and AOV do not (an order touching two values is
in both). A user attribute gives each order one value. The summary is the shop's,
whatever the breakdown.
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
    clean,
    describe_breakdown,
    folding_summary,
    period_of,
    pop_value_count,
    reading,
)

SECONDS_PER_DAY = 86_400.0
ORDER_KEY = "coalesce(e.order_id, e.user_id || '@' || CAST(epoch_us(e.ts) AS VARCHAR))"
"""SQL of the order a purchase event ``e`` belongs to: its ``order_id``, else the user's
purchases at that instant."""
LINE_VALUE = "coalesce(e.quantity, 1) * e.price"
"""SQL of the value of a purchase or return event ``e``: quantity (1 when absent) x price."""


def orders_sql(window: Window) -> str:
    """A ``SELECT`` of every order up to the window's end: ``user_id, order_key, ts,
    value, nth`` (the customer's 1st, 2nd, ... order) and ``previous_ts`` (their order
    before)."""
    _, end = window.timestamps()
    return f"""
        SELECT *, row_number() OVER w AS nth, lag(ts) OVER w AS previous_ts
        FROM (
            SELECT e.user_id, {ORDER_KEY} AS order_key, min(e.ts) AS ts,
                   sum({LINE_VALUE}) AS value
            FROM events e
            WHERE e.type = 'purchase' AND e.ts < {end}
            GROUP BY ALL
        )
        WINDOW w AS (PARTITION BY user_id ORDER BY ts, order_key)
    """


def commerce(
    store: AnalyticsSource,
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
    orders = orders_sql(window)
    if split.split:
        # Each order of the window once per breakdown value its lines have, with the
        # value of those lines (the lines of an order in the window lie in the window).
        placed_rows = f"""
            lines AS MATERIALIZED (
                SELECT e.user_id, {ORDER_KEY} AS order_key, {LINE_VALUE} AS value,
                       {split.value} AS breakdown
                FROM events e {split.join}
                WHERE e.type = 'purchase' AND e.ts >= {start} AND e.ts < {end}
            ),
            {split.ranking("lines")},
            order_values AS (
                SELECT user_id, order_key, {split.folded("breakdown")} AS breakdown,
                       sum(value) AS value
                FROM lines GROUP BY ALL
            ),
            placed_rows AS (
                SELECT o.user_id, o.order_key, o.ts, o.nth, v.breakdown, v.value
                FROM inside o JOIN order_values v
                  ON v.user_id = o.user_id AND v.order_key = o.order_key
            )
        """
    else:
        placed_rows = f"""
            {split.ranking("")},
            placed_rows AS (SELECT *, '' AS breakdown FROM inside)
        """
    returns = f"""
        SELECT period, {split.folded("breakdown")} AS breakdown,
               sum(amount) AS returned_value
        FROM (
            SELECT {period_of(interval, "e.ts", window.timezone)} AS period,
                   {split.value} AS breakdown,
                   {LINE_VALUE} AS amount
            FROM events e {split.join}
            WHERE e.type = 'return' AND e.ts >= {start} AND e.ts < {end}
        )
        GROUP BY ALL
    """
    sql = f"""
        WITH orders AS ({orders}),
        inside AS (SELECT * FROM orders WHERE ts >= {start}),
        {placed_rows},
        placed AS (
            SELECT {period_of(interval, "ts", window.timezone)} AS period, breakdown,
                   count(*) AS orders, count(DISTINCT user_id) AS buyers,
                   count(DISTINCT user_id) FILTER (WHERE nth = 1) AS new_buyers,
                   count(DISTINCT user_id) FILTER (WHERE nth > 1) AS repeat_buyers,
                   coalesce(sum(value), 0) AS gmv
            FROM placed_rows GROUP BY ALL
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
               coalesce(r.returned_value, 0) AS returned_value,
               {split.value_count()} AS breakdown_values
        FROM placed p FULL JOIN returned r ON r.period = p.period AND r.breakdown = p.breakdown
        ORDER BY period, breakdown
    """
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
    with reading(store, window.timezone) as session:
        found, n_values = pop_value_count(session.query(sql, [*split.params, *split.params]))
        (totals,) = session.query(totals_sql).to_pylist()
    series = ResultTable.from_arrow(found)
    if breakdown is None:
        series = series.without("breakdown")
    return Report(
        kind="commerce",
        query={**window.describe(), "interval": interval, **describe_breakdown(breakdown)},
        summary={
            **{key: clean(value) for key, value in totals.items()},
            **folding_summary(breakdown, n_values),
        },
        tables={"series": series},
    )


__all__ = ["commerce", "orders_sql"]
