"""The Online Retail importer on a small hand-made file whose every line is accounted for
(see the comments in ``EXPECTED_REJECTS``)."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopsense.core.errors import ImportDataError
from shopsense.data.importers import ImportOptions, import_file
from shopsense.store import Store, open_store

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "importers" / "online_retail_small.csv"

EXPECTED_REJECTS = {
    10: "Quantity: must be positive on a sales invoice",
    11: "UnitPrice: input should be greater than or equal to 0",
    12: "InvoiceDate: not a date and time like 2010-12-01 08:26:00",
    13: "StockCode: string should have at least 1 character",
    14: "broken quoting: unexpected end of data",
    15: "expected 8 fields, found 7",
    16: "Quantity: must be negative on a cancellation (C) invoice",
}
ACCEPTED_LINES = [2, 3, 4, 5, 6, 7, 8, 9, 17, 18, 19, 20]
GUEST_LINES = [8, 19]


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store("duckdb://:memory:") as opened:
        yield opened


def test_counts_and_report(store: Store) -> None:
    report = import_file(store, "online-retail", FIXTURE)

    assert report.rows_read == 19
    assert report.events_inserted == len(ACCEPTED_LINES) == 12
    assert report.duplicates_skipped == 0
    assert report.rejected == len(EXPECTED_REJECTS)
    assert {row.line: row.reason for row in report.rejected_rows} == EXPECTED_REJECTS
    assert all(row.file == FIXTURE.name for row in report.rejected_rows)
    assert report.rejected_rows[0].excerpt.startswith("536382,22633,,-5,")
    assert (report.items_written, report.users_written, report.orders_written) == (4, 3, 9)
    assert store.event_summary().by_type == {"purchase": 11, "return": 1}
    assert (store.count_items(), store.count_users(), store.count_orders()) == (4, 3, 9)


def test_event_fields_and_ids(store: Store) -> None:
    import_file(store, "online-retail", FIXTURE)
    events = {row["event_id"]: row for row in store.read_events().to_pylist()}

    assert sorted(int(event_id.rsplit(":", 1)[1]) for event_id in events) == ACCEPTED_LINES
    first = events["online-retail:536365:2"]
    assert first["type"] == "purchase"
    assert (first["user_id"], first["item_id"], first["order_id"]) == ("17850", "85123A", "536365")
    assert (first["quantity"], first["price"]) == (6.0, 2.55)
    assert first["ts"] == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    # the file's exact duplicate lines are two distinct invoice lines
    assert (
        events["online-retail:536365:3"]["item_id"] == events["online-retail:536365:4"]["item_id"]
    )
    # a spreadsheet's float customer id is an integer string
    assert events["online-retail:536366:5"]["user_id"] == "17850"
    cancelled = events["online-retail:C536379:7"]
    assert (cancelled["type"], cancelled["quantity"], cancelled["order_id"]) == (
        "return",
        1.0,
        "C536379",
    )
    guest = events["online-retail:536380:8"]
    assert (guest["user_id"], guest["item_id"], guest["props"]) == (
        "guest-536380",
        "85123A",  # stock codes are upper-cased
        '{"guest":true}',
    )


def test_catalog_rules(store: Store) -> None:
    import_file(store, "online-retail", FIXTURE)

    heart = store.get_item("85123A")
    assert heart.title == "WHITE HANGING HEART T-LIGHT HOLDER"  # 3 lines against 1
    assert heart.price == 2.95  # the latest price above 0
    assert heart.currency == "GBP"
    assert heart.created_at == datetime(2010, 12, 1, 8, 26, tzinfo=UTC)
    warmer = store.get_item("22633")
    assert warmer.title == "HAND WARMER UNION JACK"  # 2 (one a guest's) against 1
    assert warmer.price == 2.10  # a guest line's price counts; the 0 price does not
    assert store.get_item("71053").price == 3.75
    assert store.get_item("84879").title == "BIRD ORNAMENT ASSORTED"  # a tie: the latest


def test_users_and_orders(store: Store) -> None:
    import_file(store, "online-retail", FIXTURE)

    assert store.get_user("13047").attributes == {"country": "Germany"}  # the latest invoice's
    assert store.get_user("13047").created_at == datetime(2010, 12, 1, 8, 34, tzinfo=UTC)
    sales = store.get_order("536365")
    assert sales.status == "completed"
    assert [(line.item_id, line.quantity) for line in sales.lines] == [
        ("85123A", 6),
        ("71053", 6),
        ("71053", 6),
    ]
    assert store.get_order("C536379").status == "cancelled"
    assert store.get_order("C536379").lines[0].quantity == 1
    assert store.get_order("536389").user_id == "guest-536389"


def test_reimport_adds_nothing(store: Store) -> None:
    import_file(store, "online-retail", FIXTURE)
    again = import_file(store, "online-retail", FIXTURE)

    assert (again.events_inserted, again.duplicates_skipped) == (0, 12)
    assert store.count_events() == 12
    assert (store.count_items(), store.count_users(), store.count_orders()) == (4, 3, 9)


def test_gzip_gives_the_same_result(store: Store, tmp_path: Path) -> None:
    packed = tmp_path / "online_retail.csv.gz"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))

    report = import_file(store, "online-retail", packed)

    assert (report.events_inserted, report.rejected) == (12, 7)
    assert store.read_events().column("event_id").to_pylist()[0] == "online-retail:536365:2"


def test_anonymous_skip(store: Store) -> None:
    report = import_file(store, "online-retail", FIXTURE, options=ImportOptions(anonymous="skip"))

    assert report.events_inserted == 10
    assert report.skipped_by_reason == {"no CustomerID (anonymous='skip')": len(GUEST_LINES)}
    assert report.rejected == 7  # a bad guest line is rejected, not skipped
    assert store.count_orders() == 7
    assert store.count_items() == 4  # guests' lines still describe the catalog
    assert not [u for u in store.read_events().column("user_id").to_pylist() if "guest" in str(u)]


def test_timezone_option(store: Store) -> None:
    import_file(store, "online-retail", FIXTURE, options=ImportOptions(timezone="America/New_York"))

    first = store.read_events().to_pylist()[0]
    assert first["ts"] == datetime(2010, 12, 1, 13, 26, tzinfo=UTC)


def test_strict_stores_nothing(store: Store) -> None:
    with pytest.raises(ImportDataError) as raised:
        import_file(store, "online-retail", FIXTURE, strict=True)

    details = raised.value.details
    assert details["rejected"] == 7
    assert [row["line"] for row in details["rejected_rows"]] == sorted(EXPECTED_REJECTS)
    assert "line 10: Quantity: must be positive" in raised.value.message
    assert store.count_events() == store.count_items() == store.count_users() == 0
    assert store.count_orders() == 0


def test_strict_imports_a_clean_file(store: Store, tmp_path: Path) -> None:
    lines = FIXTURE.read_text().splitlines()
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(lines[0:1] + [lines[n - 1] for n in ACCEPTED_LINES]) + "\n")

    report = import_file(store, "online-retail", clean, strict=True)

    assert (report.events_inserted, report.rejected) == (12, 0)


def test_not_an_online_retail_file(store: Store, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b,c\n1,2,3\n")

    with pytest.raises(ImportDataError, match="not an Online Retail file"):
        import_file(store, "online-retail", other)
