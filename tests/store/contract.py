"""The contract every store backend must pass.

A backend's test module subclasses :class:`StoreContract` and provides a ``store``
fixture (an empty, migrated store) and, for durability, ``reopen`` (a callable that
closes and opens the same store again).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from shopsense.core.errors import NotFoundError, StoreError, ValidationFailedError
from shopsense.data.schemas import Event, Item, Order, OrderLine, OrderStatus, User
from shopsense.store.base import (
    EVENT_SCHEMA,
    INTERACTION_COLUMNS,
    ITEM_SCHEMA,
    ORDER_LINE_SCHEMA,
    USER_SCHEMA,
    ApiKeyRecord,
    ExperimentRecord,
    Exposure,
    ServedRecommendation,
    Store,
    orders_to_table,
)
from shopsense.store.migrations import LATEST_VERSION

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def make_events(n: int, *, prefix: str = "e", users: int = 3, items: int = 5) -> list[Event]:
    """``n`` view events, one minute apart, cycling through users and items."""
    return [
        Event(
            event_id=f"{prefix}{i}",
            type="view",
            user_id=f"u{i % users}",
            item_id=f"i{i % items}",
            ts=T0 + timedelta(minutes=i),
        )
        for i in range(n)
    ]


def order(order_id: str, user_id: str, *items: str, ts: datetime = T0) -> Order:
    return Order(
        order_id=order_id,
        user_id=user_id,
        ts=ts,
        lines=[OrderLine(item_id=item, quantity=1, price=2.5) for item in items],
    )


def served(rec_id: str, user_id: str | None, *, minutes: int = 0) -> ServedRecommendation:
    return ServedRecommendation(
        rec_id=rec_id,
        user_id=user_id,
        scenario="home",
        model="ltr",
        model_version=3,
        items=("a", "b"),
        ts=T0 + timedelta(minutes=minutes),
        context={"n": 2},
    )


ReopenStore = Callable[[], Store]


class StoreContract:
    """Behaviour every :class:`~shopsense.store.base.Store` backend must show."""

    # -- schema and lifecycle ------------------------------------------------------------

    def test_is_a_store_and_fully_migrated(self, store: Store) -> None:
        assert isinstance(store, Store)
        assert store.schema_version() == LATEST_VERSION

    def test_empty_store_counts_zero(self, store: Store) -> None:
        assert store.count_events() == 0
        assert store.count_items() == 0
        assert store.count_users() == 0
        assert store.count_orders() == 0
        summary = store.event_summary()
        assert (summary.n_events, summary.first_ts, summary.by_type) == (0, None, {})

    # -- events --------------------------------------------------------------------------

    def test_append_is_idempotent_by_event_id(self, store: Store) -> None:
        events = make_events(20)
        first = store.append_events(events)
        again = store.append_events(events)
        assert (first.received, first.inserted, first.duplicates) == (20, 20, 0)
        assert (again.received, again.inserted, again.duplicates) == (20, 0, 20)
        assert store.count_events() == 20

    def test_duplicates_within_a_batch_are_stored_once(self, store: Store) -> None:
        events = make_events(5)
        result = store.append_events([*events, *events[:2]])
        assert result.inserted == 5
        assert store.count_events() == 5

    def test_overlapping_batches_add_only_new_events(self, store: Store) -> None:
        store.append_events(make_events(10))
        result = store.append_events(make_events(15))
        assert result.inserted == 5
        assert result.inserted_ids == {f"e{i}" for i in range(10, 15)}
        assert store.count_events() == 15

    def test_events_round_trip_every_field(self, store: Store) -> None:
        event = Event(
            event_id="full",
            type="purchase",
            user_id="u1",
            item_id="i1",
            ts=datetime(2024, 3, 1, 14, 0, tzinfo=UTC),
            session_id="s1",
            quantity=2,
            price=9.99,
            order_id="o1",
            rec_id="r1",
            props={"coupon": "SPRING", "nested": {"a": [1, 2]}},
        )
        store.append_events([event])
        table = store.read_events()
        assert table.schema.equals(EVENT_SCHEMA, check_metadata=False)
        row = table.to_pylist()[0]
        assert json.loads(row.pop("props")) == event.props
        expected = event.model_dump()
        expected.pop("props")
        assert row == expected

    def test_arrow_tables_are_accepted(self, store: Store) -> None:
        table = pa.Table.from_pylist(
            [
                {
                    "event_id": f"t{i}",
                    "type": "view",
                    "user_id": "u",
                    "item_id": "i",
                    "ts": T0 + timedelta(seconds=i),
                }
                | dict.fromkeys(EVENT_SCHEMA.names[5:])
                for i in range(4)
            ],
            schema=EVENT_SCHEMA,
        )
        assert store.append_events(table).inserted == 4

    def test_a_table_with_missing_columns_is_rejected_whole(self, store: Store) -> None:
        table = pa.table({"event_id": ["x"], "type": ["view"]})
        with pytest.raises(ValidationFailedError, match="missing columns"):
            store.append_events(table)
        assert store.count_events() == 0

    def test_a_table_with_null_required_values_is_rejected_whole(self, store: Store) -> None:
        rows = [event.model_dump() for event in make_events(3)]
        for row in rows:
            row["props"] = None
        rows[1]["user_id"] = None
        schema = pa.schema([field.with_nullable(True) for field in EVENT_SCHEMA])
        with pytest.raises(ValidationFailedError, match="user_id"):
            store.append_events(pa.Table.from_pylist(rows, schema=schema))
        assert store.count_events() == 0

    def test_a_table_with_naive_timestamps_is_rejected_whole(self, store: Store) -> None:
        rows = [event.model_dump() | {"props": None} for event in make_events(2)]
        for row in rows:
            row["ts"] = row["ts"].replace(tzinfo=None)
        schema = pa.schema(
            [f.with_type(pa.timestamp("us")) if f.name == "ts" else f for f in EVENT_SCHEMA]
        )
        with pytest.raises(ValidationFailedError, match="without a time zone"):
            store.append_events(pa.Table.from_pylist(rows, schema=schema))
        assert store.count_events() == 0

    def test_a_table_with_malformed_json_is_rejected_whole(self, store: Store) -> None:
        rows = [event.model_dump() | {"props": None} for event in make_events(3)]
        rows[2]["props"] = "{not json"
        with pytest.raises(ValidationFailedError, match="rejected whole"):
            store.append_events(pa.Table.from_pylist(rows, schema=EVENT_SCHEMA))
        assert store.count_events() == 0
        assert store.append_events(make_events(3)).inserted == 3  # the store still works

    def test_read_events_filters_window_types_and_user(self, store: Store) -> None:
        store.append_events(make_events(10))
        store.append_events(
            [Event(event_id="p", type="purchase", user_id="u1", item_id="i1", ts=T0)]
        )
        window = store.read_events(start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5))
        assert window.column("event_id").to_pylist() == ["e2", "e3", "e4"]
        purchases = store.read_events(types=["purchase"])
        assert purchases.column("event_id").to_pylist() == ["p"]
        assert set(store.read_events(user_id="u1").column("user_id").to_pylist()) == {"u1"}

    def test_interactions_are_item_events_in_time_order(self, store: Store) -> None:
        store.append_events(make_events(6))
        store.append_events([Event(event_id="s", type="search", user_id="u1", query="tea", ts=T0)])
        table = store.interactions()
        assert tuple(table.column_names) == INTERACTION_COLUMNS
        assert table.num_rows == 6
        timestamps = table.column("ts").to_pylist()
        assert timestamps == sorted(timestamps)
        assert store.interactions(types=["purchase"]).num_rows == 0

    def test_summary_and_top_items(self, store: Store) -> None:
        store.append_events(make_events(12))
        summary = store.event_summary()
        assert summary.n_events == 12
        assert (summary.n_users, summary.n_items) == (3, 5)
        assert summary.first_ts == T0
        assert summary.last_ts == T0 + timedelta(minutes=11)
        assert summary.by_type == {"view": 12}
        assert store.top_items(2) == [("i0", 3), ("i1", 3)]

    # -- catalog -------------------------------------------------------------------------

    def test_items_upsert_replaces_by_id(self, store: Store) -> None:
        store.upsert_items([Item(item_id="a", title="Old", category="Home > Mugs", price=3)])
        written = store.upsert_items(
            [Item(item_id="a", title="New", attributes={"colour": "red"}), Item(item_id="b")]
        )
        assert written == 2
        assert store.count_items() == 2
        item = store.get_item("a")
        assert item.title == "New"
        assert item.category == []
        assert item.attributes == {"colour": "red"}

    def test_last_version_in_a_batch_wins(self, store: Store) -> None:
        store.upsert_items([Item(item_id="a", title="1"), Item(item_id="a", title="2")])
        assert store.get_item("a").title == "2"
        assert store.count_items() == 1

    def test_item_round_trip(self, store: Store) -> None:
        item = Item(
            item_id="mug-1",
            title="Blue mug",
            description="A mug",
            category=["Home", "Kitchen", "Mugs"],
            brand="Acme",
            price=4.5,
            currency="GBP",
            in_stock=False,
            active=True,
            created_at=T0,
            attributes={"size": "L"},
        )
        store.upsert_items([item])
        assert store.get_item("mug-1") == item
        assert store.read_items().schema.equals(ITEM_SCHEMA, check_metadata=False)

    def test_missing_item_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError, match="nope"):
            store.get_item("nope")

    def test_delete_item(self, store: Store) -> None:
        store.upsert_items([Item(item_id="a")])
        assert store.delete_item("a") is True
        assert store.delete_item("a") is False
        assert store.count_items() == 0

    # -- customers and orders ------------------------------------------------------------

    def test_users_upsert_and_read(self, store: Store) -> None:
        store.upsert_users([User(user_id="u1", created_at=T0, attributes={"country": "UK"})])
        store.upsert_users([User(user_id="u1", attributes={"country": "FR"}), User(user_id="u2")])
        assert store.count_users() == 2
        assert store.get_user("u1").attributes == {"country": "FR"}
        assert store.read_users().schema.equals(USER_SCHEMA, check_metadata=False)
        with pytest.raises(NotFoundError):
            store.get_user("u3")

    def test_orders_replace_lines_as_a_whole(self, store: Store) -> None:
        store.upsert_orders([order("o1", "u1", "a", "b", "c")])
        store.upsert_orders([order("o1", "u1", "a")])
        found = store.get_order("o1")
        assert [line.item_id for line in found.lines] == ["a"]
        assert found.status is OrderStatus.COMPLETED
        assert found.total == 2.5
        assert store.count_orders() == 1
        lines = store.read_order_lines()
        assert lines.schema.equals(ORDER_LINE_SCHEMA, check_metadata=False)
        assert lines.num_rows == 1

    def test_the_last_version_of_an_order_in_a_batch_wins(self, store: Store) -> None:
        written = store.upsert_orders(
            [order("o1", "u1", "a", "b"), order("o1", "u1", "c"), order("o2", "u2", "d")]
        )
        assert written == 2
        assert [line.item_id for line in store.get_order("o1").lines] == ["c"]
        assert store.read_order_lines().num_rows == 2

    def test_orders_as_a_table_equal_orders_as_records(self, store: Store) -> None:
        records = [order("o1", "u1", "a", "b"), order("o2", "u2", "c")]
        assert store.upsert_orders(orders_to_table(records)) == 2
        assert [store.get_order("o1"), store.get_order("o2")] == records
        replaced = orders_to_table([order("o1", "u1", "z")])
        assert store.upsert_orders(replaced) == 1
        assert [line.item_id for line in store.get_order("o1").lines] == ["z"]

    def test_interleaved_order_lines_in_a_table_are_all_kept(self, store: Store) -> None:
        table = orders_to_table([order("o1", "u1", "a", "b"), order("o2", "u2", "c", "d")])
        interleaved = table.take([0, 2, 1, 3])
        assert store.upsert_orders(interleaved) == 2
        assert [line.item_id for line in store.get_order("o1").lines] == ["a", "b"]
        assert [line.item_id for line in store.get_order("o2").lines] == ["c", "d"]

    def test_a_table_repeating_a_line_of_an_order_is_rejected_whole(self, store: Store) -> None:
        table = orders_to_table([order("o1", "u1", "a", "b")])
        with pytest.raises(ValidationFailedError, match="line_no 1 twice"):
            store.upsert_orders(pa.concat_tables([table, table.slice(0, 1)]))
        assert store.count_orders() == 0

    @pytest.mark.parametrize(
        ("column", "value", "message"),
        [
            ("quantity", 0.0, "quantity <= 0"),
            ("price", -1.0, "negative price"),
            ("status", "lost", "unknown status"),
            ("user_id", "someone-else", "different user_id"),
        ],
    )
    def test_bad_order_tables_are_rejected_whole(
        self, store: Store, column: str, value: object, message: str
    ) -> None:
        rows = orders_to_table([order("o1", "u1", "a", "b")]).to_pylist()
        rows[1][column] = value
        with pytest.raises(ValidationFailedError, match=message):
            store.upsert_orders(pa.Table.from_pylist(rows, schema=ORDER_LINE_SCHEMA))
        assert store.count_orders() == 0

    def test_order_lines_window(self, store: Store) -> None:
        store.upsert_orders(
            [
                order("o1", "u1", "a", ts=T0),
                order("o2", "u1", "b", "c", ts=T0 + timedelta(days=1)),
            ]
        )
        later = store.read_order_lines(start=T0 + timedelta(hours=1))
        assert later.column("item_id").to_pylist() == ["b", "c"]
        with pytest.raises(NotFoundError):
            store.get_order("o3")

    def test_delete_order_removes_it_and_its_lines(self, store: Store) -> None:
        store.upsert_orders([order("o1", "u1", "a", "b"), order("o2", "u2", "a")])
        assert store.delete_order("o1") is True
        assert store.delete_order("o1") is False
        with pytest.raises(NotFoundError):
            store.get_order("o1")
        assert store.read_order_lines().column("order_id").to_pylist() == ["o2"]

    # -- erasure -------------------------------------------------------------------------

    def test_erase_user_removes_every_row_about_them(self, store: Store) -> None:
        store.append_events(make_events(9))
        store.upsert_users([User(user_id="u1"), User(user_id="u2")])
        store.upsert_orders([order("o1", "u1", "a", "b"), order("o2", "u2", "a")])
        store.log_served([served("r1", "u1"), served("r2", "u2")])
        store.log_exposures([Exposure("x1", "u1", "A", T0), Exposure("x1", "u2", "B", T0)])
        report = store.erase_user("u1")
        assert report.deleted == {
            "events": 3,
            "order_lines": 2,
            "orders": 1,
            "users": 1,
            "served_recommendations": 1,
            "experiment_exposures": 1,
        }
        assert store.exposure_counts("x1") == {"B": 1}
        assert [s.rec_id for s in store.read_served()] == ["r2"]
        assert store.read_events(user_id="u1").num_rows == 0
        assert "u1" not in store.read_order_lines().column("user_id").to_pylist()
        assert store.count_events() == 6
        assert store.count_orders() == 1
        with pytest.raises(NotFoundError):
            store.get_user("u1")
        assert store.get_user("u2").user_id == "u2"

    def test_erasing_an_unknown_user_deletes_nothing(self, store: Store) -> None:
        store.append_events(make_events(3))
        assert store.erase_user("ghost").total == 0
        assert store.count_events() == 3

    # -- API keys and served lists -------------------------------------------------------

    def test_api_keys_round_trip_and_revoke(self, store: Store) -> None:
        record = ApiKeyRecord(
            key_id="k1",
            name="web shop",
            secret_hash="ab" * 32,
            scopes=("ingest", "read"),
            rate_limit=50.0,
            created_at=T0,
        )
        store.add_api_key(record)
        assert store.get_api_key("k1") == record
        with pytest.raises(ValidationFailedError, match="exists"):
            store.add_api_key(record)
        revoked = store.revoke_api_key("k1")
        assert not revoked.active and revoked.revoked_at is not None
        assert store.revoke_api_key("k1").revoked_at == revoked.revoked_at
        assert [key.key_id for key in store.list_api_keys()] == ["k1"]
        with pytest.raises(NotFoundError):
            store.get_api_key("nope")
        with pytest.raises(NotFoundError):
            store.revoke_api_key("nope")

    def test_served_lists_are_logged_once_and_read_by_window(self, store: Store) -> None:
        assert store.log_served([served("r1", "u1"), served("r2", None, minutes=5)]) == 2
        assert store.log_served([served("r1", "u1")]) == 0
        everything = store.read_served()
        assert [s.rec_id for s in everything] == ["r1", "r2"]
        assert everything[0] == served("r1", "u1")
        assert [s.rec_id for s in store.read_served(start=T0 + timedelta(minutes=1))] == ["r2"]
        assert [s.rec_id for s in store.read_served(user_id="u1")] == ["r1"]

    # -- experiments ---------------------------------------------------------------------

    def test_experiments_round_trip_and_are_replaced_by_id(self, store: Store) -> None:
        draft = ExperimentRecord(
            experiment_id="x1",
            name="home feed",
            definition={"scenario": "home", "variants": [{"name": "A", "weight": 1.0}]},
            status="draft",
            created_at=T0,
        )
        store.save_experiment(draft)
        assert store.get_experiment("x1") == draft
        running = replace(draft, status="running", started_at=T0)
        store.save_experiment(running)
        assert store.list_experiments() == [running]
        with pytest.raises(NotFoundError, match="experiments list"):
            store.get_experiment("nope")

    def test_the_first_exposure_of_a_user_is_kept(self, store: Store) -> None:
        later = T0 + timedelta(hours=1)
        assert (
            store.log_exposures(
                [
                    Exposure("x1", "u1", "B", later),
                    Exposure("x1", "u1", "A", T0),  # earlier in the same batch: wins
                    Exposure("x1", "u2", "B", T0),
                    Exposure("x2", "u1", "B", T0),
                ]
            )
            == 3
        )
        assert store.log_exposures([Exposure("x1", "u2", "A", later)]) == 0
        assert store.exposure_counts("x1") == {"A": 1, "B": 1}
        assert store.exposure_counts("x9") == {}
        assert store.exposure_counts("x1", before=later) == {"A": 1, "B": 1}
        assert store.exposure_counts("x1", before=T0) == {}

    # -- analytics -----------------------------------------------------------------------

    def test_an_analytics_session_reads_one_snapshot(self, store: Store) -> None:
        store.append_events(make_events(3))
        with store.analytics_session(timezone="Europe/London") as session:
            assert session.timezone == "Europe/London"
            first = session.query("SELECT count(*) AS n FROM events").to_pylist()[0]["n"]
            store.append_events(make_events(2, prefix="late"))  # committed meanwhile
            again = session.query("SELECT count(*) AS n FROM events").to_pylist()[0]["n"]
        assert first == again == 3
        assert store.analytics_query("SELECT count(*) AS n FROM events").to_pylist() == [{"n": 5}]
        zone = store.analytics_query(
            "SELECT current_setting('TimeZone') AS zone", timezone="Asia/Shanghai"
        )
        assert zone.to_pylist() == [{"zone": "Asia/Shanghai"}]
        with pytest.raises(ValidationFailedError, match="unknown time zone"):
            store.analytics_query("SELECT 1", timezone="Mars/Base")
        with pytest.raises(StoreError, match="analytics query"):
            store.analytics_query("SELECT * FROM no_such_table")

    # -- model registry ------------------------------------------------------------------

    def test_model_versions_count_up_and_promote_atomically(self, store: Store) -> None:
        first = store.register_model(
            "popular",
            artifact_uri="a/1",
            params={"k": 1},
            metrics={"ndcg": 0.1},
            data_fingerprint="f1",
        )
        second = store.register_model(
            "popular",
            artifact_uri="a/2",
            params={"k": 2},
            metrics={"ndcg": 0.2},
            data_fingerprint="f2",
        )
        assert (first.version, second.version) == (1, 2)
        assert not first.serving
        assert store.get_model("popular").version == 2  # newest when none serves
        store.promote_model("popular", 1)
        assert store.get_model("popular").version == 1
        store.promote_model("popular", 2)
        serving = [v.version for v in store.list_models("popular") if v.serving]
        assert serving == [2]
        assert store.get_model("popular", 1).params == {"k": 1}
        assert store.get_model("popular", 2).metrics == {"ndcg": 0.2}

    def test_unknown_model_is_not_found(self, store: Store) -> None:
        with pytest.raises(NotFoundError):
            store.get_model("nope")
        with pytest.raises(NotFoundError):
            store.promote_model("nope", 1)

    # -- durability ----------------------------------------------------------------------

    def test_committed_data_survives_reopening(self, reopen: ReopenStore) -> None:
        store = reopen()
        store.append_events(make_events(7))
        store.upsert_items([Item(item_id="a")])
        store.register_model("m", artifact_uri="x", params={}, metrics={}, data_fingerprint="f")
        reopened = reopen()
        assert reopened.count_events() == 7
        assert reopened.count_items() == 1
        assert reopened.list_models()[0].name == "m"
        assert reopened.schema_version() == LATEST_VERSION
