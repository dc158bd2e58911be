"""Every error as an RFC 9457 problem document (``application/problem+json``).

One handler maps the whole :class:`~shopsense.core.errors.ShopsenseError` tree (status
and code from the class), request validation errors get a list of ``errors`` with the
path of each failing field (``events[3].ts``), unknown routes and methods keep their
404 / 405, and anything unexpected is a 500 whose body says nothing internal (the log
has the traceback). Bad input is never a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopsense.core.errors import RateLimitedError, ShopsenseError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "urn:shopsense:problem:"
"""``type`` of every problem is this prefix and the error's stable code."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "example": "urn:shopsense:problem:validation"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}
    for status, description in (
        (401, "No API key, or an unknown or revoked one"),
        (403, "The API key lacks the scope"),
        (422, "Invalid input; `errors` lists each failing field"),
        (429, "Rate limit exceeded; see Retry-After"),
    )
}
"""Documented in OpenAPI on every /v1 route."""


def problem(
    request: Request,
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + code,
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
        "instance": request.url.path,
        **{key: value for key, value in extra.items() if value is not None},
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def field_path(location: Sequence[str | int]) -> str:
    """``("body", "events", 3, "ts")`` -> ``"events[3].ts"``; query and path parameters
    keep their origin: ``"query.n"``."""
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[1:]
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "body"


def field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic's error list as ``[{"field": path, "message": text}]``."""
    found: list[dict[str, str]] = []
    for error in errors:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        found.append({"field": field_path(error.get("loc", ())), "message": message})
    return found


def validation_problem(
    request: Request, errors: Sequence[Any], *, what: str = "request"
) -> JSONResponse:
    listed = field_errors(errors)
    first = listed[0] if listed else {"field": "body", "message": "invalid"}
    more = f" (and {len(listed) - 1} more)" if len(listed) > 1 else ""
    return problem(
        request,
        status=422,
        code="validation",
        title="ValidationFailedError",
        detail=f"the {what} is invalid: {first['field']}: {first['message']}{more}; "
        "nothing of it was stored",
        errors=listed,
    )


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def shopsense_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ShopsenseError)
        headers = None
        if isinstance(error, RateLimitedError):
            headers = {"Retry-After": str(max(1, round(error.retry_after + 0.5)))}
        if error.http_status >= 500:
            logger.error("%s %s: %s", request.method, request.url.path, error.message)
        errors = error.details.get("errors")
        if errors is None and isinstance(error.details.get("field"), str):
            errors = [{"field": error.details["field"], "message": error.message}]
        details = {k: v for k, v in error.details.items() if k not in ("errors", "field")} or None
        return problem(
            request,
            status=error.http_status,
            code=error.code,
            title=type(error).__name__,
            detail=error.message,
            headers=headers,
            errors=errors,
            details=details,
        )

    async def request_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError | ValidationError)
        return validation_problem(request, error.errors())

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http")
        detail = error.detail if isinstance(error.detail, str) else str(error.detail)
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        return problem(
            request,
            status=error.status_code,
            code=code,
            title="HTTPError",
            detail=detail,
            headers=dict(error.headers) if error.headers else None,
        )

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("unexpected error in %s %s", request.method, request.url.path)
        return problem(
            request,
            status=500,
            code="internal",
            title="InternalError",
            detail="an unexpected error; it is logged on the server",
        )

    app.add_exception_handler(ShopsenseError, shopsense_error)
    app.add_exception_handler(RequestValidationError, request_validation)
    app.add_exception_handler(ValidationError, request_validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_RESPONSES",
    "field_errors",
    "field_path",
    "install",
    "problem",
    "validation_problem",
]
