"""Planning an experiment: the analytic power of the two-sided tests of
:func:`~shopsense.experiments.stats.compare`, and the users per variant they need.

Normal approximations throughout (Chow, Shao, Wang & Lokhnygina 2017, "Sample Size
Calculations in Clinical Research", 3rd ed., CRC Press, sections 3.2 and 4.2). With
``z_q = Phi^-1(q)`` and ``Delta`` the true difference (treatment minus control):

- difference of means, per-user standard deviation ``sigma`` in both arms:
  ``SE = sigma sqrt(1/n_c + 1/n_t)`` and
  ``power = Phi(|Delta|/SE - z_{1-alpha/2}) + Phi(-|Delta|/SE - z_{1-alpha/2})``;
- two proportions ``p_c``, ``p_t`` with the pooled-variance z-test: under no difference
  the statistic's standard error is ``SE_0 = sqrt(p_bar (1 - p_bar)(1/n_c + 1/n_t))``
  (``p_bar`` the rate pooled over the arms), under the alternative
  ``SE_1 = sqrt(p_c (1 - p_c)/n_c + p_t (1 - p_t)/n_t)``, and
  ``power = Phi((|Delta| - z_{1-alpha/2} SE_0)/SE_1) + Phi((-|Delta| - z_{1-alpha/2} SE_0)/SE_1)``.

The sample sizes solve these for ``n`` users per variant (equal split), ignoring the far
tail, and round up: ``n = (z_{1-alpha/2} + z_power)^2 2 sigma^2 / Delta^2`` for means and
``n = (z_{1-alpha/2} sqrt(2 p_bar (1 - p_bar)) + z_power sqrt(p_c (1 - p_c) + p_t (1 - p_t)))^2
/ Delta^2`` for proportions.
"""

from __future__ import annotations

import math

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments._common import (
    DEFAULT_ALPHA,
    check_alpha,
    check_positive,
    normal_cdf,
    normal_quantile,
)

DEFAULT_POWER = 0.8
"""The power a sample size is planned for when none is given."""


def _check_rate(rate: float, name: str) -> float:
    if not (isinstance(rate, int | float) and 0.0 < rate < 1.0):
        raise ValidationFailedError(f"{name} must be a conversion rate strictly between 0 and 1")
    return float(rate)


def _check_users(n_users: int, name: str) -> int:
    if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
        raise ValidationFailedError(f"{name} must be a whole number of users, at least 1")
    return n_users


def _check_power(power: float) -> float:
    if not (isinstance(power, int | float) and 0.0 < power < 1.0):
        raise ValidationFailedError(
            f"power must be strictly between 0 and 1 (e.g. 0.8), not {power}"
        )
    return float(power)


def _two_sided_power(shift: float, null_scale: float, alternative_scale: float, z: float) -> float:
    """``P(|statistic| > z)`` when the difference over ``null_scale`` is the test statistic
    and the difference is ``N(shift, alternative_scale^2)``."""
    return normal_cdf((abs(shift) - z * null_scale) / alternative_scale) + normal_cdf(
        (-abs(shift) - z * null_scale) / alternative_scale
    )


def power_of_mean_test(
    difference: float,
    standard_deviation: float,
    n_control: int,
    n_treatment: int,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> float:
    """The probability that the two-sided test of a difference of means rejects at level
    ``alpha`` when the true difference is ``difference`` and each user's metric has
    standard deviation ``standard_deviation`` (normal approximation to Welch's test)."""
    alpha = check_alpha(alpha)
    sigma = check_positive(standard_deviation, "standard_deviation")
    n_c = _check_users(n_control, "n_control")
    n_t = _check_users(n_treatment, "n_treatment")
    if not math.isfinite(difference):
        raise ValidationFailedError("difference must be a finite number")
    standard_error = sigma * math.sqrt(1.0 / n_c + 1.0 / n_t)
    z = normal_quantile(1.0 - alpha / 2.0)
    return _two_sided_power(difference, standard_error, standard_error, z)


def power_of_proportion_test(
    control_rate: float,
    treatment_rate: float,
    n_control: int,
    n_treatment: int,
    *,
    alpha: float = DEFAULT_ALPHA,
) -> float:
    """The probability that the two-sided pooled two-proportion z-test rejects at level
    ``alpha`` when the true conversion rates are ``control_rate`` and ``treatment_rate``."""
    alpha = check_alpha(alpha)
    p_c = _check_rate(control_rate, "control_rate")
    p_t = _check_rate(treatment_rate, "treatment_rate")
    n_c = _check_users(n_control, "n_control")
    n_t = _check_users(n_treatment, "n_treatment")
    pooled_rate = (n_c * p_c + n_t * p_t) / (n_c + n_t)
    null_scale = math.sqrt(pooled_rate * (1.0 - pooled_rate) * (1.0 / n_c + 1.0 / n_t))
    alternative_scale = math.sqrt(p_c * (1.0 - p_c) / n_c + p_t * (1.0 - p_t) / n_t)
    z = normal_quantile(1.0 - alpha / 2.0)
    return _two_sided_power(p_t - p_c, null_scale, alternative_scale, z)


def sample_size_for_mean_test(
    difference: float,
    standard_deviation: float,
    *,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> int:
    """Users per variant (equal split) for the mean test to reach ``power`` against a true
    difference ``difference`` (the minimum detectable effect, in metric units)."""
    alpha = check_alpha(alpha)
    power = _check_power(power)
    sigma = check_positive(standard_deviation, "standard_deviation")
    if not (math.isfinite(difference) and difference != 0.0):
        raise ValidationFailedError("difference (the effect to detect) must be finite and not 0")
    z_sum = normal_quantile(1.0 - alpha / 2.0) + normal_quantile(power)
    # A power below alpha/2 would make z_sum negative: any single user then suffices.
    z_sum = max(0.0, z_sum)
    return max(1, math.ceil(z_sum**2 * 2.0 * sigma**2 / difference**2))


def sample_size_for_proportion_test(
    control_rate: float,
    treatment_rate: float,
    *,
    alpha: float = DEFAULT_ALPHA,
    power: float = DEFAULT_POWER,
) -> int:
    """Users per variant (equal split) for the pooled two-proportion z-test to reach
    ``power`` when the rates are ``control_rate`` and ``treatment_rate``."""
    alpha = check_alpha(alpha)
    power = _check_power(power)
    p_c = _check_rate(control_rate, "control_rate")
    p_t = _check_rate(treatment_rate, "treatment_rate")
    if p_c == p_t:
        raise ValidationFailedError("control_rate and treatment_rate must differ")
    pooled_rate = (p_c + p_t) / 2.0
    root_n_delta = normal_quantile(1.0 - alpha / 2.0) * math.sqrt(
        2.0 * pooled_rate * (1.0 - pooled_rate)
    ) + normal_quantile(power) * math.sqrt(p_c * (1.0 - p_c) + p_t * (1.0 - p_t))
    root_n_delta = max(0.0, root_n_delta)
    return max(1, math.ceil(root_n_delta**2 / (p_t - p_c) ** 2))
