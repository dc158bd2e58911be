"""Generic CSV and Parquet imports: mapping, per-line reports, robustness, idempotence."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shopsense.core.errors import ConfigurationError, ImportDataError
from shopsense.core.ids import stable_id
from shopsense.data.importers import ImportOptions, import_file
from shopsense.store import Store, open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"
EVENTS = FIXTURES / "events.csv"
NAIVE = "ts: timestamp has no time zone; send ISO 8601 with an offset, e.g. "


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store("duckdb://:memory:") as opened:
        yield opened


def test_events_csv_keeps_good_rows_and_reports_each_bad_line(store: Store) -> None:
    report = import_file(store, "csv", EVENTS)

    assert report.rows_read == 11
    assert report.events_inserted == 3
    reasons = {row.line: row.reason for row in report.rejected_rows}
    assert sorted(reasons) == [4, 5, 6, 7, 8, 9, 11, 12]
    assert reasons[4].startswith(NAIVE)
    assert reasons[5].startswith("ts: input should be a valid datetime")
    assert reasons[6] == "price: input should be greater than or equal to 0"
    assert reasons[7] == "user_id: field required"
    assert reasons[8] == "broken quoting: unexpected end of data"  # does not eat lines 9-12
    assert reasons[9] == "expected 8 fields, found 7"
    assert reasons[11].startswith("type: unknown event type 'teleport'")
    assert reasons[12] == "props: not valid JSON"
    assert sum(report.rejected_by_reason.values()) == 8


def test_events_csv_fields(store: Store) -> None:
    import_file(store, "csv", EVENTS)
    events = {row["event_id"]: row for row in store.read_events().to_pylist()}

    first = events["e1"]
    assert (first["quantity"], first["price"], json.loads(first["props"])) == (
        2.0,
        9.99,
        {"coupon": "X"},
    )
    raw_line_3 = ",view,u1,i2,2024-05-01T12:01:00+02:00,,,"
    generated = events[stable_id("import", 3, raw_line_3)]
    assert generated["ts"] == datetime(2024, 5, 1, 10, 1, tzinfo=UTC)
    assert set(events) == {"e1", "e9", stable_id("import", 3, raw_line_3)}


def test_reimport_adds_nothing_even_with_generated_ids(store: Store) -> None:
    import_file(store, "csv", EVENTS)
    again = import_file(store, "csv", EVENTS)

    assert (again.events_inserted, again.duplicates_skipped) == (0, 3)
    assert store.count_events() == 3


def test_timezone_reads_naive_times(store: Store) -> None:
    report = import_file(store, "csv", EVENTS, options=ImportOptions(timezone="Europe/Paris"))

    assert report.events_inserted == 4
    stored = {row["event_id"]: row["ts"] for row in store.read_events().to_pylist()}
    assert stored["e3"] == datetime(2024, 5, 1, 10, 2, tzinfo=UTC)
    # an explicit offset wins over the option
    assert stored["e1"] == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_strict_stores_nothing(store: Store) -> None:
    with pytest.raises(ImportDataError) as raised:
        import_file(store, "csv", EVENTS, strict=True)

    assert [row["line"] for row in raised.value.details["rejected_rows"]] == [
        4,
        5,
        6,
        7,
        8,
        9,
        11,
        12,
    ]
    assert store.count_events() == 0


def test_mapping_and_default_event_type(store: Store) -> None:
    options = ImportOptions(
        mapping={"user_id": "customer", "item_id": "product", "ts": "when", "quantity": "qty"},
        event_type="add_to_cart",
    )
    report = import_file(store, "csv", FIXTURES / "events_mapped.csv", options=options)

    # two identical lines are two events: ids depend on the line number
    assert report.events_inserted == 4
    assert report.notes == (
        "columns not imported: note (map them to shopsense fields to import them)",
    )
    rows = store.read_events().to_pylist()
    assert {row["type"] for row in rows} == {"add_to_cart"}
    assert [row["quantity"] for row in rows][:2] == [1.0, 3.0]


def test_rejection_reasons_name_the_source_column(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mapped.csv"
    path.write_text("who,what,when,cost\nc1,p1,2024-06-01T08:00:00Z,-3\n")
    options = ImportOptions(
        mapping={"user_id": "who", "item_id": "what", "ts": "when", "price": "cost"},
        event_type="view",
    )
    report = import_file(store, "csv", path, options=options)

    assert report.rejected_rows[0].reason == "cost: input should be greater than or equal to 0"


def test_missing_columns_and_bad_mapping(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ImportDataError, match="has no column for type"):
        import_file(store, "csv", FIXTURES / "events_mapped.csv")
    with pytest.raises(ImportDataError, match="has no column 'nope'"):
        import_file(
            store,
            "csv",
            EVENTS,
            options=ImportOptions(mapping={"user_id": "nope"}),
        )
    with pytest.raises(ConfigurationError, match="cannot map colour"):
        import_file(store, "csv", EVENTS, options=ImportOptions(mapping={"colour": "type"}))
    duplicated = tmp_path / "dup.csv"
    duplicated.write_text("user_id,user_id,type,ts\n")
    with pytest.raises(ImportDataError, match="more than one column named user_id"):
        import_file(store, "csv", duplicated)


def test_items_csv(store: Store) -> None:
    report = import_file(store, "csv", FIXTURES / "items.csv", options=ImportOptions(kind="items"))

    assert {row.line: row.reason for row in report.rejected_rows} == {
        4: "price: input should be greater than or equal to 0",
        5: "currency: string should match pattern '^[A-Z]{3}$'",
    }
    assert store.count_items() == 2
    blue = store.get_item("sku-1")
    assert (blue.title, blue.price, blue.category) == (
        "Blue mug v2",
        10.0,
        ["Home", "Kitchen", "Mugs"],
    )
    red = store.get_item("sku-2")
    assert (red.category, red.in_stock) == (["Home", "Kitchen"], False)


def test_users_csv(store: Store) -> None:
    options = ImportOptions(kind="users", timezone="UTC")
    report = import_file(store, "csv", FIXTURES / "users.csv", options=options)

    assert report.users_written == 2
    assert [row.line for row in report.rejected_rows] == [4]
    assert store.get_user("u2").created_at == datetime(2024, 2, 1, tzinfo=UTC)
    assert report.notes[0].startswith("columns not imported: country")


def test_delimiter_and_encoding(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(
        "user_id;item_id;type;ts;query\nu1;;search;2024-01-01T00:00:00Z;café\n".encode("latin-1")
    )
    report = import_file(
        store, "csv", path, options=ImportOptions(delimiter=";", encoding="latin-1")
    )

    assert report.events_inserted == 1
    assert store.read_events().column("query").to_pylist() == ["café"]


def test_undecodable_line_is_rejected_alone(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"user_id,type,ts,query\n"
        b"u1,search,2024-01-01T00:00:00Z,caf\xe9\n"
        b"u1,search,2024-01-01T00:01:00Z,tea\n"
    )
    report = import_file(store, "csv", path)

    assert report.events_inserted == 1
    assert report.rejected_rows[0].line == 2
    assert report.rejected_rows[0].reason.startswith("not valid utf-8 text")


def _events_parquet(path: Path) -> None:
    paris = timezone(timedelta(hours=2))
    table = pa.table(
        {
            "user_id": pa.array([17850, 13047, 13047, 1], pa.int64()),
            "item_id": ["i1", "i2", None, "i3"],
            "type": ["view", "purchase", "purchase", "view"],
            "ts": pa.array(
                [
                    datetime(2024, 5, 1, 12, tzinfo=paris),
                    datetime(2024, 5, 1, 13, tzinfo=paris),
                    datetime(2024, 5, 1, 14, tzinfo=paris),
                    datetime(2024, 5, 1, 15, tzinfo=paris),
                ],
                pa.timestamp("us", tz="+02:00"),
            ),
            "price": [None, 3.5, 2.0, -1.0],
        }
    )
    pq.write_table(table, path)


def test_parquet_events(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "events.parquet"
    _events_parquet(path)

    report = import_file(store, "parquet", path)

    assert report.rows_read == 4
    assert report.events_inserted == 2
    assert {row.line: row.reason for row in report.rejected_rows} == {
        3: "item_id is required for 'purchase' events",
        4: "price: input should be greater than or equal to 0",
    }
    rows = store.read_events().to_pylist()
    assert [row["user_id"] for row in rows] == ["17850", "13047"]
    assert rows[0]["ts"] == datetime(2024, 5, 1, 10, tzinfo=UTC)
    again = import_file(store, "parquet", path)
    assert (again.events_inserted, again.duplicates_skipped) == (0, 2)


def test_parquet_naive_times_need_a_timezone(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "naive.parquet"
    pq.write_table(
        pa.table(
            {"user_id": ["u1"], "type": ["view"], "item_id": ["i1"], "ts": [datetime(2024, 1, 1)]}
        ),
        path,
    )

    assert import_file(store, "parquet", path).rejected == 1
    report = import_file(store, "parquet", path, options=ImportOptions(timezone="Asia/Tokyo"))
    assert report.events_inserted == 1
    assert store.read_events().column("ts").to_pylist() == [datetime(2023, 12, 31, 15, tzinfo=UTC)]


def test_not_a_parquet_file(store: Store) -> None:
    with pytest.raises(ImportDataError, match=r"cannot read .* as Parquet"):
        import_file(store, "parquet", EVENTS)
