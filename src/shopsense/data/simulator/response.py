"""How a simulated shopper reacts to a ranked list of items (for closed-loop experiments).

The model is a position-based click model (Craswell et al., "An experimental comparison
of click position-bias models", WSDM 2008) on top of the simulator's own affinity:

- the shopper examines position ``k`` (0-based) with probability
  ``examination(k) = (1 + k) ** -position_decay``;
- an examined item attracts a click with probability
  ``sigmoid(logit(click_rate) + affinity(user, item))``, where ``affinity`` is the
  same log-odds of taste, brand loyalty, price and quality that drove the simulated
  history (:meth:`ShopWorld.affinity`), with the calendar's price factor at ``at``;
- a clicked item is bought with probability
  ``P(cart | view) * P(purchase | cart)``, exactly as in a simulated session;
- a shopper who clicked nothing leaves with probability ``abandonment_probability``.

Shoppers who have not signed up yet, or have churned by ``at``, do not respond (the
response says ``active=False`` and ``left=True``), and items not on sale yet at ``at``
are never clicked. So a list that fits a shopper's hidden taste earns more clicks and
purchases than a popular or random one, and position matters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from shopsense.core.errors import NotFoundError
from shopsense.data.simulator.calendar import MICROSECONDS_PER_DAY, price_factor_on
from shopsense.data.simulator.catalog import FloatArray, IntArray, start_microseconds
from shopsense.data.simulator.world import (
    RandomStream,
    ShopWorld,
    logit,
    random_generator,
    sigmoid,
)

UserRef = str | int
"""A shopper by id (``"U00042"``) or by index in the population (``41``)."""


@dataclass(frozen=True, slots=True)
class Response:
    """What one shopper did with one shown list."""

    user_id: str
    shown: tuple[str, ...]
    clicked: tuple[str, ...]
    purchased: tuple[str, ...]
    left: bool
    active: bool


class ResponseModel:
    """Simulated shoppers' reactions to ranked lists; see the module docstring.

    Parameters
    ----------
    world:
        The simulated world (``simulate_shop(config).world`` or ``build_world(config)``).
    seed:
        Seed of the response draws; ``None`` uses the world's seed. The same seed and the
        same sequence of calls give the same responses.
    click_rate:
        Click probability of an examined item at neutral affinity.
    position_decay:
        Exponent of the examination probability ``(1 + position) ** -position_decay``.
    abandonment_probability:
        Probability that a shopper who clicked nothing leaves.
    """

    def __init__(
        self,
        world: ShopWorld,
        *,
        seed: int | None = None,
        click_rate: float = 0.15,
        position_decay: float = 0.8,
        abandonment_probability: float = 0.5,
    ) -> None:
        for name, value in (
            ("click_rate", click_rate),
            ("abandonment_probability", abandonment_probability),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], not {value}")
        if position_decay < 0.0:
            raise ValueError(f"position_decay must be >= 0, not {position_decay}")
        self.world = world
        self.seed = world.config.seed if seed is None else seed
        self.click_rate = click_rate
        self.position_decay = position_decay
        self.abandonment_probability = abandonment_probability
        self._rng = random_generator(self.seed, RandomStream.RESPONSES)
        self._user_index: dict[str, int] | None = None
        self._item_index: dict[str, int] | None = None

    # --- look-ups --------------------------------------------------------------------------

    def _user(self, user: UserRef) -> int:
        n_users = self.world.population.n_users
        if isinstance(user, int):
            if not 0 <= user < n_users:
                raise NotFoundError(f"no simulated shopper with index {user} (0..{n_users - 1})")
            return user
        if self._user_index is None:
            self._user_index = {uid: i for i, uid in enumerate(self.world.population.user_ids)}
        index = self._user_index.get(user)
        if index is None:
            raise NotFoundError(f"no simulated shopper {user!r}")
        return index

    def _items(self, item_ids: Sequence[str]) -> IntArray:
        if self._item_index is None:
            self._item_index = {iid: i for i, iid in enumerate(self.world.catalog.item_ids)}
        lookup = self._item_index
        unknown = [item for item in item_ids if item not in lookup]
        if unknown:
            raise NotFoundError(f"unknown simulated items: {', '.join(unknown[:5])}")
        return np.array([lookup[item] for item in item_ids], dtype=np.int64)

    def _day(self, at: datetime | None) -> int:
        """Day offset of ``at`` from the start; ``None`` means the day after the period."""
        config = self.world.config
        if at is None:
            return config.days
        if at.tzinfo is None:
            raise ValueError("at must be timezone-aware, e.g. datetime(..., tzinfo=UTC)")
        elapsed_us = int(at.timestamp() * 1_000_000) - start_microseconds(config.start)
        return elapsed_us // MICROSECONDS_PER_DAY

    def _price_factor(self, at: datetime | None) -> float:
        """Share of the list price charged at ``at`` (the Black Friday discount)."""
        if at is None:
            return 1.0
        return price_factor_on(at.astimezone(UTC).date(), self.world.config)

    def is_active(self, user: UserRef, at: datetime | None = None) -> bool:
        """Whether the shopper has signed up and not churned on the day of ``at``."""
        population, day = self.world.population, self._day(at)
        index = self._user(user)
        return bool(population.signup_day[index] <= day < population.churn_day[index])

    # --- probabilities ---------------------------------------------------------------------

    def _affinity(self, user: int, items: IntArray, at: datetime | None) -> FloatArray:
        day = self._day(at)
        affinity = self.world.affinity(np.full(len(items), user), items, self._price_factor(at))
        on_sale = self.world.catalog.created_day[items] < day
        result: FloatArray = np.where(on_sale, affinity, -np.inf)
        return result

    def examination_probabilities(self, n_positions: int) -> FloatArray:
        """P(the shopper looks at position k), k = 0..n_positions-1."""
        positions = np.arange(n_positions, dtype=np.float64)
        examined: FloatArray = (1.0 + positions) ** -self.position_decay
        return examined

    def expected_click_probabilities(
        self, user: UserRef, shown_items: Sequence[str], at: datetime | None = None
    ) -> FloatArray:
        """P(click) of each shown item at its position, shape ``(len(shown_items),)``;
        zeros for a shopper who is not active at ``at``."""
        index = self._user(user)
        items = self._items(shown_items)
        if not self.is_active(index, at):
            return np.zeros(len(items))
        attraction = sigmoid(logit(self.click_rate) + self._affinity(index, items, at))
        clicks: FloatArray = self.examination_probabilities(len(items)) * attraction
        return clicks

    def purchase_given_click_probabilities(
        self, user: UserRef, shown_items: Sequence[str], at: datetime | None = None
    ) -> FloatArray:
        """P(purchase | click) of each shown item, shape ``(len(shown_items),)``."""
        affinity = self._affinity(self._user(user), self._items(shown_items), at)
        bought: FloatArray = self.world.cart_probability(
            affinity
        ) * self.world.purchase_probability(affinity)
        return bought

    def expected_purchase_probabilities(
        self, user: UserRef, shown_items: Sequence[str], at: datetime | None = None
    ) -> FloatArray:
        """P(click and purchase) of each shown item, shape ``(len(shown_items),)``."""
        purchases: FloatArray = self.expected_click_probabilities(
            user, shown_items, at
        ) * self.purchase_given_click_probabilities(user, shown_items, at)
        return purchases

    def best_items(self, user: UserRef, n: int = 10, at: datetime | None = None) -> list[str]:
        """The ``n`` items an all-knowing recommender would show, best first: the highest
        purchase probability when clicked, among items on sale at ``at``."""
        index = self._user(user)
        catalog = self.world.catalog
        affinity = self._affinity(index, np.arange(catalog.n_items), at)
        attraction = sigmoid(logit(self.click_rate) + affinity)
        value = (
            attraction
            * self.world.cart_probability(affinity)
            * self.world.purchase_probability(affinity)
        )
        best = np.argsort(-value, kind="stable")[:n]
        return [catalog.item_ids[item] for item in best]

    # --- draws -----------------------------------------------------------------------------

    def respond(
        self,
        user: UserRef,
        shown_items: Sequence[str],
        at: datetime | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> Response:
        """Draw what the shopper does with ``shown_items`` (best first) at ``at``.

        Uses the model's own random stream unless ``rng`` is given.
        """
        generator = self._rng if rng is None else rng
        index = self._user(user)
        user_id = self.world.population.user_ids[index]
        shown = tuple(shown_items)
        if not self.is_active(index, at):
            return Response(user_id, shown, (), (), left=True, active=False)
        clicks = self.expected_click_probabilities(index, shown, at)
        buys = self.purchase_given_click_probabilities(index, shown, at)
        clicked = generator.random(len(shown)) < clicks
        purchased = clicked & (generator.random(len(shown)) < buys)
        left = not clicked.any() and bool(generator.random() < self.abandonment_probability)
        return Response(
            user_id=user_id,
            shown=shown,
            clicked=tuple(item for item, hit in zip(shown, clicked, strict=True) if hit),
            purchased=tuple(item for item, hit in zip(shown, purchased, strict=True) if hit),
            left=left,
            active=True,
        )
