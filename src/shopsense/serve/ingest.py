"""Durable ingestion with group commit, and the log of served lists.

Every write of the server goes through one writer thread (:class:`Writer`). Event
batches that arrive while a transaction is committing wait in a queue; the next
transaction takes all of them at once (up to ``max_events``), so many concurrent
requests cost one commit and one fsync of DuckDB's write-ahead log instead of one each.
A request is answered only after its transaction committed: a 2xx means stored.

The writer also runs the other writes (catalog upserts, erasure, the served-list log)
in arrival order, so an erasure cannot overtake events of the same user that were
acknowledged before it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pyarrow as pa

from shopsense.core.errors import ServiceUnavailableError, ShopsenseError
from shopsense.store.base import AppendResult, Exposure, ServedRecommendation, Store

logger = logging.getLogger(__name__)

T = TypeVar("T")
StoredCallback = Callable[[pa.Table, frozenset[str]], None]


@dataclass(slots=True)
class _Append:
    table: pa.Table
    future: Future[AppendResult] = field(default_factory=Future)


@dataclass(slots=True)
class _Call:
    function: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


_STOP = object()


class Writer:
    """The server's single writer thread (see the module docstring).

    ``on_stored(table, inserted_ids)`` runs in the writer after each commit, before the
    requests are answered, with the committed events: live state updated there is
    visible to the very next request of the client.
    """

    def __init__(
        self,
        store: Store,
        *,
        on_stored: StoredCallback | None = None,
        max_events: int = 50_000,
        max_pending_events: int = 1_000_000,
    ) -> None:
        self.store = store
        self.on_stored = on_stored
        self.max_events = max_events
        self.max_pending_events = max_pending_events
        self._queue: queue.Queue[Any] = queue.Queue()
        self._pending_events = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closing = False
        self.commits = 0

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._closing = False
            self._thread = threading.Thread(target=self._run, name="shopsense-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish every queued write, then stop the thread (later writes are refused)."""
        if self._thread is None:
            return
        with self._lock:
            self._closing = True
            self._queue.put(_STOP)
        self._thread.join(timeout)
        self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- submitting ----------------------------------------------------------------------

    def append(self, table: pa.Table) -> Future[AppendResult]:
        """Queue events (:data:`~shopsense.data.tables.EVENT_SCHEMA`); the future gives
        this batch's own counts once its transaction committed."""
        job = _Append(table)
        with self._lock:
            if self._closing or not self.running:
                raise ServiceUnavailableError("the server is not accepting writes (shutting down)")
            if self._pending_events + table.num_rows > self.max_pending_events:
                raise ServiceUnavailableError(
                    f"{self._pending_events:,} events are waiting to be stored; retry shortly"
                )
            self._pending_events += table.num_rows
            self._queue.put(job)
        return job.future

    def call(self, function: Callable[[], T]) -> Future[T]:
        """Run ``function`` (a store write) in the writer, after what is queued."""
        job = _Call(function)
        with self._lock:
            if self._closing or not self.running:
                raise ServiceUnavailableError("the server is not accepting writes (shutting down)")
            self._queue.put(job)
        return job.future

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        carried: Any = None
        while True:
            job = carried if carried is not None else self._queue.get()
            carried = None
            if job is _STOP:
                self._fail_leftovers()
                return
            try:
                carried = self._handle(job)
            except Exception:  # the one writer must outlive any job
                logger.exception("the writer failed on a job; going on")

    def _fail_leftovers(self) -> None:
        """Answer what was queued after the stop: the server is shutting down."""
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Append | _Call):
                _resolve(job.future, error=ServiceUnavailableError("the server is shutting down"))

    def _handle(self, job: Any) -> Any:
        """Run one job (an append groups the appends queued behind it); returns a job
        taken off the queue that must run next."""
        carried: Any = None
        if isinstance(job, _Call):
            _settle(job.future, job.function)
            return None
        if isinstance(job, _Append):
            group = [job]
            size = job.table.num_rows
            while size < self.max_events:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if not isinstance(following, _Append):
                    carried = following  # keep the order: run it after this group
                    break
                group.append(following)
                size += following.table.num_rows
            self._commit(group)
        return carried

    def _commit(self, group: list[_Append]) -> None:
        try:
            table = (
                pa.concat_tables([job.table for job in group]) if len(group) > 1 else group[0].table
            )
            result = self.store.append_events(table)
        except Exception as error:
            if len(group) > 1:  # one bad batch must not fail the others: retry alone
                for job in group:
                    self._commit([job])
                return
            self._release(group)
            _resolve(group[0].future, error=error)
            if not isinstance(error, ShopsenseError):
                logger.exception("storing %d events failed", table.num_rows)
            return
        self.commits += 1
        if self.on_stored is not None and result.inserted:
            try:
                self.on_stored(table, result.inserted_ids)
            except Exception:  # stored is stored: live state failing must not un-ack
                logger.exception("updating live state after a commit failed")
        claimed: set[str] = set()
        self._release(group)
        for job in group:
            ids = job.table.column("event_id").to_pylist()
            mine = {i for i in ids if i in result.inserted_ids and i not in claimed}
            claimed |= mine
            _resolve(
                job.future,
                AppendResult(received=len(ids), inserted=len(mine), inserted_ids=frozenset(mine)),
            )

    def _release(self, group: list[_Append]) -> None:
        with self._lock:
            self._pending_events -= sum(job.table.num_rows for job in group)


def _resolve(future: Future[Any], result: Any = None, error: BaseException | None = None) -> None:
    """Answer a job's future unless its request gave up (a cancelled future cannot be
    resolved; the write itself still happened, or failed, and is idempotent)."""
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except InvalidStateError:  # cancelled in between
        pass


def _settle(future: Future[Any], function: Callable[[], Any]) -> None:
    try:
        result = function()
    except Exception as error:
        if not isinstance(error, ShopsenseError):
            logger.exception("a store write failed")
        _resolve(future, error=error)
        return
    _resolve(future, result)


class ServedLog:
    """Served recommendation lists, buffered and written by the writer about once a
    second (attribution reads them; a crash may lose the last second of them, never an
    acknowledged event)."""

    def __init__(self, store: Store, writer: Writer, *, interval: float = 1.0) -> None:
        self.store = store
        self.writer = writer
        self.interval = interval
        self._buffer: list[ServedRecommendation] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, served: ServedRecommendation) -> None:
        with self._lock:
            self._buffer.append(served)

    def drop_user(self, user_id: str) -> None:
        """Forget the user's lists not yet written (erasure)."""
        with self._lock:
            self._buffer = [s for s in self._buffer if s.user_id != user_id]

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="shopsense-served-log", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(10)
            self._thread = None
        self.flush()

    def flush(self) -> None:
        """Write what is buffered. The buffer is taken inside the writer's job, so an
        erasure queued before it (which drops the user's lists) cannot be overtaken."""
        try:
            if self.writer.running:
                self.writer.call(self._write).result()
            else:
                self._write()
        except Exception:
            logger.exception("writing served lists failed")

    def _write(self) -> int:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return 0
        written = self.store.log_served(batch)
        # A list an experiment chose exposes its user to the variant (the first counts).
        self.store.log_exposures(
            [
                Exposure(str(s.context["experiment"]), s.user_id, str(s.context["variant"]), s.ts)
                for s in batch
                if s.user_id is not None and "experiment" in s.context
            ]
        )
        return written

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()


def served_record(
    *,
    rec_id: str,
    user_id: str | None,
    scenario: str,
    model: str,
    model_version: int | None,
    items: list[str],
    context: dict[str, Any],
    ts: datetime,
) -> ServedRecommendation:
    return ServedRecommendation(
        rec_id=rec_id,
        user_id=user_id,
        scenario=scenario,
        model=model,
        model_version=model_version,
        items=tuple(items),
        ts=ts,
        context=context,
    )


__all__ = ["ServedLog", "Writer", "served_record"]
