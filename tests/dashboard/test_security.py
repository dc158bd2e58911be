"""The dashboard's sign-in and actions against the usual web attacks: the cookie is an
opaque session (not the API key) that sign-out kills, forms from other sites are
refused, pages cannot be framed, and bad query values give an error page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopsense.core.settings import load_settings
from shopsense.dashboard.web import SECURITY_HEADERS, SESSION_COOKIE, safe_next
from shopsense.serve import create_app
from shopsense.serve.security import create_api_key
from shopsense.store import open_store


@dataclass
class Dashboard:
    client: TestClient
    keys: dict[str, str]

    def sign_in(self, scope: str = "admin") -> str:
        response = self.client.post(
            "/signin", data={"key": self.keys[scope], "next": "/"}, follow_redirects=False
        )
        assert response.status_code == 303
        return response.cookies[SESSION_COOKIE]


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    settings = load_settings(data_dir=tmp_path, serve={"retrain_every_hours": None})
    with open_store(settings.resolved_store_url) as store:
        keys = {
            scope: create_api_key(store, name=scope, scopes=[scope])[1]
            for scope in ("read", "admin")
        }
    with TestClient(create_app(settings)) as client:
        yield Dashboard(client, keys)


def test_the_cookie_is_an_opaque_session_that_sign_out_ends(dashboard: Dashboard) -> None:
    session = dashboard.sign_in()
    assert session != dashboard.keys["admin"] and dashboard.keys["admin"] not in session
    assert dashboard.client.get("/", follow_redirects=False).status_code == 200
    dashboard.client.post("/signout", follow_redirects=False)
    # A copy of the cookie taken before signing out is worth nothing afterwards.
    dashboard.client.cookies.set(SESSION_COOKIE, session)
    assert dashboard.client.get("/", follow_redirects=False).status_code == 303
    dashboard.client.cookies.set(SESSION_COOKIE, dashboard.keys["admin"])  # the raw key
    assert dashboard.client.get("/", follow_redirects=False).status_code == 303


def test_forms_from_other_sites_are_refused(dashboard: Dashboard) -> None:
    dashboard.sign_in()
    page = dashboard.client.get("/models")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        refused = dashboard.client.post(
            "/models/train", data={"csrf": csrf}, headers=headers, follow_redirects=False
        )
        assert refused.status_code == 403, headers
        assert "another site" in refused.text
    same_site = dashboard.client.post(
        "/models/train",
        data={"csrf": "0" * 32},
        headers={"Origin": str(dashboard.client.base_url)},
        follow_redirects=False,
    )
    assert same_site.status_code == 403  # same origin, but not this sign-in's token


def test_pages_cannot_be_framed_or_cached(dashboard: Dashboard) -> None:
    for path in ("/signin", "/"):
        response = dashboard.client.get(path, follow_redirects=False)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)


def test_bad_query_values_get_an_error_page(dashboard: Dashboard) -> None:
    dashboard.sign_in("read")
    response = dashboard.client.get("/", params={"days": 0})
    assert response.status_code == 422
    assert "text/html" in response.headers["content-type"]
    assert "days" in response.text


def test_the_language_switch_keeps_the_rest_of_the_query(dashboard: Dashboard) -> None:
    dashboard.sign_in("read")
    page = dashboard.client.get(
        "/funnels", params=[("step", "view"), ("step", "purchase"), ("lang", "zh")]
    )
    assert 'href="/funnels?step=view&amp;step=purchase&amp;lang=en"' in page.text


@pytest.mark.parametrize(
    "target", ["//evil.example", "/\\evil.example", "/\t/evil.example", "https://evil.example"]
)
def test_sign_in_never_sends_a_browser_to_another_site(target: str) -> None:
    assert safe_next(target) == "/"
