"""Bought-together: support, confidence and lift by hand on four baskets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend import BoughtTogether, make_recommender

A, B, C, D = 0, 1, 2, 3


def four_baskets() -> Interactions:
    """Baskets {a, b, c}, {a, b}, {a, c}, {b, d}: u1's three orders at times 0, 100 and
    200, u2's one at time 0. Counts: n_a = n_b = 3, n_c = 2, n_d = 1; pairs n_ab = n_ac
    = 2, n_bc = n_bd = 1; N = 4."""
    rows = [
        ("u1", "a", 0), ("u1", "b", 0), ("u1", "c", 0),
        ("u1", "a", 100), ("u1", "b", 100),
        ("u1", "a", 200), ("u1", "c", 200),
        ("u2", "b", 0), ("u2", "d", 0),
    ]  # fmt: skip
    users, items, times = zip(*rows, strict=True)
    return Interactions.from_arrays(list(users), list(items), list(times))


def test_support_confidence_and_lift_by_hand() -> None:
    model = BoughtTogether(min_support=1).fit(four_baskets())
    assert model.n_baskets_ is not None and model.n_baskets_.tolist() == [4]
    # a -> c: support 2/4, confidence 2/3, lift 2 * 4 / (3 * 2) = 4/3;
    # a -> b: support 2/4, confidence 2/3, lift 2 * 4 / (3 * 3) = 8/9.
    rules = model.associations(A)
    assert rules.items.tolist() == [C, B]
    np.testing.assert_allclose(rules.support, [0.5, 0.5])
    np.testing.assert_allclose(rules.confidence, [2 / 3, 2 / 3])
    np.testing.assert_allclose(rules.lift, [4 / 3, 8 / 9])
    # b -> a: 2/4, 2/3, 8/9; b -> c: 1/4, 1/3, 1 * 4 / (3 * 2) = 2/3; b -> d: 1/4, 1/3, 4/3.
    rules = model.associations(B)
    assert rules.items.tolist() == [D, A, C]
    np.testing.assert_allclose(rules.support, [0.25, 0.5, 0.25])
    np.testing.assert_allclose(rules.confidence, [1 / 3, 2 / 3, 1 / 3])
    np.testing.assert_allclose(rules.lift, [4 / 3, 8 / 9, 2 / 3])


def test_confidence_ranks_by_confidence_ties_to_the_lower_code() -> None:
    model = BoughtTogether(measure="confidence", min_support=1).fit(four_baskets())
    assert model.associations(A).items.tolist() == [B, C]
    assert model.associations(B).items.tolist() == [A, C, D]


def test_min_support_drops_rare_pairs() -> None:
    model = BoughtTogether(min_support=2).fit(four_baskets())
    assert model.associations(B).items.tolist() == [A]
    assert model.associations(D).items.tolist() == []


def test_a_basket_gap_merges_orders() -> None:
    # within 100 s u1's three orders are one basket {a, b, c}, u2's is {b, d}: N = 2,
    # n_a = n_c = 1, n_b = 2; lift(a -> c) = 1 * 2 / (1 * 1) = 2, lift(a -> b) = 1.
    model = BoughtTogether(min_support=1, basket_gap_seconds=100).fit(four_baskets())
    assert model.n_baskets_ is not None and model.n_baskets_.tolist() == [2]
    rules = model.associations(A)
    assert rules.items.tolist() == [C, B]
    np.testing.assert_allclose(rules.lift, [2.0, 1.0])


def test_recommend_sums_recency_weighted_associations() -> None:
    model = BoughtTogether(min_support=1, history_half_life_items=1.0).fit(four_baskets())
    # history c then d: d weighs 1, c 0.5. b = 0.5 * lift(c->b) + lift(d->b)
    # = 0.5 * 2/3 + 4/3 = 5/3; a = 0.5 * lift(c->a) = 0.5 * 4/3 = 2/3.
    recs = model.recommend([np.array([C, D])], 2)
    assert recs.items[0].tolist() == [B, A]
    np.testing.assert_allclose(recs.scores[0], [5 / 3, 2 / 3])


def test_similar_items_are_the_best_associations_then_popular_items() -> None:
    model = BoughtTogether(min_support=2).fit(four_baskets())
    similar = model.similar_items(np.array([A, D]), 3)
    assert similar.items[0].tolist() == [C, B, D]
    assert similar.items[1].tolist() == [A, B, C]  # no rule for d: by popularity


def test_save_load_round_trip_keeps_scores(tmp_path: Path) -> None:
    model = BoughtTogether(min_support=1, measure="confidence").fit(four_baskets())
    model.save(tmp_path / "model")
    loaded = BoughtTogether.load(tmp_path / "model")
    histories = [np.array([A]), np.array([C, D]), np.array([], dtype=np.int64)]
    np.testing.assert_array_equal(
        model.score_histories(histories), loaded.score_histories(histories)
    )
    assert loaded.measure == "confidence"
    before, after = model.associations(A), loaded.associations(A)
    assert before.items.tolist() == after.items.tolist()
    np.testing.assert_array_equal(before.lift, after.lift)


@pytest.mark.parametrize(
    "params",
    [
        {"measure": "cosine"},
        {"min_support": 0},
        {"neighbours": 0},
        {"basket_gap_seconds": -1},
    ],
)
def test_bad_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        make_recommender("bought-together", **params).fit(four_baskets())


def test_no_pair_reaches_min_support_gives_popularity() -> None:
    interactions = Interactions.from_arrays(
        ["a", "a", "b", "b"], ["x", "y", "y", "z"], [0, 0, 10, 10]
    )
    model = BoughtTogether(min_support=5).fit(interactions)
    assert model.cooccurrence_ is not None and model.cooccurrence_.nnz == 0
    recs = model.recommend([np.array([0])], 2)
    assert recs.items.shape == (1, 2) and np.all(recs.items >= 0)
