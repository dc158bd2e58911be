"""The DuckDB backend against the store contract, plus what is DuckDB-specific."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from shopsense.core.errors import ConfigurationError, NotFoundError, SchemaVersionError
from shopsense.store import open_store
from shopsense.store.base import Store
from shopsense.store.duckdb import DuckDBStore
from shopsense.store.migrations import LATEST_VERSION
from tests.store.contract import ReopenStore, StoreContract, make_events


@pytest.fixture(params=["memory", "file"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = "duckdb://:memory:" if request.param == "memory" else f"duckdb://{tmp_path}/s.duckdb"
    with open_store(url) as opened:
        yield opened


@pytest.fixture
def reopen(tmp_path: Path) -> Iterator[ReopenStore]:
    opened: list[Store] = []

    def _reopen() -> Store:
        if opened:
            opened[-1].close()
        opened.append(open_store(f"duckdb://{tmp_path}/durable.duckdb"))
        return opened[-1]

    yield _reopen
    opened[-1].close()


class TestDuckDBStore(StoreContract):
    pass


def test_unknown_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="duckdb://"):
        open_store("mysql://localhost/shop")
    with pytest.raises(ConfigurationError):
        open_store("just-a-path.duckdb")


def test_a_failed_batch_leaves_nothing_behind(tmp_path: Path) -> None:
    with open_store(f"duckdb://{tmp_path}/s.duckdb") as store:
        store.append_events(make_events(3))
        assert isinstance(store, DuckDBStore)
        with pytest.raises(RuntimeError), store._transaction() as connection:
            connection.execute("DELETE FROM events")
            raise RuntimeError("crash in the middle of a batch")
        assert store.count_events() == 3


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    open_store(f"duckdb://{path}").close()
    connection = duckdb.connect(str(path))
    connection.execute("INSERT INTO schema_migrations VALUES (?, 'future', now())", [99])
    connection.close()
    with pytest.raises(SchemaVersionError, match="upgrade shopsense"):
        open_store(f"duckdb://{path}")


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    for _ in range(2):
        open_store(f"duckdb://{path}").close()
    connection = duckdb.connect(str(path), read_only=True)
    versions = connection.execute("SELECT version FROM schema_migrations").fetchall()
    connection.close()
    assert versions == [(v,) for v in range(1, LATEST_VERSION + 1)]


def test_read_only_store(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with open_store(f"duckdb://{path}") as store:
        store.append_events(make_events(2))
    with open_store(f"duckdb://{path}", read_only=True) as reader:
        assert reader.count_events() == 2
    with pytest.raises(NotFoundError, match="no store"):
        open_store(f"duckdb://{tmp_path}/missing.duckdb", read_only=True)
