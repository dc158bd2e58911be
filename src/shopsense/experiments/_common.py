"""Pieces every part of the statistics engine shares: the array type, scalar wrappers
around scipy's distribution functions (the ``scipy.special`` ufuncs, which cost a
microsecond where ``scipy.stats`` objects cost tens), and the checks of common
arguments."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import special

from shopsense.core.errors import ValidationFailedError

FloatArray = npt.NDArray[np.float64]

DEFAULT_ALPHA = 0.05
"""The significance level when none is given: two-sided tests at 5%, 95% intervals."""


def normal_cdf(x: float) -> float:
    """``Phi(x)``, the standard normal distribution function."""
    return float(special.ndtr(x))


def normal_pdf(x: float) -> float:
    """``phi(x)``, the standard normal density."""
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def normal_quantile(probability: float) -> float:
    """``Phi^-1(probability)``."""
    return float(special.ndtri(probability))


def student_t_cdf(x: float, degrees_of_freedom: float) -> float:
    """The distribution function of Student's t (``degrees_of_freedom`` may be fractional,
    as Welch-Satterthwaite's are)."""
    return float(special.stdtr(degrees_of_freedom, x))


def student_t_quantile(probability: float, degrees_of_freedom: float) -> float:
    """The inverse of :func:`student_t_cdf`."""
    return float(special.stdtrit(degrees_of_freedom, probability))


def chi_square_survival(x: float, degrees_of_freedom: int) -> float:
    """``P(X > x)`` for ``X ~ chi-square(degrees_of_freedom)``."""
    return float(special.chdtrc(degrees_of_freedom, x))


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float strictly between 0 and 1, or a :class:`ValidationFailedError`."""
    if not (isinstance(alpha, int | float) and math.isfinite(alpha) and 0.0 < alpha < 1.0):
        raise ValidationFailedError(
            f"alpha must be a number strictly between 0 and 1 (e.g. 0.05), got {alpha!r}"
        )
    return float(alpha)


def check_positive(value: float, name: str) -> float:
    """``value`` as a finite float greater than zero, or a :class:`ValidationFailedError`."""
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0.0):
        raise ValidationFailedError(f"{name} must be a finite number above 0, got {value!r}")
    return float(value)
