"""The contract every recommender passes (as implicit's ``RecommenderBase`` tests).

A test module subclasses :class:`RecommenderContract` and provides a ``make_model``
fixture: a function that returns a fresh, unfitted model. Models named in
``QUALITY_EXEMPT`` skip the planted-structure check: popularity ignores the history, and
top-frequency and buy-again only re-rank the user's own items, which the check excludes.

The planted items carry a catalog whose texts name their cluster (tea ware for group A,
garden tools for group B), so that content models find the same structure.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import model_params
from shopsense.models.recommend.base import MANIFEST, Recommender, read_manifest

ModelFactory = Callable[[], Recommender]

GROUP_A = np.arange(0, 10)
GROUP_B = np.arange(10, 20)
N_ITEMS = 21  # item 20 is bought by everyone: popular, but says nothing about a group
QUALITY_EXEMPT = {"popular", "top-frequency", "buy-again"}
GROUP_A_TEXTS = (
    "porcelain tea cup",
    "ceramic teapot",
    "tea cup and saucer set",
    "china tea mug",
    "loose leaf tea caddy",
    "porcelain milk jug for tea",
    "ceramic tea strainer",
    "teacup with a floral pattern",
    "teapot cosy",
    "stoneware tea mug",
)
GROUP_B_TEXTS = (
    "garden spade",
    "steel garden trowel",
    "garden hose reel",
    "pruning shears for the garden",
    "garden rake",
    "watering can for the garden",
    "garden wheelbarrow",
    "garden hoe",
    "garden digging fork",
    "garden gloves for weeding",
)
SHARED_TEXT = "brown paper gift bag"


def planted_interactions(seed: int = 7) -> Interactions:
    """40 users who buy only from items 0-9 (group A), 40 only from 10-19 (group B),
    everyone also buys item 20; 6 items each, one a day, all users on the same six days
    (a minute apart). The catalog's texts follow the
    groups (item 20's names neither)."""
    rng = np.random.default_rng(seed)
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    for user in range(80):
        cluster = GROUP_A if user < 40 else GROUP_B
        chosen = [*rng.choice(cluster, size=5, replace=False).tolist(), 20]
        for day, item in enumerate(rng.permutation(chosen).tolist()):
            users.append(f"u{user:03d}")
            items.append(f"i{item:02d}")
            times.append(1_700_000_000 + 86_400 * day + 60 * user)
    interactions = Interactions.from_arrays(users, items, times)
    texts = [*GROUP_A_TEXTS, *GROUP_B_TEXTS, SHARED_TEXT]
    catalog = ItemCatalog.from_mappings(
        interactions.item_ids, text={f"i{item:02d}": text for item, text in enumerate(texts)}
    )
    return interactions.with_catalog(catalog)


def history(*codes: int) -> np.ndarray:
    return np.array(codes, dtype=np.int64)


def non_increasing(scores: np.ndarray) -> bool:
    return bool(np.all(scores[:, :-1] >= scores[:, 1:]))


class RecommenderContract:
    """Tests every model runs; see the module docstring."""

    @pytest.fixture
    def interactions(self) -> Interactions:
        return planted_interactions()

    @pytest.fixture
    def fitted(self, make_model: ModelFactory, interactions: Interactions) -> Recommender:
        return make_model().fit(interactions)

    def test_planted_data_has_the_expected_shape(self, interactions: Interactions) -> None:
        assert interactions.n_items == N_ITEMS
        assert interactions.item_ids[5] == "i05"

    def test_fit_returns_self(self, make_model: ModelFactory, interactions: Interactions) -> None:
        model = make_model()
        assert model.fit(interactions) is model
        assert isinstance(model, Recommender)

    def test_not_fitted_errors(self, make_model: ModelFactory, tmp_path: Path) -> None:
        model = make_model()
        with pytest.raises(NotFittedError):
            model.recommend([history(1)], 3)
        with pytest.raises(NotFittedError):
            model.similar_items(history(1), 3)
        with pytest.raises(NotFittedError):
            model.save(tmp_path / "model")

    def test_recommend_shapes_and_order(self, fitted: Recommender) -> None:
        histories = [history(0, 1, 2), history(12), history(3, 20, 4, 5)]
        recs = fitted.recommend(histories, 5)
        assert recs.items.shape == recs.scores.shape == (3, 5)
        assert recs.items.dtype == np.int64 and recs.scores.dtype == np.float64
        assert non_increasing(recs.scores)
        assert np.all((recs.items >= 0) & (recs.items < N_ITEMS))
        for row in recs.items:
            assert len(set(row.tolist())) == len(row)

    def test_recommend_with_times_and_now(self, fitted: Recommender) -> None:
        histories = [history(0, 1, 2), history(12), history(3, 20, 4, 5), history()]
        times = [1_700_000_000 + 86_400 * np.arange(len(h), dtype=np.int64) for h in histories]
        now = 1_700_000_000 + 86_400 * 10
        recs = fitted.recommend(histories, 5, times=times, now=now)
        assert recs.items.shape == recs.scores.shape == (4, 5)
        assert recs.items.dtype == np.int64 and recs.scores.dtype == np.float64
        assert non_increasing(recs.scores)
        assert np.all((recs.items >= 0) & (recs.items < N_ITEMS))
        for seen, row in zip(histories, recs.items, strict=True):
            assert not set(seen.tolist()) & set(row.tolist())
        assert fitted.recommend([], 5, times=[], now=now).items.shape == (0, 5)

    def test_times_of_the_wrong_length_are_refused(self, fitted: Recommender) -> None:
        histories = [history(0, 1, 2), history(12)]
        stamps = [history(1, 2, 3), history(4)]
        with pytest.raises(ValidationFailedError):
            fitted.recommend(histories, 5, times=stamps[:1])
        with pytest.raises(ValidationFailedError):
            fitted.recommend(histories, 5, times=[history(1, 2), history(4)], now=10)

    def test_exclude_seen(self, fitted: Recommender) -> None:
        histories = [history(0, 1, 2), history(12, 20)]
        recs = fitted.recommend(histories, N_ITEMS)
        for seen, row in zip(histories, recs.items, strict=True):
            assert not set(seen.tolist()) & set(row.tolist())
            assert (row == -1).sum() == len(seen)  # everything else is listed

    def test_seen_items_allowed_without_exclude_seen(self, fitted: Recommender) -> None:
        recs = fitted.recommend([history(0, 1, 2)], N_ITEMS, exclude_seen=False)
        assert set(recs.items[0].tolist()) == set(range(N_ITEMS))
        assert non_increasing(recs.scores)

    def test_candidates_respected(self, fitted: Recommender) -> None:
        candidates = history(1, 3, 5, 12, 15, 20)
        recs = fitted.recommend([history(0, 1), history()], 3, candidates=candidates)
        assert set(recs.items.ravel().tolist()) <= set(candidates.tolist())
        assert 1 not in recs.items[0]

    def test_padding_when_too_few_candidates(self, fitted: Recommender) -> None:
        recs = fitted.recommend([history(0, 1)], 5, candidates=history(1, 4, 7))
        assert set(recs.items[0, :2].tolist()) == {4, 7}
        assert np.all(recs.items[0, 2:] == -1)
        assert np.all(np.isneginf(recs.scores[0, 2:]))
        assert np.all(np.isfinite(recs.scores[0, :2]))

    def test_empty_histories_and_empty_batch(self, fitted: Recommender) -> None:
        recs = fitted.recommend([history(), history()], 5)
        assert recs.items.shape == (2, 5)
        assert np.all(recs.items >= 0)
        assert np.all(np.isfinite(recs.scores))
        assert np.array_equal(recs.items[0], recs.items[1])
        assert fitted.recommend([], 5).items.shape == (0, 5)

    def test_deterministic(self, make_model: ModelFactory, interactions: Interactions) -> None:
        histories = [history(0, 1, 2), history(11, 13), history()]
        first = make_model().fit(interactions).recommend(histories, 8)
        second = make_model().fit(interactions).recommend(histories, 8)
        assert np.array_equal(first.items, second.items)
        assert np.array_equal(first.scores, second.scores)

    def test_save_load_round_trip(self, fitted: Recommender, tmp_path: Path) -> None:
        directory = tmp_path / "model"
        fitted.save(directory)
        assert (directory / MANIFEST).exists()
        manifest = read_manifest(directory, fitted.name)
        assert manifest["params"] == model_params(fitted)
        loaded = type(fitted).load(directory)
        assert model_params(loaded) == model_params(fitted)
        histories = [history(0, 1, 2), history(14), history()]
        before, after = fitted.recommend(histories, 8), loaded.recommend(histories, 8)
        assert np.array_equal(before.items, after.items)
        assert np.allclose(before.scores, after.scores)
        codes = history(0, 11, 20)
        assert np.array_equal(
            fitted.similar_items(codes, 4).items, loaded.similar_items(codes, 4).items
        )

    def test_similar_items_never_the_item_itself(self, fitted: Recommender) -> None:
        codes = np.arange(N_ITEMS)
        similar = fitted.similar_items(codes, 5)
        assert similar.items.shape == (N_ITEMS, 5)
        assert not np.any(similar.items == codes[:, np.newaxis])
        assert np.all(similar.items >= 0)
        assert non_increasing(similar.scores)

    def test_planted_structure_is_found(self, fitted: Recommender) -> None:
        if fitted.name in QUALITY_EXEMPT:
            pytest.skip(f"{fitted.name} is exempt by design (e.g. ignores the history)")
        recs = fitted.recommend([history(0, 1, 2), history(10, 11, 12)], 5)
        assert np.isin(recs.items[0], GROUP_A).sum() >= 4
        assert np.isin(recs.items[1], GROUP_B).sum() >= 4
        similar = fitted.similar_items(history(3, 13), 3)
        assert np.isin(similar.items[0], GROUP_A).sum() >= 2
        assert np.isin(similar.items[1], GROUP_B).sum() >= 2
