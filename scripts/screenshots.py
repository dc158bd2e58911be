"""Render every dashboard page of the demo shop to PNG (``make screenshots``).

Starts the real server over the demo shop's data directory on a free loopback port,
signs in with a fresh admin key, and drives Debian's chromium (Playwright) through the
pages: English at laptop width, the overview in Chinese, and the overview at phone width.
The PNGs go to ``docs/images/`` and the README shows them.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn
from playwright.sync_api import Page, sync_playwright

from shopsense.core.settings import load_settings
from shopsense.dashboard.browser import CHROMIUM, CHROMIUM_FLAGS
from shopsense.serve import create_app
from shopsense.serve.security import create_api_key
from shopsense.store import open_store

LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _first_link(page: Page, prefix: str) -> str | None:
    """The first link on the page into ``prefix`` (a customer, an item, an experiment)."""
    links = page.locator(f"main a[href^='{prefix}']")
    return links.first.get_attribute("href") if links.count() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=Path("shopsense-data"))
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    if not (args.data_dir / "shopsense.duckdb").exists():
        sys.exit(f"no demo shop in {args.data_dir}: run `shopsense demo --no-serve` first")
    port = _free_port()
    settings = load_settings(
        data_dir=args.data_dir, serve={"retrain_every_hours": None, "port": port}
    )
    with open_store(settings.resolved_store_url) as store:
        record, token = create_api_key(store, name="screenshots", scopes=["admin"])
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{url}/v1/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        headers = {"Authorization": f"Bearer {token}"}
        if not httpx.get(f"{url}/v1/experiments", headers=headers, timeout=30).json():
            # A draft to show the experiment page (a demo shop has none of its own).
            httpx.post(
                f"{url}/v1/experiments",
                headers=headers,
                timeout=30,
                json={
                    "name": "home: popular vs the best personal model",
                    "scenario": "home",
                    "variants": [
                        {"name": "control", "model": "popular"},
                        {"name": "personal", "model": "best"},
                    ],
                },
            ).raise_for_status()
        args.out.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS)
            )

            def shoot(name: str, path: str, viewport: dict[str, int] = LAPTOP) -> Page:
                context = browser.new_context(base_url=url, viewport=viewport)
                page = context.new_page()
                page.goto("/signin")
                page.fill("#key", token)
                page.click("button[type=submit]")
                page.wait_for_url(f"{url}/")
                response = page.goto(path)
                if response is None or response.status != 200:
                    sys.exit(f"{path} answered {response.status if response else 'nothing'}")
                page.wait_for_timeout(400)  # charts finish drawing
                target = args.out / f"{name}.png"
                page.screenshot(path=str(target), full_page=True)
                print(f"wrote {target}")
                return page

            shoot("overview", "/")
            shoot("overview-zh", "/?lang=zh")
            shoot("overview-phone", "/?lang=en", PHONE)
            shoot("retention", "/retention")
            shoot("funnels", "/funnels")
            customers = shoot("customers", "/customers")
            if (link := _first_link(customers, "/customers/")) is not None:
                shoot("customer", link)
            items = shoot("items", "/items")
            if (link := _first_link(items, "/items/")) is not None:
                shoot("item", link)
            shoot("models", "/models")
            experiments = shoot("experiments", "/experiments")
            if (link := _first_link(experiments, "/experiments/")) is not None:
                shoot("experiment", link)
            shoot("data", "/data")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(30)
        with open_store(settings.resolved_store_url) as store:
            store.revoke_api_key(record.key_id)  # a key for one run, never left usable


if __name__ == "__main__":
    main()
