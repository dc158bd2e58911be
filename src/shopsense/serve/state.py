"""Everything one server holds while it runs, started and stopped by the app's lifespan:
the store, the serving catalog, live histories, the recommendation engine, the writer,
the served-list log, the trainer and the metrics."""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from shopsense.core.errors import ShopsenseError
from shopsense.core.ids import utc_now
from shopsense.core.settings import Settings
from shopsense.experiments.service import ExperimentService
from shopsense.serve.catalog import ServingCatalog
from shopsense.serve.content import ContentIndex
from shopsense.serve.customers import CustomerInsights
from shopsense.serve.engine import RecommendationEngine
from shopsense.serve.ingest import ServedLog, Writer
from shopsense.serve.ingest_log import IngestLog
from shopsense.serve.live import ADD_TO_CART, PURCHASE, REMOVE_FROM_CART, LiveHistories
from shopsense.serve.metrics import Metrics
from shopsense.serve.models import LiveExperiment, load_model_set
from shopsense.serve.security import KeyRing
from shopsense.store.base import Store
from shopsense.training.customers import CUSTOMER_MODEL, train_customer_models
from shopsense.training.recommenders import train_models

logger = logging.getLogger(__name__)

MICROSECONDS = 1_000_000
LATENCY_SAMPLE_USERS = 15
"""Users whose live histories time the models at load (serve.latency_budget_ms)."""


def _seconds(timestamps: pa.ChunkedArray[Any]) -> list[int]:
    """Unix seconds of a timestamp column."""
    micros = pc.cast(pc.cast(timestamps, pa.timestamp("us", tz="UTC")), pa.int64())
    seconds: list[int] = (micros.to_numpy() // MICROSECONDS).astype(np.int64).tolist()
    return seconds


def _strings(column: pa.ChunkedArray[Any]) -> list[str]:
    """A string column without nulls as Python strings."""
    return [str(value) for value in column.to_pylist()]


@dataclass(slots=True)
class TrainingStatus:
    """The latest background training run."""

    state: str = "idle"  # idle, running, succeeded, failed
    trigger: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    models: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "trigger": self.trigger,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "error": self.error,
            "models": self.models,
        }


class Trainer:
    """Retrains in a background thread (on request or on schedule) and swaps the new
    models in when done; serving never waits for it. Training uses all but one core so
    that requests keep one."""

    def __init__(self, server: ServerState) -> None:
        self.server = server
        self.status = TrainingStatus()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._trained_on: int | None = None

    def trigger(self, reason: str) -> tuple[TrainingStatus, bool]:
        """Start a run unless one is running; returns the status and whether it started."""
        with self._lock:
            if self.status.state == "running":
                return self.status, False
            self.status = TrainingStatus(state="running", trigger=reason, started_at=utc_now())
            self._thread = threading.Thread(target=self._run, name="shopsense-train", daemon=True)
            self._thread.start()
            return self.status, True

    def _run(self) -> None:
        server = self.server
        try:
            count = server.store.count_events()
            threads = max(1, (os.cpu_count() or 2) - 1)
            with threadpool_limits(limits=threads):
                run = train_models(server.store, server.settings)
                customers = _train_customers(server)
            server.reload_models()
            server.customers.reload()
            self._trained_on = count
            models = [
                {
                    "model": model.name,
                    "version": model.version.version if model.version else None,
                    "error": model.error,
                }
                for model in run.models
            ]
            models.append(customers)
            failed = [model.name for model in run.failed]
            if customers["error"] is not None:
                failed.append(CUSTOMER_MODEL)
            self.status = TrainingStatus(
                state="failed" if failed and len(failed) == len(models) else "succeeded",
                trigger=self.status.trigger,
                started_at=self.status.started_at,
                finished_at=utc_now(),
                error=f"failed: {', '.join(failed)}" if failed else None,
                models=models,
            )
        except Exception as error:
            logger.exception("background training failed")
            self.status = TrainingStatus(
                state="failed",
                trigger=self.status.trigger,
                started_at=self.status.started_at,
                finished_at=utc_now(),
                error=f"{type(error).__name__}: {error}",
            )

    def start_schedule(self, every_hours: float | None) -> None:
        if every_hours is None or self._scheduler is not None:
            return
        self._stop.clear()
        self._trained_on = self.server.store.count_events()
        self._scheduler = threading.Thread(
            target=self._schedule,
            args=(every_hours * 3600.0,),
            name="shopsense-retrain",
            daemon=True,
        )
        self._scheduler.start()

    def _schedule(self, interval: float) -> None:
        while not self._stop.wait(interval):
            if self.server.store.count_events() != self._trained_on:  # new data only
                self.trigger("schedule")

    def stop(self) -> None:
        """Stop the schedule and wait for a running training (it uses the store)."""
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(5)
            self._scheduler = None
        if self._thread is not None:
            self._thread.join()

    def wait(self, timeout: float | None = None) -> TrainingStatus:
        """Block until the running training (if any) ends (tests, CLI)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.status


def _train_customers(server: ServerState) -> dict[str, Any]:
    """Train the customer models; a failure (too little history) is reported, not
    raised, so that the recommenders' run still counts."""
    try:
        run = train_customer_models(server.store, server.settings)
    except ShopsenseError as error:
        logger.warning("customer models not trained: %s", error)
        return {"model": CUSTOMER_MODEL, "version": None, "error": str(error)}
    except Exception as error:  # a bug here must not keep the new recommenders out
        logger.exception("customer models failed")
        message = f"{type(error).__name__}: {error}"
        return {"model": CUSTOMER_MODEL, "version": None, "error": message}
    return {"model": CUSTOMER_MODEL, "version": run.version.version, "error": None}


class ServerState:
    """The running server's parts; :meth:`start` loads, :meth:`stop` drains."""

    def __init__(self, settings: Settings, store: Store, *, metrics: Metrics | None = None) -> None:
        self.settings = settings
        self.store = store
        self.keyring = KeyRing(store, settings.serve)
        serve = settings.serve
        self.catalog = ServingCatalog()
        self.histories = LiveHistories(
            length=serve.history_length,
            event_types=serve.history_event_types,
            trending_days=serve.trending_days,
        )
        self.content = ContentIndex(self.catalog)
        self.engine = RecommendationEngine(serve, self.catalog, self.histories, self.content)
        self.metrics = metrics or Metrics()
        self.ingest_log = IngestLog()
        self.writer = Writer(store, on_stored=self._on_stored, max_events=50_000)
        self.served = ServedLog(store, self.writer)
        self.trainer = Trainer(self)
        self.customers = CustomerInsights(store, settings.customers)
        self.ready = False
        self.started_at: datetime | None = None
        self._thread_limits: Any = None
        self.reload_lock = threading.RLock()
        self.experiment_problems: dict[str, str] = {}
        self.clock: Callable[[], datetime] = utc_now
        """When a list is served (its log entry, the exposure it makes): the wall clock;
        a simulation replaying another time sets its own."""

    def start(self) -> None:
        """Load everything, then start the writer, the served-list log and the
        training schedule, and take requests."""
        started = time.perf_counter()
        # One request scores one history: BLAS and OpenMP thread pools only add
        # hand-offs and spinning threads that take the core the event loop needs.
        self._thread_limits = threadpool_limits(limits=1)
        self.load()
        self.writer.start()
        self.served.start()
        self.trainer.start_schedule(self.settings.serve.retrain_every_hours)
        # Millions of long-lived objects (histories, catalog, models) would be scanned by
        # every full garbage collection; frozen, the collector only sees what requests
        # allocate.
        gc.collect()
        gc.freeze()
        self.ready = True
        self.started_at = utc_now()
        logger.info(
            "serving: %d items, %d users with live histories, loaded in %.1f s",
            len(self.catalog),
            len(self.histories),
            time.perf_counter() - started,
        )

    def load(self) -> None:
        """Read the catalog, the live histories and the serving models from the store
        (what ``start`` does before taking requests; the CLI uses it on its own to
        recommend without serving)."""
        self.catalog.update_from_table(self.store.read_items())
        types = sorted(
            {*self.settings.serve.history_event_types, PURCHASE, ADD_TO_CART, REMOVE_FROM_CART}
        )
        events = self.store.interactions(types=types)
        self._load_histories(events)
        latest = self.histories.trending.latest
        self.catalog.mark_started(
            datetime.fromtimestamp(latest - self.histories.trending.window_seconds, UTC)
            if latest
            else None
        )
        self.reload_models()
        self.customers.reload()
        self.content.matrix()  # built now, not by the first request that needs it

    def _load_histories(self, events: pa.Table) -> None:
        if events.num_rows == 0:
            return
        codes = np.asarray(self.catalog.ensure(_strings(events.column("item_id"))), dtype=np.int64)
        self.histories.load(
            np.asarray(events.column("user_id").to_pylist(), dtype=object),
            codes,
            np.asarray(_seconds(events.column("ts")), dtype=np.int64),
            np.asarray(events.column("type").to_pylist(), dtype=object),
        )
        self.metrics.live_users.set(len(self.histories))

    def reload_models(self) -> None:
        """Load the registry's serving versions and the running experiments (with the
        models their variants name) and swap them in atomically. One reload at a time:
        a retrain finishing while an experiment starts must not swap in a set read
        before the start. An experiment whose variant model cannot be loaded is not
        applied (its users would get the wrong model under the variant's name);
        ``experiment_problems`` says why."""
        with self.reload_lock:
            running = ExperimentService(self.store).running()
            named = sorted(
                {v.model for e in running.values() for v in e.spec.variants if v.model is not None}
            )
            models = load_model_set(
                self.store,
                self.settings.serve,
                self.catalog,
                sample=self.histories.sample(LATENCY_SAMPLE_USERS),
                now=self.histories.trending.latest,
                named=tuple(named),
            )
            experiments: dict[str, LiveExperiment] = {}
            problems: dict[str, str] = {}
            for scenario, experiment in running.items():
                missing = [
                    f"{v.name} ({v.model})"
                    for v in experiment.spec.variants
                    if v.model is not None and v.model not in models.named
                ]
                if missing:
                    problem = (
                        f"the model of variant {', '.join(missing)} could not be loaded; "
                        "the experiment is not applied (see the server log)"
                    )
                    problems[experiment.experiment_id] = problem
                    logger.error("experiment %s: %s", experiment.experiment_id, problem)
                    continue
                experiments[scenario] = LiveExperiment(
                    experiment,
                    {v.name: models.named[v.model] for v in experiment.spec.variants if v.model},
                )
            self.experiment_problems = problems
            self.engine.swap(replace(models, experiments=experiments))
            self.metrics.set_models(models.describe())

    def stop(self) -> None:
        self.ready = False
        self.trainer.stop()
        self.served.stop()
        self.writer.stop()
        if self._thread_limits is not None:
            self._thread_limits.restore_original_limits()
            self._thread_limits = None

    def _on_stored(self, table: pa.Table, inserted: frozenset[str]) -> None:
        """After a commit: the new item events join the live histories (each id once)."""
        self.metrics.commits.inc()
        rows = table.select(["event_id", "user_id", "item_id", "ts", "type"])
        rows = rows.filter(pc.is_valid(rows.column("item_id")))
        if rows.num_rows == 0:
            return
        ids = rows.column("event_id").to_pylist()
        taken: set[str] = set()
        keep: list[int] = []
        for index, event_id in enumerate(ids):
            if event_id in inserted and event_id not in taken:
                taken.add(event_id)
                keep.append(index)
        if not keep:
            return
        if len(keep) != rows.num_rows:
            rows = rows.take(pa.array(keep))
        codes = self.catalog.ensure(_strings(rows.column("item_id")))
        self.histories.add(
            _strings(rows.column("user_id")),
            codes,
            _seconds(rows.column("ts")),
            _strings(rows.column("type")),
        )
        self.metrics.live_users.set(len(self.histories))

    def erase_user(self, user_id: str) -> dict[str, int]:
        """Erase everything about the user, as one job of the writer (so after every
        write queued before, and before any queued after): stored rows, pending served
        lists, live history, purchases and cart, and their share of trending."""

        def erase() -> dict[str, int]:
            self.served.drop_user(user_id)
            report = self.store.erase_user(user_id)
            self.histories.forget(user_id)
            self._rebuild_trending()
            return dict(report.deleted)

        deleted: dict[str, int] = self.writer.call(erase).result()
        return deleted

    def _rebuild_trending(self) -> None:
        """Trending again from the store's events in its window."""
        trending = self.histories.trending
        latest = trending.latest
        trending.reset()
        if not latest:
            return
        start = datetime.fromtimestamp(latest - trending.window_seconds, UTC)
        events = self.store.interactions(start=start, types=sorted(self.histories.event_types))
        if events.num_rows:
            self.histories.add_trending(
                self.catalog.ensure(_strings(events.column("item_id"))),
                _seconds(events.column("ts")),
                _strings(events.column("type")),
            )


__all__ = ["ServerState", "Trainer", "TrainingStatus"]
