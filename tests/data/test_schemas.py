"""The data model: what is accepted, what is rejected, and how."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shopsense.core.settings import Settings
from shopsense.data.schemas import Event, Item, Order, OrderLine, User, ValidationOptions

BASE = {"type": "view", "user_id": "u1", "item_id": "i1", "ts": "2024-05-01T12:00:00Z"}


def test_minimal_event_gets_an_id_and_utc_time() -> None:
    event = Event.model_validate({**BASE, "ts": "2024-05-01T14:00:00+02:00"})
    assert len(event.event_id) == 32
    assert event.ts == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert event.ts.utcoffset() == timedelta(0)


def test_client_event_id_is_kept_and_ids_are_stripped() -> None:
    event = Event.model_validate({**BASE, "event_id": "abc", "user_id": "  u1 "})
    assert (event.event_id, event.user_id) == ("abc", "u1")


def test_naive_timestamp_is_rejected_by_default_with_advice() -> None:
    with pytest.raises(ValidationError, match=r"no time zone.*2024-05-01T12:00:00Z"):
        Event.model_validate({**BASE, "ts": "2024-05-01T12:00:00"})


def test_naive_timestamp_read_as_utc_when_configured() -> None:
    options = ValidationOptions.from_settings(Settings(naive_timestamps="utc"))
    event = Event.model_validate({**BASE, "ts": "2024-05-01T12:00:00"}, context=options.context())
    assert event.ts == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ValidationError, match=r"unknown event type 'wishlist'.*add_to_cart"):
        Event.model_validate({**BASE, "type": "wishlist"})


def test_event_types_are_configurable() -> None:
    settings = Settings(event_types=(*Settings().event_types, "wishlist"))
    options = ValidationOptions.from_settings(settings)
    event = Event.model_validate({**BASE, "type": "wishlist"}, context=options.context())
    assert event.type == "wishlist"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"item_id": None}, "item_id is required for 'view'"),
        ({"type": "rating"}, r"value .* required"),
        ({"type": "search", "item_id": None}, "query is required"),
        ({"price": -1}, "greater than or equal to 0"),
        ({"quantity": 0}, "greater than 0"),
        ({"user_id": ""}, "at least 1 character"),
        ({"ts": "yesterday"}, "datetime"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
        ({"props": {str(i): i for i in range(65)}}, "at most 64"),
        ({"price": "1e400"}, "finite number"),
        ({"quantity": float("nan")}, "finite number"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Event.model_validate({**BASE, **changes})


def test_search_and_rating_events() -> None:
    search = Event.model_validate({**BASE, "type": "search", "item_id": None, "query": "tea"})
    rating = Event.model_validate({**BASE, "type": "rating", "value": 4})
    assert (search.query, rating.value) == ("tea", 4)


def test_item_category_path_from_string() -> None:
    item = Item(item_id="m", category=" Home > Kitchen >Mugs ")
    assert item.category == ["Home", "Kitchen", "Mugs"]
    assert item.in_stock and item.active


def test_item_rejects_bad_currency_and_price() -> None:
    with pytest.raises(ValidationError, match="currency"):
        Item(item_id="m", currency="pounds")
    with pytest.raises(ValidationError, match="price"):
        Item(item_id="m", price=-2)


def test_user_created_at_converted_to_utc() -> None:
    user = User(
        user_id="u", created_at=datetime(2024, 1, 1, 9, tzinfo=timezone(timedelta(hours=9)))
    )
    assert user.created_at == datetime(2024, 1, 1, 0, tzinfo=UTC)


def test_order_total_and_needs_lines() -> None:
    line = OrderLine(item_id="a", quantity=3, price=1.5)
    order = Order(order_id="o", user_id="u", ts=datetime(2024, 1, 1, tzinfo=UTC), lines=[line])
    assert order.total == 4.5
    with pytest.raises(ValidationError, match="at least 1 item"):
        Order(order_id="o", user_id="u", ts=datetime(2024, 1, 1, tzinfo=UTC), lines=[])
