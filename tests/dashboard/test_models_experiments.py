"""The models and experiments pages in a real browser: they load in both languages,
show the API's numbers (the registry's metrics, an experiment's results), let an admin
create, start and stop an experiment and retrain, and refuse a read-only key's forged
actions.

Experiments here run on ``buy-again``, never left running: the live server is shared
with the other dashboard tests, whose ``home`` lists must stay unassigned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import uuid4

import httpx
import pytest

from tests.dashboard.conftest import LiveServer, sideways_overflow, sign_in

SCENARIO = "buy-again"
EXPOSED_USERS = [f"U{number:05d}" for number in range(1, 81)]
TRAINING_SECONDS = 180
ACTIONS = "button[data-action], form[action^='/experiments'][method=post], form[action^='/models']"
"""What only an admin sees: the action buttons and the forms that post them."""


def expose(server: LiveServer, users: list[str]) -> None:
    """Serve the experiment's scenario to ``users`` (which exposes them)."""
    for user in users:
        response = httpx.get(
            f"{server.url}/v1/users/{user}/recommendations",
            params={"scenario": SCENARIO, "n": 5},
            headers={"Authorization": f"Bearer {server.keys['read']}"},
            timeout=30,
        )
        response.raise_for_status()


def stop_if_running(server: LiveServer, experiment_id: str) -> None:
    if server.api(f"/v1/experiments/{experiment_id}")["status"] == "running":
        server.post(f"/v1/experiments/{experiment_id}/stop")


def create_draft(server: LiveServer, name: str) -> dict[str, Any]:
    created: dict[str, Any] = server.post(
        "/v1/experiments",
        {
            "name": name,
            "scenario": SCENARIO,
            "variants": [{"name": "control"}, {"name": "popular", "model": "popular"}],
            "guardrails": ["revenue_per_user", "retention_7d"],
        },
    )
    return created


@pytest.fixture(scope="module")
def finished_experiment(live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """An experiment started, served to some users and stopped through the API."""
    experiment = create_draft(live_server, f"finished {uuid4().hex[:6]}")
    experiment_id = experiment["experiment_id"]
    live_server.post(f"/v1/experiments/{experiment_id}/start")
    try:
        expose(live_server, EXPOSED_USERS)
    finally:
        stopped: dict[str, Any] = live_server.post(f"/v1/experiments/{experiment_id}/stop")
    yield stopped


def value(element: Any, attribute: str) -> float | None:
    """A ``data-*`` number of the page (empty: None)."""
    text = element.get_attribute(attribute)
    return None if text in (None, "") else float(text)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_pages_load_in_both_languages(
    page: Any, live_server: LiveServer, finished_experiment: dict[str, Any], language: str
) -> None:
    draft = create_draft(live_server, f"draft {uuid4().hex[:6]}")
    sign_in(page, live_server)
    paths = (
        "/models",
        "/experiments",
        f"/experiments/{finished_experiment['experiment_id']}",
        f"/experiments/{draft['experiment_id']}",
    )
    for path in paths:
        response = page.goto(f"{path}?lang={language}")
        assert response.status == 200, path
        assert page.locator("h1").inner_text()
        drawn = page.evaluate(
            "() => Array.from(document.querySelectorAll('canvas')).every(c => Chart.getChart(c))"
        )
        assert drawn, path
        overflow = sideways_overflow(page)
        assert overflow <= 1, (path, overflow)
    assert page.locator("html").get_attribute("lang") == ("zh-CN" if language == "zh" else "en")
    page.goto(f"/experiments/{draft['experiment_id']}")
    assert page.locator(".title-row").get_attribute("data-status") == "draft"
    assert page.locator("section.verdicts").count() == 0  # a draft has no results yet
    if language == "zh":
        assert page.locator("nav a[aria-current=page]").inner_text() == "实验"
        page.goto("/models")
        assert "排行榜" in page.locator("#leaderboard-title").inner_text()


def test_a_phone_sees_the_pages_without_sideways_scrolling(
    phone: Any, live_server: LiveServer, finished_experiment: dict[str, Any]
) -> None:
    sign_in(phone, live_server, "admin")
    for path in (
        "/models",
        "/experiments",
        f"/experiments/{finished_experiment['experiment_id']}",
    ):
        phone.goto(path)
        overflow = sideways_overflow(phone)
        assert overflow <= 1, (path, overflow)


def test_the_leaderboard_shows_the_registrys_metrics(page: Any, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.goto("/models")
    api = live_server.api("/v1/models")
    versions = {(v["name"], v["version"]): v for v in api["versions"]}
    rows = page.locator("table.leaderboard tbody tr").all()
    shown = {
        (row.get_attribute("data-model"), int(row.get_attribute("data-version"))) for row in rows
    }
    serving = {
        (v["name"], v["version"])
        for v in api["versions"]
        if v["serving"] and v["metrics"].get("protocol") and v["name"] != "best"
    }
    assert shown == serving
    ranking = []
    for row in rows:
        metrics = versions[
            (row.get_attribute("data-model"), int(row.get_attribute("data-version")))
        ]["metrics"]
        primary = metrics["primary_metric"]
        for cell in row.locator("td[data-metric]").all():
            name = cell.get_attribute("data-metric")
            expected = (
                metrics["validation"][primary] if name == f"validation:{primary}" else metrics[name]
            )
            assert value(cell, "data-value") == pytest.approx(expected), name
        ranking.append(metrics["validation"][primary])
    assert ranking == sorted(ranking, reverse=True)
    best = next(v for v in api["versions"] if v["name"] == "best" and v["serving"])
    winner = page.locator("table.leaderboard tr:has(.badge.best)")
    assert winner.get_attribute("data-model") == best["params"]["model"]
    serving_now = {
        row.get_attribute("data-scenario"): row.get_attribute("data-serving")
        for row in page.locator("table.service tr[data-scenario]").all()
    }
    for scenario, model in api["in_service"].items():
        assert serving_now[scenario] == f"{model['name']} v{model['version']}"
    history = page.locator("table.history tr[data-model]")
    assert history.count() == min(len(api["versions"]), 60)


def test_an_experiments_page_shows_the_apis_results(
    page: Any, live_server: LiveServer, finished_experiment: dict[str, Any]
) -> None:
    experiment_id = finished_experiment["experiment_id"]
    # Every exposed user's observation window is over a month after the stop.
    stopped_at = datetime.fromisoformat(finished_experiment["stopped_at"])
    end = (stopped_at + timedelta(days=30)).isoformat()
    api = live_server.api(f"/v1/experiments/{experiment_id}/results", end=end)
    assert sum(api["exposures"].values()) == len(EXPOSED_USERS)
    sign_in(page, live_server)
    page.goto("/experiments")
    listed = page.locator(f"tr[data-experiment='{experiment_id}']")
    assert listed.get_attribute("data-status") == "stopped"
    assert value(listed, "data-exposed") == len(EXPOSED_USERS)

    page.goto(f"/experiments/{experiment_id}?{urlencode({'end': end})}")
    assert page.locator(".range[data-end]").get_attribute("data-end") == api["end"].replace(
        "Z", "+00:00"
    )
    exposures = page.locator("table.exposures tr[data-variant]").all()
    assert {row.get_attribute("data-variant"): value(row, "data-exposed") for row in exposures} == (
        api["exposures"]
    )
    assert {
        row.get_attribute("data-variant"): value(row, "data-measured") for row in exposures
    } == (api["measured"])
    check = page.locator("[data-srm]")
    assert value(check, "data-p-value") == pytest.approx(api["sample_ratio"]["p_value"])
    assert check.get_attribute("data-srm") == (
        "flagged" if api["sample_ratio"]["flagged"] else "ok"
    )
    for metric in api["metrics"]:
        section = page.locator(f"section[data-metric='{metric['metric']}']")
        assert metric["variants"], metric["metric"]  # measured users: every row is there
        for summary in metric["variants"]:
            row = section.locator(f"tr[data-variant='{summary['name']}']")
            assert value(row, "data-users") == summary["n_users"]
            assert value(row, "data-mean") == pytest.approx(summary["mean"])
        for compared in metric["comparisons"]:
            row = section.locator(f"tr[data-variant='{compared['variant']}']")
            comparison = compared["comparison"]
            relative = comparison["relative_lift"]
            cuped = comparison["cuped"]
            expected = {
                "data-absolute-lift": comparison["absolute_lift"]["estimate"],
                "data-relative-lift": relative["estimate"] if relative else None,
                "data-p-value": comparison["p_value"],
                "data-decision-p-value": compared["decision_p_value"],
                "data-chance": compared["chance_to_be_better"],
                "data-variance-reduction": cuped["variance_reduction"] if cuped else None,
            }
            for attribute, number in expected.items():
                assert value(row, attribute) == pytest.approx(number), (metric, attribute)
    verdicts = page.locator("article.verdict").all()
    assert [
        (v.get_attribute("data-variant"), v.get_attribute("data-decision")) for v in verdicts
    ] == [(verdict["variant"], verdict["decision"]) for verdict in api["verdicts"]]
    assert verdicts[0].locator(".explanation").inner_text() == api["verdicts"][0]["text"]


def test_an_admin_creates_starts_and_stops_an_experiment(
    page: Any, live_server: LiveServer
) -> None:
    name = f"dashboard form {uuid4().hex[:6]}"
    sign_in(page, live_server, "admin")
    page.goto("/experiments")
    page.fill("input[name=name]", name)
    page.select_option("select[name=scenario]", SCENARIO)
    names = page.locator("input[name=variant_name]")
    models = page.locator("select[name=variant_model]")
    weights = page.locator("input[name=variant_weight]")
    names.nth(0).fill("control")
    names.nth(1).fill("knn")
    models.nth(1).select_option("item-knn")
    weights.nth(1).fill("2")
    page.select_option("select[name=primary_metric]", "retention_7d")
    page.check("input[name=guardrail][value=conversion]")
    page.fill("input[name=observation_days]", "7")
    page.click("button[data-action=create]")
    page.wait_for_url(f"{live_server.url}/experiments/*")
    experiment_id = page.url.rsplit("/", 1)[1]
    try:
        created = live_server.api(f"/v1/experiments/{experiment_id}")
        spec = created["spec"]
        assert (created["status"], spec["name"], spec["scenario"]) == ("draft", name, SCENARIO)
        assert spec["variants"] == [
            {"name": "control", "weight": 1.0, "model": None},
            {"name": "knn", "weight": 2.0, "model": "item-knn"},
        ]
        assert spec["primary_metric"] == "retention_7d"
        assert spec["guardrails"] == ["conversion", "revenue_per_user", "returns_per_user"]
        assert spec["observation_days"] == 7
        assert page.locator("h1").inner_text() == name

        page.goto("/experiments")
        row = page.locator(f"tr[data-experiment='{experiment_id}']")
        assert row.get_attribute("data-status") == "draft"
        with page.expect_navigation():
            row.locator("button[data-action=start]").click()
        assert page.url == f"{live_server.url}/experiments"
        row = page.locator(f"tr[data-experiment='{experiment_id}']")
        assert row.get_attribute("data-status") == "running"
        assert live_server.api(f"/v1/experiments/{experiment_id}")["status"] == "running"
        expose(live_server, EXPOSED_USERS[:10])

        page.click(f"tr[data-experiment='{experiment_id}'] a")
        page.wait_for_url(f"{live_server.url}/experiments/{experiment_id}")
        with page.expect_navigation():
            page.click("button[data-action=stop]")
        assert page.url == f"{live_server.url}/experiments/{experiment_id}"
        assert page.locator(".title-row").get_attribute("data-status") == "stopped"
        assert live_server.api(f"/v1/experiments/{experiment_id}")["status"] == "stopped"
        exposed = sum(
            value(row, "data-exposed") or 0
            for row in page.locator(".exposures tr[data-variant]").all()
        )
        assert exposed == 10
        # A form from another page (a forged or stale token) is refused.
        forged = page.request.post(f"/experiments/{experiment_id}/start", form={"csrf": "stale"})
        assert forged.status == 403
    finally:
        stop_if_running(live_server, experiment_id)


def test_a_refused_form_comes_back_with_the_reasons(page: Any, live_server: LiveServer) -> None:
    before = len(live_server.api("/v1/experiments"))
    sign_in(page, live_server, "admin")
    page.goto("/experiments?lang=en")
    page.fill("input[name=name]", "twins")
    page.locator("input[name=variant_name]").nth(1).fill("control")
    page.locator("input[name=variant_weight]").nth(0).fill("heavy")
    response = page.request.post("/experiments")  # an empty form: no token
    assert response.status == 403
    with page.expect_navigation() as navigation:
        page.click("button[data-action=create]")
    assert navigation.value.status == 422
    problems = page.locator(".problems[role=alert]").inner_text()
    assert "Variant 1 · Weight" in problems
    assert page.locator("input[name=name]").input_value() == "twins"
    page.locator("input[name=variant_weight]").nth(0).fill("1")
    with page.expect_navigation():
        page.click("button[data-action=create]")
    assert "variant names must differ" in page.locator(".problems").inner_text()
    assert len(live_server.api("/v1/experiments")) == before
    page.console_errors.clear()  # the browser logs the 422 and 403 answers


def test_a_read_only_key_sees_no_actions_and_cannot_forge_them(
    page: Any, live_server: LiveServer, finished_experiment: dict[str, Any]
) -> None:
    draft = create_draft(live_server, f"read-only {uuid4().hex[:6]}")
    before = len(live_server.api("/v1/experiments"))
    sign_in(page, live_server, "read")
    for path in ("/models", "/experiments", f"/experiments/{draft['experiment_id']}"):
        page.goto(path)
        assert page.locator(ACTIONS).count() == 0, path
        assert page.locator(".read-only").is_visible(), path
    for path in (
        "/models/train",
        "/experiments",
        f"/experiments/{draft['experiment_id']}/start",
        f"/experiments/{finished_experiment['experiment_id']}/stop",
    ):
        forged = page.request.post(path, form={"csrf": "guessed", "name": "forged"})
        assert forged.status == 403, path
        assert "Read-only key" in forged.text()
    assert len(live_server.api("/v1/experiments")) == before
    assert live_server.api(f"/v1/experiments/{draft['experiment_id']}")["status"] == "draft"


def test_the_retrain_button_starts_a_training(page: Any, live_server: LiveServer) -> None:
    before = {(v["name"], v["version"]) for v in live_server.api("/v1/models")["versions"]}
    sign_in(page, live_server, "admin")
    page.goto("/models")
    page.click("button[data-action=retrain]")
    page.wait_for_url(f"{live_server.url}/models?training=*")
    notice = page.locator("[data-notice]").get_attribute("data-notice")
    assert notice in ("started", "running")
    assert page.locator(".training").get_attribute("data-state") in ("running", "succeeded")
    deadline = datetime.now() + timedelta(seconds=TRAINING_SECONDS)
    training = live_server.api("/v1/models")["training"]
    while training["state"] == "running" and datetime.now() < deadline:
        page.wait_for_timeout(500)
        training = live_server.api("/v1/models")["training"]
    assert training["state"] == "succeeded", training
    if notice == "started":
        assert training["trigger"] == "dashboard"
    page.goto("/models")
    assert page.locator(".training").get_attribute("data-state") == "succeeded"
    after = {(v["name"], v["version"]) for v in live_server.api("/v1/models")["versions"]}
    assert after > before  # new versions registered
    newest = {
        (row.get_attribute("data-model"), int(row.get_attribute("data-version")))
        for row in page.locator("table.leaderboard tbody tr").all()
    }
    assert newest <= after - before
