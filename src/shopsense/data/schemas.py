"""The data model: what a shop sends to shopsense, validated at the edge with pydantic v2.

Four records: :class:`Event` (behaviour), :class:`Item` (catalog), :class:`User`
(customer) and :class:`Order` (commerce record with :class:`OrderLine` lines). Every
field is documented here and in ``docs/data-model.md``.

Timestamps must be timezone-aware. A naive timestamp (no offset) is rejected with an
error by default; with ``ValidationOptions(naive_timestamps="utc")`` (setting
``SHOPSENSE_NAIVE_TIMESTAMPS=utc``) it is read as UTC. Every stored timestamp is
converted to UTC.

Which event types exist, and which of them must name an item, is configurable
(``Settings.event_types`` / ``Settings.item_event_types``); validation takes them from
the pydantic validation context (``context={"options": ValidationOptions(...)}``) and
falls back to the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shopsense.core.ids import new_id
from shopsense.core.settings import DEFAULT_EVENT_TYPES, DEFAULT_ITEM_EVENT_TYPES, Settings

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
"""An identifier chosen by the shop: 1 to 256 characters, surrounding spaces removed."""

MAX_PROPS_KEYS = 64


class EventType(StrEnum):
    """The built-in event types. Shops may add their own through settings."""

    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    REMOVE_FROM_CART = "remove_from_cart"
    PURCHASE = "purchase"
    RETURN = "return"
    RATING = "rating"
    SEARCH = "search"
    IMPRESSION = "impression"


class OrderStatus(StrEnum):
    """Where an order is in its life."""

    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    RETURNED = "returned"


@dataclass(frozen=True, slots=True)
class ValidationOptions:
    """Shop-specific validation rules, passed as pydantic context ``{"options": ...}``."""

    event_types: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_EVENT_TYPES))
    item_event_types: frozenset[str] = field(
        default_factory=lambda: frozenset(DEFAULT_ITEM_EVENT_TYPES)
    )
    naive_timestamps: Literal["reject", "utc"] = "reject"

    @classmethod
    def from_settings(cls, settings: Settings) -> ValidationOptions:
        return cls(
            event_types=frozenset(settings.event_types),
            item_event_types=frozenset(settings.item_event_types),
            naive_timestamps=settings.naive_timestamps,
        )

    def context(self) -> dict[str, Any]:
        """The pydantic validation context that carries these options."""
        return {"options": self}


DEFAULT_OPTIONS = ValidationOptions()


def _options(info: ValidationInfo) -> ValidationOptions:
    context = info.context
    if isinstance(context, dict):
        options = context.get("options")
        if isinstance(options, ValidationOptions):
            return options
    return DEFAULT_OPTIONS


def to_utc(value: datetime, naive_timestamps: Literal["reject", "utc"]) -> datetime:
    """``value`` in UTC; a naive value is read as UTC or rejected, as the rule says."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        if naive_timestamps == "utc":
            return value.replace(tzinfo=UTC)
        raise ValueError(
            "timestamp has no time zone; send ISO 8601 with an offset, "
            "e.g. 2024-05-01T12:00:00Z or 2024-05-01T14:00:00+02:00"
        )
    return value.astimezone(UTC)


class _Record(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, allow_inf_nan=False
    )


def _utc_validator(*fields: str) -> Any:
    """A field validator that makes ``fields`` timezone-aware UTC datetimes."""

    def check(cls: type[BaseModel], value: datetime | None, info: ValidationInfo) -> Any:
        if value is None:
            return None
        return to_utc(value, _options(info).naive_timestamps)

    return field_validator(*fields)(classmethod(check))


class Event(_Record):
    """One thing a shopper did: viewed, carted, bought, returned, rated, searched, ...

    ``event_id`` makes ingestion idempotent: sending the same event twice stores it once.
    """

    event_id: Id = Field(
        default_factory=new_id,
        description="Unique id chosen by the client for idempotency; generated when absent.",
    )
    type: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="What happened: view, click, add_to_cart, remove_from_cart, purchase, "
        "return, rating, search, impression, or a type the shop configured."
    )
    user_id: Id = Field(description="Who did it: the shop's customer or visitor id.")
    item_id: Id | None = Field(
        default=None, description="Which item; required for item event types (view, purchase, ...)."
    )
    ts: datetime = Field(
        description="When it happened; timezone-aware (naive times are rejected or read as UTC)."
    )
    session_id: Id | None = Field(default=None, description="The shopper's session, if known.")
    quantity: float | None = Field(
        default=None, gt=0, description="Units bought, carted or returned (> 0)."
    )
    price: float | None = Field(
        default=None, ge=0, description="Unit price paid or shown, in the shop's currency (>= 0)."
    )
    value: float | None = Field(default=None, description="The rating for rating events.")
    order_id: Id | None = Field(default=None, description="The order a purchase or return is in.")
    rec_id: Id | None = Field(
        default=None, description="The recommendation response that led here (attribution)."
    )
    query: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="The search text for search events."
    )
    props: dict[str, JsonValue] = Field(
        default_factory=dict, description="Any other properties, as a JSON object."
    )

    _check_ts = _utc_validator("ts")

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str, info: ValidationInfo) -> str:
        options = _options(info)
        if value not in options.event_types:
            known = ", ".join(sorted(options.event_types))
            raise ValueError(f"unknown event type {value!r}; known types: {known}")
        return value

    @field_validator("props")
    @classmethod
    def _small_props(cls, value: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if len(value) > MAX_PROPS_KEYS:
            raise ValueError(f"props has {len(value)} keys; at most {MAX_PROPS_KEYS} are allowed")
        return value

    @model_validator(mode="after")
    def _fields_for_type(self, info: ValidationInfo) -> Self:
        options = _options(info)
        if self.type in options.item_event_types and self.item_id is None:
            raise ValueError(f"item_id is required for {self.type!r} events")
        if self.type == EventType.RATING and self.value is None:
            raise ValueError("value (the rating) is required for 'rating' events")
        if self.type == EventType.SEARCH and not self.query:
            raise ValueError("query is required for 'search' events")
        return self


class Item(_Record):
    """A product in the catalog."""

    item_id: Id = Field(description="The shop's product id (SKU, stock code, ...).")
    title: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="Display name."
    )
    description: str | None = Field(default=None, description="Longer text about the product.")
    category: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]] = Field(
        default_factory=list,
        description="Category path from root to leaf, e.g. ['Home', 'Kitchen', 'Mugs']; "
        "a string 'Home > Kitchen > Mugs' is split on '>'.",
    )
    brand: str | None = Field(default=None, description="Brand or maker.")
    price: float | None = Field(default=None, ge=0, description="Current list price (>= 0).")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = Field(
        default=None, description="ISO 4217 code of the price, e.g. 'GBP'."
    )
    in_stock: bool = Field(default=True, description="False when it cannot be bought now.")
    active: bool = Field(default=True, description="False when it is withdrawn from sale.")
    created_at: datetime | None = Field(default=None, description="When it entered the catalog.")
    attributes: dict[str, JsonValue] = Field(
        default_factory=dict, description="Any other attributes (size, colour, ...)."
    )

    _check_created = _utc_validator("created_at")

    @field_validator("category", mode="before")
    @classmethod
    def _split_path(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(">") if part.strip()]
        return value


class User(_Record):
    """A customer or visitor."""

    user_id: Id = Field(description="The shop's customer id.")
    created_at: datetime | None = Field(default=None, description="When they signed up.")
    attributes: dict[str, JsonValue] = Field(
        default_factory=dict, description="Any other attributes (country, age band, ...)."
    )

    _check_created = _utc_validator("created_at")


class OrderLine(_Record):
    """One line of an order."""

    item_id: Id = Field(description="The item bought.")
    quantity: float = Field(gt=0, description="Units (> 0).")
    price: float = Field(ge=0, description="Unit price (>= 0).")


class Order(_Record):
    """A customer's order: the commerce record behind purchase events."""

    order_id: Id = Field(description="The shop's order (invoice) id.")
    user_id: Id = Field(description="Who placed it.")
    ts: datetime = Field(description="When it was placed; timezone-aware.")
    status: OrderStatus = Field(default=OrderStatus.COMPLETED, description="Where it is.")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    lines: list[OrderLine] = Field(min_length=1, description="At least one line.")

    _check_ts = _utc_validator("ts")

    @property
    def total(self) -> float:
        """Sum of quantity x unit price over the lines."""
        return sum(line.quantity * line.price for line in self.lines)
