"""Open a store by URL: the scheme picks the backend (``duckdb://``; more later)."""

from __future__ import annotations

from pathlib import Path

from shopsense.core.errors import ConfigurationError
from shopsense.store.base import Store
from shopsense.store.duckdb import DuckDBStore

SCHEMES: tuple[str, ...] = ("duckdb",)


def open_store(url: str, *, read_only: bool = False) -> Store:
    """Open (creating and migrating when needed) the store at ``url``.

    ``duckdb://path/to/file.duckdb`` (relative or ``duckdb:///abs/path``) or
    ``duckdb://:memory:`` for a throw-away store.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SCHEMES:
        raise ConfigurationError(
            f"unsupported store URL {url!r}; expected one of: "
            + ", ".join(f"{name}://..." for name in SCHEMES)
        )
    if rest == ":memory:":
        return DuckDBStore(url=url, path=None, read_only=read_only)
    if not rest:
        raise ConfigurationError(f"store URL {url!r} names no file")
    return DuckDBStore(url=url, path=Path(rest), read_only=read_only)
