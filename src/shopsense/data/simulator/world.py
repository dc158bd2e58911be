"""The simulated world: catalog + shoppers + the affinity and choices that link them.

The generator and the :class:`~shopsense.data.simulator.response.ResponseModel` share
one :class:`ShopWorld`, so that what shoppers did in the simulated history and how they
react to a recommended list come from the same hidden tastes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from shopsense.data.simulator.catalog import Catalog, FloatArray, IntArray, build_catalog
from shopsense.data.simulator.config import SimulationConfig
from shopsense.data.simulator.population import Population, build_population

_TASTE_SCORE_BOUND = 3.0
_PURCHASE_AFFINITY_SLOPE = 0.5
_CALIBRATION_VIEWS = 20_000
_INTERCEPT_BOUND = 30.0
_BISECTION_STEPS = 60


class RandomStream(IntEnum):
    """Independent random streams of one seed, so that e.g. changing a behaviour knob
    keeps the same catalog and shoppers."""

    CATALOG = 1
    POPULATION = 2
    BEHAVIOUR = 3
    RESPONSES = 4
    CALIBRATION = 5


def random_generator(seed: int, stream: RandomStream) -> np.random.Generator:
    """The PCG64 generator of ``stream`` for ``seed``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, int(stream)])))


def logit(probability: float) -> float:
    """``log(p / (1 - p))``, with ``p`` kept inside (0, 1) so that 0 and 1 stay finite."""
    clipped = min(max(probability, 1e-9), 1.0 - 1e-9)
    return float(np.log(clipped / (1.0 - clipped)))


def sigmoid(log_odds: FloatArray) -> FloatArray:
    """The logistic function, elementwise."""
    result: FloatArray = 1.0 / (1.0 + np.exp(-log_odds))
    return result


def sample_rows(cumulative_rows: FloatArray, uniforms: FloatArray) -> IntArray:
    """For each row ``j`` of running sums, the index drawn with probability proportional
    to the row's weights, using ``uniforms[j]`` in [0, 1); shape ``(n,)``."""
    targets = uniforms * cumulative_rows[:, -1]
    drawn = (cumulative_rows <= targets[:, None]).sum(axis=1)
    sampled: IntArray = np.minimum(drawn, cumulative_rows.shape[1] - 1)
    return sampled


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class ShopWorld:
    """The config, the catalog, the shoppers, their category taste scores and the
    funnel's calibrated intercepts.

    ``taste_score[u, s]`` is ``taste_weight * clip(log(n_sub * taste[u, s]), -3, 3)``:
    zero for a shopper whose taste for subcategory ``s`` is average (uniform), positive
    for their favourites. ``cart_intercept`` and ``purchase_intercept`` are the log-odds
    at zero affinity that make the average simulated view convert at the config's
    ``cart_rate`` and the average cart at its ``purchase_rate``, and
    ``purchase_affinity_mean`` is the average affinity of a purchase (returns and ratings
    are centred on it), all solved on a sample of simulated views by :func:`build_world`.
    """

    config: SimulationConfig
    catalog: Catalog
    population: Population
    taste_score: FloatArray  # (n_users, n_sub)
    cart_intercept: float
    purchase_intercept: float
    purchase_affinity_mean: float

    def affinity(
        self,
        users: IntArray,
        items: IntArray,
        price_factor: float | FloatArray = 1.0,
    ) -> FloatArray:
        """How much shopper ``users[j]`` likes ``items[j]``, in log-odds (broadcasting).

        ``taste_score[u, subcategory(i)] + brand_loyalty[u] * [brand(i) is u's favourite
        of its category] - price_sensitivity[u] * (log(price(i) * price_factor /
        median price of the subcategory)) + quality(i)``.
        """
        catalog, population = self.catalog, self.population
        favourite = (
            population.favourite_brand[users, catalog.top_category[items]] == (catalog.brand[items])
        )
        relative_price = catalog.relative_log_price[items] + np.log(price_factor)
        score: FloatArray = (
            self.taste_score[users, catalog.subcategory[items]]
            + population.brand_loyalty[users] * favourite
            - population.price_sensitivity[users] * relative_price
            + catalog.quality[items]
        )
        return score

    def cart_probability(self, affinity: FloatArray) -> FloatArray:
        """P(add to cart | view) = ``sigmoid(cart_intercept + affinity)``."""
        return sigmoid(self.cart_intercept + affinity)

    def purchase_probability(self, affinity: FloatArray) -> FloatArray:
        """P(purchase | carted) = ``sigmoid(purchase_intercept + affinity / 2)``."""
        return sigmoid(self.purchase_intercept + _PURCHASE_AFFINITY_SLOPE * affinity)

    def choose_viewed_items(
        self,
        users: IntArray,
        subcategory: IntArray,
        day: int,
        rng: np.random.Generator,
        price_factor: float = 1.0,
    ) -> tuple[IntArray, FloatArray]:
        """The item each of ``users`` opens in ``subcategory`` on ``day``, and their
        affinity for it, both shape ``(n,)``.

        ``consideration_set_size`` candidates are drawn by popularity among the items on
        sale; the shopper opens the best by affinity plus Gumbel noise, i.e. draws one
        with probability ``softmax(affinity)`` over the candidates.
        """
        candidates = self.catalog.sample_items(
            subcategory, day, rng.random((len(users), self.config.consideration_set_size))
        )
        affinity = self.affinity(users[:, None], candidates, price_factor)
        chosen = np.argmax(affinity + rng.gumbel(size=affinity.shape), axis=1)
        rows = np.arange(len(users))
        return candidates[rows, chosen], affinity[rows, chosen]


def _intercept_for_mean(target: float, affinity: FloatArray, weights: FloatArray) -> float:
    """The ``b`` with weighted mean of ``sigmoid(b + affinity)`` equal to ``target``."""
    low, high = -_INTERCEPT_BOUND, _INTERCEPT_BOUND
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (low + high)
        if np.average(sigmoid(middle + affinity), weights=weights) < target:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _calibrate_funnel(
    config: SimulationConfig, unfinished: ShopWorld, rng: np.random.Generator
) -> tuple[float, float, float]:
    """Intercepts that make the average view and cart convert at the config's rates, and
    the average affinity of what is bought.

    Shoppers select what they view by affinity, so viewed items fit better than average;
    the intercepts are solved on a sample of simulated views (shoppers weighted by
    activity, subcategories by taste, items by the generator's own choice).
    """
    population = unfinished.population
    activity = np.cumsum(population.activity_rate)
    users = np.searchsorted(activity, rng.random(_CALIBRATION_VIEWS) * activity[-1], side="right")
    users = np.minimum(users, population.n_users - 1)
    subcategory = sample_rows(population.taste_cumulative[users], rng.random(len(users)))
    _, affinity = unfinished.choose_viewed_items(users, subcategory, 0, rng)
    cart_intercept = _intercept_for_mean(config.cart_rate, affinity, np.ones(len(affinity)))
    carted = sigmoid(cart_intercept + affinity)
    purchase_intercept = _intercept_for_mean(
        config.purchase_rate, _PURCHASE_AFFINITY_SLOPE * affinity, carted
    )
    bought = carted * sigmoid(purchase_intercept + _PURCHASE_AFFINITY_SLOPE * affinity)
    return cart_intercept, purchase_intercept, float(np.average(affinity, weights=bought))


def build_world(config: SimulationConfig) -> ShopWorld:
    """The catalog and shoppers of ``config`` (deterministic for its seed; no events)."""
    catalog = build_catalog(config, random_generator(config.seed, RandomStream.CATALOG))
    population = build_population(config, random_generator(config.seed, RandomStream.POPULATION))
    n_subcategories = population.subcategory_taste.shape[1]
    with np.errstate(divide="ignore"):
        log_relative_taste = np.log(n_subcategories * population.subcategory_taste)
    taste_score = config.taste_weight * np.clip(
        log_relative_taste, -_TASTE_SCORE_BOUND, _TASTE_SCORE_BOUND
    )
    uncalibrated = ShopWorld(
        config=config,
        catalog=catalog,
        population=population,
        taste_score=taste_score,
        cart_intercept=0.0,
        purchase_intercept=0.0,
        purchase_affinity_mean=0.0,
    )
    cart_intercept, purchase_intercept, purchase_affinity_mean = _calibrate_funnel(
        config, uncalibrated, random_generator(config.seed, RandomStream.CALIBRATION)
    )
    return ShopWorld(
        config=config,
        catalog=catalog,
        population=population,
        taste_score=taste_score,
        cart_intercept=cart_intercept,
        purchase_intercept=purchase_intercept,
        purchase_affinity_mean=purchase_affinity_mean,
    )
