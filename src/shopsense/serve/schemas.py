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


class ExperimentRef(BaseModel):
    id: str
    variant: str


class RecommendationsOut(BaseModel):
    """A served list. Send ``rec_id`` with the events it leads to (click, add_to_cart,
    purchase) so that they are attributed to it."""

    rec_id: str
    scenario: str
    user_id: str | None
    model: ModelRef
    cold_start: bool = Field(description="True when no personal model could serve the user.")
    experiment: ExperimentRef | None = Field(
        default=None, description="The running experiment and variant that chose this list."
    )
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
    customer: CustomerInsight | None = Field(
        default=None,
        description="Segment, churn risk with drivers, value and next purchase; null "
        "until they buy and the customer models are trained (see customer_note).",
    )
    customer_note: str | None = None


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


# -- customer intelligence -----------------------------------------------------------------


class ChurnDriver(BaseModel):
    feature: str
    text: str = Field(description="The driver in words, e.g. 'no purchase for 94 days'.")
    contribution: float = Field(description="Its SHAP contribution to the log-odds of churn.")
    risk: bool = Field(description="True: it raises the churn risk; false: a reason to stay.")


class ChurnRisk(BaseModel):
    probability: float = Field(description="Calibrated P(no purchase in horizon_days).")
    level: Literal["low", "medium", "high"]
    horizon_days: int
    drivers: list[ChurnDriver]


class CustomerValue(BaseModel):
    horizon_days: int
    expected_purchases: float = Field(description="BG/NBD expected purchase days.")
    expected_spend: float | None = Field(
        description="Expected spend over horizon_days (null: the shop sends no prices)."
    )
    spend_model: Literal["learned", "probabilistic"] | None
    clv: float | None = Field(description="Discounted expected spend over clv_horizon_days.")
    clv_horizon_days: int
    discount_rate: float = Field(description="Annual discount rate of the CLV.")


class RepeatItem(BaseModel):
    item_id: str
    title: str | None = None
    times: int = Field(description="Days on which they bought it.")
    every_days: float = Field(description="Median days between those purchases.")
    last_bought: datetime
    expected_next: datetime


class NextPurchase(BaseModel):
    p_alive: float | None = Field(
        description="BG/NBD probability that they are still a customer (null for one-time "
        "buyers: the model has no evidence of dropout before a repeat purchase)."
    )
    purchase_probability: float = Field(description="1 - churn probability.")
    expected_in_days: float | None = Field(
        description="Expected days from as_of to the next purchase if they stay (null: "
        "too little history)."
    )
    expected_date: datetime | None
    repeat_items: list[RepeatItem]


class SegmentOut(BaseModel):
    name: str
    description: str
    action: str
    r_score: int
    f_score: int
    m_score: int
    cluster: int
    cluster_name: str


class CustomerInsight(BaseModel):
    """What the customer models say of one customer (profiles embed it)."""

    as_of: datetime = Field(description="The shop's clock the scores are computed at.")
    model_version: int
    segment: SegmentOut
    churn: ChurnRisk
    value: CustomerValue
    next_purchase: NextPurchase


class SegmentSummary(BaseModel):
    name: str
    description: str
    action: str
    customers: int
    share: float
    churn_probability: float = Field(description="Mean churn probability.")
    expected_spend: float | None = Field(description="Mean expected spend over the horizon.")
    clv: float | None = Field(description="Mean CLV.")
    recency_days: float = Field(description="Median days since the last purchase.")


class ClusterSummary(BaseModel):
    cluster: int
    name: str
    description: str
    customers: int
    share: float
    churn_probability: float


class SegmentsOut(BaseModel):
    as_of: datetime
    model_version: int
    customers: int
    rfm: list[SegmentSummary]
    clusters: list[ClusterSummary]


class AtRiskCustomer(BaseModel):
    user_id: str
    churn_probability: float
    clv: float | None
    annual_value: float = Field(description="What they spent per year so far.")
    value_at_risk: float = Field(description="churn_probability x annual_value.")
    segment: str
    drivers: list[str]
    action: str
    win_back: list[RecommendedItem]


class AtRiskOut(BaseModel):
    as_of: datetime
    model_version: int
    criteria: str = Field(description="Who counts as a valuable customer at risk.")
    customers: list[AtRiskCustomer]


class TableOut(BaseModel):
    """A chart-ready table: ``columns`` name the cells of each row."""

    columns: list[str]
    rows: list[list[JsonValue]]


class ReportOut(BaseModel):
    """An analytics report: what was asked (with the defaults filled in), the headline
    figures and its tables (see ``docs/analytics.md`` for each report's columns)."""

    kind: str
    query: dict[str, JsonValue]
    summary: dict[str, JsonValue]
    tables: dict[str, TableOut]
