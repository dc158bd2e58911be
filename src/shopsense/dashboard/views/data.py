"""The Data page (``/data``): how ingestion is going (events per minute over the last
hour, rejected events with their reasons), what the store holds, and, for admins, the
API keys (create one, revoke one).

The ingestion numbers come from the server's :class:`~shopsense.serve.ingest_log.IngestLog`
and its Prometheus counters, the store's from the same store calls as ``shopsense
stats``; keys are created and revoked the way ``POST /v1/keys`` and
``DELETE /v1/keys/{id}`` do it (in the writer, then the key ring told at once).

A new key's token is shown once: the answer to the creating POST is the page itself,
marked ``no-store`` so that no cache or back button keeps the token, rather than a
redirect after which the token would be gone.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopsense.core.errors import ValidationFailedError
from shopsense.core.settings import API_SCOPES
from shopsense.dashboard.i18n import Translator
from shopsense.dashboard.web import (
    Viewer,
    admin_or_error,
    page_router,
    render,
    server_of,
    translator_of,
    viewer_or_redirect,
)
from shopsense.serve.ingest_log import IngestLog
from shopsense.serve.metrics import Metrics
from shopsense.serve.security import create_api_key
from shopsense.store.base import ApiKeyRecord, Store

router = page_router()

BYTE_UNITS = ("B", "kB", "MB", "GB", "TB")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
"""Headers of every Data page answer: it lists keys, and once shows a new token."""


# -- what the page shows --------------------------------------------------------------------


def _counter(metrics: Metrics, name: str) -> int:
    """A counter of the server's registry (0 before its first increment)."""
    return int(metrics.registry.get_sample_value(name) or 0)


def ingestion_overview(
    log: IngestLog, metrics: Metrics, t: Translator, zone: ZoneInfo
) -> dict[str, Any]:
    """Totals since the server started, the last hour per minute (a stacked bar chart
    of accepted and rejected events, minutes in the shop's time zone) and the latest
    rejections, newest first."""
    totals = log.totals()
    minutes = log.per_minute()
    return {
        "since": totals.since.astimezone(zone),
        "totals": {
            "accepted": totals.accepted_events,
            "stored": _counter(metrics, "shopsense_events_ingested_total"),
            "duplicates": _counter(metrics, "shopsense_events_duplicate_total"),
            "rejected": totals.rejected_events,
            "rejected_requests": totals.rejected_requests,
        },
        "last_hour": {
            "accepted": sum(minute.accepted for minute in minutes),
            "rejected": sum(minute.rejected for minute in minutes),
        },
        "chart": {
            "type": "bar",
            "stacked": True,
            "labels": [minute.start.astimezone(zone).strftime("%H:%M") for minute in minutes],
            "datasets": [
                {
                    "label": t("data.ingest.accepted"),
                    "data": [minute.accepted for minute in minutes],
                },
                {
                    "label": t("data.ingest.rejected"),
                    "data": [minute.rejected for minute in minutes],
                },
            ],
        },
        "rejections": [
            {
                "at": rejection.at.astimezone(zone),
                "n_events": rejection.n_events,
                "message": rejection.message,
                "problems": rejection.problems,
                "more": rejection.n_problems - len(rejection.problems),
                "key_id": rejection.key_id,
            }
            for rejection in log.rejections()
        ],
    }


def _file_bytes(store: Store) -> dict[str, int] | None:
    """Bytes of the store's database file and of its write-ahead log (None for a store
    that is not one local file, e.g. in memory)."""
    path = getattr(store, "path", None)
    if not isinstance(path, Path) or not path.is_file():
        return None
    wal = path.with_name(path.name + ".wal")
    return {"database": path.stat().st_size, "wal": wal.stat().st_size if wal.is_file() else 0}


def store_overview(store: Store) -> dict[str, Any]:
    """What the store holds (the numbers of ``shopsense stats``), its schema version and
    its size on disk. Blocking: call it in a thread."""
    summary = store.event_summary()
    return {
        "url": store.url,
        "summary": summary,
        "by_type": sorted(summary.by_type.items(), key=lambda entry: (-entry[1], entry[0])),
        "counts": {
            "events": summary.n_events,
            "users": store.count_users(),
            "users_in_events": summary.n_users,
            "items": store.count_items(),
            "items_in_events": summary.n_items,
            "orders": store.count_orders(),
        },
        "schema_version": store.schema_version(),
        "file_bytes": _file_bytes(store),
    }


def local_time(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    """``value`` in the shop's time zone (None stays None)."""
    return value.astimezone(zone) if value is not None else None


def byte_size(t: Translator, n_bytes: int) -> str:
    """``n_bytes`` in the largest unit that keeps the number at or above 1 (1 kB = 1,000
    bytes, as disks and file managers count)."""
    exponent = 0 if n_bytes < 1000 else min(int(math.log10(n_bytes) // 3), len(BYTE_UNITS) - 1)
    value = n_bytes / 1000**exponent
    return f"{t.number(value, 0 if exponent == 0 else 1)} {BYTE_UNITS[exponent]}"


# -- the page and its actions ---------------------------------------------------------------


async def _data_page(
    request: Request,
    viewer: Viewer,
    *,
    created: tuple[ApiKeyRecord, str] | None = None,
    key_error: str | None = None,
    key_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    server = server_of(request)
    t = translator_of(request)
    zone = ZoneInfo(server.settings.analytics.timezone)
    stored = await asyncio.to_thread(store_overview, server.store)
    keys = await asyncio.to_thread(server.store.list_api_keys) if viewer.admin else None
    response = render(
        request,
        "data.html",
        viewer,
        "data",
        zone=server.settings.analytics.timezone,
        ingestion=ingestion_overview(server.ingest_log, server.metrics, t, zone),
        store=stored,
        file_size=(
            {name: byte_size(t, size) for name, size in stored["file_bytes"].items()}
            if stored["file_bytes"]
            else None
        ),
        keys=keys,
        local=partial(local_time, zone=zone),
        scopes=API_SCOPES,
        default_rate_limit=server.settings.serve.rate_limit,
        created=created,
        key_error=key_error,
        key_form=key_form or {"name": "", "scopes": ["read"], "rate_limit": ""},
        revoked=_just_revoked(keys, request.query_params.get("revoked")),
    )
    response.status_code = status_code
    response.headers.update(NO_STORE)
    return response


def _just_revoked(keys: list[ApiKeyRecord] | None, key_id: str | None) -> ApiKeyRecord | None:
    """The key the revoke action named in the redirect, if it is indeed revoked (a link
    naming any id must not make the page claim a revocation)."""
    for record in keys or []:
        if record.key_id == key_id and not record.active:
            return record
    return None


@router.get("/data", response_class=HTMLResponse)
async def data_page(request: Request) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    return await _data_page(request, viewer)


@router.get("/data/keys")
async def keys_page(request: Request) -> Response:
    """Where the language switcher and a reload lead after creating a key: the page
    (with the query, so that a switched language sticks)."""
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/data{query}#keys", status_code=303)


def _rate_limit(text: str, t: Translator) -> float | None:
    """The form's rate limit: empty for the server's default, else requests per second."""
    if not text.strip():
        return None
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        raise ValidationFailedError(t("data.keys.rate_invalid", value=text.strip())) from None
    return value


@router.post("/data/keys", response_class=HTMLResponse)
async def create_key(
    request: Request,
    csrf: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    rate_limit: Annotated[str, Form()] = "",
) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    admin_or_error(request, viewer, csrf)
    server = server_of(request)
    chosen = scopes or []
    try:
        limit = _rate_limit(rate_limit, translator_of(request))
        record, token = await asyncio.wrap_future(
            server.writer.call(
                lambda: create_api_key(server.store, name=name, scopes=chosen, rate_limit=limit)
            )
        )
    except ValidationFailedError as error:
        # The form again with what was typed, and why it was refused.
        return await _data_page(
            request,
            viewer,
            key_error=error.message,
            key_form={"name": name, "scopes": chosen, "rate_limit": rate_limit},
            status_code=error.http_status,
        )
    server.keyring.remember(record)
    return await _data_page(request, viewer, created=(record, token), status_code=201)


@router.post("/data/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, csrf: Annotated[str, Form()]) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    admin_or_error(request, viewer, csrf)
    server = server_of(request)
    await asyncio.wrap_future(server.writer.call(lambda: server.store.revoke_api_key(key_id)))
    server.keyring.forget(key_id)
    return RedirectResponse(f"/data?revoked={key_id}#keys", status_code=303)


__all__ = [
    "byte_size",
    "ingestion_overview",
    "local_time",
    "router",
    "store_overview",
]
