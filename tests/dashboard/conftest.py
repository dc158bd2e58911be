"""A real shopsense server on loopback (uvicorn in a thread) over the trained test shop,
and Debian's chromium driven by Playwright. Without /usr/bin/chromium (``make test``
installs it) the browser tests are skipped with that reason."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from shopsense.core.settings import Settings, load_settings
from shopsense.dashboard.browser import CHROMIUM, CHROMIUM_FLAGS
from shopsense.serve import create_app
from shopsense.serve.security import create_api_key
from shopsense.store import open_store
from tests.serve.conftest import MODELS, trained_shop  # noqa: F401  (a fixture, shared)


@dataclass
class LiveServer:
    url: str
    settings: Settings
    keys: dict[str, str]

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"Bearer {self.keys['admin']}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: Any = None) -> Any:
        response = httpx.post(
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.keys['admin']}"},
            timeout=60,
        )
        response.raise_for_status()
        return response.json()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(
    trained_shop: Path,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("dashboard-shop")
    shutil.copy(trained_shop / "shopsense.duckdb", directory / "shopsense.duckdb")
    port = _free_port()
    settings = load_settings(
        data_dir=directory,
        recommenders=MODELS,
        serve={"retrain_every_hours": None, "host": "127.0.0.1", "port": port},
    )
    with open_store(settings.resolved_store_url) as store:
        keys = {
            scope: create_api_key(store, name=f"dashboard-{scope}", scopes=[scope])[1]
            for scope in ("read", "admin")
        }
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/health/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        raise RuntimeError("the dashboard test server did not become ready")
    yield LiveServer(url=url, settings=settings, keys=keys)
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium for one test module. Not for the whole session: Playwright's sync API
    keeps an asyncio loop running in the main thread while it is open, and later tests
    that call ``asyncio.run`` would fail."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_FLAGS)
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) whose console errors fail the test."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.console_errors = errors
    yield opened
    context.close()
    assert not errors, f"console errors: {errors}"


PHONE = {"width": 390, "height": 844}


@pytest.fixture
def phone(browser: Any, live_server: LiveServer) -> Iterator[Any]:
    """A fresh page at phone width (no cookies: sign in first)."""
    context = browser.new_context(base_url=live_server.url, viewport=PHONE)
    try:
        yield context.new_page()
    finally:
        context.close()


def sideways_overflow(page: Any) -> float:
    """How many pixels the page is wider than the window (0: no sideways scrolling)."""
    overflow: float = page.evaluate(
        "() => document.documentElement.scrollWidth - window.innerWidth"
    )
    return overflow


def sign_in(page: Any, server: LiveServer, scope: str = "read") -> None:
    page.goto("/signin")
    page.fill("#key", server.keys[scope])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/")
