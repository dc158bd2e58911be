"""Dependencies shared by the routers, and the one parser for data bodies."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import from_json

from shopsense.core.errors import (
    PayloadTooLargeError,
    ServiceUnavailableError,
    ValidationFailedError,
)
from shopsense.data.schemas import ValidationOptions
from shopsense.serve.problems import field_errors
from shopsense.serve.state import ServerState

RecordT = TypeVar("RecordT", bound=BaseModel)


async def get_server(request: Request) -> ServerState:
    # A coroutine: a plain function would cost every request a hop to the thread pool.
    server: ServerState = request.app.state.server
    if not server.ready:
        raise ServiceUnavailableError("the server is starting or stopping; retry in a moment")
    return server


Server = Annotated[ServerState, Depends(get_server)]


def _paths(errors: list[dict[str, str]], prefix: str) -> list[dict[str, str]]:
    """Field paths as the body has them: ``[3].ts`` is ``events[3].ts`` under
    ``{"events": [...]}``, stays ``[3].ts`` in a bare array, and is ``ts`` for a body
    that is one record (``prefix == "single"``; ``body`` for the record as a whole)."""
    if prefix == "single":
        return [
            {**e, "field": e["field"].removeprefix("[0]").removeprefix(".") or "body"}
            for e in errors
        ]
    return [{**e, "field": prefix + e["field"]} for e in errors]


async def parse_records(
    request: Request, server: ServerState, model: type[RecordT], key: str
) -> list[RecordT]:
    """Records of ``model`` from the body: ``{"<key>": [...]}``, a JSON array, or one
    record. Validated whole with the shop's settings (event types, time zones): one bad
    record rejects the request, and the problem lists every failing field by path."""
    raw = await request.body()
    if not raw.strip():
        raise ValidationFailedError(f"the body is empty; send a JSON object or {{{key!r}: [...]}}")
    try:
        data: Any = from_json(raw)
    except ValueError as error:
        raise ValidationFailedError(
            f"the body is not valid JSON: {error}",
            details={"errors": [{"field": "body", "message": str(error)}]},
        ) from None
    prefix = ""
    if isinstance(data, dict) and set(data) == {key}:
        records, prefix = data[key], key
    elif isinstance(data, list):
        records = data
    else:
        records, prefix = [data], "single"
    if not isinstance(records, list):
        raise ValidationFailedError(
            f"{key} must be a JSON array",
            details={"errors": [{"field": key, "message": "must be an array"}]},
        )
    limit = server.settings.serve.max_batch
    if len(records) > limit:
        if key == "events":
            server.metrics.events_rejected.labels(reason="batch_too_large").inc(len(records))
        raise PayloadTooLargeError(
            f"{len(records):,} {key} in one request; at most {limit:,} are accepted, "
            "split the batch"
        )
    context = ValidationOptions.from_settings(server.settings).context()
    try:
        adapter: TypeAdapter[list[RecordT]] = TypeAdapter(list[model])  # type: ignore[valid-type]
        return adapter.validate_python(records, context=context)
    except ValidationError as error:
        errors = field_errors(error.errors(include_url=False))
        errors = _paths(errors, prefix)
        if key == "events":
            server.metrics.events_rejected.labels(reason="validation").inc(len(records))
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ValidationFailedError(
            f"{first['field']}: {first['message']}{more}; nothing of the request was stored",
            details={"errors": errors},
        ) from None


async def read_object(request: Request) -> dict[str, Any]:
    """A body that must be one JSON object (a PUT or PATCH)."""
    raw = await request.body()
    try:
        data: Any = from_json(raw) if raw.strip() else {}
    except ValueError as error:
        raise ValidationFailedError(f"the body is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise ValidationFailedError("the body must be a JSON object")
    return data


def validate_record(
    server: ServerState,
    model: type[RecordT],
    data: dict[str, Any],
    *,
    id_field: str,
    id_value: str,
) -> RecordT:
    """``data`` as a ``model`` record whose id is ``id_value`` (from the path; a
    different id in the body is an error), validated with the shop's settings."""
    if id_field in data and data[id_field] != id_value:
        raise ValidationFailedError(
            f"{id_field} {data[id_field]!r} in the body differs from {id_value!r} in the path",
            details={"errors": [{"field": id_field, "message": "differs from the path"}]},
        )
    context = ValidationOptions.from_settings(server.settings).context()
    try:
        return model.model_validate({**data, id_field: id_value}, context=context)
    except ValidationError as error:
        errors = field_errors(error.errors(include_url=False))
        raise ValidationFailedError(
            f"{errors[0]['field']}: {errors[0]['message']}; nothing was changed",
            details={"errors": errors},
        ) from None


async def parse_one(
    request: Request, server: ServerState, model: type[RecordT], *, id_field: str, id_value: str
) -> RecordT:
    """One record from a JSON object body, its id taken from the path (a PUT)."""
    data = await read_object(request)
    return validate_record(server, model, data, id_field=id_field, id_value=id_value)


def merge(
    server: ServerState,
    model: type[RecordT],
    current: BaseModel,
    changes: dict[str, Any],
    id_field: str,
) -> RecordT:
    """``current`` with ``changes`` applied, validated whole (a PATCH)."""
    value = str(getattr(current, id_field))
    merged = {**current.model_dump(), **changes}
    if id_field in changes:
        merged[id_field] = changes[id_field]
    return validate_record(server, model, merged, id_field=id_field, id_value=value)
