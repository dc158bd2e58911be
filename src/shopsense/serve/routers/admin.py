"""Models in service, background training, and API keys."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from shopsense.serve.deps import Server
from shopsense.serve.schemas import (
    KeyCreate,
    KeyCreated,
    KeyOut,
    ModelRef,
    ModelsOut,
    ModelVersionOut,
    TrainingOut,
)
from shopsense.serve.security import AdminKey, ReadKey, create_api_key
from shopsense.store.base import ApiKeyRecord

router = APIRouter()


@router.get("/models", response_model=ModelsOut, tags=["models"], summary="Models in service")
async def list_models(server: Server, key: ReadKey) -> ModelsOut:
    """What serves each scenario, every registered version with its offline metrics, and
    the latest training run."""
    models = server.engine.models
    versions = await asyncio.to_thread(server.store.list_models)
    return ModelsOut(
        in_service={
            scenario: ModelRef(name=loaded.name, version=loaded.version)
            for scenario, loaded in sorted(models.by_scenario.items())
        },
        loaded_at=models.loaded_at,
        latency_ms=models.latency_ms,
        notes=models.notes,
        versions=[
            ModelVersionOut(
                name=v.name,
                version=v.version,
                created_at=v.created_at,
                serving=v.serving,
                params=v.params,
                metrics=v.metrics,
            )
            for v in versions
        ],
        training=TrainingOut(**server.trainer.status.as_dict()),
    )


@router.post(
    "/models/train",
    response_model=TrainingOut,
    status_code=202,
    tags=["models"],
    summary="Retrain in the background",
)
async def train(server: Server, key: AdminKey, response: Response) -> TrainingOut:
    """Start training (evaluate, refit, register, promote); the new models replace the
    serving ones atomically when it ends, and serving goes on meanwhile. If a run is
    already going, this returns it (200) instead of starting another."""
    status, started = server.trainer.trigger("api")
    if not started:
        response.status_code = 200
    return TrainingOut(**status.as_dict())


def _key_out(record: ApiKeyRecord) -> KeyOut:
    return KeyOut(
        key_id=record.key_id,
        name=record.name,
        scopes=list(record.scopes),
        rate_limit=record.rate_limit,
        created_at=record.created_at,
        revoked_at=record.revoked_at,
    )


@router.get("/keys", response_model=list[KeyOut], tags=["keys"], summary="API keys")
async def list_keys(server: Server, key: AdminKey) -> list[KeyOut]:
    """Every key with its scopes (never the secret)."""
    return [_key_out(record) for record in await asyncio.to_thread(server.store.list_api_keys)]


@router.post(
    "/keys", response_model=KeyCreated, status_code=201, tags=["keys"], summary="Create an API key"
)
async def create_key(body: KeyCreate, server: Server, key: AdminKey) -> KeyCreated:
    """The token is in this answer only: store it; the server keeps its hash."""
    record, token = await asyncio.wrap_future(
        server.writer.call(
            lambda: create_api_key(
                server.store, name=body.name, scopes=body.scopes, rate_limit=body.rate_limit
            )
        )
    )
    server.keyring.remember(record)
    return KeyCreated(**_key_out(record).model_dump(), token=token)


@router.delete("/keys/{key_id}", response_model=KeyOut, tags=["keys"], summary="Revoke a key")
async def revoke_key(key_id: str, server: Server, key: AdminKey) -> KeyOut:
    """The key stops working at once."""
    record = await asyncio.wrap_future(
        server.writer.call(lambda: server.store.revoke_api_key(key_id))
    )
    server.keyring.forget(key_id)
    return _key_out(record)
