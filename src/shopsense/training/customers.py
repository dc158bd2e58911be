"""Train the customer models on a store, score every customer, and register both.

:func:`train_customer_models` reads the events the customer features use, takes the
store's own clock (its newest event) as "now", fits
:class:`~shopsense.models.customer.intelligence.CustomerIntelligence` (which holds out
20% of the labelled customers to measure every model against its baselines and to pick
the spend model), scores every customer at "now", and saves the bundle and the scores
under ``<data_dir>/models/customers/v<version>/`` before registering and promoting it as
:data:`CUSTOMER_MODEL`. :func:`load_customer_models` reads the serving version back.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from shopsense.core.errors import ConfigurationError, NotFittedError, NotFoundError, StoreError
from shopsense.core.settings import Settings
from shopsense.features.customers import events_frame
from shopsense.models.customer.intelligence import CustomerIntelligence
from shopsense.store.base import ModelVersion, Store

logger = logging.getLogger(__name__)

CUSTOMER_MODEL = "customers"
"""Registry name of the customer-model bundle."""
SCORES_FILE = "scores.parquet"
CUSTOMER_EVENT_TYPES = ("purchase", "return", "view", "add_to_cart", "search")
"""The event types the customer features read."""

ProgressCallback = Callable[[int, int | None], None]


GUEST_MARK = '"guest":true'
"""How importers mark a guest checkout's event (props ``{"guest": true}``, compact JSON)."""


def read_customer_events(store: Store, *, user_id: str | None = None) -> pd.DataFrame:
    """The events the customer features read (:func:`customer_events` of the store's)."""
    return customer_events(store.read_events(types=list(CUSTOMER_EVENT_TYPES), user_id=user_id))


def customer_events(table: pa.Table) -> pd.DataFrame:
    """The :data:`CUSTOMER_EVENT_TYPES` events of an event table, ``ts`` in Unix
    seconds. Guest checkouts are left out: a guest "customer" is one anonymous order,
    not someone to segment, keep or win back."""
    if table.num_rows:
        kinds = set(CUSTOMER_EVENT_TYPES)
        props = table.column("props").to_pylist()
        keep = [
            kind in kinds and (text is None or GUEST_MARK not in text)
            for kind, text in zip(table.column("type").to_pylist(), props, strict=True)
        ]
        table = table.filter(pa.array(keep, type=pa.bool_()))
    return events_frame(table)


def item_categories(items: pa.Table) -> pd.Series:
    """Each catalog item's top category (its first), for the ``categories`` feature."""
    if items.num_rows == 0:
        return pd.Series(dtype=object)
    frame = items.select(["item_id", "category"]).to_pandas()
    top = frame["category"].map(lambda path: path[0] if path is not None and len(path) else None)
    return pd.Series(top.to_numpy(), index=frame["item_id"].to_numpy()).dropna()


def store_clock(events: pd.DataFrame) -> int:
    """The shop's "now": one second after its newest event (a shop replaying last
    year's data is scored as of last year, not as of today)."""
    return int(events["ts"].max()) + 1


@dataclass(frozen=True, slots=True)
class CustomerTrainingRun:
    """What :func:`train_customer_models` did."""

    version: ModelVersion
    model: CustomerIntelligence
    scores: pd.DataFrame
    fit_seconds: float

    @property
    def metrics(self) -> dict[str, Any]:
        return self.version.metrics


def _fingerprint(events: pd.DataFrame) -> str:
    summary = f"{len(events)}:{events['user_id'].nunique()}:{int(events['ts'].max())}"
    return hashlib.sha256(summary.encode()).hexdigest()[:16]


def train_customer_models(
    store: Store, settings: Settings, *, progress: ProgressCallback | None = None
) -> CustomerTrainingRun:
    """Fit, score, save, register and promote the customer models (module docstring).
    ``progress(done, total)`` counts the steps (read, fit, score, save)."""

    def step(done: int) -> None:
        if progress is not None:
            progress(done, 4)

    step(0)
    events = read_customer_events(store)
    if len(events) == 0 or not (events["type"] == "purchase").any():
        raise ConfigurationError(
            "the store has no purchases; customer models learn from purchase events "
            "(import orders or simulate a shop first)"
        )
    categories = item_categories(store.read_items())
    now = store_clock(events)
    step(1)
    options = settings.customers
    started = time.perf_counter()
    model = CustomerIntelligence(
        horizon_days=options.horizon_days,
        long_horizon_days=options.long_horizon_days,
        discount_rate=options.discount_rate,
    ).fit(events, now, item_categories=categories)
    fit_seconds = time.perf_counter() - started
    step(2)
    scores = model.score(events, now, item_categories=categories)
    step(3)
    version_number = max((v.version for v in store.list_models(CUSTOMER_MODEL)), default=0) + 1
    directory = settings.data_dir / "models" / CUSTOMER_MODEL / f"v{version_number}"
    model.save(directory)
    scores.to_parquet(directory / SCORES_FILE)
    metrics = dict(model.metrics_ or {})
    metrics["fit_seconds"] = fit_seconds
    metrics["scored_customers"] = len(scores)
    metrics["as_of"] = pd.Timestamp(now, unit="s", tz="UTC").isoformat()
    registered = store.register_model(
        CUSTOMER_MODEL,
        artifact_uri=directory.resolve().as_uri(),
        params={
            "horizon_days": options.horizon_days,
            "long_horizon_days": options.long_horizon_days,
            "discount_rate": options.discount_rate,
        },
        metrics=metrics,
        data_fingerprint=_fingerprint(events),
    )
    if registered.version != version_number:
        raise StoreError(
            f"customer models were registered as version {registered.version} while their "
            f"artifact went to {directory}: is another training running?"
        )
    registered = store.promote_model(CUSTOMER_MODEL, registered.version)
    step(4)
    logger.info("customer models v%d: %d customers scored", registered.version, len(scores))
    return CustomerTrainingRun(
        version=registered, model=model, scores=scores, fit_seconds=fit_seconds
    )


@dataclass(frozen=True, slots=True)
class LoadedCustomerModels:
    """The serving customer models, their scores of every customer and their version."""

    version: ModelVersion
    model: CustomerIntelligence
    scores: pd.DataFrame


def load_customer_models(store: Store) -> LoadedCustomerModels:
    """The serving version, or :class:`NotFittedError` when none was trained."""
    try:
        version = store.get_model(CUSTOMER_MODEL)
    except NotFoundError:
        raise NotFittedError(
            "no customer models yet; run `shopsense customers train` (or POST /v1/models/train)"
        ) from None
    directory = version.directory
    model = CustomerIntelligence.load(directory)
    scores = pd.read_parquet(directory / SCORES_FILE)
    return LoadedCustomerModels(version=version, model=model, scores=scores)


__all__ = [
    "CUSTOMER_EVENT_TYPES",
    "CUSTOMER_MODEL",
    "CustomerTrainingRun",
    "LoadedCustomerModels",
    "customer_events",
    "item_categories",
    "load_customer_models",
    "read_customer_events",
    "store_clock",
    "train_customer_models",
]
