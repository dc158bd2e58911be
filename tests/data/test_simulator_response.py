"""The response model: simulated shoppers prefer lists that fit their hidden taste, and
look less far down a list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from shopsense.core.errors import NotFoundError
from shopsense.data.simulator import ResponseModel, SimulationConfig, build_world, simulate_shop
from shopsense.data.simulator.world import ShopWorld

CONFIG = SimulationConfig(users=600, items=400, days=60, seed=21)
AT = datetime(2024, 1, 20, 12, tzinfo=UTC)
LIST_LENGTH = 10


@pytest.fixture(scope="module")
def world() -> ShopWorld:
    return build_world(CONFIG)


@pytest.fixture(scope="module")
def active_users(world: ShopWorld) -> list[int]:
    model = ResponseModel(world)
    return [user for user in range(world.population.n_users) if model.is_active(user, AT)][:200]


def _taste_matched_list(world: ShopWorld, user: int, rng: np.random.Generator) -> list[str]:
    """Items of the shopper's favourite subcategory that are on sale on AT's day."""
    favourite = int(np.argmax(world.population.subcategory_taste[user]))
    catalog = world.catalog
    on_sale = np.flatnonzero((catalog.subcategory == favourite) & (catalog.created_day < 19))
    chosen = rng.choice(on_sale, size=min(LIST_LENGTH, len(on_sale)), replace=False)
    return [catalog.item_ids[item] for item in chosen]


def _random_list(world: ShopWorld, rng: np.random.Generator, length: int) -> list[str]:
    on_sale = np.flatnonzero(world.catalog.created_day < 19)
    return [world.catalog.item_ids[item] for item in rng.choice(on_sale, length, replace=False)]


def test_the_world_of_a_simulation_is_the_world_of_its_config(world: ShopWorld) -> None:
    shop = simulate_shop(CONFIG.model_copy(update={"days": 3}))
    assert shop.world.population.user_ids == world.population.user_ids
    np.testing.assert_array_equal(shop.world.catalog.subcategory, world.catalog.subcategory)


def test_taste_matched_lists_get_more_clicks_and_purchases(
    world: ShopWorld, active_users: list[int]
) -> None:
    model = ResponseModel(world, seed=1)
    rng = np.random.default_rng(0)
    expected = {"matched": [0.0, 0.0], "random": [0.0, 0.0]}
    observed = {"matched": [0, 0], "random": [0, 0]}
    for user in active_users:
        matched = _taste_matched_list(world, user, rng)
        lists = {"matched": matched, "random": _random_list(world, rng, len(matched))}
        for name, shown in lists.items():
            expected[name][0] += float(model.expected_click_probabilities(user, shown, AT).sum())
            expected[name][1] += float(model.expected_purchase_probabilities(user, shown, AT).sum())
            for _ in range(5):
                response = model.respond(user, shown, AT)
                observed[name][0] += len(response.clicked)
                observed[name][1] += len(response.purchased)
    assert expected["matched"][0] > 1.5 * expected["random"][0]
    assert expected["matched"][1] > 2.0 * expected["random"][1]
    assert observed["matched"][0] > 1.4 * observed["random"][0]
    assert observed["matched"][1] > 1.5 * observed["random"][1]


def test_the_oracle_list_beats_the_most_popular_items(
    world: ShopWorld, active_users: list[int]
) -> None:
    model = ResponseModel(world)
    on_sale = np.flatnonzero(world.catalog.created_day < 19)
    popular = on_sale[np.argsort(-world.catalog.popularity[on_sale])[:LIST_LENGTH]]
    popular_ids = [world.catalog.item_ids[item] for item in popular]
    oracle_total = popular_total = 0.0
    for user in active_users[:100]:
        best = model.best_items(user, LIST_LENGTH, AT)
        oracle_total += float(model.expected_purchase_probabilities(user, best, AT).sum())
        popular_total += float(model.expected_purchase_probabilities(user, popular_ids, AT).sum())
    assert oracle_total > 3 * popular_total


def test_position_bias(world: ShopWorld, active_users: list[int]) -> None:
    model = ResponseModel(world, position_decay=0.8)
    user = active_users[0]
    shown = _random_list(world, np.random.default_rng(3), LIST_LENGTH)
    forward = model.expected_click_probabilities(user, shown, AT)
    backward = model.expected_click_probabilities(user, shown[::-1], AT)
    assert forward[0] / backward[-1] == pytest.approx(LIST_LENGTH**0.8)
    np.testing.assert_allclose(model.examination_probabilities(3), [1.0, 2.0**-0.8, 3.0**-0.8])
    # Over many shoppers and lists, clicks fall with position.
    clicks_by_position = np.zeros(LIST_LENGTH)
    rng = np.random.default_rng(4)
    for user in active_users:
        listed = _random_list(world, rng, LIST_LENGTH)
        for _ in range(3):
            response = model.respond(user, listed, AT)
            for item in response.clicked:
                clicks_by_position[listed.index(item)] += 1
    assert clicks_by_position[:3].sum() > 2 * clicks_by_position[-3:].sum()


def test_observed_click_rate_matches_the_expected_probability(
    world: ShopWorld, active_users: list[int]
) -> None:
    model = ResponseModel(world, seed=5)
    user = active_users[1]
    shown = _random_list(world, np.random.default_rng(5), 5)
    expected = model.expected_click_probabilities(user, shown, AT)
    clicks = np.zeros(len(shown))
    draws = 4_000
    for _ in range(draws):
        response = model.respond(user, shown, AT)
        clicks += [item in response.clicked for item in shown]
    np.testing.assert_allclose(clicks / draws, expected, atol=0.025)


def test_leaving_happens_only_without_clicks(world: ShopWorld, active_users: list[int]) -> None:
    model = ResponseModel(world, seed=6, abandonment_probability=0.5)
    shown = _random_list(world, np.random.default_rng(6), 3)
    responses = [model.respond(user, shown, AT) for user in active_users for _ in range(3)]
    assert all(not response.clicked for response in responses if response.left)
    without_clicks = [response for response in responses if not response.clicked]
    share_left = np.mean([response.left for response in without_clicks])
    assert 0.4 < share_left < 0.6


def test_responses_are_deterministic_for_a_seed(world: ShopWorld, active_users: list[int]) -> None:
    shown = _random_list(world, np.random.default_rng(7), LIST_LENGTH)
    first, second = ResponseModel(world, seed=9), ResponseModel(world, seed=9)
    assert [first.respond(u, shown, AT) for u in active_users[:50]] == [
        second.respond(u, shown, AT) for u in active_users[:50]
    ]
    other = ResponseModel(world, seed=10)
    assert [first.respond(u, shown, AT) for u in active_users[:50]] != [
        other.respond(u, shown, AT) for u in active_users[:50]
    ]


def test_inactive_shoppers_and_unreleased_items_do_not_respond(world: ShopWorld) -> None:
    model = ResponseModel(world)
    population = world.population
    churned = int(np.flatnonzero(population.churn_day < CONFIG.days)[0])
    after_churn = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
        days=int(population.churn_day[churned]) + 1
    )
    shown = [world.catalog.item_ids[0]]
    response = model.respond(churned, shown, after_churn)
    assert (response.active, response.left, response.clicked) == (False, True, ())
    assert model.expected_click_probabilities(churned, shown, after_churn).tolist() == [0.0]
    newcomer = int(np.flatnonzero(population.signup_day > 30)[0])
    assert not model.is_active(newcomer, AT)
    new_item = int(np.flatnonzero(world.catalog.created_day > 30)[0])
    base_user = int(np.flatnonzero(population.churn_day > 60)[0])
    probabilities = model.expected_click_probabilities(
        base_user, [world.catalog.item_ids[new_item]], AT
    )
    assert probabilities.tolist() == [0.0]


def test_bad_input_is_refused(world: ShopWorld) -> None:
    model = ResponseModel(world)
    with pytest.raises(NotFoundError):
        model.respond("nobody", [world.catalog.item_ids[0]], AT)
    with pytest.raises(NotFoundError):
        model.respond(0, ["no-such-item"], AT)
    with pytest.raises(NotFoundError):
        model.respond(10_000, [world.catalog.item_ids[0]], AT)
    with pytest.raises(ValueError, match="timezone"):
        model.respond(0, [world.catalog.item_ids[0]], datetime(2024, 1, 5))
    with pytest.raises(ValueError, match="click_rate"):
        ResponseModel(world, click_rate=2.0)
    assert model.respond(world.population.user_ids[0], [], AT).clicked == ()
