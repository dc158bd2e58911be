"""Per-customer purchase summaries computed strictly from data before a cutoff.

:func:`rfm_summary` turns purchase times into what the purchase-process models read
(Fader, Hardie & Lee 2005): ``frequency`` (repeat transactions: distinct purchase days
after the first), ``recency`` (time from the first to the last purchase) and ``T`` (time
from the first purchase to the end of the observation period), in a chosen unit.

:func:`customer_features` computes what the churn, propensity and spend models read
(recency, frequency, monetary value, tenure, inter-purchase gaps, breadth, returns,
and the views, carts, searches and visits a shop sends), and :func:`purchase_labels`
what the customers did in the window after the cutoff. Features read only events
strictly before the cutoff; the leakage tests move later events and check that nothing
changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from shopsense.core.errors import ValidationFailedError

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


# -- the churn / propensity / spend features -------------------------------------------------

EVENT_COLUMNS = ("user_id", "type", "item_id", "ts", "quantity", "price", "value")
"""The columns :func:`customer_features` reads (``session_id`` is not needed: sessions
are counted by inactivity gaps, the same rule for every source)."""

SESSION_GAP_SECONDS = 30 * 60
"""A visit ends after 30 minutes without an event (the web-analytics convention)."""

RECENT_DAYS = (30, 90)
"""The windows before the cutoff that the ``*_30d`` and ``*_90d`` features count."""

ACTIVITY_TYPES = {"view": "views", "add_to_cart": "carts", "search": "searches"}
"""Non-purchase events counted as features where the shop sends them."""

FEATURE_NAMES: tuple[str, ...] = (
    "recency_days",
    "tenure_days",
    "frequency",
    "monetary",
    "average_order_value",
    "distinct_items",
    "categories",
    "gap_mean_days",
    "gap_median_days",
    "gap_std_days",
    "gap_last_days",
    "recency_gap_ratio",
    "purchases_30d",
    "purchases_90d",
    "spend_90d",
    "returns",
    "return_rate",
    "views_30d",
    "carts_30d",
    "searches_30d",
    "sessions_30d",
    "sessions_90d",
    "days_since_last_event",
)
"""The columns of :func:`customer_features`, in order. NaN means "not defined for this
customer" (no second purchase for the gaps, no catalog categories): the gradient-boosted
models route missing values on their own."""


def to_seconds(values: pd.Series | npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Unix seconds from datetimes (tz-aware or UTC-naive) or from integers."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        if series.dt.tz is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return np.asarray(series.to_numpy(dtype="datetime64[s]").astype(np.int64))
    return np.asarray(series.to_numpy(), dtype=np.int64)


def events_frame(table: pa.Table) -> pd.DataFrame:
    """The :data:`EVENT_COLUMNS` of a store's event table (``read_events`` or
    ``interactions``), with ``ts`` as int64 Unix seconds."""
    columns = [name for name in EVENT_COLUMNS if name in table.column_names]
    frame = table.select(columns).to_pandas()
    frame["ts"] = to_seconds(frame["ts"])
    return frame


def line_spend(frame: pd.DataFrame) -> pd.Series:
    """Spend of each purchase line: quantity x price, else the event's value."""
    quantity = frame["quantity"].fillna(1.0) if "quantity" in frame else 1.0
    price = frame["price"] if "price" in frame else pd.Series(np.nan, index=frame.index)
    spend = quantity * price
    if "value" in frame:
        spend = spend.fillna(frame["value"])
    return spend.fillna(0.0).clip(lower=0.0)


def _before(events: pd.DataFrame, cutoff: int) -> pd.DataFrame:
    missing = {"user_id", "type", "ts"} - set(events.columns)
    if missing:
        raise ValidationFailedError(f"events lack the columns {sorted(missing)}")
    return events[events["ts"].to_numpy() < cutoff]


def customer_features(
    events: pd.DataFrame,
    cutoff: int,
    *,
    item_categories: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per customer with a purchase strictly before ``cutoff`` (Unix seconds),
    indexed by ``user_id``, with the :data:`FEATURE_NAMES` columns.

    Only events with ``ts < cutoff`` are read: nothing at or after the cutoff can leak
    into a feature. ``events`` has the :data:`EVENT_COLUMNS` (``ts`` in Unix seconds;
    see :func:`events_frame`); ``item_categories`` maps item id to its top category.
    Days are fractional (``recency_days`` of a purchase 36 hours before the cutoff is
    1.5); purchases on one calendar day are one purchase day (one transaction, as in
    :func:`rfm_summary`).
    """
    past = _before(events, cutoff)
    is_purchase = past["type"].to_numpy() == "purchase"
    purchases = past[is_purchase].assign(spend=line_spend)
    if purchases.empty:
        return pd.DataFrame(columns=list(FEATURE_NAMES), index=pd.Index([], name="user_id"))
    purchases = purchases.assign(day=purchases["ts"].to_numpy() // SECONDS_PER_DAY)
    days = (
        purchases.groupby(["user_id", "day"], sort=True)
        .agg(ts=("ts", "max"), spend=("spend", "sum"))
        .reset_index()
    )
    by_customer = days.groupby("user_id", sort=True)
    features = pd.DataFrame(index=pd.Index(by_customer.size().index, name="user_id"))
    last = by_customer["ts"].max()
    first = purchases.groupby("user_id")["ts"].min()
    features["recency_days"] = (cutoff - last) / SECONDS_PER_DAY
    features["tenure_days"] = (cutoff - first) / SECONDS_PER_DAY
    features["frequency"] = by_customer.size().astype(np.float64)
    features["monetary"] = by_customer["spend"].sum()
    features["average_order_value"] = features["monetary"] / features["frequency"]
    features["distinct_items"] = (
        purchases.groupby("user_id")["item_id"].nunique().astype(np.float64)
        if "item_id" in purchases
        else np.nan
    )
    if item_categories is not None and "item_id" in purchases:
        top = purchases["item_id"].map(item_categories)
        features["categories"] = top.groupby(purchases["user_id"]).nunique().astype(np.float64)
    else:
        features["categories"] = np.nan
    # Gaps between consecutive purchase days (days are sorted within each customer).
    gaps = days.assign(gap=by_customer["day"].diff()).dropna(subset=["gap"])
    gap_stats = gaps.groupby("user_id")["gap"].agg(["mean", "median", "std", "last"])
    features["gap_mean_days"] = gap_stats["mean"]
    features["gap_median_days"] = gap_stats["median"]
    features["gap_std_days"] = gap_stats["std"]
    features["gap_last_days"] = gap_stats["last"]
    features["recency_gap_ratio"] = features["recency_days"] / features["gap_mean_days"]
    for window in RECENT_DAYS:
        recent = days[days["ts"].to_numpy() >= cutoff - window * SECONDS_PER_DAY]
        counts = recent.groupby("user_id").size()
        features[f"purchases_{window}d"] = counts.reindex(features.index, fill_value=0)
        if window == 90:
            spend = recent.groupby("user_id")["spend"].sum()
            features["spend_90d"] = spend.reindex(features.index, fill_value=0.0)
    returns = past[past["type"].to_numpy() == "return"].groupby("user_id").size()
    features["returns"] = returns.reindex(features.index, fill_value=0).astype(np.float64)
    lines = purchases.groupby("user_id").size()
    features["return_rate"] = features["returns"] / lines.reindex(features.index)
    recent_30 = past[past["ts"].to_numpy() >= cutoff - 30 * SECONDS_PER_DAY]
    for event_type, name in ACTIVITY_TYPES.items():
        counts = recent_30[recent_30["type"].to_numpy() == event_type].groupby("user_id").size()
        features[f"{name}_30d"] = counts.reindex(features.index, fill_value=0)
    sessions = _session_starts(past)
    for window in RECENT_DAYS:
        started = sessions[sessions["ts"].to_numpy() >= cutoff - window * SECONDS_PER_DAY]
        counts = started.groupby("user_id").size()
        features[f"sessions_{window}d"] = counts.reindex(features.index, fill_value=0)
    latest_event = past.groupby("user_id")["ts"].max().reindex(features.index)
    features["days_since_last_event"] = (cutoff - latest_event) / SECONDS_PER_DAY
    return features[list(FEATURE_NAMES)].astype(np.float64)


def _session_starts(events: pd.DataFrame) -> pd.DataFrame:
    """The first event of each visit (a new visit after :data:`SESSION_GAP_SECONDS`)."""
    ordered = events[["user_id", "ts"]].sort_values(["user_id", "ts"], kind="stable")
    users = ordered["user_id"].to_numpy()
    stamps = ordered["ts"].to_numpy()
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = (users[1:] != users[:-1]) | (stamps[1:] - stamps[:-1] > SESSION_GAP_SECONDS)
    return ordered[starts]


def rebuy_cycle_days(timestamps: npt.ArrayLike) -> float | None:
    """The median days between a customer's purchases of one item (Unix seconds), or
    None with fewer than two purchases or a cycle under a day (one basket)."""
    stamps = np.sort(np.asarray(timestamps, dtype=np.int64))
    if len(stamps) < 2:
        return None
    cycle = float(np.median(np.diff(stamps))) / SECONDS_PER_DAY
    return cycle if cycle >= 1 else None


@dataclass(frozen=True, slots=True)
class RepeatPurchase:
    """An item a customer buys again and again, and when they should next."""

    item_id: str
    times: int
    every_days: float
    last_ts: int
    expected_ts: int


def repeat_purchases(events: pd.DataFrame, cutoff: int) -> list[RepeatPurchase]:
    """One customer's items bought on two or more days before ``cutoff``, with their
    re-buy cycle (:func:`rebuy_cycle_days` of the purchase days) and the expected next
    purchase (the last plus one cycle), soonest first; an item whose re-buy is overdue
    by more than a whole cycle is left out (they stopped buying it)."""
    past = _before(events, cutoff)
    purchases = past[past["type"].to_numpy() == "purchase"]
    repeats = []
    for item_id, stamps in purchases.groupby("item_id")["ts"]:
        days = np.unique(stamps.to_numpy() // SECONDS_PER_DAY) * SECONDS_PER_DAY
        cycle = rebuy_cycle_days(days)
        if cycle is None:
            continue
        last = int(stamps.max())
        if last + 2 * cycle * SECONDS_PER_DAY < cutoff:
            continue
        repeats.append(
            RepeatPurchase(
                item_id=str(item_id),
                times=len(days),
                every_days=cycle,
                last_ts=last,
                expected_ts=last + round(cycle * SECONDS_PER_DAY),
            )
        )
    return sorted(repeats, key=lambda repeat: (repeat.expected_ts, repeat.item_id))


def purchase_labels(
    events: pd.DataFrame, cutoff: int, *, horizon_days: float, customers: pd.Index
) -> pd.DataFrame:
    """What ``customers`` did in ``[cutoff, cutoff + horizon_days)``: ``purchased``
    (bool), ``spend`` (total), ``purchase_days`` and ``days_to_next`` (days from the
    cutoff to the first purchase in the window, NaN when none)."""
    end = cutoff + int(horizon_days * SECONDS_PER_DAY)
    stamps = events["ts"].to_numpy()
    window = events[(stamps >= cutoff) & (stamps < end) & (events["type"].to_numpy() == "purchase")]
    window = window.assign(spend=line_spend(window), day=window["ts"] // SECONDS_PER_DAY)
    grouped = window.groupby("user_id")
    labels = pd.DataFrame(index=customers)
    labels["spend"] = grouped["spend"].sum().reindex(customers, fill_value=0.0)
    labels["purchase_days"] = grouped["day"].nunique().reindex(customers, fill_value=0)
    labels["purchased"] = labels["purchase_days"] > 0
    labels["days_to_next"] = (grouped["ts"].min().reindex(customers) - cutoff) / SECONDS_PER_DAY
    return labels


__all__ = [
    "EVENT_COLUMNS",
    "FEATURE_NAMES",
    "RFMSummary",
    "RepeatPurchase",
    "customer_features",
    "events_frame",
    "line_spend",
    "purchase_labels",
    "rebuy_cycle_days",
    "repeat_purchases",
    "rfm_summary",
    "to_seconds",
]
