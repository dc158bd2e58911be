"""Engagement analytics over the store: active users and stickiness, retention cohorts,
lifecycle, funnels, commerce and recommendation attribution.

Each report is one function taking the store (or an open analytics session) and a
:class:`Window` and returning a :class:`Report` of chart-ready tables, all of it read
from one snapshot of the store; :mod:`shopsense.analytics.requests` holds the validated
requests the API and the CLI build them from. See ``docs/analytics.md``.
"""

from shopsense.analytics._query import (
    MAX_BREAKDOWN_VALUES,
    OTHER_VALUE,
    AnalyticsSource,
    Breakdown,
    Interval,
    Report,
    ResultTable,
    Window,
)
from shopsense.analytics.activity import stickiness
from shopsense.analytics.attribution import attribution
from shopsense.analytics.commerce import commerce
from shopsense.analytics.funnels import funnel
from shopsense.analytics.lifecycle import lifecycle
from shopsense.analytics.retention import retention

__all__ = [
    "MAX_BREAKDOWN_VALUES",
    "OTHER_VALUE",
    "AnalyticsSource",
    "Breakdown",
    "Interval",
    "Report",
    "ResultTable",
    "Window",
    "attribution",
    "commerce",
    "funnel",
    "lifecycle",
    "retention",
    "stickiness",
]
