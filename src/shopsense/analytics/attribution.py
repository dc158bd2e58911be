"""Recommendation attribution: what the served lists earned.

Every list the API serves is logged with its ``rec_id`` (scenario, model and version,
and the experiment and variant that chose it); the shop's later events cite the
``rec_id``. Within the attribution window after a list was served:

- **viewed**: the list has an ``impression`` event citing it (the shop's front end
  confirms it was on screen; shops that do not send impressions see 0);
- **clicks**: ``click`` or ``view`` events citing it; **CTR** is the share of served
  lists with at least one click (and clicks per item shown is given too);
- **conversions**: ``purchase`` events that cite the list, or (last touch) a purchase
  of an item the same user clicked from the list, no later than the window after the
  click. A purchase line is attributed once, to its latest qualifying click (of clicks
  at one instant, the one with the larger ``event_id``);
- **GMV**: ``quantity x price`` of the attributed purchase lines, and its share of all
  purchase GMV over the same purchase times (the window plus the attribution window
  after it, where credited purchases may fall).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, get_args

from shopsense.analytics._query import (
    AnalyticsSource,
    Interval,
    Report,
    ResultTable,
    Window,
    clean,
    period_of,
    reading,
)
from shopsense.core.errors import ValidationFailedError

Dimension = Literal["scenario", "model", "model_version", "experiment", "variant", "period"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
DEFAULT_DIMENSIONS: tuple[Dimension, ...] = ("scenario", "model", "model_version")
DEFAULT_ATTRIBUTION_WINDOW = timedelta(hours=24)
CLICK_TYPES = ("click", "view")


def attribution(
    store: AnalyticsSource,
    window: Window,
    *,
    by: tuple[str, ...] = DEFAULT_DIMENSIONS,
    interval: Interval = "day",
    attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW,
) -> Report:
    """Lists served in the window and what they earned, grouped by ``by`` (any of
    :data:`DIMENSIONS`; ``period`` buckets by ``interval``)."""
    for name in by:
        if name not in DIMENSIONS:
            raise ValidationFailedError(
                f"cannot group attribution by {name!r}; use any of {', '.join(DIMENSIONS)}",
                details={"field": "by"},
            )
    if attribution_window <= timedelta(0):
        raise ValidationFailedError(
            "the attribution window must be positive", details={"field": "attribution_window"}
        )
    seconds = int(attribution_window.total_seconds())
    start, end = window.timestamps()
    expressions = {
        "scenario": "s.scenario",
        "model": "s.model",
        "model_version": "s.model_version",
        "experiment": "coalesce(s.experiment, '(none)')",
        "variant": "coalesce(s.variant, '(none)')",
        "period": period_of(interval, "s.ts", window.timezone),
    }
    dimensions = list(dict.fromkeys(by))
    group = ", ".join(f"{expressions[name]} AS {name}" for name in dimensions)
    group_select = f"{group}," if group else ""
    horizon = f"{end} + INTERVAL {seconds} SECOND"
    sql = f"""
        WITH served AS (
            SELECT rec_id, user_id, scenario, model, model_version, ts, len(items) AS n_items,
                   json_extract_string(context, '$.experiment') AS experiment,
                   json_extract_string(context, '$.variant') AS variant
            FROM served_recommendations WHERE ts >= {start} AND ts < {end}
        ),
        cited AS (
            SELECT e.event_id, e.type, e.user_id, e.item_id, e.ts, e.rec_id,
                   coalesce(e.quantity, 1) * e.price AS amount
            FROM events e JOIN served s ON s.rec_id = e.rec_id
            WHERE e.ts >= s.ts AND e.ts <= s.ts + INTERVAL {seconds} SECOND
              AND e.ts >= {start} AND e.ts < {horizon}
        ),
        clicks AS (SELECT * FROM cited WHERE list_contains(?, type)),
        direct AS (SELECT event_id, rec_id, amount FROM cited WHERE type = 'purchase'),
        through_clicks AS (
            SELECT p.event_id, arg_max(c.rec_id, (c.ts, c.event_id)) AS rec_id,
                   any_value(coalesce(p.quantity, 1) * p.price) AS amount
            FROM events p JOIN clicks c
              ON p.user_id = c.user_id AND p.item_id = c.item_id
             AND p.ts >= c.ts AND p.ts <= c.ts + INTERVAL {seconds} SECOND
            WHERE p.type = 'purchase' AND p.ts >= {start} AND p.ts < {horizon}
              AND p.event_id NOT IN (SELECT event_id FROM direct)
            GROUP BY p.event_id
        ),
        conversions AS (SELECT * FROM direct UNION ALL SELECT * FROM through_clicks),
        impressions AS (
            SELECT rec_id, count(*) AS n FROM cited WHERE type = 'impression' GROUP BY rec_id
        ),
        clicked AS (SELECT rec_id, count(*) AS n FROM clicks GROUP BY rec_id),
        converted AS (
            SELECT rec_id, count(*) AS n, coalesce(sum(amount), 0) AS gmv
            FROM conversions GROUP BY rec_id
        ),
        per_list AS (
            SELECT s.*, coalesce(i.n, 0) AS impressions, coalesce(k.n, 0) AS clicks,
                   coalesce(v.n, 0) AS conversions, coalesce(v.gmv, 0) AS gmv
            FROM served s
            LEFT JOIN impressions i ON i.rec_id = s.rec_id
            LEFT JOIN clicked k ON k.rec_id = s.rec_id
            LEFT JOIN converted v ON v.rec_id = s.rec_id
        )
        SELECT {group_select}
               count(*) AS lists, sum(n_items) AS items_shown,
               count(*) FILTER (WHERE impressions > 0) AS lists_viewed,
               sum(clicks) AS clicks,
               count(*) FILTER (WHERE clicks > 0) AS lists_clicked,
               count(*) FILTER (WHERE clicks > 0) / count(*) AS ctr,
               sum(clicks) / nullif(sum(n_items), 0) AS clicks_per_item_shown,
               sum(conversions) AS conversions,
               sum(gmv) AS gmv
        FROM per_list s
        {"GROUP BY ALL ORDER BY ALL" if group else ""}
    """
    shop_gmv_sql = (
        f"SELECT coalesce(sum(coalesce(quantity, 1) * price), 0) AS gmv FROM events "
        f"WHERE type = 'purchase' AND ts >= {start} AND ts < {horizon}"
    )
    with reading(store, window.timezone) as session:
        table = session.query(sql, [list(CLICK_TYPES)])
        total_gmv = session.query(shop_gmv_sql).to_pylist()[0]["gmv"]
    rows = table.to_pylist()
    lists = sum(int(row["lists"]) for row in rows)
    clicked = sum(int(row["lists_clicked"]) for row in rows)
    attributed = sum(float(row["gmv"] or 0) for row in rows)
    summary = {
        "lists": lists,
        "clicks": sum(int(row["clicks"] or 0) for row in rows),
        "ctr": clicked / lists if lists else None,
        "conversions": sum(int(row["conversions"] or 0) for row in rows),
        "gmv": attributed,
        "shop_gmv": float(total_gmv),
        "share_of_gmv": attributed / float(total_gmv) if total_gmv else None,
    }
    return Report(
        kind="attribution",
        query={
            **window.describe(),
            "by": dimensions,
            "interval": interval,
            "attribution_window_seconds": seconds,
        },
        summary={key: clean(value) for key, value in summary.items()},
        tables={"lists": ResultTable.from_arrow(table)},
    )


__all__ = ["DEFAULT_ATTRIBUTION_WINDOW", "DEFAULT_DIMENSIONS", "DIMENSIONS", "attribution"]
