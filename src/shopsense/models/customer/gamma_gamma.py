"""The Gamma-Gamma model of monetary value: Fader & Hardie (2013), "The Gamma-Gamma Model
of Monetary Value", and Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves
for Customer Base Analysis", Journal of Marketing Research 42(4).

A customer's transaction values are Gamma(p, nu) around their own mean ``p / nu``; across
customers ``nu`` ~ Gamma(q, gamma). The model reads, per customer, ``x`` (the number of
repeat transactions) and ``m_x`` (the average value of those ``x`` transactions), and
assumes spend is independent of the purchase process (check the correlation of ``x`` and
``m_x`` before relying on it). The density of ``m_x`` (Fader & Hardie 2013, eq. 4) is::

    f(m_x | p, q, gamma, x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
                              * gamma^q m_x^(p x - 1) x^(p x) / (gamma + m_x x)^(p x + q)

and the expected average spend of a customer given their history (eq. 5) is::

    E(M | p, q, gamma, m_x, x) = (gamma + m_x x) p / (p x + q - 1)
        = (q - 1) / (p x + q - 1) * p gamma / (q - 1) + p x / (p x + q - 1) * m_x

a weighted mean of the population mean ``p gamma / (q - 1)`` (finite only when q > 1) and
the customer's own average. ``m_x`` is the average of the *repeat* transactions: the
first purchase is left out, as in the papers and in lifetimes'
``summary_data_from_transaction_data``. That definition reproduces the published fit on
the CDNOW sample (p = 6.25, q = 3.74, gamma = 15.44 on the 946 customers with a repeat
purchase in weeks 1-39); averaging over all purchases, first included, does not
(p = 14.3, q = 3.95, gamma = 7.28). :func:`average_repeat_spend` computes it.

The three parameters are fitted by maximum likelihood (L-BFGS-B on their logarithms, so
they stay positive), like :class:`~shopsense.models.customer.bgnbd.BetaGeo`.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.special import gammaln

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.features.customers import SECONDS_PER_DAY
from shopsense.models.customer._likelihood import maximise_likelihood

FloatArray = npt.NDArray[np.float64]


def log_likelihood(
    params: npt.ArrayLike,
    frequency: FloatArray,
    monetary: FloatArray,
) -> FloatArray:
    """Each customer's log-likelihood of ``m_x`` under ``params = (p, q, gamma)``
    (Fader & Hardie 2013, eq. 4). Defined for ``x > 0`` and ``m_x > 0`` only."""
    p, q, gamma = (float(value) for value in np.asarray(params, dtype=np.float64))
    x, m = frequency, monetary
    px = p * x
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x),
        dtype=np.float64,
    )


def _as_pair(frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``frequency`` and ``monetary`` as checked, parallel float arrays."""
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary, dtype=np.float64)
    if x.ndim != 1 or m.ndim != 1:
        raise ValidationFailedError("frequency and monetary must be one-dimensional arrays")
    if len(x) != len(m):
        raise ValidationFailedError(
            f"frequency has {len(x)} customers but monetary has {len(m)}; "
            "pass one value of each per customer, in the same order"
        )
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m))):
        raise ValidationFailedError("frequency and monetary must be finite (no NaN or inf)")
    if np.any(x < 0):
        raise ValidationFailedError("frequency (repeat transactions) must be >= 0")
    if np.any(m < 0):
        raise ValidationFailedError(
            "monetary (average repeat spend) must be >= 0; net refunds out of the "
            "transaction values, or drop customers whose repeat spend is negative"
        )
    return x, m


class GammaGamma:
    """Gamma-Gamma spend model (see the module docstring). scikit-learn rules:
    ``__init__`` stores the settings, ``fit`` learns ``params_`` (p, q, gamma) and
    ``log_likelihood_``.

    Parameters
    ----------
    penalizer:
        L2 penalty on the parameters (0: the plain maximum likelihood of the paper).
    """

    params_: FloatArray | None = None
    log_likelihood_: float | None = None

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, frequency: npt.ArrayLike, monetary: npt.ArrayLike) -> Self:
        """Maximise the total log-likelihood (eq. 4) of the customers' average spend.

        ``frequency`` is each customer's number of repeat transactions ``x`` and
        ``monetary`` the average value ``m_x`` of those repeat transactions (see
        :func:`average_repeat_spend`). Customers with ``x == 0`` carry no information
        about spend in this model and are ignored, so a whole RFM summary can be passed.
        """
        if self.penalizer < 0:
            raise ValidationFailedError(f"penalizer must be >= 0, got {self.penalizer}")
        x, m = _as_pair(frequency, monetary)
        repeat = x > 0
        if not np.any(repeat):
            raise ValidationFailedError(
                "no customer has a repeat transaction (frequency > 0); Gamma-Gamma is "
                "fitted on repeat spend only, so use a longer calibration period"
            )
        x, m = x[repeat], m[repeat]
        if np.any(m <= 0):
            raise ValidationFailedError(
                f"{int(np.sum(m <= 0))} customers with repeat transactions have an average "
                "repeat spend of 0; Gamma-Gamma needs positive spend, so drop them "
                "(e.g. free orders) before fitting"
            )

        self.params_, self.log_likelihood_ = maximise_likelihood(
            lambda params: log_likelihood(params, x, m),
            np.ones(3),
            penalizer=self.penalizer,
            model="Gamma-Gamma",
        )
        return self

    def _params(self) -> tuple[float, float, float]:
        if self.params_ is None:
            raise NotFittedError(
                "GammaGamma is not fitted yet; call fit(frequency, monetary) first"
            )
        p, q, gamma = (float(value) for value in self.params_)
        return p, q, gamma

    def expected_average_spend(
        self, frequency: npt.ArrayLike, monetary: npt.ArrayLike
    ) -> FloatArray:
        """E(M | p, q, gamma, m_x, x) = (gamma + m_x x) p / (p x + q - 1) (eq. 5).

        For customers with ``x == 0`` this is the population mean ``p gamma / (q - 1)``
        whatever their ``monetary``; it needs ``q > 1`` (otherwise the mean is infinite
        and :class:`ValidationFailedError` is raised).
        """
        p, q, gamma = self._params()
        x, m = _as_pair(frequency, monetary)
        denominator = p * x + q - 1.0
        if np.any(denominator <= 0):
            raise ValidationFailedError(
                f"the fitted q = {q:.4g} is <= 1, so the population mean spend "
                "p * gamma / (q - 1) is infinite and customers with few repeat "
                "transactions have no expected spend; refit on more data or with a penalizer"
            )
        spend = (gamma + m * x) * p / denominator
        population = p * gamma / (q - 1.0)
        return np.asarray(np.where(x > 0, spend, population), dtype=np.float64)


def average_repeat_spend(
    customer_ids: npt.ArrayLike,
    timestamps: npt.ArrayLike,
    amounts: npt.ArrayLike,
    *,
    observation_end: int,
    customers: npt.ArrayLike,
) -> FloatArray:
    """Each of ``customers``' average repeat transaction value (``m_x``) before the end.

    Purchases at ``timestamps`` (Unix seconds) on or before the day of
    ``observation_end`` count, with the same rule as
    :func:`~shopsense.features.customers.rfm_summary`
    (``ts // 86400 <= observation_end // 86400``). The purchases of one customer on one
    day are one transaction whose value is the day's sum of ``amounts``; the first day is
    left out and the rest are averaged. The result is aligned with ``customers``
    (typically ``RFMSummary.customer_ids``), with 0 for a customer without any repeat
    transaction (``frequency == 0``) or absent from the purchases.
    """
    ids = np.asarray(customer_ids).astype(str)
    stamps = np.asarray(timestamps, dtype=np.int64)
    values = np.asarray(amounts, dtype=np.float64)
    wanted = np.asarray(customers).astype(str)
    if not (len(ids) == len(stamps) == len(values)):
        raise ValidationFailedError(
            f"customer_ids ({len(ids)}), timestamps ({len(stamps)}) and amounts "
            f"({len(values)}) must have one entry per purchase"
        )
    if not np.all(np.isfinite(values)):
        raise ValidationFailedError("amounts must be finite (no NaN or inf)")
    days = stamps // SECONDS_PER_DAY
    inside = days <= int(observation_end) // SECONDS_PER_DAY
    ids, days, values = ids[inside], days[inside], values[inside]
    order = np.lexsort((days, ids))
    ids, days, values = ids[order], days[order], values[order]
    # One transaction per customer and day, worth the day's total.
    starts = np.ones(len(days), dtype=bool)
    starts[1:] = (ids[1:] != ids[:-1]) | (days[1:] != days[:-1])
    day_starts = np.flatnonzero(starts)
    day_totals = np.add.reduceat(values, day_starts) if len(day_starts) else values[:0]
    day_ids = ids[day_starts]
    unique_ids, first, counts = np.unique(day_ids, return_index=True, return_counts=True)
    totals = np.add.reduceat(day_totals, first) if len(first) else day_totals[:0]
    repeats = counts - 1
    with np.errstate(divide="ignore", invalid="ignore"):  # repeats == 0 rows are replaced
        average = np.where(repeats > 0, (totals - day_totals[first]) / repeats, 0.0)
    result = np.zeros(len(wanted), dtype=np.float64)
    if len(unique_ids):
        position = np.minimum(np.searchsorted(unique_ids, wanted), len(unique_ids) - 1)
        found = unique_ids[position] == wanted
        result[found] = average[position[found]]
    return result


__all__ = ["GammaGamma", "average_repeat_spend", "log_likelihood"]
