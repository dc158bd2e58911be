"""Settings, the error tree, logging set-up, clocks and ids."""

from shopsense.core.errors import (
    ConfigurationError,
    ImportDataError,
    NotFittedError,
    NotFoundError,
    SchemaVersionError,
    ShopsenseError,
    StoreError,
    ValidationFailedError,
)
from shopsense.core.settings import Settings, get_settings

__all__ = [
    "ConfigurationError",
    "ImportDataError",
    "NotFittedError",
    "NotFoundError",
    "SchemaVersionError",
    "Settings",
    "ShopsenseError",
    "StoreError",
    "ValidationFailedError",
    "get_settings",
]
