"""Hyper-parameter search on a protocol's *validation* split, with optuna.

:func:`tune` fits a recommender on ``split.validation.train`` and scores it on
``split.validation`` for each trial; the test part of the split (its training data,
histories and truth) is never read, so that the numbers later reported on the test
split stay honest (BENCHMARKS.md: "tune only on the validation split").

Each registered recommender has one explicit search space in :data:`SEARCH_SPACES`: a
function that asks an :class:`optuna.Trial` for values and returns the keyword
parameters of the model. Spaces may also return fixed values (SASRec's bounded
epochs); ``fixed`` parameters given to :func:`tune` are pinned in the sampler and win
over whatever a space returns. A model without hyper-parameters has an empty space,
and tuning it is a single evaluation.

The sampler is optuna's TPE (Bergstra et al., "Algorithms for Hyper-Parameter
Optimization", NeurIPS 2011) with a fixed seed, so that a seed gives the same trials
(as long as the models themselves are deterministic, which ours are on CPU).
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna

from shopsense.core.errors import ConfigurationError
from shopsense.evaluation.metrics import parse_metric
from shopsense.evaluation.protocols import Split
from shopsense.evaluation.runner import evaluate
from shopsense.models.recommend.registry import RECOMMENDERS, make_recommender

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
SearchSpace = Callable[[optuna.Trial], dict[str, Any]]

DEFAULT_TRIALS = 30
DEFAULT_SEED = 42


def _half_life(trial: optuna.Trial, name: str, low: float, high: float) -> float | None:
    """A half-life that may also be off (None): a switch plus a log-uniform value."""
    if trial.suggest_categorical(f"{name}_on", [False, True]):
        return trial.suggest_float(name, low, high, log=True)
    return None


def _popular_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "half_life_days": _half_life(trial, "half_life_days", 3.0, 365.0),
        "category_weight": trial.suggest_float("category_weight", 0.0, 2.0),
    }


def _item_knn_space(trial: optuna.Trial) -> dict[str, Any]:
    params: dict[str, Any] = {
        "similarity": trial.suggest_categorical("similarity", ["cosine", "bm25"]),
        "neighbours": trial.suggest_int("neighbours", 10, 500, log=True),
        "half_life_days": _half_life(trial, "half_life_days", 3.0, 365.0),
        "history_half_life_items": _half_life(trial, "history_half_life_items", 1.0, 50.0),
    }
    if params["similarity"] == "bm25":
        params["bm25_k1"] = trial.suggest_float("bm25_k1", 1.0, 500.0, log=True)
        params["bm25_b"] = trial.suggest_float("bm25_b", 0.0, 1.0)
    return params


def _ease_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "l2": trial.suggest_float("l2", 1.0, 10_000.0, log=True),
        "history_half_life_items": _half_life(trial, "history_half_life_items", 1.0, 50.0),
    }


def _als_space(trial: optuna.Trial) -> dict[str, Any]:
    params: dict[str, Any] = {
        "factors": trial.suggest_int("factors", 16, 256, log=True),
        "regularization": trial.suggest_float("regularization", 1e-4, 1.0, log=True),
        "alpha": trial.suggest_float("alpha", 0.1, 100.0, log=True),
        "confidence": trial.suggest_categorical("confidence", ["linear", "log"]),
        "iterations": trial.suggest_int("iterations", 5, 30),
    }
    if params["confidence"] == "log":
        params["log_epsilon"] = trial.suggest_float("log_epsilon", 0.01, 100.0, log=True)
    return params


SASREC_TUNING_EPOCHS = 30
"""SASRec is slow on CPU: each trial runs at most this many epochs (patience 5)."""


def _sasrec_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "hidden": trial.suggest_categorical("hidden", [32, 64]),
        "blocks": trial.suggest_int("blocks", 1, 2),
        "dropout": trial.suggest_float("dropout", 0.1, 0.5, step=0.1),
        "learning_rate": trial.suggest_float("learning_rate", 3e-4, 3e-3, log=True),
        "epochs": SASREC_TUNING_EPOCHS,
        "patience": 5,
    }


def _no_parameters(trial: optuna.Trial) -> dict[str, Any]:
    del trial
    return {}


def _buy_again_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "half_life_days": _half_life(trial, "half_life_days", 7.0, 730.0),
        "cycle_weight": trial.suggest_float("cycle_weight", 0.0, 4.0),
        "cycle_width": trial.suggest_float("cycle_width", 0.1, 2.0, log=True),
        "min_repeats": trial.suggest_int("min_repeats", 1, 20, log=True),
        "popularity_weight": trial.suggest_float("popularity_weight", 0.0, 1.0),
    }


def _bought_together_space(trial: optuna.Trial) -> dict[str, Any]:
    return {
        "measure": trial.suggest_categorical("measure", ["lift", "confidence"]),
        "min_support": trial.suggest_int("min_support", 1, 64, log=True),
        "neighbours": trial.suggest_int("neighbours", 10, 200, log=True),
        # 0: one order is one basket; up to a day: a shopping trip
        "basket_gap_seconds": trial.suggest_categorical("basket_gap_seconds", [0, 1_800, 86_400]),
        "history_half_life_items": _half_life(trial, "history_half_life_items", 1.0, 50.0),
    }


def _content_space(trial: optuna.Trial) -> dict[str, Any]:
    # The encoder is a choice of deployment (what is installed), not searched.
    return {
        "history_half_life_items": _half_life(trial, "history_half_life_items", 1.0, 50.0),
        "popularity_weight": trial.suggest_float("popularity_weight", 0.0, 0.5),
    }


def _ltr_space(trial: optuna.Trial) -> dict[str, Any]:
    # The ranker's own knobs; the sources keep their (separately tuned) parameters.
    return {
        "candidates_per_source": trial.suggest_int("candidates_per_source", 20, 100, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 7, 63, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 5, 200, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "objective": trial.suggest_categorical("objective", ["lambdarank", "binary"]),
    }


SEARCH_SPACES: dict[str, SearchSpace] = {
    "popular": _popular_space,
    "item-knn": _item_knn_space,
    "ease": _ease_space,
    "als": _als_space,
    "sasrec": _sasrec_space,
    "top-frequency": _no_parameters,
    "buy-again": _buy_again_space,
    "bought-together": _bought_together_space,
    "content": _content_space,
    "ltr": _ltr_space,
}
"""One search space per registered recommender (an empty one for a model without
hyper-parameters); ``tests/evaluation/test_tuning.py`` checks that none is missing."""


@dataclass(frozen=True, slots=True)
class TuningResult:
    """What :func:`tune` found.

    ``best_params``: every keyword parameter to give the model (the best trial's
    values with ``fixed_params`` on top), ready for ``make_recommender(model,
    **best_params)``; ``best_value``: its ``metric`` on the validation split;
    ``trials``: one ``{number, params, value, metrics, seconds}`` per finished trial, in
    order; ``split``: the validation split's sizes.
    """

    model: str
    protocol: str
    metric: str
    best_params: dict[str, Any]
    best_value: float
    trials: list[dict[str, Any]]
    fixed_params: dict[str, Any] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    split: dict[str, int | float | str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def primary_metric(split: Split | Sequence[str]) -> str:
    """The metric a protocol is tuned and ranked by (of a split, or of its metric
    names): its first NDCG metric (seq-loo and ml100k: NDCG@10, the headline cutoff of
    their published tables; retail and temporal: NDCG@20), else its first metric. NDCG
    rather than recall or hit rate because it also rewards putting the relevant items
    first."""
    names = split.metrics if isinstance(split, Split) else tuple(split)
    for name in names:
        if name.startswith("NDCG@"):
            return name
    return names[0]


def _check_metric(metric: str) -> None:
    try:
        family, _ = parse_metric(metric)
    except ValueError as error:
        raise ConfigurationError(str(error)) from None
    if family == "novelty":
        # novelty is not a quality to maximise: the most obscure list wins it
        raise ConfigurationError("cannot tune for novelty; pick an accuracy metric such as NDCG@10")


def tune(
    name: str,
    split: Split,
    *,
    metric: str | None = None,
    trials: int = DEFAULT_TRIALS,
    timeout: float | None = None,
    seed: int = DEFAULT_SEED,
    fixed: dict[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> TuningResult:
    """Search recommender ``name``'s :data:`SEARCH_SPACES` entry on ``split.validation``.

    Each trial fits on ``split.validation.train`` and scores ``split.validation``;
    the test part of ``split`` is never read. ``metric``: what to maximise (default
    :func:`primary_metric`; any ``NAME@k`` that :func:`~shopsense.evaluation.metrics.score`
    knows, except novelty). Stops after ``trials`` trials or ``timeout`` seconds,
    whichever comes first (at least one trial runs). ``fixed``: parameters that are not
    searched. ``progress(done, trials)`` is called after each trial.

    Raises :class:`ConfigurationError` for an unknown model, metric or parameter, or a
    split without validation part.
    """
    if name not in RECOMMENDERS:
        make_recommender(name)  # raises the registry's error, which lists the known names
    if name not in SEARCH_SPACES:
        raise ConfigurationError(
            f"recommender {name!r} has no search space yet; add one to "
            "shopsense.evaluation.tuning.SEARCH_SPACES"
        )
    if split.validation is None:
        raise ConfigurationError(
            f"the {split.protocol} split has no validation part; tuning needs one "
            "(the test part is never used for tuning)"
        )
    if trials < 1:
        raise ConfigurationError(f"trials must be at least 1, got {trials}")
    fixed = dict(fixed or {})
    make_recommender(name, **fixed)  # an unknown fixed parameter fails before any trial
    metric = metric or primary_metric(split.validation)
    _check_metric(metric)
    validation = split.validation
    if metric not in validation.metrics:
        validation = replace(validation, metrics=(metric, *validation.metrics))
    space = SEARCH_SPACES[name]
    # Parameters given as fixed are pinned where the space asks for them (so that the
    # sampler's other choices are made knowing them); None means "off", which the
    # spaces express through the switch, so it is only applied on top.
    pinned = {key: value for key, value in fixed.items() if value is not None}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.PartialFixedSampler(pinned, optuna.samplers.TPESampler(seed=seed))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    records: list[dict[str, Any]] = []

    failures: list[Exception] = []

    def objective(trial: optuna.Trial) -> float:
        try:
            params = {**space(trial), **fixed}
        except ValueError as error:  # PartialFixedSampler: a pinned value not in the choices
            failures.append(
                ConfigurationError(
                    f"cannot tune {name} with the fixed parameters {pinned}: {error}"
                )
            )
            trial.study.stop()
            raise optuna.TrialPruned from error
        started = time.perf_counter()
        try:
            result = evaluate(make_recommender(name, **params), validation, params=params)
        except Exception as error:
            # Stop here and re-raise below: optuna would log a failed trial's traceback.
            failures.append(error)
            trial.study.stop()
            raise optuna.TrialPruned from error
        seconds = time.perf_counter() - started
        value = result.metrics[metric]
        records.append(
            {
                "number": trial.number,
                "params": params,
                "value": value,
                "metrics": result.metrics,
                "seconds": seconds,
            }
        )
        logger.info(
            "tune %s trial %d: %s = %.4f (%.1fs) %s",
            name,
            trial.number,
            metric,
            value,
            seconds,
            params,
        )
        if progress is not None:
            progress(len(records), trials)
        return value

    study.optimize(objective, n_trials=trials, timeout=timeout)
    if failures:
        raise failures[0]
    best = max(records, key=lambda record: record["value"])  # ties: the first trial
    logger.info("tune %s: best %s = %.4f with %s", name, metric, best["value"], best["params"])
    return TuningResult(
        model=name,
        protocol=split.protocol,
        metric=metric,
        best_params=dict(best["params"]),
        best_value=float(best["value"]),
        trials=records,
        fixed_params=fixed,
        seed=seed,
        split=validation.summary(),
    )


def read_tuned_params(path: Path, *, model: str | None = None) -> dict[str, Any]:
    """The ``best_params`` of a tuning result written as JSON (``shopsense tune --out``).

    With ``model``, the file must be a result for that recommender. Raises
    :class:`ConfigurationError` when the file is missing, not such a result, or for
    another model.
    """
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"tuning result {path} does not exist") from None
    except (OSError, ValueError) as error:
        raise ConfigurationError(f"cannot read the tuning result {path}: {error}") from None
    if not isinstance(content, dict) or not isinstance(content.get("best_params"), dict):
        raise ConfigurationError(
            f"{path} is not a tuning result (no best_params); write one with shopsense tune"
        )
    if model is not None and content.get("model") != model:
        raise ConfigurationError(
            f"{path} holds parameters tuned for {content.get('model')!r}, not {model!r}"
        )
    return dict(content["best_params"])


__all__ = [
    "SEARCH_SPACES",
    "SearchSpace",
    "TuningResult",
    "primary_metric",
    "read_tuned_params",
    "tune",
]
