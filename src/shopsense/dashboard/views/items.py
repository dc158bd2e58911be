"""The dashboard's items pages: the catalog with a search, and one item's facts, the
items like it, the items bought with it and its sales.

Similar and bought-together items are the engine's answers to
``GET /v1/items/{id}/similar`` and ``/bought-together`` (with the same display fields,
:func:`~shopsense.serve.routers.recommendations.item_out`); sales are read from the
store's purchase events the way the commerce report reads them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from dataclasses import replace
from datetime import date, timedelta
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopsense.analytics import Window
from shopsense.analytics.commerce import LINE_VALUE, ORDER_KEY
from shopsense.core.errors import NotFoundError
from shopsense.core.settings import AnalyticsSettings
from shopsense.dashboard.i18n import Translator
from shopsense.dashboard.pages import window_of
from shopsense.dashboard.web import (
    page_router,
    render,
    server_of,
    translator_of,
    viewer_or_redirect,
)
from shopsense.serve.engine import Recommended
from shopsense.serve.routers.recommendations import item_out
from shopsense.serve.state import ServerState
from shopsense.store.base import Store

router = page_router()

ITEMS_PER_PAGE = 50
RELATED_ITEMS = 10
"""How many similar and bought-together items an item page lists (the API's default)."""
SALES_DAYS = 90
SEARCHED_COLUMNS = ("item_id", "title", "brand")
CATEGORY_SEPARATOR = " › "


def price_text(t: Translator, price: float | None, currency: str | None) -> str:
    """The price in the item's own currency when it has one (else the dashboard's)."""
    return (replace(t, currency=currency) if currency else t).money(price)


def listed_items(server: ServerState, found: Iterable[Recommended]) -> list[dict[str, Any]]:
    """Recommended items with the fields the API shows for them (title, category, brand,
    price, the reason in words)."""
    return [item_out(server, recommended) for recommended in found]


def matching_items(items: pa.Table, query: str) -> pa.Table:
    """The items whose id, title, brand or category path holds ``query`` (any case),
    by item id."""
    items = items.sort_by("item_id")
    if not query:
        return items
    columns: list[Any] = [items.column(name) for name in SEARCHED_COLUMNS]
    columns.append(pc.binary_join(items.column("category"), CATEGORY_SEPARATOR))
    found = np.zeros(items.num_rows, dtype=bool)
    for column in columns:
        holds = pc.match_substring(column, pattern=query, ignore_case=True)
        found |= np.asarray(holds.fill_null(False), dtype=bool)
    return items.filter(found)


def catalog_page(store: Store, t: Translator, query: str, page: int) -> dict[str, Any]:
    """One page of the catalog's items matching ``query``, with the page count."""
    matches = matching_items(store.read_items(), query.strip())
    pages = max(1, math.ceil(matches.num_rows / ITEMS_PER_PAGE))
    page = min(page, pages)
    shown = matches.slice((page - 1) * ITEMS_PER_PAGE, ITEMS_PER_PAGE)
    rows = [
        {
            **row,
            "category_path": CATEGORY_SEPARATOR.join(row["category"] or ()),
            "price_text": price_text(t, row["price"], row["currency"]),
        }
        for row in shown.select(
            ["item_id", "title", "category", "brand", "price", "currency", "in_stock", "active"]
        ).to_pylist()
    ]
    return {
        "query": query.strip(),
        "page_number": page,
        "pages": pages,
        "matches": matches.num_rows,
        "catalog_size": store.count_items(),
        "first": (page - 1) * ITEMS_PER_PAGE + 1 if rows else 0,
        "last": (page - 1) * ITEMS_PER_PAGE + len(rows),
        "rows": rows,
    }


def item_sales(store: Store, settings: AnalyticsSettings, item_id: str) -> dict[str, Any]:
    """Units, orders and revenue of ``item_id`` per day over the last :data:`SALES_DAYS`
    days of the shop's data (the window ending with its newest event, as the API's
    reports default to), every day listed, days without a sale as 0. An order counts
    once however many lines of the item it has; a line without a quantity is one unit
    and one without a price adds no revenue (the commerce report's rules)."""
    with store.analytics_session(timezone=settings.timezone) as session:
        window = window_of(session, settings, SALES_DAYS)
        start, end = window.timestamps()
        table = session.query(
            f"""
            SELECT CAST(e.ts AS DATE) AS day, sum(coalesce(e.quantity, 1)) AS units,
                   count(DISTINCT {ORDER_KEY}) AS orders,
                   coalesce(sum({LINE_VALUE}), 0) AS revenue
            FROM events e
            WHERE e.type = 'purchase' AND e.item_id = ? AND e.ts >= {start} AND e.ts < {end}
            GROUP BY ALL
            """,
            [item_id],
        )
    by_day = {row["day"]: row for row in table.to_pylist()}
    days = _days(window)
    daily = [by_day.get(day, {"units": 0, "orders": 0, "revenue": 0.0}) for day in days]
    return {
        "window": window,
        "days": [day.isoformat() for day in days],
        "units": [float(row["units"]) for row in daily],
        "orders": [int(row["orders"]) for row in daily],
        "revenue": [float(row["revenue"]) for row in daily],
    }


def _days(window: Window) -> list[date]:
    return [window.start + timedelta(days=offset) for offset in range(window.days)]


def item_page(server: ServerState, t: Translator, item_id: str) -> dict[str, Any]:
    """The item's facts, similar and bought-together items and daily sales; a
    :class:`NotFoundError` (a 404 page) when the catalog has no such item."""
    item = server.store.get_item(item_id)
    try:
        similar = listed_items(server, server.engine.similar(item_id, RELATED_ITEMS))
        together = [
            {**item_out(server, recommended), "confidence": confidence, "lift": lift}
            for recommended, confidence, lift in server.engine.bought_together(
                item_id, RELATED_ITEMS
            )
        ]
    except NotFoundError:
        # Stored a moment ago and not yet in the serving catalog: nothing to relate yet.
        similar, together = [], []
    sales = item_sales(server.store, server.settings.analytics, item_id)
    revenue = sum(sales["revenue"])
    return {
        "item": item,
        "category_path": CATEGORY_SEPARATOR.join(item.category),
        "price_text": price_text(t, item.price, item.currency),
        "similar": similar,
        "together": together,
        "sales": sales,
        "totals": {
            "units": sum(sales["units"]),
            "orders": sum(sales["orders"]),
            "revenue": revenue,
        },
        "revenue_text": price_text(t, revenue, item.currency),
        "charts": {
            "sales": {
                "type": "bar",
                "labels": sales["days"],
                "datasets": [{"label": t("items.units"), "data": sales["units"]}],
            }
        },
    }


@router.get("/items", response_class=HTMLResponse)
async def items_page(
    request: Request,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    server = server_of(request)
    data = await asyncio.to_thread(catalog_page, server.store, translator_of(request), q, page)
    return render(request, "items.html", viewer, "items", **data)


@router.get("/items/{item_id}", response_class=HTMLResponse)
async def item_detail(request: Request, item_id: str) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    server = server_of(request)
    data = await asyncio.to_thread(item_page, server, translator_of(request), item_id)
    return render(request, "item.html", viewer, "items", **data)


__all__ = [
    "ITEMS_PER_PAGE",
    "catalog_page",
    "item_page",
    "item_sales",
    "listed_items",
    "matching_items",
    "price_text",
    "router",
]
