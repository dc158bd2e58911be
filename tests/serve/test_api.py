"""The REST API end to end through FastAPI's TestClient on a small trained shop: every
endpoint, scopes, validation problems, idempotent ingestion, rules, cold start, live
histories, erasure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.serve.conftest import Api, copy_shop, start_api

NOW = datetime.now(UTC).replace(microsecond=0)


def event(
    event_id: str, user: str, item: str | None, kind: str = "view", **extra: Any
) -> dict[str, Any]:
    ts = extra.pop("ts", NOW)
    body = {"event_id": event_id, "type": kind, "user_id": user, "ts": ts.isoformat(), **extra}
    if item is not None:
        body["item_id"] = item
    return body


def buyers(api: Api, minimum: int = 3) -> list[str]:
    """Users with at least ``minimum`` purchases, most first."""
    table = api.store.read_events(types=["purchase"])
    counts = Counter(table.column("user_id").to_pylist())
    return [user for user, n in counts.most_common() if n >= minimum]


def recommend(api: Api, user: str, **params: Any) -> dict[str, Any]:
    return api.get(f"/v1/users/{user}/recommendations", "read", **params)


def item_ids(body: dict[str, Any]) -> list[str]:
    return [item["item_id"] for item in body["items"]]


# -- operations ----------------------------------------------------------------------------


def test_health_is_open_and_names_the_models_in_service(api: Api) -> None:
    assert api.client.get("/v1/health/live").json() == {"status": "alive"}
    ready = api.client.get("/v1/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert body["models"]["similar"]["model"] == "item-knn"
    assert body["models"]["cart"]["model"] == "bought-together"
    assert body["models"]["home"]["version"] >= 1
    assert api.client.get("/v1/health").status_code == 200


def test_metrics_count_requests_events_and_model_versions(api: Api) -> None:
    api.get("/v1/ping", "read")
    api.client.post("/v1/events", json=event("m1", "u-metrics", "I00001"), headers=api.headers())
    text = api.client.get("/metrics").text
    assert (
        'shopsense_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/v1/ping"'
        in text
    )
    assert "shopsense_events_ingested_total 1.0" in text
    assert 'shopsense_model_version{model="item-knn",scenario="similar"} 1.0' in text


def test_openapi_documents_every_route_and_the_event_schema(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    for path in (
        "/v1/events",
        "/v1/users/{user_id}/recommendations",
        "/v1/sessions/recommendations",
        "/v1/items/{item_id}/similar",
        "/v1/items/{item_id}/bought-together",
        "/v1/users/{user_id}",
        "/v1/models",
        "/v1/models/train",
    ):
        assert path in schema["paths"], path
    assert "Event" in schema["components"]["schemas"]
    assert "BearerToken" in schema["components"]["securitySchemes"]
    assert api.client.get("/docs").status_code == 200


def test_unknown_routes_and_methods_are_problems(api: Api) -> None:
    missing = api.client.get("/v1/nope", headers=api.headers())
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert "see /docs" in missing.json()["detail"]
    wrong = api.client.put("/v1/events", headers=api.headers())
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


# -- authentication and limits --------------------------------------------------------------


def test_scopes_are_enforced(api: Api) -> None:
    user = buyers(api)[0]
    path = f"/v1/users/{user}/recommendations"
    assert api.client.get(path).status_code == 401
    assert api.client.get(path, headers={"Authorization": "Bearer ss_nope_nope"}).status_code == 401
    assert api.client.get(path, headers=api.headers("ingest")).status_code == 403
    assert api.client.get(path, headers=api.headers("read")).status_code == 200
    assert api.client.get(path, headers={"X-API-Key": api.keys["admin"]}).status_code == 200
    body = event("s1", user, "I00001")
    assert api.client.post("/v1/events", json=body, headers=api.headers("read")).status_code == 403
    assert (
        api.client.post("/v1/events", json=body, headers=api.headers("ingest")).status_code == 200
    )
    assert api.client.delete(f"/v1/users/{user}", headers=api.headers("read")).status_code == 403
    assert api.client.post("/v1/models/train", headers=api.headers("ingest")).status_code == 403
    denied = api.client.get(path, headers=api.headers("ingest")).json()
    assert denied["code"] == "forbidden" and "read" in denied["detail"]


def test_rate_limit_answers_429_with_retry_after(api: Api) -> None:
    created = api.client.post(
        "/v1/keys",
        json={"name": "slow", "scopes": ["read"], "rate_limit": 1},
        headers=api.headers(),
    )
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.json()['token']}"}
    statuses = [api.client.get("/v1/ping", headers=headers).status_code for _ in range(4)]
    assert statuses[0] == 200 and statuses[-1] == 429
    limited = api.client.get("/v1/ping", headers=headers)
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["code"] == "rate_limited"


def test_keys_created_and_revoked_through_the_api_work_at_once(api: Api) -> None:
    created = api.client.post(
        "/v1/keys", json={"name": "shop", "scopes": ["read"]}, headers=api.headers()
    ).json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert api.client.get("/v1/ping", headers=headers).json()["key"] == "shop"
    listed = api.client.get("/v1/keys", headers=api.headers()).json()
    assert created["key_id"] in {key["key_id"] for key in listed}
    assert all("token" not in key for key in listed)
    revoked = api.client.delete(f"/v1/keys/{created['key_id']}", headers=api.headers())
    assert revoked.json()["revoked_at"] is not None
    assert api.client.get("/v1/ping", headers=headers).status_code == 401


@pytest.fixture
def small_api(trained_shop: Path, tmp_path: Path) -> Iterator[Api]:
    yield from start_api(copy_shop(trained_shop, tmp_path), max_request_bytes=4096, max_batch=5)


def test_request_size_and_batch_limits(small_api: Api) -> None:
    many = {"events": [event(f"b{i}", "u", "I00001") for i in range(6)]}
    too_many = small_api.client.post("/v1/events", json=many, headers=small_api.headers())
    assert too_many.status_code == 413
    assert "at most 5" in too_many.json()["detail"]
    big = {"events": [event("big", "u", "I00001", props={"note": "x" * 5000})]}
    too_big = small_api.client.post("/v1/events", json=big, headers=small_api.headers())
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/problem+json"
    assert small_api.store.count_events() == small_api.store.count_events()  # nothing added
    assert small_api.store.read_events(user_id="u").num_rows == 0


# -- ingestion ------------------------------------------------------------------------------


def test_events_single_batch_and_array_are_stored_and_idempotent(api: Api) -> None:
    before = api.store.count_events()
    one = api.client.post("/v1/events", json=event("e1", "new-u", "I00002"), headers=api.headers())
    assert one.json() == {"received": 1, "stored": 1, "duplicates": 0}
    batch = {"events": [event("e1", "new-u", "I00002"), event("e2", "new-u", "I00003")]}
    again = api.client.post("/v1/events", json=batch, headers=api.headers())
    assert again.json() == {"received": 2, "stored": 1, "duplicates": 1}
    array = [event("e3", "new-u", None, "search", query="mug"), event("e2", "new-u", "I00003")]
    third = api.client.post("/v1/events", json=array, headers=api.headers())
    assert third.json() == {"received": 2, "stored": 1, "duplicates": 1}
    assert api.store.count_events() == before + 3
    assert api.client.post("/v1/events", json={"events": []}, headers=api.headers()).json() == {
        "received": 0,
        "stored": 0,
        "duplicates": 0,
    }


def test_invalid_events_are_rejected_whole_with_field_paths(api: Api) -> None:
    before = api.store.count_events()
    batch = {
        "events": [
            event("ok", "u1", "I00001"),
            {"event_id": "bad", "type": "teleport", "user_id": "u1", "ts": "2024-01-01T00:00:00"},
            event("noitem", "u1", None, "purchase"),
        ]
    }
    response = api.client.post("/v1/events", json=batch, headers=api.headers())
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    fields = {error["field"] for error in problem["errors"]}
    assert {"events[1].type", "events[1].ts", "events[2]"} <= fields
    assert "nothing of the request was stored" in problem["detail"]
    assert api.store.count_events() == before
    single = api.client.post(
        "/v1/events", json={"type": "view", "user_id": "u", "item_id": "i"}, headers=api.headers()
    )
    assert single.status_code == 422
    assert [error["field"] for error in single.json()["errors"]] == ["ts"]
    whole = api.client.post(
        "/v1/events", json=event("w", "u", None, "purchase"), headers=api.headers()
    )
    assert [error["field"] for error in whole.json()["errors"]] == ["body"]
    broken = api.client.post(
        "/v1/events",
        content=b"{not json",
        headers={**api.headers(), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["detail"]
    query = api.client.get("/v1/users/u/recommendations?n=1000", headers=api.headers())
    assert query.status_code == 422
    assert query.json()["errors"][0]["field"] == "query.n"


def test_catalog_users_and_orders_crud(api: Api) -> None:
    headers = api.headers()
    item = {
        "item_id": "NEW1",
        "title": "Walnut desk lamp",
        "category": ["Home", "Lighting"],
        "price": 30,
    }
    assert api.client.post("/v1/items", json={"items": [item]}, headers=headers).json() == {
        "received": 1,
        "written": 1,
    }
    assert api.client.get("/v1/items/NEW1", headers=headers).json()["title"] == "Walnut desk lamp"
    patched = api.client.patch("/v1/items/NEW1", json={"in_stock": False}, headers=headers).json()
    assert patched["in_stock"] is False and patched["title"] == "Walnut desk lamp"
    put = api.client.put("/v1/items/NEW1", json={"title": "Oak lamp"}, headers=headers).json()
    assert put["title"] == "Oak lamp" and put["in_stock"] is True
    mismatch = api.client.put("/v1/items/NEW1", json={"item_id": "OTHER"}, headers=headers)
    assert mismatch.status_code == 422
    assert api.client.delete("/v1/items/NEW1", headers=headers).status_code == 204
    assert api.client.get("/v1/items/NEW1", headers=headers).status_code == 404
    assert api.client.delete("/v1/items/NEW1", headers=headers).status_code == 404

    user = {"user_id": "c1", "attributes": {"tier": "gold"}}
    assert api.client.post("/v1/users", json=user, headers=headers).json()["written"] == 1
    patched_user = api.client.patch(
        "/v1/users/c1", json={"attributes": {"tier": "silver"}}, headers=headers
    )
    assert patched_user.json()["attributes"] == {"tier": "silver"}

    order = {
        "order_id": "o1",
        "user_id": "c1",
        "ts": NOW.isoformat(),
        "lines": [{"item_id": "I00001", "quantity": 2, "price": 3.5}],
    }
    assert (
        api.client.post("/v1/orders", json={"orders": [order]}, headers=headers).json()["written"]
        == 1
    )
    put_user = api.client.put("/v1/users/c2", json={"attributes": {"tier": "new"}}, headers=headers)
    assert put_user.json()["user_id"] == "c2"
    assert api.store.get_user("c2").attributes == {"tier": "new"}
    replaced = {**order, "lines": [{"item_id": "I00002", "quantity": 1, "price": 4.0}]}
    put_order = api.client.put("/v1/orders/o1", json=replaced, headers=headers)
    assert put_order.json()["lines"][0]["item_id"] == "I00002"
    assert api.client.put("/v1/orders/o1", json=order, headers=headers).status_code == 200
    status = api.client.patch("/v1/orders/o1", json={"status": "returned"}, headers=headers).json()
    assert status["status"] == "returned" and status["lines"][0]["quantity"] == 2
    assert api.client.get("/v1/orders/o1", headers=headers).json()["status"] == "returned"
    assert api.client.delete("/v1/orders/o1", headers=headers).status_code == 204
    assert api.client.get("/v1/orders/o1", headers=headers).status_code == 404


# -- recommendations ------------------------------------------------------------------------


def test_home_recommendations_carry_rec_id_scores_reasons_and_skip_purchases(api: Api) -> None:
    user = buyers(api)[0]
    body = recommend(api, user, n=8)
    assert body["scenario"] == "home" and not body["cold_start"]
    assert len(body["rec_id"]) == 32
    assert len(body["items"]) == 8
    bought = set(
        api.store.read_events(user_id=user, types=["purchase"]).column("item_id").to_pylist()
    )
    assert not bought & set(item_ids(body))
    for item in body["items"]:
        assert isinstance(item["score"], float)
        assert item["reason"]["text"] and item["reason"]["code"]
    assert any(item["reason"]["text"].startswith("because you") for item in body["items"])
    api.client.app.state.server.served.flush()  # type: ignore[attr-defined]
    served = api.store.read_served(user_id=user)
    assert served[-1].rec_id == body["rec_id"]
    assert list(served[-1].items) == item_ids(body)


def test_buy_again_lists_only_what_the_user_bought_with_a_cycle_reason(api: Api) -> None:
    user = buyers(api, minimum=5)[0]
    body = recommend(api, user, scenario="buy-again", n=5)
    bought = set(
        api.store.read_events(user_id=user, types=["purchase"]).column("item_id").to_pylist()
    )
    assert body["items"] and {item["item_id"] for item in body["items"]} <= bought
    assert all(item["reason"]["code"] == "buy_again" for item in body["items"])
    assert all("you b" in item["reason"]["text"] for item in body["items"])


def test_cart_scenario_complements_the_cart(api: Api) -> None:
    user = buyers(api)[0]
    cart = "I00001,I00002"
    body = recommend(api, user, scenario="cart", items=cart, n=5)
    assert not {"I00001", "I00002"} & set(item_ids(body))
    assert body["model"]["name"] in ("bought-together", "item-knn")
    assert {item["reason"]["code"] for item in body["items"]} <= {
        "bought_together",
        "also_bought",
        "trending",
        "popular",
    }
    api.client.post(
        "/v1/events", json=event("c1", user, "I00005", "add_to_cart"), headers=api.headers()
    )
    from_events = recommend(api, user, scenario="cart", n=5)
    assert "I00005" not in item_ids(from_events)


def test_item_page_needs_an_item_and_never_shows_it(api: Api) -> None:
    user = buyers(api)[0]
    missing = api.client.get(
        f"/v1/users/{user}/recommendations?scenario=item", headers=api.headers("read")
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "item_id"
    unknown = api.client.get(
        f"/v1/users/{user}/recommendations?scenario=item&item_id=NOPE", headers=api.headers("read")
    )
    assert unknown.status_code == 404
    body = recommend(api, user, scenario="item", item_id="I00003", n=6)
    assert body["items"] and "I00003" not in item_ids(body)


def test_similar_and_bought_together(api: Api) -> None:
    top = api.store.top_items(1, types=["purchase"])[0][0]
    similar = api.get(f"/v1/items/{top}/similar", "read", n=5)
    assert similar["items"] and top not in item_ids(similar)
    assert similar["items"][0]["reason"]["code"] == "similar"
    together = api.get(f"/v1/items/{top}/bought-together", "read", n=5)
    for item in together["items"]:
        assert 0 < item["confidence"] <= 1 and item["lift"] > 0
        assert "%" in item["reason"]["text"]
    assert api.client.get("/v1/items/NOPE/similar", headers=api.headers()).status_code == 404


def test_anonymous_session_gets_recommendations_from_its_items(api: Api) -> None:
    response = api.client.post(
        "/v1/sessions/recommendations",
        json={"items": ["I00003", "I00004"], "n": 5},
        headers=api.headers("read"),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["scenario"] == "session" and len(body["items"]) == 5
    assert body["user_id"] is None
    bad = api.client.post(
        "/v1/sessions/recommendations", json={"items": "I00003"}, headers=api.headers("read")
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "items"


def test_cold_start_user_gets_trending_items_and_category_filter_holds(api: Api) -> None:
    body = recommend(api, "someone-new", n=6)
    assert body["cold_start"] is True
    assert len(body["items"]) == 6
    assert {item["reason"]["code"] for item in body["items"]} <= {"trending", "popular"}
    category = body["items"][0]["category"][0]
    narrowed = recommend(api, "someone-new", n=4, category=category)
    assert narrowed["items"]
    assert all(category in item["category"] for item in narrowed["items"])
    assert all(
        category in item["reason"]["text"]
        for item in narrowed["items"]
        if item["reason"]["code"] == "trending"
    )


# -- business rules -------------------------------------------------------------------------


def test_inactive_and_out_of_stock_items_are_never_recommended(api: Api) -> None:
    user = buyers(api)[0]
    first = item_ids(recommend(api, user, n=10))
    similar_to = api.store.top_items(1, types=["purchase"])[0][0]
    first_similar = item_ids(api.get(f"/v1/items/{similar_to}/similar", "read", n=10))
    gone = {first[0], first_similar[0]}
    for index, item in enumerate(sorted(gone)):
        change = {"active": False} if index == 0 else {"in_stock": False}
        assert (
            api.client.patch(f"/v1/items/{item}", json=change, headers=api.headers()).status_code
            == 200
        )
    for scenario in ("home", "buy-again", "cart"):
        assert not gone & set(item_ids(recommend(api, user, n=20, scenario=scenario)))
    assert not gone & set(item_ids(recommend(api, "cold-user", n=50)))
    assert not gone & set(item_ids(api.get(f"/v1/items/{similar_to}/similar", "read", n=20)))


def test_diversity_boost_pin_and_exclude(api: Api) -> None:
    user = buyers(api)[0]
    diverse = recommend(api, user, n=5, diversity=1)
    tops = [item["category"][0] for item in diverse["items"] if item["category"]]
    assert len(tops) == len(set(tops))
    plain = recommend(api, user, n=10)
    brand = plain["items"][-1]["brand"]
    boosted = recommend(api, user, n=10, boost=f"brand:{brand}:1000")
    assert boosted["items"][0]["brand"] == brand
    pinned = recommend(api, user, n=5, pin="I00007")
    assert pinned["items"][0]["item_id"] == "I00007"
    assert pinned["items"][0]["reason"]["code"] == "pinned"
    excluded = recommend(api, user, n=10, exclude=",".join(item_ids(plain)[:3]))
    assert not set(item_ids(plain)[:3]) & set(item_ids(excluded))
    bad = api.client.get(
        f"/v1/users/{user}/recommendations?boost=brand-only", headers=api.headers("read")
    )
    assert bad.status_code == 422 and "field:value:factor" in bad.json()["detail"]


@pytest.fixture
def ruled_api(trained_shop: Path, tmp_path: Path) -> Iterator[Api]:
    yield from start_api(
        copy_shop(trained_shop, tmp_path),
        rules={"max_per_brand": 1, "pinned": {"home": ["I00009"]}},
    )


def test_rules_from_configuration_apply_to_every_request(ruled_api: Api) -> None:
    user = buyers(ruled_api)[0]
    body = recommend(ruled_api, user, n=8)
    assert body["items"][0]["item_id"] == "I00009"
    brands = [item["brand"] for item in body["items"] if item["brand"]]
    assert len(brands) == len(set(brands))


def test_a_new_catalog_item_is_recommendable_at_once_by_content(api: Api) -> None:
    user = buyers(api)[0]
    recent = api.store.read_events(user_id=user).column("item_id").to_pylist()
    source = api.store.get_item([item for item in recent if item][-1])
    new_item = {
        "item_id": "FRESH-1",
        "title": source.title,
        "category": source.category,
        "brand": source.brand,
        "price": source.price,
    }
    assert (
        api.client.put("/v1/items/FRESH-1", json=new_item, headers=api.headers()).status_code == 200
    )
    similar = api.get("/v1/items/FRESH-1/similar", "read", n=5)
    assert source.item_id in item_ids(similar)
    home = recommend(api, user, n=10)
    fresh = [item for item in home["items"] if item["item_id"] == "FRESH-1"]
    assert fresh and fresh[0]["reason"]["code"] == "new_item"


# -- live histories -------------------------------------------------------------------------


def test_viewing_a_category_moves_home_recommendations_towards_it_without_retraining(
    api: Api,
) -> None:
    user = buyers(api)[0]
    versions_before = api.get("/v1/health/ready")["models"]
    before = recommend(api, user, n=10)
    shown = Counter(item["category"][0] for item in before["items"] if item["category"])
    items = api.store.read_items().to_pylist()
    categories = Counter(item["category"][0] for item in items if item["category"])
    # The category the user is shown least of (among those with enough items).
    target = min((c for c, n in categories.items() if n >= 8), key=lambda c: (shown[c], c))
    popular = [item_id for item_id, _ in api.store.top_items(200, types=["purchase"])]
    in_target = [i["item_id"] for i in items if i["category"] and i["category"][0] == target]
    views = sorted(in_target, key=lambda i: popular.index(i) if i in popular else 999)[:6]
    batch = [
        event(f"live-{k}", user, item, ts=NOW + timedelta(seconds=k))
        for k, item in enumerate(views)
    ]
    assert (
        api.client.post("/v1/events", json={"events": batch}, headers=api.headers()).json()[
            "stored"
        ]
        == 6
    )
    after = recommend(api, user, n=10)
    moved = sum(1 for item in after["items"] if item["category"] and item["category"][0] == target)
    assert moved > shown[target], (target, shown, after["items"])
    assert moved >= 3
    assert api.get("/v1/health/ready")["models"] == versions_before  # no retraining


# -- profile and erasure --------------------------------------------------------------------


def test_profile_shows_recent_events_and_interests(api: Api) -> None:
    user = buyers(api)[0]
    profile = api.get(f"/v1/users/{user}", "read")
    assert profile["user_id"] == user
    assert profile["events"] > 0 and profile["purchases"] >= 3
    assert profile["recent_events"][0]["ts"] >= profile["recent_events"][-1]["ts"]
    interests = profile["interests"]
    assert (
        interests["categories"] and abs(sum(i["weight"] for i in interests["categories"]) - 1) < 0.3
    )
    assert interests["price"]["band"] in ("budget", "mid-range", "premium")
    assert api.client.get("/v1/users/ghost", headers=api.headers()).status_code == 404


def test_erasure_removes_everything_of_the_user_and_nothing_is_served_afterwards(api: Api) -> None:
    user = buyers(api)[0]
    api.client.post(
        "/v1/events", json=event("last", user, "I00010", "add_to_cart"), headers=api.headers()
    )
    api.client.post("/v1/users", json={"user_id": user}, headers=api.headers())
    personal = recommend(api, user, n=10)
    assert not personal["cold_start"]
    api.client.app.state.server.served.flush()  # type: ignore[attr-defined]
    assert api.store.read_served(user_id=user)
    erased = api.client.delete(f"/v1/users/{user}", headers=api.headers())
    assert erased.status_code == 200
    deleted = erased.json()["deleted"]
    assert (
        deleted["events"] > 0 and deleted["users"] == 1 and deleted["served_recommendations"] >= 1
    )
    assert api.store.read_events(user_id=user).num_rows == 0
    assert api.store.read_served(user_id=user) == []
    assert user not in api.store.read_order_lines().column("user_id").to_pylist()
    assert api.client.get(f"/v1/users/{user}", headers=api.headers()).status_code == 404
    after = recommend(api, user, n=10)
    assert after["cold_start"] is True
    assert recommend(api, user, n=10, scenario="buy-again")["items"] == []
    cold = recommend(api, "never-seen", n=10)
    assert item_ids(after) == item_ids(cold)  # exactly what a stranger gets


# -- models ---------------------------------------------------------------------------------


def test_models_list_and_background_training_swaps_versions(api: Api) -> None:
    listing = api.get("/v1/models", "read")
    assert listing["in_service"]["similar"] == {"name": "item-knn", "version": 1}
    assert any(v["name"] == "item-knn" and "Recall@20" in v["metrics"] for v in listing["versions"])
    started = api.client.post("/v1/models/train", headers=api.headers())
    assert started.status_code in (200, 202)
    status = api.client.app.state.server.trainer.wait(120)  # type: ignore[attr-defined]
    assert status.state == "succeeded", status.error
    after = api.get("/v1/models", "read")
    assert after["in_service"]["similar"] == {"name": "item-knn", "version": 2}
    assert after["training"]["state"] == "succeeded"
    assert recommend(api, buyers(api)[0], n=3)["model"]["version"] >= 2


def test_erasure_takes_the_user_out_of_trending_too(api: Api) -> None:
    views = [
        event(f"tr-{k}", "trend-setter", "I00042", ts=NOW - timedelta(minutes=k)) for k in range(5)
    ]
    assert api.client.post("/v1/events", json=views, headers=api.headers()).json()["stored"] == 5
    before = recommend(api, "stranger", n=3)
    assert before["items"][0]["item_id"] == "I00042"  # the only item viewed this week
    assert api.client.delete("/v1/users/trend-setter", headers=api.headers()).status_code == 200
    after = recommend(api, "stranger", n=3)
    assert "I00042" not in item_ids(after) or after["items"][0]["reason"]["code"] != "trending"


def test_pins_count_towards_n_and_the_caps(api: Api) -> None:
    user = buyers(api)[0]
    one = recommend(api, user, n=1, pin=["I00007", "I00008"])
    assert item_ids(one) == ["I00007"]
    items = api.store.read_items().to_pylist()
    category = next(i["category"][0] for i in items if i["item_id"] == "I00007")
    same = next(
        i["item_id"]
        for i in items
        if i["category"] and i["category"][0] == category and i["item_id"] != "I00007"
    )
    capped = recommend(api, user, n=5, pin=["I00007", same], diversity=1)
    tops = [item["category"][0] for item in capped["items"] if item["category"]]
    assert len(tops) == len(set(tops)) and same not in item_ids(capped)


def test_patch_merges_in_the_writer_so_concurrent_changes_both_land(api: Api) -> None:
    headers = api.headers()
    api.client.put("/v1/items/P1", json={"title": "Lamp", "price": 10}, headers=headers)
    api.client.patch("/v1/items/P1", json={"in_stock": False}, headers=headers)
    api.client.patch("/v1/items/P1", json={"price": 9}, headers=headers)
    item = api.client.get("/v1/items/P1", headers=headers).json()
    assert (item["in_stock"], item["price"], item["title"]) == (False, 9, "Lamp")
    bad = api.client.patch("/v1/items/P1", json={"price": -1}, headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "price"
    assert api.client.patch("/v1/items/NOPE", json={"price": 1}, headers=headers).status_code == 404


def test_a_session_with_unknown_items_does_not_grow_the_catalog(api: Api) -> None:
    server = api.client.app.state.server  # type: ignore[attr-defined]
    size = len(server.catalog)
    body = {"items": [f"made-up-{k}" for k in range(50)], "n": 3}
    response = api.client.post(
        "/v1/sessions/recommendations", json=body, headers=api.headers("read")
    )
    assert response.status_code == 200 and response.json()["cold_start"] is True
    assert len(server.catalog) == size
