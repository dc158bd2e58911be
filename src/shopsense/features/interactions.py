"""Implicit-feedback interactions with dense integer codes: the input of every recommender.

The store speaks in the shop's string ids; models speak in codes ``0 .. n - 1``.
:class:`Interactions` holds one row per interaction (user code, item code, time, weight)
plus the two vocabularies that map codes back to ids, and derives what models need: a
sparse user x item matrix, or each user's time-ordered item sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import scipy.sparse as sp

from shopsense.features.catalog import ItemCatalog

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
StrArray = npt.NDArray[np.str_]


def _vocabulary(
    values: npt.NDArray[np.object_], given: StrArray | None
) -> tuple[StrArray, IntArray]:
    """Codes of ``values`` in ``given`` (or in their own sorted unique values); values
    not in ``given`` get code -1."""
    if given is None:
        vocabulary, codes = np.unique(values.astype(str), return_inverse=True)
        return vocabulary, codes.astype(np.int64)
    lookup = {value: code for code, value in enumerate(given.tolist())}
    codes = np.fromiter((lookup.get(v, -1) for v in values.tolist()), np.int64, len(values))
    return given, codes


@dataclass(frozen=True, slots=True)
class Interactions:
    """Interactions as parallel arrays of codes, ordered by time (ties keep input order).

    - ``user_codes``, ``item_codes``: int64 ``[n]``, codes into ``user_ids`` / ``item_ids``;
    - ``timestamps``: int64 ``[n]``, seconds since the Unix epoch (UTC);
    - ``weights``: float64 ``[n]``, e.g. 1 per interaction or the quantity bought;
    - ``user_ids``, ``item_ids``: the shop's ids, indexed by code (the vocabularies);
    - ``catalog``: item attributes aligned with ``item_ids`` (text, category, brand,
      price), or None when nothing is known about the items.
    """

    user_codes: IntArray
    item_codes: IntArray
    timestamps: IntArray
    weights: FloatArray
    user_ids: StrArray
    item_ids: StrArray
    catalog: ItemCatalog | None = None

    def __post_init__(self) -> None:
        if self.catalog is not None and len(self.catalog) != len(self.item_ids):
            raise ValueError(
                f"the catalog has {len(self.catalog)} items, the vocabulary {len(self.item_ids)}"
            )

    @classmethod
    def from_arrays(
        cls,
        user_ids: Sequence[str] | npt.NDArray[np.object_],
        item_ids: Sequence[str] | npt.NDArray[np.object_],
        timestamps: Sequence[int] | IntArray,
        weights: Sequence[float] | FloatArray | None = None,
        *,
        user_vocabulary: StrArray | None = None,
        item_vocabulary: StrArray | None = None,
    ) -> Interactions:
        """Encode string ids. With a vocabulary given, interactions whose id is not in it
        are dropped (e.g. test interactions with items unseen in training)."""
        users = np.asarray(user_ids, dtype=object)
        items = np.asarray(item_ids, dtype=object)
        times = np.asarray(timestamps, dtype=np.int64)
        values = np.ones(len(users)) if weights is None else np.asarray(weights, np.float64)
        if not len(users) == len(items) == len(times) == len(values):
            raise ValueError("user_ids, item_ids, timestamps and weights differ in length")
        user_vocab, user_codes = _vocabulary(users, user_vocabulary)
        item_vocab, item_codes = _vocabulary(items, item_vocabulary)
        known = (user_codes >= 0) & (item_codes >= 0)
        order = np.argsort(times[known], kind="stable")
        return cls(
            user_codes=user_codes[known][order],
            item_codes=item_codes[known][order],
            timestamps=times[known][order],
            weights=values[known][order],
            user_ids=user_vocab,
            item_ids=item_vocab,
        )

    @classmethod
    def from_table(
        cls,
        table: pa.Table,
        *,
        weight: Literal["one", "quantity"] = "one",
        user_vocabulary: StrArray | None = None,
        item_vocabulary: StrArray | None = None,
    ) -> Interactions:
        """From :meth:`~shopsense.store.base.EventStore.interactions` output (columns
        ``user_id``, ``item_id``, ``ts`` and, for ``weight="quantity"``, ``quantity``)."""
        seconds = table.column("ts").cast(pa.int64()).to_numpy() // 1_000_000
        weights = None
        if weight == "quantity":
            quantity = table.column("quantity").to_numpy(zero_copy_only=False)
            weights = np.nan_to_num(quantity.astype(np.float64), nan=1.0)
        return cls.from_arrays(
            table.column("user_id").to_numpy(zero_copy_only=False),
            table.column("item_id").to_numpy(zero_copy_only=False),
            seconds,
            weights,
            user_vocabulary=user_vocabulary,
            item_vocabulary=item_vocabulary,
        )

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def __len__(self) -> int:
        return len(self.user_codes)

    def to_csr(self, *, binary: bool = False) -> sp.csr_matrix:
        """The ``n_users x n_items`` matrix of summed weights (or 1 where any)."""
        matrix = sp.csr_matrix(
            (self.weights, (self.user_codes, self.item_codes)),
            shape=(self.n_users, self.n_items),
        )
        matrix.sum_duplicates()
        if binary:
            matrix.data[:] = 1.0
        return matrix

    def sequences(self) -> list[IntArray]:
        """Each user's item codes in time order, indexed by user code."""
        order = np.argsort(self.user_codes, kind="stable")  # stable keeps time order
        counts = np.bincount(self.user_codes, minlength=self.n_users)
        return np.split(self.item_codes[order], np.cumsum(counts)[:-1])

    def time_sequences(self) -> list[IntArray]:
        """Each user's timestamps in time order, parallel to :meth:`sequences`."""
        order = np.argsort(self.user_codes, kind="stable")
        counts = np.bincount(self.user_codes, minlength=self.n_users)
        return np.split(self.timestamps[order], np.cumsum(counts)[:-1])

    def subset(self, mask: npt.NDArray[np.bool_]) -> Interactions:
        """The interactions where ``mask`` is true, with the same vocabularies."""
        return Interactions(
            user_codes=self.user_codes[mask],
            item_codes=self.item_codes[mask],
            timestamps=self.timestamps[mask],
            weights=self.weights[mask],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            catalog=self.catalog,
        )

    def with_catalog(self, catalog: ItemCatalog | None) -> Interactions:
        """The same interactions with ``catalog`` attached."""
        return replace(self, catalog=catalog)
