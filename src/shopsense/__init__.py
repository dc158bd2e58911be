"""shopsense: a self-hosted AI engine that makes online shoppers come back.

The package does no work at import time; the pieces live in sub-packages
(see docs/architecture in the repository):

- ``shopsense.core``: settings, the error tree, logging set-up, clocks and ids.
- ``shopsense.data``: pydantic schemas, importers and the shop simulator.
- ``shopsense.store``: storage Protocols and their backends (DuckDB by default).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("shopsense")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
