"""Engagement analytics: stickiness, retention, lifecycle, funnels, commerce and the
attribution of recommendation lists, over any window, as chart-ready tables.

The queries run on the store's own snapshot in a worker thread: a long report never
holds up ingestion or the event loop."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from shopsense.analytics.requests import (
    AnalyticsRequest,
    AttributionRequest,
    CommerceRequest,
    FunnelRequest,
    LifecycleRequest,
    RetentionRequest,
    StickinessRequest,
)
from shopsense.serve.deps import Server
from shopsense.serve.schemas import ReportOut
from shopsense.serve.security import ReadKey

router = APIRouter(prefix="/analytics", tags=["analytics"])


async def _report(server: Server, request: AnalyticsRequest) -> ReportOut:
    report = await asyncio.to_thread(request.run, server.store, server.settings.analytics)
    return ReportOut.model_validate(report.to_dict())


@router.get("/stickiness", response_model=ReportOut, summary="Active users and stickiness")
async def stickiness(
    server: Server, key: ReadKey, query: Annotated[StickinessRequest, Query()]
) -> ReportOut:
    """DAU, rolling WAU and MAU and DAU/MAU per day (averaged per ``interval``), the
    distinct users of each period, and how many days a week and a month users are
    active (table ``active_days``)."""
    return await _report(server, query)


@router.get("/retention", response_model=ReportOut, summary="Retention cohorts")
async def retention(
    server: Server, key: ReadKey, query: Annotated[RetentionRequest, Query()]
) -> ReportOut:
    """The cohort matrix (``cohort, k, size, users, share``) and the size-weighted
    retention curve; cohorts by first visit (default) or first purchase
    (``start_event=purchase``), first-time or recurring, back on or on-or-after."""
    return await _report(server, query)


@router.get("/lifecycle", response_model=ReportOut, summary="New, returning, resurrecting, dormant")
async def lifecycle(
    server: Server, key: ReadKey, query: Annotated[LifecycleRequest, Query()]
) -> ReportOut:
    """Users per period by status (PostHog's definitions); dormant counts are negative."""
    return await _report(server, query)


@router.get("/funnel", response_model=ReportOut, summary="Conversion funnel")
async def funnel(
    server: Server, key: ReadKey, query: Annotated[FunnelRequest, Query()]
) -> ReportOut:
    """Ordered steps within a conversion window: users, conversion per step and
    overall, median time to convert, optionally by a property."""
    return await _report(server, query)


@router.get("/commerce", response_model=ReportOut, summary="Orders, GMV, repeat purchases")
async def commerce(
    server: Server, key: ReadKey, query: Annotated[CommerceRequest, Query()]
) -> ReportOut:
    """Orders, buyers, new and repeat buyers, GMV, AOV, orders per buyer and value
    returned per period; the window's repeat-purchase rate and time between orders."""
    return await _report(server, query)


@router.get("/attribution", response_model=ReportOut, summary="What recommendations earned")
async def attribution(
    server: Server, key: ReadKey, query: Annotated[AttributionRequest, Query()]
) -> ReportOut:
    """Lists served, impressions, clicks, CTR, conversions and GMV attributed through
    ``rec_id`` within the attribution window, by scenario, model version and
    experiment variant; and their share of the shop's GMV."""
    return await _report(server, query)
