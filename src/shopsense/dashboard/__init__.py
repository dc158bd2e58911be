"""The web dashboard: server-rendered pages over the same services as the REST API,
served at ``/`` by :func:`shopsense.serve.create_app` (see ``docs/dashboard.md``).

Each area of the dashboard is a module with its own router; :func:`router` joins them."""

from fastapi import APIRouter

from shopsense.dashboard.web import install, static_directory


def router() -> APIRouter:
    """Every page of the dashboard (built when the app is, not at import)."""
    from shopsense.dashboard import routes  # noqa: PLC0415
    from shopsense.dashboard.views import AREAS  # noqa: PLC0415

    joined = APIRouter(include_in_schema=False)
    joined.include_router(routes.router)
    for area in AREAS:
        joined.include_router(area)
    return joined


__all__ = ["install", "router", "static_directory"]
