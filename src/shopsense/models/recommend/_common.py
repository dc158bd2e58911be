"""Pieces the recommenders share: parameters, time decay, history matrices, fallbacks.

Private: the public surface is each model class and :mod:`.registry`.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from shopsense.core.errors import ValidationFailedError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
    read_manifest,
    top_n,
    write_manifest,
)

SECONDS_PER_DAY = 86_400.0
WEIGHTS_FILE = "weights.npz"


def model_params(model: object) -> dict[str, Any]:
    """The keyword hyper-parameters of ``model`` (its ``__init__`` arguments, read back
    from the attributes of the same name, as scikit-learn's ``get_params`` does)."""
    names = [
        name
        for name, parameter in inspect.signature(type(model).__init__).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    return {name: getattr(model, name) for name in names}


def decayed_weights(interactions: Interactions, half_life_days: float | None) -> FloatArray:
    """Interaction weights times ``0.5 ** (age / half_life_days)``, the age measured back
    from the last training timestamp (so the newest interaction keeps its weight and the
    result does not depend on when training runs). ``None`` turns decay off."""
    if half_life_days is None or len(interactions) == 0:
        return interactions.weights
    if half_life_days <= 0:
        raise ValidationFailedError(f"half_life_days must be positive, got {half_life_days}")
    age_days = (interactions.timestamps.max() - interactions.timestamps) / SECONDS_PER_DAY
    decayed: FloatArray = interactions.weights * np.exp2(-age_days / half_life_days)
    return decayed


def user_item_matrix(interactions: Interactions, weights: FloatArray) -> sp.csr_matrix:
    """The ``n_users x n_items`` matrix of summed ``weights`` (float64, CSR)."""
    matrix = sp.csr_matrix(
        (weights, (interactions.user_codes, interactions.item_codes)),
        shape=(interactions.n_users, interactions.n_items),
    )
    matrix.sum_duplicates()
    return matrix


def check_histories(histories: list[IntArray], n_items: int) -> None:
    """Raise :class:`ValidationFailedError` for item codes outside ``0 .. n_items - 1``."""
    for row, history in enumerate(histories):
        if len(history) and (np.min(history) < 0 or np.max(history) >= n_items):
            raise ValidationFailedError(
                f"history {row} holds item codes outside 0..{n_items - 1}; encode items "
                "with the training vocabulary and drop unknown ones"
            )


def history_matrix(
    histories: list[IntArray], n_items: int, half_life_items: float | None = None
) -> sp.csr_matrix:
    """The ``len(histories) x n_items`` matrix of history weights.

    Each history is time-ordered, oldest first. Without ``half_life_items`` every
    interaction weighs 1; with it, the interaction ``k`` steps before the newest weighs
    ``0.5 ** (k / half_life_items)``, so that what the shopper did last counts most
    (next-item prediction is dominated by the latest items). Repeats add up.
    """
    check_histories(histories, n_items)
    lengths = np.array([len(history) for history in histories], dtype=np.int64)
    rows = np.repeat(np.arange(len(histories)), lengths)
    columns = np.concatenate(histories).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    if half_life_items is None:
        values = np.ones(len(columns))
    else:
        if half_life_items <= 0:
            raise ValidationFailedError(
                f"history half-life must be positive, got {half_life_items}"
            )
        # Steps back from the newest item: L-1, ..., 1, 0 within each history.
        ends = np.cumsum(lengths)
        steps_back = np.repeat(ends, lengths) - 1 - np.arange(len(columns))
        values = np.exp2(-steps_back / half_life_items)
    # Built as CSR directly (sorted, repeats summed): serving calls this once per source
    # per request, and scipy's COO route costs several times more for a short history.
    keys, inverse = np.unique(rows * n_items + columns, return_inverse=True)
    data = np.bincount(inverse.ravel(), weights=values, minlength=len(keys))
    indptr = np.searchsorted(keys, np.arange(len(histories) + 1) * n_items)
    return sp.csr_matrix(
        (data, (keys - np.repeat(np.arange(len(histories)), np.diff(indptr)) * n_items), indptr),
        shape=(len(histories), n_items),
    )


def with_popularity_fallback(
    scores: FloatArray, histories: list[IntArray], popularity: FloatArray
) -> FloatArray:
    """Scores where items the model could not score rank by popularity, below the rest.

    Rows of empty histories (cold start) become the popularity scores. In other rows,
    items scored exactly 0 (no evidence at all, e.g. no neighbour in the history) get
    ``popularity / max(popularity) - 1``, in ``[-1, 0)``: they follow every positively
    scored item, most popular first, so lists are always full and deterministic. Use it
    only for models whose real scores are non-negative.
    """
    scaled = popularity / max(float(popularity.max(initial=0.0)), 1e-12)
    empty = np.array([len(history) == 0 for history in histories], dtype=bool)
    result = np.where(scores == 0.0, scaled[np.newaxis, :] - 1.0, scores)
    result[empty] = scaled
    return result


def cold_rows_to_popularity(
    scores: FloatArray, histories: list[IntArray], popularity: FloatArray
) -> FloatArray:
    """Scores with the rows of empty histories replaced by item popularity."""
    empty = np.array([len(history) == 0 for history in histories], dtype=bool)
    if empty.any():
        scores = np.array(scores, dtype=np.float64, copy=True)
        scores[empty] = popularity
    return scores


def similar_by_rows(
    similarity: Callable[[IntArray], sp.csr_matrix | npt.NDArray[np.floating[Any]]],
    item_codes: IntArray,
    n: int,
    popularity: FloatArray,
) -> Recommendations:
    """Top-``n`` neighbours of ``item_codes``, never the item itself, from
    ``similarity(codes)`` (the similarity rows of those items); items without similarity
    (exactly 0) follow, by popularity."""
    codes = np.asarray(item_codes, dtype=np.int64)
    check_histories([codes], len(popularity))
    rows = similarity(codes)
    dense = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    selves = [np.array([code]) for code in codes.tolist()]
    scores = with_popularity_fallback(dense.astype(np.float64), selves, popularity)
    return top_n(scores, n, histories=selves)


def save_weights(directory: Path, **arrays: npt.NDArray[Any]) -> None:
    """Write ``arrays`` to ``directory / weights.npz`` (uncompressed, no pickle)."""
    directory.mkdir(parents=True, exist_ok=True)
    np.savez(directory / WEIGHTS_FILE, allow_pickle=False, **arrays)


def load_weights(directory: Path) -> dict[str, npt.NDArray[Any]]:
    """The arrays :func:`save_weights` wrote."""
    with np.load(directory / WEIGHTS_FILE, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def save_sparse(prefix: str, matrix: sp.csr_matrix) -> dict[str, npt.NDArray[Any]]:
    """A CSR matrix as plain arrays named ``{prefix}_data`` etc., for :func:`save_weights`."""
    return {
        f"{prefix}_data": matrix.data,
        f"{prefix}_indices": matrix.indices,
        f"{prefix}_indptr": matrix.indptr,
        f"{prefix}_shape": np.asarray(matrix.shape, dtype=np.int64),
    }


def load_sparse(prefix: str, arrays: dict[str, npt.NDArray[Any]]) -> sp.csr_matrix:
    """The CSR matrix that :func:`save_sparse` flattened."""
    shape = arrays[f"{prefix}_shape"]
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=(int(shape[0]), int(shape[1])),
    )


def rank_in_batches(
    score: Callable[[int, int], FloatArray],
    histories: list[IntArray],
    n: int,
    *,
    exclude_seen: bool,
    candidates: IntArray | None,
    batch_size: int = 1024,
) -> Recommendations:
    """Rank ``histories`` ``batch_size`` at a time; ``score(start, stop)`` gives the
    dense ``(stop - start, n_items)`` scores of ``histories[start:stop]``, so that the
    matrix stays small (1024 x 100k items x 8 B = 800 MB)."""
    if not histories:
        return Recommendations(
            items=np.zeros((0, n), dtype=np.int64), scores=np.zeros((0, n), dtype=np.float64)
        )
    parts: list[Recommendations] = []
    for start in range(0, len(histories), batch_size):
        stop = min(start + batch_size, len(histories))
        batch = histories[start:stop]
        parts.append(
            top_n(
                score(start, stop),
                n,
                histories=batch if exclude_seen else None,
                candidates=candidates,
            )
        )
    return Recommendations(
        items=np.concatenate([part.items for part in parts]),
        scores=np.concatenate([part.scores for part in parts]),
    )


def check_times(histories: list[IntArray], times: list[IntArray] | None) -> None:
    """Raise :class:`ValidationFailedError` unless ``times`` (when given) has one array
    per history, each as long as its history."""
    if times is None:
        return
    if len(times) != len(histories):
        raise ValidationFailedError(f"times has {len(times)} rows for {len(histories)} histories")
    for row, (history, stamps) in enumerate(zip(histories, times, strict=True)):
        if len(stamps) != len(history):
            raise ValidationFailedError(
                f"times[{row}] has {len(stamps)} entries for a history of {len(history)}"
            )


def keep_top_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """``matrix`` without its diagonal and zeros, keeping the ``k`` largest entries of
    each row (ties to the lower column, for determinism)."""
    coo = matrix.tocoo()
    keep = (coo.row != coo.col) & (coo.data != 0)
    rows, columns, values = coo.row[keep], coo.col[keep], coo.data[keep]
    order = np.lexsort((columns, -values, rows))
    rows, columns, values = rows[order], columns[order], values[order]
    starts = np.searchsorted(rows, np.arange(matrix.shape[0]))
    rank = np.arange(len(rows)) - starts[rows]
    kept = rank < k
    result = sp.csr_matrix(
        (values[kept], (rows[kept], columns[kept])), shape=matrix.shape, dtype=matrix.dtype
    )
    result.sort_indices()
    return result


class ArrayArtifacts:
    """``save``/``load`` for a model whose learned state is a few arrays.

    A model lists its learned attributes in ``learned`` (the first one tells whether it
    is fitted); each is written to ``weights.npz`` under its name without the trailing
    underscore (a sparse matrix as its CSR parts), next to ``manifest.json`` with the
    hyper-parameters that :meth:`load` passes back to ``__init__``.
    """

    name: ClassVar[str]
    learned: ClassVar[tuple[str, ...]]

    def save(self, directory: Path) -> None:
        """Write ``weights.npz`` (the learned arrays) and ``manifest.json``."""
        check_fitted(self, self.learned[0])
        arrays: dict[str, npt.NDArray[Any]] = {}
        for attribute in self.learned:
            value = getattr(self, attribute)
            key = attribute.rstrip("_")
            if isinstance(value, sp.csr_matrix):
                arrays.update(save_sparse(key, value))
            else:
                arrays[key] = value
        save_weights(directory, **arrays)
        write_manifest(directory, self.name, model_params(self))

    @classmethod
    def load(cls, directory: Path) -> Self:
        """Read a model that :meth:`save` wrote."""
        manifest = read_manifest(directory, cls.name)
        model = cls(**manifest["params"])
        arrays = load_weights(directory)
        for attribute in cls.learned:
            key = attribute.rstrip("_")
            setattr(model, attribute, arrays[key] if key in arrays else load_sparse(key, arrays))
        return model


class ScoringRecommender(ABC):
    """``recommend`` for models that score every item for a batch of histories.

    A subclass implements :meth:`score_histories`; ``learned[0]`` names the learned
    attribute that tells whether the model is fitted.
    """

    learned: ClassVar[tuple[str, ...]]

    @abstractmethod
    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        """Scores ``(len(histories), n_items)`` of every item for each history (an empty
        history gets the popularity fallback)."""

    def score_in_context(
        self, histories: list[IntArray], times: list[IntArray] | None, now: int | None
    ) -> FloatArray:
        """Scores given the histories' timestamps and the request time; models that
        ignore time (the default) use :meth:`score_histories`."""
        del times, now
        return self.score_histories(histories)

    def recommend(
        self,
        histories: list[IntArray],
        n: int,
        *,
        exclude_seen: bool = True,
        candidates: IntArray | None = None,
        times: list[IntArray] | None = None,
        now: int | None = None,
    ) -> Recommendations:
        """Top-``n`` items by :meth:`score_in_context`, ranked a batch at a time."""
        check_fitted(self, self.learned[0])
        check_times(histories, times)

        def score(start: int, stop: int) -> FloatArray:
            window = None if times is None else times[start:stop]
            return self.score_in_context(histories[start:stop], window, now)

        return rank_in_batches(
            score, histories, n, exclude_seen=exclude_seen, candidates=candidates
        )
