"""The catalog as serving sees it: every item id known to the server, with what the
business rules read (active, in stock, category, brand, price, attributes).

Items get a *global* code (``gid``) the first time the server meets them (catalog,
events, or a model's vocabulary); codes never change while the server runs, so live
histories can hold codes and each loaded model maps them to its own vocabulary.

Reads are lock-free (numpy arrays replaced whole when they grow, and single elements
written in place); writers hold a lock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """What a response shows about one item."""

    item_id: str
    title: str | None
    category: tuple[str, ...]
    brand: str | None
    price: float | None


class ServingCatalog:
    """Item ids with their global codes and rule attributes, growable."""

    def __init__(self, capacity: int = 1024) -> None:
        self._lock = threading.Lock()
        self._code_of: dict[str, int] = {}
        self._ids: list[str] = []
        capacity = max(capacity, 16)
        # An item the catalog never described (seen only in events or a model) is
        # available: a shop that sends no catalog must still get recommendations.
        self._available = np.ones(capacity, dtype=bool)
        self._described = np.zeros(capacity, dtype=bool)
        self._category = np.full(capacity, -1, dtype=np.int64)
        self._brand = np.full(capacity, -1, dtype=np.int64)
        self._price = np.full(capacity, np.nan)
        self._labels: dict[str, int] = {}
        self._label_names: list[str] = []
        self._details: dict[int, tuple[str | None, tuple[str, ...], dict[str, Any]]] = {}
        self._members: dict[str, set[int]] = {}  # category (any level) -> items
        self._new: set[int] = set()  # described after start-up, or created lately
        self._created: dict[int, datetime | None] = {}
        self._started = False
        self.text_version = 0  # bumped when titles, categories or brands change

    # -- codes ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def code(self, item_id: str) -> int | None:
        """The global code of ``item_id``, or None when the server has never met it."""
        return self._code_of.get(item_id)

    def item_id(self, code: int) -> str:
        return self._ids[code]

    def item_ids(self, codes: Iterable[int]) -> list[str]:
        ids = self._ids
        return [ids[int(code)] for code in codes]

    def ensure(self, item_ids: Iterable[str]) -> list[int]:
        """Global codes of ``item_ids``, adding the ones not met before."""
        item_ids = list(item_ids)
        codes: list[int] = []
        missing = False
        for item_id in item_ids:
            code = self._code_of.get(item_id)
            if code is None:
                missing = True
                break
            codes.append(code)
        if not missing:
            return codes
        with self._lock:
            codes = []
            for item_id in item_ids:
                code = self._code_of.get(item_id)
                if code is None:
                    code = len(self._ids)
                    self._grow(code + 1)
                    self._ids.append(item_id)
                    self._code_of[item_id] = code
                codes.append(code)
        return codes

    def _grow(self, size: int) -> None:
        capacity = len(self._available)
        if size <= capacity:
            return
        new_capacity = max(size, capacity * 2)

        def grown(array: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
            bigger = np.full(new_capacity, fill, dtype=array.dtype)
            bigger[:capacity] = array
            return bigger

        self._available = grown(self._available, True)
        self._described = grown(self._described, False)
        self._category = grown(self._category, -1)
        self._brand = grown(self._brand, -1)
        self._price = grown(self._price, np.nan)

    def _label(self, value: str | None) -> int:
        if not value:
            return -1
        code = self._labels.get(value)
        if code is None:
            code = len(self._label_names)
            self._labels[value] = code
            self._label_names.append(value)
        return code

    # -- writes --------------------------------------------------------------------------

    def mark_started(self, new_since: datetime | None = None) -> None:
        """The start-up load is done: items described from now on are *new*, and so are
        loaded items created at or after ``new_since``."""
        self._started = True
        if new_since is not None:
            for code, created in list(self._created.items()):
                if created is not None and created >= new_since:
                    self._new.add(code)

    def new_items(self) -> IntArray:
        """Items new to the catalog (see :meth:`mark_started`), by code."""
        new = self._new
        return np.fromiter(new, dtype=np.int64, count=len(new))

    def update_from_table(self, items: pa.Table) -> int:
        """Describe items from rows of :data:`~shopsense.data.tables.ITEM_SCHEMA`
        (inserted or replaced); returns how many."""
        rows = items.select(
            [
                "item_id",
                "title",
                "category",
                "brand",
                "price",
                "in_stock",
                "active",
                "attributes",
                "created_at",
            ]
        ).to_pylist()
        codes = self.ensure(str(row["item_id"]) for row in rows)
        with self._lock:
            for code, row in zip(codes, rows, strict=True):
                category = tuple(row["category"] or ())
                if self._started and not self._described[code]:
                    self._new.add(code)
                self._available[code] = bool(row["active"]) and bool(row["in_stock"])
                self._described[code] = True
                self._category[code] = self._label(category[0] if category else None)
                self._brand[code] = self._label(row["brand"])
                self._price[code] = np.nan if row["price"] is None else float(row["price"])
                attributes = json.loads(row["attributes"]) if row["attributes"] else {}
                self._created[code] = row["created_at"]
                before = self._details.get(code)
                self._set_categories(code, before[1] if before else (), category)
                self._details[code] = (row["title"], category, attributes)
                if before is None or before[:2] != (row["title"], category):
                    self.text_version += 1
        return len(rows)

    def _set_categories(self, code: int, old: tuple[str, ...], new: tuple[str, ...]) -> None:
        for name in old:
            self._members.get(name, set()).discard(code)
        for name in new:
            self._members.setdefault(name, set()).add(code)

    def remove(self, item_id: str) -> None:
        """A deleted item: never recommended again (its code stays reserved)."""
        code = self._code_of.get(item_id)
        if code is None:
            return
        with self._lock:
            self._available[code] = False
            self._described[code] = True
            before = self._details.pop(code, None)
            if before is not None:
                self._set_categories(code, before[1], ())
                self.text_version += 1

    # -- reads ---------------------------------------------------------------------------

    def available(self, size: int | None = None) -> BoolArray:
        """``available[gid]``: active and in stock (or never described)."""
        return self._available[: len(self._ids) if size is None else size]

    def top_category(self, codes: IntArray) -> IntArray:
        """Label code of each item's top category (-1: none)."""
        return self._category[codes]

    def brand(self, codes: IntArray) -> IntArray:
        return self._brand[codes]

    def price(self, codes: IntArray) -> FloatArray:
        return self._price[codes]

    def label(self, code: int) -> str | None:
        """The text of a category or brand label code."""
        return self._label_names[code] if code >= 0 else None

    def title(self, code: int) -> str | None:
        details = self._details.get(code)
        return details[0] if details else None

    def display_name(self, code: int) -> str:
        """The title, or the id when the catalog has none."""
        return self.title(code) or self._ids[code]

    def categories(self, code: int) -> tuple[str, ...]:
        details = self._details.get(code)
        return details[1] if details else ()

    def attribute(self, code: int, name: str) -> Any:
        details = self._details.get(code)
        return details[2].get(name) if details else None

    def facts(self, code: int) -> ItemFacts:
        price = float(self._price[code])
        brand = self._brand[code]
        return ItemFacts(
            item_id=self._ids[code],
            title=self.title(code),
            category=self.categories(code),
            brand=self.label(int(brand)),
            price=None if np.isnan(price) else price,
        )

    def category_mask(self, category: str, size: int | None = None) -> BoolArray:
        """``mask[gid]``: the item has ``category`` at any level of its category path."""
        mask = np.zeros(len(self._ids) if size is None else size, dtype=bool)
        members = np.fromiter(self._members.get(category, ()), dtype=np.int64)
        mask[members[members < len(mask)]] = True
        return mask

    def text(self, code: int) -> str:
        """Title, category path and brand: what content similarity reads."""
        details = self._details.get(code)
        if details is None:
            return ""
        brand = self.label(int(self._brand[code])) or ""
        return " ".join([details[0] or "", *details[1], brand])

    def matches(self, codes: Sequence[int], field: str, value: Any) -> BoolArray:
        """Whether each item's ``field`` (brand, category at any level, or an attribute)
        equals ``value``."""
        if field == "brand":
            return np.array([self.label(int(self._brand[c])) == value for c in codes], dtype=bool)
        if field == "category":
            return np.array([value in self.categories(int(c)) for c in codes], dtype=bool)
        return np.array([self.attribute(int(c), field) == value for c in codes], dtype=bool)


__all__ = ["ItemFacts", "ServingCatalog"]
