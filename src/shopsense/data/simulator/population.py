"""The simulated shoppers: who they are and the hidden traits that drive what they do."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopsense.data.simulator.calendar import (
    MICROSECONDS_PER_DAY,
    MICROSECONDS_PER_SECOND,
    hour_of_day_cumulative,
)
from shopsense.data.simulator.catalog import (
    BoolArray,
    FloatArray,
    IntArray,
    draw_brands,
    start_microseconds,
    taxonomy,
)
from shopsense.data.simulator.config import SimulationConfig
from shopsense.data.simulator.vocabulary import ACQUISITION_CHANNELS, AGE_BANDS, COUNTRIES

NO_CHURN = np.iinfo(np.int64).max // 4
"""``churn_day`` of a shopper who never leaves (far beyond any simulated period)."""

_MAX_BASE_AGE_DAYS = 730
_MAX_SESSIONS_PER_DAY = 24.0


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class Population:
    """The shoppers, indexed ``0..n_users-1`` in signup order.

    Days are offsets from the simulation's start (day 0); a shopper is *alive* on day
    ``d`` when ``signup_day <= d < churn_day``.
    """

    user_ids: tuple[str, ...]
    attributes_json: tuple[str, ...]  # country, age band, acquisition channel
    is_newcomer: BoolArray  # (n_users,) signed up during the period
    signup_day: IntArray  # (n_users,) < 0 for shoppers who were there at the start
    signup_us: IntArray  # (n_users,) microseconds since the epoch
    category_taste: FloatArray  # (n_users, n_top) rows sum to 1
    subcategory_taste: FloatArray  # (n_users, n_sub) rows sum to 1
    taste_cumulative: FloatArray  # (n_users, n_sub) running sums of subcategory_taste
    favourite_brand: IntArray  # (n_users, n_top) brand index per top category
    brand_loyalty: FloatArray  # (n_users,) log-odds boost for the favourite brand
    price_sensitivity: FloatArray  # (n_users,) log-odds per unit of relative log price
    activity_rate: FloatArray  # (n_users,) sessions per ordinary day
    churn_hazard: FloatArray  # (n_users,) per-day probability of leaving
    churn_day: IntArray  # (n_users,) first day without activity; NO_CHURN if never
    cycle_factor: FloatArray  # (n_users,) personal factor on consumables' re-buy cycles

    @property
    def n_users(self) -> int:
        return len(self.user_ids)


def _mean_one_lognormal(rng: np.random.Generator, sigma: float, size: int) -> FloatArray:
    """Log-normal draws with mean 1 (mu = -sigma^2 / 2)."""
    draws: FloatArray = rng.lognormal(-0.5 * sigma * sigma, sigma, size)
    return draws


def _choose_labels(
    rng: np.random.Generator, labelled_shares: tuple[tuple[str, float], ...], size: int
) -> list[str]:
    labels = [label for label, _ in labelled_shares]
    shares = np.array([share for _, share in labelled_shares])
    picks = rng.choice(len(labels), size=size, p=shares / shares.sum())
    return [labels[pick] for pick in picks]


def geometric_days_alive(rng: np.random.Generator, hazard: FloatArray) -> IntArray:
    """Days until leaving under a constant per-day ``hazard``: ``G`` with
    ``P(G > t) = (1 - hazard)^t`` (so ``G >= 1``); ``NO_CHURN`` where the hazard is 0."""
    uniforms = 1.0 - rng.random(len(hazard))  # in (0, 1]
    with np.errstate(divide="ignore"):
        survival_log = np.log1p(-np.minimum(hazard, 1.0))
        days = np.ceil(np.log(uniforms) / survival_log)
    days = np.where((hazard > 0.0) & np.isfinite(days), np.maximum(days, 1.0), NO_CHURN)
    alive: IntArray = np.minimum(days, NO_CHURN).astype(np.int64)
    return alive


def build_population(config: SimulationConfig, rng: np.random.Generator) -> Population:
    """Draw ``config.users`` shoppers with ``rng`` (deterministic for a seed)."""
    tree = taxonomy()
    n_users = config.users
    n_newcomers = round(n_users * config.newcomer_share)
    is_newcomer = np.zeros(n_users, dtype=np.bool_)
    is_newcomer[n_users - n_newcomers :] = True
    signup_day = np.where(
        is_newcomer,
        rng.integers(0, config.days, n_users),
        -rng.integers(1, _MAX_BASE_AGE_DAYS + 1, n_users),
    )
    hours = np.searchsorted(hour_of_day_cumulative(), rng.random(n_users), side="right")
    signup_second = np.minimum(hours, 23) * 3_600 + rng.integers(0, 3_600, n_users)
    # Shopper ids count up in signup order, as a shop's customer numbers do.
    order = np.lexsort((signup_second, signup_day))
    is_newcomer, signup_day, signup_second = (
        is_newcomer[order],
        signup_day[order],
        signup_second[order],
    )

    category_alpha = config.taste_concentration * tree.n_top * tree.top_shares
    # The tiny floor keeps a row finite when every gamma draw underflows (alpha near 0).
    tiny = np.finfo(np.float64).tiny
    category_taste = rng.gamma(category_alpha, 1.0, (n_users, tree.n_top)) + tiny
    category_taste /= category_taste.sum(axis=1, keepdims=True)
    within = rng.gamma(config.subcategory_concentration, 1.0, (n_users, tree.n_subcategories))
    within += tiny
    first_sub_of_top = np.searchsorted(tree.subcategory_top, np.arange(tree.n_top))
    within /= np.add.reduceat(within, first_sub_of_top, axis=1)[:, tree.subcategory_top]
    subcategory_taste = category_taste[:, tree.subcategory_top] * within
    taste_cumulative = np.cumsum(subcategory_taste, axis=1)

    every_top = np.broadcast_to(np.arange(tree.n_top), (n_users, tree.n_top))
    favourite_brand = draw_brands(every_top, rng.random((n_users, tree.n_top)))

    brand_loyalty = rng.exponential(1.0, n_users) * config.brand_loyalty
    price_sensitivity = config.price_sensitivity_mean * _mean_one_lognormal(
        rng, config.price_sensitivity_spread, n_users
    )
    activity_rate = np.minimum(
        config.activity_mean * _mean_one_lognormal(rng, config.activity_spread, n_users),
        _MAX_SESSIONS_PER_DAY,
    )
    churn_hazard = np.minimum(
        config.churn_hazard_mean * _mean_one_lognormal(rng, config.churn_hazard_spread, n_users),
        1.0,
    )
    # Shoppers of the base are alive on day 0; newcomers from their signup day.
    churn_day = np.maximum(signup_day, 0) + geometric_days_alive(rng, churn_hazard)
    cycle_factor = rng.lognormal(0.0, config.cycle_personal_spread, n_users)

    countries = _choose_labels(rng, COUNTRIES, n_users)
    age_bands = _choose_labels(rng, AGE_BANDS, n_users)
    channels = _choose_labels(rng, ACQUISITION_CHANNELS, n_users)
    id_width = max(5, len(str(n_users)))
    return Population(
        user_ids=tuple(f"U{number:0{id_width}d}" for number in range(1, n_users + 1)),
        attributes_json=tuple(
            f'{{"country": "{country}", "age_band": "{age}", "channel": "{channel}"}}'
            for country, age, channel in zip(countries, age_bands, channels, strict=True)
        ),
        is_newcomer=is_newcomer,
        signup_day=signup_day.astype(np.int64),
        signup_us=start_microseconds(config.start)
        + signup_day.astype(np.int64) * MICROSECONDS_PER_DAY
        + signup_second.astype(np.int64) * MICROSECONDS_PER_SECOND,
        category_taste=category_taste,
        subcategory_taste=subcategory_taste,
        taste_cumulative=taste_cumulative,
        favourite_brand=favourite_brand.astype(np.int64),
        brand_loyalty=brand_loyalty,
        price_sensitivity=price_sensitivity,
        activity_rate=activity_rate,
        churn_hazard=churn_hazard,
        churn_day=churn_day.astype(np.int64),
        cycle_factor=cycle_factor,
    )
