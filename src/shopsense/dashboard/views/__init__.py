"""The dashboard's areas beyond the analytics pages, one module each."""

from fastapi import APIRouter

from shopsense.dashboard.views import customers, data, experiments, items, models

AREAS: tuple[APIRouter, ...] = (
    customers.router,
    items.router,
    models.router,
    experiments.router,
    data.router,
)
"""The routers of the areas, in menu order."""

__all__ = ["AREAS"]
