"""Item-based k-nearest-neighbour collaborative filtering.

Sarwar, Karypis, Konstan & Riedl, "Item-based collaborative filtering recommendation
algorithms", WWW 2001; Deshpande & Karypis, "Item-based top-N recommendation
algorithms", ACM TOIS 22(1), 2004 (sparse top-k neighbourhoods, score = history x
similarity). The BM25 option weights the item x user matrix as
:func:`implicit.nearest_neighbours.bm25_weight` does (Robertson & Zaragoza, "The
probabilistic relevance framework: BM25 and beyond", 2009): users are the "terms", so
heavy users count less (idf) and each item's row is length-normalised.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    ArrayArtifacts,
    ScoringRecommender,
    decayed_weights,
    history_matrix,
    keep_top_per_row,
    similar_by_rows,
    user_item_matrix,
    with_popularity_fallback,
)
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
)

Similarity = Literal["cosine", "bm25"]


def cosine_similarity(item_users: sp.csr_matrix) -> sp.csr_matrix:
    """``sim(i, j) = x_i . x_j / (|x_i| |x_j|)`` for the rows of ``item_users``."""
    norms = np.sqrt(np.asarray(item_users.multiply(item_users).sum(axis=1)).ravel())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    normalised = sp.csr_matrix(sp.diags(inverse) @ item_users)
    return sp.csr_matrix(normalised @ normalised.T)


def bm25_weight(item_users: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
    """BM25 weights of an ``items x users`` matrix, as ``implicit``'s ``bm25_weight``:
    ``w = x (k1 + 1) / (k1 L_i + x) * idf_u`` with ``idf_u = log(n_items) - log(1 + n_u)``
    and ``L_i = (1 - b) + b |x_i|_1 / mean |x|_1``."""
    coo = item_users.tocoo()
    n_rows = float(item_users.shape[0])
    idf = np.log(n_rows) - np.log1p(np.bincount(coo.col, minlength=item_users.shape[1]))
    row_sums = np.asarray(item_users.sum(axis=1)).ravel()
    length_norm = (1.0 - b) + b * row_sums / max(float(row_sums.mean()), 1e-12)
    data = coo.data * (k1 + 1.0) / (k1 * length_norm[coo.row] + coo.data) * idf[coo.col]
    return sp.csr_matrix((data, (coo.row, coo.col)), shape=item_users.shape)


class ItemKNN(ArrayArtifacts, ScoringRecommender):
    """Item-item nearest neighbours over the user x item matrix.

    ``fit`` builds the item x item similarity from the (time-decayed) user x item matrix
    and keeps each item's ``neighbours`` most similar items (a sparse matrix ``S``).
    ``recommend`` scores ``h @ S`` where ``h`` is the history as a weighted item vector:
    with ``history_half_life_items`` the item ``k`` steps before the newest weighs
    ``0.5 ** (k / history_half_life_items)`` (later items weigh more, which is what
    next-item prediction rewards); without it every history item weighs 1. Items with no
    similarity to the history follow the scored ones by popularity, and an empty history
    gets the most popular items.

    Parameters
    ----------
    similarity:
        ``"cosine"`` (default) or ``"bm25"`` (BM25-weighted co-occurrence).
    neighbours:
        How many most-similar items to keep per item.
    half_life_days:
        Half-life of interactions in days, back from the last training timestamp;
        ``None`` counts all fully.
    history_half_life_items:
        Recency half-life of the history, in items; ``None`` weighs the history evenly.
    bm25_k1, bm25_b:
        BM25's saturation and length-normalisation constants (``implicit``'s defaults).

    Attributes
    ----------
    similarity_:
        CSR float64 ``[n_items, n_items]``, row ``i`` holds ``i``'s neighbours.
    popularity_:
        float64 ``[n_items]``, (decayed) summed weight per item, for the fallback.
    """

    name: ClassVar[str] = "item-knn"
    learned: ClassVar[tuple[str, ...]] = ("similarity_", "popularity_")
    similarity_: sp.csr_matrix | None = None
    popularity_: FloatArray | None = None

    def __init__(
        self,
        *,
        similarity: Similarity = "cosine",
        neighbours: int = 100,
        half_life_days: float | None = None,
        history_half_life_items: float | None = None,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
    ) -> None:
        self.similarity = similarity
        self.neighbours = neighbours
        self.half_life_days = half_life_days
        self.history_half_life_items = history_half_life_items
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b

    def fit(self, interactions: Interactions) -> Self:
        """Build the top-``neighbours`` item-item similarity matrix."""
        if self.similarity not in ("cosine", "bm25"):
            raise ConfigurationError(
                f"unknown similarity {self.similarity!r}; use 'cosine' or 'bm25'"
            )
        if self.neighbours < 1:
            raise ConfigurationError(f"neighbours must be at least 1, got {self.neighbours}")
        weights = decayed_weights(interactions, self.half_life_days)
        item_users = user_item_matrix(interactions, weights).T.tocsr()
        if self.similarity == "cosine":
            full = cosine_similarity(item_users)
        else:
            weighted = bm25_weight(item_users, self.bm25_k1, self.bm25_b)
            full = sp.csr_matrix(weighted @ weighted.T)
        self.similarity_ = keep_top_per_row(full, self.neighbours)
        self.popularity_ = np.bincount(
            interactions.item_codes, weights=weights, minlength=interactions.n_items
        ).astype(np.float64)
        return self

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        assert self.similarity_ is not None and self.popularity_ is not None
        weights = history_matrix(histories, self.similarity_.shape[0], self.history_half_life_items)
        scores = np.asarray((weights @ self.similarity_).toarray(), dtype=np.float64)
        return with_popularity_fallback(scores, histories, self.popularity_)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """Each item's nearest neighbours (never itself), then popular items."""
        check_fitted(self, "similarity_")
        assert self.similarity_ is not None and self.popularity_ is not None
        return similar_by_rows(self.similarity_.__getitem__, item_codes, n, self.popularity_)
