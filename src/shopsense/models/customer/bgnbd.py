"""The BG/NBD purchase model: Fader, Hardie & Lee (2005), "'Counting Your Customers' the
Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2).

While alive, a customer buys as a Poisson process with rate ``lambda`` ~ Gamma(r,
alpha); after each purchase they drop out with probability ``p`` ~ Beta(a, b). The
likelihood of a customer's ``(x, t_x, T)`` (frequency, recency, age) is the paper's
eq. 6, written here in logs::

    L = B(a, b + x) / B(a, b) * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
      + [x > 0] B(a + 1, b + x - 1) / B(a, b)
                * Gamma(r + x) alpha^r / (Gamma(r) (alpha + t_x)^(r + x))

The four parameters are fitted by maximum likelihood (L-BFGS on their logarithms, so they
stay positive). The likelihood is written with scipy rather than taken from a library:
pymc-marketing's CLV module brings PyMC and a compiler toolchain into the default install
for a four-parameter fit that scipy does in well under a second.
"""

from __future__ import annotations

from typing import Self

import numpy as np
import numpy.typing as npt
from scipy.special import betaln, gammaln, hyp2f1

from shopsense.core.errors import NotFittedError, ValidationFailedError
from shopsense.features.customers import RFMSummary
from shopsense.models.customer._likelihood import maximise_likelihood

FloatArray = npt.NDArray[np.float64]


def log_likelihood(
    params: npt.ArrayLike,
    frequency: FloatArray,
    recency: FloatArray,
    T: FloatArray,  # noqa: N803
) -> FloatArray:
    """Each customer's log-likelihood under ``params = (r, alpha, a, b)`` (eq. 6)."""
    r, alpha, a, b = (float(value) for value in np.asarray(params, dtype=np.float64))
    x = frequency
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = betaln(a, b + x) - betaln(a, b) + common - (r + x) * np.log(alpha + T)
    dropped = np.full(len(x), -np.inf)
    repeat = x > 0
    dropped[repeat] = (
        betaln(a + 1, b + x[repeat] - 1)
        - betaln(a, b)
        + common[repeat]
        - (r + x[repeat]) * np.log(alpha + recency[repeat])
    )
    return np.asarray(np.logaddexp(alive, dropped), dtype=np.float64)


class BetaGeo:
    """BG/NBD (see the module docstring). scikit-learn rules: ``__init__`` stores the
    settings, ``fit`` learns ``params_`` (r, alpha, a, b) and ``log_likelihood_``.

    Parameters
    ----------
    penalizer:
        L2 penalty on the parameters (0: the plain maximum likelihood of the paper).
    """

    params_: FloatArray | None = None
    log_likelihood_: float | None = None

    def __init__(self, *, penalizer: float = 0.0) -> None:
        self.penalizer = penalizer

    def fit(self, summary: RFMSummary) -> Self:
        """Maximise the total log-likelihood of the customers in ``summary``."""
        if len(summary) == 0:
            raise ValidationFailedError("no customers to fit BG/NBD on")
        if np.any(summary.recency > summary.T) or np.any(summary.frequency < 0):
            raise ValidationFailedError("recency must not exceed T, frequency must be >= 0")
        x, t_x, age = summary.frequency, summary.recency, summary.T

        start = np.array([1.0, max(float(np.mean(age)), 1.0), 1.0, 1.0])
        self.params_, self.log_likelihood_ = maximise_likelihood(
            lambda params: log_likelihood(params, x, t_x, age),
            start,
            penalizer=self.penalizer,
            model="BG/NBD",
        )
        return self

    def _params(self) -> tuple[float, float, float, float]:
        if self.params_ is None:
            raise NotFittedError("BetaGeo is not fitted yet; call fit(summary) first")
        r, alpha, a, b = (float(value) for value in self.params_)
        return r, alpha, a, b

    def probability_alive(self, summary: RFMSummary) -> FloatArray:
        """P(alive | x, t_x, T) (the paper's eq. 11 with the footnote's x = 0 case)."""
        r, alpha, a, b = self._params()
        x, t_x, age = summary.frequency, summary.recency, summary.T
        with np.errstate(divide="ignore", invalid="ignore"):  # x = 0 rows are replaced
            odds = (a / (b + x - 1.0)) * ((alpha + age) / (alpha + t_x)) ** (r + x)
        return np.asarray(np.where(x > 0, 1.0 / (1.0 + odds), 1.0), dtype=np.float64)

    def expected_purchases(self, t: float, summary: RFMSummary) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected transactions in the next ``t`` units (eq. 10)."""
        r, alpha, a, b = self._params()
        x, t_x, age = summary.frequency, summary.recency, summary.T
        z = t / (alpha + age + t)
        growth = 1.0 - ((alpha + age) / (alpha + age + t)) ** (r + x) * hyp2f1(
            r + x, b + x, a + b + x - 1.0, z
        )
        numerator = (a + b + x - 1.0) / (a - 1.0) * growth
        with np.errstate(divide="ignore", invalid="ignore"):  # x = 0 rows are replaced
            odds = (a / (b + x - 1.0)) * ((alpha + age) / (alpha + t_x)) ** (r + x)
        denominator = 1.0 + np.where(x > 0, odds, 0.0)
        return np.asarray(numerator / denominator, dtype=np.float64)

    def probability_of_purchase(self, t: float, summary: RFMSummary) -> FloatArray:
        """P(at least one purchase in the next ``t`` units | x, t_x, T).

        Dropout happens only right after a purchase, so a customer alive at ``T`` stays
        alive until their next purchase; given alive, their rate has the posterior
        Gamma(r + x, alpha + T) (the alive term of eq. 6), whose Laplace transform gives
        P(no purchase in t | alive) = ((alpha + T) / (alpha + T + t))^(r + x)."""
        r, alpha, _, _ = self._params()
        x, age = summary.frequency, summary.T
        silent = ((alpha + age) / (alpha + age + t)) ** (r + x)
        return np.asarray(self.probability_alive(summary) * (1.0 - silent), dtype=np.float64)

    def median_time_to_purchase(self, summary: RFMSummary) -> FloatArray:
        """The median time, in units from ``T``, to the next purchase of a customer who
        is still alive: P(no purchase in t | alive) = ((alpha + T) / (alpha + T + t))^(r + x)
        (see :meth:`probability_of_purchase`) equals 1/2 at
        t = (alpha + T) (2^(1 / (r + x)) - 1). The median, not the mean: with little
        history the posterior of the rate puts mass near zero and the mean waiting time
        is huge or infinite, while the median stays a usable date."""
        r, alpha, _, _ = self._params()
        shape = r + summary.frequency
        return np.asarray((alpha + summary.T) * (2.0 ** (1.0 / shape) - 1.0), dtype=np.float64)


__all__ = ["BetaGeo", "log_likelihood"]
