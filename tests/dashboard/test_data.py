"""The Data page in a real browser: it loads in both languages, shows the store's own
numbers, lists an event the API just rejected with its reason, lets an admin create a key
(token shown once, and it works) and revoke it (then refused), and gives a read-only key
no way to manage keys (a forged form is refused with a 403 page)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopsense.store import Store, open_store
from tests.dashboard.conftest import LiveServer, sideways_overflow, sign_in


@pytest.fixture
def store(live_server: LiveServer) -> Iterator[Store]:
    """The live server's store, opened again in this process (DuckDB shares the open
    database between connections of one process)."""
    with open_store(live_server.settings.resolved_store_url) as opened:
        yield opened


def post_events(server: LiveServer, body: Any) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/events",
        json=body,
        headers={"Authorization": f"Bearer {server.keys['admin']}"},
        timeout=30,
    )


def ping(server: LiveServer, token: str) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/ping", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_data_page_loads_and_draws_its_chart(
    page: Any, live_server: LiveServer, language: str
) -> None:
    sign_in(page, live_server, "admin")
    response = page.goto(f"/data?lang={language}")
    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    assert page.locator("h1").inner_text() == ("数据" if language == "zh" else "Data")
    assert page.locator("#store-title").inner_text() == (
        "数据存储" if language == "zh" else "The store"
    )
    canvas = page.locator("#chart-ingest")
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 100
    bars = page.evaluate("() => Chart.getChart('chart-ingest').data.labels.length")
    assert bars == 60
    assert page.locator("link[href='/static/dashboard/data.css']").count() == 1
    section_margin = page.evaluate(
        "() => getComputedStyle(document.querySelector('.data-section')).marginTop"
    )
    assert section_margin != "0px"  # the page's own stylesheet applies
    untranslated = re.findall(r"\bdata\.[a-z_]+\.[a-z_]+", page.locator("main").inner_text())
    assert not untranslated


def test_the_store_section_shows_the_stores_numbers(
    page: Any, live_server: LiveServer, store: Store
) -> None:
    sign_in(page, live_server)
    page.goto("/data")
    summary = store.event_summary()
    shown = {
        card.get_attribute("data-store"): int(card.get_attribute("data-value"))
        for card in page.locator("[data-store]").all()
    }
    assert shown == {
        "events": summary.n_events,
        "users": store.count_users(),
        "items": store.count_items(),
        "orders": store.count_orders(),
    }
    by_type = {
        row.get_attribute("data-type"): int(row.get_attribute("data-count"))
        for row in page.locator("tr[data-type]").all()
    }
    assert by_type == summary.by_type
    facts = {
        row.get_attribute("data-fact"): row.get_attribute("data-value")
        for row in page.locator("tr[data-fact]").all()
    }
    assert int(facts["users_in_events"]) == summary.n_users
    assert int(facts["items_in_events"]) == summary.n_items
    assert summary.first_ts is not None and summary.last_ts is not None
    assert facts["first_event"] == summary.first_ts.isoformat()
    assert facts["last_event"] == summary.last_ts.isoformat()
    assert int(facts["schema_version"]) == store.schema_version()
    database = live_server.settings.data_dir / "shopsense.duckdb"
    assert int(facts["file_size"]) == database.stat().st_size


def test_a_rejected_event_shows_with_its_reason(page: Any, live_server: LiveServer) -> None:
    good = {
        "type": "view",
        "user_id": "data-page-user",
        "item_id": "I00001",
        "ts": "2025-01-01T10:00:00Z",
    }
    sign_in(page, live_server, "admin")
    page.goto("/data")
    accepted_before = int(page.locator("[data-ingest=accepted]").get_attribute("data-value"))
    assert post_events(live_server, {"events": [good]}).status_code == 200
    unknown_type = post_events(live_server, {"events": [good, {**good, "type": "teleport"}]})
    assert unknown_type.status_code == 422
    naive_time = post_events(live_server, {**good, "ts": "2025-01-01T10:00:00"})
    assert naive_time.status_code == 422

    page.goto("/data")
    assert (
        int(page.locator("[data-ingest=accepted]").get_attribute("data-value"))
        == accepted_before + 1
    )
    assert int(page.locator("[data-ingest=rejected]").get_attribute("data-value")) >= 3
    newest, older = page.locator("tr[data-rejection]").all()[:2]
    assert newest.get_attribute("data-events") == "1"
    field = newest.locator("[data-field]")
    assert field.get_attribute("data-field") == "ts"  # one event: fields without a path
    assert naive_time.json()["errors"][0]["message"] in field.inner_text()
    assert older.get_attribute("data-events") == "2"
    field = older.locator("[data-field]")
    assert field.get_attribute("data-field") == "events[1].type"
    assert unknown_type.json()["errors"][0]["message"] in field.inner_text()
    admin_key_id = live_server.keys["admin"].split("_")[1]
    assert admin_key_id in newest.inner_text()
    last_hour = page.evaluate(
        "() => Chart.getChart('chart-ingest').data.datasets"
        ".map(dataset => dataset.data.reduce((sum, count) => sum + count))"
    )
    assert last_hour[0] >= 1 and last_hour[1] >= 3


def test_an_admin_creates_a_key_sees_it_once_and_revokes_it(
    page: Any, live_server: LiveServer
) -> None:
    sign_in(page, live_server, "admin")
    page.goto("/data")
    page.fill("#key-name", "data-page-test")
    page.check("input[name=scopes][value=ingest]")
    page.fill("#key-rate", "2.5")
    with page.expect_navigation() as navigation:
        page.click("text=Create the key")
    created = navigation.value
    assert created.status == 201
    assert created.headers["cache-control"] == "no-store"
    token = page.locator("#new-token").input_value()
    key_id = page.locator("[data-created]").get_attribute("data-created")
    assert token.startswith(f"ss_{key_id}_")
    row = page.locator(f"tr[data-key='{key_id}']")
    assert row.get_attribute("data-active") == "true"
    assert "ingest" in row.inner_text() and "read" in row.inner_text()
    assert row.locator("td[data-value]").get_attribute("data-value") == "2.5"

    answer = ping(live_server, token)
    assert answer.status_code == 200 and answer.json()["key"] == "data-page-test"

    page.goto("/data")  # the token is not shown again
    assert page.locator("#new-token").count() == 0
    assert token not in page.content()

    page.locator(f"tr[data-key='{key_id}'] button").click()
    page.wait_for_url(f"{live_server.url}/data?revoked={key_id}#keys")
    assert page.locator(f"[data-revoked='{key_id}']").is_visible()
    assert page.locator(f"tr[data-key='{key_id}']").get_attribute("data-active") == "false"
    assert page.locator(f"tr[data-key='{key_id}'] button").count() == 0
    refused = ping(live_server, token)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]


def test_a_key_form_with_bad_input_comes_back_with_the_reason(
    page: Any, live_server: LiveServer
) -> None:
    sign_in(page, live_server, "admin")
    page.goto("/data")
    keys_before = page.locator("tr[data-key]").count()
    page.fill("#key-name", "kept-name")
    page.fill("#key-rate", "fast")
    with page.expect_navigation() as navigation:
        page.click("text=Create the key")
    assert navigation.value.status == 422
    page.console_errors.clear()  # the browser logs the 422 of the document
    assert "fast" in page.locator(".key-form [role=alert]").inner_text()
    assert page.locator("#key-name").input_value() == "kept-name"
    page.fill("#key-rate", "")
    page.uncheck("input[name=scopes][value=read]")
    with page.expect_navigation() as navigation:
        page.click("text=Create the key")
    assert navigation.value.status == 422
    page.console_errors.clear()
    assert "scope" in page.locator(".key-form [role=alert]").inner_text()
    assert page.locator("tr[data-key]").count() == keys_before
    page.goto("/data/keys?lang=zh")  # the language switcher of the answer: back to the page
    assert page.url == f"{live_server.url}/data?lang=zh#keys"
    assert page.locator("h1").inner_text() == "数据"


def test_a_read_only_key_cannot_manage_keys(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, "read")
    page.goto("/data")
    assert page.locator("[data-read-only]").is_visible()
    assert page.locator("table.keys").count() == 0
    assert page.locator("form.key-form").count() == 0
    assert page.locator("[data-store=events]").count() == 1  # the rest is there

    forged = page.request.post(
        "/data/keys", form={"csrf": "forged", "name": "sneaky", "scopes": "admin"}
    )
    assert forged.status == 403
    assert "Read-only key" in forged.text()
    admin_key_id = live_server.keys["admin"].split("_")[1]
    revoke = page.request.post(f"/data/keys/{admin_key_id}/revoke", form={"csrf": "forged"})
    assert revoke.status == 403
    assert ping(live_server, live_server.keys["admin"]).status_code == 200
    names = [key["name"] for key in live_server.api("/v1/keys")]
    assert "sneaky" not in names


def test_an_admin_form_from_elsewhere_is_refused(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server, "admin")
    forged = page.request.post(
        "/data/keys", form={"csrf": "not-the-token", "name": "elsewhere", "scopes": "read"}
    )
    assert forged.status == 403
    assert "stale" in forged.text()


def test_a_phone_sees_the_data_page_without_sideways_scrolling(
    phone: Any, live_server: LiveServer
) -> None:
    sign_in(phone, live_server, "admin")
    phone.goto("/data")
    overflow = sideways_overflow(phone)
    assert overflow <= 1, overflow
