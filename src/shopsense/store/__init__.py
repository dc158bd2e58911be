"""Storage: narrow Protocols and their backends, chosen by URL.

>>> from shopsense.store import open_store
>>> with open_store("duckdb://:memory:") as store:   # doctest: +SKIP
...     store.count_events()
"""

from shopsense.store.base import (
    EVENT_SCHEMA,
    INTERACTION_COLUMNS,
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    USER_SCHEMA,
    AccessStore,
    AnalyticsStore,
    ApiKeyRecord,
    AppendResult,
    CatalogStore,
    CustomerStore,
    ErasureReport,
    EventStore,
    EventSummary,
    ExperimentRecord,
    ExperimentStore,
    Exposure,
    ModelRegistry,
    ModelVersion,
    ServedRecommendation,
    Store,
)
from shopsense.store.factory import open_store

__all__ = [
    "EVENT_SCHEMA",
    "INTERACTION_COLUMNS",
    "ITEM_SCHEMA",
    "ORDER_LINE_SCHEMA",
    "USER_SCHEMA",
    "AccessStore",
    "AnalyticsStore",
    "ApiKeyRecord",
    "AppendResult",
    "CatalogStore",
    "CustomerStore",
    "ErasureReport",
    "EventStore",
    "EventSummary",
    "ExperimentRecord",
    "ExperimentStore",
    "Exposure",
    "ModelRegistry",
    "ModelVersion",
    "ServedRecommendation",
    "Store",
    "open_store",
]
