"""What every dashboard page shares: the templates, who is signed in, the language, and
rendering a page (see :mod:`shopsense.dashboard.routes` for how signing in works).

A page module (``shopsense.dashboard.views.*``) defines its own ``router`` and calls
:func:`viewer_or_redirect` and :func:`render`; :data:`NAVIGATION` lists the menu.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote, urlparse

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from shopsense.core.errors import AuthenticationError, PermissionDeniedError, ShopsenseError
from shopsense.dashboard.i18n import LANGUAGES, Translator, language_of
from shopsense.serve.security import ADMIN_SCOPE, KeyRing, authorize
from shopsense.serve.state import ServerState
from shopsense.store.base import ApiKeyRecord

SESSION_COOKIE = "shopsense_session"
LANGUAGE_COOKIE = "shopsense_language"
NAVIGATION = (
    "overview",
    "retention",
    "funnels",
    "customers",
    "items",
    "models",
    "experiments",
    "data",
)
"""The pages in the menu, in order (``/`` is the overview, the others ``/<name>``)."""


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


def server_of(request: Request) -> ServerState:
    server: ServerState = request.app.state.server
    return server


def viewer_of(request: Request) -> Viewer | None:
    """The signed-in viewer with at least read scope, or None (sign in first)."""
    server = server_of(request)
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


def shop_currency(request: Request) -> str | None:
    """The currency most of the catalog is priced in (ISO 4217), None when no item
    says; read once per app (money on every page is written in it)."""
    state = request.app.state
    if not hasattr(state, "dashboard_currency"):
        items = server_of(request).store.read_items()
        currencies = [c for c in items.column("currency").to_pylist() if c]
        state.dashboard_currency = Counter(currencies).most_common(1)[0][0] if currencies else None
    currency: str | None = state.dashboard_currency
    return currency


def translator_of(request: Request) -> Translator:
    language = language_of(request.query_params.get("lang") or request.cookies.get(LANGUAGE_COOKIE))
    return Translator(language, currency=shop_currency(request))


def render(
    request: Request, template: str, viewer: Viewer | None, page: str, **context: Any
) -> HTMLResponse:
    t = translator_of(request)
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


def sign_in_first(request: Request) -> RedirectResponse:
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:  # an action sent after the sign-in expired: back to the page it was sent from
        target = urlparse(request.headers.get("referer", "")).path or "/"
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path of this site (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


Days = Annotated[int, Query(ge=1, le=3660)]


def viewer_or_redirect(request: Request) -> Viewer | RedirectResponse:
    """The signed-in viewer, or the redirect to the sign-in page (back here after)."""
    viewer = viewer_of(request)
    return sign_in_first(request) if viewer is None else viewer


def admin_or_error(request: Request, viewer: Viewer, csrf: str) -> None:
    """Nothing when ``viewer`` may act and ``csrf`` is their form token, else a
    :class:`PermissionDeniedError` (rendered as an error page)."""
    if not viewer.admin:
        raise PermissionDeniedError(translator_of(request)("scope.read_only"))
    if not hmac.compare_digest(csrf, viewer.csrf):
        raise PermissionDeniedError("the form is stale or not from this dashboard; reload the page")


class DashboardRoute(APIRoute):
    """A dashboard route: an error from the error tree becomes an error page of the
    dashboard (its status, its message, a way back), not the API's JSON problem."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except ShopsenseError as error:
                return error_page(request, error)

        return handle


def page_router() -> APIRouter:
    """The router of a dashboard area (error pages, not in the OpenAPI schema)."""
    return APIRouter(include_in_schema=False, route_class=DashboardRoute)


def error_page(request: Request, error: ShopsenseError) -> HTMLResponse:
    """An error as a page of the dashboard (not the API's JSON problem)."""
    response = render(request, "error.html", viewer_of(request), "error", error=error)
    response.status_code = error.http_status
    return response


__all__ = [
    "LANGUAGE_COOKIE",
    "NAVIGATION",
    "SESSION_COOKIE",
    "DashboardRoute",
    "Days",
    "Viewer",
    "admin_or_error",
    "error_page",
    "page_router",
    "render",
    "safe_next",
    "server_of",
    "sign_in_first",
    "static_directory",
    "templates",
    "translator_of",
    "viewer_of",
    "viewer_or_redirect",
]
