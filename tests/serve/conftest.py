"""A small trained shop for the API tests: simulated once per session, copied per test
(the store file only; the model artifacts are read-only and shared)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsense.core.settings import Settings, load_settings
from shopsense.data.simulator import SimulationConfig, simulate_shop, write_to_store
from shopsense.serve import create_app
from shopsense.serve.security import create_api_key
from shopsense.store import Store, open_store
from shopsense.training import train_models
from shopsense.training.customers import train_customer_models

SHOP = SimulationConfig(users=400, items=150, days=120, seed=3)
MODELS = ("popular", "item-knn", "top-frequency", "bought-together")


@pytest.fixture(scope="session")
def trained_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with the simulated shop and trained, registered recommenders
    and customer models."""
    directory = tmp_path_factory.mktemp("shop")
    settings = load_settings(data_dir=directory, recommenders=MODELS)
    with open_store(settings.resolved_store_url) as store:
        write_to_store(simulate_shop(SHOP), store)
        run = train_models(store, settings)
        train_customer_models(store, settings)
    assert not run.failed, [model.error for model in run.failed]
    return directory


@dataclass
class Api:
    """A started app on a private copy of the shop, with one key per scope."""

    client: TestClient
    store: Store
    settings: Settings
    keys: dict[str, str]

    def headers(self, scope: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[scope]}"}

    def get(self, path: str, scope: str = "admin", **params: object) -> dict[str, object]:
        response = self.client.get(path, headers=self.headers(scope), params=params)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body


def start_api(data_dir: Path, **serve: object) -> Iterator[Api]:
    settings = load_settings(
        data_dir=data_dir,
        recommenders=MODELS,
        serve={"retrain_every_hours": None, **serve},
    )
    store = open_store(settings.resolved_store_url)
    keys = {
        scope: create_api_key(store, name=f"test-{scope}", scopes=[scope])[1]
        for scope in ("ingest", "read", "admin")
    }
    try:
        with TestClient(create_app(settings, store=store)) as client:
            yield Api(client=client, store=store, settings=settings, keys=keys)
    finally:
        store.close()


def copy_shop(trained_shop: Path, tmp_path: Path) -> Path:
    shutil.copy(trained_shop / "shopsense.duckdb", tmp_path / "shopsense.duckdb")
    return tmp_path


@pytest.fixture
def api(trained_shop: Path, tmp_path: Path) -> Iterator[Api]:
    yield from start_api(copy_shop(trained_shop, tmp_path))
