"""The dashboard in a real browser (Debian's chromium, Playwright): pages load without
console errors, show the API's numbers, switch language, sign in and out, fit a phone
and work from the keyboard."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.dashboard.conftest import LiveServer, sideways_overflow, sign_in

PAGES = ("/", "/retention", "/retention?by=purchase", "/funnels")


def test_pages_need_a_signed_in_key(page: Any, live_server: LiveServer) -> None:
    page.goto("/retention")
    assert "/signin" in page.url
    page.fill("#key", "ssk_nope_wrong")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").is_visible()
    assert "not valid" in page.locator("[role=alert]").inner_text()
    page.console_errors.clear()  # the 401 of a wrong key is logged by the browser
    page.fill("#key", live_server.keys["read"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/retention")
    page.click("text=Sign out")
    page.wait_for_url(f"{live_server.url}/signin")
    page.goto("/")
    assert "/signin" in page.url


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_page_loads_and_draws_its_charts(
    page: Any, live_server: LiveServer, language: str
) -> None:
    sign_in(page, live_server)
    for path in PAGES:
        separator = "&" if "?" in path else "?"
        response = page.goto(f"{path}{separator}lang={language}")
        assert response.status == 200, path
        assert page.locator("h1").inner_text()
        charts = page.locator("canvas")
        for index in range(charts.count()):
            box = charts.nth(index).bounding_box()
            assert box is not None and box["width"] > 100 and box["height"] > 100, path
        drawn = page.evaluate(
            "() => Array.from(document.querySelectorAll('canvas')).every(c => Chart.getChart(c))"
        )
        assert drawn, path
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if language == "zh" else "en")


def test_the_overview_shows_the_apis_numbers(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/?days=30")
    shown = {
        card.get_attribute("data-kpi"): float(card.get_attribute("data-value") or "nan")
        for card in page.locator("[data-kpi]").all()
    }
    stickiness = live_server.api("/v1/analytics/stickiness", days=30, interval="day")
    commerce = live_server.api("/v1/analytics/commerce", days=30, interval="day")
    attribution = live_server.api("/v1/analytics/attribution", days=30, by="")
    series = [dict(zip(stickiness["tables"]["series"]["columns"], row, strict=True))
              for row in stickiness["tables"]["series"]["rows"]]  # fmt: skip

    # Other tests of the session may have sent events "now", far after the simulated
    # shop: then the window may hold no buyer, and a rate is shown empty (as the API).
    def same(value: float, expected: float | None) -> bool:
        return math.isnan(value) if expected is None else value == pytest.approx(expected)

    buyers, active = commerce["summary"]["buyers"], stickiness["summary"]["active_users"]
    assert same(shown["dau"], sum(r["dau"] for r in series) / len(series))
    assert same(shown["mau"], series[-1]["mau"])
    assert same(shown["gmv"], commerce["summary"]["gmv"])
    assert same(shown["repeat"], commerce["summary"]["repeat_purchase_rate"])
    assert same(shown["conversion"], buyers / active if active else None)
    assert same(shown["rec_share"], attribution["summary"]["share_of_gmv"])
    gmv_text = page.locator("[data-kpi=gmv] .value").inner_text()
    assert gmv_text.startswith("€")  # the simulated shop prices in euros


def test_the_funnel_builder_shows_the_apis_funnel(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/funnels")
    selects = page.locator("select[name=step]")
    selects.nth(0).select_option("view")
    selects.nth(1).select_option("purchase")
    selects.nth(2).select_option("")
    selects.nth(3).select_option("")
    page.fill("input[name=window_days]", "7")
    page.click("text=Build the funnel")
    page.wait_for_load_state()
    api = live_server.api(
        "/v1/analytics/funnel", steps="view,purchase", conversion_window_days=7, days=30
    )
    users = [int(row.get_attribute("data-users")) for row in page.locator("tr[data-step]").all()]
    assert users == [row[2] for row in api["tables"]["steps"]["rows"]]


def test_chinese_formats_dates_and_labels(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/?lang=zh")
    assert page.locator("nav a[aria-current=page]").inner_text() == "总览"
    assert "年" in page.locator(".range").inner_text()
    page.goto("/retention")  # the language is remembered
    assert page.locator("h1").inner_text() == "留存"
    page.goto("/?lang=en")


def test_a_phone_sees_the_page_without_sideways_scrolling(
    phone: Any, live_server: LiveServer
) -> None:
    sign_in(phone, live_server)
    for path in PAGES:
        phone.goto(path)
        overflow = sideways_overflow(phone)
        assert overflow <= 1, (path, overflow)


def test_the_keyboard_reaches_the_content_and_the_menu(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#main"
    page.goto("/")
    for _ in range(3):
        page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.getAttribute('href')")
    assert focused in ("/", "/retention", "/funnels")
