"""Settings, the error tree, logging set-up, clocks and ids."""

from shopsense.core.errors import (
    AuthenticationError,
    ConfigurationError,
    ImportDataError,
    NotFittedError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    SchemaVersionError,
    ServiceUnavailableError,
    ShopsenseError,
    StoreError,
    ValidationFailedError,
)
from shopsense.core.settings import Settings, get_settings

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ImportDataError",
    "NotFittedError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SchemaVersionError",
    "ServiceUnavailableError",
    "Settings",
    "ShopsenseError",
    "StoreError",
    "ValidationFailedError",
    "get_settings",
]
