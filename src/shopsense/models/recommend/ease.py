"""EASE: an item-item linear model with a closed-form solution.

Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019. With ``X`` the
binary user x item matrix, minimise ``|X - XB|_F^2 + lambda |B|_F^2`` subject to
``diag(B) = 0``; the solution (eq. 8 of the paper) is

    P = (X^T X + lambda I)^-1,    B = I - P diag(1 / diag(P)),

i.e. ``B_ij = -P_ij / P_jj`` off the diagonal and ``B_jj = 0``. A user's scores are
``x_u B``. ``P`` and ``B`` are dense ``n_items x n_items``, so EASE suits catalogs up to
a few tens of thousands of items; it works in float32 to halve the memory.
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt
import scipy.linalg

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    ArrayArtifacts,
    ScoringRecommender,
    cold_rows_to_popularity,
    history_matrix,
    similar_by_rows,
)
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
)

Float32Array = npt.NDArray[np.float32]


def ease_weights(gram: Float32Array, l2: float) -> Float32Array:
    """``B = I - P diag(1/diag(P))`` with ``P = (gram + l2 I)^-1`` and ``diag(B) = 0``
    (Steck 2019, eq. 8). ``gram`` (float32 ``[n, n]``, symmetric) is overwritten."""
    gram[np.diag_indices_from(gram)] += l2
    # Cholesky inverse: the regularised Gram matrix is symmetric positive definite, and
    # potrf + potri take about half the work and memory traffic of a general inverse.
    factor, info = scipy.linalg.lapack.spotrf(gram, lower=False, overwrite_a=True)
    if info != 0:
        raise ConfigurationError(
            f"EASE's Gram matrix is not positive definite (LAPACK info {info}); raise l2 (lambda)"
        )
    inverse, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise ConfigurationError(f"EASE could not invert the Gram matrix (LAPACK info {info})")
    # potri fills the upper triangle only.
    precision = np.triu(inverse)
    precision += np.triu(precision, 1).T
    weights = precision / -np.diag(precision)[np.newaxis, :]
    weights[np.diag_indices_from(weights)] = 0.0
    result: Float32Array = weights.astype(np.float32, copy=False)
    return result


class EASE(ArrayArtifacts, ScoringRecommender):
    """Embarrassingly Shallow Autoencoder (Steck 2019), closed form.

    Parameters
    ----------
    l2:
        The L2 penalty ``lambda`` on ``B`` (the paper's best values are in the hundreds
        for large data sets; smaller data wants smaller values).
    max_items:
        Refuse catalogs larger than this: the dense Gram matrix takes
        ``n_items**2 * 4`` bytes in float32, and inversion needs a few such copies.
    history_half_life_items:
        Recency half-life of the history, in items (see
        :class:`~shopsense.models.recommend.item_knn.ItemKNN`); ``None`` uses the binary
        history as in the paper.

    Attributes
    ----------
    weights_:
        float32 ``[n_items, n_items]``, ``B`` with a zero diagonal.
    popularity_:
        float64 ``[n_items]``, interaction count per item, for empty histories.
    """

    name: ClassVar[str] = "ease"
    learned: ClassVar[tuple[str, ...]] = ("weights_", "popularity_")
    weights_: Float32Array | None = None
    popularity_: FloatArray | None = None

    def __init__(
        self,
        *,
        l2: float = 500.0,
        max_items: int = 20_000,
        history_half_life_items: float | None = None,
    ) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.history_half_life_items = history_half_life_items

    def fit(self, interactions: Interactions) -> Self:
        """Solve for ``B`` from the binary user x item matrix."""
        n_items = interactions.n_items
        if n_items > self.max_items:
            gigabytes = n_items**2 * 4 / 1e9
            raise ConfigurationError(
                f"EASE needs a dense n_items x n_items Gram matrix: {n_items:,} items take "
                f"{n_items:,}^2 x 4 bytes = {gigabytes:.1f} GB in float32 (8 bytes each in "
                f"float64), and inversion needs a few copies; max_items is "
                f"{self.max_items:,}. Raise max_items if the machine has the memory, or "
                "use item-knn or als."
            )
        if self.l2 <= 0:
            raise ConfigurationError(f"EASE's l2 must be positive, got {self.l2}")
        matrix = interactions.to_csr(binary=True).astype(np.float32)
        gram = np.asarray((matrix.T @ matrix).toarray(), dtype=np.float32)
        self.weights_ = ease_weights(gram, self.l2)
        self.popularity_ = np.bincount(interactions.item_codes, minlength=n_items).astype(
            np.float64
        )
        return self

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        assert self.weights_ is not None and self.popularity_ is not None
        weights = history_matrix(histories, len(self.weights_), self.history_half_life_items)
        scores = np.asarray(weights.astype(np.float32) @ self.weights_, dtype=np.float64)
        return cold_rows_to_popularity(scores, histories, self.popularity_)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """The items each item predicts most strongly (row ``i`` of ``B``), never itself."""
        check_fitted(self, "weights_")
        assert self.weights_ is not None and self.popularity_ is not None
        return similar_by_rows(self.weights_.__getitem__, item_codes, n, self.popularity_)
