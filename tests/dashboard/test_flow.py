"""The dashboard as an operator uses it, end to end: sign in, open a valuable customer
at risk, see their live recommendations, create an experiment and find it listed."""

from __future__ import annotations

from typing import Any

from tests.dashboard.conftest import LiveServer, sign_in


def test_sign_in_open_an_at_risk_customer_and_create_an_experiment(
    page: Any, live_server: LiveServer
) -> None:
    sign_in(page, live_server, "admin")
    page.click("nav >> text=Customers")
    page.wait_for_url(f"{live_server.url}/customers")
    at_risk = page.locator("#at-risk tbody tr[data-user]")
    assert at_risk.count() > 0
    user = at_risk.first.get_attribute("data-user")
    assert user == live_server.api("/v1/customers/at-risk", top=1)["customers"][0]["user_id"]
    at_risk.first.locator("a").first.click()
    page.wait_for_url(f"{live_server.url}/customers/{user}")
    home = page.locator(".rec-list[data-scenario=home] li[data-item]")
    assert home.count() > 0
    shown = [item.get_attribute("data-item") for item in home.all()]
    api = live_server.api(f"/v1/users/{user}/recommendations", scenario="home", n=len(shown))
    assert shown == [item["item_id"] for item in api["items"]]
    page.click("nav >> text=Experiments")
    page.wait_for_url(f"{live_server.url}/experiments")
    page.fill("#new input[name=name]", "flow: popular on cart")
    page.select_option("#new select[name=scenario]", "cart")
    names = page.locator("#new input[name=variant_name]")
    names.nth(0).fill("control")
    names.nth(1).fill("popular")
    page.locator("#new select[name=variant_model]").nth(1).select_option("popular")
    page.click("#new button[data-action=create]")
    page.wait_for_url(f"{live_server.url}/experiments/*")
    experiment_id = page.url.rsplit("/", 1)[-1]
    assert page.locator(f"[data-experiment='{experiment_id}']").get_attribute("data-status") == (
        "draft"
    )
    page.click("nav >> text=Experiments")
    row = page.locator(f"tr[data-experiment='{experiment_id}']")
    assert row.count() == 1
    assert "flow: popular on cart" in row.inner_text()
    listed = {e["experiment_id"]: e for e in live_server.api("/v1/experiments")}
    assert listed[experiment_id]["spec"]["variants"][1]["model"] == "popular"
