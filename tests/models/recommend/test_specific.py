"""Reference values and model-specific behaviour, beyond the shared contract."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import shopsense.models.recommend as recommend
from shopsense.core.errors import ConfigurationError, ValidationFailedError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend import (
    EASE,
    RECOMMENDERS,
    ItemKNN,
    MostPopular,
    make_recommender,
)

DAY = 86_400


def matrix_interactions(matrix: list[list[int]]) -> Interactions:
    """One interaction per 1 in a users x items 0/1 matrix, all at time 0."""
    users, items = np.nonzero(np.array(matrix))
    return Interactions.from_arrays(
        [f"u{u}" for u in users], [f"i{i}" for i in items], np.zeros(len(users), np.int64)
    )


def test_ease_matches_the_closed_form_by_hand() -> None:
    # X^T X for X = [[1,1,0],[0,1,1],[1,1,1]] is [[2,2,1],[2,3,2],[1,2,2]]; with
    # lambda = 1, P = (X^T X + I)^-1 = [[3,2,1],[2,4,2],[1,2,3]]^-1
    #   = (1/16) [[8,-4,0],[-4,8,-4],[0,-4,8]]  (adjugate / determinant 16),
    # and B_ij = -P_ij / P_jj off the diagonal: 0.25 / 0.5 or 0.
    model = EASE(l2=1.0).fit(matrix_interactions([[1, 1, 0], [0, 1, 1], [1, 1, 1]]))
    expected = np.array(
        [
            [0.0, 0.5, 0.0],
            [0.5, 0.0, 0.5],
            [0.0, 0.5, 0.0],
        ]
    )
    assert model.weights_ is not None
    assert model.weights_.dtype == np.float32
    np.testing.assert_allclose(model.weights_, expected, rtol=1e-5, atol=1e-6)


def test_ease_refuses_too_many_items_and_says_why() -> None:
    data = matrix_interactions([[1, 1, 0], [0, 1, 1]])
    with pytest.raises(ConfigurationError, match=r"3 items .* bytes .*max_items is 2"):
        EASE(max_items=2).fit(data)


def test_item_knn_cosine_by_hand() -> None:
    # Item columns: i0 = (1,1,1), i1 = (1,0,1), i2 = (0,1,1) over the three users:
    # cos(0,1) = cos(0,2) = 2 / (sqrt 3 sqrt 2), cos(1,2) = 1 / 2.
    model = ItemKNN(neighbours=5).fit(matrix_interactions([[1, 1, 0], [1, 0, 1], [1, 1, 1]]))
    assert model.similarity_ is not None
    a = 2 / np.sqrt(6)
    expected = np.array([[0.0, a, a], [a, 0.0, 0.5], [a, 0.5, 0.0]])
    np.testing.assert_allclose(model.similarity_.toarray(), expected)


def test_item_knn_keeps_only_the_top_neighbours() -> None:
    model = ItemKNN(neighbours=1).fit(matrix_interactions([[1, 1, 0], [1, 0, 1], [1, 1, 1]]))
    assert model.similarity_ is not None
    assert np.diff(model.similarity_.indptr).tolist() == [1, 1, 1]
    assert model.similarity_.indices.tolist() == [1, 0, 0]  # ties go to the lower code


def test_item_knn_recent_history_items_weigh_more() -> None:
    # Users either buy {0, 1} or {2, 3}; a history [0, 2] is a tie unless the newest
    # item (2) counts more, which puts its neighbour 3 first.
    data = matrix_interactions([[1, 1, 0, 0]] * 3 + [[0, 0, 1, 1]] * 3)
    history = [np.array([0, 2], dtype=np.int64)]
    assert ItemKNN(history_half_life_items=1.0).fit(data).recommend(history, 1).items[0, 0] == 3
    assert ItemKNN().fit(data).recommend(history, 1).items[0, 0] == 1  # tie: lower code


def test_popularity_decay_favours_recent_sales() -> None:
    # Item a: 3 sales 100 days before the last one; item b: 2 sales at the end.
    users = ["u1", "u2", "u3", "u4", "u5"]
    items = ["a", "a", "a", "b", "b"]
    times = [0, 0, 0, 100 * DAY, 100 * DAY]
    data = Interactions.from_arrays(users, items, times)
    empty = [np.array([], dtype=np.int64)]
    assert MostPopular().fit(data).recommend(empty, 2).items[0].tolist() == [0, 1]
    decayed = MostPopular(half_life_days=50.0).fit(data)
    assert decayed.popularity_ is not None
    np.testing.assert_allclose(decayed.popularity_, [3 * 0.25, 2.0])
    assert decayed.recommend(empty, 2).items[0].tolist() == [1, 0]


def test_unknown_recommender_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="known: " + ", ".join(sorted(RECOMMENDERS))):
        make_recommender("bert4rec")


def test_unknown_parameter_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"no parameter\(s\) lambda_.*valid.*l2"):
        make_recommender("ease", lambda_=10.0)


def test_public_names_are_sorted_and_exist() -> None:
    # Sorted as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions.
    def isort_key(name: str) -> tuple[bool, bool, str]:
        return (not name.isupper(), not name[0].isupper(), name)

    assert recommend.__all__ == sorted(recommend.__all__, key=isort_key)
    for name in recommend.__all__:
        assert hasattr(recommend, name)


def test_histories_with_unknown_item_codes_are_rejected() -> None:
    model = ItemKNN().fit(matrix_interactions([[1, 1, 0], [1, 0, 1]]))
    with pytest.raises(ValidationFailedError, match=r"outside 0\.\.2"):
        model.recommend([np.array([5], dtype=np.int64)], 2)


def test_import_is_light() -> None:
    code = (
        "import sys, shopsense.models.recommend; "
        "print(sorted(m for m in ('implicit', 'torch', 'lightgbm') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
