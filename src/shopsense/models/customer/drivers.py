"""Churn drivers in plain words: a customer's largest SHAP contributions (LightGBM's
``pred_contrib``) written as what the shop can read and act on, such as "no purchase
for 94 days, 3.0x their usual gap".

A driver is a feature whose contribution pushes the churn log-odds up (a risk) or down
(a reason they stay); the words describe the customer's own value of that feature, and
features that say the same thing (recency and recency over the usual gap) are merged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MIN_CONTRIBUTION = 0.02
"""Contributions (log-odds) smaller than this explain nothing worth saying."""


@dataclass(frozen=True, slots=True)
class Driver:
    """One reason: the feature, its signed contribution to the log-odds of churn, and
    the words (``risk``: it raises the churn probability)."""

    feature: str
    contribution: float
    text: str

    @property
    def risk(self) -> bool:
        return self.contribution > 0


def _days(value: float) -> str:
    days = round(value)
    return f"{days} day{'s' if days != 1 else ''}"


def _count(value: float, noun: str, plural: str | None = None) -> str:
    count = round(value)
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _recency(row: Mapping[str, float]) -> str:
    recency, gap = row["recency_days"], row.get("gap_mean_days", math.nan)
    text = f"no purchase for {_days(recency)}"
    if gap and not math.isnan(gap) and gap >= 1:
        text += f", {recency / gap:.1f}x their usual gap of {_days(gap)}"
    return text


def _frequency(row: Mapping[str, float]) -> str:
    value = row["frequency"]
    return "only one purchase so far" if round(value) <= 1 else f"{_count(value, 'purchase day')}"


def _windowed(name: str, noun: str, window: int) -> Callable[[Mapping[str, float]], str]:
    def text(row: Mapping[str, float]) -> str:
        value = row[name]
        if round(value) == 0:
            return f"no {noun}s in the last {window} days"
        return f"{_count(value, noun)} in the last {window} days"

    return text


WORDS: dict[str, Callable[[Mapping[str, float]], str]] = {
    "recency_days": _recency,
    "recency_gap_ratio": _recency,
    "days_since_last_event": lambda row: f"last seen {_days(row['days_since_last_event'])} ago",
    "tenure_days": lambda row: f"first bought {_days(row['tenure_days'])} ago",
    "frequency": _frequency,
    "monetary": lambda row: f"spent {_money(row['monetary'])} in total",
    "average_order_value": lambda row: f"average order {_money(row['average_order_value'])}",
    "distinct_items": lambda row: (
        "bought a single product"
        if round(row["distinct_items"]) == 1
        else f"bought {_count(row['distinct_items'], 'different product')}"
    ),
    "categories": lambda row: f"buys from {_count(row['categories'], 'category', 'categories')}",
    "gap_mean_days": lambda row: f"buys about every {_days(row['gap_mean_days'])}",
    "gap_median_days": lambda row: f"buys about every {_days(row['gap_median_days'])}",
    "gap_std_days": lambda row: f"irregular rhythm (gaps vary by {_days(row['gap_std_days'])})",
    "gap_last_days": lambda row: f"{_days(row['gap_last_days'])} between their last two purchases",
    "purchases_30d": _windowed("purchases_30d", "purchase day", 30),
    "purchases_90d": _windowed("purchases_90d", "purchase day", 90),
    "spend_90d": lambda row: f"spent {_money(row['spend_90d'])} in the last 90 days",
    "returns": lambda row: f"returned {_count(row['returns'], 'item')}",
    "return_rate": lambda row: f"returns {row['return_rate']:.0%} of what they buy",
    "views_30d": _windowed("views_30d", "product view", 30),
    "carts_30d": _windowed("carts_30d", "add-to-cart", 30),
    "searches_30d": _windowed("searches_30d", "search", 30),
    "sessions_30d": _windowed("sessions_30d", "visit", 30),
    "sessions_90d": _windowed("sessions_90d", "visit", 90),
}
"""How each feature of :data:`~shopsense.features.customers.FEATURE_NAMES` reads."""


def describe(
    features: Mapping[str, float], contributions: Mapping[str, float], *, top: int = 3
) -> list[Driver]:
    """The ``top`` strongest drivers of one customer, strongest first (risks and
    reasons to stay alike; :attr:`Driver.risk` tells them apart). Features with a NaN
    value (not defined for this customer) or a negligible contribution are skipped."""
    ranked = sorted(
        (
            (name, value)
            for name, value in contributions.items()
            if name != "bias" and abs(value) >= MIN_CONTRIBUTION
        ),
        key=lambda pair: -abs(pair[1]),
    )
    drivers: list[Driver] = []
    said: set[str] = set()
    for name, value in ranked:
        feature_value = features.get(name, math.nan)
        if feature_value is None or math.isnan(feature_value):
            continue
        words = WORDS.get(name, lambda row, name=name: f"{name} = {row[name]:g}")
        text = words(features)
        if text in said:  # recency and recency over the gap say the same
            continue
        said.add(text)
        drivers.append(Driver(feature=name, contribution=float(value), text=text))
        if len(drivers) == top:
            break
    return drivers


__all__ = ["MIN_CONTRIBUTION", "WORDS", "Driver", "describe"]
