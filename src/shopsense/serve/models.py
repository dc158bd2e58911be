"""The models in service: loaded from the registry, mapped onto the server's item codes,
and swapped as one immutable :class:`ModelSet` (a request reads one snapshot from start
to end, so a retrain that lands mid-request cannot mix versions).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ConfigurationError, NotFoundError
from shopsense.core.ids import utc_now
from shopsense.core.settings import ServeSettings
from shopsense.experiments.design import Experiment
from shopsense.models.recommend.base import Recommender
from shopsense.models.recommend.registry import RECOMMENDERS
from shopsense.serve.catalog import ServingCatalog
from shopsense.store.base import ModelVersion, Store
from shopsense.training.recommenders import BEST_MODEL, ITEM_IDS_FILE

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A fitted recommender with the maps between its item codes and the server's."""

    name: str
    version: int
    model: Recommender
    to_global: IntArray  # model code -> global code
    to_model: IntArray  # global code -> model code (-1: unknown to the model)

    def model_codes(self, items: npt.ArrayLike) -> IntArray:
        """Model codes of global codes; -1 where the model does not know the item."""
        codes = np.asarray(items, dtype=np.int64)
        result = np.full(len(codes), -1, dtype=np.int64)
        inside = codes < len(self.to_model)
        result[inside] = self.to_model[codes[inside]]
        return result

    @property
    def n_items(self) -> int:
        return len(self.to_global)


@dataclass(frozen=True, slots=True)
class LiveExperiment:
    """A running experiment as serving applies it: the model of each variant that names
    one (the others keep the scenario's model)."""

    experiment: Experiment
    models: dict[str, LoadedModel] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelSet:
    """What serves each scenario (``ServeSettings.models`` keys) right now; the
    measured ``latency_ms`` of the personal models timed, and ``notes[scenario]`` when a
    scenario is not served by the model configured (and why)."""

    by_scenario: dict[str, LoadedModel] = field(default_factory=dict)
    versions: tuple[ModelVersion, ...] = ()
    loaded_at: datetime = field(default_factory=utc_now)
    latency_ms: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    named: dict[str, LoadedModel] = field(default_factory=dict)
    """Models asked for by name (the variants of running experiments)."""
    experiments: dict[str, LiveExperiment] = field(default_factory=dict)
    """The running experiment of each scenario, swapped in with the models it serves."""

    def get(self, scenario: str) -> LoadedModel | None:
        return self.by_scenario.get(scenario)

    def serving(self, scenario: str, model: LoadedModel) -> ModelSet:
        """This set with ``model`` serving ``scenario`` (an experiment's variant)."""
        return replace(self, by_scenario={**self.by_scenario, scenario: model})

    def describe(self) -> dict[str, dict[str, str | int]]:
        """Scenario -> model name and version, for health and metrics."""
        return {
            scenario: {"model": loaded.name, "version": loaded.version}
            for scenario, loaded in sorted(self.by_scenario.items())
        }


def load_version(version: ModelVersion, catalog: ServingCatalog) -> LoadedModel:
    """Read a registered version's artifact and map its vocabulary into ``catalog``."""
    directory = version.directory
    if version.name not in RECOMMENDERS:
        raise ConfigurationError(f"the registry names an unknown recommender {version.name!r}")
    if not directory.exists():
        raise NotFoundError(
            f"the artifact of {version.name} v{version.version} is missing at {directory}; "
            "retrain with `shopsense train`"
        )
    model = RECOMMENDERS[version.name].load(directory)
    item_ids = json.loads((directory / ITEM_IDS_FILE).read_text())
    to_global = np.asarray(catalog.ensure(item_ids), dtype=np.int64)
    to_model = np.full(len(catalog), -1, dtype=np.int64)
    to_model[to_global] = np.arange(len(to_global), dtype=np.int64)
    return LoadedModel(
        name=version.name,
        version=version.version,
        model=model,
        to_global=to_global,
        to_model=to_model,
    )


REPEAT_ONLY = frozenset({"top-frequency", "buy-again"})
"""Models that only re-rank what a user already bought: never a stand-in for ``best``
in personal feeds, which exclude purchases."""
LATENCY_SAMPLES = 15

Sample = list[tuple[list[int], list[int]]]
"""Histories to time models on: (global item codes, Unix seconds), oldest first."""


def median_latency_ms(loaded: LoadedModel, sample: Sample, now: int) -> float:
    """Median milliseconds of one single-history ``recommend`` over ``sample``, as a
    request runs it (every item a candidate, the history in the model's codes)."""
    timings: list[float] = []
    for items, stamps in sample[:LATENCY_SAMPLES]:
        codes = loaded.model_codes(items)
        known = codes >= 0
        times = np.asarray(stamps, dtype=np.int64)[known]
        started = time.perf_counter()
        loaded.model.recommend([codes[known]], 30, exclude_seen=False, times=[times], now=now)
        timings.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(timings)) if timings else 0.0


def _ranked_by_validation(
    serving: dict[str, ModelVersion], best: ModelVersion
) -> list[ModelVersion]:
    """Serving versions trained on the same data as ``best``, best first by the
    validation metric that chose it (what ``shopsense train`` compares)."""
    metric = best.metrics.get("primary_metric")

    def score(version: ModelVersion) -> float:
        value = (version.metrics.get("validation") or {}).get(metric)
        return float(value) if isinstance(value, int | float) else float("-inf")

    candidates = [
        version
        for version in serving.values()
        if version.name not in (BEST_MODEL, best.name, *REPEAT_ONLY)
        and version.data_fingerprint == best.data_fingerprint
    ]
    return sorted(candidates, key=lambda version: -score(version))


def load_model_set(
    store: Store,
    settings: ServeSettings,
    catalog: ServingCatalog,
    *,
    sample: Sample | None = None,
    now: int = 0,
    named: tuple[str, ...] = (),
) -> ModelSet:
    """Load the serving version of each scenario's model (``'best'`` follows the
    pointer that ``shopsense train`` registers). A scenario whose model is not trained
    is left out (the engine falls back); a model that fails to load is logged and
    left out the same way.

    With a latency budget and a ``sample`` of live histories, ``'best'`` is timed on
    them; over budget, the scenario is served by the next best model (by validation
    metric, repeat-only models excepted) that fits, and ``notes`` says so.

    ``named`` models (registered names, ``'best'`` too) are loaded as they are, for
    experiments whose variants name them: ``ModelSet.named``."""
    serving = {version.name: version for version in store.list_models() if version.serving}
    loaded: dict[tuple[str, int], LoadedModel] = {}
    by_scenario: dict[str, LoadedModel] = {}
    in_service: dict[tuple[str, int], ModelVersion] = {}
    latency: dict[str, float] = {}
    notes: dict[str, str] = {}

    def load(version: ModelVersion) -> LoadedModel | None:
        key = (version.name, version.version)
        if key not in loaded:
            try:
                loaded[key] = load_version(version, catalog)
            except Exception as error:  # one broken artifact must not stop serving
                logger.error("cannot load %s v%d: %s", version.name, version.version, error)
                return None
            in_service[key] = version
        return loaded[key]

    def timed(model: LoadedModel) -> float:
        name = f"{model.name} v{model.version}"
        if name not in latency:
            latency[name] = round(median_latency_ms(model, sample or [], now), 3)
        return latency[name]

    def resolve(name: str, purpose: str) -> ModelVersion | None:
        """The serving version of ``name``, following the ``'best'`` pointer."""
        version = serving.get(name)
        if version is not None and name == BEST_MODEL:
            try:
                return store.get_model(str(version.params["model"]), int(version.params["version"]))
            except (KeyError, NotFoundError) as error:
                logger.error(
                    "the %r pointer is broken (%s); %s is not served", name, error, purpose
                )
                return None
        if version is None:
            logger.warning("no trained %r model: %s falls back", name, purpose)
        return version

    budget = settings.latency_budget_ms
    for scenario, name in settings.models.items():
        pointer = serving.get(name) if name == BEST_MODEL else None
        version = resolve(name, f"scenario {scenario}")
        if version is None:
            continue
        model = load(version)
        if model is None:
            continue
        if pointer is not None and budget is not None and sample and timed(model) > budget:
            for alternative in _ranked_by_validation(serving, version):
                candidate = load(alternative)
                if candidate is not None and timed(candidate) <= budget:
                    notes[scenario] = (
                        f"{model.name} v{model.version} takes {timed(model):.1f} ms per list, "
                        f"over the {budget:g} ms budget (serve.latency_budget_ms): serving "
                        f"{candidate.name} v{candidate.version} ({timed(candidate):.1f} ms), "
                        "the next best by validation that fits"
                    )
                    logger.warning("%s: %s", scenario, notes[scenario])
                    model = candidate
                    break
        by_scenario[scenario] = model
    by_name: dict[str, LoadedModel] = {}
    for name in named:
        version = resolve(name, f"the experiment variant on {name!r}")
        model = load(version) if version is not None else None
        if model is not None:
            by_name[name] = model
    used = {(model.name, model.version) for model in (*by_scenario.values(), *by_name.values())}
    logger.info(
        "models in service: %s",
        ", ".join(f"{s}={m.name} v{m.version}" for s, m in sorted(by_scenario.items())) or "none",
    )
    return ModelSet(
        by_scenario=by_scenario,
        versions=tuple(v for key, v in in_service.items() if key in used),
        latency_ms=latency,
        notes=notes,
        named=by_name,
    )


__all__ = ["LiveExperiment", "LoadedModel", "ModelSet", "load_model_set", "load_version"]
