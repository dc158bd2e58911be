"""Implicit-feedback matrix factorisation by alternating least squares.

Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM
2008. Every user-item pair has a preference ``p_ui = 1`` if the user interacted, else 0,
and a confidence ``c_ui = 1 + alpha * r_ui`` (eq. 3; or ``1 + alpha * log(1 + r_ui /
epsilon)``, eq. 4, with ``confidence="log"``); ALS minimises
``sum c_ui (p_ui - x_u . y_i)^2 + lambda (|x|^2 + |y|^2)``. Training runs on
``implicit``'s CPU solver (conjugate gradient, Takacs, Pilaszy & Tikk, RecSys 2011).

A history is scored by solving its user factor from the item factors (eq. 4 of the
paper, the same least-squares step as training):

    x_u = (Y^T C_u Y + lambda I)^-1 Y^T C_u p(u),

so a live history or an unknown visitor is scored exactly like a training user.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    ArrayArtifacts,
    ScoringRecommender,
    check_histories,
    cold_rows_to_popularity,
    similar_by_rows,
    user_item_matrix,
)
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
)

Confidence = Literal["linear", "log"]


class ImplicitALS(ArrayArtifacts, ScoringRecommender):
    """Weighted matrix factorisation for implicit feedback (Hu, Koren & Volinsky 2008).

    Parameters
    ----------
    factors:
        Dimension of the user and item factors.
    regularization:
        The L2 penalty ``lambda``.
    alpha:
        Confidence scale: ``c = 1 + alpha * r`` (``"linear"``) or
        ``c = 1 + alpha * log(1 + r / log_epsilon)`` (``"log"``), ``r`` the summed weight.
    confidence:
        ``"linear"`` (default) or ``"log"`` scaling of the interaction weights.
    log_epsilon:
        ``epsilon`` of the log scaling.
    iterations:
        ALS sweeps.
    random_state:
        Seed of the factor initialisation; a fixed seed gives identical factors.
    num_threads:
        Training threads; 0 lets ``implicit`` use every core. Results do not depend on
        it (each user's and item's solve is independent).

    Attributes
    ----------
    item_factors_:
        float32 ``[n_items, factors]``.
    popularity_:
        float64 ``[n_items]``, interaction count per item, for empty histories.
    """

    name: ClassVar[str] = "als"
    learned: ClassVar[tuple[str, ...]] = ("item_factors_", "popularity_")
    item_factors_: npt.NDArray[np.float32] | None = None
    popularity_: FloatArray | None = None
    _solver_cache: tuple[npt.NDArray[np.float32], FloatArray, FloatArray] | None = None

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 1.0,
        confidence: Confidence = "linear",
        log_epsilon: float = 1.0,
        iterations: int = 15,
        random_state: int = 0,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.confidence = confidence
        self.log_epsilon = log_epsilon
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _confidence(self, weights: FloatArray) -> FloatArray:
        """``c = 1 + alpha * scaled(r)`` for the observed weights ``r``."""
        if self.confidence == "log":
            return 1.0 + self.alpha * np.log1p(weights / self.log_epsilon)
        return 1.0 + self.alpha * weights

    def fit(self, interactions: Interactions) -> Self:
        """Train user and item factors with ``implicit``; keep the item factors."""
        if self.confidence not in ("linear", "log"):
            raise ConfigurationError(
                f"unknown confidence {self.confidence!r}; use 'linear' or 'log'"
            )
        # Imported here: implicit is only needed to train, not to load or serve.
        from implicit.cpu.als import AlternatingLeastSquares  # type: ignore[import-untyped]  # noqa: PLC0415
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # noqa: PLC0415

        user_items = user_item_matrix(interactions, interactions.weights)
        user_items.data = self._confidence(user_items.data)
        # implicit runs its own threads; a multithreaded BLAS underneath would fight them
        # (implicit checks, and warns, when the solver is built).
        with threadpool_limits(limits=1, user_api="blas"):
            solver = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,  # the confidence above already holds 1 + alpha * r (paper, eq. 3)
                dtype=np.float32,
                iterations=self.iterations,
                calculate_training_loss=False,
                num_threads=self.num_threads,
                random_state=self.random_state,
            )
            solver.fit(sp.csr_matrix(user_items, dtype=np.float32), show_progress=False)
        self.item_factors_ = np.ascontiguousarray(solver.item_factors, dtype=np.float32)
        self.popularity_ = np.bincount(
            interactions.item_codes, minlength=interactions.n_items
        ).astype(np.float64)
        return self

    def user_factors(self, histories: list[IntArray]) -> FloatArray:
        """float64 ``[len(histories), factors]``: each history's least-squares user factor
        ``(Y^T C_u Y + lambda I)^-1 Y^T C_u p(u)`` (zeros for an empty history)."""
        item_factors, gram = self._solver_parts()
        check_histories(histories, len(item_factors))
        systems = np.broadcast_to(gram, (len(histories), *gram.shape)).copy()
        targets = np.zeros((len(histories), item_factors.shape[1]))
        for row, history in enumerate(histories):
            if len(history) == 0:
                continue
            # Repeats count: r_ui is how often the item is in the history.
            items, counts = np.unique(history, return_counts=True)
            confidence = self._confidence(counts.astype(np.float64))
            factors = item_factors[items]
            systems[row] += (factors.T * (confidence - 1.0)) @ factors
            targets[row] = factors.T @ confidence
        solved = np.linalg.solve(systems, targets[..., np.newaxis])[..., 0]
        return np.asarray(solved, dtype=np.float64)

    def _solver_parts(self) -> tuple[FloatArray, FloatArray]:
        """The item factors in float64 and ``Y^T Y + lambda I``, computed once per fitted
        state: serving folds in one user per request, and recomputing the Gram matrix
        (``n_items x factors^2``) each time would cost more than the solve."""
        check_fitted(self, "item_factors_")
        assert self.item_factors_ is not None
        cached = self._solver_cache
        if cached is not None and cached[0] is self.item_factors_:
            return cached[1], cached[2]
        item_factors = self.item_factors_.astype(np.float64)
        gram = item_factors.T @ item_factors + self.regularization * np.eye(item_factors.shape[1])
        self._solver_cache = (self.item_factors_, item_factors, gram)
        return item_factors, gram

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        assert self.popularity_ is not None
        assert self.item_factors_ is not None
        # float32 item factors: half the memory to stream per request than float64,
        # and ranking does not need more precision.
        user_factors = self.user_factors(histories).astype(np.float32)
        scores = np.asarray(user_factors @ self.item_factors_.T, dtype=np.float64)
        return cold_rows_to_popularity(scores, histories, self.popularity_)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """Nearest items by cosine of the item factors, never the item itself."""
        check_fitted(self, "item_factors_")
        assert self.item_factors_ is not None and self.popularity_ is not None
        factors = self.item_factors_.astype(np.float64)
        norms = np.linalg.norm(factors, axis=1)
        unit = factors / np.where(norms > 0, norms, 1.0)[:, np.newaxis]

        def cosine_rows(codes: IntArray) -> FloatArray:
            rows: FloatArray = unit[codes] @ unit.T
            return rows

        return similar_by_rows(cosine_rows, item_codes, n, self.popularity_)
