"""The dashboard's data pages."""

from __future__ import annotations

from shopsense.dashboard.web import page_router

router = page_router()

__all__ = ["router"]
