"""What the gradient-boosted customer models share: their feature matrix, and the
number of boosting rounds chosen by early stopping on K held-out folds, with the
out-of-fold predictions that come with it (for calibration and model choice)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd

from shopsense.core.errors import ValidationFailedError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

EARLY_STOPPING_ROUNDS = 50


def leaf_size(requested: int, n_rows: int) -> int:
    """The minimum customers per leaf for ``n_rows`` training rows: ``requested``, but
    at most a tenth of the rows (and at least 5), so that a small shop still gets
    splits instead of a constant model."""
    return max(5, min(requested, n_rows // 10))


def tree_params(
    *,
    num_leaves: int,
    learning_rate: float,
    min_child_samples: int,
    feature_fraction: float,
    lambda_l2: float,
    seed: int,
    n_rows: int,
) -> dict[str, Any]:
    """The LightGBM settings the customer models share (bagging 80% of the rows each
    round; leaf size and threads scaled to ``n_rows``); each adds its objective."""
    return {
        "num_leaves": num_leaves,
        "learning_rate": learning_rate,
        "min_child_samples": leaf_size(min_child_samples, n_rows),
        "feature_fraction": feature_fraction,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": lambda_l2,
        "seed": seed,
        "num_threads": training_threads(n_rows),
        "verbosity": -1,
    }


def feature_matrix(features: pd.DataFrame, columns: list[str]) -> FloatArray:
    """The ``columns`` of ``features`` as a float matrix, in that order."""
    missing = [name for name in columns if name not in features.columns]
    if missing:
        raise ValidationFailedError(f"features lack the columns {missing}")
    return np.asarray(features[columns].to_numpy(dtype=np.float64), dtype=np.float64)


def cross_fit(
    params: dict[str, Any],
    matrix: FloatArray,
    target: FloatArray,
    folds: Iterable[tuple[IntArray, IntArray]],
    *,
    columns: list[str],
    max_rounds: int,
) -> tuple[FloatArray, int]:
    """Out-of-fold predictions and the folds' mean best number of rounds."""
    out_of_fold = np.zeros(len(target))
    rounds = []
    for train_rows, held_rows in folds:
        train = lgb.Dataset(matrix[train_rows], target[train_rows], feature_name=columns)
        held = lgb.Dataset(matrix[held_rows], target[held_rows], reference=train)
        booster = lgb.train(
            params,
            train,
            num_boost_round=max_rounds,
            valid_sets=[held],
            callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
        )
        rounds.append(booster.best_iteration or max_rounds)
        predicted = booster.predict(matrix[held_rows], num_iteration=rounds[-1])
        out_of_fold[held_rows] = np.asarray(predicted, dtype=np.float64)
    return out_of_fold, max(1, round(float(np.mean(rounds))))


PARALLEL_ROWS = 2_000
"""Fewer rows than this are predicted on one thread: a request scoring one customer
gains nothing from OpenMP's team, and its spinning threads cost a busy server dearly."""
PARALLEL_TRAINING_ROWS = 50_000
"""Fewer rows than this are trained on one thread: a shop's few thousand customers fit
in a second or two alone, while OpenMP's spinning team slows to a crawl when anything
else (a server, another job) holds a core."""


def training_threads(n_rows: int) -> int:
    """LightGBM's ``num_threads`` for a fit on ``n_rows`` rows (0: all cores)."""
    return 1 if n_rows < PARALLEL_TRAINING_ROWS else 0


def predict(booster: lgb.Booster, matrix: FloatArray, **options: Any) -> FloatArray:
    """``booster.predict`` on one thread for small inputs, all cores for batches."""
    threads = 1 if len(matrix) < PARALLEL_ROWS else 0
    return np.asarray(booster.predict(matrix, num_threads=threads, **options), np.float64)


def save_booster(
    directory: Path,
    booster: lgb.Booster,
    *,
    model_file: str,
    manifest_file: str,
    manifest: dict[str, Any],
) -> None:
    """LightGBM's text model and a JSON manifest beside it (no pickle)."""
    directory.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(directory / model_file))
    (directory / manifest_file).write_text(json.dumps(manifest))


def load_booster(
    directory: Path, *, model_file: str, manifest_file: str
) -> tuple[lgb.Booster, dict[str, Any]]:
    """What :func:`save_booster` wrote."""
    manifest: dict[str, Any] = json.loads((directory / manifest_file).read_text())
    return lgb.Booster(model_file=str(directory / model_file)), manifest


def train_booster(
    params: dict[str, Any],
    matrix: FloatArray,
    target: FloatArray,
    *,
    columns: list[str],
    rounds: int,
) -> lgb.Booster:
    """The final model on all rows."""
    return lgb.train(params, lgb.Dataset(matrix, target, feature_name=columns), rounds)
