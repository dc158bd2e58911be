"""Train the configured recommenders on a store, and register them with their metrics.

:func:`train_models` does, for each recommender of ``settings.recommenders``:

1. offline evaluation on the store's :func:`~shopsense.evaluation.protocols.temporal`
   split (fit on the first 80% of the interactions in time, score the rest; the
   validation part is scored too), which gives the metrics registered with the model;
2. a refit on *all* the store's interactions (of ``settings.training_event_types``),
   with the store's catalog attached;
3. the artifact saved under ``<data_dir>/models/<name>/v<version>/`` (the model's own
   files plus ``item_ids.json``, the item vocabulary that its item codes index), then
   registered and promoted.

Afterwards the best model (highest :func:`~shopsense.evaluation.tuning.primary_metric`
on the *validation* split, as :func:`select_best` and ``evaluate --model best`` choose,
among this run's models and the serving versions of other names trained on the same
data) is registered under the pseudo-name :data:`BEST_MODEL` with
``params = {"model": name, "version": version}`` and the winner's artifact URI, and
promoted: serving reads ``get_model("best")`` to know what to load.

A recommender that fails (bad parameters, not enough data, an error in the model) is
logged and reported in its :class:`TrainedModel`; the others go on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shopsense.core.errors import ConfigurationError, StoreError
from shopsense.core.settings import Settings
from shopsense.evaluation.protocols import Split, attach_catalog, temporal
from shopsense.evaluation.runner import EvaluationResult, evaluate
from shopsense.evaluation.tuning import primary_metric, read_tuned_params
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions
from shopsense.models.recommend.registry import make_recommender
from shopsense.store.base import ModelVersion, Store

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]

BEST_MODEL = "best"
"""Registry name of the pointer to the best recommender (see the module docstring)."""

ITEM_IDS_FILE = "item_ids.json"
"""The item vocabulary beside each artifact: ``item_ids[code]`` is the item's id."""


@dataclass(frozen=True, slots=True)
class TrainedModel:
    """The outcome of training one recommender.

    ``evaluation``: its offline result on the temporal test split (None when it
    failed before); ``validation_metrics``: the same metrics on the validation split;
    ``version``: the registered version (None when it failed); ``error``: why it
    failed.
    """

    name: str
    params: dict[str, Any]
    evaluation: EvaluationResult | None = None
    validation_metrics: dict[str, float] | None = None
    version: ModelVersion | None = None
    fit_seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def model_params(settings: Settings, name: str) -> dict[str, Any]:
    """The hyper-parameters to train ``name`` with: the ``best_params`` of
    ``<tuned_params_dir>/<name>.json`` when there is one, with
    ``settings.recommender_params[name]`` on top."""
    params: dict[str, Any] = {}
    if settings.tuned_params_dir is not None:
        tuned = settings.tuned_params_dir / f"{name}.json"
        if tuned.exists():
            params.update(read_tuned_params(tuned, model=name))
    params.update(settings.recommender_params.get(name, {}))
    return params


def data_fingerprint(interactions: Interactions) -> str:
    """A short hash of what a model was trained on: interaction, user and item counts
    and the last timestamp (equal data gives an equal fingerprint; new events change it)."""
    last = int(interactions.timestamps.max()) if len(interactions) else 0
    summary = f"{len(interactions)}:{interactions.n_users}:{interactions.n_items}:{last}"
    return hashlib.sha256(summary.encode()).hexdigest()[:16]


def _next_version(store: Store, name: str) -> int:
    return max((version.version for version in store.list_models(name)), default=0) + 1


def _train_one(
    store: Store,
    settings: Settings,
    name: str,
    *,
    split: Split,
    everything: Interactions,
    fingerprint: str,
) -> TrainedModel:
    params = model_params(settings, name)
    try:
        make_recommender(name, **params)  # unknown names and parameters fail here
        evaluation = evaluate(make_recommender(name, **params), split, params=params)
        validation_metrics = None
        if split.validation is not None:
            validation_metrics = evaluate(
                make_recommender(name, **params), split.validation, params=params
            ).metrics
        started = time.perf_counter()
        model = make_recommender(name, **params).fit(everything)
        fit_seconds = time.perf_counter() - started
        version_number = _next_version(store, name)
        directory = settings.data_dir / "models" / name / f"v{version_number}"
        model.save(directory)
        (directory / ITEM_IDS_FILE).write_text(json.dumps(everything.item_ids.tolist()))
        metrics: dict[str, Any] = {
            **evaluation.metrics,
            "primary_metric": primary_metric(split),
            "protocol": split.protocol,
            "users_evaluated": split.n_users,
            "validation": validation_metrics,
            "fit_seconds": fit_seconds,
            "interactions": len(everything),
        }
        registered = store.register_model(
            name,
            artifact_uri=directory.resolve().as_uri(),
            params=params,
            metrics=metrics,
            data_fingerprint=fingerprint,
        )
        if registered.version != version_number:
            raise StoreError(
                f"{name} was registered as version {registered.version} while its artifact "
                f"went to {directory}: is another 'shopsense train' running?"
            )
        registered = store.promote_model(name, registered.version)
    except Exception as error:  # one model's failure must not stop the others
        message = f"{type(error).__name__}: {error}"
        logger.error("training %s failed: %s", name, message)
        return TrainedModel(name=name, params=params, error=message)
    logger.debug("registered %s version %d", name, registered.version)
    return TrainedModel(
        name=name,
        params=params,
        evaluation=evaluation,
        validation_metrics=validation_metrics,
        version=registered,
        fit_seconds=fit_seconds,
    )


def _register_best(store: Store, metric: str, fingerprint: str) -> ModelVersion | None:
    """Point :data:`BEST_MODEL` at the serving version with the highest *validation*
    ``metric`` among those trained on data with ``fingerprint`` (comparable numbers
    only), the same rule as :func:`select_best`: the test split only reports."""
    candidates = [
        version
        for version in store.list_models()
        if version.serving
        and version.name != BEST_MODEL
        and version.data_fingerprint == fingerprint
        and version.metrics.get("primary_metric") == metric
        and isinstance((version.metrics.get("validation") or {}).get(metric), int | float)
    ]
    if not candidates:
        return None
    best = max(candidates, key=lambda version: float(version.metrics["validation"][metric]))
    pointer = store.register_model(
        BEST_MODEL,
        artifact_uri=best.artifact_uri,
        params={"model": best.name, "version": best.version},
        metrics={
            "primary_metric": metric,
            metric: best.metrics[metric],
            "validation": {metric: best.metrics["validation"][metric]},
        },
        data_fingerprint=fingerprint,
    )
    logger.info("best recommender: %s version %d (%s)", best.name, best.version, metric)
    return store.promote_model(BEST_MODEL, pointer.version)


@dataclass(frozen=True, slots=True)
class Selection:
    """What :func:`select_best` chose, and the validation results it chose from."""

    name: str
    params: dict[str, Any]
    metric: str
    candidates: list[EvaluationResult]


def select_best(
    split: Split,
    settings: Settings,
    *,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> Selection:
    """The recommender that ``shopsense train`` would put in service for ``split``'s
    data: each of ``names`` (default ``settings.recommenders``, with
    :func:`model_params`) evaluated on ``split.validation`` only, the best by the
    primary metric (ties: the first listed). Models that fail are skipped (logged)."""
    if split.validation is None:
        raise ConfigurationError(f"{split.protocol} has no validation split to select on")
    names = list(names or settings.recommenders)
    metric = primary_metric(split)
    results: list[EvaluationResult] = []
    for done, name in enumerate(names):
        if progress is not None:
            progress(done, len(names))
        params = model_params(settings, name)
        try:
            results.append(
                evaluate(make_recommender(name, **params), split.validation, params=params)
            )
        except Exception as error:  # one model's failure must not stop the selection
            logger.error("selecting: %s failed on validation: %s", name, error)
    if progress is not None:
        progress(len(names), len(names))
    if not results:
        raise ConfigurationError("no recommender could be evaluated on the validation split")
    best = max(results, key=lambda result: result.metrics[metric])
    return Selection(name=best.model, params=best.params, metric=metric, candidates=results)


@dataclass(frozen=True, slots=True)
class TrainingRun:
    """All of :func:`train_models`' outcomes, and the :data:`BEST_MODEL` pointer it
    registered (None when no model could be registered)."""

    models: list[TrainedModel]
    best: ModelVersion | None
    split: dict[str, int | float | str]

    @property
    def failed(self) -> list[TrainedModel]:
        return [model for model in self.models if not model.ok]


def train_models(
    store: Store,
    settings: Settings,
    *,
    names: list[str] | None = None,
    progress: ProgressCallback | None = None,
) -> TrainingRun:
    """Evaluate, refit, save, register and promote each recommender of ``names``
    (default ``settings.recommenders``), then register the best (module docstring).
    ``progress(done, total)`` counts models. Raises :class:`ConfigurationError` when
    the store has no interactions of ``settings.training_event_types``."""
    names = list(names or settings.recommenders)
    if not names:
        raise ConfigurationError("no recommenders to train; set 'recommenders' in the settings")
    types = list(settings.training_event_types) or None
    table = store.interactions(types=types)
    if table.num_rows == 0:
        which = ", ".join(types) if types else "any type"
        raise ConfigurationError(
            f"the store has no interactions ({which}) to train on; import or simulate data"
        )
    items = store.read_items()
    split = attach_catalog(temporal(store, types=types), items)
    everything = Interactions.from_table(table)
    if items.num_rows:
        everything = everything.with_catalog(
            ItemCatalog.from_items_table(items, everything.item_ids)
        )
    fingerprint = data_fingerprint(everything)
    results: list[TrainedModel] = []
    for done, name in enumerate(names):
        if progress is not None:
            progress(done, len(names))
        results.append(
            _train_one(
                store, settings, name, split=split, everything=everything, fingerprint=fingerprint
            )
        )
    if progress is not None:
        progress(len(names), len(names))
    best = None
    if any(result.ok for result in results):
        best = _register_best(store, primary_metric(split), fingerprint)
    return TrainingRun(models=results, best=best, split=split.summary())


__all__ = [
    "BEST_MODEL",
    "ITEM_IDS_FILE",
    "Selection",
    "TrainedModel",
    "TrainingRun",
    "data_fingerprint",
    "model_params",
    "select_best",
    "train_models",
]
