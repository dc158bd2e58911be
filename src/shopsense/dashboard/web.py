"""What every dashboard page shares: the templates, who is signed in, the language, and
rendering a page (see :mod:`shopsense.dashboard.routes` for how signing in works).

A page module (``shopsense.dashboard.views.*``) defines its own ``router`` and calls
:func:`viewer_or_redirect` and :func:`render`; :data:`NAVIGATION` lists the menu.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib.resources import files
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlparse

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from shopsense.core.errors import (
    AuthenticationError,
    PermissionDeniedError,
    ShopsenseError,
    ValidationFailedError,
)
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


SESSION_HOURS = 12
"""How long a sign-in lasts."""


class Sessions:
    """Signed-in browsers. The cookie holds an opaque random id, never the API key: the
    id maps to the key here, in the server's memory, until it expires or the browser
    signs out (then the id is worthless, even if it was copied). A restart signs
    everyone out. Thread-safe."""

    def __init__(
        self, *, hours: float = SESSION_HOURS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.seconds = hours * 3600
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # id -> (API key token, expiry)

    def open(self, token: str) -> str:
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if v[1] > now}
            self._tokens[session_id] = (token, now + self.seconds)
        return session_id

    def token(self, session_id: str | None) -> str | None:
        if not session_id:
            return None
        with self._lock:
            found = self._tokens.get(session_id)
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._tokens.pop(session_id or "", None)


@dataclass(frozen=True)
class Viewer:
    """Who is looking: their key (None when keys are not required), their session, and
    what they may do."""

    record: ApiKeyRecord | None
    session_id: str | None
    secret: bytes

    @property
    def admin(self) -> bool:
        return self.record is None or ADMIN_SCOPE in self.record.scopes

    @property
    def csrf(self) -> str:
        """The token an action form carries: bound to this sign-in, with a secret drawn
        at random when the server started (so no other site can know it)."""
        message = (self.session_id or "no-sign-in").encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()[:32]


def install(app: FastAPI) -> None:
    """Give ``app`` the dashboard's state: the sessions and the CSRF secret."""
    app.state.dashboard_sessions = Sessions()
    app.state.dashboard_secret = secrets.token_bytes(32)


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.dashboard_sessions
    return sessions


def server_of(request: Request) -> ServerState:
    server: ServerState = request.app.state.server
    return server


def viewer_of(request: Request) -> Viewer | None:
    """The signed-in viewer with at least read scope, or None (sign in first)."""
    server = server_of(request)
    secret: bytes = request.app.state.dashboard_secret
    if not server.settings.serve.require_api_keys:
        return Viewer(record=None, session_id=None, secret=secret)
    session_id = request.cookies.get(SESSION_COOKIE)
    token = sessions_of(request).token(session_id)
    if token is None:
        return None
    keyring: KeyRing = request.app.state.keyring
    try:
        record = keyring.authenticate(token)
        authorize(record, "read")
    except (AuthenticationError, PermissionDeniedError):
        return None
    return Viewer(record=record, session_id=session_id, secret=secret)


def shop_currency(request: Request) -> str | None:
    """The currency most of the catalog is priced in (ISO 4217), None when no item
    says; read once per app once known (money on every page is written in it)."""
    state = request.app.state
    if getattr(state, "dashboard_currency", None) is None:  # none yet: look again later
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
            "language_url": lambda code: _language_url(request, code),
            **context,
        },
    )
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, t.language, max_age=365 * 86_400, samesite="strict", httponly=True
        )
    return response


def _language_url(request: Request, code: str) -> str:
    """This page in language ``code``: its query kept, ``lang`` replaced."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    return f"{request.url.path}?{urlencode([*kept, ('lang', code)])}"


def sign_in_first(request: Request) -> RedirectResponse:
    if request.method == "GET":
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:  # an action sent after the sign-in expired: back to the page it was sent from
        target = urlparse(request.headers.get("referer", "")).path or "/"
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path of this site (no open redirect to another host)."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(character) < 32 for character in target)
    ):
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


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""On every dashboard page: never framed by another site (no clickjacking of the
action buttons), no URL leaks to other sites, nothing of a shop's data cached."""


def _same_origin(request: Request) -> bool:
    """Whether a POST comes from the dashboard's own pages: the browser's
    ``Sec-Fetch-Site`` and ``Origin`` say so when they are sent (a program's request,
    which sends neither, still needs the form's token)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.url.netloc}"


def describe_request_errors(error: RequestValidationError) -> str:
    """FastAPI's parameter errors as one readable line (field: message; ...)."""
    parts = []
    for detail in error.errors():
        field = ".".join(str(part) for part in detail.get("loc", ())[1:])
        parts.append(f"{field}: {detail.get('msg', '')}" if field else str(detail.get("msg")))
    return "; ".join(parts) or "the request is not valid"


class DashboardRoute(APIRoute):
    """A dashboard route: an error from the error tree becomes an error page of the
    dashboard (its status, its message, a way back), not the API's JSON problem."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                if request.method == "POST" and not _same_origin(request):
                    raise PermissionDeniedError(
                        "this form was sent from another site; the dashboard refuses it"
                    )
                response = await handler(request)
            except ShopsenseError as error:
                response = error_page(request, error)
            except RequestValidationError as error:
                response = error_page(
                    request, ValidationFailedError(describe_request_errors(error))
                )
            response.headers.update(SECURITY_HEADERS)
            return response

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
    "SECURITY_HEADERS",
    "SESSION_COOKIE",
    "SESSION_HOURS",
    "DashboardRoute",
    "Days",
    "Sessions",
    "Viewer",
    "admin_or_error",
    "error_page",
    "install",
    "page_router",
    "render",
    "safe_next",
    "server_of",
    "sessions_of",
    "sign_in_first",
    "static_directory",
    "templates",
    "translator_of",
    "viewer_of",
    "viewer_or_redirect",
]
