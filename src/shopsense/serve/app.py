"""``create_app(settings)``: the FastAPI application of ``shopsense serve``.

Nothing happens at import or in :func:`create_app` beyond building the routes; the
store is opened and live state loaded in the app's lifespan (so a test can build an
app, swap settings, and start it under ``TestClient``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from shopsense import __version__, dashboard
from shopsense.core.settings import Settings, get_settings
from shopsense.data.schemas import Event, Item, Order, User
from shopsense.serve import problems
from shopsense.serve.metrics import Metrics, MetricsMiddleware
from shopsense.serve.routers import (
    admin,
    analytics,
    catalog,
    events,
    experiments,
    health,
    recommendations,
    users,
)
from shopsense.serve.schemas import (
    EventBatch,
    ItemBatch,
    ItemPatch,
    OrderBatch,
    OrderPatch,
    UserBatch,
    UserPatch,
)
from shopsense.serve.security import BodySizeLimitMiddleware, RateLimiter
from shopsense.serve.state import ServerState
from shopsense.store.base import Store
from shopsense.store.factory import open_store

DESCRIPTION = """\
shopsense: recommendations, customer intelligence and analytics for a shop.

Send behaviour events, catalog and orders; get personalised lists with reasons. Every
/v1 call (but health) needs an API key: `Authorization: Bearer ss_...` or
`X-API-Key: ss_...` (create one with `shopsense keys create`). Errors are RFC 9457
problem documents (`application/problem+json`).
"""

HAND_PARSED = (
    EventBatch,
    Event,
    ItemBatch,
    Item,
    ItemPatch,
    UserBatch,
    User,
    UserPatch,
    OrderBatch,
    Order,
    OrderPatch,
)
"""Bodies parsed by the routes themselves (validated with the shop's settings), whose
schemas are added to the OpenAPI components."""


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    """The API for ``settings`` (default: :func:`get_settings`). With ``store`` the app
    uses that open store and leaves it open at shutdown; otherwise it opens
    ``settings.resolved_store_url`` at start-up and closes it at shutdown."""
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store if store is not None else open_store(settings.resolved_store_url)
        server = ServerState(settings, opened, metrics=metrics)
        app.state.server = server
        app.state.keyring = server.keyring
        try:
            await asyncio.to_thread(server.start)
            yield
        finally:
            await asyncio.to_thread(server.stop)
            if store is None:
                opened.close()

    app = FastAPI(
        title="shopsense",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.serve)
    problems.install(app)
    for router in (
        events.router,
        catalog.router,
        recommendations.router,
        users.router,
        analytics.router,
        experiments.router,
        admin.router,
    ):
        app.include_router(router, prefix="/v1", responses=problems.PROBLEM_RESPONSES)
    app.include_router(health.router)
    app.include_router(dashboard.router())
    dashboard.install(app)
    app.mount(
        "/static/dashboard",
        StaticFiles(directory=dashboard.static_directory()),
        name="dashboard-static",
    )
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.serve.max_request_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.serve.cors_origins:  # added last: outermost, so errors carry its headers
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.serve.cors_origins),
            allow_methods=["*"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=[
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
                "Retry-After",
            ],
        )
    _document_hand_parsed_bodies(app)
    return app


def _document_hand_parsed_bodies(app: FastAPI) -> None:
    """Add the schemas of hand-parsed bodies to the OpenAPI components."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in HAND_PARSED:
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in body.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault(model.__name__, body)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["create_app"]
