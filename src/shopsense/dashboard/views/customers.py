"""The dashboard's customers pages: the segments, the valuable customers at risk, and
one customer's page (their events, interests, what the customer models say of them,
and their recommendations as they would be served now).

The numbers come from the services behind ``GET /v1/segments``,
``/v1/customers/at-risk``, ``/v1/users/{id}`` and ``/v1/users/{id}/recommendations``,
so a page shows what the API answers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopsense.core.errors import NotFittedError
from shopsense.dashboard.i18n import DEFAULT_LANGUAGE, Translator, messages
from shopsense.dashboard.views.items import listed_items
from shopsense.dashboard.web import (
    page_router,
    render,
    server_of,
    translator_of,
    viewer_or_redirect,
)
from shopsense.models.customer.segments import SEGMENTS
from shopsense.serve.customers import SLIPPING_ACTION
from shopsense.serve.engine import RecommendationRequest
from shopsense.serve.profiles import build_profile
from shopsense.serve.schemas import AtRiskCustomer
from shopsense.serve.state import ServerState

router = page_router()

AT_RISK_SHOWN = 50
"""How many valuable customers at risk the list shows by default."""
RECOMMENDED_ITEMS = 10
"""Items per recommendation list (the API's default ``n``)."""
SCENARIOS = ("home", "buy-again", "cart", "item")
VIEW = "view"


@dataclass(frozen=True, slots=True)
class SortColumn:
    """A column the at-risk list sorts by: the customer's field and its first order
    (numbers largest first, text A to Z)."""

    key: str
    field: str
    numeric: bool


SORT_COLUMNS: dict[str, SortColumn] = {
    column.key: column
    for column in (
        SortColumn("customer", "user_id", numeric=False),
        SortColumn("churn", "churn_probability", numeric=True),
        SortColumn("annual_value", "annual_value", numeric=True),
        SortColumn("value_at_risk", "value_at_risk", numeric=True),
        SortColumn("clv", "clv", numeric=True),
        SortColumn("segment", "segment", numeric=False),
    )
}
DEFAULT_SORT = "-value_at_risk"
"""The service's own order: value at risk, largest first."""


def translated(t: Translator, key: str, fallback: str) -> str:
    """The message ``key``, or ``fallback`` (text from the models, in English) when no
    catalog has it: a shop may add segments or event types the messages do not know."""
    if key in messages(t.language) or key in messages(DEFAULT_LANGUAGE):
        return t(key)
    return fallback


def _slug(name: str) -> str:
    return name.lower().replace(" ", "_").replace("-", "_")


def segment_text(t: Translator, name: str) -> dict[str, str]:
    """An RFM segment's name, description and suggested action in the page's language."""
    info = SEGMENTS.get(name)
    key = f"customers.segment.{_slug(name)}"
    return {
        "name": name,
        "label": translated(t, key, name),
        "description": translated(t, f"{key}.description", info.description if info else ""),
        "action": translated(t, f"{key}.action", info.action if info else ""),
    }


def action_text(t: Translator, segment: str, action: str) -> str:
    """A retention action (:func:`shopsense.serve.customers.retention_action`) in the
    page's language: the segment's action or the check-in of a slipping customer,
    maybe after following up on their returns; as given when it is neither."""
    info = SEGMENTS.get(segment)
    known = {SLIPPING_ACTION: translated(t, "customers.action.slipping", SLIPPING_ACTION)}
    if info is not None:
        known[info.action] = segment_text(t, segment)["action"]
    for english, text in known.items():
        if action == english:
            return text
        if action.endswith(english):
            return t("customers.action.returns_first", action=text)
    return action


def models_trained(server: ServerState) -> bool:
    try:
        server.customers.loaded  # noqa: B018  (raises when none were trained)
    except NotFittedError:
        return False
    return True


def sort_order(sort: str) -> tuple[SortColumn, bool]:
    """The column and direction (descending?) of a ``sort`` value such as
    ``-churn``; the default order for a value naming no column."""
    key = sort.removeprefix("-")
    if key not in SORT_COLUMNS:
        return sort_order(DEFAULT_SORT)
    return SORT_COLUMNS[key], sort.startswith("-")


def sorted_customers(
    customers: list[AtRiskCustomer], column: SortColumn, descending: bool
) -> list[AtRiskCustomer]:
    """``customers`` by ``column`` (ties by user id); a missing value (no CLV) last in
    either direction."""
    present = [c for c in customers if getattr(c, column.field) is not None]
    missing = [c for c in customers if getattr(c, column.field) is None]
    present.sort(key=lambda customer: customer.user_id)
    present.sort(key=lambda customer: getattr(customer, column.field), reverse=descending)
    return present + sorted(missing, key=lambda customer: customer.user_id)


def sort_headers(column: SortColumn, descending: bool) -> list[dict[str, Any]]:
    """Each sortable column's header: its ``sort`` link (the other direction when it is
    the sorted column, else its first order) and its ``aria-sort``."""
    headers = []
    for candidate in SORT_COLUMNS.values():
        current = candidate is column
        next_descending = not descending if current else candidate.numeric
        headers.append(
            {
                "key": candidate.key,
                "numeric": candidate.numeric,
                "sort": ("-" if next_descending else "") + candidate.key,
                "next_descending": next_descending,
                "aria_sort": ("descending" if descending else "ascending") if current else None,
            }
        )
    return headers


def customers_page(server: ServerState, t: Translator, sort: str, top: int) -> dict[str, Any]:
    """The RFM segments and learned clusters, and the ``top`` valuable customers at risk
    sorted by ``sort``; ``trained`` False (and nothing else) before the customer models
    are trained."""
    try:
        segments = server.customers.segments()
        at_risk = server.customers.at_risk(top)
    except NotFittedError as error:
        return {"trained": False, "note": error.message}
    column, descending = sort_order(sort)
    rfm = [{**summary.model_dump(), **segment_text(t, summary.name)} for summary in segments.rfm]
    labels = [row["label"] for row in rfm]
    return {
        "trained": True,
        "segments": segments,
        "rfm": rfm,
        "clusters": segments.clusters,
        "at_risk": at_risk,
        "customers": [
            {
                **customer.model_dump(),
                "segment_label": segment_text(t, customer.segment)["label"],
                "action_text": action_text(t, customer.segment, customer.action),
            }
            for customer in sorted_customers(at_risk.customers, column, descending)
        ],
        "sort": ("-" if descending else "") + column.key,
        "headers": sort_headers(column, descending),
        "top": top,
        "charts": {
            "segments": {
                "type": "bar",
                "labels": labels,
                "datasets": [
                    {"label": t("customers.customers"), "data": [row["customers"] for row in rfm]}
                ],
            },
            "churn": {
                "type": "bar",
                "percent": True,
                "labels": labels,
                "datasets": [
                    {
                        "label": t("customers.mean_churn"),
                        "data": [row["churn_probability"] for row in rfm],
                    }
                ],
            },
        },
    }


def last_viewed_item(server: ServerState, user_id: str) -> int | None:
    """The catalog code of the item the customer viewed last in their live history
    (what the engine scores from), if any."""
    for event in reversed(server.histories.recent(user_id)):
        if event.type == VIEW:
            return event.item
    return None


def recommendation_lists(server: ServerState, user_id: str) -> list[dict[str, Any]]:
    """The customer's list for each scenario (the item page's for the item they viewed
    last, when they viewed one), as ``GET /v1/users/{id}/recommendations`` would serve
    it now with the shop's rules. Not logged as served: nobody shopping sees these, and
    an exposure logged here would be attributed the customer's purchases."""
    last_viewed = last_viewed_item(server, user_id)
    lists = []
    for scenario in SCENARIOS:
        anchor = last_viewed if scenario == "item" else None
        if scenario == "item" and anchor is None:
            continue
        result = server.engine.recommend(
            RecommendationRequest(
                scenario=scenario,
                n=RECOMMENDED_ITEMS,
                user_id=user_id,
                item_id=None if anchor is None else server.catalog.item_id(anchor),
                rules=server.settings.serve.rules,
            )
        )
        lists.append(
            {
                "scenario": scenario,
                "model": result.model,
                "model_version": result.model_version,
                "cold_start": result.cold_start,
                "variant": result.variant,
                "anchor": None if anchor is None else server.catalog.facts(anchor),
                "items": listed_items(server, result.items),
            }
        )
    return lists


def customer_page(server: ServerState, t: Translator, user_id: str) -> dict[str, Any]:
    """The customer's profile (``GET /v1/users/{id}``) and recommendations; a
    :class:`~shopsense.core.errors.NotFoundError` (a 404 page) for a user nobody knows."""
    profile = build_profile(server, user_id)
    insight = profile.customer
    return {
        "profile": profile,
        "insight": insight,
        "trained": models_trained(server),
        "segment": segment_text(t, insight.segment.name) if insight else None,
        "events": [
            {
                **event.model_dump(),
                "type_label": translated(t, f"customers.event.{event.type}", event.type),
            }
            for event in profile.recent_events
        ],
        "price_band": (
            translated(
                t,
                f"customers.band.{_slug(profile.interests.price.band)}",
                profile.interests.price.band,
            )
            if profile.interests.price
            else None
        ),
        "recommendations": recommendation_lists(server, user_id),
    }


@router.get("/customers", response_class=HTMLResponse)
async def customers(
    request: Request,
    sort: Annotated[str, Query(max_length=40)] = DEFAULT_SORT,
    top: Annotated[int, Query(ge=1, le=1000)] = AT_RISK_SHOWN,
) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    server = server_of(request)
    data = await asyncio.to_thread(customers_page, server, translator_of(request), sort, top)
    return render(request, "customers.html", viewer, "customers", **data)


@router.get("/customers/{user_id}", response_class=HTMLResponse)
async def customer(request: Request, user_id: str) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    server = server_of(request)
    data = await asyncio.to_thread(customer_page, server, translator_of(request), user_id)
    return render(request, "customer.html", viewer, "customers", user_id=user_id, **data)


__all__ = [
    "DEFAULT_SORT",
    "SORT_COLUMNS",
    "customer_page",
    "customers_page",
    "recommendation_lists",
    "router",
    "sort_order",
    "sorted_customers",
]
