"""The embedded default backend: one DuckDB file holds events, catalog, customers, orders
and the model registry.

Every write is one transaction: a batch is stored whole or not at all, and DuckDB's
write-ahead log makes a committed batch survive a killed process. Bulk data moves as
Arrow tables (zero-copy into DuckDB's scans).

DuckDB allows one writing process per file; several threads of that process share one
connection here, serialised by a lock (the server's group commit builds on that).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from shopsense.core.errors import (
    NotFoundError,
    SchemaVersionError,
    StoreError,
    ValidationFailedError,
)
from shopsense.core.ids import utc_now
from shopsense.data.schemas import Event, Item, Order, OrderLine, OrderStatus, User
from shopsense.store.base import (
    EVENT_SCHEMA,
    INTERACTION_COLUMNS,
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    USER_SCHEMA,
    ApiKeyRecord,
    AppendResult,
    ErasureReport,
    EventSummary,
    ExperimentRecord,
    Exposure,
    ModelVersion,
    ServedRecommendation,
    events_to_table,
    items_to_table,
    orders_to_table,
    users_to_table,
)
from shopsense.store.migrations import LATEST_VERSION, MIGRATIONS

logger = logging.getLogger(__name__)

_EVENT_COLUMNS = ", ".join(EVENT_SCHEMA.names)
_ITEM_COLUMNS = ", ".join(ITEM_SCHEMA.names)
_USER_COLUMNS = ", ".join(USER_SCHEMA.names)
# Columns that must never be null in a bulk table, per schema.
_REQUIRED = {
    "events": [f.name for f in EVENT_SCHEMA if not f.nullable],
    "items": [f.name for f in ITEM_SCHEMA if not f.nullable],
    "users": [f.name for f in USER_SCHEMA if not f.nullable],
    "order lines": [f.name for f in ORDER_LINE_SCHEMA if not f.nullable],
}


def _json_object(text: str | None) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(text)) if text else {}


def _conform(table: pa.Table, schema: pa.Schema, what: str) -> pa.Table:
    """``table`` with exactly ``schema``'s columns and types, or a clear error."""
    missing = [name for name in schema.names if name not in table.column_names]
    extra = [name for name in table.column_names if name not in schema.names]
    if missing or extra:
        raise ValidationFailedError(
            f"{what} table does not match the schema: "
            f"missing columns {missing}, unexpected columns {extra}",
            details={"missing": missing, "unexpected": extra},
        )
    selected = table.select(schema.names)
    naive = [
        field.name
        for field in selected.schema
        if pa.types.is_timestamp(field.type) and field.type.tz is None
    ]
    if naive:
        # Casting would silently read them as UTC; the data model rejects naive times.
        raise ValidationFailedError(
            f"{what} table has timestamps without a time zone in {naive}; "
            "give the column a time zone (e.g. pa.timestamp('us', tz='UTC'))",
            details={"naive_columns": naive},
        )
    for name in _REQUIRED[what]:
        nulls = selected.column(name).null_count
        if nulls:
            raise ValidationFailedError(
                f"{what} table has {nulls} rows with no {name!r}; it is required",
                details={"field": name, "null_rows": nulls},
            )
    try:
        conformed = selected.cast(schema, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as error:
        raise ValidationFailedError(
            f"{what} table has a column of the wrong type: {error}"
        ) from error
    return conformed


def _check_order_lines(lines: pa.Table) -> None:
    """The rules :class:`~shopsense.data.schemas.OrderLine` and ``Order`` enforce, on a table."""
    bad_quantity = int((lines.column("quantity").to_numpy() <= 0).sum())
    bad_price = int((lines.column("price").to_numpy() < 0).sum())
    statuses = {status.value for status in OrderStatus}
    unknown = {str(value) for value in lines.column("status").unique().to_pylist()} - statuses
    problems: list[str] = []
    if bad_quantity:
        problems.append(f"{bad_quantity} lines with quantity <= 0")
    if bad_price:
        problems.append(f"{bad_price} lines with a negative price")
    if unknown:
        problems.append(f"unknown status {sorted(unknown)}; known: {sorted(statuses)}")
    if problems:
        raise ValidationFailedError(
            "order lines rejected: " + "; ".join(problems), details={"problems": problems}
        )


def _window(
    start: datetime | None, end: datetime | None, column: str = "ts"
) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if start is not None:
        clauses.append(f"{column} >= ?")
        params.append(start)
    if end is not None:
        clauses.append(f"{column} < ?")
        params.append(end)
    return clauses, params


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    # A COMMIT that failed may have ended the transaction already; the error that got
    # here is the one to report, not "no transaction is active".
    with suppress(duckdb.TransactionException):
        connection.execute("ROLLBACK")


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


class _AnalyticsSession:
    """An :class:`~shopsense.store.base.AnalyticsSession`: one report's statements on
    one cursor, inside one read transaction."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, timezone: str, url: str) -> None:
        self.timezone = timezone
        self._cursor = cursor
        self._url = url

    def query(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        try:
            table: pa.Table = self._cursor.sql(sql, params=list(params)).to_arrow_table()
        except duckdb.Error as error:
            raise StoreError(f"an analytics query on {self._url} failed: {error}") from error
        return table


class DuckDBStore:
    """The :class:`~shopsense.store.base.Store` on one DuckDB file (or in memory)."""

    def __init__(self, *, url: str, path: Path | None, read_only: bool = False) -> None:
        self.url = url
        self.path = path
        self.read_only = read_only
        self._lock = threading.RLock()
        if path is not None and not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        if path is not None and read_only and not path.exists():
            raise NotFoundError(f"no store at {path}; create one with `shopsense init`")
        try:
            self._connection = duckdb.connect(
                ":memory:" if path is None else str(path), read_only=read_only
            )
        except duckdb.IOException as error:
            raise StoreError(
                f"cannot open the store at {path}: {error}. "
                "DuckDB allows one writing process per file; stop the other process "
                "(a server or an import) or open the store read-only."
            ) from error
        self._connection.execute("SET TimeZone = 'UTC'")
        self._migrate()

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> DuckDBStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DuckDBStore(url={self.url!r}, read_only={self.read_only})"

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN TRANSACTION")
            try:
                yield connection
                connection.execute("COMMIT")
            except duckdb.ConversionException as error:
                _rollback(connection)
                raise ValidationFailedError(
                    f"the batch was rejected whole: a value does not fit its column ({error})"
                ) from error
            except duckdb.Error as error:
                _rollback(connection)
                raise StoreError(
                    f"the store at {self.url} could not complete a write, nothing of it "
                    f"was stored: {error}"
                ) from error
            except BaseException:
                _rollback(connection)
                raise

    @contextmanager
    def _registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """``table`` visible to SQL as ``name``. Registered outside the write's transaction:
        unregistering inside an aborted one would fail and hide the error that aborted it."""
        with self._lock:
            self._connection.register(name, table)
            try:
                yield
            finally:
                self._connection.unregister(name)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection.execute(sql, list(params)).fetchall()

    def _arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        with self._lock:
            table: pa.Table = self._connection.sql(sql, params=list(params)).to_arrow_table()
            return table

    # -- experiments ---------------------------------------------------------------------

    _EXPERIMENT_COLUMNS = (
        "experiment_id, name, definition::VARCHAR, status, created_at, started_at, stopped_at"
    )

    @staticmethod
    def _experiment(row: tuple[Any, ...]) -> ExperimentRecord:
        experiment_id, name, definition, status, created_at, started_at, stopped_at = row
        return ExperimentRecord(
            experiment_id=experiment_id,
            name=name,
            definition=_json_object(definition),
            status=status,
            created_at=created_at,
            started_at=started_at,
            stopped_at=stopped_at,
        )

    def save_experiment(self, record: ExperimentRecord) -> None:
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO experiments VALUES (?, ?, ?::JSON, ?, ?, ?, ?)",
                [
                    record.experiment_id,
                    record.name,
                    json.dumps(record.definition, sort_keys=True),
                    record.status,
                    record.created_at,
                    record.started_at,
                    record.stopped_at,
                ],
            )

    def get_experiment(self, experiment_id: str) -> ExperimentRecord:
        rows = self._query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments WHERE experiment_id = ?",
            [experiment_id],
        )
        if not rows:
            raise NotFoundError(
                f"no experiment {experiment_id!r}; `shopsense experiments list` shows them"
            )
        return self._experiment(rows[0])

    def list_experiments(self) -> list[ExperimentRecord]:
        rows = self._query(
            f"SELECT {self._EXPERIMENT_COLUMNS} FROM experiments ORDER BY created_at, experiment_id"
        )
        return [self._experiment(row) for row in rows]

    def log_exposures(self, exposures: Sequence[Exposure]) -> int:
        if not exposures:
            return 0
        table = pa.table(
            {
                "experiment_id": [e.experiment_id for e in exposures],
                "user_id": [e.user_id for e in exposures],
                "variant": [e.variant for e in exposures],
                "ts": pa.array([e.ts for e in exposures], pa.timestamp("us", tz="UTC")),
            }
        )
        with self._registered("incoming_exposures", table), self._transaction() as connection:
            # The earliest of a batch wins; OR IGNORE keeps one stored before.
            inserted = connection.execute(
                "INSERT OR IGNORE INTO experiment_exposures "
                "SELECT experiment_id, user_id, arg_min(variant, ts), min(ts) "
                "FROM incoming_exposures GROUP BY experiment_id, user_id RETURNING 1"
            ).fetchall()
        return len(inserted)

    def exposure_counts(
        self, experiment_id: str, *, before: datetime | None = None
    ) -> dict[str, int]:
        clauses = ["experiment_id = ?"]
        params: list[Any] = [experiment_id]
        if before is not None:
            clauses.append("ts < ?")
            params.append(before)
        rows = self._query(
            f"SELECT variant, count(*) FROM experiment_exposures {_where(clauses)} "
            "GROUP BY variant ORDER BY variant",
            params,
        )
        return {str(variant): int(count) for variant, count in rows}

    @contextmanager
    def analytics_session(self, *, timezone: str = "UTC") -> Iterator[_AnalyticsSession]:
        # A cursor is DuckDB's own connection to the same database: it runs beside the
        # writers (MVCC) instead of queueing on the store's lock, and its time zone is its
        # own. Its transaction pins the snapshot (taken by the first statement, as DuckDB
        # starts transactions lazily) for every statement of the report.
        with self._lock:
            cursor = self._connection.cursor()
        try:
            try:
                cursor.execute("SET TimeZone = ?", [timezone])
            except duckdb.Error as error:
                raise ValidationFailedError(
                    f"unknown time zone {timezone!r}; use an IANA name such as "
                    "'UTC' or 'Europe/London'"
                ) from error
            cursor.execute("BEGIN TRANSACTION")
            try:
                yield _AnalyticsSession(cursor, timezone, self.url)
            except BaseException:
                _rollback(cursor)
                raise
            try:
                cursor.execute("COMMIT")
            except duckdb.Error as error:
                raise StoreError(f"an analytics session on {self.url} failed: {error}") from error
        finally:
            cursor.close()

    def analytics_query(
        self, sql: str, params: Sequence[Any] = (), *, timezone: str = "UTC"
    ) -> pa.Table:
        with self.analytics_session(timezone=timezone) as session:
            return session.query(sql, params)

    def _scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self._query(sql, params)
        return rows[0][0] if rows else None

    # -- migrations ----------------------------------------------------------------------

    def schema_version(self) -> int:
        exists = self._scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        if not exists:
            return 0
        return int(self._scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > LATEST_VERSION:
            raise SchemaVersionError(
                f"the store at {self.url} has schema version {current}, but this shopsense "
                f"knows versions up to {LATEST_VERSION}; upgrade shopsense"
            )
        pending = [m for m in MIGRATIONS if m.version > current]
        if not pending:
            return
        if self.read_only:
            raise SchemaVersionError(
                f"the store at {self.url} is at schema version {current} and needs "
                f"migrating to {LATEST_VERSION}; open it once without read-only"
            )
        with self._transaction() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, description VARCHAR NOT NULL, "
                "applied_at TIMESTAMPTZ NOT NULL)"
            )
            for migration in pending:
                logger.info("migrating store to schema version %d", migration.version)
                for statement in migration.statements:
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [migration.version, migration.description, utc_now()],
                )

    # -- events --------------------------------------------------------------------------

    def append_events(self, events: Iterable[Event] | pa.Table) -> AppendResult:
        table = events if isinstance(events, pa.Table) else events_to_table(events)
        batch = _conform(table, EVENT_SCHEMA, "events")
        if batch.num_rows == 0:
            return AppendResult(received=0, inserted=0)
        with self._registered("incoming_events", batch), self._transaction() as connection:
            # OR IGNORE skips ids already stored and repeats inside the batch; RETURNING
            # gives the ids actually stored (a group commit tells each request its own).
            inserted = connection.execute(
                f"INSERT OR IGNORE INTO events ({_EVENT_COLUMNS}) "
                f"SELECT {_EVENT_COLUMNS} FROM incoming_events RETURNING event_id"
            ).fetchall()
        ids = frozenset(str(row[0]) for row in inserted)
        return AppendResult(received=batch.num_rows, inserted=len(ids), inserted_ids=ids)

    def read_events(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
        user_id: str | None = None,
    ) -> pa.Table:
        clauses, params = _window(start, end)
        if types is not None:
            clauses.append("list_contains(?, type)")
            params.append(list(types))
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        columns = _EVENT_COLUMNS.replace("props", "props::VARCHAR AS props")
        table = self._arrow(
            f"SELECT {columns} FROM events {_where(clauses)} ORDER BY ts, event_id", params
        )
        return table.cast(EVENT_SCHEMA)

    def interactions(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        types: Sequence[str] | None = None,
    ) -> pa.Table:
        clauses, params = _window(start, end)
        clauses.append("item_id IS NOT NULL")
        if types is not None:
            clauses.append("list_contains(?, type)")
            params.append(list(types))
        return self._arrow(
            f"SELECT {', '.join(INTERACTION_COLUMNS)} FROM events {_where(clauses)} "
            "ORDER BY ts, event_id",
            params,
        )

    def count_events(self) -> int:
        return int(self._scalar("SELECT count(*) FROM events"))

    def event_summary(self) -> EventSummary:
        n_events, n_users, n_items, first_ts, last_ts = self._query(
            "SELECT count(*), count(DISTINCT user_id), count(DISTINCT item_id), min(ts), max(ts) "
            "FROM events"
        )[0]
        by_type = dict(
            self._query("SELECT type, count(*) FROM events GROUP BY type ORDER BY 2 DESC, 1")
        )
        return EventSummary(
            n_events=int(n_events),
            n_users=int(n_users),
            n_items=int(n_items),
            first_ts=first_ts,
            last_ts=last_ts,
            by_type={str(k): int(v) for k, v in by_type.items()},
        )

    def top_items(
        self, n: int = 10, *, types: Sequence[str] | None = None
    ) -> list[tuple[str, int]]:
        clauses = ["item_id IS NOT NULL"]
        params: list[Any] = []
        if types is not None:
            clauses.append("list_contains(?, type)")
            params.append(list(types))
        params.append(n)
        rows = self._query(
            f"SELECT item_id, count(*) AS n FROM events {_where(clauses)} "
            "GROUP BY item_id ORDER BY n DESC, item_id LIMIT ?",
            params,
        )
        return [(str(item_id), int(count)) for item_id, count in rows]

    # -- catalog -------------------------------------------------------------------------

    def _upsert(self, table: pa.Table, name: str, key: str, columns: str) -> int:
        """Insert or replace rows of ``name`` by ``key``; the last row wins within a batch."""
        if table.num_rows == 0:
            return 0
        numbered = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
        with self._registered("incoming_rows", numbered), self._transaction() as connection:
            connection.execute(
                f"INSERT OR REPLACE INTO {name} ({columns}, updated_at) "
                f"SELECT {columns}, current_timestamp FROM incoming_rows "
                f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _row DESC) = 1"
            )
        return int(pc.count_distinct(table.column(key)).as_py())

    def upsert_items(self, items: Iterable[Item] | pa.Table) -> int:
        table = items if isinstance(items, pa.Table) else items_to_table(items)
        return self._upsert(
            _conform(table, ITEM_SCHEMA, "items"), "items", "item_id", _ITEM_COLUMNS
        )

    def get_item(self, item_id: str) -> Item:
        table = self._arrow(
            f"SELECT {_ITEM_COLUMNS.replace('attributes', 'attributes::VARCHAR AS attributes')} "
            "FROM items WHERE item_id = ?",
            [item_id],
        )
        if table.num_rows == 0:
            raise NotFoundError(f"no item with item_id {item_id!r}")
        row = table.to_pylist()[0]
        row["attributes"] = _json_object(row["attributes"])
        row["category"] = row["category"] or []
        return Item.model_validate(row)

    def read_items(self) -> pa.Table:
        columns = _ITEM_COLUMNS.replace("attributes", "attributes::VARCHAR AS attributes")
        return self._arrow(f"SELECT {columns} FROM items ORDER BY item_id").cast(ITEM_SCHEMA)

    def delete_item(self, item_id: str) -> bool:
        with self._transaction() as connection:
            deleted = connection.execute(
                "DELETE FROM items WHERE item_id = ? RETURNING item_id", [item_id]
            ).fetchall()
        return bool(deleted)

    def count_items(self) -> int:
        return int(self._scalar("SELECT count(*) FROM items"))

    # -- customers and orders ------------------------------------------------------------

    def upsert_users(self, users: Iterable[User] | pa.Table) -> int:
        table = users if isinstance(users, pa.Table) else users_to_table(users)
        return self._upsert(
            _conform(table, USER_SCHEMA, "users"), "users", "user_id", _USER_COLUMNS
        )

    def get_user(self, user_id: str) -> User:
        rows = self._query(
            "SELECT user_id, created_at, attributes::VARCHAR FROM users WHERE user_id = ?",
            [user_id],
        )
        if not rows:
            raise NotFoundError(f"no user with user_id {user_id!r}")
        found_id, created_at, attributes = rows[0]
        return User(user_id=found_id, created_at=created_at, attributes=_json_object(attributes))

    def read_users(self) -> pa.Table:
        return self._arrow(
            f"SELECT {_USER_COLUMNS.replace('attributes', 'attributes::VARCHAR AS attributes')} "
            "FROM users ORDER BY user_id"
        ).cast(USER_SCHEMA)

    def count_users(self) -> int:
        return int(self._scalar("SELECT count(*) FROM users"))

    def upsert_orders(self, orders: Iterable[Order] | pa.Table) -> int:
        if isinstance(orders, pa.Table):
            table = orders
        else:
            # The last version of an order in the batch wins, lines and all.
            latest = {order.order_id: order for order in orders}
            table = orders_to_table(latest.values())
        lines = _conform(table, ORDER_LINE_SCHEMA, "order lines")
        if lines.num_rows == 0:
            return 0
        _check_order_lines(lines)
        numbered = lines.append_column("_row", pa.array(range(lines.num_rows), pa.int64()))
        with self._registered("incoming_lines", numbered), self._transaction() as connection:
            connection.execute(
                "CREATE OR REPLACE TEMP TABLE incoming_orders AS "
                "SELECT order_id, arg_min(user_id, _row) AS user_id, "
                "arg_min(ts, _row) AS ts, arg_min(status, _row) AS status, "
                "arg_min(currency, _row) AS currency FROM incoming_lines GROUP BY order_id"
            )
            inconsistent = connection.execute(
                "SELECT l.order_id FROM incoming_lines l JOIN incoming_orders o USING "
                "(order_id) WHERE l.user_id <> o.user_id OR l.ts <> o.ts "
                "OR l.status <> o.status OR l.currency IS DISTINCT FROM o.currency LIMIT 1"
            ).fetchall()
            repeated = connection.execute(
                "SELECT order_id, line_no FROM incoming_lines "
                "GROUP BY order_id, line_no HAVING count(*) > 1 LIMIT 1"
            ).fetchall()
            n_orders = connection.execute("SELECT count(*) FROM incoming_orders").fetchall()
            if inconsistent:
                raise ValidationFailedError(
                    f"order {inconsistent[0][0]!r} has lines with different user_id, ts, "
                    "status or currency; an order's columns must be equal on all its lines",
                    details={"order_id": inconsistent[0][0]},
                )
            if repeated:
                raise ValidationFailedError(
                    f"order {repeated[0][0]!r} has line_no {repeated[0][1]} twice",
                    details={"order_id": repeated[0][0], "line_no": repeated[0][1]},
                )
            connection.execute(
                "DELETE FROM order_lines WHERE order_id IN (SELECT order_id FROM incoming_orders)"
            )
            connection.execute(
                "INSERT OR REPLACE INTO orders "
                "(order_id, user_id, ts, status, currency, updated_at) "
                "SELECT order_id, user_id, ts, status, currency, current_timestamp "
                "FROM incoming_orders"
            )
            connection.execute(
                "INSERT INTO order_lines (order_id, line_no, item_id, quantity, price) "
                "SELECT order_id, line_no, item_id, quantity, price FROM incoming_lines"
            )
            # On failure the rollback removes the temporary table too.
            connection.execute("DROP TABLE incoming_orders")
        return int(n_orders[0][0])

    def get_order(self, order_id: str) -> Order:
        table = self.read_order_lines(order_id=order_id)
        if table.num_rows == 0:
            raise NotFoundError(f"no order with order_id {order_id!r}")
        rows = table.to_pylist()
        first = rows[0]
        return Order(
            order_id=first["order_id"],
            user_id=first["user_id"],
            ts=first["ts"],
            status=first["status"],
            currency=first["currency"],
            lines=[
                OrderLine(item_id=r["item_id"], quantity=r["quantity"], price=r["price"])
                for r in rows
            ],
        )

    def delete_order(self, order_id: str) -> bool:
        with self._transaction() as connection:
            connection.execute("DELETE FROM order_lines WHERE order_id = ?", [order_id])
            deleted = connection.execute(
                "DELETE FROM orders WHERE order_id = ? RETURNING order_id", [order_id]
            ).fetchall()
        return bool(deleted)

    def read_order_lines(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        order_id: str | None = None,
    ) -> pa.Table:
        clauses, params = _window(start, end, column="o.ts")
        if order_id is not None:
            clauses.append("o.order_id = ?")
            params.append(order_id)
        return self._arrow(
            "SELECT o.order_id, o.user_id, o.ts, o.status, o.currency, "
            "l.line_no, l.item_id, l.quantity, l.price "
            "FROM orders o JOIN order_lines l USING (order_id) "
            f"{_where(clauses)} ORDER BY o.ts, o.order_id, l.line_no",
            params,
        ).cast(ORDER_LINE_SCHEMA)

    def count_orders(self) -> int:
        return int(self._scalar("SELECT count(*) FROM orders"))

    # -- erasure -------------------------------------------------------------------------

    def erase_user(self, user_id: str) -> ErasureReport:
        statements = {
            "events": "DELETE FROM events WHERE user_id = ?",
            "order_lines": (
                "DELETE FROM order_lines WHERE order_id IN "
                "(SELECT order_id FROM orders WHERE user_id = ?)"
            ),
            "orders": "DELETE FROM orders WHERE user_id = ?",
            "users": "DELETE FROM users WHERE user_id = ?",
            "served_recommendations": "DELETE FROM served_recommendations WHERE user_id = ?",
            "experiment_exposures": "DELETE FROM experiment_exposures WHERE user_id = ?",
        }
        deleted: dict[str, int] = {}
        with self._transaction() as connection:
            for table, statement in statements.items():
                rows = connection.execute(f"{statement} RETURNING 1", [user_id]).fetchall()
                deleted[table] = len(rows)
        logger.info("erased user %s: %s", user_id, deleted)
        return ErasureReport(user_id=user_id, deleted=deleted)

    # -- model registry ------------------------------------------------------------------

    @staticmethod
    def _model_version(row: tuple[Any, ...]) -> ModelVersion:
        name, version, created_at, uri, params, metrics, fingerprint, serving = row
        return ModelVersion(
            name=name,
            version=int(version),
            created_at=created_at,
            artifact_uri=uri,
            params=_json_object(params),
            metrics=_json_object(metrics),
            data_fingerprint=fingerprint,
            serving=bool(serving),
        )

    _MODEL_COLUMNS = (
        "name, version, created_at, artifact_uri, params::VARCHAR, metrics::VARCHAR, "
        "data_fingerprint, serving"
    )

    def register_model(
        self,
        name: str,
        *,
        artifact_uri: str,
        params: dict[str, Any],
        metrics: dict[str, Any],
        data_fingerprint: str,
    ) -> ModelVersion:
        if not name:
            raise ValidationFailedError("a model needs a name")
        with self._transaction() as connection:
            version = connection.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE name = ?", [name]
            ).fetchall()[0][0]
            connection.execute(
                "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?, false)",
                [
                    name,
                    version,
                    utc_now(),
                    artifact_uri,
                    json.dumps(params, sort_keys=True),
                    json.dumps(metrics, sort_keys=True),
                    data_fingerprint,
                ],
            )
        return self.get_model(name, int(version))

    def list_models(self, name: str | None = None) -> list[ModelVersion]:
        clause, params = ("WHERE name = ?", [name]) if name is not None else ("", [])
        rows = self._query(
            f"SELECT {self._MODEL_COLUMNS} FROM model_versions {clause} ORDER BY name, version",
            params,
        )
        return [self._model_version(row) for row in rows]

    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        if version is None:
            rows = self._query(
                f"SELECT {self._MODEL_COLUMNS} FROM model_versions WHERE name = ? "
                "ORDER BY serving DESC, version DESC LIMIT 1",
                [name],
            )
        else:
            rows = self._query(
                f"SELECT {self._MODEL_COLUMNS} FROM model_versions WHERE name = ? AND version = ?",
                [name, version],
            )
        if not rows:
            which = "any version" if version is None else f"version {version}"
            raise NotFoundError(f"no model {name!r} with {which} in the registry")
        return self._model_version(rows[0])

    def promote_model(self, name: str, version: int) -> ModelVersion:
        self.get_model(name, version)  # NotFoundError before touching anything
        with self._transaction() as connection:
            connection.execute(
                "UPDATE model_versions SET serving = (version = ?) WHERE name = ?", [version, name]
            )
        return self.get_model(name, version)

    # -- API keys and served lists -------------------------------------------------------

    _KEY_COLUMNS = "key_id, name, secret_hash, scopes, rate_limit, created_at, revoked_at"

    @staticmethod
    def _api_key(row: tuple[Any, ...]) -> ApiKeyRecord:
        key_id, name, secret_hash, scopes, rate_limit, created_at, revoked_at = row
        return ApiKeyRecord(
            key_id=key_id,
            name=name,
            secret_hash=secret_hash,
            scopes=tuple(scopes),
            rate_limit=None if rate_limit is None else float(rate_limit),
            created_at=created_at,
            revoked_at=revoked_at,
        )

    def add_api_key(self, record: ApiKeyRecord) -> None:
        with self._transaction() as connection:
            exists = connection.execute(
                "SELECT 1 FROM api_keys WHERE key_id = ?", [record.key_id]
            ).fetchall()
            if exists:
                raise ValidationFailedError(f"an API key with key_id {record.key_id!r} exists")
            connection.execute(
                f"INSERT INTO api_keys ({self._KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    record.key_id,
                    record.name,
                    record.secret_hash,
                    list(record.scopes),
                    record.rate_limit,
                    record.created_at,
                    record.revoked_at,
                ],
            )

    def get_api_key(self, key_id: str) -> ApiKeyRecord:
        rows = self._query(f"SELECT {self._KEY_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id])
        if not rows:
            raise NotFoundError(f"no API key with key_id {key_id!r}")
        return self._api_key(rows[0])

    def list_api_keys(self) -> list[ApiKeyRecord]:
        rows = self._query(f"SELECT {self._KEY_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
        return [self._api_key(row) for row in rows]

    def revoke_api_key(self, key_id: str) -> ApiKeyRecord:
        self.get_api_key(key_id)  # NotFoundError before touching anything
        with self._transaction() as connection:
            connection.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE key_id = ?",
                [utc_now(), key_id],
            )
        return self.get_api_key(key_id)

    def log_served(self, served: Sequence[ServedRecommendation]) -> int:
        if not served:
            return 0
        table = pa.table(
            {
                "rec_id": [s.rec_id for s in served],
                "user_id": [s.user_id for s in served],
                "scenario": [s.scenario for s in served],
                "model": [s.model for s in served],
                "model_version": pa.array([s.model_version for s in served], pa.int32()),
                "items": pa.array([list(s.items) for s in served], pa.list_(pa.string())),
                "ts": pa.array([s.ts for s in served], pa.timestamp("us", tz="UTC")),
                "context": [json.dumps(s.context, sort_keys=True) for s in served],
            }
        )
        with self._registered("incoming_served", table), self._transaction() as connection:
            inserted = connection.execute(
                "INSERT OR IGNORE INTO served_recommendations "
                "SELECT rec_id, user_id, scenario, model, model_version, items, ts, "
                "context::JSON FROM incoming_served RETURNING 1"
            ).fetchall()
        return len(inserted)

    def read_served(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        user_id: str | None = None,
    ) -> list[ServedRecommendation]:
        clauses, params = _window(start, end)
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        rows = self._query(
            "SELECT rec_id, user_id, scenario, model, model_version, items, ts, "
            f"context::VARCHAR FROM served_recommendations {_where(clauses)} ORDER BY ts, rec_id",
            params,
        )
        return [
            ServedRecommendation(
                rec_id=rec_id,
                user_id=user_id_,
                scenario=scenario,
                model=model,
                model_version=None if version is None else int(version),
                items=tuple(items),
                ts=ts,
                context=_json_object(context),
            )
            for rec_id, user_id_, scenario, model, version, items, ts, context in rows
        ]
