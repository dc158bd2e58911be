"""Per-customer purchase summaries computed strictly from data before a cutoff.

:func:`rfm_summary` turns purchase times into what the purchase-process models read
(Fader, Hardie & Lee 2005): ``frequency`` (repeat transactions: distinct purchase days
after the first), ``recency`` (time from the first to the last purchase) and ``T`` (time
from the first purchase to the end of the observation period), in a chosen unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SECONDS_PER_DAY = 86_400

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class RFMSummary:
    """Parallel arrays, one entry per customer who bought before the cutoff."""

    customer_ids: StrArray
    frequency: FloatArray
    recency: FloatArray
    T: FloatArray  # the papers' name

    def __len__(self) -> int:
        return len(self.customer_ids)


def rfm_summary(
    customer_ids: npt.ArrayLike,
    timestamps: npt.ArrayLike,
    *,
    observation_end: int,
    unit_days: float = 7.0,
) -> RFMSummary:
    """Summaries of purchases at ``timestamps`` (Unix seconds) made before the day after
    ``observation_end`` (Unix seconds of the period's last day): purchases on one day are
    one transaction; times are counted in whole days, then in units of ``unit_days``.
    Purchases after the period are ignored (no leakage from the holdout)."""
    customers = np.asarray(customer_ids).astype(str)
    days = np.asarray(timestamps, dtype=np.int64) // SECONDS_PER_DAY
    end_day = int(observation_end) // SECONDS_PER_DAY
    inside = days <= end_day
    customers, days = customers[inside], days[inside]
    order = np.lexsort((days, customers))
    customers, days = customers[order], days[order]
    # One transaction per customer and day.
    distinct = np.ones(len(days), dtype=bool)
    distinct[1:] = (customers[1:] != customers[:-1]) | (days[1:] != days[:-1])
    customers, days = customers[distinct], days[distinct]
    ids, starts, counts = np.unique(customers, return_index=True, return_counts=True)
    first = days[starts].astype(np.float64)
    last = days[starts + counts - 1].astype(np.float64)
    return RFMSummary(
        customer_ids=ids,
        frequency=(counts - 1).astype(np.float64),
        recency=(last - first) / unit_days,
        T=(end_day - first) / unit_days,
    )


__all__ = ["RFMSummary", "rfm_summary"]
