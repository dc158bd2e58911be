"""ItemCatalog: attributes aligned with item codes, and how Interactions carry it."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from shopsense.data.tables import ITEM_SCHEMA
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions


def test_from_mappings_aligns_with_the_vocabulary_and_marks_unknowns() -> None:
    ids = np.array(["a", "b", "c"])
    catalog = ItemCatalog.from_mappings(
        ids, text={"b": "blue mug", "z": "ignored"}, price={"a": 2.5}, category={"c": "home"}
    )
    assert catalog.text.tolist() == ["", "blue mug", ""]
    assert catalog.category.tolist() == ["", "", "home"]
    assert catalog.brand.tolist() == ["", "", ""]
    assert catalog.price[0] == 2.5 and np.isnan(catalog.price[1:]).all()
    assert catalog.has_text
    assert not ItemCatalog.empty(3).has_text


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        ItemCatalog(
            text=np.array(["x"]),
            category=np.array(["", ""]),
            brand=np.array([""]),
            price=np.array([1.0]),
        )


def test_from_items_table_joins_title_description_and_category_path() -> None:
    rows = [
        {
            "item_id": "b",
            "title": "Blue mug",
            "description": "Stoneware, 300 ml",
            "category": ["Home", "Kitchen"],
            "brand": "Acme",
            "price": 8.0,
            "currency": "GBP",
            "in_stock": True,
            "active": True,
            "created_at": None,
            "attributes": None,
        }
    ]
    table = pa.Table.from_pylist(rows, schema=ITEM_SCHEMA)
    catalog = ItemCatalog.from_items_table(table, np.array(["a", "b"]))
    assert catalog.text.tolist() == ["", "Blue mug. Stoneware, 300 ml"]
    assert catalog.category.tolist() == ["", "Home > Kitchen"]
    assert catalog.brand.tolist() == ["", "Acme"]
    assert np.isnan(catalog.price[0]) and catalog.price[1] == 8.0


def test_interactions_keep_their_catalog_and_check_its_size() -> None:
    interactions = Interactions.from_arrays(["u", "u", "v"], ["a", "b", "a"], [3, 1, 2])
    catalog = ItemCatalog.from_mappings(interactions.item_ids, text={"a": "apple"})
    with_catalog = interactions.with_catalog(catalog)
    assert with_catalog.catalog is catalog
    assert with_catalog.subset(np.array([True, False, True])).catalog is catalog
    with pytest.raises(ValueError, match="catalog has 1 items"):
        interactions.with_catalog(ItemCatalog.empty(1))


def test_time_sequences_run_parallel_to_sequences() -> None:
    interactions = Interactions.from_arrays(
        ["u", "u", "v", "u"], ["a", "b", "a", "c"], [3, 1, 2, 5]
    )
    assert [s.tolist() for s in interactions.sequences()] == [[1, 0, 2], [0]]
    assert [t.tolist() for t in interactions.time_sequences()] == [[1, 3, 5], [2]]
