"""The store's narrow Protocols: events, catalog, customers/orders and the model registry.

A backend implements all four and :class:`Store` (their union plus erasure and
lifecycle); :func:`shopsense.store.open_store` picks the backend from the URL scheme
(``duckdb://path``; PostgreSQL comes later). Every backend must pass the contract
suite in ``tests/store/contract.py``.

Bulk paths take and return Apache Arrow tables whose columns are fixed in
:mod:`shopsense.data.tables` (:data:`EVENT_SCHEMA` and friends, re-exported here).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

import pyarrow as pa

from shopsense.core.errors import ConfigurationError
from shopsense.data.schemas import Event, Item, Order, User
from shopsense.data.tables import (
    EVENT_SCHEMA,
    INTERACTION_COLUMNS,
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    TIMESTAMP,
    USER_SCHEMA,
    EventTableBuilder,
    events_to_table,
    items_to_table,
    json_text,
    orders_to_table,
    users_to_table,
)

__all__ = [
    "EVENT_SCHEMA",
    "INTERACTION_COLUMNS",
    "ITEM_SCHEMA",
    "ORDER_LINE_SCHEMA",
    "TIMESTAMP",
    "USER_SCHEMA",
    "AccessStore",
    "AnalyticsSession",
    "AnalyticsStore",
    "ApiKeyRecord",
    "AppendResult",
    "CatalogStore",
    "CustomerStore",
    "ErasureReport",
    "EventStore",
    "EventSummary",
    "EventTableBuilder",
    "ExperimentRecord",
    "ExperimentStore",
    "Exposure",
    "ModelRegistry",
    "ModelVersion",
    "ServedRecommendation",
    "Store",
    "events_to_table",
    "items_to_table",
    "json_text",
    "orders_to_table",
    "users_to_table",
]


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What one :meth:`EventStore.append_events` call did."""

    received: int
    inserted: int
    inserted_ids: frozenset[str] = frozenset()
    """The ``event_id`` of each event this call stored (absent: repeats and known ids)."""

    @property
    def duplicates(self) -> int:
        """Events not stored because an event with the same ``event_id`` already was."""
        return self.received - self.inserted


@dataclass(frozen=True, slots=True)
class EventSummary:
    """Counts over all stored events (what ``shopsense stats`` prints)."""

    n_events: int
    n_users: int
    n_items: int
    first_ts: datetime | None
    last_ts: datetime | None
    by_type: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """Rows deleted per table when a user was erased."""

    user_id: str
    deleted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored API key: never the secret itself, only its SHA-256 (see
    :mod:`shopsense.serve.security`). ``rate_limit`` is requests per second (None: the
    server's default); a revoked key has ``revoked_at``."""

    key_id: str
    name: str
    secret_hash: str
    scopes: tuple[str, ...]
    rate_limit: float | None
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class ServedRecommendation:
    """One recommendation list as it was served: what later events cite by ``rec_id``."""

    rec_id: str
    user_id: str | None
    scenario: str
    model: str
    model_version: int | None
    items: tuple[str, ...]
    ts: datetime
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExperimentRecord:
    """An A/B experiment as stored: its ``definition`` (scenario, variants, metrics,
    salt; see :mod:`shopsense.experiments`) and where it is in its life."""

    experiment_id: str
    name: str
    definition: dict[str, Any]
    status: str
    created_at: datetime
    started_at: datetime | None = None
    stopped_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Exposure:
    """A user served a variant of an experiment (the first time counts)."""

    experiment_id: str
    user_id: str
    variant: str
    ts: datetime


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered model version: where its artifact lives and how good it was."""

    name: str
    version: int
    created_at: datetime
    artifact_uri: str
    params: dict[str, Any]
    metrics: dict[str, Any]
    data_fingerprint: str
    serving: bool

    @property
    def directory(self) -> Path:
        """The artifact's local directory (a ``file://`` URI or a plain path)."""
        parsed = urlparse(self.artifact_uri)
        if parsed.scheme in ("", "file"):
            return Path(unquote(parsed.path if parsed.scheme else self.artifact_uri))
        raise ConfigurationError(
            f"model {self.name} v{self.version} lives at {self.artifact_uri}; "
            "only local artifacts (file://) can be read"
        )


@runtime_checkable
class EventStore(Protocol):
    """Append-only behaviour events, de-duplicated by ``event_id``."""

    def append_events(self, events: Iterable[Event] | pa.Table) -> AppendResult:
        """Store a batch atomically (all or nothing); events whose ``event_id`` is already
        stored, or repeated within the batch, are skipped. A table must match
        :data:`EVENT_SCHEMA`'s columns."""
        ...

    def read_events(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
        user_id: str | None = None,
    ) -> pa.Table:
        """Events with ``start <= ts < end`` (either bound optional), ordered by ts."""
        ...

    def interactions(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
    ) -> pa.Table:
        """The :data:`INTERACTION_COLUMNS` of item events in the window, ordered by ts."""
        ...

    def count_events(self) -> int: ...

    def event_summary(self) -> EventSummary: ...

    def top_items(
        self, n: int = 10, *, types: Sequence[str] | None = None
    ) -> list[tuple[str, int]]:
        """The ``n`` items with most events (of ``types``), most first, ties by id."""
        ...


@runtime_checkable
class CatalogStore(Protocol):
    """The product catalog."""

    def upsert_items(self, items: Iterable[Item] | pa.Table) -> int:
        """Insert or replace items by ``item_id``; returns how many rows were written."""
        ...

    def get_item(self, item_id: str) -> Item:
        """The item, or :class:`~shopsense.core.errors.NotFoundError`."""
        ...

    def read_items(self) -> pa.Table:
        """All items as a table of :data:`ITEM_SCHEMA`."""
        ...

    def delete_item(self, item_id: str) -> bool: ...

    def count_items(self) -> int: ...


@runtime_checkable
class CustomerStore(Protocol):
    """Customers and their orders."""

    def upsert_users(self, users: Iterable[User] | pa.Table) -> int: ...

    def get_user(self, user_id: str) -> User: ...

    def read_users(self) -> pa.Table: ...

    def count_users(self) -> int: ...

    def upsert_orders(self, orders: Iterable[Order] | pa.Table) -> int:
        """Insert or replace whole orders (an order's stored lines are replaced by the new
        ones together); returns how many orders were written. Records: when an order
        appears twice, the last one wins. A table is :data:`ORDER_LINE_SCHEMA`, one row per
        line: all rows of an order id are its lines (in any order), with its columns equal
        on every line and each ``line_no`` once; otherwise the batch is rejected whole."""
        ...

    def get_order(self, order_id: str) -> Order: ...

    def delete_order(self, order_id: str) -> bool:
        """Delete an order and its lines; False when there was none."""
        ...

    def read_order_lines(
        self, *, start: datetime | None = None, end: datetime | None = None
    ) -> pa.Table:
        """Order lines in the window as :data:`ORDER_LINE_SCHEMA`, ordered by ts."""
        ...

    def count_orders(self) -> int: ...


@runtime_checkable
class ModelRegistry(Protocol):
    """Versioned model artifacts with their manifest data and metrics."""

    def register_model(
        self,
        name: str,
        *,
        artifact_uri: str,
        params: dict[str, Any],
        metrics: dict[str, Any],
        data_fingerprint: str,
    ) -> ModelVersion:
        """Record a new version (1, 2, ...) of ``name``; it is not serving until promoted."""
        ...

    def list_models(self, name: str | None = None) -> list[ModelVersion]: ...

    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        """A version, or the serving one (else the newest) when ``version`` is None."""
        ...

    def promote_model(self, name: str, version: int) -> ModelVersion:
        """Make ``version`` the one serving ``name`` (atomically replacing the previous)."""
        ...


@runtime_checkable
class AccessStore(Protocol):
    """API keys (hashed) and the log of served recommendation lists."""

    def add_api_key(self, record: ApiKeyRecord) -> None:
        """Store a new key; a ``key_id`` already stored is a ValidationFailedError."""
        ...

    def get_api_key(self, key_id: str) -> ApiKeyRecord:
        """The key, or :class:`~shopsense.core.errors.NotFoundError`."""
        ...

    def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key, revoked ones included, oldest first."""
        ...

    def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        """Mark the key revoked (idempotent); NotFoundError when unknown."""
        ...

    def log_served(self, served: Sequence[ServedRecommendation]) -> int:
        """Record served lists (a repeated ``rec_id`` is ignored); returns how many were new."""
        ...

    def read_served(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        user_id: str | None = None,
    ) -> list[ServedRecommendation]:
        """Served lists with ``start <= ts < end``, ordered by ts."""
        ...


@runtime_checkable
class ExperimentStore(Protocol):
    """Experiments and who was exposed to which variant."""

    def save_experiment(self, record: ExperimentRecord) -> None:
        """Insert the experiment, or replace the stored one with the same id."""
        ...

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        """The experiment, or :class:`~shopsense.core.errors.NotFoundError`."""
        ...

    def list_experiments(self) -> list[ExperimentRecord]:
        """Every experiment, oldest first."""
        ...

    def log_exposures(self, exposures: Sequence[Exposure]) -> int:
        """Record exposures; a user already exposed to the experiment keeps their first
        (variant and time). Returns how many were new."""
        ...

    def exposure_counts(
        self, experiment_id: str, *, before: datetime | None = None
    ) -> dict[str, int]:
        """Users exposed per variant (first exposed before ``before``, when given)."""
        ...


@runtime_checkable
class AnalyticsSession(Protocol):
    """The statements of one report, all read from one snapshot of the store.

    Opened by :meth:`AnalyticsStore.analytics_session`; the first statement fixes the
    snapshot, so a report of several statements (a summary and its tables) agrees with
    itself while events keep arriving."""

    @property
    def timezone(self) -> str:
        """The IANA time zone in which the session's dates and period buckets are taken."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The rows of ``sql`` with ``params`` bound to its ``?`` placeholders."""
        ...


@runtime_checkable
class AnalyticsStore(Protocol):
    """Read-only aggregate queries for :mod:`shopsense.analytics` and the experiments.

    The SQL is written by shopsense's analytics modules (never by a caller) against the
    tables ``events``, ``served_recommendations``, ``users``, ``items`` and
    ``order_lines``, with every value bound as a parameter. A session reads one
    consistent snapshot and never blocks writers (ingestion keeps running while a
    dashboard asks for a year of retention)."""

    def analytics_session(
        self, *, timezone: str = "UTC"
    ) -> AbstractContextManager[AnalyticsSession]:
        """A read-only session whose statements all see the snapshot taken at its first
        one, with dates and period buckets in ``timezone`` (an IANA name such as
        ``Europe/London``; an unknown one is a ``ValidationFailedError``)."""
        ...

    def analytics_query(
        self, sql: str, params: Sequence[Any] = (), *, timezone: str = "UTC"
    ) -> pa.Table:
        """The rows of ``sql``, one statement in a session of its own (see
        :meth:`analytics_session`)."""
        ...


@runtime_checkable
class Store(
    EventStore,
    CatalogStore,
    CustomerStore,
    ModelRegistry,
    AccessStore,
    ExperimentStore,
    AnalyticsStore,
    Protocol,
):
    """A whole backend: the four narrow stores plus what spans them."""

    url: str

    def erase_user(self, user_id: str) -> ErasureReport:
        """Delete every row about ``user_id`` (events, profile, orders, served lists) in
        one transaction."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> Store: ...

    def __exit__(self, *exc_info: object) -> None: ...
