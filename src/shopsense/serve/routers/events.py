"""``POST /v1/events``: durable, idempotent ingestion with group commit."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from shopsense.core.errors import ValidationFailedError
from shopsense.data.schemas import Event
from shopsense.serve.deps import Server, parse_records
from shopsense.serve.schemas import EventBatch, IngestResult
from shopsense.serve.security import IngestKey
from shopsense.store.base import events_to_table

router = APIRouter(tags=["ingest"])


@router.post(
    "/events",
    response_model=IngestResult,
    summary="Send one event or a batch",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/EventBatch"},
                            {"$ref": "#/components/schemas/Event"},
                        ]
                    }
                }
            },
        }
    },
)
async def ingest_events(request: Request, server: Server, key: IngestKey) -> IngestResult:
    """Store events: one event, ``{"events": [...]}`` (up to ``max_batch``, 10,000 by
    default) or a JSON array. The answer comes after the events are durably stored;
    concurrent requests share one transaction (group commit). Re-sending an event with
    the same ``event_id`` stores nothing new (idempotent). A batch with an invalid event
    is rejected whole, with the path of every failing field."""
    try:
        events = await parse_records(request, server, Event, "events")
    except ValidationFailedError as error:
        body = await request.body()  # read already: the request keeps it
        server.ingest_log.record_rejected(error, body=body, key_id=key.key_id if key else None)
        raise
    if not events:
        return IngestResult(received=0, stored=0, duplicates=0)
    result = await asyncio.wrap_future(server.writer.append(events_to_table(events)))
    server.ingest_log.record_accepted(result.received)
    server.metrics.events_ingested.inc(result.inserted)
    server.metrics.events_duplicate.inc(result.duplicates)
    return IngestResult(
        received=result.received, stored=result.inserted, duplicates=result.duplicates
    )


OPENAPI_MODELS = (EventBatch, Event)
"""Request bodies parsed by hand (validated with the shop's settings) whose schemas the
app adds to the OpenAPI components."""
