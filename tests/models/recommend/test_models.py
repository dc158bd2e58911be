"""Every registered recommender runs the contract, with small fast parameters."""

from __future__ import annotations

from typing import Any

import pytest

from shopsense.models.recommend import RECOMMENDERS, make_recommender
from tests.models.recommend.contract import ModelFactory, RecommenderContract

# Repeat-purchase models only re-rank the shopper's own items; with exclude_seen they
# are popularity, as "popular" (exempt in contract.py for the same reason).

FAST_PARAMS: dict[str, dict[str, Any]] = {
    "popular": {"half_life_days": 30.0},
    "item-knn": {"neighbours": 10, "history_half_life_items": 2.0},
    "ease": {"l2": 5.0},
    "als": {"factors": 8, "iterations": 8, "regularization": 0.05, "alpha": 10.0},
    "sasrec": {
        "hidden": 16,
        "blocks": 1,
        "max_length": 10,
        "dropout": 0.2,
        "learning_rate": 1e-2,
        "batch_size": 16,
        "epochs": 20,
        "patience": 5,
        "device": "cpu",
    },
    "top-frequency": {},
    "buy-again": {"half_life_days": 30.0, "min_repeats": 1},
    "bought-together": {"min_support": 1, "neighbours": 10, "basket_gap_seconds": 86_400},
    "content": {"history_half_life_items": 3.0, "popularity_weight": 0.1, "device": "cpu"},
    "ltr": {
        "sources": ["item-knn", "popular"],
        "source_params": {"item-knn": {"neighbours": 10}},
        "candidates_per_source": 10,
        "holdout_days": 2.0,
        "n_estimators": 50,
        "learning_rate": 0.3,
        "min_child_samples": 1,
        "num_threads": 1,
    },
}


def test_every_registered_model_has_test_params() -> None:
    assert set(FAST_PARAMS) == set(RECOMMENDERS)


class TestEveryRecommender(RecommenderContract):
    @pytest.fixture(params=sorted(RECOMMENDERS))
    def make_model(self, request: pytest.FixtureRequest) -> ModelFactory:
        name: str = request.param
        return lambda: make_recommender(name, **FAST_PARAMS[name])


class TestItemKNNBM25(RecommenderContract):
    @pytest.fixture
    def make_model(self) -> ModelFactory:
        return lambda: make_recommender("item-knn", similarity="bm25", neighbours=10)


class TestALSLogConfidence(RecommenderContract):
    @pytest.fixture
    def make_model(self) -> ModelFactory:
        return lambda: make_recommender(
            "als",
            factors=8,
            iterations=8,
            regularization=0.05,
            confidence="log",
            alpha=10.0,
            num_threads=1,
        )
