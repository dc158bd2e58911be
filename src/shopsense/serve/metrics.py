"""Prometheus metrics of one server: request latency, ingestion, recommendations and the
model versions in service. Each app has its own registry (tests create many apps)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.003,
    0.005,
    0.0075,
    0.01,
    0.015,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Metrics:
    """The server's metrics, registered in :attr:`registry`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "shopsense_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and status.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events_ingested = Counter(
            "shopsense_events_ingested_total",
            "Events stored (new event ids).",
            registry=self.registry,
        )
        self.events_duplicate = Counter(
            "shopsense_events_duplicate_total",
            "Events received again with an event_id already stored (idempotent re-send).",
            registry=self.registry,
        )
        self.events_rejected = Counter(
            "shopsense_events_rejected_total",
            "Events rejected at the edge, by reason.",
            ["reason"],
            registry=self.registry,
        )
        self.commits = Counter(
            "shopsense_ingest_commits_total",
            "Transactions that stored events (group commit: one per several requests).",
            registry=self.registry,
        )
        self.recommendations = Counter(
            "shopsense_recommendations_served_total",
            "Recommendation lists served, by scenario and model.",
            ["scenario", "model"],
            registry=self.registry,
        )
        self.model_version = Gauge(
            "shopsense_model_version",
            "The model version serving each scenario.",
            ["scenario", "model"],
            registry=self.registry,
        )
        self.live_users = Gauge(
            "shopsense_live_users",
            "Users with a live history in memory.",
            registry=self.registry,
        )

    def set_models(self, description: dict[str, dict[str, Any]]) -> None:
        """Record the scenario -> model and version map now in service."""
        self.model_version.clear()
        for scenario, model in description.items():
            self.model_version.labels(scenario=scenario, model=str(model["model"])).set(
                float(model["version"])
            )


class MetricsMiddleware:
    """Times every HTTP request by its route template (``/v1/users/{user_id}/...``, so
    that ids do not explode the label space); unmatched paths count as ``unmatched``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.request_seconds.labels(
                method=scope["method"], route=template, status=str(status)
            ).observe(time.perf_counter() - started)


__all__ = ["Metrics", "MetricsMiddleware"]
