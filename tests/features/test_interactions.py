"""Interactions: encoding, ordering, matrices and sequences."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pytest

from shopsense.data.tables import TIMESTAMP
from shopsense.features import Interactions


def test_codes_follow_sorted_ids_and_rows_follow_time() -> None:
    data = Interactions.from_arrays(["b", "a", "b"], ["i2", "i1", "i1"], [30, 10, 20])
    assert data.user_ids.tolist() == ["a", "b"]
    assert data.item_ids.tolist() == ["i1", "i2"]
    assert data.timestamps.tolist() == [10, 20, 30]
    assert data.user_codes.tolist() == [0, 1, 1]
    assert data.item_codes.tolist() == [0, 0, 1]
    assert (data.n_users, data.n_items, len(data)) == (2, 2, 3)


def test_csr_sums_weights_and_binary_caps_them() -> None:
    data = Interactions.from_arrays(["a", "a", "b"], ["x", "x", "y"], [1, 2, 3], [2.0, 3.0, 1.0])
    assert data.to_csr().toarray().tolist() == [[5.0, 0.0], [0.0, 1.0]]
    assert data.to_csr(binary=True).toarray().tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_sequences_are_time_ordered_per_user_including_repeats() -> None:
    data = Interactions.from_arrays(["u", "v", "u", "u"], ["c", "a", "a", "c"], [3, 1, 1, 2])
    sequences = data.sequences()
    assert [s.tolist() for s in sequences] == [[0, 1, 1], [0]]  # u: a@1, c@2, c@3 (a=0, c=1)


def test_a_given_vocabulary_drops_unknown_ids() -> None:
    train = Interactions.from_arrays(["a", "b"], ["x", "y"], [1, 2])
    test = Interactions.from_arrays(
        ["a", "b", "c"],
        ["y", "z", "x"],
        [3, 4, 5],
        user_vocabulary=train.user_ids,
        item_vocabulary=train.item_ids,
    )
    assert len(test) == 1
    assert (test.user_codes.tolist(), test.item_codes.tolist()) == ([0], [1])
    assert test.item_ids is train.item_ids


def test_from_store_table_and_quantity_weights() -> None:
    table = pa.table(
        {
            "user_id": ["a", "a"],
            "item_id": ["x", "y"],
            "ts": pa.array(
                [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)], TIMESTAMP
            ),
            "quantity": pa.array([3.0, None], pa.float64()),
        }
    )
    data = Interactions.from_table(table, weight="quantity")
    assert data.timestamps.tolist() == [1704067200, 1704153600]
    assert data.weights.tolist() == [3.0, 1.0]
    assert Interactions.from_table(table).weights.tolist() == [1.0, 1.0]


def test_subset_keeps_vocabularies() -> None:
    data = Interactions.from_arrays(["a", "b"], ["x", "y"], [1, 2])
    first = data.subset(data.timestamps < 2)
    assert len(first) == 1 and first.n_items == 2


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        Interactions.from_arrays(["a"], ["x", "y"], np.array([1]))
