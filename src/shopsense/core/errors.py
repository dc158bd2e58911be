"""The one error tree of shopsense.

Every error that shopsense raises on purpose derives from :class:`ShopsenseError`, so
that the CLI and the HTTP layer can map all of them with one handler::

    ShopsenseError                 code="error"            HTTP 500
    ├── ConfigurationError         code="configuration"    HTTP 500
    ├── ValidationFailedError      code="validation"       HTTP 422
    │   └── ImportDataError        code="import"           HTTP 422
    ├── NotFoundError              code="not_found"        HTTP 404
    ├── NotFittedError             code="not_fitted"       HTTP 409
    ├── AuthenticationError        code="unauthenticated"  HTTP 401
    ├── PermissionDeniedError      code="forbidden"        HTTP 403
    ├── RateLimitedError           code="rate_limited"     HTTP 429
    ├── PayloadTooLargeError       code="payload_too_large" HTTP 413
    ├── ServiceUnavailableError    code="unavailable"      HTTP 503
    └── StoreError                 code="store"            HTTP 503
        └── SchemaVersionError     code="schema_version"   HTTP 503

Each class carries a stable machine-readable ``code`` and an ``http_status``; the message
is written for a person and says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class ShopsenseError(Exception):
    """Root of every error shopsense raises on purpose."""

    code: str = "error"
    http_status: int = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details or {}

    def to_problem(self) -> dict[str, Any]:
        """The error as an RFC 9457 problem document (without ``type``/``instance``)."""
        problem: dict[str, Any] = {
            "title": type(self).__name__,
            "status": self.http_status,
            "code": self.code,
            "detail": self.message,
        }
        if self.details:
            problem["details"] = self.details
        return problem


class ConfigurationError(ShopsenseError):
    """Settings are missing, contradictory or point at something that does not exist."""

    code = "configuration"


class ValidationFailedError(ShopsenseError):
    """Input data does not satisfy the schema; ``details`` lists the failing fields."""

    code = "validation"
    http_status = 422


class ImportDataError(ValidationFailedError):
    """An import could not proceed (unreadable file, strict mode with bad rows, ...)."""

    code = "import"


class NotFoundError(ShopsenseError):
    """A user, item, order, model version or file that was asked for does not exist."""

    code = "not_found"
    http_status = 404


class NotFittedError(ShopsenseError):
    """A model was used before ``fit`` (mirrors scikit-learn's ``NotFittedError``)."""

    code = "not_fitted"
    http_status = 409


class AuthenticationError(ShopsenseError):
    """No API key, or one that is unknown, malformed or revoked."""

    code = "unauthenticated"
    http_status = 401


class PermissionDeniedError(ShopsenseError):
    """The API key is valid but lacks the scope the request needs."""

    code = "forbidden"
    http_status = 403


class RateLimitedError(ShopsenseError):
    """The API key sent more requests than its rate limit allows; ``retry_after`` is in
    seconds."""

    code = "rate_limited"
    http_status = 429

    def __init__(
        self, message: str, *, retry_after: float = 1.0, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class PayloadTooLargeError(ShopsenseError):
    """A request body or batch is larger than the server accepts."""

    code = "payload_too_large"
    http_status = 413


class ServiceUnavailableError(ShopsenseError):
    """The server cannot answer now (models not loaded yet, shutting down); retry later."""

    code = "unavailable"
    http_status = 503


class StoreError(ShopsenseError):
    """The store could not be opened, read or written."""

    code = "store"
    http_status = 503


class SchemaVersionError(StoreError):
    """The store's schema is newer than this version of shopsense understands."""

    code = "schema_version"


def describe_validation_error(
    error: ValidationError, columns: Mapping[str, str] | None = None
) -> str:
    """A short readable reason from a pydantic error: ``"price: input should be greater
    than or equal to 0"``. ``columns`` (shopsense field -> source column) names fields as
    the file does."""
    parts: list[str] = []
    for detail in error.errors(include_url=False, include_input=False):
        location = [str(part) for part in detail["loc"]]
        if location and columns and location[0] in columns and columns[location[0]] != location[0]:
            location[0] = columns[location[0]]
        message = str(detail["msg"]).removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        parts.append(f"{'.'.join(location)}: {message}" if location else message)
    return "; ".join(parts)
