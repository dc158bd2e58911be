"""The customers and items pages in a real browser: they load without console errors
in English and Chinese, show the API's numbers (segments, customers at risk, a
customer's churn risk and recommendations, related items, sales), sort, search, page,
answer unknown ids with the error page, fit a phone and work from the keyboard; and
the customers page before the customer models are trained."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from shopsense.core.settings import load_settings
from shopsense.dashboard.i18n import messages
from shopsense.dashboard.views.customers import SORT_COLUMNS
from shopsense.dashboard.views.items import ITEMS_PER_PAGE
from shopsense.data.simulator import SimulationConfig, simulate_shop, write_to_store
from shopsense.models.customer.segments import SEGMENTS
from shopsense.serve import create_app
from shopsense.serve.engine import Reason, Recommended
from shopsense.store import open_store
from tests.dashboard.conftest import LiveServer, sideways_overflow, sign_in
from tests.serve.conftest import Api, api  # noqa: F401  (a fixture, shared)

LOCALES = Path(__file__).parents[2] / "src" / "shopsense" / "dashboard" / "locales"


def rows_of(table: dict[str, Any]) -> list[dict[str, Any]]:
    """A report table of the API as records."""
    return [dict(zip(table["columns"], row, strict=True)) for row in table["rows"]]


def at_risk_ids(page: Any) -> list[str]:
    return [row.get_attribute("data-user") for row in page.locator("tr[data-user]").all()]


@pytest.fixture(scope="module")
def customer_id(live_server: LiveServer) -> str:
    """A valuable customer at risk: they bought, so the models score them."""
    at_risk = live_server.api("/v1/customers/at-risk", top=1, win_back="false")
    user_id: str = at_risk["customers"][0]["user_id"]
    return user_id


@pytest.fixture(scope="module")
def best_seller(live_server: LiveServer) -> str:
    """The item in the most orders over the last 90 days (kept apart in the commerce
    report's breakdown, so its figures can be compared)."""
    report = live_server.api(
        "/v1/analytics/commerce", days=90, interval="day", breakdown="event.item_id"
    )
    orders: dict[str, int] = {}
    for row in rows_of(report["tables"]["series"]):
        if row["breakdown"] != "(other)":
            orders[row["breakdown"]] = orders.get(row["breakdown"], 0) + row["orders"]
    return max(sorted(orders), key=lambda item_id: orders[item_id])


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_page_loads_and_draws_its_charts(
    page: Any, live_server: LiveServer, customer_id: str, best_seller: str, language: str
) -> None:
    sign_in(page, live_server)
    paths = (
        "/customers",
        "/customers?sort=segment",
        f"/customers/{customer_id}",
        "/items",
        "/items?q=a&page=2",
        f"/items/{best_seller}",
    )
    for path in paths:
        separator = "&" if "?" in path else "?"
        response = page.goto(f"{path}{separator}lang={language}")
        assert response.status == 200, path
        assert page.locator("h1").inner_text(), path
        assert page.locator(".error-page").count() == 0, path
        drawn = page.evaluate(
            "() => Array.from(document.querySelectorAll('canvas')).every(c => Chart.getChart(c))"
        )
        assert drawn, path
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if language == "zh" else "en")
    page.goto("/customers")
    expected = "客户" if language == "zh" else "Customers"
    assert page.locator("h1").inner_text() == expected
    page.goto("/customers?lang=en")


def test_the_segments_are_the_apis(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/customers")
    segments = live_server.api("/v1/segments")
    shown = {
        row.get_attribute("data-segment"): (
            int(row.get_attribute("data-customers")),
            float(row.get_attribute("data-share")),
            float(row.get_attribute("data-churn")),
        )
        for row in page.locator("table.segments tr[data-segment]").all()
    }
    assert shown == {
        summary["name"]: (summary["customers"], summary["share"], summary["churn_probability"])
        for summary in segments["rfm"]
    }
    clusters = {
        int(row.get_attribute("data-cluster")): int(row.get_attribute("data-customers"))
        for row in page.locator("tr[data-cluster]").all()
    }
    assert clusters == {
        cluster["cluster"]: cluster["customers"] for cluster in segments["clusters"]
    }
    assert page.locator("[data-customers]").first.get_attribute("data-customers") == str(
        segments["customers"]
    )
    chart = json.loads(page.locator("script.chart-data").first.text_content())
    assert chart["datasets"][0]["data"] == [summary["customers"] for summary in segments["rfm"]]


def test_the_customers_at_risk_are_the_apis(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/customers")
    at_risk = live_server.api("/v1/customers/at-risk", top=50, win_back="false")
    assert at_risk["customers"], "the test shop should have valuable customers at risk"
    assert at_risk_ids(page) == [customer["user_id"] for customer in at_risk["customers"]]
    rows = page.locator("tr[data-user]").all()
    for row, customer in zip(rows, at_risk["customers"], strict=True):
        assert float(row.get_attribute("data-churn")) == customer["churn_probability"]
        assert float(row.get_attribute("data-value-at-risk")) == customer["value_at_risk"]
        assert float(row.get_attribute("data-annual-value")) == customer["annual_value"]
        assert row.get_attribute("data-segment") == customer["segment"]
    header = page.locator("th[data-column=value_at_risk]")
    assert header.get_attribute("aria-sort") == "descending"
    page.locator(f"tr[data-user={at_risk['customers'][0]['user_id']}] a").click()
    page.wait_for_url(f"{live_server.url}/customers/{at_risk['customers'][0]['user_id']}")


@pytest.mark.parametrize("column", sorted(SORT_COLUMNS))
def test_the_customers_at_risk_sort_by_each_column(
    page: Any, live_server: LiveServer, column: str
) -> None:
    sign_in(page, live_server)
    page.goto("/customers")
    at_risk = live_server.api("/v1/customers/at-risk", top=50, win_back="false")
    field = SORT_COLUMNS[column].field
    values = {customer["user_id"]: customer[field] for customer in at_risk["customers"]}
    for _ in range(2):  # the first order, then the other way round
        page.locator(f"th[data-column={column}] a").click()
        page.wait_for_load_state()
        direction = page.locator(f"th[data-column={column}]").get_attribute("aria-sort")
        assert direction in ("ascending", "descending")
        assert page.locator("th[aria-sort]").count() == 1
        shown = [values[user_id] for user_id in at_risk_ids(page)]
        present = [value for value in shown if value is not None]
        assert present == sorted(present, reverse=direction == "descending")
        assert shown[len(present) :] == [None] * (len(shown) - len(present))  # no value: last
    assert sorted(at_risk_ids(page)) == sorted(values)


def test_sorting_works_from_the_keyboard(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/customers")
    link = page.locator("th[data-column=churn] a")
    link.focus()
    assert "sort descending" in link.text_content()
    page.keyboard.press("Enter")
    page.wait_for_url("**/customers?sort=-churn*")
    assert page.locator("th[data-column=churn]").get_attribute("aria-sort") == "descending"


def test_a_customers_page_shows_the_apis_profile_and_recommendations(
    page: Any, live_server: LiveServer, customer_id: str
) -> None:
    sign_in(page, live_server)
    page.goto(f"/customers/{customer_id}")
    profile = live_server.api(f"/v1/users/{customer_id}")
    insight = profile["customer"]
    assert (
        float(page.locator("[data-churn]").get_attribute("data-churn"))
        == (insight["churn"]["probability"])
    )
    assert (
        page.locator("[data-segment]").get_attribute("data-segment") == (insight["segment"]["name"])
    )
    assert (
        int(page.locator("[data-cluster]").get_attribute("data-cluster"))
        == (insight["segment"]["cluster"])
    )
    assert float(page.locator("[data-clv]").get_attribute("data-clv")) == insight["value"]["clv"]
    drivers = page.locator("[data-churn] .drivers li").all_text_contents()
    for driver, text in zip(insight["churn"]["drivers"], drivers, strict=True):
        assert driver["text"] in text
    events = [row.get_attribute("data-event") for row in page.locator("tr[data-event]").all()]
    assert events == [event["event_id"] for event in profile["recent_events"]]
    assert int(page.locator("[data-events]").get_attribute("data-events")) == profile["events"]

    lists = page.locator("[data-scenario]")
    scenarios = [lists.nth(index).get_attribute("data-scenario") for index in range(lists.count())]
    assert scenarios[:3] == ["home", "buy-again", "cart"]
    for index, scenario in enumerate(scenarios):
        shown = lists.nth(index)
        params: dict[str, Any] = {"scenario": scenario, "n": 10}
        if scenario == "item":
            anchor = shown.locator(".muted a").get_attribute("href").removeprefix("/items/")
            params["item_id"] = anchor
        served = live_server.api(f"/v1/users/{customer_id}/recommendations", **params)
        items = [item.get_attribute("data-item") for item in shown.locator("li[data-item]").all()]
        assert items == [item["item_id"] for item in served["items"]], scenario
        reasons = shown.locator(".reason").all_text_contents()
        assert reasons == [item["reason"]["text"] for item in served["items"]], scenario
        assert shown.get_attribute("data-model") == served["model"]["name"]


def test_the_catalog_search_finds_an_item(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/items")
    assert page.locator("tr[data-item]").count() == ITEMS_PER_PAGE
    item = live_server.api("/v1/items/I00057")
    word = item["title"].split()[1]
    page.fill("#q", word.upper())  # any case
    page.press("#q", "Enter")
    page.wait_for_url("**/items?q=*")
    found = [row.get_attribute("data-item") for row in page.locator("tr[data-item]").all()]
    assert "I00057" in found
    assert int(page.locator("[data-matches]").get_attribute("data-matches")) == len(found)
    for row in page.locator("tr[data-item]").all():
        assert word.lower() in row.inner_text().lower()
    page.goto(f"/items?q={quote(item['brand'])}")
    assert "I00057" in [r.get_attribute("data-item") for r in page.locator("tr[data-item]").all()]
    page.goto("/items?q=i00057")
    assert page.locator("tr[data-item]").count() == 1
    page.click("tr[data-item] a")
    page.wait_for_url(f"{live_server.url}/items/I00057")
    assert page.locator("h1").inner_text() == item["title"]
    page.goto("/items?q=no-such-thing-at-all")
    assert page.locator("tr[data-item]").count() == 0
    assert page.locator(".empty").is_visible()


def test_the_catalog_pages(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/items")
    seen: list[str] = []
    while True:
        seen += [row.get_attribute("data-item") for row in page.locator("tr[data-item]").all()]
        following = page.locator("a[rel=next]")
        if following.count() == 0:
            break
        following.click()
        page.wait_for_load_state()
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert len(seen) == 150  # every item of the test shop, once


def test_an_items_page_shows_the_apis_related_items_and_sales(
    page: Any, live_server: LiveServer, best_seller: str
) -> None:
    sign_in(page, live_server)
    page.goto(f"/items/{best_seller}")
    item = live_server.api(f"/v1/items/{best_seller}")
    assert page.locator("h1").inner_text() == item["title"]
    assert float(page.locator("dl[data-price]").get_attribute("data-price")) == item["price"]
    similar = live_server.api(f"/v1/items/{best_seller}/similar")
    shown = page.locator("[data-list=similar] li[data-item]").all()
    assert [li.get_attribute("data-item") for li in shown] == [
        i["item_id"] for i in similar["items"]
    ]
    together = live_server.api(f"/v1/items/{best_seller}/bought-together")
    rows = page.locator("[data-list=bought-together] tr[data-item]").all()
    assert [
        (row.get_attribute("data-item"), float(row.get_attribute("data-confidence")))
        for row in rows
    ] == [(i["item_id"], pytest.approx(i["confidence"], abs=1e-6)) for i in together["items"]]

    report = live_server.api(
        "/v1/analytics/commerce", days=90, interval="day", breakdown="event.item_id"
    )
    sales = [row for row in rows_of(report["tables"]["series"]) if row["breakdown"] == best_seller]
    totals = page.locator("[data-orders]")
    assert int(totals.get_attribute("data-orders")) == sum(row["orders"] for row in sales) > 0
    assert float(totals.get_attribute("data-revenue")) == pytest.approx(
        sum(row["gmv"] for row in sales), abs=1e-6
    )
    chart = json.loads(page.locator("script.chart-data").first.text_content())
    assert len(chart["labels"]) == 90
    assert chart["labels"][0] == report["query"]["start"]
    assert sum(chart["datasets"][0]["data"]) == float(totals.get_attribute("data-units"))


@pytest.mark.parametrize("path", ["/customers/nobody-at-all", "/items/no-such-item"])
def test_an_unknown_id_gets_the_error_page(page: Any, live_server: LiveServer, path: str) -> None:
    sign_in(page, live_server)
    response = page.goto(path)
    assert response.status == 404
    assert page.locator(".error-page [role=alert]").is_visible()
    assert page.locator("nav a[aria-current=page]").count() == 0
    page.console_errors.clear()  # the browser logs the 404 itself


def test_a_phone_sees_the_pages_without_sideways_scrolling(
    phone: Any, live_server: LiveServer, customer_id: str, best_seller: str
) -> None:
    sign_in(phone, live_server)
    for path in ("/customers", f"/customers/{customer_id}", "/items", f"/items/{best_seller}"):
        for language in ("en", "zh"):
            phone.goto(f"{path}?lang={language}")
            overflow = sideways_overflow(phone)
            assert overflow <= 1, (path, language, overflow)


def test_every_message_has_both_languages() -> None:
    # Every area's catalog, not only this file's pages.
    for area in sorted(path.stem for path in (LOCALES / "en").glob("*.json")):
        english = json.loads((LOCALES / "en" / f"{area}.json").read_text("utf-8"))
        chinese = json.loads((LOCALES / "zh" / f"{area}.json").read_text("utf-8"))
        assert english.keys() == chinese.keys(), area
        assert all(chinese.values()) and all(english.values()), area
        placeholders = [
            key for key in english if english[key].count("{") != chinese[key].count("{")
        ]
        assert not placeholders, placeholders
    english, chinese = messages("en"), messages("zh")
    for name, info in SEGMENTS.items():
        key = "customers.segment." + name.lower().replace(" ", "_")
        # The English messages are the models' own words; Chinese ones are translations.
        assert english[key] == name
        assert english[f"{key}.description"] == info.description
        assert english[f"{key}.action"] == info.action
        for suffix in ("", ".description", ".action"):
            assert chinese[key + suffix] != english[key + suffix]


@pytest.fixture
def untrained_shop(tmp_path: Path) -> Iterator[TestClient]:
    """A shop with events but no customer models, open to anyone (no keys)."""
    settings = load_settings(
        data_dir=tmp_path,
        serve={"retrain_every_hours": None, "require_api_keys": False},
    )
    with open_store(settings.resolved_store_url) as store:
        write_to_store(simulate_shop(SimulationConfig(users=40, items=40, days=20, seed=5)), store)
    with TestClient(create_app(settings)) as client:
        yield client


def test_before_the_customer_models_are_trained_the_pages_say_how(
    untrained_shop: TestClient,
) -> None:
    response = untrained_shop.get("/customers")
    assert response.status_code == 200
    assert 'data-state="not-trained"' in response.text
    assert "shopsense customers train" in response.text
    user_id = untrained_shop.get("/customers/U00001")
    assert user_id.status_code == 200
    assert 'data-state="not-trained"' in user_id.text
    assert 'data-scenario="home"' in user_id.text  # recommendations still come


def test_bought_together_items_show_confidence_and_lift(
    api: Api,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(The test shop's cart scenario is served by a model without association rules,
    so its items have none: here the engine answers with two.)"""
    server = api.client.app.state.server  # type: ignore[attr-defined]
    anchor, first, second = (server.catalog.code(f"I0000{n}") for n in (1, 2, 3))
    reason = Reason("bought_together", "50% of the orders with it also had it", "I00001")
    found = [
        (Recommended(first, 2.5, reason), 0.5, 2.5),
        (Recommended(second, 1.2, reason), 0.1, 1.2),
    ]
    monkeypatch.setattr(server.engine, "bought_together", lambda item_id, n: found)
    signed_in = api.client.post(
        "/signin", data={"key": api.keys["read"], "next": "/"}, follow_redirects=False
    )
    assert signed_in.status_code == 303
    page = api.client.get(f"/items/{server.catalog.item_id(anchor)}")
    assert page.status_code == 200
    assert 'data-item="I00002" data-confidence="0.5" data-lift="2.5"' in page.text
    assert 'data-item="I00003" data-confidence="0.1" data-lift="1.2"' in page.text
    assert "50.0%" in page.text
