"""Customer lifetime value from a purchase model (BG/NBD) and a spend model (Gamma-Gamma):
Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis", Journal of Marketing Research 42(4).

The value of a customer over a horizon of ``H`` days is the expected number of purchases
in each step of the horizon times the expected value of a purchase, discounted to today::

    CLV = sum_i (E[Y(t_i)] - E[Y(t_{i-1})]) * E(M) / (1 + d)^(t_i / 365)

with ``t_0 = 0``, ``t_i = min(i * step, H)`` (so the last step may be partial and ``H``
need not be a multiple of the step), ``E[Y(t)]`` the BG/NBD conditional expectation
(Fader, Hardie & Lee 2005, "Counting Your Customers", eq. 10) and ``E(M)`` the
Gamma-Gamma conditional expectation of the average spend (Fader & Hardie 2013, eq. 5).

``d`` is an *annual* discount rate applied to the day count ``t_i / 365``: a purchase
expected 73 days out at d = 0.10 is worth ``1 / 1.1^0.2`` of its value. lifetimes'
``customer_lifetime_value`` takes a *monthly* rate instead, compounded once per 30-day
step (``1 / (1 + d_m)^i`` for month ``i``); the two agree when
``d_m = (1 + d)^(30 / 365) - 1`` (lifetimes' default d_m = 0.01 is about 12.9 % a year).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ValidationFailedError
from shopsense.features.customers import RFMSummary
from shopsense.models.customer.bgnbd import BetaGeo
from shopsense.models.customer.gamma_gamma import GammaGamma

FloatArray = npt.NDArray[np.float64]

DAYS_PER_YEAR = 365.0


def _check(summary: RFMSummary, average_spend: FloatArray, **positive: float) -> None:
    """Raise :class:`ValidationFailedError` unless the arguments fit together."""
    if len(np.asarray(average_spend)) != len(summary):
        raise ValidationFailedError(
            f"average_spend has {len(np.asarray(average_spend))} values but the summary has "
            f"{len(summary)} customers; align it with summary.customer_ids "
            "(see gamma_gamma.average_repeat_spend)"
        )
    for name, value in positive.items():
        if not (math.isfinite(value) and value > 0):
            raise ValidationFailedError(f"{name} must be a finite number > 0, got {value}")


def expected_spend(
    transactions: BetaGeo,
    spend: GammaGamma,
    summary: RFMSummary,
    average_spend: FloatArray,
    *,
    horizon_days: float,
    unit_days: float = 7.0,
) -> FloatArray:
    """Undiscounted expected spend in the next ``horizon_days``: E[Y(H)] * E(M).

    ``summary`` must be in units of ``unit_days`` (the unit ``transactions`` was fitted
    in) and ``average_spend`` its customers' average repeat spend ``m_x``, aligned with
    ``summary.customer_ids``. This is what to compare with the spend actually observed in
    a holdout period of the same length.
    """
    _check(summary, average_spend, horizon_days=horizon_days, unit_days=unit_days)
    purchases = transactions.expected_purchases(horizon_days / unit_days, summary)
    value = spend.expected_average_spend(summary.frequency, average_spend)
    return np.asarray(purchases * value, dtype=np.float64)


def customer_lifetime_value(
    transactions: BetaGeo,
    spend: GammaGamma,
    summary: RFMSummary,
    average_spend: FloatArray,
    *,
    horizon_days: float,
    discount_rate: float = 0.1,
    unit_days: float = 7.0,
    step_days: float = 30.0,
) -> FloatArray:
    """Expected discounted value of each customer's purchases in the next ``horizon_days``
    (the module docstring's sum, with an *annual* ``discount_rate``).

    ``summary`` must be in units of ``unit_days`` (the unit ``transactions`` was fitted
    in) and ``average_spend`` its customers' average repeat spend ``m_x``, aligned with
    ``summary.customer_ids``. Customers without a repeat purchase get the population mean
    spend. With ``discount_rate = 0`` the result equals :func:`expected_spend`.
    """
    _check(
        summary,
        average_spend,
        horizon_days=horizon_days,
        unit_days=unit_days,
        step_days=step_days,
    )
    if not (math.isfinite(discount_rate) and discount_rate >= 0):
        raise ValidationFailedError(
            f"discount_rate is an annual rate and must be >= 0, got {discount_rate}"
        )
    value = spend.expected_average_spend(summary.frequency, average_spend)
    steps = max(math.ceil(horizon_days / step_days - 1e-9), 1)
    ends = np.minimum(np.arange(1, steps + 1) * step_days, horizon_days)
    total = np.zeros(len(summary), dtype=np.float64)
    previous = np.zeros(len(summary), dtype=np.float64)
    for end in ends:
        cumulative = transactions.expected_purchases(float(end) / unit_days, summary)
        discount = (1.0 + discount_rate) ** (float(end) / DAYS_PER_YEAR)
        total += (cumulative - previous) * value / discount
        previous = cumulative
    return total


__all__ = ["customer_lifetime_value", "expected_spend"]
