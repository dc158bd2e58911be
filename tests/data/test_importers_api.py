"""The public API of ``shopsense.data.importers``: registry, errors, options, report, progress."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import shopsense.data.importers as importers
from shopsense.core.errors import ConfigurationError, ImportDataError
from shopsense.data.importers import (
    IMPORTERS,
    MAX_REJECTED_ROWS,
    ImportOptions,
    import_file,
)
from shopsense.data.schemas import ValidationOptions
from shopsense.store import Store, open_store

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "importers"


@pytest.fixture
def store() -> Iterator[Store]:
    with open_store("duckdb://:memory:") as opened:
        yield opened


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetical (ruff's RUF022 order)."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_exported_members_are_sorted_and_exist() -> None:
    assert importers.__all__ == sorted(importers.__all__, key=_isort_key)
    for name in importers.__all__:
        assert hasattr(importers, name)


def test_registry_names_match_importers() -> None:
    assert sorted(IMPORTERS) == [
        "amazon-seq",
        "cdnow",
        "csv",
        "movielens",
        "online-retail",
        "parquet",
    ]
    for name, importer in IMPORTERS.items():
        assert importer.name == name
        assert importer.summary


def test_unknown_format_lists_the_formats(store: Store) -> None:
    with pytest.raises(ConfigurationError) as raised:
        import_file(store, "excel", FIXTURES / "events.csv")
    assert "known formats: amazon-seq, cdnow, csv, movielens, online-retail, parquet" in str(
        raised.value
    )


@pytest.mark.parametrize("fmt", sorted(IMPORTERS))
def test_missing_file_says_what_to_do(store: Store, tmp_path: Path, fmt: str) -> None:
    with pytest.raises(ImportDataError, match="does not exist; check the path"):
        import_file(store, fmt, tmp_path / "nothing-here.txt")


def test_directory_instead_of_file(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ImportDataError, match="is not a file"):
        import_file(store, "csv", tmp_path)


def test_empty_file(store: Store, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ImportDataError, match="is empty"):
        import_file(store, "csv", empty)


def test_damaged_gzip(store: Store, tmp_path: Path) -> None:
    damaged = tmp_path / "damaged.csv.gz"
    damaged.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(ImportDataError, match="is damaged"):
        import_file(store, "online-retail", damaged)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"anonymous": "drop"}, "anonymous must be"),
        ({"kind": "orders"}, "kind must be"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"encoding": "klingon"}, "unknown text encoding"),
        ({"encoding": "utf-16"}, "not ASCII-compatible"),
        ({"encoding": "rot13"}, "not ASCII-compatible"),
        ({"event_type": "teleport"}, "unknown event type 'teleport'"),
    ],
)
def test_bad_options(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ImportOptions(**options)  # type: ignore[arg-type]


def test_shop_event_types_come_from_validation_options(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "custom.csv"
    path.write_text("user_id,item_id,ts\nu1,i1,2024-01-01T00:00:00Z\n")
    validation = ValidationOptions(event_types=frozenset({"view", "wishlist"}))
    options = ImportOptions(event_type="wishlist", validation=validation)

    assert import_file(store, "csv", path, options=options).events_inserted == 1


def test_batch_size(store: Store) -> None:
    with pytest.raises(ConfigurationError, match="batch_size"):
        import_file(store, "csv", FIXTURES / "events.csv", batch_size=0)
    report = import_file(store, "online-retail", FIXTURES / "online_retail_small.csv", batch_size=1)
    assert (report.events_inserted, report.orders_written) == (12, 9)


def test_report_to_dict_is_json(store: Store) -> None:
    report = import_file(store, "csv", FIXTURES / "events.csv")
    data = report.to_dict()

    assert json.loads(json.dumps(data)) == data
    assert data["format"] == "csv"
    assert data["events_inserted"] == 3
    assert data["rejected"] == 8
    assert data["rejected_rows"][0] == {
        "file": "events.csv",
        "line": 4,
        "reason": data["rejected_rows"][0]["reason"],
        "excerpt": "e3,view,u2,i1,2024-05-01 12:02:00,,,",
    }
    assert data["elapsed_seconds"] >= 0


def test_rejected_rows_are_capped_but_all_counted(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    bad_line = "u1,view,not-a-time,i1"
    path.write_text("user_id,type,ts,item_id\n" + "\n".join([bad_line] * 250) + "\n")

    report = import_file(store, "csv", path)

    assert report.rejected == 250
    assert len(report.rejected_rows) == MAX_REJECTED_ROWS
    assert report.rejected_rows[-1].line == MAX_REJECTED_ROWS + 1


def test_long_lines_are_cut_in_the_report(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("user_id,type,ts,query\nu1,search,never," + "x" * 1000 + "\n")

    report = import_file(store, "csv", path)

    assert len(report.rejected_rows[0].excerpt) == 200
    assert report.rejected_rows[0].excerpt.endswith("…")


def test_progress_reaches_the_total(store: Store) -> None:
    calls: list[tuple[int, int | None]] = []
    path = FIXTURES / "online_retail_small.csv"

    import_file(
        store, "online-retail", path, progress=lambda done, total: calls.append((done, total))
    )

    size = path.stat().st_size
    assert calls[-1] == (size, size)


def test_strict_progress_spans_both_passes(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("user_id,type,ts,item_id\nu1,view,2024-01-01T00:00:00Z,i1\n")
    calls: list[tuple[int, int | None]] = []

    import_file(store, "csv", path, strict=True, progress=lambda d, t: calls.append((d, t)))

    size = path.stat().st_size
    assert calls == [(size, 2 * size), (2 * size, 2 * size)]
