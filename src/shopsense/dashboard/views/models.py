"""The dashboard's models page: the offline leaderboard of the latest training, what
serves each scenario, the registry's history and the background training, with a
retrain button for admins.

The numbers are the registry's (``store.list_models()``, what ``GET /v1/models``
answers) and the engine's model set in service; retraining goes through the same
``server.trainer.trigger`` as ``POST /v1/models/train``.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shopsense.dashboard.i18n import Translator
from shopsense.dashboard.web import (
    admin_or_error,
    page_router,
    render,
    server_of,
    translator_of,
    viewer_or_redirect,
)
from shopsense.evaluation.metrics import parse_metric
from shopsense.models.recommend.registry import RECOMMENDERS
from shopsense.serve.state import ServerState
from shopsense.store.base import ModelVersion
from shopsense.training.recommenders import BEST_MODEL

router = page_router()

HISTORY_ROWS = 60
"""Registered versions shown in the training history, newest first."""
TrainingNotice = Literal["started", "running"]


def evaluation_metric_names(versions: list[ModelVersion]) -> list[str]:
    """The offline metrics the versions recorded (``HR@20``, ``NDCG@20``, ...), in the
    order the first version lists them; bookkeeping entries (fit time, protocol, ...)
    are left out."""
    names: list[str] = []
    for version in versions:
        for name, value in version.metrics.items():
            if name in names or not isinstance(value, int | float):
                continue
            try:
                parse_metric(name)
            except ValueError:
                continue
            names.append(name)
    return names


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _validation(version: ModelVersion, metric: str) -> float | None:
    return _number((version.metrics.get("validation") or {}).get(metric))


def leaderboard(versions: list[ModelVersion]) -> dict[str, Any]:
    """The serving version of each recommender, best first.

    Ranked by the primary metric on the validation split (the rule that picks
    ``best``), or on the test split for versions without one; a version trained on
    other data than the newest one is marked as not comparable."""
    recommenders = [v for v in versions if v.name in RECOMMENDERS]
    serving = [v for v in recommenders if v.serving]
    if not serving:
        return {"rows": [], "metrics": [], "primary": None, "fingerprint": None}
    newest = max(recommenders, key=lambda version: version.created_at)
    primary = str(newest.metrics.get("primary_metric") or "")
    best = next((v for v in versions if v.name == BEST_MODEL and v.serving), None)
    best_key = (str(best.params.get("model")), int(best.params.get("version", 0))) if best else None

    def score(version: ModelVersion) -> float:
        value = _validation(version, primary)
        if value is None:
            value = _number(version.metrics.get(primary))
        return value if value is not None else float("-inf")

    ranked = sorted(serving, key=lambda version: (-score(version), version.name))
    metrics = evaluation_metric_names(ranked)
    rows = [
        {
            "rank": rank,
            "name": version.name,
            "version": version.version,
            "created_at": version.created_at,
            "fingerprint": version.data_fingerprint,
            "comparable": version.data_fingerprint == newest.data_fingerprint,
            "best": best_key == (version.name, version.version),
            "validation_primary": _validation(version, primary),
            "test": {name: _number(version.metrics.get(name)) for name in metrics},
            "fit_seconds": _number(version.metrics.get("fit_seconds")),
            "users_evaluated": version.metrics.get("users_evaluated"),
            "protocol": version.metrics.get("protocol"),
        }
        for rank, version in enumerate(ranked, start=1)
    ]
    return {
        "rows": rows,
        "metrics": metrics,
        "primary": primary or None,
        "fingerprint": newest.data_fingerprint,
    }


def in_service(server: ServerState) -> list[dict[str, Any]]:
    """Per configured scenario: the model asked for, the version serving it (None:
    the engine falls back), its measured latency and why it differs, if it does."""
    models = server.engine.models
    rows = []
    for scenario, configured in sorted(server.settings.serve.models.items()):
        loaded = models.get(scenario)
        running = models.experiments.get(scenario)
        rows.append(
            {
                "scenario": scenario,
                "configured": configured,
                "name": loaded.name if loaded else None,
                "version": loaded.version if loaded else None,
                "latency_ms": (
                    models.latency_ms.get(f"{loaded.name} v{loaded.version}") if loaded else None
                ),
                "note": models.notes.get(scenario),
                "experiment": running.experiment if running else None,
            }
        )
    return rows


def history(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """Registered versions, newest first, with what they were trained on."""
    newest_first = sorted(versions, key=lambda version: version.created_at, reverse=True)
    return [
        {
            "name": version.name,
            "version": version.version,
            "created_at": version.created_at,
            "fingerprint": version.data_fingerprint,
            "serving": version.serving,
            "primary": version.metrics.get("primary_metric"),
            "primary_value": _number(
                version.metrics.get(str(version.metrics.get("primary_metric")))
            ),
            "pointer": (
                f"{version.params.get('model')} v{version.params.get('version')}"
                if version.name == BEST_MODEL
                else None
            ),
        }
        for version in newest_first[:HISTORY_ROWS]
    ]


def models_page(server: ServerState, t: Translator) -> dict[str, Any]:
    """Everything the models page shows (one read of the registry)."""
    versions = server.store.list_models()
    board = leaderboard(versions)
    rows = board["rows"]
    primary = board["primary"]
    chart = {
        "type": "bar",
        "labels": [row["name"] for row in rows],
        "datasets": [
            {
                "label": t("models.validation_metric", metric=primary),
                "data": [row["validation_primary"] for row in rows],
            },
            {
                "label": t("models.test_metric", metric=primary),
                "data": [row["test"].get(primary) for row in rows],
            },
        ],
    }
    return {
        "leaderboard": board,
        "chart": chart,
        "scenarios": in_service(server),
        "loaded_at": server.engine.models.loaded_at,
        "history": history(versions),
        "n_versions": len(versions),
        "training": server.trainer.status,
    }


@router.get("/models", response_class=HTMLResponse)
async def models(
    request: Request, training: Annotated[TrainingNotice | None, Query()] = None
) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    server = server_of(request)
    data = await asyncio.to_thread(models_page, server, translator_of(request))
    return render(request, "models.html", viewer, "models", notice=training, **data)


@router.post("/models/train")
async def retrain(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    """Start a background training (or find the one running) and go back to the page."""
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    admin_or_error(request, viewer, csrf)
    _, started = server_of(request).trainer.trigger("dashboard")
    notice: TrainingNotice = "started" if started else "running"
    return RedirectResponse(f"/models?training={notice}", status_code=303)


__all__ = ["evaluation_metric_names", "history", "in_service", "leaderboard", "router"]
