"""Always-valid inference: the mixture sequential probability ratio test (mSPRT) for a
difference of means, its p-value and its confidence sequence, safe under continuous
peeking.

Johari, Koomen, Pekelis & Walsh (2022), "Always Valid Inference: Continuous Monitoring
of A/B Tests", Operations Research 70(3):1806-1821 (arXiv 1512.04922, 2017), the method
behind Optimizely's Stats Engine. With ``d`` the estimated difference (treatment minus
control), ``V = s_c^2 / n_c + s_t^2 / n_t`` its variance and a normal mixing distribution
``N(0, tau^2)`` over the true difference, the mixture likelihood ratio against
"no difference" is (their two-stream normal case, written with ``V``)::

    Lambda = sqrt(V / (V + tau^2)) * exp(tau^2 d^2 / (2 V (V + tau^2)))

The always-valid p-value after look ``k`` is ``p_k = min(p_{k-1}, 1 / Lambda_k)`` (the
running minimum, :class:`SequentialMonitor`); under no difference ``P(exists k:
p_k <= alpha) <= alpha`` however often one looks (Ville's inequality on the mixture
martingale). Inverting ``Lambda < 1 / alpha`` in ``d`` gives the confidence sequence::

    d +/- sqrt(V (V + tau^2) / tau^2 * (2 log(1 / alpha) + log((V + tau^2) / V)))

whose running intersection covers the true difference at every look at once with
probability at least ``1 - alpha``. The variances are plug-in estimates, so the
guarantee is asymptotic (as for every test here); the tests measure it in simulation.

Choosing ``tau^2``: the mixing distribution is a guess at the size of true effects.
On the z scale the rejection boundary is ``z^2 = (1 + V/tau^2)(2 log(1/alpha) +
log(1 + tau^2/V))``, tightest (|z| = 3.04 at alpha 0.05) where ``tau^2 / V`` is about 8
and within 10% of that for ``tau^2 / V`` between 1.7 and 160. The default
``tau = 0.05 sigma`` (``sigma^2`` the per-user variance pooled over both arms: an effect
of a twentieth of a standard deviation, typical of shop tests) puts that window at about
1,400 to 126,000 users per arm with an equal split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import overload

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments._common import DEFAULT_ALPHA, FloatArray, check_alpha

DEFAULT_SEQUENTIAL_EFFECT_SIZE = 0.05
"""The default mixing standard deviation ``tau`` in units of the per-user standard
deviation: ``tau^2 = (0.05 sigma)^2`` (see the module docstring for why)."""


@overload
def default_tau_squared(per_user_variance: float) -> float: ...
@overload
def default_tau_squared(per_user_variance: FloatArray) -> FloatArray: ...
def default_tau_squared(per_user_variance: float | FloatArray) -> float | FloatArray:
    """The default mixing variance ``tau^2 = (DEFAULT_SEQUENTIAL_EFFECT_SIZE * sigma)^2``
    for a metric whose per-user variance (pooled over the arms) is ``sigma^2``
    (elementwise for an array)."""
    return DEFAULT_SEQUENTIAL_EFFECT_SIZE**2 * per_user_variance


def _as_arrays(
    difference: npt.ArrayLike, variance: npt.ArrayLike, tau_squared: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The three inputs, broadcast to one shape and checked."""
    d, v, tau2 = np.broadcast_arrays(
        np.asarray(difference, dtype=np.float64),
        np.asarray(variance, dtype=np.float64),
        np.asarray(tau_squared, dtype=np.float64),
    )
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(v)) and np.all(np.isfinite(tau2))):
        raise ValidationFailedError("difference, variance and tau_squared must be finite")
    if np.any(v < 0.0):
        raise ValidationFailedError("the variance of the difference cannot be negative")
    if np.any(tau2 <= 0.0):
        raise ValidationFailedError(
            "tau_squared (the mixing variance) must be above 0; leave it unset for the default"
        )
    return d, v, tau2


def always_valid_p_value(
    difference: npt.ArrayLike, variance: npt.ArrayLike, tau_squared: npt.ArrayLike
) -> FloatArray:
    """``min(1, 1 / Lambda)`` of the mSPRT at one look, elementwise (arrays broadcast).

    This is the p-value of a single look; the always-valid p-value of a monitored test is
    its running minimum over looks (``np.minimum.accumulate`` along the looks, or
    :class:`SequentialMonitor`). A zero ``variance`` means the difference is known
    exactly: the p-value is then 1 when it is 0, else 0.
    """
    d, v, tau2 = _as_arrays(difference, variance, tau_squared)
    exact = v == 0.0
    safe_v = np.where(exact, 1.0, v)
    log_likelihood_ratio = 0.5 * np.log(safe_v / (safe_v + tau2)) + tau2 * d**2 / (
        2.0 * safe_v * (safe_v + tau2)
    )
    p_value = np.exp(np.minimum(0.0, -log_likelihood_ratio))
    result: FloatArray = np.where(exact, np.where(d == 0.0, 1.0, 0.0), p_value)
    return result


def confidence_sequence(
    difference: npt.ArrayLike,
    variance: npt.ArrayLike,
    tau_squared: npt.ArrayLike,
    alpha: float = DEFAULT_ALPHA,
) -> tuple[FloatArray, FloatArray]:
    """The ``(lower, upper)`` bounds of the mSPRT's ``1 - alpha`` confidence sequence at
    one look, elementwise: ``d +/- sqrt(V (V + tau^2) / tau^2 (2 log(1/alpha) +
    log((V + tau^2) / V)))``. Intersect over looks for the monitored interval."""
    alpha = check_alpha(alpha)
    d, v, tau2 = _as_arrays(difference, variance, tau_squared)
    exact = v == 0.0
    safe_v = np.where(exact, 1.0, v)
    half_width = np.sqrt(
        safe_v * (safe_v + tau2) / tau2 * (2.0 * math.log(1.0 / alpha) + np.log1p(tau2 / safe_v))
    )
    half_width = np.where(exact, 0.0, half_width)
    lower: FloatArray = d - half_width
    upper: FloatArray = d + half_width
    return lower, upper


@dataclass(frozen=True)
class SequentialResult:
    """The mSPRT at one look (or, from :class:`SequentialMonitor`, over all looks so far).

    ``p_value``: always-valid p-value; ``lower``/``upper``: the ``1 - alpha`` confidence
    sequence for the absolute difference; ``tau_squared``: the mixing variance used.
    """

    p_value: float
    lower: float
    upper: float
    tau_squared: float


def sequential_test(
    difference: float,
    variance: float,
    tau_squared: float,
    alpha: float = DEFAULT_ALPHA,
) -> SequentialResult:
    """The mSPRT p-value and confidence sequence of one look as a :class:`SequentialResult`."""
    p_value = always_valid_p_value(difference, variance, tau_squared)
    lower, upper = confidence_sequence(difference, variance, tau_squared, alpha)
    return SequentialResult(
        p_value=float(p_value),
        lower=float(lower),
        upper=float(upper),
        tau_squared=float(tau_squared),
    )


class SequentialMonitor:
    """Keeps the always-valid state of one metric of one experiment across looks.

    Feed it each look's :class:`SequentialResult` (``Comparison.sequential``) in time
    order; it returns the running minimum of the p-value and the running intersection of
    the confidence sequences (Johari et al. 2022). Stopping at the first look
    whose running p-value is below alpha keeps the false-positive rate at most alpha.

    An empty intersection can only happen when the true difference moves over time (or,
    with probability below alpha, by chance); the monitor then reports the latest look's
    interval rather than an impossible one.
    """

    def __init__(self) -> None:
        self._latest: SequentialResult | None = None
        self.n_looks = 0

    def observe(self, look: SequentialResult) -> SequentialResult:
        """Add one look; return the always-valid result over all looks so far."""
        previous = self._latest
        self.n_looks += 1
        if previous is None:
            self._latest = look
            return look
        lower = max(previous.lower, look.lower)
        upper = min(previous.upper, look.upper)
        if lower > upper:
            lower, upper = look.lower, look.upper
        self._latest = SequentialResult(
            p_value=min(previous.p_value, look.p_value),
            lower=lower,
            upper=upper,
            tau_squared=look.tau_squared,
        )
        return self._latest

    @property
    def current(self) -> SequentialResult | None:
        """The always-valid result over all looks so far; None before the first look."""
        return self._latest
