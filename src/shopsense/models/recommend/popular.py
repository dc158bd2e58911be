"""Most popular items, optionally with exponential time decay.

The baseline every recommender paper reports (e.g. Cremonesi, Koren & Turrin, "Performance
of Recommender Algorithms on Top-N Recommendation Tasks", RecSys 2010, "TopPop"). With
``half_life_days`` an interaction ``a`` days older than the last training interaction
counts ``0.5 ** (a / half_life_days)``, which favours what sells *now* (Ding & Li, "Time
weight collaborative filtering", CIKM 2005, use the same exponential form).
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np

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
)


class MostPopular(ArrayArtifacts, ScoringRecommender):
    """Rank items by (time-decayed) summed interaction weight, the same list for everyone.

    Parameters
    ----------
    half_life_days:
        Half-life of an interaction's weight in days, counted back from the last training
        timestamp; ``None`` (default) counts every interaction fully.

    Attributes
    ----------
    popularity_:
        float64 ``[n_items]``, the (decayed) summed weight of each item.
    """

    name: ClassVar[str] = "popular"
    learned: ClassVar[tuple[str, ...]] = ("popularity_",)
    popularity_: FloatArray | None = None

    def __init__(self, *, half_life_days: float | None = None) -> None:
        self.half_life_days = half_life_days

    def fit(self, interactions: Interactions) -> Self:
        """Sum each item's (decayed) interaction weights."""
        weights = decayed_weights(interactions, self.half_life_days)
        self.popularity_ = np.bincount(
            interactions.item_codes, weights=weights, minlength=interactions.n_items
        ).astype(np.float64)
        return self

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        """The item popularities for every history (histories only matter through
        ``exclude_seen`` in :meth:`recommend`)."""
        check_fitted(self, "popularity_")
        assert self.popularity_ is not None
        check_histories(histories, len(self.popularity_))
        scores: FloatArray = np.broadcast_to(
            self.popularity_, (len(histories), len(self.popularity_))
        )
        return scores

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """Popularity knows nothing about similarity: every item gets the most popular
        other items (a documented fallback, so that callers need no special case)."""
        check_fitted(self, "popularity_")
        assert self.popularity_ is not None
        codes = np.asarray(item_codes, dtype=np.int64)
        return self.recommend([np.array([code]) for code in codes.tolist()], n)
