"""Liveness, readiness with the model versions, an authenticated no-op, and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shopsense.serve.security import ReadKey
from shopsense.serve.state import ServerState

router = APIRouter(tags=["operations"])


def _server(request: Request) -> ServerState:
    server: ServerState = request.app.state.server
    return server


@router.get("/v1/health/live", summary="Liveness")
async def live() -> dict[str, str]:
    """200 while the process answers."""
    return {"status": "alive"}


def _readiness(server: ServerState) -> dict[str, Any]:
    return {
        "status": "ready" if server.ready else "starting",
        "models": server.engine.models.describe(),
        "model_notes": server.engine.models.notes,
        "writer": "running" if server.writer.running else "stopped",
        "live_users": len(server.histories),
        "items": len(server.catalog),
        "training": server.trainer.status.state,
        "started_at": server.started_at.isoformat() if server.started_at else None,
    }


@router.get("/v1/health/ready", summary="Readiness, with the models in service")
async def ready(request: Request) -> JSONResponse:
    """200 when the store is open, live state loaded and the writer running; 503 before."""
    server = _server(request)
    ok = server.ready and server.writer.running
    return JSONResponse(_readiness(server), status_code=200 if ok else 503)


@router.get("/v1/health", summary="Liveness and readiness")
async def health(request: Request) -> JSONResponse:
    return await ready(request)


@router.get("/v1/ping", summary="Check an API key (authenticated no-op)")
async def ping(key: ReadKey) -> dict[str, Any]:
    """Answers at once when the key may read: what clients use to check a key, and the
    latency floor of the server's authenticated path."""
    return {"ok": True, "key": key.name if key else None}


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=True)
async def metrics(request: Request) -> Response:
    server = _server(request)
    return Response(generate_latest(server.metrics.registry), media_type=CONTENT_TYPE_LATEST)
