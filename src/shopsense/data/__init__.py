"""Data model (pydantic schemas), importers and the shop simulator."""

from shopsense.data.schemas import (
    Event,
    EventType,
    Item,
    Order,
    OrderLine,
    OrderStatus,
    User,
    ValidationOptions,
)

__all__ = [
    "Event",
    "EventType",
    "Item",
    "Order",
    "OrderLine",
    "OrderStatus",
    "User",
    "ValidationOptions",
]
