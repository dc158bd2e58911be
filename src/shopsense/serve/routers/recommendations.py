"""Recommendations: a user's lists by scenario, an anonymous session's, similar and
bought-together items. Every list gets a ``rec_id`` and is logged for attribution."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_json

from shopsense.core.errors import ValidationFailedError
from shopsense.core.ids import new_id
from shopsense.core.settings import AttributeRule, BusinessRules
from shopsense.serve.deps import Server
from shopsense.serve.engine import (
    RecommendationList,
    RecommendationRequest,
    Recommended,
    merge_rules,
)
from shopsense.serve.ingest import served_record
from shopsense.serve.schemas import (
    BoughtTogetherItem,
    BoughtTogetherOut,
    RecommendationsOut,
    RecommendedItem,
    Rules,
    SessionRequest,
    SimilarOut,
)
from shopsense.serve.security import ReadKey
from shopsense.serve.state import ServerState

router = APIRouter(tags=["recommendations"])

Count = Annotated[int, Query(ge=1, le=100, description="How many items (1 to 100).")]
IdList = Annotated[str | None, Query(description="Comma-separated item ids.", max_length=20_000)]


def _ids(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _boosts(values: list[str] | None) -> tuple[AttributeRule, ...] | None:
    """``field:value:factor`` query values as rules."""
    if not values:
        return None
    rules = []
    for index, text in enumerate(values):
        field, _, rest = text.partition(":")
        value, _, factor = rest.rpartition(":")
        try:
            rules.append(AttributeRule(field=field, value=value, factor=float(factor)))
        except ValueError:
            raise ValidationFailedError(
                f"boost {text!r} must read field:value:factor, e.g. brand:Acme:1.5",
                details={
                    "errors": [{"field": f"query.boost[{index}]", "message": "field:value:factor"}]
                },
            ) from None
    return tuple(rules)


def _json(body: BaseModel | dict[str, Any]) -> Response:
    """The body serialised once. The routes declare ``response_model`` for the docs;
    answering a ``Response`` spares FastAPI validating again what was built from
    validated parts (a hot path: every page view)."""
    content = body.model_dump_json() if isinstance(body, BaseModel) else to_json(body)
    return Response(content=content, media_type="application/json")


def item_out(server: ServerState, recommended: Recommended) -> dict[str, Any]:
    """One item of a list as :class:`RecommendedItem` serialises it."""
    facts = server.catalog.facts(recommended.item)
    reason = recommended.reason
    return {
        "item_id": facts.item_id,
        "score": round(recommended.score, 6),
        "reason": {"code": reason.code, "text": reason.text, "item_id": reason.item_id},
        "title": facts.title,
        "category": list(facts.category),
        "brand": facts.brand,
        "price": facts.price,
    }


def _serve(
    server: ServerState, result: RecommendationList, context: dict[str, Any]
) -> dict[str, Any]:
    """The :class:`RecommendationsOut` body of a served list, logged for attribution."""
    items = [item_out(server, recommended) for recommended in result.items]
    experiment = None
    if result.experiment_id is not None:
        experiment = {"id": result.experiment_id, "variant": result.variant}
        context = {**context, "experiment": result.experiment_id, "variant": result.variant}
    server.served.add(
        served_record(
            rec_id=result.rec_id,
            user_id=result.user_id,
            scenario=result.scenario,
            model=result.model,
            model_version=result.model_version,
            items=[item["item_id"] for item in items],
            context=context,
            ts=server.clock(),
        )
    )
    server.metrics.recommendations.labels(scenario=result.scenario, model=result.model).inc()
    return {
        "rec_id": result.rec_id,
        "scenario": result.scenario,
        "user_id": result.user_id,
        "model": {"name": result.model, "version": result.model_version},
        "cold_start": result.cold_start,
        "experiment": experiment,
        "items": items,
    }


def _rules(
    base: BusinessRules,
    scenario: str,
    rules: Rules | None = None,
    *,
    diversity: int | None = None,
    max_per_brand: int | None = None,
    boost: tuple[AttributeRule, ...] | None = None,
    pin: tuple[str, ...] = (),
) -> BusinessRules:
    pinned = tuple(rules.pinned or ()) if rules else ()
    pinned = (*pin, *pinned)
    return merge_rules(
        base,
        exclude_purchased=rules.exclude_purchased if rules else None,
        max_per_category=diversity or (rules.max_per_category if rules else None),
        max_per_brand=max_per_brand or (rules.max_per_brand if rules else None),
        boost=(*(boost or ()), *((rules.boost or ()) if rules else ())) or None,
        pinned={scenario: pinned} if pinned else None,
    )


class RecommendQuery(BaseModel):
    """The query of ``GET /v1/users/{user_id}/recommendations`` (one model: FastAPI
    validates it in one pass instead of a dozen separate parameters)."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=10, ge=1, le=100, description="How many items (1 to 100).")
    scenario: Literal["home", "item", "cart", "buy-again"] = Field(
        default="home",
        description="home: personal feed; item: on an item page (needs item_id); "
        "cart: complements of the cart; buy-again: what they may need again",
    )
    item_id: str | None = Field(default=None, description="The item page's item (scenario=item).")
    items: str | None = Field(
        default=None, max_length=20_000, description="The cart: comma-separated item ids."
    )
    category: str | None = Field(default=None, description="Only items in this category.")
    exclude: str | None = Field(
        default=None, max_length=20_000, description="Comma-separated item ids to leave out."
    )
    diversity: int | None = Field(default=None, ge=1, description="At most this many per category.")
    max_per_brand: int | None = Field(
        default=None, ge=1, description="At most this many per brand."
    )
    boost: list[str] = Field(
        default_factory=list, description="field:value:factor, e.g. brand:Acme:1.5 (repeatable)"
    )
    pin: list[str] = Field(default_factory=list, description="Items to show first (repeatable).")


@router.get(
    "/users/{user_id}/recommendations",
    response_model=RecommendationsOut,
    summary="Recommendations for a user",
)
async def recommend_for_user(
    user_id: str,
    server: Server,
    key: ReadKey,
    query: Annotated[RecommendQuery, Query()],
) -> Response:
    """The user's list for a scenario, scored from their history as it is now (an event
    sent a moment ago counts). An unknown user gets what is popular now (``cold_start``).
    ``items`` is the cart for ``scenario=cart`` (default: the cart from their events)."""
    request = RecommendationRequest(
        scenario=query.scenario,
        n=query.n,
        user_id=user_id,
        item_id=query.item_id,
        items=_ids(query.items),
        category=query.category,
        exclude=_ids(query.exclude),
        rules=_rules(
            server.settings.serve.rules,
            query.scenario,
            diversity=query.diversity,
            max_per_brand=query.max_per_brand,
            boost=_boosts(query.boost),
            pin=tuple(query.pin),
        ),
    )
    result = server.engine.recommend(request)
    return _json(
        _serve(server, result, {"n": query.n, "item_id": query.item_id, "category": query.category})
    )


@router.post(
    "/sessions/recommendations",
    response_model=RecommendationsOut,
    summary="Recommendations for an anonymous session",
)
async def recommend_for_session(body: SessionRequest, server: Server, key: ReadKey) -> Response:
    """For a shopper without an account: the items (or events) of their session, most
    recent last, stand in for a history."""
    events = tuple((event.item_id, event.type) for event in body.events)
    request = RecommendationRequest(
        scenario="session",
        n=body.n,
        items=tuple(body.items),
        session_events=events,
        category=body.category,
        exclude=tuple(body.exclude),
        rules=_rules(server.settings.serve.rules, "session", body.rules),
    )
    result = server.engine.recommend(request)
    return _json(_serve(server, result, {"n": body.n, "session_id": body.session_id}))


@router.get("/items/{item_id}/similar", response_model=SimilarOut, summary="Items like this one")
async def similar_items(item_id: str, server: Server, key: ReadKey, n: Count = 10) -> Response:
    """Items similar to ``item_id`` (shoppers who want one want the other); a new item
    no model knows yet gets the items whose descriptions are closest."""
    found = server.engine.similar(item_id, n)
    rec_id = new_id()
    items = [RecommendedItem(**item_out(server, r)) for r in found]
    server.served.add(
        served_record(
            rec_id=rec_id,
            user_id=None,
            scenario="similar",
            model=(m.name if (m := server.engine.models.get("similar")) else "content"),
            model_version=m.version if m else None,
            items=[item.item_id for item in items],
            context={"item_id": item_id, "n": n},
            ts=server.clock(),
        )
    )
    server.metrics.recommendations.labels(
        scenario="similar", model=m.name if m else "content"
    ).inc()
    return _json(SimilarOut(item_id=item_id, rec_id=rec_id, items=items))


@router.get(
    "/items/{item_id}/bought-together",
    response_model=BoughtTogetherOut,
    summary="Items often bought with this one",
)
async def bought_together(item_id: str, server: Server, key: ReadKey, n: Count = 10) -> Response:
    """Association rules from baskets: confidence (share of this item's baskets with the
    other) and lift (how much likelier than chance). Empty when no basket holds it."""
    found = server.engine.bought_together(item_id, n)
    rec_id = new_id()
    items = [
        BoughtTogetherItem(
            **item_out(server, recommended), confidence=round(confidence, 6), lift=round(lift, 6)
        )
        for recommended, confidence, lift in found
    ]
    m = server.engine.models.get("cart")
    server.served.add(
        served_record(
            rec_id=rec_id,
            user_id=None,
            scenario="bought-together",
            model=m.name if m else "none",
            model_version=m.version if m else None,
            items=[item.item_id for item in items],
            context={"item_id": item_id, "n": n},
            ts=server.clock(),
        )
    )
    return _json(BoughtTogetherOut(item_id=item_id, rec_id=rec_id, items=items))
