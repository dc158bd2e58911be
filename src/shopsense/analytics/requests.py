"""The analytics questions as validated requests, one pydantic model per report.

The API reads them from the query string (``GET /v1/analytics/retention?interval=week``)
and the CLI from its options (``shopsense analytics retention --interval week``); both
then call :meth:`AnalyticsRequest.run`, so the two answer the same question the same
way. Lists travel as comma-separated text (``steps=view,add_to_cart,purchase``).

:meth:`AnalyticsRequest.run` opens one analytics session for the whole answer: the
default window (the day of the newest event) and every statement of the report read one
snapshot of the store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import date, timedelta
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shopsense.analytics._query import (
    AnalyticsSource,
    Breakdown,
    Interval,
    Report,
    Window,
    reading,
)
from shopsense.analytics.activity import stickiness
from shopsense.analytics.attribution import DEFAULT_DIMENSIONS, attribution
from shopsense.analytics.commerce import commerce
from shopsense.analytics.funnels import funnel
from shopsense.analytics.lifecycle import lifecycle
from shopsense.analytics.retention import CohortKind, ReturnMode, retention
from shopsense.core.errors import ValidationFailedError, describe_validation_error
from shopsense.core.settings import AnalyticsSettings
from shopsense.store.base import AnalyticsSession, AnalyticsStore


def names(text: str | None) -> tuple[str, ...] | None:
    """``"a, b"`` as ``("a", "b")``; None or blank as None (no filter)."""
    parts = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    return parts or None


def latest_day(store: AnalyticsSource, timezone: str) -> date | None:
    """The local date of the newest event, None for an empty store."""
    with reading(store, timezone) as session:
        rows = session.query("SELECT CAST(max(ts) AS DATE) AS day FROM events").to_pylist()
    day = rows[0]["day"] if rows else None
    return day if isinstance(day, date) else None


def local_today(store: AnalyticsSource, timezone: str) -> date:
    """Today's date in ``timezone`` (not the host's), by the store's clock and zones."""
    with reading(store, timezone) as session:
        rows = session.query("SELECT CAST(current_timestamp AS DATE) AS day").to_pylist()
    day = rows[0]["day"]
    if not isinstance(day, date):
        raise TypeError(f"the store's current date is {day!r}, not a date")
    return day


class AnalyticsRequest(BaseModel, ABC):
    """What every report asks: the dates and the calendar."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]

    start: date | None = Field(
        default=None, description="First day (inclusive). Default: `days` before `end`."
    )
    end: date | None = Field(
        default=None,
        description="Day after the last (exclusive). Default: the day after the newest event.",
    )
    days: int | None = Field(
        default=None,
        ge=1,
        le=3660,
        description="Days covered when `start` is not given (default: analytics.default_days).",
    )
    timezone: str | None = Field(
        default=None,
        description="IANA time zone of the days (default: analytics.timezone), e.g. Europe/London.",
    )

    @classmethod
    def parse(cls, **values: Any) -> AnalyticsRequest:
        """The request from loose values (the CLI's options), None meaning "default";
        invalid values are a :class:`ValidationFailedError` saying which and why."""
        try:
            return cls.model_validate({k: v for k, v in values.items() if v is not None})
        except ValidationError as error:
            raise ValidationFailedError(describe_validation_error(error)) from None

    def window(self, store: AnalyticsSource, settings: AnalyticsSettings) -> Window:
        """The dates asked for, the defaults filled in: ``end`` the day after the newest
        event (after today in the query's time zone for an empty store)."""
        timezone = self.timezone or settings.timezone
        end = self.end
        if end is None:
            latest = latest_day(store, timezone)
            if latest is None:
                latest = local_today(store, timezone)
            end = latest + timedelta(days=1)
        start = self.start or end - timedelta(days=self.days or settings.default_days)
        return Window(start=start, end=end, timezone=timezone)

    def run(self, store: AnalyticsStore, settings: AnalyticsSettings) -> Report:
        """The report this request asks for, its window and tables read from one
        snapshot of ``store``."""
        with store.analytics_session(timezone=self.timezone or settings.timezone) as session:
            return self.report(session, self.window(session, settings), settings)

    @abstractmethod
    def report(
        self, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> Report:
        """The report over ``window``, read in ``session``."""


def _breakdown(text: str | None) -> Breakdown | None:
    return Breakdown.parse(text) if text else None


BreakdownField = Field(
    default=None,
    description="Split by event.<property> (event.type, event.<props key>) or user.<attribute>.",
)
TypesField = Field(
    default=None, description="Event types that count as activity, comma-separated (default: all)."
)


class StickinessRequest(AnalyticsRequest):
    kind: ClassVar[str] = "stickiness"

    interval: Interval = Field(
        default="day", description="Average the daily figures per day, week or month."
    )
    types: str | None = TypesField
    breakdown: str | None = BreakdownField

    def report(
        self, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> Report:
        return stickiness(
            session,
            window,
            interval=self.interval,
            types=names(self.types),
            breakdown=_breakdown(self.breakdown),
        )


class RetentionRequest(AnalyticsRequest):
    kind: ClassVar[str] = "retention"

    interval: Interval = "week"
    start_event: str | None = Field(
        default=None,
        description="Event types that start a cohort, comma-separated (default: any; "
        "purchase for cohorts by first purchase).",
    )
    return_event: str | None = Field(
        default=None, description="Event types that count as coming back (default: any)."
    )
    cohort: CohortKind = Field(
        default="first_time",
        description="first_time: by the first start event ever; recurring: every period with one.",
    )
    mode: ReturnMode = Field(
        default="on", description="on: back in that period; on_or_after: in it or any later one."
    )
    periods: int | None = Field(
        default=None,
        ge=1,
        le=400,
        description="Periods after the cohort's (default: all in the window).",
    )
    breakdown: str | None = BreakdownField

    def report(
        self, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> Report:
        return retention(
            session,
            window,
            interval=self.interval,
            start_types=names(self.start_event),
            return_types=names(self.return_event),
            cohort=self.cohort,
            mode=self.mode,
            periods=self.periods,
            breakdown=_breakdown(self.breakdown),
        )


class LifecycleRequest(AnalyticsRequest):
    kind: ClassVar[str] = "lifecycle"

    interval: Interval = "week"
    types: str | None = TypesField
    breakdown: str | None = Field(
        default=None,
        description="Split users by user.<attribute>, e.g. user.country (statuses are per "
        "user, so not by an event property).",
    )

    def report(
        self, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> Report:
        return lifecycle(
            session,
            window,
            interval=self.interval,
            types=names(self.types),
            breakdown=_breakdown(self.breakdown),
        )


class FunnelRequest(AnalyticsRequest):
    kind: ClassVar[str] = "funnel"

    steps: str = Field(
        default="view,add_to_cart,purchase",
        description="The event types of the steps, in order, comma-separated.",
    )
    conversion_window_days: float | None = Field(
        default=None,
        gt=0,
        le=365,
        description="Days from step 1 to finish (default: analytics.conversion_window_days).",
    )
    breakdown: str | None = BreakdownField

    def report(
        self, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> Report:
        days = self.conversion_window_days or settings.conversion_window_days
        return funnel(
            session,
            window,
            names(self.steps) or (),
            conversion_window=timedelta(days=days),
            breakdown=_breakdown(self.breakdown),
        )


class CommerceRequest(AnalyticsRequest):
    kind: ClassVar[str] = "commerce"

    interval: Interval = "week"
    breakdown: str | None = BreakdownField

    def report(
        self, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> Report:
        return commerce(
            session,
            window,
            interval=self.interval,
            breakdown=_breakdown(self.breakdown),
        )


class AttributionRequest(AnalyticsRequest):
    kind: ClassVar[str] = "attribution"

    by: str = Field(
        default=",".join(DEFAULT_DIMENSIONS),
        description="Group by any of scenario, model, model_version, experiment, variant, "
        "period (comma-separated; empty: one total row).",
    )
    interval: Interval = Field(default="day", description="The bucket of `period`.")
    window_hours: float | None = Field(
        default=None,
        gt=0,
        le=24 * 90,
        description="Attribution window (default: analytics.attribution_window_hours).",
    )

    def report(
        self, session: AnalyticsSession, window: Window, settings: AnalyticsSettings
    ) -> Report:
        hours = self.window_hours or settings.attribution_window_hours
        return attribution(
            session,
            window,
            by=names(self.by) or (),
            interval=self.interval,
            attribution_window=timedelta(hours=hours),
        )


REQUESTS: dict[str, type[AnalyticsRequest]] = {
    request.kind: request
    for request in (
        StickinessRequest,
        RetentionRequest,
        LifecycleRequest,
        FunnelRequest,
        CommerceRequest,
        AttributionRequest,
    )
}
"""Every report by name: the API's paths and the CLI's commands."""

ReportKind = Literal["stickiness", "retention", "lifecycle", "funnel", "commerce", "attribution"]

__all__ = [
    "REQUESTS",
    "AnalyticsRequest",
    "AttributionRequest",
    "CommerceRequest",
    "FunnelRequest",
    "LifecycleRequest",
    "ReportKind",
    "RetentionRequest",
    "StickinessRequest",
    "latest_day",
    "local_today",
    "names",
]
