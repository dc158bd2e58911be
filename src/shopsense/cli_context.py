"""What the ``shopsense`` sub-apps (``keys``, ``customers``, ``predict``) share: the
settings and the store of the command line they run in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from shopsense.core.settings import Settings, load_settings
from shopsense.store import Store, open_store


def command_settings(ctx: typer.Context) -> Settings:
    """The settings :mod:`shopsense.cli` keeps on ``ctx.obj.settings``; a sub-app run on
    its own (no parent callback) reads them from the environment like the parent would."""
    settings = getattr(ctx.obj, "settings", None)
    return settings if isinstance(settings, Settings) else load_settings()


@contextmanager
def command_store(ctx: typer.Context) -> Iterator[Store]:
    """The store of the command's settings, open for the command's duration."""
    with open_store(command_settings(ctx).resolved_store_url) as store:
        yield store


__all__ = ["command_settings", "command_store"]
