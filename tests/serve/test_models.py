"""Which model serves each scenario: the registry's serving versions, ``best`` through
its pointer, and the latency budget that hands a too-slow ``best`` to the next best
model that fits."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopsense.core.settings import ServeSettings
from shopsense.serve import models as serving_models
from shopsense.serve.catalog import ServingCatalog
from shopsense.serve.models import REPEAT_ONLY, LoadedModel, load_model_set
from shopsense.store import open_store
from shopsense.training import BEST_MODEL
from shopsense.training.customers import CUSTOMER_MODEL

SAMPLE = [([0, 1, 2], [1_700_000_000, 1_700_000_100, 1_700_000_200])]


def test_best_follows_the_pointer_and_other_scenarios_their_model(trained_shop: Path) -> None:
    with open_store(f"duckdb://{trained_shop / 'shopsense.duckdb'}", read_only=True) as store:
        best = store.get_model(BEST_MODEL).params["model"]
        models = load_model_set(store, ServeSettings(latency_budget_ms=None), ServingCatalog())
    assert models.get("home") is not None and models.get("home").name == best  # type: ignore[union-attr]
    assert models.get("similar").name == "item-knn"  # type: ignore[union-attr]
    assert models.notes == {}
    assert {version.name for version in models.versions} >= {best, "item-knn", "popular"}


def test_a_best_over_the_latency_budget_is_replaced_by_the_next_best_that_fits(
    trained_shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(f"duckdb://{trained_shop / 'shopsense.duckdb'}", read_only=True) as store:
        best = store.get_model(BEST_MODEL).params["model"]
        pointer = store.get_model(str(best))
        metric = pointer.metrics["primary_metric"]
        ranked = sorted(
            (
                version
                for version in store.list_models()
                if version.serving
                and version.name not in (BEST_MODEL, best, CUSTOMER_MODEL, *REPEAT_ONLY)
            ),
            key=lambda version: -version.metrics["validation"][metric],
        )
        # The best and the runner-up are "slow"; the third fits.
        slow = {best, ranked[0].name}

        def fake_latency(model: LoadedModel, sample: object, now: int) -> float:
            return 10.0 if model.name in slow else 0.5

        monkeypatch.setattr(serving_models, "median_latency_ms", fake_latency)
        models = load_model_set(
            store, ServeSettings(latency_budget_ms=2.0), ServingCatalog(), sample=SAMPLE
        )
    assert models.get("home").name == ranked[1].name  # type: ignore[union-attr]
    assert models.get("similar").name == "item-knn"  # type: ignore[union-attr]  # not timed
    assert "over the 2 ms budget" in models.notes["home"]
    assert models.latency_ms[f"{best} v{pointer.version}"] == 10.0
    assert ranked[1].name not in REPEAT_ONLY
