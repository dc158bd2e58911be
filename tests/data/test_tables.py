"""The Arrow side of the data model: builders and order batching."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shopsense.data.schemas import Order, OrderLine
from shopsense.data.tables import ORDER_LINE_SCHEMA, order_line_batches, orders_to_table


def _orders(sizes: list[int]) -> list[Order]:
    return [
        Order(
            order_id=f"o{n}",
            user_id="u",
            ts=datetime(2024, 1, 1, tzinfo=UTC),
            lines=[OrderLine(item_id=f"i{k}", quantity=1, price=1) for k in range(size)],
        )
        for n, size in enumerate(sizes)
    ]


@pytest.mark.parametrize("max_lines", [1, 2, 3, 4, 7, 100])
def test_order_line_batches_never_split_an_order(max_lines: int) -> None:
    sizes = [3, 1, 2, 5, 1, 1]
    table = orders_to_table(_orders(sizes))
    batches = list(order_line_batches(table, max_lines))
    assert sum(batch.num_rows for batch in batches) == table.num_rows
    seen: list[str] = []
    for batch in batches:
        assert batch.schema == ORDER_LINE_SCHEMA
        ids = batch.column("order_id").to_pylist()
        assert not set(ids) & set(seen)  # no order in two batches
        seen.extend(dict.fromkeys(ids))
        # a batch stops at the first order boundary after max_lines lines
        assert batch.num_rows < max_lines + max(sizes)
    assert seen == [f"o{n}" for n in range(len(sizes))]


def test_order_line_batches_of_nothing_and_bad_size() -> None:
    assert list(order_line_batches(orders_to_table([]), 5)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(order_line_batches(orders_to_table(_orders([1])), 0))
