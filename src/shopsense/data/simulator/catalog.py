"""The simulated catalog: items with categories, brands, prices, popularity and text.

Items are stored in *block order*: grouped by subcategory, and within a subcategory by
the day they enter the catalog. The items on sale on a day are then a prefix of each
block, so the generator samples "an item of subcategory s, by popularity, among those
already on sale" with one ``searchsorted`` over :attr:`Catalog.popularity_cumulative`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from shopsense.data.simulator.calendar import MICROSECONDS_PER_DAY, MICROSECONDS_PER_SECOND
from shopsense.data.simulator.config import SimulationConfig
from shopsense.data.simulator.vocabulary import CATEGORIES

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

QUERIES_PER_ITEM = 3
"""Search phrasings generated per item: its noun, adjective + noun, brand + noun."""

_BRAND_POPULARITY_EXPONENT = 0.7
_BRAND_PRICE_PREMIUM_SPREAD = 0.25
_ITEM_CYCLE_SPREAD = 0.15
_ITEM_QUALITY_SPREAD = 0.5
_MAX_CATALOG_AGE_DAYS = 1_000


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class Taxonomy:
    """The category tree of :data:`~shopsense.data.simulator.vocabulary.CATEGORIES` as
    arrays: top categories ``c``, subcategories ``s`` (contiguous per top category) and
    brands ``b`` (contiguous per top category)."""

    top_names: tuple[str, ...]
    top_shares: FloatArray  # (n_top,), sums to 1
    top_return_rates: FloatArray  # (n_top,)
    subcategory_names: tuple[str, ...]
    subcategory_top: IntArray  # (n_sub,) top category of each subcategory
    subcategory_median_price: FloatArray  # (n_sub,)
    subcategory_price_spread: FloatArray  # (n_sub,)
    subcategory_cycle_days: FloatArray  # (n_sub,), NaN for durable goods
    brand_names: tuple[str, ...]
    brand_top: IntArray  # (n_brands,)
    brand_popularity: FloatArray  # (n_brands,), sums to 1 within each top category
    top_brand_start: IntArray  # (n_top + 1,) brands of top c are [start[c], start[c+1])

    @property
    def n_top(self) -> int:
        return len(self.top_names)

    @property
    def n_subcategories(self) -> int:
        return len(self.subcategory_names)

    @property
    def n_brands(self) -> int:
        return len(self.brand_names)


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    """The category tree as arrays (built on first use, then cached)."""
    shares = np.array([category.share for category in CATEGORIES], dtype=np.float64)
    subcategories = [
        (top, sub) for top, category in enumerate(CATEGORIES) for sub in category.subcategories
    ]
    brands = [(top, brand) for top, category in enumerate(CATEGORIES) for brand in category.brands]
    brand_popularity = np.empty(len(brands), dtype=np.float64)
    top_brand_start = np.zeros(len(CATEGORIES) + 1, dtype=np.int64)
    for top, category in enumerate(CATEGORIES):
        start = int(top_brand_start[top])
        weights = np.arange(1, len(category.brands) + 1, dtype=np.float64) ** (
            -_BRAND_POPULARITY_EXPONENT
        )
        brand_popularity[start : start + len(weights)] = weights / weights.sum()
        top_brand_start[top + 1] = start + len(weights)
    return Taxonomy(
        top_names=tuple(category.name for category in CATEGORIES),
        top_shares=shares / shares.sum(),
        top_return_rates=np.array([c.return_rate for c in CATEGORIES], dtype=np.float64),
        subcategory_names=tuple(sub.name for _, sub in subcategories),
        subcategory_top=np.array([top for top, _ in subcategories], dtype=np.int64),
        subcategory_median_price=np.array([s.median_price for _, s in subcategories]),
        subcategory_price_spread=np.array([s.price_spread for _, s in subcategories]),
        subcategory_cycle_days=np.array(
            [np.nan if s.cycle_days is None else s.cycle_days for _, s in subcategories]
        ),
        brand_names=tuple(name for _, name in brands),
        brand_top=np.array([top for top, _ in brands], dtype=np.int64),
        brand_popularity=brand_popularity,
        top_brand_start=top_brand_start,
    )


def start_microseconds(start: date) -> int:
    """Microseconds since the Unix epoch of UTC midnight at the start of ``start``."""
    moment = datetime.combine(start, time(0), tzinfo=UTC)
    return int(moment.timestamp()) * MICROSECONDS_PER_SECOND


@dataclass(frozen=True, slots=True, eq=False)  # holds arrays: compare by identity
class Catalog:
    """The items, indexed ``0..n_items-1`` in block order (see the module docstring)."""

    item_ids: tuple[str, ...]
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    sizes: tuple[str, ...]
    queries: tuple[str, ...]  # (n_items * QUERIES_PER_ITEM,): item i's are [3i, 3i+3)
    subcategory: IntArray  # (n_items,)
    top_category: IntArray  # (n_items,)
    brand: IntArray  # (n_items,)
    price: FloatArray  # (n_items,) list price
    relative_log_price: FloatArray  # (n_items,) log(price / subcategory median price)
    popularity: FloatArray  # (n_items,) Zipf weight, sums to 1
    quality: FloatArray  # (n_items,) hidden log-odds bonus on conversion and ratings
    cycle_days: FloatArray  # (n_items,) typical re-buy cycle, NaN for durable goods
    is_consumable: BoolArray  # (n_items,) re-bought on a cycle (cycle_days is not NaN)
    created_day: IntArray  # (n_items,) day offset it went on sale (< 0: before start)
    created_us: IntArray  # (n_items,) microseconds since the epoch
    subcategory_start: IntArray  # (n_sub + 1,) block of s is [start[s], start[s+1])
    available_end: IntArray  # (days, n_sub) items of s on sale on day d: [start[s], end)
    popularity_cumulative: FloatArray  # (n_items,) running sum of popularity

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def sample_items(
        self,
        subcategory: IntArray,
        day: int,
        uniforms: FloatArray,
    ) -> IntArray:
        """Items drawn by popularity among those of ``subcategory`` on sale on ``day``.

        ``subcategory`` has shape ``(n,)``, ``uniforms`` shape ``(n, k)`` with values in
        [0, 1); the result has shape ``(n, k)``.
        """
        return draw_in_blocks(
            self.popularity_cumulative,
            self.subcategory_start[subcategory][:, None],
            self.available_end[day, subcategory][:, None],
            uniforms,
        )


def draw_in_blocks(
    cumulative: FloatArray, first: IntArray, end: IntArray, uniforms: FloatArray
) -> IntArray:
    """Indices drawn in proportion to the weights whose running sum is ``cumulative``,
    each within its block ``[first, end)``, using ``uniforms`` in [0, 1).

    ``first`` and ``end`` broadcast against ``uniforms``; the result has its shape.
    """
    before = np.where(first > 0, cumulative[np.maximum(first - 1, 0)], 0.0)
    targets = before + uniforms * (cumulative[end - 1] - before)
    drawn = np.searchsorted(cumulative, targets, side="right")
    indices: IntArray = np.clip(drawn, first, end - 1)
    return indices


def draw_brands(top: IntArray, uniforms: FloatArray) -> IntArray:
    """A brand of each top category ``top[j]``, drawn by brand popularity with
    ``uniforms[j]`` in [0, 1); same shape as ``top``."""
    tree = taxonomy()
    return draw_in_blocks(
        np.cumsum(tree.brand_popularity),
        tree.top_brand_start[top],
        tree.top_brand_start[top + 1],
        uniforms,
    )


def new_item_count(config: SimulationConfig) -> int:
    """How many items go on sale during the period: ``new_item_share`` of them, but at
    most all except one per subcategory (each keeps an item from before the start)."""
    return min(
        round(config.items * config.new_item_share),
        config.items - len(taxonomy().subcategory_names),
    )


def _allocate_items(config: SimulationConfig, rng: np.random.Generator) -> IntArray:
    """How many items each subcategory gets: at least one, the rest by category share."""
    tree = taxonomy()
    subs_per_top = np.bincount(tree.subcategory_top, minlength=tree.n_top)
    weights = tree.top_shares[tree.subcategory_top] / subs_per_top[tree.subcategory_top]
    extra = rng.multinomial(config.items - tree.n_subcategories, weights / weights.sum())
    counts: IntArray = extra.astype(np.int64) + 1
    return counts


def _round_price(raw: FloatArray) -> FloatArray:
    """Shop-like prices: 3.49 below 10, 24.99 below 100, 149.99 above; at least 0.49."""
    small = np.round(raw * 2.0) / 2.0 - 0.01
    medium = np.round(raw) - 0.01
    large = np.round(raw / 5.0) * 5.0 - 0.01
    rounded = np.where(raw < 10.0, small, np.where(raw < 100.0, medium, large))
    priced: FloatArray = np.maximum(np.round(rounded, 2), 0.49)
    return priced


def build_catalog(config: SimulationConfig, rng: np.random.Generator) -> Catalog:
    """Draw the catalog of ``config.items`` items with ``rng`` (deterministic for a seed)."""
    tree = taxonomy()
    counts = _allocate_items(config, rng)
    n_items = int(counts.sum())
    subcategory = np.repeat(np.arange(tree.n_subcategories), counts)
    top = tree.subcategory_top[subcategory]

    brand = draw_brands(top, rng.random(n_items))

    premium = rng.normal(0.0, _BRAND_PRICE_PREMIUM_SPREAD, tree.n_brands)
    median = tree.subcategory_median_price[subcategory]
    log_price = rng.normal(
        np.log(median) + premium[brand], tree.subcategory_price_spread[subcategory]
    )
    price = _round_price(np.exp(log_price))

    ranks = rng.permutation(n_items)
    weights = (ranks + 1.0) ** (-config.popularity_exponent)
    popularity: FloatArray = np.asarray(weights / weights.sum(), dtype=np.float64)
    quality = rng.normal(0.0, _ITEM_QUALITY_SPREAD, n_items)
    cycle_days = tree.subcategory_cycle_days[subcategory] * rng.lognormal(
        0.0, _ITEM_CYCLE_SPREAD, n_items
    )

    # New items: any but one "anchor" per subcategory, so that each has one from day 0.
    subcategory_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    created_day = -1 - rng.integers(0, _MAX_CATALOG_AGE_DAYS, n_items)
    anchors = subcategory_start[:-1] + rng.integers(0, counts)
    candidates = np.setdiff1d(np.arange(n_items), anchors)
    n_new = new_item_count(config)
    newcomers = rng.choice(candidates, size=n_new, replace=False)
    created_day[newcomers] = rng.integers(0, max(config.days - 1, 1), n_new)
    created_second = rng.integers(0, 86_400, n_items)

    # Block order: by subcategory, then by the day the item went on sale.
    order = np.lexsort((created_day, subcategory))
    subcategory, top, brand = subcategory[order], top[order], brand[order]
    price, popularity, quality = price[order], popularity[order], quality[order]
    cycle_days, created_day = cycle_days[order], created_day[order]
    created_second = created_second[order]

    available_end = np.empty((config.days, tree.n_subcategories), dtype=np.int64)
    day_numbers = np.arange(config.days)
    for sub in range(tree.n_subcategories):
        block = created_day[subcategory_start[sub] : subcategory_start[sub + 1]]
        available_end[:, sub] = subcategory_start[sub] + np.searchsorted(
            block, day_numbers, side="left"
        )

    id_width = max(5, len(str(n_items)))
    id_numbers = rng.permutation(n_items) + 1
    texts = _item_texts(subcategory, brand, rng)
    start_us = start_microseconds(config.start)
    return Catalog(
        item_ids=tuple(f"I{number:0{id_width}d}" for number in id_numbers),
        titles=texts.titles,
        descriptions=texts.descriptions,
        sizes=texts.sizes,
        queries=texts.queries,
        subcategory=subcategory,
        top_category=top,
        brand=brand,
        price=price,
        relative_log_price=np.log(price / tree.subcategory_median_price[subcategory]),
        popularity=popularity,
        quality=quality,
        cycle_days=cycle_days,
        is_consumable=~np.isnan(cycle_days),
        created_day=created_day,
        created_us=start_us
        + created_day * MICROSECONDS_PER_DAY
        + created_second * MICROSECONDS_PER_SECOND,
        subcategory_start=subcategory_start,
        available_end=available_end,
        popularity_cumulative=np.cumsum(popularity),
    )


@dataclass(frozen=True, slots=True)
class _ItemTexts:
    titles: tuple[str, ...]
    descriptions: tuple[str, ...]
    sizes: tuple[str, ...]
    queries: tuple[str, ...]


def _item_texts(subcategory: IntArray, brand: IntArray, rng: np.random.Generator) -> _ItemTexts:
    """Titles, descriptions, sizes and search phrasings, from the categories' word lists."""
    tree = taxonomy()
    leaves = [(category, sub) for category in CATEGORIES for sub in category.subcategories]
    # One uniform per word choice: adjective, noun, size, first and second feature.
    uniforms = rng.random((len(subcategory), 5))
    titles: list[str] = []
    descriptions: list[str] = []
    sizes: list[str] = []
    queries: list[str] = []
    for index, (leaf, brand_index) in enumerate(zip(subcategory, brand, strict=True)):
        category, spec = leaves[leaf]
        u_adjective, u_noun, u_size, u_first, u_second = uniforms[index]
        adjective = category.adjectives[int(u_adjective * len(category.adjectives))]
        noun = spec.nouns[int(u_noun * len(spec.nouns))]
        size = spec.variants[int(u_size * len(spec.variants))]
        n_features = len(category.features)
        first = int(u_first * n_features)
        second = (first + 1 + int(u_second * (n_features - 1))) % n_features
        brand_name = tree.brand_names[brand_index]
        titles.append(
            category.title_format.format(
                brand=brand_name, adjective=adjective, noun=noun, variant=size
            )
        )
        descriptions.append(
            f"{adjective} {noun.lower()} by {brand_name}, {size}. "
            f"{category.features[first]} {category.features[second]} "
            f"From our {spec.name} range in {category.name}."
        )
        sizes.append(size)
        queries.extend(
            (noun.lower(), f"{adjective} {noun}".lower(), f"{brand_name} {noun}".lower())
        )
    return _ItemTexts(tuple(titles), tuple(descriptions), tuple(sizes), tuple(queries))
