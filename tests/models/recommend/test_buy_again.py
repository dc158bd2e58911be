"""Buy-again and top-frequency: hand-computed scores, re-buy cycles, decay, artifacts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend import BuyAgain, PersonalTopFrequency, make_recommender
from shopsense.models.recommend.buy_again import due_factor

DAY = 86_400
T0 = 1_700_000_000


def purchases(*rows: tuple[str, str, float]) -> Interactions:
    """Interactions from (user, item, day) rows, the day counted from ``T0``."""
    users, items, days = zip(*rows, strict=True)
    return Interactions.from_arrays(list(users), list(items), [T0 + int(day * DAY) for day in days])


def codes(data: Interactions, *items: str) -> np.ndarray:
    lookup = {item: code for code, item in enumerate(data.item_ids.tolist())}
    return np.array([lookup[item] for item in items], dtype=np.int64)


def stamps(*days: float) -> np.ndarray:
    return np.array([T0 + int(day * DAY) for day in days], dtype=np.int64)


def test_a_monthly_item_ranks_first_when_due_and_lower_right_after_buying() -> None:
    # x every 30 days (4 purchases, own cycle 30); y 5 times every 150 days. With a
    # sharp bump (width 0.1) and no decay: at day 90 (x just bought) x = 4 * (1 + 0)
    # and y = 5 * (1 + due(90/150) ~ 0) -> y first; at day 120 x = 4 * (1 + 1) = 8 and
    # y = 5 * (1 + exp(-ln(0.8)^2 / 0.02)) = 5.42 -> x first.
    x_days, y_days = [0, 30, 60, 90], [-600, -450, -300, -150, 0]
    data = purchases(*[("u", "x", d) for d in x_days], *[("u", "y", d) for d in y_days])
    model = BuyAgain(
        half_life_days=None, cycle_weight=1.0, cycle_width=0.1, popularity_weight=0.0
    ).fit(data)
    order = np.argsort([*y_days, *x_days], kind="stable")
    history = codes(data, *(["y"] * 5 + ["x"] * 4))[order]
    times = stamps(*y_days, *x_days)[order]
    x, y = codes(data, "x", "y")

    right_after = model.recommend(
        [history], 2, exclude_seen=False, times=[times], now=T0 + 90 * DAY
    )
    assert right_after.items[0].tolist() == [y, x]
    np.testing.assert_allclose(right_after.scores[0, 1], 4.0)

    due = model.recommend([history], 2, exclude_seen=False, times=[times], now=T0 + 120 * DAY)
    assert due.items[0].tolist() == [x, y]
    y_score = 5.0 * (1.0 + np.exp(-0.5 * (np.log(120 / 150) / 0.1) ** 2))
    np.testing.assert_allclose(due.scores[0], [8.0, y_score])


def test_without_the_cycle_frequency_decays_with_the_half_life() -> None:
    # a bought on days 0 and 1, b on day 60; now = day 60, half-life 30 days:
    # a = 0.5 ** (60 / 30) + 0.5 ** (59 / 30), b = 1.
    data = purchases(("u", "a", 0), ("u", "a", 1), ("u", "b", 60))
    history, times = codes(data, "a", "a", "b"), stamps(0, 1, 60)
    decayed = BuyAgain(half_life_days=30.0, cycle_weight=0.0, popularity_weight=0.0).fit(data)
    recs = decayed.recommend([history], 2, exclude_seen=False, times=[times], now=T0 + 60 * DAY)
    assert recs.items[0].tolist() == codes(data, "b", "a").tolist()
    np.testing.assert_allclose(recs.scores[0], [1.0, 0.25 + 0.5 ** (59 / 30)])

    undecayed = BuyAgain(half_life_days=None, cycle_weight=0.0, popularity_weight=0.0).fit(data)
    recs = undecayed.recommend([history], 2, exclude_seen=False, times=[times], now=T0 + 60 * DAY)
    assert recs.items[0].tolist() == codes(data, "a", "b").tolist()
    np.testing.assert_allclose(recs.scores[0], [2.0, 1.0])


def test_lines_at_one_timestamp_are_one_basket() -> None:
    data = purchases(("u", "a", 0), ("u", "a", 0), ("u", "b", 0))
    model = BuyAgain(half_life_days=None, cycle_weight=0.0, popularity_weight=0.0).fit(data)
    history = codes(data, "a", "a", "b")
    recs = model.recommend([history], 2, exclude_seen=False, times=[stamps(0, 0, 0)])
    np.testing.assert_allclose(recs.scores[0], [1.0, 1.0])


def test_item_intervals_are_median_gaps_with_a_global_fallback() -> None:
    # x: u1 on days 0 (twice: one basket), 10, 20 and u2 on 0, 30 -> gaps 10, 10, 30;
    # y: u1 on days 0, 50 -> gap 50; z never repeats. All gaps: 10, 10, 30, 50 -> 20.
    data = purchases(
        ("u1", "x", 0), ("u1", "x", 0), ("u1", "x", 10), ("u1", "x", 20),
        ("u2", "x", 0), ("u2", "x", 30), ("u1", "y", 0), ("u1", "y", 50), ("u2", "z", 5),
    )  # fmt: skip
    x, y, z = codes(data, "x", "y", "z")
    model = BuyAgain(min_repeats=2).fit(data)
    assert model.interval_days_ is not None
    np.testing.assert_allclose(model.interval_days_[[x, y, z]], [10.0, 20.0, 20.0])
    strict = BuyAgain(min_repeats=4).fit(data)
    assert strict.interval_days_ is not None
    np.testing.assert_allclose(strict.interval_days_[[x, y, z]], [20.0, 20.0, 20.0])


def test_due_factor_rises_to_one_at_the_cycle_and_stays() -> None:
    factor = due_factor(np.array([0.0, 5.0, 10.0, 40.0, 5.0]), np.array([10.0] * 4 + [np.nan]), 0.5)
    np.testing.assert_allclose(factor, [0.0, np.exp(-0.5 * (np.log(0.5) / 0.5) ** 2), 1, 1, 0])


def test_without_times_the_history_is_one_purchase_a_day_ending_now() -> None:
    data = purchases(("u", "a", 0), ("u", "b", 1))
    model = BuyAgain(half_life_days=1.0, cycle_weight=0.0, popularity_weight=0.0).fit(data)
    history = codes(data, "a", "b", "a")
    recs = model.recommend([history], 2, exclude_seen=False)
    # a on "days" -2 and 0, b on -1, all before now = 0.
    np.testing.assert_allclose(recs.scores[0], [1.0 + 0.25, 0.5])


def test_top_frequency_ranks_by_count_then_popularity() -> None:
    data = purchases(("u1", "a", 0), ("u2", "b", 0), ("u3", "b", 0), ("u1", "c", 1), ("u2", "d", 2))
    a, b, c, d = codes(data, "a", "b", "c", "d")
    model = PersonalTopFrequency().fit(data)
    recs = model.recommend([np.array([a, c, c, b, c, b])], 4, exclude_seen=False)
    assert recs.items[0].tolist() == [c, b, a, d]
    # ties at one purchase: b (popularity 2, scaled 1) before a (scaled 0.5); the
    # unbought c and d follow at 0.5 - 1, tied, in code order
    recs = model.recommend([np.array([a, b])], 4, exclude_seen=False)
    assert recs.items[0].tolist() == [b, a, c, d]
    np.testing.assert_allclose(recs.scores[0, :2], [1.0 + 0.5, 1.0 + 0.25])
    assert np.all(recs.scores[0, 2:] < 0)


def test_save_load_round_trip_keeps_scores(tmp_path: Path) -> None:
    data = purchases(("u1", "x", 0), ("u1", "x", 30), ("u2", "x", 5), ("u2", "y", 7))
    model = BuyAgain(half_life_days=45.0, min_repeats=1).fit(data)
    model.save(tmp_path / "model")
    loaded = BuyAgain.load(tmp_path / "model")
    history, times = codes(data, "x", "y"), stamps(0, 7)
    before = model.score_in_context([history], [times], T0 + 40 * DAY)
    after = loaded.score_in_context([history], [times], T0 + 40 * DAY)
    np.testing.assert_array_equal(before, after)
    assert loaded.half_life_days == 45.0 and loaded.min_repeats == 1


@pytest.mark.parametrize(
    "params",
    [
        {"half_life_days": 0.0},
        {"cycle_weight": -1.0},
        {"cycle_width": 0.0},
        {"min_repeats": 0},
        {"popularity_weight": -0.5},
    ],
)
def test_bad_parameters_are_refused(params: dict[str, float]) -> None:
    data = purchases(("u", "a", 0))
    with pytest.raises(ConfigurationError):
        make_recommender("buy-again", **params).fit(data)
