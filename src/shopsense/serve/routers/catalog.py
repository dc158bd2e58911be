"""Items, users and orders: bulk and single upsert, patch, read and delete. Writes go
through the server's writer, so they are ordered with the events sent before them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response

from shopsense.core.errors import NotFoundError
from shopsense.data.schemas import Item, Order, User
from shopsense.serve.deps import (
    RecordT,
    Server,
    merge,
    parse_one,
    parse_records,
    read_object,
)
from shopsense.serve.schemas import UpsertResult
from shopsense.serve.security import IngestKey, ReadKey
from shopsense.serve.state import ServerState
from shopsense.store.base import items_to_table

router = APIRouter()


def _body(*names: str) -> dict[str, Any]:
    """An OpenAPI request body that is one of the named component schemas."""
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _write(server: ServerState, function: Any) -> Any:
    return await asyncio.wrap_future(server.writer.call(function))


async def _patch(
    server: ServerState,
    request: Request,
    model: type[RecordT],
    read: Callable[[str], RecordT],
    write: Callable[[list[RecordT]], int],
    id_field: str,
    id_value: str,
) -> RecordT:
    """A PATCH: read, merge the body's fields and write back as one writer job, so
    that two concurrent changes of one record both land."""
    changes = await read_object(request)

    def patch() -> RecordT:
        record = merge(server, model, read(id_value), changes, id_field)
        write([record])
        return record

    patched: RecordT = await _write(server, patch)
    return patched


async def _upsert_items(server: ServerState, items: list[Item]) -> int:
    table = items_to_table(items)
    written = int(await _write(server, lambda: server.store.upsert_items(table)))
    server.catalog.update_from_table(table)
    return written


# -- items -------------------------------------------------------------------------------


@router.post(
    "/items",
    response_model=UpsertResult,
    tags=["catalog"],
    summary="Insert or replace items (one or a batch)",
    openapi_extra=_body("ItemBatch", "Item"),
)
async def upsert_items(request: Request, server: Server, key: IngestKey) -> UpsertResult:
    """``{"items": [...]}``, a JSON array or one item; each replaces the stored item of
    its ``item_id``. Inactive or out-of-stock items stop being recommended at once; a
    new item is recommendable at once (by content similarity until a model knows it)."""
    items = await parse_records(request, server, Item, "items")
    return UpsertResult(received=len(items), written=await _upsert_items(server, items))


@router.get("/items/{item_id}", response_model=Item, tags=["catalog"], summary="One item")
async def get_item(item_id: str, server: Server, key: ReadKey) -> Item:
    return await asyncio.to_thread(server.store.get_item, item_id)


@router.put(
    "/items/{item_id}",
    response_model=Item,
    tags=["catalog"],
    summary="Insert or replace one item",
    openapi_extra=_body("Item"),
)
async def put_item(item_id: str, request: Request, server: Server, key: IngestKey) -> Item:
    item = await parse_one(request, server, Item, id_field="item_id", id_value=item_id)
    await _upsert_items(server, [item])
    return item


@router.patch(
    "/items/{item_id}",
    response_model=Item,
    tags=["catalog"],
    summary="Change some fields of an item",
    openapi_extra=_body("ItemPatch"),
)
async def patch_item(item_id: str, request: Request, server: Server, key: IngestKey) -> Item:
    """E.g. ``{"in_stock": false}``; the other fields keep their values."""
    item = await _patch(
        server, request, Item, server.store.get_item, server.store.upsert_items, "item_id", item_id
    )
    server.catalog.update_from_table(items_to_table([item]))
    return item


@router.delete("/items/{item_id}", status_code=204, tags=["catalog"], summary="Delete an item")
async def delete_item(item_id: str, server: Server, key: IngestKey) -> Response:
    """The item leaves the catalog and is never recommended again (its events stay)."""
    deleted = await _write(server, lambda: server.store.delete_item(item_id))
    if not deleted:
        raise NotFoundError(f"no item with item_id {item_id!r}")
    server.catalog.remove(item_id)
    return Response(status_code=204)


# -- users -------------------------------------------------------------------------------


@router.post(
    "/users",
    response_model=UpsertResult,
    tags=["customers"],
    summary="Insert or replace users (one or a batch)",
    openapi_extra=_body("UserBatch", "User"),
)
async def upsert_users(request: Request, server: Server, key: IngestKey) -> UpsertResult:
    users = await parse_records(request, server, User, "users")
    written = await _write(server, lambda: server.store.upsert_users(users))
    return UpsertResult(received=len(users), written=int(written))


@router.put(
    "/users/{user_id}",
    response_model=User,
    tags=["customers"],
    summary="Insert or replace one user",
    openapi_extra=_body("User"),
)
async def put_user(user_id: str, request: Request, server: Server, key: IngestKey) -> User:
    user = await parse_one(request, server, User, id_field="user_id", id_value=user_id)
    await _write(server, lambda: server.store.upsert_users([user]))
    return user


@router.patch(
    "/users/{user_id}",
    response_model=User,
    tags=["customers"],
    summary="Change some fields of a user",
    openapi_extra=_body("UserPatch"),
)
async def patch_user(user_id: str, request: Request, server: Server, key: IngestKey) -> User:
    return await _patch(
        server, request, User, server.store.get_user, server.store.upsert_users, "user_id", user_id
    )


# -- orders ------------------------------------------------------------------------------


@router.post(
    "/orders",
    response_model=UpsertResult,
    tags=["orders"],
    summary="Insert or replace orders (one or a batch)",
    openapi_extra=_body("OrderBatch", "Order"),
)
async def upsert_orders(request: Request, server: Server, key: IngestKey) -> UpsertResult:
    """Each order replaces the stored order of its ``order_id``, lines and all."""
    orders = await parse_records(request, server, Order, "orders")
    written = await _write(server, lambda: server.store.upsert_orders(orders))
    return UpsertResult(received=len(orders), written=int(written))


@router.get("/orders/{order_id}", response_model=Order, tags=["orders"], summary="One order")
async def get_order(order_id: str, server: Server, key: ReadKey) -> Order:
    return await asyncio.to_thread(server.store.get_order, order_id)


@router.put(
    "/orders/{order_id}",
    response_model=Order,
    tags=["orders"],
    summary="Insert or replace one order",
    openapi_extra=_body("Order"),
)
async def put_order(order_id: str, request: Request, server: Server, key: IngestKey) -> Order:
    order = await parse_one(request, server, Order, id_field="order_id", id_value=order_id)
    await _write(server, lambda: server.store.upsert_orders([order]))
    return order


@router.patch(
    "/orders/{order_id}",
    response_model=Order,
    tags=["orders"],
    summary="Change an order's status",
    openapi_extra=_body("OrderPatch"),
)
async def patch_order(order_id: str, request: Request, server: Server, key: IngestKey) -> Order:
    """E.g. ``{"status": "returned"}``."""
    return await _patch(
        server,
        request,
        Order,
        server.store.get_order,
        server.store.upsert_orders,
        "order_id",
        order_id,
    )


@router.delete("/orders/{order_id}", status_code=204, tags=["orders"], summary="Delete an order")
async def delete_order(order_id: str, server: Server, key: IngestKey) -> Response:
    deleted = await _write(server, lambda: server.store.delete_order(order_id))
    if not deleted:
        raise NotFoundError(f"no order with order_id {order_id!r}")
    return Response(status_code=204)
