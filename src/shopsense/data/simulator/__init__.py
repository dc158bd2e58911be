"""The shop simulator: realistic, deterministic shop histories with their ground truth.

>>> from shopsense.data.simulator import SimulationConfig, simulate_shop
>>> shop = simulate_shop(SimulationConfig(users=200, items=100, days=14, seed=7))
>>> shop.events.num_rows > 0
True

- :func:`simulate_shop` draws a catalog, shoppers with hidden tastes, and their events,
  orders, returns and ratings, day by day (see ``docs/simulator.md``);
- :func:`write_to_store` puts a :class:`SimulatedShop` into a store;
- :class:`ResponseModel` answers "what does this shopper do with this ranked list?" from
  the same hidden tastes, for closed-loop experiments with recommenders.
"""

from shopsense.data.simulator.config import SimulationConfig
from shopsense.data.simulator.generator import EVENT_TYPE_CODES, VIEW_SOURCES, simulate_shop
from shopsense.data.simulator.response import Response, ResponseModel
from shopsense.data.simulator.shop import (
    ProgressCallback,
    ShopSink,
    SimulatedShop,
    SimulationTruth,
    StoreWriteReport,
    write_to_store,
)
from shopsense.data.simulator.world import ShopWorld, build_world

__all__ = [
    "EVENT_TYPE_CODES",
    "VIEW_SOURCES",
    "ProgressCallback",
    "Response",
    "ResponseModel",
    "ShopSink",
    "ShopWorld",
    "SimulatedShop",
    "SimulationConfig",
    "SimulationTruth",
    "StoreWriteReport",
    "build_world",
    "simulate_shop",
    "write_to_store",
]
