"""Buy it again: rank what each customer already buys, by frequency, recency and cycle.

Two repeat-purchase recommenders:

- :class:`PersonalTopFrequency` ("top-frequency"), the personal top-frequency baseline
  of next-basket recommendation: each item scores the number of times the customer
  bought it, ties and unbought items by global popularity ("P-TopFreq" with the
  "G-TopFreq" fallback of Hu, Sun, Ariannezhad, de Rijke et al., "Modeling
  Personalized Item Frequency Information for Next-basket Recommendation", SIGIR 2020).
- :class:`BuyAgain` ("buy-again"), the same frequency with exponential time decay,
  multiplied by how *due* the item is given its re-buy cycle, after Bhagat, Muralidharan,
  Lobzhanidze & Vishwanath, "Buy It Again: Modeling Repeat Purchase Recommendations",
  KDD 2018 (an item's repeat-purchase rate is time-dependent and peaks around its
  typical inter-purchase interval, learned per item across customers and refined by
  the customer's own interval).

Both only re-rank the customer's own purchases; every other item follows by popularity,
so lists are always full (and with ``exclude_seen`` they reduce to popularity).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

import numpy as np

from shopsense.core.errors import ConfigurationError
from shopsense.features.interactions import Interactions
from shopsense.models.recommend._common import (
    SECONDS_PER_DAY,
    ArrayArtifacts,
    ScoringRecommender,
    check_histories,
    decayed_weights,
    history_matrix,
    similar_by_rows,
    with_popularity_fallback,
)
from shopsense.models.recommend.base import (
    FloatArray,
    IntArray,
    Recommendations,
    check_fitted,
)

TIE_BREAK_WEIGHT = 0.5
"""Top-frequency adds half an item's scaled popularity: less than one purchase."""

MIN_CYCLE_DAYS = 1.0
"""Re-buy cycles shorter than a day (two orders on one day) count as one day."""


@dataclass(frozen=True, slots=True)
class RepeatPurchases:
    """Distinct purchases grouped by (owner, item): the input of repeat-purchase models.

    ``owners``, ``items``, ``stamps``: int64 ``[m]``, the purchases sorted by owner
    (a user code or a history's row), item and time, with repeats of the same item at
    the same time (one basket, e.g. one invoice) counted once; ``starts``: int64
    ``[g]``, where each (owner, item) group begins.
    """

    owners: IntArray
    items: IntArray
    stamps: IntArray
    starts: IntArray

    @classmethod
    def group(cls, owners: IntArray, items: IntArray, stamps: IntArray) -> RepeatPurchases:
        order = np.lexsort((stamps, items, owners))
        owners, items, stamps = owners[order], items[order], stamps[order]
        if len(owners):
            changed = (np.diff(owners) != 0) | (np.diff(items) != 0)
            distinct = np.concatenate([[True], changed | (np.diff(stamps) != 0)])
            owners, items, stamps = owners[distinct], items[distinct], stamps[distinct]
        new_group = np.concatenate([[True], (np.diff(owners) != 0) | (np.diff(items) != 0)])
        starts = np.flatnonzero(new_group[: len(owners)]).astype(np.int64)
        return cls(owners=owners, items=items, stamps=stamps, starts=starts)

    @property
    def counts(self) -> IntArray:
        """Purchases (distinct baskets) per group."""
        counts: IntArray = np.diff(np.append(self.starts, len(self.owners)))
        return counts

    def gaps(self) -> tuple[IntArray, FloatArray]:
        """Items and days between consecutive purchases of the same item by the same owner."""
        same_group = (np.diff(self.owners) == 0) & (np.diff(self.items) == 0)
        days: FloatArray = np.diff(self.stamps)[same_group] / SECONDS_PER_DAY
        return self.items[1:][same_group], days


def item_medians(items: IntArray, values: FloatArray, n_items: int) -> tuple[FloatArray, IntArray]:
    """Median of ``values`` per item (NaN where none) and how many values each item has."""
    order = np.lexsort((values, items))
    ordered = values[order]
    counts = np.bincount(items, minlength=n_items).astype(np.int64)
    starts = np.cumsum(counts) - counts
    medians = np.full(n_items, np.nan)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    medians[has] = (ordered[low] + ordered[high]) / 2.0
    return medians, counts


def due_factor(days_since: FloatArray, cycle_days: FloatArray, width: float) -> FloatArray:
    """``exp(-ln(min(s / c, 1))^2 / (2 w^2))``: rises smoothly (a half-Gaussian on a
    log-time scale) from 0 right at the purchase (``s <= 0``) to 1 when the time since
    the last purchase ``s`` reaches the cycle ``c``, and stays 1 while the item is
    overdue; 0 with an unknown cycle (NaN)."""
    cycle = np.maximum(np.nan_to_num(cycle_days, nan=np.inf), MIN_CYCLE_DAYS)
    positive = (days_since > 0) & np.isfinite(cycle)
    ratio = np.minimum(np.where(positive, days_since, 1.0) / np.where(positive, cycle, 1.0), 1.0)
    factor: FloatArray = np.where(positive, np.exp(-0.5 * (np.log(ratio) / width) ** 2), 0.0)
    return factor


def history_clock(
    histories: list[IntArray], times: list[IntArray] | None, now: int | None
) -> tuple[IntArray, IntArray]:
    """Every history's purchase times, concatenated, and each history's ``now``.

    Without ``times`` the history is one purchase a day ending at ``now`` (or at 0).
    Without ``now`` each history is seen right after its own last purchase.
    """
    lengths = np.array([len(history) for history in histories], dtype=np.int64)
    if times is None:
        end = 0 if now is None else int(now)
        ends = np.cumsum(lengths)
        steps_back = np.repeat(ends, lengths) - 1 - np.arange(int(lengths.sum()))
        stamps = end - steps_back * int(SECONDS_PER_DAY)
    else:
        stamps = np.concatenate(times).astype(np.int64) if lengths.sum() else np.zeros(0, np.int64)
    if now is not None:
        nows = np.full(len(histories), int(now), dtype=np.int64)
    else:
        nows = np.zeros(len(histories), dtype=np.int64)
        filled = lengths > 0
        ends = np.cumsum(lengths)[filled] - 1
        nows[filled] = np.maximum.reduceat(stamps, ends - lengths[filled] + 1)
    return stamps, nows


def repeat_scores(
    history_scores: FloatArray,
    histories: list[IntArray],
    popularity: FloatArray,
    popularity_weight: float,
) -> FloatArray:
    """Scores of the history items (positive where bought, else 0) plus
    ``popularity_weight`` times the item's popularity scaled to ``[0, 1]``, which breaks
    ties among items bought as often; every other item follows by popularity."""
    scaled = popularity / max(float(popularity.max(initial=0.0)), 1e-12)
    bought = history_scores > 0
    scores = np.where(bought, history_scores + popularity_weight * scaled[np.newaxis, :], 0.0)
    return with_popularity_fallback(scores, histories, popularity)


def popular_neighbours(popularity: FloatArray, item_codes: IntArray, n: int) -> Recommendations:
    """Repeat-purchase models know no item similarity: each item's "similar" items are
    the most popular other items (a documented fallback, as :class:`MostPopular`'s)."""
    return similar_by_rows(
        lambda codes: np.zeros((len(codes), len(popularity))), item_codes, n, popularity
    )


class PersonalTopFrequency(ArrayArtifacts, ScoringRecommender):
    """Rank each customer's items by how often they bought them (P-TopFreq).

    Each history item scores its number of purchase lines in the history; ties among
    them, and every item not in the history (below all of them), go by global
    popularity (G-TopFreq). No decay, no cycle: the plain baseline.

    Attributes
    ----------
    popularity_:
        float64 ``[n_items]``, summed training weight per item.
    """

    name: ClassVar[str] = "top-frequency"
    learned: ClassVar[tuple[str, ...]] = ("popularity_",)
    popularity_: FloatArray | None = None

    def __init__(self) -> None:
        """No hyper-parameters."""

    def fit(self, interactions: Interactions) -> Self:
        """Count each item's training interactions (the popularity fallback)."""
        self.popularity_ = np.bincount(
            interactions.item_codes, weights=interactions.weights, minlength=interactions.n_items
        ).astype(np.float64)
        return self

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        """Purchase counts plus half the item's popularity scaled to ``[0, 1]`` (a
        tie-break smaller than one purchase); other items by popularity below."""
        assert self.popularity_ is not None
        counts = np.asarray(history_matrix(histories, len(self.popularity_)).toarray())
        return repeat_scores(counts, histories, self.popularity_, TIE_BREAK_WEIGHT)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """The most popular other items (see :func:`popular_neighbours`)."""
        check_fitted(self, "popularity_")
        assert self.popularity_ is not None
        return popular_neighbours(self.popularity_, item_codes, n)


class BuyAgain(ArrayArtifacts, ScoringRecommender):
    """Personal purchase frequency with time decay and each customer's re-buy cycle.

    For a customer at time ``now`` (the request), each item ``i`` of their history
    scores ``f_i * (1 + cycle_weight * due_i)``:

    - ``f_i = sum_t 0.5 ** ((now - t) / half_life_days)`` over the customer's distinct
      purchase times ``t`` of ``i`` (lines at one timestamp are one basket: Online
      Retail has one timestamp per invoice), in days;
    - ``due_i = exp(-ln(min(s / c, 1))^2 / (2 cycle_width^2))`` with ``s`` the days
      since the last purchase of ``i`` and ``c`` its re-buy cycle: the customer's own
      mean gap when they bought ``i`` at least twice, else ``i``'s learned interval
      (Bhagat et al. 2018: repeat rates are low right after a purchase and high around
      an item's typical interval). ``due`` is 0 right after a purchase and 1 from
      ``s = c`` on (an overdue item stays due); cycles under a day count as a day.

    Each history item also gets ``popularity_weight`` times its popularity scaled to
    ``[0, 1]`` (which breaks the many ties among items bought once); items outside the
    history follow, by (decayed) popularity. Without ``times`` a
    history is one purchase a day ending at ``now`` (or at 0); without ``now`` each
    history is scored right after its own last purchase.

    Parameters
    ----------
    half_life_days:
        Half-life of a purchase's weight in days (for ``f`` and for popularity);
        ``None`` counts every purchase fully.
    cycle_weight:
        Weight of the due factor; 0 turns the cycle off (decayed frequency only).
    cycle_width:
        How fast ``due`` rises on a log-time scale (the standard deviation in
        ``ln(s / c)``): 0.5 gives 0.09 at a third of the cycle, 0.38 at half of it.
    min_repeats:
        How many repeat gaps (across customers) an item needs for its own median
        interval; items with fewer use the median gap of all items.
    popularity_weight:
        Added to each history item's score times the item's popularity scaled to
        ``[0, 1]``: breaks ties among items bought as often (top-frequency uses 0.5).

    The defaults were chosen on the retail-temporal validation split (docs/models-retail.md).

    Attributes
    ----------
    popularity_:
        float64 ``[n_items]``, (decayed) summed training weight per item.
    interval_days_:
        float64 ``[n_items]``, each item's typical re-buy interval in days (NaN when
        the training data has no repeat purchase at all).
    """

    name: ClassVar[str] = "buy-again"
    learned: ClassVar[tuple[str, ...]] = ("popularity_", "interval_days_")
    popularity_: FloatArray | None = None
    interval_days_: FloatArray | None = None

    def __init__(
        self,
        *,
        half_life_days: float | None = 90.0,
        cycle_weight: float = 0.25,
        cycle_width: float = 0.5,
        min_repeats: int = 5,
        popularity_weight: float = 1.0,
    ) -> None:
        self.half_life_days = half_life_days
        self.cycle_weight = cycle_weight
        self.cycle_width = cycle_width
        self.min_repeats = min_repeats
        self.popularity_weight = popularity_weight

    def _check_params(self) -> None:
        if self.half_life_days is not None and self.half_life_days <= 0:
            raise ConfigurationError(
                f"half_life_days must be positive or None, got {self.half_life_days}"
            )
        if self.cycle_weight < 0:
            raise ConfigurationError(f"cycle_weight must be >= 0, got {self.cycle_weight}")
        if self.cycle_width <= 0:
            raise ConfigurationError(f"cycle_width must be positive, got {self.cycle_width}")
        if self.popularity_weight < 0:
            raise ConfigurationError(
                f"popularity_weight must be >= 0, got {self.popularity_weight}"
            )
        if self.min_repeats < 1:
            raise ConfigurationError(f"min_repeats must be at least 1, got {self.min_repeats}")

    def fit(self, interactions: Interactions) -> Self:
        """Learn item popularity and each item's median re-buy interval."""
        self._check_params()
        weights = decayed_weights(interactions, self.half_life_days)
        n_items = interactions.n_items
        self.popularity_ = np.bincount(
            interactions.item_codes, weights=weights, minlength=n_items
        ).astype(np.float64)
        purchases = RepeatPurchases.group(
            interactions.user_codes, interactions.item_codes, interactions.timestamps
        )
        gap_items, gap_days = purchases.gaps()
        medians, counts = item_medians(gap_items, gap_days, n_items)
        overall = float(np.median(gap_days)) if len(gap_days) else np.nan
        self.interval_days_ = np.where(counts >= self.min_repeats, medians, overall)
        return self

    def score_histories(self, histories: list[IntArray]) -> FloatArray:
        """:meth:`score_in_context` without times or request time."""
        return self.score_in_context(histories, None, None)

    def score_in_context(
        self, histories: list[IntArray], times: list[IntArray] | None, now: int | None
    ) -> FloatArray:
        """Scores ``(len(histories), n_items)``: see the class docstring."""
        assert self.popularity_ is not None and self.interval_days_ is not None
        self._check_params()
        n_items = len(self.popularity_)
        check_histories(histories, n_items)
        scores = np.zeros((len(histories), n_items))
        stamps, nows = history_clock(histories, times, now)
        if len(stamps):
            lengths = [len(history) for history in histories]
            rows = np.repeat(np.arange(len(histories), dtype=np.int64), lengths)
            purchases = RepeatPurchases.group(rows, np.concatenate(histories), stamps)
            age_days = np.maximum(nows[purchases.owners] - purchases.stamps, 0) / SECONDS_PER_DAY
            if self.half_life_days is None:
                decayed = np.ones(len(age_days))
            else:
                decayed = np.exp2(-age_days / self.half_life_days)
            frequency = np.add.reduceat(decayed, purchases.starts)
            counts = purchases.counts
            ends = purchases.starts + counts - 1
            first, last = purchases.stamps[purchases.starts], purchases.stamps[ends]
            owners, items = purchases.owners[purchases.starts], purchases.items[purchases.starts]
            own_cycle = (last - first) / np.maximum(counts - 1, 1) / SECONDS_PER_DAY
            cycle = np.where(counts >= 2, own_cycle, self.interval_days_[items])
            since = (nows[owners] - last) / SECONDS_PER_DAY
            due = due_factor(since, cycle, self.cycle_width)
            # A tiny floor keeps every history item above the fallback's [-1, 0).
            scores[owners, items] = np.maximum(frequency * (1.0 + self.cycle_weight * due), 1e-300)
        return repeat_scores(scores, histories, self.popularity_, self.popularity_weight)

    def similar_items(self, item_codes: IntArray, n: int) -> Recommendations:
        """The most popular other items (see :func:`popular_neighbours`)."""
        check_fitted(self, "popularity_")
        assert self.popularity_ is not None
        return popular_neighbours(self.popularity_, item_codes, n)
