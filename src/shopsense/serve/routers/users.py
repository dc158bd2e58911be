"""A customer's profile, and erasure (the right to be forgotten)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from shopsense.serve.deps import Server
from shopsense.serve.profiles import build_profile
from shopsense.serve.schemas import ErasureOut, ProfileOut
from shopsense.serve.security import AdminKey, ReadKey

router = APIRouter(tags=["customers"])


@router.get("/users/{user_id}", response_model=ProfileOut, summary="A customer's profile")
async def profile(user_id: str, server: Server, key: ReadKey) -> ProfileOut:
    """Their record, recent events, cart and interests (top categories, brands, price
    band)."""
    return await asyncio.to_thread(build_profile, server, user_id)


@router.delete("/users/{user_id}", response_model=ErasureOut, summary="Erase a customer")
async def erase(user_id: str, server: Server, key: AdminKey) -> ErasureOut:
    """Delete the user's events, orders, record, served lists, live history and cart,
    after every write accepted before this request. Nothing of theirs is served
    afterwards: they are an unknown visitor. (Models trained before still carry their
    share of item-item statistics until the next training, which leaves them out.)"""
    deleted = await asyncio.to_thread(server.erase_user, user_id)
    return ErasureOut(user_id=user_id, deleted=deleted)
