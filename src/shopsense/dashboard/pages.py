"""What each dashboard page shows, computed from the same services as the API (so a
number on a page is the number ``/v1/...`` answers for the same window).

Every builder takes the store (or one analytics session, so that a page reads one
snapshot) and returns plain dictionaries the templates render; raw values travel next to
their formatted text (``data-value`` attributes), which is how the browser tests compare
pages with the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shopsense.analytics import Report, Window
from shopsense.analytics.requests import (
    AttributionRequest,
    CommerceRequest,
    FunnelRequest,
    LifecycleRequest,
    RetentionRequest,
    StickinessRequest,
)
from shopsense.core.settings import AnalyticsSettings
from shopsense.dashboard.i18n import Translator
from shopsense.store.base import AnalyticsSession, Store

DEFAULT_DAYS = 30
DAY_CHOICES = (7, 30, 90, 365)


@dataclass(frozen=True)
class Kpi:
    """One KPI card: the value, the previous period's, and how to show them."""

    key: str
    label: str
    value: float | None
    display: str
    previous: float | None
    kind: str  # number, percent, money

    @property
    def change(self) -> float | None:
        """Relative change against the previous period (None without one)."""
        if self.value is None or self.previous in (None, 0):
            return None
        return self.value / self.previous - 1.0


def window_of(session: AnalyticsSession, settings: AnalyticsSettings, days: int) -> Window:
    """The ``days`` ending with the day of the newest event (the API's default window)."""
    return StickinessRequest(days=days).window(session, settings)


def previous_of(window: Window) -> Window:
    """The window of the same length just before ``window``."""
    length = timedelta(days=window.days)
    return Window(window.start - length, window.start, window.timezone)


@dataclass(frozen=True)
class _OverviewReports:
    stickiness: Report
    commerce: Report
    attribution: Report

    @classmethod
    def read(
        cls, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> _OverviewReports:
        return cls(
            stickiness=StickinessRequest(interval="day").report(session, window, settings),
            commerce=CommerceRequest(interval="day").report(session, window, settings),
            attribution=AttributionRequest(by="").report(session, window, settings),
        )

    def headline(self) -> dict[str, float | None]:
        """The overview's KPIs: mean daily DAU and stickiness, the last day's rolling
        MAU, buyers over active users, the repeat-purchase rate, GMV and its share that
        recommendations earned."""
        series = self.stickiness.tables["series"].records()
        active = self.stickiness.summary.get("active_users")
        buyers = self.commerce.summary.get("buyers")
        ratios = [row["stickiness"] for row in series if row["stickiness"] is not None]
        return {
            "dau": sum(row["dau"] for row in series) / len(series) if series else None,
            "mau": series[-1]["mau"] if series else None,
            # Days without any monthly user have no ratio: left out, not counted as 0.
            "stickiness": sum(ratios) / len(ratios) if ratios else None,
            "conversion": buyers / active if active else None,
            "repeat": self.commerce.summary.get("repeat_purchase_rate"),
            "gmv": self.commerce.summary.get("gmv"),
            "rec_share": self.attribution.summary.get("share_of_gmv"),
        }


KPI_KINDS = {
    "dau": "number",
    "mau": "number",
    "stickiness": "percent",
    "conversion": "percent",
    "repeat": "percent",
    "gmv": "money",
    "rec_share": "percent",
}


def _display(t: Translator, value: float | None, kind: str) -> str:
    if kind == "percent":
        return t.percent(value)
    if kind == "money":
        return t.money(value)
    return t.number(value, 1 if value is not None and value < 100 else 0)


def overview(store: Store, settings: AnalyticsSettings, t: Translator, days: int) -> dict[str, Any]:
    """KPI cards (with the previous period) and the daily series of the overview."""
    with store.analytics_session(timezone=settings.timezone) as session:
        window = window_of(session, settings, days)
        reports = _OverviewReports.read(session, window, settings)
        earlier = _OverviewReports.read(session, previous_of(window), settings)
    current, previous = reports.headline(), earlier.headline()
    stickiness, commerce = reports.stickiness, reports.commerce
    kpis = [
        Kpi(
            key=key,
            label=t(f"kpi.{key}"),
            value=current[key],
            display=_display(t, current[key], kind),
            previous=previous[key],
            kind=kind,
        )
        for key, kind in KPI_KINDS.items()
    ]
    series = stickiness.tables["series"].records()
    gmv = {row["period"]: row["gmv"] for row in commerce.tables["series"].records()}
    labels = [row["period"] for row in series]
    return {
        "window": window,
        "empty": not any(row["dau"] for row in series),
        "kpis": kpis,
        "charts": {
            "active": {
                "type": "line",
                "labels": labels,
                "datasets": [
                    {"label": t("chart.dau"), "data": [row["dau"] for row in series]},
                    {"label": t("chart.wau"), "data": [row["wau"] for row in series]},
                    {"label": t("chart.mau"), "data": [row["mau"] for row in series]},
                ],
            },
            "stickiness": {
                "type": "line",
                "percent": True,
                "labels": labels,
                "datasets": [
                    {"label": t("kpi.stickiness"), "data": [row["stickiness"] for row in series]}
                ],
            },
            "gmv": {
                "type": "bar",
                "labels": labels,
                "datasets": [
                    {"label": t("kpi.gmv"), "data": [gmv.get(label, 0) for label in labels]}
                ],
            },
        },
    }


def retention_page(
    store: Store, settings: AnalyticsSettings, t: Translator, days: int, *, by_purchase: bool
) -> dict[str, Any]:
    """The weekly cohort heatmap, the average curve and the lifecycle bars."""
    with store.analytics_session(timezone=settings.timezone) as session:
        window = window_of(session, settings, days)
        retention = RetentionRequest(
            interval="week", start_event="purchase" if by_purchase else None
        ).report(session, window, settings)
        lifecycle = LifecycleRequest(interval="week").report(session, window, settings)
    matrix = retention.tables["matrix"].records()
    horizon = max((row["k"] for row in matrix), default=0)
    cohorts: dict[str, dict[str, Any]] = {}
    for row in matrix:
        cohort = cohorts.setdefault(
            row["cohort"], {"cohort": row["cohort"], "size": row["size"], "cells": {}}
        )
        cohort["cells"][row["k"]] = row["share"]
    curve = retention.tables["curve"].records()
    statuses = ("new", "returning", "resurrecting", "dormant")
    periods = sorted({row["period"] for row in lifecycle.tables["series"].records()})
    counts = {
        (row["period"], row["status"]): row["users"] for row in lifecycle.tables["series"].records()
    }
    return {
        "window": window,
        "by_purchase": by_purchase,
        "horizon": list(range(horizon + 1)),
        "cohorts": list(cohorts.values()),
        "empty": not matrix,
        "charts": {
            "curve": {
                "type": "line",
                "percent": True,
                "labels": [str(row["k"]) for row in curve],
                "datasets": [
                    {"label": t("retention.curve"), "data": [row["share"] for row in curve]}
                ],
            },
            "lifecycle": {
                "type": "bar",
                "stacked": True,
                "labels": periods,
                "datasets": [
                    {
                        "label": t(f"lifecycle.{status}"),
                        "data": [counts.get((period, status), 0) for period in periods],
                    }
                    for status in statuses
                ],
            },
        },
    }


FUNNEL_EVENT_TYPES = ("view", "click", "add_to_cart", "purchase", "search", "return", "rating")
DEFAULT_FUNNEL = ("view", "add_to_cart", "purchase")


def funnel_page(
    store: Store,
    settings: AnalyticsSettings,
    t: Translator,
    days: int,
    *,
    steps: tuple[str, ...],
    conversion_days: float,
) -> dict[str, Any]:
    """The funnel of ``steps`` in the window: users, conversion and time per step."""
    with store.analytics_session(timezone=settings.timezone) as session:
        window = window_of(session, settings, days)
        report = FunnelRequest(
            steps=",".join(steps), conversion_window_days=conversion_days
        ).report(session, window, settings)
    rows = report.tables["steps"].records()
    return {
        "window": window,
        "steps": list(steps),
        "conversion_days": conversion_days,
        "rows": rows,
        "summary": report.summary,
        "empty": not rows or not rows[0]["users"],
        "charts": {
            "funnel": {
                "type": "bar",
                "labels": [f"{row['step']}. {row['event']}" for row in rows],
                "datasets": [{"label": t("funnels.users"), "data": [row["users"] for row in rows]}],
            }
        },
    }


__all__ = [
    "DAY_CHOICES",
    "DEFAULT_DAYS",
    "DEFAULT_FUNNEL",
    "FUNNEL_EVENT_TYPES",
    "Kpi",
    "funnel_page",
    "overview",
    "previous_of",
    "retention_page",
    "window_of",
]
