"""A customer's profile, erasure (the right to be forgotten), the customer segments and
the valuable customers at risk."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from shopsense.serve.deps import Server
from shopsense.serve.engine import RecommendationRequest
from shopsense.serve.profiles import build_profile
from shopsense.serve.routers.recommendations import item_out
from shopsense.serve.schemas import AtRiskOut, ErasureOut, ProfileOut, RecommendedItem, SegmentsOut
from shopsense.serve.security import AdminKey, ReadKey
from shopsense.serve.state import ServerState

router = APIRouter(tags=["customers"])


@router.get("/users/{user_id}", response_model=ProfileOut, summary="A customer's profile")
async def profile(user_id: str, server: Server, key: ReadKey) -> ProfileOut:
    """Their record, recent events, cart, interests (top categories, brands, price
    band) and, once they bought and the customer models are trained, ``customer``: RFM
    segment and behavioural cluster, churn risk with its drivers in words, expected
    purchases, spend and CLV, and the expected next purchase (also per repeat item),
    scored from their events as of the shop's clock."""
    return await asyncio.to_thread(build_profile, server, user_id)


@router.delete("/users/{user_id}", response_model=ErasureOut, summary="Erase a customer")
async def erase(user_id: str, server: Server, key: AdminKey) -> ErasureOut:
    """Delete the user's events, orders, record, served lists, live history and cart,
    after every write accepted before this request. Nothing of theirs is served
    afterwards: they are an unknown visitor. (Models trained before still carry their
    share of item-item statistics until the next training, which leaves them out.)"""
    deleted = await asyncio.to_thread(server.erase_user, user_id)
    return ErasureOut(user_id=user_id, deleted=deleted)


@router.get("/segments", response_model=SegmentsOut, summary="Customer segments")
async def segments(server: Server, key: ReadKey) -> SegmentsOut:
    """Every RFM segment (Champions ... Lost) and learned behavioural cluster: size,
    description, suggested action, mean churn probability, spend and CLV, as of the
    last training of the customer models."""
    return server.customers.segments()


def win_back_items(server: ServerState, user_id: str, n: int) -> list[RecommendedItem]:
    """The user's personal home list (with the shop's rules): what to win them back with."""
    request = RecommendationRequest(
        scenario="home", n=n, user_id=user_id, rules=server.settings.serve.rules
    )
    result = server.engine.recommend(request)
    return [RecommendedItem(**item_out(server, item)) for item in result.items]


@router.get("/customers/at-risk", response_model=AtRiskOut, summary="Valuable customers at risk")
async def at_risk(
    server: Server,
    key: ReadKey,
    top: Annotated[int, Query(ge=1, le=1000, description="How many customers.")] = 20,
    win_back: Annotated[
        bool, Query(description="Add a personal win-back list of items to each.")
    ] = True,
) -> AtRiskOut:
    """The valuable customers most likely to churn (churn probability at least
    ``customers.at_risk_probability``, annual value so far in the top
    ``customers.valuable_share``), by value at risk (churn probability x annual value),
    each with the drivers of their risk, a retention action and a win-back list."""

    def build() -> AtRiskOut:
        return server.customers.at_risk(
            top,
            win_back=(lambda user_id, n: win_back_items(server, user_id, n)) if win_back else None,
        )

    return await asyncio.to_thread(build)
