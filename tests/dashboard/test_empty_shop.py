"""A shop that has sent nothing yet: every page answers with its empty state, not an
error (server-rendered, so no browser is needed to check it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsense.core.settings import load_settings
from shopsense.serve import create_app

PAGES = ("/", "/retention", "/funnels", "/customers", "/items", "/models", "/experiments", "/data")


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = load_settings(
        data_dir=tmp_path, serve={"retrain_every_hours": None, "require_api_keys": False}
    )
    with TestClient(create_app(settings)) as opened:
        yield opened


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_page_of_an_empty_shop_has_an_empty_state(
    client: TestClient, path: str, language: str
) -> None:
    response = client.get(path, params={"lang": language})
    assert response.status_code == 200, response.text[:500]
    assert "<main" in response.text


def test_an_unknown_page_of_the_dashboard_is_a_404_page(client: TestClient) -> None:
    response = client.get("/customers/nobody")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "nobody" in response.text
