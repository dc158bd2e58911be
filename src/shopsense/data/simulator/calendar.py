"""The shop's calendar: weekly and seasonal rhythm, holiday peaks and time of day."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from shopsense.data.simulator.config import SimulationConfig
from shopsense.data.simulator.vocabulary import HOURLY_SESSION_WEIGHTS

SECONDS_PER_DAY = 86_400
MICROSECONDS_PER_SECOND = 1_000_000
MICROSECONDS_PER_DAY = SECONDS_PER_DAY * MICROSECONDS_PER_SECOND

_SATURDAY = 5
_PEAK_DAY_OF_YEAR = 340  # early December: the yearly sine peaks here, troughs in early June
_DAYS_PER_YEAR = 365.25
_HOLIDAY_LULL = 0.6  # activity on 24-26 December relative to an ordinary day


def black_friday(year: int) -> date:
    """The day after the fourth Thursday of November (US Thanksgiving)."""
    first = date(year, 11, 1)
    first_thursday = first + timedelta(days=(3 - first.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def _is_black_weekend(day: date) -> bool:
    """Black Friday to Cyber Monday, inclusive."""
    friday = black_friday(day.year)
    return friday <= day <= friday + timedelta(days=3)


def _holiday_multiplier(day: date, config: SimulationConfig) -> float:
    if _is_black_weekend(day):
        return config.black_friday_multiplier
    if day.month == 12:
        if 24 <= day.day <= 26:
            return _HOLIDAY_LULL
        if day.day <= 20:
            return 1.0 + (config.december_multiplier - 1.0) * (day.day - 1) / 19.0
        return config.december_multiplier
    return 1.0


def day_activity_multipliers(config: SimulationConfig) -> npt.NDArray[np.float64]:
    """Activity on each simulated day relative to an ordinary weekday, shape ``(days,)``.

    The product of the weekly rhythm (``weekend_multiplier`` on Saturday and Sunday), a
    yearly sine of amplitude ``seasonal_amplitude`` peaking in early December, and the
    holiday factors (Black Friday to Cyber Monday, the December ramp, the Christmas lull).
    """
    multipliers = np.empty(config.days, dtype=np.float64)
    for offset in range(config.days):
        day = config.start + timedelta(days=offset)
        weekly = config.weekend_multiplier if day.weekday() >= _SATURDAY else 1.0
        phase = 2.0 * math.pi * (day.timetuple().tm_yday - _PEAK_DAY_OF_YEAR) / _DAYS_PER_YEAR
        seasonal = 1.0 + config.seasonal_amplitude * math.cos(phase)
        multipliers[offset] = weekly * seasonal * _holiday_multiplier(day, config)
    return multipliers


def price_factor_on(day: date, config: SimulationConfig) -> float:
    """The share of the list price charged on ``day``: ``1 - black_friday_discount`` from
    Black Friday to Cyber Monday, 1 otherwise."""
    return 1.0 - config.black_friday_discount if _is_black_weekend(day) else 1.0


def day_price_factors(config: SimulationConfig) -> npt.NDArray[np.float64]:
    """:func:`price_factor_on` for each simulated day, shape ``(days,)``."""
    return np.array(
        [
            price_factor_on(config.start + timedelta(days=offset), config)
            for offset in range(config.days)
        ],
        dtype=np.float64,
    )


def hour_of_day_cumulative() -> npt.NDArray[np.float64]:
    """Cumulative distribution of session start hours, shape ``(24,)``, last value 1."""
    weights = np.asarray(HOURLY_SESSION_WEIGHTS, dtype=np.float64)
    cumulative: npt.NDArray[np.float64] = np.cumsum(weights) / weights.sum()
    return cumulative
