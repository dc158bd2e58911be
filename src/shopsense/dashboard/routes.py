"""The dashboard's pages, served by the shopsense server at ``/``.

Signing in checks an API key with the API's own key ring and keeps it in an HttpOnly,
SameSite=Strict cookie; every page checks it again (a revoked key is signed out within
the key ring's cache time). A ``read`` key sees every page; actions (retrain, create an
experiment, keys) need ``admin`` and carry a CSRF token derived from the key. With
``serve.require_api_keys`` off, nobody needs to sign in.

Pages are rendered on the server (Jinja2) from the same services the API calls;
charts are drawn by Chart.js, shipped in the package (nothing loads from a CDN).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from shopsense.core.errors import AuthenticationError, PermissionDeniedError
from shopsense.dashboard import pages
from shopsense.dashboard.i18n import LANGUAGES, Translator, language_of
from shopsense.serve.security import ADMIN_SCOPE, KeyRing, authorize
from shopsense.serve.state import ServerState
from shopsense.store.base import ApiKeyRecord

SESSION_COOKIE = "shopsense_session"
LANGUAGE_COOKIE = "shopsense_language"
NAVIGATION = ("overview", "retention", "funnels")
"""The pages in the menu, in order (``/`` is the overview)."""

router = APIRouter(include_in_schema=False)


@cache
def templates() -> Jinja2Templates:
    directory = files("shopsense.dashboard").joinpath("templates")
    environment = Jinja2Templates(directory=str(directory))
    environment.env.globals["timedelta_day"] = timedelta(days=1)
    return environment


def static_directory() -> str:
    """Where the stylesheet, the script and the vendored Chart.js are."""
    return str(files("shopsense.dashboard").joinpath("static"))


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their key (None when keys are not required) and what they may do."""

    record: ApiKeyRecord | None
    token: str | None

    @property
    def admin(self) -> bool:
        return self.record is None or ADMIN_SCOPE in self.record.scopes

    @property
    def csrf(self) -> str:
        """The token an action form carries: bound to the signed-in key."""
        secret = (self.token or "open").encode()
        return hmac.new(secret, b"shopsense-dashboard-csrf", hashlib.sha256).hexdigest()[:32]


def _server(request: Request) -> ServerState:
    server: ServerState = request.app.state.server
    return server


def _viewer(request: Request) -> Viewer | None:
    """The signed-in viewer with at least read scope, or None (sign in first)."""
    server = _server(request)
    if not server.settings.serve.require_api_keys:
        return Viewer(record=None, token=None)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    keyring: KeyRing = request.app.state.keyring
    try:
        record = keyring.authenticate(token)
        authorize(record, "read")
    except (AuthenticationError, PermissionDeniedError):
        return None
    return Viewer(record=record, token=token)


def _translator(request: Request) -> Translator:
    language = language_of(request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE))
    return Translator(language)


def _render(
    request: Request, template: str, viewer: Viewer | None, page: str, **context: Any
) -> HTMLResponse:
    t = _translator(request)
    response = templates().TemplateResponse(
        request,
        template,
        {
            "t": t,
            "viewer": viewer,
            "page": page,
            "navigation": NAVIGATION,
            "languages": LANGUAGES,
            "path": request.url.path,
            "query": request.url.query,
            **context,
        },
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, t.language, max_age=365 * 86_400, samesite="strict", httponly=True
        )
    return response


def _sign_in_first(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path of this site (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


Days = Annotated[int, Query(ge=1, le=3660)]


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request, next: str | None = None) -> Response:
    return _render(request, "signin.html", None, "signin", next=_safe_next(next), error=None)


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
        t = _translator(request)
        response = _render(
            request,
            "signin.html",
            None,
            "signin",
            next=_safe_next(next),
            error=t("signin.invalid", reason=error.message),
        )
        response.status_code = 401
        return response
    signed_in = RedirectResponse(_safe_next(next), status_code=303)
    signed_in.set_cookie(
        SESSION_COOKIE, key.strip(), httponly=True, samesite="strict", max_age=7 * 86_400
    )
    return signed_in


@router.post("/signout")
async def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
async def overview_page(request: Request, days: Days = pages.DEFAULT_DAYS) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_first(request)
    server = _server(request)
    data = await asyncio.to_thread(
        pages.overview, server.store, server.settings.analytics, _translator(request), days
    )
    return _render(request, "overview.html", viewer, "overview", days=days, **data)


@router.get("/retention", response_class=HTMLResponse)
async def retention(
    request: Request, days: Days = 90, by: Annotated[str, Query()] = "visit"
) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_first(request)
    server = _server(request)
    data = await asyncio.to_thread(
        lambda: pages.retention_page(
            server.store,
            server.settings.analytics,
            _translator(request),
            days,
            by_purchase=by == "purchase",
        )
    )
    return _render(request, "retention.html", viewer, "retention", days=days, **data)


@router.get("/funnels", response_class=HTMLResponse)
async def funnels(
    request: Request,
    days: Days = pages.DEFAULT_DAYS,
    step: Annotated[list[str] | None, Query()] = None,
    window_days: Annotated[float, Query(gt=0, le=365)] = 14.0,
) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_first(request)
    chosen = tuple(s for s in (step or pages.DEFAULT_FUNNEL) if s in pages.FUNNEL_EVENT_TYPES)
    if len(chosen) < 2:
        chosen = pages.DEFAULT_FUNNEL
    server = _server(request)
    data = await asyncio.to_thread(
        lambda: pages.funnel_page(
            server.store,
            server.settings.analytics,
            _translator(request),
            days,
            steps=chosen,
            conversion_days=window_days,
        )
    )
    return _render(
        request,
        "funnels.html",
        viewer,
        "funnels",
        days=days,
        event_types=pages.FUNNEL_EVENT_TYPES,
        **data,
    )


__all__ = ["LANGUAGE_COOKIE", "SESSION_COOKIE", "router", "static_directory", "templates"]
