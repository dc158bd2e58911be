"""Most popular items, optionally with exponential time decay.

The baseline every recommender paper reports (e.g. Cremonesi, Koren & Turrin, "Performance
of Recommender Algorithms on Top-N Recommendation Tasks", RecSys 2010, "TopPop"). With
``half_life_days`` an interaction ``a`` days older than the last training interaction
counts ``0.5 ** (a / half_life_days)``, which favours what sells *now* (Ding & Li, "Time
weight collaborative filtering", CIKM 2005, use the same exponential form).

Per category: ``popular_in(category, n)`` lists a category's best sellers ("popular in
Y this week" with a half-life), and with ``category_weight`` a shopper's list favours
the categories of their history: item ``i`` scores ``pop_i / max pop + category_weight *
share of the history in i's category`` (the catalog's ``category``; items without one
get no boost).
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ValidationFailedError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    ArrayArtifacts,
    ScoringRecommender,
    check_histories,
    decayed_weights,
)
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
    top_n,
)


class MostPopular(ArrayArtifacts, ScoringRecommender):
    """Rank items by (time-decayed) summed interaction weight, the same list for everyone.

    Parameters
    ----------
    half_life_days:
        Half-life of an interaction's weight in days, counted back from the last training
        timestamp; ``None`` (default) counts every interaction fully.
    category_weight:
        How much the share of a category in the shopper's history lifts its items
        (0, the default: the same list for everyone).

    Attributes
    ----------
    popularity_:
        float64 ``[n_items]``, the (decayed) summed weight of each item.
    category_names_, category_codes_:
        The catalog's category labels (``""``: none) and each item's index into them.
    """

    name: ClassVar[str] = "popular"
    learned: ClassVar[tuple[str, ...]] = ("popularity_", "category_names_", "category_codes_")
    popularity_: FloatArray | None = None
    category_names_: npt.NDArray[np.str_]
    category_codes_: IntArray

    def __init__(
        self, *, half_life_days: float | None = None, category_weight: float = 0.0
    ) -> None:
        self.half_life_days = half_life_days
        self.category_weight = category_weight

    def fit(self, interactions: Interactions) -> Self:
        """Sum each item's (decayed) interaction weights; note each item's category."""
        if self.category_weight < 0:
            raise ValidationFailedError(f"category_weight must be >= 0, got {self.category_weight}")
        weights = decayed_weights(interactions, self.half_life_days)
        self.popularity_ = np.bincount(
            interactions.item_codes, weights=weights, minlength=interactions.n_items
        ).astype(np.float64)
        catalog = interactions.catalog
        labels = catalog.category if catalog is not None else np.full(interactions.n_items, "")
        self.category_names_, codes = np.unique(labels, return_inverse=True)
        self.category_codes_ = codes.astype(np.int64)
        return self

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        """The item popularities for every history (histories matter through
        ``exclude_seen`` in :meth:`recommend`, and with ``category_weight`` through the
        share of each category in the history)."""
        check_fitted(self, "popularity_")
        assert self.popularity_ is not None
        check_histories(histories, len(self.popularity_))
        shape = (len(histories), len(self.popularity_))
        if not self.category_weight:
            scores: FloatArray = np.broadcast_to(self.popularity_, shape)
            return scores
        scaled = self.popularity_ / max(float(self.popularity_.max(initial=0.0)), 1e-12)
        categories = self.category_codes_
        n_categories = len(self.category_names_)
        blank = np.flatnonzero(self.category_names_ == "")
        boosted = np.broadcast_to(scaled, shape).copy()
        for row, history in enumerate(histories):
            if len(history):
                share = np.bincount(categories[history], minlength=n_categories) / len(history)
                share[blank] = 0.0
                boosted[row] += self.category_weight * share[categories]
        return boosted

    def popular_in(self, category: str, n: int) -> Recommendations:
        """The ``n`` most popular items of ``category`` (the catalog's label, e.g.
        ``"Home > Kitchen"``); an unknown category gives an empty (padded) list."""
        check_fitted(self, "popularity_")
        assert self.popularity_ is not None
        members = np.flatnonzero(self.category_names_[self.category_codes_] == category)
        return top_n(self.popularity_[np.newaxis, :], n, candidates=members)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """Popularity knows nothing about similarity: every item gets the most popular
        other items (a documented fallback, so that callers need no special case)."""
        check_fitted(self, "popularity_")
        assert self.popularity_ is not None
        codes = np.asarray(item_codes, dtype=np.int64)
        return self.recommend([np.array([code]) for code in codes.tolist()], n)
