"""The importers on the real public files (skipped when they are not there), checked
against computations that do not use the importers: DuckDB SQL and pandas over the raw
files, and the counts the datasets' publishers give."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow.compute as pc
import pytest

from shopsense.data.importers import ImportReport, import_file
from shopsense.store import Store, open_store
from tests.conftest import dataset_path

ONLINE_RETAIL = "online-retail/online_retail.csv.gz"

# The importer's rules, restated in SQL over the raw text of every line.
VALID_SQL = """
    (starts_with(InvoiceNo, 'C') AND Quantity::DOUBLE < 0
        OR NOT starts_with(InvoiceNo, 'C') AND Quantity::DOUBLE > 0)
    AND UnitPrice::DOUBLE >= 0
    AND trim(coalesce(StockCode, '')) <> ''
    AND try_strptime(InvoiceDate, '%Y-%m-%d %H:%M:%S') IS NOT NULL
"""


@pytest.fixture(scope="module")
def online_retail(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Store, ImportReport, Path]]:
    path = dataset_path(ONLINE_RETAIL)
    store_file = tmp_path_factory.mktemp("online-retail") / "shop.duckdb"
    with open_store(f"duckdb://{store_file}") as store:
        report = import_file(store, "online-retail", path)
        yield store, report, path


def _raw_counts(path: Path) -> dict[str, Any]:
    with duckdb.connect() as connection:
        connection.execute(
            "CREATE TABLE raw AS SELECT * FROM "
            f"read_csv('{path}', header = true, all_varchar = true, quote = '\"')"
        )
        connection.execute(f"CREATE TABLE valid AS SELECT * FROM raw WHERE {VALID_SQL}")

        def one(sql: str) -> Any:
            row = connection.execute(sql).fetchone()
            assert row is not None
            return row[0]

        return {
            "rows": one("SELECT count(*) FROM raw"),
            "purchase": one("SELECT count(*) FROM valid WHERE NOT starts_with(InvoiceNo, 'C')"),
            "return": one("SELECT count(*) FROM valid WHERE starts_with(InvoiceNo, 'C')"),
            "guest_events": one("SELECT count(*) FROM valid WHERE CustomerID IS NULL"),
            "users": one("SELECT count(DISTINCT CustomerID) FROM valid"),
            "items": one("SELECT count(DISTINCT upper(trim(StockCode))) FROM valid"),
            "orders": one("SELECT count(DISTINCT InvoiceNo) FROM valid"),
            "units": one("SELECT sum(abs(Quantity::DOUBLE)) FROM valid"),
            "sales_quantity": one(
                "SELECT count(*) FROM raw WHERE NOT starts_with(InvoiceNo, 'C') "
                "AND Quantity::DOUBLE <= 0"
            ),
            "cancel_quantity": one(
                "SELECT count(*) FROM raw WHERE starts_with(InvoiceNo, 'C') "
                "AND Quantity::DOUBLE >= 0"
            ),
            "negative_price": one(
                "SELECT count(*) FROM raw WHERE UnitPrice::DOUBLE < 0 AND "
                "(starts_with(InvoiceNo, 'C') AND Quantity::DOUBLE < 0 "
                "OR NOT starts_with(InvoiceNo, 'C') AND Quantity::DOUBLE > 0)"
            ),
        }


@pytest.mark.slow  # the full-file import takes 15-20 s on 2 cores
def test_online_retail_counts_match_sql_over_the_raw_file(
    online_retail: tuple[Store, ImportReport, Path],
) -> None:
    store, report, path = online_retail
    expected = _raw_counts(path)

    assert report.rows_read == expected["rows"] == 541_909
    assert store.event_summary().by_type == {
        "purchase": expected["purchase"],
        "return": expected["return"],
    }
    assert report.events_inserted == expected["purchase"] + expected["return"]
    assert report.rejected_by_reason == {
        "Quantity: must be positive on a sales invoice": expected["sales_quantity"],
        "UnitPrice: input should be greater than or equal to 0": expected["negative_price"],
    }
    assert expected["cancel_quantity"] == 0
    assert report.rejected + report.events_inserted == report.rows_read
    assert store.count_users() == report.users_written == expected["users"] == 4_372
    assert store.count_items() == report.items_written == expected["items"]
    assert store.count_orders() == report.orders_written == expected["orders"]
    events = store.read_events()
    guests = events.filter(pc.starts_with(events.column("user_id"), "guest-")).num_rows
    assert guests == expected["guest_events"]
    assert pc.sum(events.column("quantity")).as_py() == pytest.approx(expected["units"])
    lines = store.read_order_lines()
    assert lines.num_rows == report.events_inserted
    assert pc.sum(lines.column("quantity")).as_py() == pytest.approx(expected["units"])


@pytest.mark.slow  # the full-file import takes 15-20 s on 2 cores
def test_online_retail_catalog_and_customers_match_pandas(
    online_retail: tuple[Store, ImportReport, Path],
) -> None:
    store, _, path = online_retail
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    raw["line"] = raw.index + 2
    quantity = raw["Quantity"].astype(float)
    cancelled = raw["InvoiceNo"].str.startswith("C")
    raw["price"] = raw["UnitPrice"].astype(float)
    valid = raw[
        ((cancelled & (quantity < 0)) | (~cancelled & (quantity > 0))) & (raw["price"] >= 0)
    ]
    valid = valid.assign(
        item=valid["StockCode"].str.strip().str.upper(),
        ts=pd.to_datetime(valid["InvoiceDate"]),
        description=valid["Description"].str.strip(),
    )

    described = valid[valid["description"] != ""]
    per_text = described.groupby(["item", "description"]).agg(
        n=("line", "size"), ts=("ts", "max"), line=("line", "max")
    )
    titles = (
        per_text.reset_index()
        .sort_values(["item", "n", "ts", "line"])
        .groupby("item")["description"]
        .last()
    )
    prices = valid[valid["price"] > 0].sort_values(["ts", "line"]).groupby("item")["price"].last()
    items = store.read_items().to_pandas().set_index("item_id")

    assert len(items) == valid["item"].nunique()
    assert items["title"].dropna().to_dict() == titles.to_dict()
    assert items["price"].dropna().to_dict() == prices.to_dict()
    assert (items["currency"] == "GBP").all()

    customers = valid[valid["CustomerID"] != ""].sort_values(["ts", "line"])
    first_invoice = customers.groupby("CustomerID")["ts"].min()
    country = customers.groupby("CustomerID")["Country"].last()
    users = store.read_users().to_pandas().set_index("user_id")
    assert users["created_at"].dt.tz_convert(UTC).dt.tz_localize(None).to_dict() == (
        first_invoice.to_dict()
    )
    stored_country = users["attributes"].map(lambda text: json.loads(text)["country"])
    assert stored_country.to_dict() == country.to_dict()


@pytest.mark.slow  # the full-file import takes 15-20 s on 2 cores
def test_online_retail_reimport_adds_nothing(
    online_retail: tuple[Store, ImportReport, Path],
) -> None:
    store, first, path = online_retail
    before = (store.count_events(), store.count_items(), store.count_users(), store.count_orders())

    again = import_file(store, "online-retail", path)

    assert (again.events_inserted, again.duplicates_skipped) == (0, first.events_inserted)
    after = (store.count_events(), store.count_items(), store.count_users(), store.count_orders())
    assert after == before


def test_amazon_beauty_counts() -> None:
    path = dataset_path("amazon-beauty/Beauty.txt")
    with open_store("duckdb://:memory:") as store:
        report = import_file(store, "amazon-seq", path)
        summary = store.event_summary()

        assert report.rejected == 0
        assert (summary.n_events, summary.n_users, summary.n_items) == (198_502, 22_363, 12_101)
        assert (store.count_users(), store.count_items()) == (22_363, 12_101)
        assert store.get_item("1").attributes["asin"] == "B004756YJA"
        first_line = path.read_text().splitlines()[0].split()
        history = store.read_events(user_id=first_line[0]).column("item_id").to_pylist()
        assert history == first_line[1:]


def test_movielens_100k_counts() -> None:
    folder = dataset_path("movielens-100k")
    with open_store("duckdb://:memory:") as store:
        report = import_file(store, "movielens", folder)
        summary = store.event_summary()

        assert report.rejected == 0
        assert (summary.n_events, summary.n_users, summary.n_items) == (100_000, 943, 1_682)
        assert (store.count_users(), store.count_items()) == (943, 1_682)
        ratings = pd.read_csv(folder / "u.data", sep="\t", header=None)
        assert pc.sum(store.read_events().column("value")).as_py() == ratings[2].sum()


@pytest.mark.parametrize(
    ("name", "n_lines", "n_customers"),
    [("CDNOW_master.txt", 69_659, 23_570), ("CDNOW_sample.txt", 6_919, 2_357)],
)
def test_cdnow_counts(name: str, n_lines: int, n_customers: int) -> None:
    path = dataset_path(f"cdnow/{name}")
    with open_store("duckdb://:memory:") as store:
        report = import_file(store, "cdnow", path)

        assert (report.rejected, report.events_inserted) == (0, n_lines)
        assert (store.count_users(), store.count_orders(), store.count_items()) == (
            n_customers,
            n_lines,
            1,
        )
        fields = [line.split() for line in path.read_text().splitlines()]
        dollars = sum(float(row[-1]) for row in fields if row and row[0].isdigit())
        lines = store.read_order_lines()
        spent = pc.sum(pc.multiply(lines.column("quantity"), lines.column("price"))).as_py()
        assert spent == pytest.approx(dollars)
