"""Logging set-up. Only entry points (the CLI, the server) call :func:`configure_logging`;
library code just uses ``logging.getLogger(__name__)``."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler


def configure_logging(level: str = "INFO") -> None:
    """Send shopsense's log records to stderr through rich, at ``level``."""
    handler = RichHandler(
        console=Console(stderr=True),
        show_path=False,
        show_time=False,
        rich_tracebacks=False,
        markup=False,
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("shopsense")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
