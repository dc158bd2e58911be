"""Experiments through the API: create, start (serving assigns users deterministically
and logs exposures), results with a verdict, stop."""

from __future__ import annotations

from typing import Any

from tests.serve.conftest import Api
from tests.serve.test_api import buyers


def create(api: Api, **changes: Any) -> dict[str, Any]:
    body = {
        "name": "popular vs default",
        "scenario": "home",
        "variants": [{"name": "control"}, {"name": "popular", "model": "popular"}],
        "primary_metric": "conversion",
        "guardrails": ["revenue_per_user", "rec_ctr"],
    } | changes
    response = api.client.post("/v1/experiments", json=body, headers=api.headers())
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_running_experiment_assigns_serves_exposes_and_reports(api: Api) -> None:
    experiment = create(api)
    assert experiment["status"] == "draft"
    experiment_id = experiment["experiment_id"]
    started = api.client.post(f"/v1/experiments/{experiment_id}/start", headers=api.headers())
    assert started.status_code == 200, started.text
    assert started.json()["status"] == "running"
    users = buyers(api, minimum=1)[:40]
    seen: dict[str, str] = {}
    for user in users:
        for _ in range(2):  # sticky: the same variant every time
            body = api.get(f"/v1/users/{user}/recommendations", "read", n=5)
            variant = body["experiment"]["variant"]  # type: ignore[index]
            assert body["experiment"]["id"] == experiment_id  # type: ignore[index]
            assert seen.setdefault(user, variant) == variant
            if variant == "popular":
                assert body["model"]["name"] == "popular"  # type: ignore[index]
    assert set(seen.values()) == {"control", "popular"}
    # Other scenarios are not in the experiment.
    cart = api.get(f"/v1/users/{users[0]}/recommendations", "read", scenario="buy-again")
    assert cart["experiment"] is None
    api.client.app.state.server.served.flush()  # type: ignore[attr-defined]
    counts = api.store.exposure_counts(experiment_id)
    assert sum(counts.values()) == len(users)
    assert counts == {v: list(seen.values()).count(v) for v in ("control", "popular")}
    results = api.get(f"/v1/experiments/{experiment_id}/results", "read")
    assert results["exposures"] == counts
    assert [m["metric"] for m in results["metrics"]] == [  # type: ignore[index]
        "conversion",
        "revenue_per_user",
        "rec_ctr",
    ]
    assert results["verdicts"][0]["variant"] == "popular"  # type: ignore[index]
    assert results["summary"]
    stopped = api.client.post(f"/v1/experiments/{experiment_id}/stop", headers=api.headers())
    assert stopped.json()["status"] == "stopped"
    after = api.get(f"/v1/users/{users[0]}/recommendations", "read", n=5)
    assert after["experiment"] is None
    listed = api.get("/v1/experiments", "read")
    assert [e["experiment_id"] for e in listed] == [experiment_id]  # type: ignore[union-attr]


def test_bad_experiments_are_refused_with_reasons(api: Api) -> None:
    bad = api.client.post(
        "/v1/experiments",
        json={"name": "x", "scenario": "home", "variants": [{"name": "only"}]},
        headers=api.headers(),
    )
    assert bad.status_code == 422
    typo = create(api, variants=[{"name": "a"}, {"name": "b", "model": "nope"}])
    refused = api.client.post(
        f"/v1/experiments/{typo['experiment_id']}/start", headers=api.headers()
    )
    assert refused.status_code == 422 and "no serving version" in refused.json()["detail"]
    assert api.client.get("/v1/experiments/nope", headers=api.headers()).status_code == 404
    read_only = api.client.post(
        "/v1/experiments",
        json={"name": "x", "scenario": "home", "variants": [{"name": "a"}, {"name": "b"}]},
        headers=api.headers("read"),
    )
    assert read_only.status_code == 403


def test_an_experiment_whose_model_cannot_load_is_not_started(api: Api) -> None:
    broken = api.store.register_model(
        "item-knn",
        artifact_uri="file:///nonexistent/item-knn",
        params={},
        metrics={},
        data_fingerprint="broken",
    )
    api.store.promote_model("item-knn", broken.version)
    experiment = create(api, variants=[{"name": "a"}, {"name": "b", "model": "item-knn"}])
    refused = api.client.post(
        f"/v1/experiments/{experiment['experiment_id']}/start", headers=api.headers()
    )
    assert refused.status_code == 422, refused.text
    assert "could not be loaded" in refused.json()["detail"]
    again = api.get(f"/v1/experiments/{experiment['experiment_id']}", "read")
    assert again["status"] == "draft"
    body = api.get(f"/v1/users/{buyers(api)[0]}/recommendations", "read")
    assert body["experiment"] is None
