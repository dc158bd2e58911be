"""Customer intelligence through the API: the profile's segment, churn risk with
drivers, value and next purchase; /v1/segments; /v1/customers/at-risk."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shopsense.models.customer.segments import SEGMENTS
from shopsense.serve.customers import SLIPPING_ACTION
from tests.serve.conftest import Api, copy_shop, start_api
from tests.serve.test_api import buyers


def test_the_profile_carries_segment_churn_value_and_next_purchase(api: Api) -> None:
    user = buyers(api)[0]
    profile = api.get(f"/v1/users/{user}", "read")
    customer = profile["customer"]
    assert profile["customer_note"] is None
    assert customer["segment"]["name"] in SEGMENTS
    assert customer["segment"]["action"] == SEGMENTS[customer["segment"]["name"]].action
    assert 1 <= customer["segment"]["r_score"] <= 5 and customer["segment"]["cluster_name"]
    churn = customer["churn"]
    assert 0.0 <= churn["probability"] <= 1.0 and churn["level"] in ("low", "medium", "high")
    assert churn["horizon_days"] == 90
    for driver in churn["drivers"]:
        assert driver["text"] and isinstance(driver["risk"], bool)
    value = customer["value"]
    assert value["expected_spend"] >= 0 and value["spend_model"] in ("learned", "probabilistic")
    assert value["clv"] is None or value["clv"] >= 0
    upcoming = customer["next_purchase"]
    assert upcoming["purchase_probability"] == pytest.approx(1 - churn["probability"], abs=1e-3)
    assert 0 <= upcoming["p_alive"] <= 1
    assert profile["interests"]["categories"]


def test_the_profile_is_scored_live_from_the_stored_events(api: Api) -> None:
    profiles = ((user, api.get(f"/v1/users/{user}", "read")["customer"]) for user in buyers(api))
    user, before = next((u, c) for u, c in profiles if c["segment"]["r_score"] < 5)
    # A purchase at the shop's clock: the very next profile counts it.
    now = api.store.event_summary().last_ts
    assert now is not None
    item = api.store.read_events(user_id=user, types=["purchase"]).column("item_id")[0].as_py()
    body = {
        "event_id": "live-purchase",
        "type": "purchase",
        "user_id": user,
        "item_id": item,
        "ts": now.isoformat(),
        "quantity": 1,
        "price": 10.0,
    }
    assert api.client.post("/v1/events", json=body, headers=api.headers()).status_code == 200
    after = api.get(f"/v1/users/{user}", "read")["customer"]
    assert after["segment"]["r_score"] == 5
    assert after["value"]["expected_purchases"] != before["value"]["expected_purchases"]


def test_a_visitor_who_never_bought_has_a_note_instead(api: Api) -> None:
    body = {"event_id": "v1", "type": "view", "user_id": "window-shopper", "item_id": "I00001"}
    body["ts"] = api.store.event_summary().last_ts.isoformat()  # type: ignore[union-attr]
    assert api.client.post("/v1/events", json=body, headers=api.headers()).status_code == 200
    profile = api.get("/v1/users/window-shopper", "read")
    assert profile["customer"] is None
    assert "no purchase yet" in profile["customer_note"]


def test_segments_cover_every_scored_customer(api: Api) -> None:
    overview = api.get("/v1/segments", "read")
    assert overview["customers"] > 0 and overview["model_version"] >= 1
    assert sum(segment["customers"] for segment in overview["rfm"]) == overview["customers"]
    assert sum(segment["share"] for segment in overview["rfm"]) == pytest.approx(1, abs=1e-3)
    names = [segment["name"] for segment in overview["rfm"]]
    assert names == [name for name in SEGMENTS if name in names]  # the canonical order
    assert overview["clusters"]
    assert sum(cluster["customers"] for cluster in overview["clusters"]) == overview["customers"]
    assert all(cluster["description"] for cluster in overview["clusters"])


def test_at_risk_lists_valuable_customers_with_an_action_and_a_win_back_list(api: Api) -> None:
    report: dict[str, Any] = api.get("/v1/customers/at-risk", "read", top=5)
    assert "churn probability >=" in report["criteria"]
    customers = report["customers"]
    assert len(customers) <= 5
    risks = [customer["value_at_risk"] for customer in customers]
    assert risks == sorted(risks, reverse=True)
    for customer in customers:
        assert customer["churn_probability"] >= 0.5
        assert customer["action"].endswith((SEGMENTS[customer["segment"]].action, SLIPPING_ACTION))
        bought = set(
            api.store.read_events(user_id=customer["user_id"], types=["purchase"])
            .column("item_id")
            .to_pylist()
        )
        win_back = [item["item_id"] for item in customer["win_back"]]
        assert 0 < len(win_back) <= 5 and not bought & set(win_back)
    without = api.get("/v1/customers/at-risk", "read", top=5, win_back="false")
    assert all(customer["win_back"] == [] for customer in without["customers"])
    bad = api.client.get("/v1/customers/at-risk?top=0", headers=api.headers("read"))
    assert bad.status_code == 422


@pytest.fixture
def untrained_api(trained_shop: Path, tmp_path: Path) -> Iterator[Api]:
    """The shop with its customer models deregistered (as before the first training)."""
    directory = copy_shop(trained_shop, tmp_path)
    with duckdb.connect(str(directory / "shopsense.duckdb")) as connection:
        connection.execute("DELETE FROM model_versions WHERE name = 'customers'")
    yield from start_api(directory)


def test_before_training_the_lists_say_what_to_run(untrained_api: Api) -> None:
    api = untrained_api
    for path in ("/v1/segments", "/v1/customers/at-risk"):
        response = api.client.get(path, headers=api.headers("read"))
        assert response.status_code == 409
        assert "shopsense customers train" in response.json()["detail"]
    profile = api.get(f"/v1/users/{buyers(api)[0]}", "read")
    assert profile["customer"] is None and "customers train" in profile["customer_note"]


def test_a_first_purchase_after_the_newest_event_is_counted_at_once(api: Api) -> None:
    last = api.store.event_summary().last_ts
    assert last is not None
    body = {
        "event_id": "first-order",
        "type": "purchase",
        "user_id": "newcomer",
        "item_id": "I00001",
        "ts": (last + timedelta(hours=1)).isoformat(),
        "quantity": 1,
        "price": 12.0,
    }
    assert api.client.post("/v1/events", json=body, headers=api.headers()).status_code == 200
    customer = api.get("/v1/users/newcomer", "read")["customer"]
    assert customer is not None
    assert customer["segment"]["r_score"] == 5 and customer["segment"]["f_score"] == 1
    assert customer["next_purchase"]["p_alive"] is None  # one purchase: no evidence yet
