"""How shopsense's tooling (the browser tests, ``make screenshots``) starts Debian's
chromium: headless, and without the background connections a machine without network
would refuse (dozens of them at every start)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's chromium (package ``chromium``; ``make test`` installs it)."""

CHROMIUM_FLAGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS"]
