"""Frequently bought together: co-purchase association rules with support, confidence, lift.

Agrawal, Imieliński & Swami, "Mining Association Rules between Sets of Items in Large
Databases", SIGMOD 1993: over a set of ``N`` baskets, the rule ``i -> j`` has support
``n_ij / N`` (the share of baskets holding both) and confidence ``n_ij / n_i`` (the share
of ``i``'s baskets that also hold ``j``). Brin, Motwani, Ullman & Tsur, "Dynamic Itemset
Counting and Implication Rules for Market Basket Data", SIGMOD 1997, add lift (their
"interest"), ``n_ij N / (n_i n_j)``: how much more often the two are bought together than
if they were independent. Only pairs are mined (one item implies one item), with one
sparse product ``B^T B`` over the basket x item matrix ``B``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    ArrayArtifacts,
    ScoringRecommender,
    check_histories,
    history_matrix,
    keep_top_per_row,
    similar_by_rows,
    with_popularity_fallback,
)
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
)

Measure = Literal["lift", "confidence"]


@dataclass(frozen=True, slots=True)
class ItemAssociations:
    """The items associated with one item, best first by the model's measure: parallel
    arrays ``items`` (int64 codes), ``support`` (share of baskets with both),
    ``confidence`` (share of this item's baskets that hold the other) and ``lift``
    (confidence over the other item's share of baskets), all ``[k]``."""

    items: IntArray
    support: FloatArray
    confidence: FloatArray
    lift: FloatArray


def basket_codes(interactions: Interactions, gap_seconds: int) -> tuple[IntArray, int]:
    """The basket of each interaction (in the interactions' order) and how many there are.

    A basket is a run of one user's interactions in which each follows the previous one
    by at most ``gap_seconds`` (0: the same timestamp, i.e. one order or invoice).
    """
    n = len(interactions)
    order = np.lexsort((interactions.timestamps, interactions.user_codes))
    users, stamps = interactions.user_codes[order], interactions.timestamps[order]
    starts = np.ones(n, dtype=bool)
    starts[1:] = (np.diff(users) != 0) | (np.diff(stamps) > gap_seconds)
    baskets = np.empty(n, dtype=np.int64)
    baskets[order] = np.cumsum(starts) - 1
    return baskets, int(starts.sum())


class BoughtTogether(ArrayArtifacts, ScoringRecommender):
    """Items bought in the same baskets as the shopper's recent items.

    ``fit`` groups each user's interactions into baskets (see ``basket_gap_seconds``),
    counts in how many baskets each pair of items appears (``n_ij``, the sparse product
    ``B^T B``), drops pairs seen in fewer than ``min_support`` baskets and keeps for each
    item its ``neighbours`` best associated items by ``measure``. ``recommend`` scores
    ``h @ A``, the association scores ``A`` summed over the history weighted by recency
    (the item ``k`` steps before the newest weighs ``0.5 ** (k /
    history_half_life_items)``); items with no association follow by popularity (baskets
    holding the item), and an empty history gets the most popular items.

    Parameters
    ----------
    measure:
        ``"lift"`` (default) or ``"confidence"``: what ranks and scores associations.
    min_support:
        The fewest baskets a pair must share to count (a support count).
    neighbours:
        How many associated items to keep per item.
    basket_gap_seconds:
        Interactions of one user at most this many seconds after the previous one are in
        the same basket; 0 (default) means the same timestamp, one order.
    history_half_life_items:
        Recency half-life of the history in items; ``None`` weighs the history evenly.

    The defaults were chosen on the retail-temporal-new validation split
    (docs/models-retail.md); a pair needs a few dozen baskets before its lift is more
    than noise.

    Attributes
    ----------
    cooccurrence_:
        CSR float64 ``[n_items, n_items]``: ``n_ij`` for the kept associations of each
        item ``i`` (row).
    basket_counts_:
        float64 ``[n_items]``, ``n_i``, the baskets holding each item (also the popularity
        fallback).
    n_baskets_:
        int64 ``[1]``, ``N``.
    """

    name: ClassVar[str] = "bought-together"
    learned: ClassVar[tuple[str, ...]] = ("cooccurrence_", "basket_counts_", "n_baskets_")
    cooccurrence_: sp.csr_matrix | None = None
    basket_counts_: FloatArray | None = None
    n_baskets_: IntArray | None = None
    _scores_cache: tuple[sp.csr_matrix, sp.csr_matrix] | None = None

    def __init__(
        self,
        *,
        measure: Measure = "lift",
        min_support: int = 20,
        neighbours: int = 50,
        basket_gap_seconds: int = 0,
        history_half_life_items: float | None = 20.0,
    ) -> None:
        self.measure = measure
        self.min_support = min_support
        self.neighbours = neighbours
        self.basket_gap_seconds = basket_gap_seconds
        self.history_half_life_items = history_half_life_items

    def fit(self, interactions: Interactions) -> Self:
        """Count co-purchases over baskets and keep each item's best associations."""
        if self.measure not in ("lift", "confidence"):
            raise ConfigurationError(
                f"unknown measure {self.measure!r}; use 'lift' or 'confidence'"
            )
        if self.min_support < 1:
            raise ConfigurationError(f"min_support must be at least 1, got {self.min_support}")
        if self.neighbours < 1:
            raise ConfigurationError(f"neighbours must be at least 1, got {self.neighbours}")
        if self.basket_gap_seconds < 0:
            raise ConfigurationError(
                f"basket_gap_seconds must be >= 0, got {self.basket_gap_seconds}"
            )
        baskets, n_baskets = basket_codes(interactions, self.basket_gap_seconds)
        basket_items = sp.csr_matrix(
            (np.ones(len(baskets)), (baskets, interactions.item_codes)),
            shape=(n_baskets, interactions.n_items),
        )
        basket_items.sum_duplicates()
        basket_items.data[:] = 1.0  # an item counts once per basket
        basket_counts = np.asarray(basket_items.sum(axis=0), dtype=np.float64).ravel()
        counts = sp.csr_matrix(basket_items.T @ basket_items)
        counts.data[counts.data < self.min_support] = 0.0
        counts.eliminate_zeros()
        ranked = keep_top_per_row(
            self._measure_of(counts, basket_counts, n_baskets), self.neighbours
        )
        kept = ranked.tocoo()
        pair_counts = (  # indexing with empty arrays gives an object array: guard it
            np.asarray(counts[kept.row, kept.col]).ravel().astype(np.float64)
            if kept.nnz
            else np.zeros(0, dtype=np.float64)
        )
        self.cooccurrence_ = sp.csr_matrix((pair_counts, (kept.row, kept.col)), shape=counts.shape)
        self.basket_counts_ = basket_counts
        self.n_baskets_ = np.array([n_baskets], dtype=np.int64)
        return self

    def _measure_of(
        self, counts: sp.csr_matrix, basket_counts: FloatArray, n_baskets: int
    ) -> sp.csr_matrix:
        """The ``measure`` of every pair in ``counts`` (same sparsity)."""
        coo = counts.tocoo()
        confidence = coo.data / basket_counts[coo.row]
        values = (
            confidence
            if self.measure == "confidence"
            else (confidence * n_baskets / basket_counts[coo.col])
        )
        return sp.csr_matrix((values, (coo.row, coo.col)), shape=counts.shape)

    def association_scores(self) -> sp.csr_matrix:
        """CSR float64 ``[n_items, n_items]``: the ``measure`` of each kept rule ``i -> j``
        (computed once per fitted state: serving asks for it on every request)."""
        check_fitted(self, "cooccurrence_")
        assert self.cooccurrence_ is not None and self.basket_counts_ is not None
        assert self.n_baskets_ is not None
        cached = self._scores_cache
        if cached is not None and cached[0] is self.cooccurrence_:
            return cached[1]
        scores = self._measure_of(self.cooccurrence_, self.basket_counts_, int(self.n_baskets_[0]))
        self._scores_cache = (self.cooccurrence_, scores)
        return scores

    def associations(self, item_code: int) -> ItemAssociations:
        """The kept rules ``item_code -> j`` with their support, confidence and lift,
        best first by ``measure`` (ties to the lower item code), e.g. to show a "bought
        together" list with its reasons."""
        check_fitted(self, "cooccurrence_")
        assert self.cooccurrence_ is not None and self.basket_counts_ is not None
        assert self.n_baskets_ is not None
        check_histories([np.array([item_code])], len(self.basket_counts_))
        row = self.cooccurrence_[item_code]
        items = row.indices.astype(np.int64)
        together = row.data.astype(np.float64)
        n_baskets = float(self.n_baskets_[0])
        support = together / n_baskets
        confidence = together / self.basket_counts_[item_code]
        lift = confidence * n_baskets / self.basket_counts_[items]
        ranking = lift if self.measure == "lift" else confidence
        order = np.lexsort((items, -ranking))
        return ItemAssociations(
            items=items[order],
            support=support[order],
            confidence=confidence[order],
            lift=lift[order],
        )

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        assert self.basket_counts_ is not None
        scores_matrix = self.association_scores()
        weights = history_matrix(histories, len(self.basket_counts_), self.history_half_life_items)
        scores = np.asarray((weights @ scores_matrix).toarray(), dtype=np.float64)
        return with_popularity_fallback(scores, histories, self.basket_counts_)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """Each item's best associated items (never itself), then popular items."""
        scores_matrix = self.association_scores()
        assert self.basket_counts_ is not None
        return similar_by_rows(scores_matrix.__getitem__, item_codes, n, self.basket_counts_)
