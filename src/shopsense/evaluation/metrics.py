"""Top-k ranking metrics, vectorised over a batch of ranked lists.

Every metric starts from the same two inputs:

- ``recommended``: int64 ``(n_users, n)``, each row a user's item codes, best first,
  padded with -1 when the list is short (see :class:`~shopsense.models.recommend.base.
  Recommendations`); a -1 is never a hit;
- ``truth``: one int64 array of relevant item codes per user (a set: duplicates count
  once). A user with no relevant item has no defined recall or NDCG, so protocols drop
  such users and these functions refuse them.

:func:`relevance` turns them into a boolean ``(n_users, n)`` hit matrix; the per-user
metrics take that matrix (and the truth sizes) and return float64 ``(n_users,)``; the
mean over users is the reported number. Relevance is binary. With ``r`` the 1-based
rank, ``rel_r`` in {0, 1} and ``T`` the truth set:

- ``HR@k = 1 if any rel_r = 1 for r <= k``;
- ``Precision@k = sum_{r<=k} rel_r / k`` (``k`` even when the list is shorter);
- ``Recall@k = sum_{r<=k} rel_r / |T|``;
- ``NDCG@k = DCG@k / IDCG@k`` with ``DCG@k = sum_{r<=k} rel_r / log2(r + 1)`` and
  ``IDCG@k = sum_{r<=min(|T|, k)} 1 / log2(r + 1)`` (Järvelin & Kekäläinen 2002);
- ``MAP@k``: the mean of ``AP@k = sum_{r<=k} Precision@r * rel_r / min(|T|, k)``
  (the normalisation of e.g. RecBole and ``ml_metrics.apk``);
- ``coverage@k``: distinct items in the top ``k`` of all lists together / catalog size;
- ``novelty@k``: the mean self-information ``-log2(p_i)`` of the items in the top ``k``
  of all lists, ``p_i`` the share of training users who interacted with item ``i``
  (Zhou et al. 2010, PNAS 107(10)); an item no training user touched counts as one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

METRIC_NAMES = ("HR", "Precision", "Recall", "NDCG", "MAP", "coverage", "novelty")
"""The metric families :func:`score` knows, as they are written in ``"NAME@k"``."""


def _check_k(matrix: npt.NDArray[np.generic], k: int) -> None:
    if not 1 <= k <= matrix.shape[1]:
        raise ValueError(f"k={k} is outside the lists' length 1..{matrix.shape[1]}")


def truth_sizes(truth: Sequence[IntArray]) -> IntArray:
    """``|T|`` per user (distinct items), int64 ``(n_users,)``."""
    return np.fromiter((len(np.unique(t)) for t in truth), np.int64, len(truth))


def relevance(recommended: IntArray, truth: Sequence[IntArray]) -> BoolArray:
    """The hit matrix: ``out[u, r]`` is true when ``recommended[u, r]`` is in ``truth[u]``.

    ``recommended``: int64 ``(n_users, n)`` (-1 = padding, never a hit); ``truth``: one
    array of item codes per user. Raises ``ValueError`` when a list repeats an item
    (a repeat would count twice) or the batch sizes differ.
    """
    recommended = np.asarray(recommended, dtype=np.int64)
    if recommended.ndim != 2 or recommended.shape[0] != len(truth):
        raise ValueError(f"recommended has shape {recommended.shape}, expected ({len(truth)}, n)")
    real = recommended >= 0
    ordered = np.sort(recommended, axis=1)
    if np.any((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)):
        raise ValueError("a recommendation list repeats an item")
    truth_rows = np.repeat(np.arange(len(truth), dtype=np.int64), [len(t) for t in truth])
    truth_items = (
        np.concatenate([np.asarray(t, dtype=np.int64) for t in truth])
        if len(truth)
        else np.zeros(0, np.int64)
    )
    # One int64 key per (user, item) pair; membership is then a single sorted search.
    width = int(max(recommended.max(initial=0), truth_items.max(initial=0))) + 1
    truth_keys = np.unique(truth_rows * width + truth_items)
    rows = np.arange(recommended.shape[0], dtype=np.int64)[:, None]
    keys = rows * width + recommended
    return np.isin(keys, truth_keys) & real


def _require_truth(sizes: IntArray) -> IntArray:
    sizes = np.asarray(sizes, dtype=np.int64)
    if np.any(sizes <= 0):
        raise ValueError("a user has no relevant item; protocols leave such users out")
    return sizes


def hit_rate(hits: BoolArray, k: int) -> FloatArray:
    """HR@k per user: 1.0 when any of the first ``k`` items is relevant. ``(n_users,)``."""
    _check_k(hits, k)
    result: FloatArray = np.any(hits[:, :k], axis=1).astype(np.float64)
    return result


def precision(hits: BoolArray, k: int) -> FloatArray:
    """Precision@k per user: hits in the first ``k`` / ``k``. ``(n_users,)``."""
    _check_k(hits, k)
    result: FloatArray = hits[:, :k].sum(axis=1) / k
    return result


def recall(hits: BoolArray, sizes: IntArray, k: int) -> FloatArray:
    """Recall@k per user: hits in the first ``k`` / ``|T|``. ``(n_users,)``."""
    _check_k(hits, k)
    result: FloatArray = hits[:, :k].sum(axis=1) / _require_truth(sizes)
    return result


def _discounts(k: int) -> FloatArray:
    """``1 / log2(r + 1)`` for ranks ``r = 1 .. k``."""
    result: FloatArray = 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))
    return result


def ndcg(hits: BoolArray, sizes: IntArray, k: int) -> FloatArray:
    """NDCG@k per user (binary relevance, ``1/log2(r+1)`` discount). ``(n_users,)``."""
    _check_k(hits, k)
    sizes = _require_truth(sizes)
    discounts = _discounts(k)
    dcg = hits[:, :k] @ discounts
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(sizes, k)]
    result: FloatArray = dcg / ideal
    return result


def average_precision(hits: BoolArray, sizes: IntArray, k: int) -> FloatArray:
    """AP@k per user, normalised by ``min(|T|, k)``; its mean is MAP@k. ``(n_users,)``."""
    _check_k(hits, k)
    sizes = _require_truth(sizes)
    top = hits[:, :k].astype(np.float64)
    precision_at_rank = np.cumsum(top, axis=1) / np.arange(1, k + 1)
    result: FloatArray = (precision_at_rank * top).sum(axis=1) / np.minimum(sizes, k)
    return result


def catalog_coverage(recommended: IntArray, n_items: int, k: int) -> float:
    """Distinct items in the first ``k`` of all lists together, over ``n_items``."""
    _check_k(recommended, k)
    shown = np.unique(recommended[:, :k])
    return float(np.count_nonzero(shown >= 0) / n_items)


def novelty(recommended: IntArray, item_user_counts: IntArray, n_users: int, k: int) -> float:
    """Mean self-information ``-log2(p_i)`` of the items shown in the first ``k`` places.

    ``item_user_counts``: int ``(n_items,)``, how many training users interacted with
    each item; ``p_i = max(count_i, 1) / n_users``. Padding (-1) is left out.
    """
    _check_k(recommended, k)
    shown = recommended[:, :k]
    shown = shown[shown >= 0]
    if shown.size == 0:
        return 0.0
    share = np.maximum(np.asarray(item_user_counts)[shown], 1) / n_users
    return float(np.mean(-np.log2(share)))


def parse_metric(name: str) -> tuple[str, int]:
    """``"NDCG@10"`` -> ``("NDCG", 10)``; raises ``ValueError`` for an unknown family."""
    family, sep, cutoff = name.partition("@")
    if not sep or family not in METRIC_NAMES or not cutoff.isdigit() or int(cutoff) < 1:
        raise ValueError(
            f"unknown metric {name!r}; expected NAME@k with NAME one of {', '.join(METRIC_NAMES)}"
        )
    return family, int(cutoff)


def score(
    names: Sequence[str],
    recommended: IntArray,
    truth: Sequence[IntArray],
    *,
    n_items: int,
    item_user_counts: IntArray | None = None,
    n_train_users: int | None = None,
) -> dict[str, float]:
    """The mean over users of each metric in ``names`` (e.g. ``["HR@10", "NDCG@10"]``).

    ``recommended``: int64 ``(n_users, n)`` with ``n`` at least every ``k`` asked for;
    ``truth``: one non-empty array of item codes per user; ``n_items``: the catalog size
    (for coverage); ``item_user_counts`` and ``n_train_users``: for novelty only.
    """
    hits = relevance(recommended, truth)
    sizes = truth_sizes(truth)
    _require_truth(sizes)
    results: dict[str, float] = {}
    for name in names:
        family, k = parse_metric(name)
        if family == "coverage":
            results[name] = catalog_coverage(recommended, n_items, k)
        elif family == "novelty":
            if item_user_counts is None or n_train_users is None:
                raise ValueError("novelty needs item_user_counts and n_train_users")
            results[name] = novelty(recommended, item_user_counts, n_train_users, k)
        else:
            per_user = _PER_USER[family](hits, sizes, k)
            results[name] = float(per_user.mean()) if len(per_user) else float("nan")
    return results


PerUserMetric = Callable[[BoolArray, IntArray, int], FloatArray]

_PER_USER: Mapping[str, PerUserMetric] = {
    "HR": lambda hits, sizes, k: hit_rate(hits, k),
    "Precision": lambda hits, sizes, k: precision(hits, k),
    "Recall": recall,
    "NDCG": ndcg,
    "MAP": average_precision,
}

__all__ = [
    "METRIC_NAMES",
    "average_precision",
    "catalog_coverage",
    "hit_rate",
    "ndcg",
    "novelty",
    "parse_metric",
    "precision",
    "recall",
    "relevance",
    "score",
    "truth_sizes",
]
