"""The API's request and response bodies (what /docs shows). The data records
themselves (:class:`~shopsense.data.schemas.Event`, ``Item``, ``User``, ``Order``) are
the data model's, validated with the shop's settings as context."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from shopsense.core.settings import AttributeRule
from shopsense.data.schemas import Event, Id, Item, Order, User


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventBatch(_Body):
    """Several events at once (up to the server's ``max_batch``); one event may also be
    sent on its own, or a JSON array of events."""

    events: list[Event]


class IngestResult(BaseModel):
    """What happened to a batch: all of it is stored when this comes back."""

    received: int = Field(description="Events in the request.")
    stored: int = Field(description="Events stored now (new event ids).")
    duplicates: int = Field(description="Events whose event_id was already stored (no-op).")


class ItemBatch(_Body):
    items: list[Item]


class UserBatch(_Body):
    users: list[User]


class OrderBatch(_Body):
    orders: list[Order]


class UpsertResult(BaseModel):
    received: int
    written: int


class ItemPatch(_Body):
    """Fields of an item to change; the others keep their stored values."""

    title: str | None = None
    description: str | None = None
    category: list[str] | None = None
    brand: str | None = None
    price: float | None = Field(default=None, ge=0)
    currency: str | None = None
    in_stock: bool | None = None
    active: bool | None = None
    attributes: dict[str, JsonValue] | None = None


class UserPatch(_Body):
    created_at: datetime | None = None
    attributes: dict[str, JsonValue] | None = None


class OrderPatch(_Body):
    status: Literal["placed", "paid", "shipped", "completed", "cancelled", "returned"]


class ReasonOut(BaseModel):
    code: str = Field(
        description="because_you, bought_together, also_bought, buy_again, similar, new_item, "
        "trending, "
        "popular, seen, personal or pinned"
    )
    text: str = Field(description="The reason in words, for the shopper.")
    item_id: str | None = Field(default=None, description="The item the reason refers to.")


class RecommendedItem(BaseModel):
    item_id: str
    score: float
    reason: ReasonOut
    title: str | None = None
    category: list[str] = Field(default_factory=list)
    brand: str | None = None
    price: float | None = None


class ModelRef(BaseModel):
    name: str
    version: int | None


class RecommendationsOut(BaseModel):
    """A served list. Send ``rec_id`` with the events it leads to (click, add_to_cart,
    purchase) so that they are attributed to it."""

    rec_id: str
    scenario: str
    user_id: str | None
    model: ModelRef
    cold_start: bool = Field(description="True when no personal model could serve the user.")
    items: list[RecommendedItem]


class SessionEvent(_Body):
    item_id: Id
    type: str = Field(default="view", description="view, click, add_to_cart or purchase")


class Rules(_Body):
    """Business rules for one request, on top of the configured ones."""

    exclude_purchased: bool | None = None
    max_per_category: int | None = Field(default=None, ge=1)
    max_per_brand: int | None = Field(default=None, ge=1)
    boost: list[AttributeRule] | None = None
    pinned: list[Id] | None = Field(default=None, description="Items shown first.")


class SessionRequest(_Body):
    """An anonymous shopper's session: the items seen, most recent last."""

    items: list[Id] = Field(default_factory=list, max_length=200)
    events: list[SessionEvent] = Field(default_factory=list, max_length=200)
    n: int = Field(default=10, ge=1, le=100)
    category: str | None = None
    exclude: list[Id] = Field(default_factory=list, max_length=1000)
    rules: Rules | None = None
    session_id: Id | None = None


class SimilarOut(BaseModel):
    item_id: str
    rec_id: str
    items: list[RecommendedItem]


class BoughtTogetherItem(RecommendedItem):
    confidence: float = Field(description="Share of the item's baskets that also held this one.")
    lift: float = Field(description="How much likelier together than by chance.")


class BoughtTogetherOut(BaseModel):
    item_id: str
    rec_id: str
    items: list[BoughtTogetherItem]


class ProfileEvent(BaseModel):
    event_id: str
    type: str
    item_id: str | None
    ts: datetime
    title: str | None = None


class Interest(BaseModel):
    name: str
    weight: float


class PriceBand(BaseModel):
    low: float
    median: float
    high: float
    band: str = Field(description="budget, mid-range or premium against the catalog's prices")


class Interests(BaseModel):
    categories: list[Interest]
    brands: list[Interest]
    price: PriceBand | None


class ProfileOut(BaseModel):
    user_id: str
    created_at: datetime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: int = Field(description="Stored events of the user.")
    purchases: int
    cart: list[str]
    recent_events: list[ProfileEvent]
    interests: Interests


class ErasureOut(BaseModel):
    user_id: str
    deleted: dict[str, int]


class ModelVersionOut(BaseModel):
    name: str
    version: int
    created_at: datetime
    serving: bool
    params: dict[str, Any]
    metrics: dict[str, Any]


class TrainingOut(BaseModel):
    state: str
    trigger: str | None
    started_at: str | None
    finished_at: str | None
    error: str | None
    models: list[dict[str, Any]]


class ModelsOut(BaseModel):
    in_service: dict[str, ModelRef] = Field(description="Scenario -> model serving it.")
    loaded_at: datetime
    latency_ms: dict[str, float] = Field(
        description="Median ms per list of the personal models timed at load."
    )
    notes: dict[str, str] = Field(
        description="Why a scenario is not served by its configured model (e.g. over budget)."
    )
    versions: list[ModelVersionOut]
    training: TrainingOut


class KeyCreate(_Body):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[Literal["ingest", "read", "admin"]] = Field(min_length=1)
    rate_limit: float | None = Field(
        default=None, ge=0.001, description="Requests per second (default: the server's)."
    )


class KeyOut(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    rate_limit: float | None
    created_at: datetime
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    token: str = Field(description="The API key; shown only now, store it safely.")


__all__ = [
    "BoughtTogetherOut",
    "ErasureOut",
    "EventBatch",
    "IngestResult",
    "ItemBatch",
    "ItemPatch",
    "KeyCreate",
    "KeyCreated",
    "KeyOut",
    "ModelsOut",
    "OrderBatch",
    "OrderPatch",
    "ProfileOut",
    "RecommendationsOut",
    "RecommendedItem",
    "Rules",
    "SessionRequest",
    "SimilarOut",
    "UpsertResult",
    "UserBatch",
    "UserPatch",
]
