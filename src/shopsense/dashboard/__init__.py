"""The web dashboard: server-rendered pages over the same services as the REST API,
served at ``/`` by :func:`shopsense.serve.create_app` (see ``docs/dashboard.md``)."""

from shopsense.dashboard.routes import router

__all__ = ["router"]
