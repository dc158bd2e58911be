"""Per-user metric values of an experiment, from the store.

The unit is the exposed user: every user in ``experiment_exposures`` (written when a
variant was actually served to them). Each is measured over the same fixed window, the
experiment's ``observation_days`` from their first exposure, and only users whose
window has ended by the time of the analysis count: a counted user's values never change
afterwards, which is what the always-valid p-values assume when the results are looked
at again and again. Each metric has a pre-period twin over the :data:`PRE_PERIOD_DAYS`
before the exposure, the covariate of CUPED:

===================  ==========================================  =========================
metric               in the user's window                        covariate (before it)
===================  ==========================================  =========================
conversion           1 if they bought, else 0                    bought before
revenue_per_user     purchase value (quantity x price)           the same before
rec_ctr              lists clicked / lists served to them under  none (ratio metric)
                     the experiment (numerator, denominator)
retention_7d         1 if active again on days 1 to 7 after      active before
                     exposure (windows of 8 days or more)
active_days          distinct days with any event (UTC days)     the same before
returns_per_user     return events                               the same before
===================  ==========================================  =========================
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from shopsense.analytics.attribution import CLICK_TYPES
from shopsense.store.base import AnalyticsStore

PRE_PERIOD_DAYS = 28
RETENTION_DAYS = 7
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ExposedUsers:
    """One row per exposed user (arrays aligned): their variant and metric values."""

    user_ids: list[str]
    variants: list[str]
    columns: dict[str, FloatArray]

    def __len__(self) -> int:
        return len(self.user_ids)

    def of_variant(self, variant: str) -> npt.NDArray[np.bool_]:
        return np.asarray([v == variant for v in self.variants], dtype=bool)


def measure_exposed_users(
    store: AnalyticsStore,
    experiment_id: str,
    *,
    end: datetime,
    observation_days: int,
    attribution_window: timedelta,
) -> ExposedUsers:
    """The metrics of every user whose ``observation_days`` after their first exposure
    ended by ``end`` (see the module docstring)."""
    seconds = int(attribution_window.total_seconds())
    retention = (
        "CAST(coalesce(a.came_back, false) AS DOUBLE)"
        if observation_days > RETENTION_DAYS
        else "CAST(NULL AS DOUBLE)"
    )
    sql = f"""
        WITH exposed AS (
            SELECT user_id, variant, ts AS exposed_at,
                   ts + INTERVAL {observation_days} DAY AS until
            FROM experiment_exposures
            WHERE experiment_id = $1 AND ts + INTERVAL {observation_days} DAY <= $2
        ),
        after AS (
            SELECT x.user_id,
                   count(*) FILTER (WHERE e.type = 'purchase') AS purchases,
                   coalesce(sum(coalesce(e.quantity, 1) * e.price)
                       FILTER (WHERE e.type = 'purchase'), 0) AS revenue,
                   count(DISTINCT CAST(e.ts AS DATE)) AS active_days,
                   count(*) FILTER (WHERE e.type = 'return') AS returns,
                   bool_or(e.ts >= x.exposed_at + INTERVAL 1 DAY
                       AND e.ts < x.exposed_at + INTERVAL {RETENTION_DAYS + 1} DAY) AS came_back
            FROM exposed x JOIN events e
              ON e.user_id = x.user_id AND e.ts >= x.exposed_at AND e.ts < x.until
            GROUP BY x.user_id
        ),
        before AS (
            SELECT x.user_id,
                   count(*) FILTER (WHERE e.type = 'purchase') AS purchases,
                   coalesce(sum(coalesce(e.quantity, 1) * e.price)
                       FILTER (WHERE e.type = 'purchase'), 0) AS revenue,
                   count(DISTINCT CAST(e.ts AS DATE)) AS active_days,
                   count(*) FILTER (WHERE e.type = 'return') AS returns
            FROM exposed x JOIN events e
              ON e.user_id = x.user_id AND e.ts < x.exposed_at
             AND e.ts >= x.exposed_at - INTERVAL {PRE_PERIOD_DAYS} DAY
            GROUP BY x.user_id
        ),
        lists AS (
            SELECT s.rec_id, s.user_id, s.ts, x.until
            FROM served_recommendations s JOIN exposed x
              ON x.user_id = s.user_id AND s.ts >= x.exposed_at AND s.ts < x.until
            WHERE json_extract_string(s.context, '$.experiment') = $1
        ),
        clicked AS (
            SELECT DISTINCT l.rec_id FROM lists l JOIN events e
              ON e.rec_id = l.rec_id AND list_contains($3, e.type)
             AND e.ts >= l.ts AND e.ts <= l.ts + INTERVAL {seconds} SECOND AND e.ts < l.until
        ),
        per_user_lists AS (
            SELECT l.user_id, count(*) AS lists, count(c.rec_id) AS clicked_lists
            FROM lists l LEFT JOIN clicked c ON c.rec_id = l.rec_id GROUP BY l.user_id
        )
        SELECT x.user_id, x.variant,
               CAST(coalesce(a.purchases, 0) > 0 AS DOUBLE) AS conversion,
               CAST(coalesce(b.purchases, 0) > 0 AS DOUBLE) AS conversion_pre,
               CAST(coalesce(a.revenue, 0) AS DOUBLE) AS revenue_per_user,
               CAST(coalesce(b.revenue, 0) AS DOUBLE) AS revenue_per_user_pre,
               CAST(coalesce(l.clicked_lists, 0) AS DOUBLE) AS rec_ctr,
               CAST(coalesce(l.lists, 0) AS DOUBLE) AS rec_ctr_denominator,
               {retention} AS retention_7d,
               CAST(coalesce(b.active_days, 0) > 0 AS DOUBLE) AS retention_7d_pre,
               CAST(coalesce(a.active_days, 0) AS DOUBLE) AS active_days,
               CAST(coalesce(b.active_days, 0) AS DOUBLE) AS active_days_pre,
               CAST(coalesce(a.returns, 0) AS DOUBLE) AS returns_per_user,
               CAST(coalesce(b.returns, 0) AS DOUBLE) AS returns_per_user_pre
        FROM exposed x
        LEFT JOIN after a ON a.user_id = x.user_id
        LEFT JOIN before b ON b.user_id = x.user_id
        LEFT JOIN per_user_lists l ON l.user_id = x.user_id
        ORDER BY x.user_id
    """
    table = store.analytics_query(sql, [experiment_id, end, list(CLICK_TYPES)])
    return ExposedUsers(
        user_ids=[str(u) for u in table.column("user_id").to_pylist()],
        variants=[str(v) for v in table.column("variant").to_pylist()],
        columns={
            name: _floats(table.column(name))
            for name in table.column_names
            if name not in ("user_id", "variant")
        },
    )


def _floats(column: pa.ChunkedArray) -> FloatArray:  # type: ignore[type-arg]
    """A numeric column as floats, NULL as NaN (a user the metric does not apply to)."""
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


__all__ = [
    "PRE_PERIOD_DAYS",
    "RETENTION_DAYS",
    "ExposedUsers",
    "measure_exposed_users",
]
