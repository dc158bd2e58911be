"""Item attributes aligned with item codes: what content, ranking and rules read.

An :class:`ItemCatalog` holds one entry per item code of an :class:`Interactions`
vocabulary: a free text (title, description, attribute names), a category, a brand and
a price. Unknown values are ``""`` (text) and NaN (price), so that every model can use
whatever a shop or a dataset provides and nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class ItemCatalog:
    """Attributes of items ``0 .. n - 1`` (parallel arrays of length ``n``).

    - ``text``: a description to embed (title, description, attribute names);
    - ``category``, ``brand``: a label each, ``""`` when unknown;
    - ``price``: float64, NaN when unknown.
    """

    text: StrArray
    category: StrArray
    brand: StrArray
    price: FloatArray

    def __post_init__(self) -> None:
        lengths = {len(self.text), len(self.category), len(self.brand), len(self.price)}
        if len(lengths) != 1:
            raise ValueError("text, category, brand and price differ in length")

    def __len__(self) -> int:
        return len(self.text)

    @classmethod
    def empty(cls, n_items: int) -> ItemCatalog:
        """A catalog that knows nothing about ``n_items`` items."""
        blank = np.full(n_items, "", dtype=str)
        return cls(text=blank, category=blank, brand=blank, price=np.full(n_items, np.nan))

    @classmethod
    def from_mappings(
        cls,
        item_ids: StrArray,
        *,
        text: Mapping[str, str] | None = None,
        category: Mapping[str, str] | None = None,
        brand: Mapping[str, str] | None = None,
        price: Mapping[str, float] | None = None,
    ) -> ItemCatalog:
        """Align per-id attributes with ``item_ids`` (ids missing from a mapping get the
        unknown value)."""
        ids = item_ids.tolist()

        def strings(values: Mapping[str, str] | None) -> StrArray:
            if values is None:
                return np.full(len(ids), "", dtype=str)
            return np.array([str(values.get(i) or "") for i in ids], dtype=str)

        prices = np.full(len(ids), np.nan)
        if price is not None:
            prices = np.array([float(price.get(i, np.nan)) for i in ids], dtype=np.float64)
        return cls(
            text=strings(text), category=strings(category), brand=strings(brand), price=prices
        )

    @classmethod
    def from_items_table(cls, table: pa.Table, item_ids: StrArray) -> ItemCatalog:
        """From the store's items (:data:`~shopsense.data.tables.ITEM_SCHEMA` columns):
        text = title and description, category = the category path joined by " > "."""
        rows = table.select(["item_id", "title", "description", "category", "brand", "price"])
        text: dict[str, str] = {}
        category: dict[str, str] = {}
        brand: dict[str, str] = {}
        price: dict[str, float] = {}
        for row in rows.to_pylist():
            item = str(row["item_id"])
            text[item] = ". ".join(p for p in (row["title"], row["description"]) if p)
            category[item] = " > ".join(row["category"] or [])
            brand[item] = row["brand"] or ""
            if row["price"] is not None:
                price[item] = float(row["price"])
        return cls.from_mappings(item_ids, text=text, category=category, brand=brand, price=price)

    @property
    def has_text(self) -> bool:
        """Whether any item has a text."""
        return bool(np.any(np.char.str_len(self.text) > 0)) if len(self) else False


__all__ = ["ItemCatalog"]
