"""The HTTP API: :func:`create_app` builds it, ``shopsense serve`` runs it."""

from shopsense.serve.app import create_app

__all__ = ["create_app"]
