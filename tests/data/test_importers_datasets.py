"""Amazon sequences, MovieLens and CDNOW importers on small hand-made files."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shopsense.core.errors import ImportDataError
from shopsense.data.importers import ImportOptions, import_file
from shopsense.store import Store, open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store("duckdb://:memory:") as opened:
        yield opened


# -- Amazon sequences ----------------------------------------------------------------------


def test_amazon_sequences(store: Store) -> None:
    report = import_file(store, "amazon-seq", FIXTURES / "amazon" / "Beauty.txt")

    assert report.rows_read == 5
    assert report.events_inserted == 8
    assert {row.line: row.reason for row in report.rejected_rows} == {
        4: "user already has a sequence on line 2",
        5: "no items after the user id",
    }
    assert (store.count_items(), store.count_users()) == (5, 3)
    user_3 = store.read_events(user_id="3").to_pylist()
    assert [row["item_id"] for row in user_3] == ["5", "5", "1"]  # repeats are kept, in order
    assert [row["props"] for row in user_3] == [f'{{"position":{k}}}' for k in range(3)]
    assert [row["ts"] for row in user_3] == [
        datetime(2014, 1, 1, 0, k, tzinfo=UTC) for k in range(3)
    ]
    assert {row["type"] for row in user_3} == {"purchase"}
    assert user_3[0]["event_id"] == "amazon-seq:3:0"
    assert store.get_user("2").attributes == {"reviewer_id": "AREV2"}
    assert store.get_item("1").attributes == {
        "asin": "B001",
        "attribute_ids": [1, 2],
        "attribute_names": ["Acme", "Makeup"],
    }
    assert store.get_item("5").attributes == {"asin": "B005"}
    again = import_file(store, "amazon-seq", FIXTURES / "amazon" / "Beauty.txt")
    assert (again.events_inserted, again.duplicates_skipped) == (0, 8)


def test_amazon_without_maps_and_other_event_type(store: Store, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "amazon" / "Beauty.txt", tmp_path / "Beauty.txt")

    report = import_file(
        store, "amazon-seq", tmp_path / "Beauty.txt", options=ImportOptions(event_type="view")
    )

    assert report.events_inserted == 8
    assert report.notes[0].startswith("no datamaps.json beside Beauty.txt")
    assert store.count_items() == 5
    assert store.get_item("3").attributes == {}
    assert set(store.event_summary().by_type) == {"view"}


def test_amazon_explicit_datamaps_must_exist(store: Store) -> None:
    options = ImportOptions(datamaps=FIXTURES / "amazon" / "missing.json")
    with pytest.raises(ImportDataError, match=r"missing\.json does not exist"):
        import_file(store, "amazon-seq", FIXTURES / "amazon" / "Beauty.txt", options=options)
    assert store.count_items() == 0


# -- MovieLens -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["movielens", "movielens/u.data"])
def test_movielens(store: Store, path: str) -> None:
    report = import_file(store, "movielens", FIXTURES / path)

    assert report.events_inserted == 3
    assert {(row.file, row.line): row.reason for row in report.rejected_rows} == {
        ("u.item", 4): "expected 24 fields, found 25",
        ("u.user", 3): "age: not a whole number",
        ("u.data", 4): "rating: input should be a valid number, unable to parse string as a number",
        ("u.data", 5): "expected 4 fields, found 3",
        ("u.data", 6): "timestamp: not a Unix time in seconds",
    }
    ratings = store.read_events().to_pylist()
    assert ratings[0]["event_id"] == "movielens:196:242:881250949"
    assert (ratings[0]["type"], ratings[0]["value"]) == ("rating", 3.0)
    assert ratings[0]["ts"] == datetime.fromtimestamp(881250949, UTC)
    kolya = store.get_item("242")
    assert (kolya.title, kolya.category) == ("Kolya (1996)", ["Comedy"])
    assert kolya.attributes["release_date"] == "1997-01-24"
    confidential = store.get_item("302")
    assert confidential.attributes["genres"] == ["Crime", "Film-Noir", "Mystery", "Thriller"]
    cafe = store.get_item("377")  # u.item is Latin-1
    assert (cafe.title, cafe.attributes["imdb_url"]) == ("Café Society (1995)", None)
    assert store.get_item("267").attributes["release_date"] is None
    assert store.count_items() == 4
    assert store.get_user("186").attributes == {
        "age": 39,
        "gender": "F",
        "occupation": "executive",
        "zip_code": "00000",
    }
    assert store.count_users() == 2


def test_movielens_ratings_only(store: Store, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "movielens" / "u.data", tmp_path / "u.data")

    report = import_file(store, "movielens", tmp_path)

    assert report.events_inserted == 3
    assert len(report.notes) == 2
    assert store.count_items() == store.count_users() == 0


def test_movielens_needs_u_genre_with_u_item(store: Store, tmp_path: Path) -> None:
    for name in ("u.data", "u.item"):
        shutil.copy(FIXTURES / "movielens" / name, tmp_path / name)
    with pytest.raises(ImportDataError, match=r"u\.genre"):
        import_file(store, "movielens", tmp_path)


# -- CDNOW ---------------------------------------------------------------------------------


def test_cdnow_master(store: Store) -> None:
    report = import_file(store, "cdnow", FIXTURES / "cdnow" / "CDNOW_master.txt")

    assert report.rows_read == 9  # the header and the blank line are not rows
    assert {row.line: row.reason for row in report.rejected_rows} == {
        8: "date: not a date like 19970101",
        9: "n_cds: must be positive",
        10: "expected 4 fields, found 3",
    }
    assert report.events_inserted == 6
    assert (store.count_items(), store.count_users(), store.count_orders()) == (1, 4, 6)
    events = {row["event_id"]: row for row in store.read_events().to_pylist()}
    assert set(events) >= {"cdnow:2:19970112:1", "cdnow:2:19970112:2"}  # same day, twice
    second = events["cdnow:2:19970112:2"]
    assert (second["user_id"], second["item_id"], second["quantity"]) == ("2", "CD", 5.0)
    assert second["price"] == pytest.approx(15.4)
    assert second["ts"] == datetime(1997, 1, 12, tzinfo=UTC)
    assert events["cdnow:455:19970102:1"]["price"] == 0.0  # 0-dollar lines are kept
    order = store.get_order("cdnow:2:19970112:2")
    assert order.total == pytest.approx(77.0)
    assert order.currency == "USD"
    assert store.get_user("3").created_at == datetime(1997, 1, 2, tzinfo=UTC)


def test_cdnow_sample_has_the_master_ids(store: Store) -> None:
    import_file(store, "cdnow", FIXTURES / "cdnow" / "CDNOW_master.txt")
    report = import_file(store, "cdnow", FIXTURES / "cdnow" / "CDNOW_sample.txt")

    assert report.notes == ("CDNOW_sample.txt: CDNOW sample layout",)
    assert (report.events_inserted, report.duplicates_skipped) == (0, 4)
    assert store.count_events() == 6
    assert store.get_user("3").attributes == {"sample_id": "2"}


def test_cdnow_timezone(store: Store) -> None:
    import_file(
        store,
        "cdnow",
        FIXTURES / "cdnow" / "CDNOW_sample.txt",
        options=ImportOptions(timezone="America/New_York"),
    )
    assert store.read_events().column("ts").to_pylist()[0] == datetime(1997, 1, 2, 5, tzinfo=UTC)
