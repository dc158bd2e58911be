"""Run a recommender through a protocol's :class:`~shopsense.evaluation.protocols.Split`.

:func:`evaluate` fits the model on the training interactions, asks it for top-``n``
lists of the evaluated users (from their histories, in batches), scores the lists with
the protocol's metrics and times both steps. With ``dump_recs`` it also writes the
lists, one JSON line per user, ``{"user": "<id>", "items": ["<id>", ...]}`` best first
(the dataset's own ids), so that anyone can re-score them (``docs/evaluation.md``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from shopsense.evaluation.metrics import score
from shopsense.evaluation.protocols import Split
from shopsense.models.recommend.base import Holdout, Recommender, accepts_holdout

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]

MIN_LIST_LENGTH = 20
"""Lists are at least this long, whatever the metrics need, so that dumps can be
re-scored at any cutoff up to 20."""

ProgressCallback = Callable[[int, int | None], None]


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    """What one evaluation run measured.

    ``metrics``: the means over evaluated users, by name (``"NDCG@10"``);
    ``fit_seconds`` / ``recommend_seconds``: wall time of ``fit`` and of all
    ``recommend`` calls; ``split``: the split's sizes (:meth:`Split.summary`).
    """

    protocol: str
    model: str
    metrics: dict[str, float]
    fit_seconds: float
    recommend_seconds: float
    n: int
    split: dict[str, int | float | str]
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _instance(model: Recommender | Callable[[], Recommender]) -> Recommender:
    # A class satisfies the runtime Protocol check too (it has the methods), so test
    # for a type first: classes and factories are called, instances used as they are.
    if isinstance(model, type) or not isinstance(model, Recommender):
        return model()
    return model


def fit_with_holdout(recommender: Recommender, split: Split) -> None:
    """Fit on ``split.train``; a model that stops early (its ``fit`` takes
    ``validation``) gets the protocol's validation targets as its :class:`Holdout` when
    they are held out of the same training data (seq-loo: the second-to-last items),
    as the published protocol trains. Otherwise it holds out data itself."""
    validation = split.validation
    if accepts_holdout(recommender) and validation is not None and validation.train is split.train:
        holdout = Holdout(
            histories=validation.histories,
            truth=validation.truth,
            times=validation.history_times,
            now=validation.now,
        )
        recommender.fit(split.train, validation=holdout)  # type: ignore[call-arg]
    else:
        recommender.fit(split.train)


def recommend_for_split(
    model: Recommender,
    split: Split,
    n: int,
    *,
    batch_size: int = 1024,
    progress: ProgressCallback | None = None,
) -> IntArray:
    """Top-``n`` item codes, int64 ``(split.n_users, n)``, for every evaluated user, best
    first (-1 pads short lists); history items excluded when the protocol says so."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lists = np.full((split.n_users, n), -1, dtype=np.int64)
    for start in range(0, split.n_users, batch_size):
        stop = min(start + batch_size, split.n_users)
        times = None if split.history_times is None else split.history_times[start:stop]
        batch = model.recommend(
            split.histories[start:stop],
            n,
            exclude_seen=split.exclude_seen,
            times=times,
            now=split.now,
        )
        lists[start:stop] = batch.items
        if progress is not None:
            progress(stop, split.n_users)
    return lists


def write_recommendations(path: Path, split: Split, lists: IntArray) -> None:
    """One JSON line per evaluated user, ``{"user": id, "items": [id, ...]}``, best
    first, padding left out; ids are the dataset's own."""
    item_ids = split.item_ids
    with path.open("w", encoding="utf-8") as file:
        for user, row in zip(split.users.tolist(), lists, strict=True):
            items = item_ids[row[row >= 0]].tolist()
            file.write(json.dumps({"user": user, "items": items}) + "\n")


def read_recommendations(path: Path) -> dict[str, list[str]]:
    """A dump written by :func:`write_recommendations`: user id -> item ids, best first."""
    lists: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as file:
        for line in file:
            if line.strip():
                record = json.loads(line)
                lists[str(record["user"])] = [str(item) for item in record["items"]]
    return lists


def evaluate(
    model: Recommender | Callable[[], Recommender],
    split: Split,
    *,
    n: int | None = None,
    batch_size: int = 1024,
    dump_recs: Path | None = None,
    params: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> EvaluationResult:
    """Fit ``model`` (an instance, a class or a factory) on ``split.train``, recommend
    ``n`` items (default and minimum: the longest metric cutoff, and at least 20) for
    every evaluated user in batches of ``batch_size``, and score the lists with
    ``split.metrics``. ``dump_recs``: also write the lists there (JSON lines).
    ``params``: recorded in the result as given (e.g. the CLI's ``--param`` values).
    """
    length = max(split.max_k, MIN_LIST_LENGTH, n or 0)
    recommender = _instance(model)
    started = time.perf_counter()
    fit_with_holdout(recommender, split)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    lists = recommend_for_split(
        recommender, split, length, batch_size=batch_size, progress=progress
    )
    recommend_seconds = time.perf_counter() - started
    train_matrix = split.train.to_csr(binary=True)
    metrics = score(
        split.metrics,
        lists,
        split.truth,
        n_items=split.n_items,
        item_user_counts=np.asarray(train_matrix.sum(axis=0)).ravel().astype(np.int64),
        n_train_users=split.train.n_users,
    )
    if dump_recs is not None:
        write_recommendations(dump_recs, split, lists)
    name = str(getattr(recommender, "name", type(recommender).__name__))
    logger.debug(
        "%s on %s: %s (fit %.1fs, recommend %.1fs)",
        name,
        split.protocol,
        metrics,
        fit_seconds,
        recommend_seconds,
    )
    return EvaluationResult(
        protocol=split.protocol,
        model=name,
        metrics=metrics,
        fit_seconds=fit_seconds,
        recommend_seconds=recommend_seconds,
        n=length,
        split=split.summary(),
        params=dict(params or {}),
    )


__all__ = [
    "MIN_LIST_LENGTH",
    "EvaluationResult",
    "evaluate",
    "read_recommendations",
    "recommend_for_split",
    "write_recommendations",
]
