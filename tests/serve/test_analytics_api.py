"""Analytics through the API: every report answers what the library computes, a served
list and the events citing it show up in attribution, bad queries get a 422."""

from __future__ import annotations

from datetime import date

import pytest

from shopsense.analytics.requests import REQUESTS
from tests.serve.conftest import Api


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_every_report_equals_the_library(api: Api, kind: str) -> None:
    params = {"start": "2024-02-01", "end": "2024-04-01"}
    body = api.get(f"/v1/analytics/{kind}", "read", **params)
    expected = REQUESTS[kind].parse(**params).run(api.store, api.settings.analytics).to_dict()
    assert body == expected
    assert body["kind"] == kind
    for table in body["tables"].values():  # type: ignore[attr-defined]
        assert all(len(row) == len(table["columns"]) for row in table["rows"])


def test_reports_cover_the_days_before_the_newest_event_by_default(api: Api) -> None:
    body = api.get("/v1/analytics/stickiness", "read", days=14, interval="week")
    query = body["query"]
    newest = api.store.event_summary().last_ts
    assert newest is not None
    assert query["end"] == date.fromordinal(newest.date().toordinal() + 1).isoformat()  # type: ignore[index]
    assert query["start"] == date.fromordinal(newest.date().toordinal() - 13).isoformat()  # type: ignore[index]
    assert body["summary"]["active_users"] > 0  # type: ignore[index]


def test_a_served_list_and_the_events_citing_it_are_attributed(api: Api) -> None:
    user = "analytics-shopper"
    served = api.client.get(
        f"/v1/users/{user}/recommendations", headers=api.headers("read"), params={"n": 5}
    ).json()
    api.client.app.state.server.served.flush()  # type: ignore[attr-defined]
    item = served["items"][0]["item_id"]
    ts = api.store.read_served(user_id=user)[0].ts.isoformat()
    events = [
        {"type": "click", "user_id": user, "item_id": item, "ts": ts, "rec_id": served["rec_id"]},
        {"type": "purchase", "user_id": user, "item_id": item, "ts": ts, "price": 12.5},
    ]
    posted = api.client.post("/v1/events", json={"events": events}, headers=api.headers("ingest"))
    assert posted.status_code == 200, posted.text
    day = api.store.read_served(user_id=user)[0].ts.date()
    body = api.get(
        "/v1/analytics/attribution",
        "read",
        start=day.isoformat(),
        end=date.fromordinal(day.toordinal() + 1).isoformat(),
        by="scenario",
    )
    (row,) = body["tables"]["lists"]["rows"]  # type: ignore[index]
    record = dict(zip(body["tables"]["lists"]["columns"], row, strict=True))  # type: ignore[index]
    assert record["scenario"] == "home" and record["lists"] == 1
    assert record["clicks"] == 1 and record["conversions"] == 1 and record["gmv"] == 12.5


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/v1/analytics/retention", {"interval": "year"}),
        ("/v1/analytics/retention", {"colour": "red"}),
        ("/v1/analytics/funnel", {"steps": "view"}),
        ("/v1/analytics/stickiness", {"breakdown": "colour"}),
        ("/v1/analytics/stickiness", {"start": "2024-03-01", "end": "2024-02-01"}),
    ],
)
def test_bad_queries_are_422_with_a_reason(api: Api, path: str, params: dict[str, str]) -> None:
    response = api.client.get(path, headers=api.headers("read"), params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_analytics_need_the_read_scope(api: Api) -> None:
    response = api.client.get("/v1/analytics/lifecycle", headers=api.headers("ingest"))
    assert response.status_code == 403
