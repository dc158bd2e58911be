"""The LightGBM re-ranker: what it learns from, which ranker serves, its errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shopsense.core.errors import ConfigurationError, ValidationFailedError
from shopsense.features.catalog import ItemCatalog
from shopsense.features.interactions import Interactions
from shopsense.models.recommend import LTRReranker
from shopsense.models.recommend.base import Holdout
from tests.models.recommend.contract import GROUP_A, history, planted_interactions

FAST: dict[str, Any] = {
    "sources": ["item-knn", "top-frequency", "popular"],
    "candidates_per_source": 10,
    "holdout_days": 2.0,
    "n_estimators": 30,
    "learning_rate": 0.3,
    "min_child_samples": 1,
    "num_threads": 1,
}


@pytest.fixture(scope="module")
def fitted() -> LTRReranker:
    return LTRReranker(**FAST).fit(planted_interactions())


def test_two_rankers_over_every_source_feature(fitted: LTRReranker) -> None:
    assert fitted.rankers_ is not None and set(fitted.rankers_) == {"all", "new"}
    for name in FAST["sources"]:
        assert f"{name}_score" in fitted.feature_names_
        assert f"{name}_rank" in fitted.feature_names_
    importance = fitted.feature_importance()
    assert set(importance) == set(fitted.feature_names_)
    assert sum(importance.values()) > 0


def test_repurchases_only_without_exclude_seen(fitted: LTRReranker) -> None:
    histories = [history(0, 1, 2), history(0, 0, 3)]
    new = fitted.recommend(histories, 8, exclude_seen=True)
    for row, past in zip(new.items, histories, strict=True):
        assert not set(row.tolist()) & set(past.tolist())
    # without exclusion the customer's own items are candidates (top-frequency proposes
    # them) and the "all" ranker scores them
    scores = fitted.score_in_context(histories, None, None)
    assert np.isfinite(scores[1, [0, 3]]).all()
    assert fitted.recommend(histories, 8, exclude_seen=False).items.shape == (2, 8)


def test_lists_are_filled_beyond_the_candidates(fitted: LTRReranker) -> None:
    recs = fitted.recommend([history(0, 1, 2)], 18)
    assert np.all(recs.items >= 0)
    assert len(set(recs.items[0].tolist())) == 18


def test_a_given_holdout_trains_the_rankers_without_refitting_the_sources() -> None:
    interactions = planted_interactions()
    holdout = Holdout(
        histories=[history(0, 1), history(10, 11), history(2, 3), history(12, 13)],
        truth=[history(4), history(14), history(5), history(15)],
    )
    model = LTRReranker(**FAST).fit(interactions, validation=holdout)
    # the sources serve as fitted on ``interactions`` (all of it), not on a part
    knn = model.sources_["item-knn"]
    assert knn.recommend([history(0, 1, 2)], 5).items.shape == (1, 5)
    assert model.context_.popularity.sum() == len(interactions)
    recs = model.recommend([history(0, 1, 2)], 5)
    assert np.isin(recs.items[0], GROUP_A).sum() >= 3


def test_a_young_shop_holds_out_a_quarter_of_its_span() -> None:
    interactions = planted_interactions()  # six days of data
    model = LTRReranker(**{**FAST, "holdout_days": 90.0})
    assert model._holdout_days(interactions) == pytest.approx(
        (interactions.timestamps.max() - interactions.timestamps.min()) / 86_400 / 4
    )
    model.fit(interactions)
    assert model.rankers_ is not None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sources": ["nope"]}, "bad: nope"),
        ({"sources": ["ltr"]}, "other than ltr"),
        ({"sources": []}, "at least one source"),
        ({"source_params": {"ease": {"l2": 1.0}}}, "not in sources"),
        ({"candidates_per_source": 0}, "must be >= 1"),
        ({"holdout_days": 0.0}, "positive"),
        ({"objective": "mse"}, "objective"),
    ],
)
def test_bad_parameters_are_refused(params: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        LTRReranker(**{**FAST, **params}).fit(planted_interactions())


def test_nothing_to_learn_from_is_a_clear_error() -> None:
    # every user shops once, at the same moment: no one has a before and an after
    interactions = Interactions.from_arrays(["u", "v", "w"], ["a", "b", "c"], [5, 5, 5])
    with pytest.raises(ValidationFailedError, match="before and within"):
        LTRReranker(**FAST).fit(interactions)


def test_few_users_and_free_items_still_train() -> None:
    # four users (too few to set some aside for early stopping) and a price of 0
    users = [u for u in ("a", "b", "c", "d") for _ in range(4)]
    items = ["x", "y", "z", "w"] * 4
    day = 86_400
    times = [k * day for _ in range(4) for k in range(4)]
    interactions = Interactions.from_arrays(users, items, times)
    catalog = ItemCatalog.from_mappings(interactions.item_ids, price={"x": 0.0, "y": 2.0})
    model = LTRReranker(**{**FAST, "holdout_days": 1.5}).fit(interactions.with_catalog(catalog))
    recs = model.recommend([np.array([0, 1])], 3, exclude_seen=False)
    assert recs.items.shape == (1, 3)
    _, _, features = model._candidates(
        model.sources_, model.context_, [np.array([0, 1])], None, None, exclude_seen=False
    )
    assert not np.isinf(features).any()
