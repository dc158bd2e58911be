"""Most popular per category: a category's best sellers, and a lift for the categories
a shopper buys from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.core.errors import ValidationFailedError
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions
from shopsense.models.recommend import MostPopular


def shop() -> Interactions:
    # mugs m1 (3 sales), m2 (1); garden g1 (5), g2 (4); x has no category (2)
    sales = {"m1": 3, "m2": 1, "g1": 5, "g2": 4, "x": 2}
    items = [item for item, count in sales.items() for _ in range(count)]
    users = [f"u{k}" for k in range(len(items))]
    interactions = Interactions.from_arrays(users, items, list(range(len(items))))
    category = {"m1": "Kitchen", "m2": "Kitchen", "g1": "Garden", "g2": "Garden"}
    return interactions.with_catalog(
        ItemCatalog.from_mappings(interactions.item_ids, category=category)
    )


def code(interactions: Interactions, item: str) -> int:
    return int(np.flatnonzero(interactions.item_ids == item)[0])


def test_popular_in_a_category() -> None:
    interactions = shop()
    model = MostPopular().fit(interactions)
    kitchen = model.popular_in("Kitchen", 3)
    names = [interactions.item_ids[c] for c in kitchen.items[0] if c >= 0]
    assert names == ["m1", "m2"]
    assert kitchen.items[0, 2] == -1  # only two kitchen items: padded
    assert np.all(model.popular_in("Toys", 2).items == -1)


def test_category_weight_lifts_the_shoppers_categories(tmp_path: Path) -> None:
    interactions = shop()
    plain = MostPopular().fit(interactions)
    lifted = MostPopular(category_weight=1.0).fit(interactions)
    mug_buyer = [np.array([code(interactions, "m2")])]
    top = plain.recommend(mug_buyer, 1).items[0, 0]
    assert interactions.item_ids[top] == "g1"  # everyone's best seller
    top = lifted.recommend(mug_buyer, 1).items[0, 0]
    assert interactions.item_ids[top] == "m1"  # the best seller of the buyer's category
    # an empty history, or one without categories, is plain popularity
    assert lifted.recommend([np.array([], dtype=np.int64)], 1).items[0, 0] == code(
        interactions, "g1"
    )
    lifted.save(tmp_path / "m")
    loaded = MostPopular.load(tmp_path / "m")
    assert np.array_equal(
        loaded.recommend(mug_buyer, 4).items, lifted.recommend(mug_buyer, 4).items
    )


def test_negative_category_weight_is_refused() -> None:
    with pytest.raises(ValidationFailedError, match="category_weight"):
        MostPopular(category_weight=-1.0).fit(shop())
