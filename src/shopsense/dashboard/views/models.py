"""The dashboard's models pages."""

from __future__ import annotations

from shopsense.dashboard.web import page_router

router = page_router()

__all__ = ["router"]
