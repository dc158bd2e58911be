"""The dashboard's pages, served by the shopsense server at ``/``.

Signing in checks an API key with the API's own key ring and keeps it in an HttpOnly,
SameSite=Strict cookie; every page checks it again (a revoked key is signed out within
the key ring's cache time). A ``read`` key sees every page; actions (retrain, create an
experiment, keys) need ``admin`` and carry a CSRF token derived from the key. With
``serve.require_api_keys`` off, nobody needs to sign in.

Pages are rendered on the server (Jinja2) from the same services the API calls;
charts are drawn by Chart.js, shipped in the package (nothing loads from a CDN). This
module holds sign-in and the analytics pages; the other areas are in
:mod:`shopsense.dashboard.views`.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopsense.core.errors import AuthenticationError, PermissionDeniedError
from shopsense.dashboard import pages
from shopsense.dashboard.web import (
    SESSION_COOKIE,
    SESSION_HOURS,
    Days,
    page_router,
    render,
    safe_next,
    server_of,
    sessions_of,
    sign_in_first,
    translator_of,
    viewer_of,
)
from shopsense.serve.security import KeyRing, authorize

router = page_router()


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, next: str | None = None) -> Response:
    return render(request, "signin.html", None, "signin", next=safe_next(next), error=None)


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request,
    key: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    keyring: KeyRing = request.app.state.keyring
    try:
        record = await asyncio.to_thread(keyring.authenticate, key.strip())
        authorize(record, "read")
    except (AuthenticationError, PermissionDeniedError) as error:
        t = translator_of(request)
        response = render(
            request,
            "signin.html",
            None,
            "signin",
            next=safe_next(next),
            error=t("signin.invalid", reason=error.message),
        )
        response.status_code = 401
        return response
    signed_in = RedirectResponse(safe_next(next), status_code=303)
    signed_in.set_cookie(
        SESSION_COOKIE,
        sessions_of(request).open(key.strip()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=SESSION_HOURS * 3600,
    )
    return signed_in


@router.post("/signout")
async def signout(request: Request) -> Response:
    sessions_of(request).close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request, days: Days = pages.DEFAULT_DAYS) -> Response:
    viewer = viewer_of(request)
    if viewer is None:
        return sign_in_first(request)
    server = server_of(request)
    data = await asyncio.to_thread(
        pages.overview, server.store, server.settings.analytics, translator_of(request), days
    )
    return render(request, "overview.html", viewer, "overview", days=days, **data)


@router.get("/retention", response_class=HTMLResponse)
async def retention(
    request: Request, days: Days = 90, by: Annotated[str, Query()] = "visit"
) -> Response:
    viewer = viewer_of(request)
    if viewer is None:
        return sign_in_first(request)
    server = server_of(request)
    data = await asyncio.to_thread(
        lambda: pages.retention_page(
            server.store,
            server.settings.analytics,
            translator_of(request),
            days,
            by_purchase=by == "purchase",
        )
    )
    return render(request, "retention.html", viewer, "retention", days=days, **data)


@router.get("/funnels", response_class=HTMLResponse)
async def funnels(
    request: Request,
    days: Days = pages.DEFAULT_DAYS,
    step: Annotated[list[str] | None, Query()] = None,
    window_days: Annotated[float, Query(gt=0, le=365)] = 14.0,
) -> Response:
    viewer = viewer_of(request)
    if viewer is None:
        return sign_in_first(request)
    chosen = tuple(s for s in (step or pages.DEFAULT_FUNNEL) if s in pages.FUNNEL_EVENT_TYPES)
    if len(chosen) < 2:
        chosen = pages.DEFAULT_FUNNEL
    server = server_of(request)
    data = await asyncio.to_thread(
        lambda: pages.funnel_page(
            server.store,
            server.settings.analytics,
            translator_of(request),
            days,
            steps=chosen,
            conversion_days=window_days,
        )
    )
    return render(
        request,
        "funnels.html",
        viewer,
        "funnels",
        days=days,
        event_types=pages.FUNNEL_EVENT_TYPES,
        **data,
    )


__all__ = ["router"]
