"""A customer's profile as the API shows it: what they did lately and what they are
into (categories, brands, price band), from the store and the live history, and what
the customer models say of them (segment, churn risk, value, next purchase)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa

from shopsense.core.errors import NotFittedError, NotFoundError
from shopsense.serve.live import ADD_TO_CART, PURCHASE
from shopsense.serve.schemas import (
    CustomerInsight,
    Interest,
    Interests,
    PriceBand,
    ProfileEvent,
    ProfileOut,
)
from shopsense.serve.state import ServerState

INTEREST_WEIGHTS = {PURCHASE: 3.0, ADD_TO_CART: 2.0}
"""How much an event says about interest (others: 1)."""
RECENT_EVENTS = 20
TOP_INTERESTS = 5


def _ranked(weights: dict[str, float]) -> list[Interest]:
    total = sum(weights.values()) or 1.0
    ranked = sorted(weights.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_INTERESTS]
    return [Interest(name=name, weight=round(weight / total, 4)) for name, weight in ranked]


def interests(server: ServerState, user_id: str) -> Interests:
    """Shares of weighted events by top category and brand, and the price band of the
    items the user engaged with against the catalog's price terciles."""
    catalog = server.catalog
    categories: dict[str, float] = defaultdict(float)
    brands: dict[str, float] = defaultdict(float)
    prices: list[float] = []
    events = server.histories.recent(user_id)
    bought = server.histories.purchases(user_id)
    weighted = [(event.item, INTEREST_WEIGHTS.get(event.type, 1.0)) for event in events]
    in_history = {event.item for event in events if event.type == PURCHASE}
    weighted += [
        (item, 3.0 * len(times)) for item, times in bought.items() if item not in in_history
    ]
    for item, weight in weighted:
        top = catalog.categories(item)
        if top:
            categories[top[0]] += weight
        brand = catalog.label(int(catalog.brand(np.array([item]))[0]))
        if brand:
            brands[brand] += weight
        price = float(catalog.price(np.array([item]))[0])
        if not np.isnan(price):
            prices.append(price)
    band = None
    if prices:
        all_prices = catalog.price(np.arange(len(catalog)))
        all_prices = all_prices[~np.isnan(all_prices)]
        median = float(np.median(prices))
        low_cut, high_cut = (
            np.quantile(all_prices, [1 / 3, 2 / 3]) if len(all_prices) else (median, median)
        )
        label = "budget" if median < low_cut else "premium" if median > high_cut else "mid-range"
        band = PriceBand(low=min(prices), median=median, high=max(prices), band=label)
    return Interests(categories=_ranked(categories), brands=_ranked(brands), price=band)


def build_profile(server: ServerState, user_id: str) -> ProfileOut:
    """The profile, or NotFoundError when the store and live state know nothing of them."""
    store = server.store
    try:
        user = store.get_user(user_id)
        created_at, attributes, has_record = user.created_at, dict(user.attributes), True
    except NotFoundError:
        created_at, attributes, has_record = None, {}, False
    events = store.read_events(user_id=user_id)
    if not has_record and events.num_rows == 0 and not server.histories.knows(user_id):
        raise NotFoundError(f"no user with user_id {user_id!r} (no record and no events)")
    rows = events.select(["event_id", "type", "item_id", "ts"]).to_pylist()[-RECENT_EVENTS:]
    recent = []
    for row in reversed(rows):
        code = server.catalog.code(row["item_id"]) if row["item_id"] else None
        recent.append(
            ProfileEvent(**row, title=server.catalog.title(code) if code is not None else None)
        )
    purchases = sum(1 for kind in events.column("type").to_pylist() if kind == PURCHASE)
    customer, note = customer_insight(server, user_id, events)
    return ProfileOut(
        user_id=user_id,
        created_at=created_at,
        attributes=attributes,
        events=events.num_rows,
        purchases=purchases,
        cart=server.catalog.item_ids(server.histories.cart(user_id)),
        recent_events=recent,
        interests=interests(server, user_id),
        customer=customer,
        customer_note=note,
    )


def customer_insight(
    server: ServerState, user_id: str, events: pa.Table | None = None
) -> tuple[CustomerInsight | None, str | None]:
    """The customer models' view of the user as of the shop's clock, or why there is
    none (no models trained yet, or no purchase yet); ``events``: their stored events,
    when already read."""
    catalog = server.catalog

    def title(item_id: str) -> str | None:
        code = catalog.code(item_id)
        return catalog.title(code) if code is not None else None

    try:
        insight = server.customers.insight(
            user_id, now=server.histories.trending.latest, titles=title, events=events
        )
    except NotFittedError as error:
        return None, error.message
    if insight is None:
        return None, "no purchase yet: segment, churn risk and value come with the first one"
    return insight, None
