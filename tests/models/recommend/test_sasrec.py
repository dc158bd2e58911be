"""SASRec beyond the contract: it learns, it learns order, it checks its parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shopsense.core.errors import ConfigurationError, ValidationFailedError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend.base import Holdout
from shopsense.models.recommend.sasrec import SASRec
from tests.models.recommend.contract import planted_interactions

N_CHAIN_ITEMS = 30
TINY: dict[str, Any] = {
    "n_negatives": None,  # full softmax unless a test says otherwise
    "hidden": 16,
    "blocks": 1,
    "max_length": 10,
    "dropout": 0.1,
    "learning_rate": 1e-2,
    "batch_size": 16,
    "device": "cpu",
}


def chain_interactions(seed: int = 3) -> Interactions:
    """Item ``i`` is always followed by item ``i + 1``: each user buys a run of 8
    consecutive items starting anywhere."""
    rng = np.random.default_rng(seed)
    users: list[str] = []
    items: list[str] = []
    times: list[int] = []
    for user in range(120):
        start = int(rng.integers(0, N_CHAIN_ITEMS - 8 + 1))
        for step, item in enumerate(range(start, start + 8)):
            users.append(f"u{user:03d}")
            items.append(f"i{item:02d}")
            times.append(1_700_000_000 + 3600 * step)
    return Interactions.from_arrays(users, items, times)


def next_item_accuracy(model: SASRec, interactions: Interactions) -> float:
    """Share of items ``i`` whose top-1 next item after history ``[i-2, i-1, i]`` is
    ``i + 1`` (item ids compared, whatever the codes)."""
    code = {item: c for c, item in enumerate(interactions.item_ids.tolist())}
    histories, expected = [], []
    for item in range(2, N_CHAIN_ITEMS - 1):
        histories.append(np.array([code[f"i{k:02d}"] for k in (item - 2, item - 1, item)]))
        expected.append(code[f"i{item + 1:02d}"])
    top = model.recommend(histories, 1).items[:, 0]
    return float(np.mean(top == np.array(expected)))


def test_training_loss_decreases() -> None:
    model = SASRec(**TINY, epochs=15, patience=None).fit(planted_interactions())
    assert len(model.losses_) == 15
    assert model.losses_[-1] < 0.8 * model.losses_[0]
    assert model.best_epoch_ == 15  # without patience the last weights are kept


def test_learns_the_next_item_of_a_chain() -> None:
    interactions = chain_interactions()
    model = SASRec(**TINY, epochs=30, patience=None).fit(interactions)
    assert next_item_accuracy(model, interactions) >= 0.8


def test_sampled_softmax_learns_the_chain_too() -> None:
    interactions = chain_interactions()
    model = SASRec(**{**TINY, "n_negatives": 8}, epochs=30, patience=None).fit(interactions)
    assert next_item_accuracy(model, interactions) >= 0.8


def test_early_stopping_keeps_the_best_validation_epoch() -> None:
    model = SASRec(**TINY, epochs=40, patience=3).fit(planted_interactions())
    assert len(model.validation_ndcg_) == len(model.losses_)
    assert 1 <= model.best_epoch_ <= len(model.losses_)
    assert model.validation_ndcg_[model.best_epoch_ - 1] == max(model.validation_ndcg_)
    if len(model.losses_) < 40:  # stopped early: exactly ``patience`` epochs after the best
        assert len(model.losses_) == model.best_epoch_ + 3


def test_long_histories_use_the_newest_items() -> None:
    interactions = chain_interactions()
    model = SASRec(**TINY, epochs=5, patience=None).fit(interactions)
    code = {item: c for c, item in enumerate(interactions.item_ids.tolist())}
    newest = np.array([code[f"i{k:02d}"] for k in range(15, 25)])  # max_length items
    older = np.array([code[f"i{k:02d}"] for k in range(0, 15)])
    long_scores = model.score_histories([np.concatenate([older, newest])])
    assert np.allclose(long_scores, model.score_histories([newest]), atol=1e-5)


@pytest.mark.parametrize(
    "params",
    [{"hidden": 10, "heads": 3}, {"dropout": 1.0}, {"n_negatives": 0}, {"epochs": 0}],
)
def test_bad_parameters_are_refused(params: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        SASRec(**params).fit(planted_interactions())


def test_early_stopping_on_a_given_holdout_trains_on_every_position() -> None:
    interactions = chain_interactions()
    sequences = interactions.sequences()
    # the item after each user's run is held out, as seq-loo's validation target is
    holdout = Holdout(
        histories=[s for s in sequences if s[-1] + 1 < N_CHAIN_ITEMS],
        truth=[s[-1:] + 1 for s in sequences if s[-1] + 1 < N_CHAIN_ITEMS],
    )
    model = SASRec(**TINY, epochs=30, patience=5).fit(interactions, validation=holdout)
    assert model.validation_ndcg_ and max(model.validation_ndcg_) > 0.5
    with pytest.raises(ValidationFailedError):
        SASRec(**TINY, epochs=1).fit(
            interactions,
            validation=Holdout(histories=[np.array([999])], truth=[np.array([0])]),
        )


def test_a_catalog_smaller_than_the_validation_cutoff_trains() -> None:
    # five items: fewer than the ten that validation NDCG@10 ranks
    users = [f"u{u}" for u in range(12) for _ in range(4)]
    items = [f"i{(u + k) % 5}" for u in range(12) for k in range(4)]
    times = [k for _ in range(12) for k in range(4)]
    model = SASRec(**TINY, epochs=3, patience=2).fit(Interactions.from_arrays(users, items, times))
    assert len(model.validation_ndcg_) >= 1
