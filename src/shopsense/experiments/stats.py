"""The A/B experiment statistics engine: per-user metric values in, a comparison of two
variants out (frequentist, Bayesian and always-valid sequential), plus the checks around
it (sample ratio mismatch, multiple comparisons, power).

A metric is one of three kinds (``MetricKind``):

- ``"mean"``: any per-user value (revenue, orders, minutes); compared with Welch's
  t-test (Welch 1947, Biometrika 34(1-2):28-35), degrees of freedom by
  Welch-Satterthwaite: ``df = (v_c + v_t)^2 / (v_c^2/(n_c - 1) + v_t^2/(n_t - 1))`` with
  ``v = s^2 / n``;
- ``"proportion"``: one 0/1 value per user (converted or not); compared with the
  two-proportion z-test, pooled standard error under the null for the test,
  ``z = (p_t - p_c) / sqrt(p_bar (1 - p_bar)(1/n_c + 1/n_t))``, unpooled
  ``sqrt(p_c(1 - p_c)/n_c + p_t(1 - p_t)/n_t)`` for the interval;
- ``"ratio"``: a ratio of per-user sums (CTR = clicks / impressions, revenue per order),
  ``R = sum(Y) / sum(X)``. Users, not impressions, are the randomised unit, so the
  numerator and denominator are correlated within a user and the binomial formula is
  wrong; the delta method gives ``Var(R) = Var(Y - R X) / (n X_bar^2)`` (Deng, Knoblich &
  Lu 2018, "Applying the Delta Method in Metric Analytics: A Practical Guide with Novel
  Ideas", KDD 2018, the ratio-metric example; Kohavi, Tang & Xu 2020, "Trustworthy Online
  Controlled Experiments", Cambridge University Press, ch. 18). Compared with a z-test on
  that standard error.

For every kind :func:`compare` reports the absolute lift ``d = m_t - m_c`` with a
``1 - alpha`` interval and the relative lift ``r = m_t / m_c - 1`` with the delta-method
standard error ``SE_r^2 = SE_t^2 / m_c^2 + m_t^2 SE_c^2 / m_c^4`` (the arms are
independent; Kohavi et al. 2020 ch. 18, Deng et al. 2018 on percent change), and:

- a Bayesian read-out under the normal approximation ``D ~ N(d, SE^2)`` to the posterior
  of the difference (flat prior, or a normal prior on the difference): the chance to
  win ``P(D > 0) = Phi(mu / s)`` and the expected loss of shipping each arm,
  ``E[max(-D, 0)] = s phi(mu / s) - mu Phi(-mu / s)`` for the treatment and
  ``E[max(D, 0)] = s phi(mu / s) + mu Phi(mu / s)`` for the control (Stucchio 2015,
  "Bayesian A/B Testing at VWO", VWO technical report). GrowthBook's engine uses the
  same normal approximation, on the relative lift by default ("Statistical Details",
  docs.growthbook.io/statistics/details); here it is on the absolute difference, so the
  losses are in metric units per user;
- the always-valid mSPRT p-value and confidence sequence (:mod:`._sequential`, Johari
  et al. 2022), safe to look at after every batch of users;
- CUPED (Deng, Xu, Kohavi & Walker 2013, "Improving the Sensitivity of Online Controlled
  Experiments by Utilizing Pre-Experiment Data", WSDM, section 3): with a pre-period
  covariate ``X`` per user (usually the same metric before the test),
  ``theta = cov(Y, X) / var(X)`` on both arms pooled and
  ``Y_cuped = Y - theta (X - mean(X))``; the means keep their expectation and the
  variance shrinks by the share ``rho^2`` that ``X`` explains. The adjusted values are
  compared with Welch's test (for a proportion they are no longer 0/1). Not applied to
  ratio metrics (that needs a regression adjustment of the delta method's linearised
  values; not implemented), whose covariates are ignored.

Degenerate but legal input gives finite numbers or ``None``, never NaN: a variant with one
user has no sample variance, so everything that needs a standard error is ``None``; when
both arms have zero variance the difference is known exactly (p-value 1 when it is 0,
else 0; intervals of zero width); the relative lift is ``None`` unless the control mean is
positive. Results are frozen dataclasses of plain floats: ``dataclasses.asdict`` gives
JSON-ready dictionaries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments._common import (
    DEFAULT_ALPHA,
    FloatArray,
    check_alpha,
    check_positive,
    chi_square_survival,
    normal_cdf,
    normal_pdf,
    normal_quantile,
    student_t_cdf,
    student_t_quantile,
)
from shopsense.experiments._multiple_testing import AdjustmentMethod, adjust_p_values
from shopsense.experiments._planning import (
    DEFAULT_POWER,
    power_of_mean_test,
    power_of_proportion_test,
    sample_size_for_mean_test,
    sample_size_for_proportion_test,
)
from shopsense.experiments._sequential import (
    DEFAULT_SEQUENTIAL_EFFECT_SIZE,
    SequentialMonitor,
    SequentialResult,
    always_valid_p_value,
    confidence_sequence,
    default_tau_squared,
    sequential_test,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_POWER",
    "DEFAULT_SEQUENTIAL_EFFECT_SIZE",
    "SAMPLE_RATIO_MISMATCH_THRESHOLD",
    "AdjustmentMethod",
    "BayesianResult",
    "Comparison",
    "CupedAdjustment",
    "LiftEstimate",
    "MetricKind",
    "SampleRatioCheck",
    "SequentialMonitor",
    "SequentialResult",
    "TestName",
    "VariantSample",
    "VariantSummary",
    "adjust_p_values",
    "always_valid_p_value",
    "compare",
    "confidence_sequence",
    "default_tau_squared",
    "power_of_mean_test",
    "power_of_proportion_test",
    "sample_ratio_mismatch",
    "sample_size_for_mean_test",
    "sample_size_for_proportion_test",
    "sequential_test",
    "summarise",
]

MetricKind = Literal["mean", "proportion", "ratio"]
TestName = Literal["welch_t", "two_proportion_z", "delta_method_z"]

METRIC_KINDS: tuple[MetricKind, ...] = ("mean", "proportion", "ratio")

SAMPLE_RATIO_MISMATCH_THRESHOLD = 0.001
"""The p-value below which a sample ratio mismatch is flagged (Fabijan et al. 2019): strict,
because the check runs on every experiment and a false alarm stops a healthy one."""

_TEST_OF_KIND: dict[MetricKind, TestName] = {
    "mean": "welch_t",
    "proportion": "two_proportion_z",
    "ratio": "delta_method_z",
}


# --- input ---


def _user_array(values: npt.ArrayLike, what: str) -> FloatArray:
    """``values`` as a checked, read-only, one-dimensional float64 copy, one entry per
    user (a copy, so that a caller's later edits cannot change a sample)."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValidationFailedError(f"{what} must be numbers, one per user") from error
    if array.ndim != 1:
        raise ValidationFailedError(
            f"{what} must be one-dimensional (one value per user), got shape {array.shape}"
        )
    if array.size == 0:
        raise ValidationFailedError(f"{what} is empty; a variant needs at least one exposed user")
    if not np.all(np.isfinite(array)):
        raise ValidationFailedError(
            f"{what} contains NaN or infinite values; fill missing users with 0 or drop them"
        )
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False, init=False)
class VariantSample:
    """One variant's exposed users and their metric.

    ``values``: ``(n_users,)``, the metric per user (for a ratio metric the numerator,
    e.g. clicks); ``denominators``: ``(n_users,)`` for a ratio metric only (e.g.
    impressions; each >= 0, their sum > 0); ``covariate``: ``(n_users,)``, the same
    metric per user before the experiment, for CUPED (0 for users not seen before).
    The arrays are copied to read-only float64 and checked on construction; invalid input
    raises :class:`~shopsense.core.errors.ValidationFailedError`.
    """

    name: str
    values: FloatArray
    denominators: FloatArray | None
    covariate: FloatArray | None

    def __init__(
        self,
        name: str,
        values: npt.ArrayLike,
        *,
        denominators: npt.ArrayLike | None = None,
        covariate: npt.ArrayLike | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValidationFailedError("a variant needs a non-empty name")
        checked_values = _user_array(values, f"variant {name!r}: values")
        checked_denominators = None
        if denominators is not None:
            checked_denominators = _user_array(denominators, f"variant {name!r}: denominators")
            if checked_denominators.size != checked_values.size:
                raise ValidationFailedError(
                    f"variant {name!r} has {checked_values.size} values but "
                    f"{checked_denominators.size} denominators; pass one of each per user, "
                    "in the same order"
                )
            if np.any(checked_denominators < 0.0):
                raise ValidationFailedError(f"variant {name!r}: denominators cannot be negative")
            if not checked_denominators.sum() > 0.0:
                raise ValidationFailedError(
                    f"variant {name!r}: the denominators sum to 0, so the ratio is undefined "
                    "(no impressions at all?)"
                )
        checked_covariate = None
        if covariate is not None:
            checked_covariate = _user_array(covariate, f"variant {name!r}: covariate")
            if checked_covariate.size != checked_values.size:
                raise ValidationFailedError(
                    f"variant {name!r} has {checked_values.size} values but "
                    f"{checked_covariate.size} covariate values; pass one pre-period value "
                    "per user (0 if unseen)"
                )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "values", checked_values)
        object.__setattr__(self, "denominators", checked_denominators)
        object.__setattr__(self, "covariate", checked_covariate)

    @property
    def n_users(self) -> int:
        """Exposed users in the variant."""
        return int(self.values.size)


def _check_kind(sample: VariantSample, kind: str) -> MetricKind:
    """``kind`` after checking that ``sample`` can be analysed as that kind of metric."""
    if kind not in METRIC_KINDS:
        raise ValidationFailedError(f"unknown metric kind {kind!r}; use one of {METRIC_KINDS}")
    if kind == "ratio" and sample.denominators is None:
        raise ValidationFailedError(
            f"variant {sample.name!r} has no denominators; a ratio metric needs one per user "
            "(e.g. impressions for CTR)"
        )
    if kind != "ratio" and sample.denominators is not None:
        raise ValidationFailedError(
            f"variant {sample.name!r} has denominators; analyse it with kind='ratio'"
        )
    if kind == "proportion" and not np.all((sample.values == 0.0) | (sample.values == 1.0)):
        raise ValidationFailedError(
            f"variant {sample.name!r}: a proportion metric needs 0/1 values (converted or "
            "not); use kind='mean' for counts or amounts"
        )
    return kind


# --- per-variant estimates ---


def _mean(values: FloatArray) -> float:
    """The mean; a constant array's mean is that constant exactly (pairwise summation can
    miss it by an ulp, which would turn "no difference" into a tiny spurious one)."""
    first = float(values[0])
    if np.all(values == first):
        return first
    return float(np.mean(values))


def _sample_variance(values: FloatArray) -> float | None:
    """The unbiased sample variance; None for a single user, exactly 0 for a constant."""
    if values.size < 2:
        return None
    if np.all(values == values[0]):
        return 0.0
    return float(np.var(values, ddof=1))


@dataclass(frozen=True)
class _ArmEstimate:
    """An arm's point estimate and the variance of one user's contribution to it."""

    n_users: int
    mean: float
    per_user_variance: float | None

    @property
    def variance_of_mean(self) -> float | None:
        if self.per_user_variance is None:
            return None
        return self.per_user_variance / self.n_users


def _estimate(
    values: FloatArray, denominators: FloatArray | None, kind: MetricKind
) -> _ArmEstimate:
    n_users = int(values.size)
    if kind == "proportion":
        rate = _mean(values)
        return _ArmEstimate(n_users, rate, rate * (1.0 - rate))
    if kind == "ratio" and denominators is not None:
        ratio = float(values.sum() / denominators.sum())
        mean_denominator = float(denominators.sum()) / n_users
        # The delta method's linearisation (Deng et al. 2018): R's variance is that
        # of the mean of these per-user residuals.
        residuals = (values - ratio * denominators) / mean_denominator
        return _ArmEstimate(n_users, ratio, _sample_variance(residuals))
    return _ArmEstimate(n_users, _mean(values), _sample_variance(values))


@dataclass(frozen=True)
class VariantSummary:
    """One variant's metric: ``mean`` (for a ratio ``sum(values) / sum(denominators)``,
    for a proportion the conversion rate), the per-user ``standard_deviation`` (for a
    ratio the delta method's, ``sqrt(n) * standard_error``) and the ``standard_error`` of
    the mean; both None for a single user of a mean or ratio metric."""

    name: str
    kind: MetricKind
    n_users: int
    mean: float
    standard_deviation: float | None
    standard_error: float | None


def _summary(name: str, kind: MetricKind, estimate: _ArmEstimate) -> VariantSummary:
    variance_of_mean = estimate.variance_of_mean
    return VariantSummary(
        name=name,
        kind=kind,
        n_users=estimate.n_users,
        mean=estimate.mean,
        standard_deviation=(
            None if estimate.per_user_variance is None else math.sqrt(estimate.per_user_variance)
        ),
        standard_error=None if variance_of_mean is None else math.sqrt(variance_of_mean),
    )


def summarise(sample: VariantSample, kind: MetricKind | None = None) -> VariantSummary:
    """Users, mean, standard deviation and standard error of one variant's metric.

    ``kind`` defaults to ``"ratio"`` when the sample has denominators, else ``"mean"``;
    pass ``"proportion"`` for 0/1 metrics (the standard deviation is then
    ``sqrt(p (1 - p))``).
    """
    checked = _check_kind(sample, kind or ("ratio" if sample.denominators is not None else "mean"))
    return _summary(sample.name, checked, _estimate(sample.values, sample.denominators, checked))


# --- comparison ---


@dataclass(frozen=True)
class LiftEstimate:
    """A difference between the arms: the ``estimate``, its ``standard_error`` and the
    ``lower``/``upper`` bounds of its ``1 - alpha`` confidence interval (None when the
    standard error is undefined: a variant with one user)."""

    estimate: float
    standard_error: float | None
    lower: float | None
    upper: float | None


@dataclass(frozen=True)
class BayesianResult:
    """The normal approximation to the posterior of the absolute difference ``D``
    (treatment minus control): ``posterior_mean``, ``posterior_standard_deviation``,
    ``chance_to_win = P(D > 0)`` and the expected loss, in metric units per user, of
    shipping the treatment (``E[max(-D, 0)]``) or keeping the control (``E[max(D, 0)]``)."""

    posterior_mean: float
    posterior_standard_deviation: float
    chance_to_win: float
    expected_loss_treatment: float
    expected_loss_control: float


@dataclass(frozen=True)
class CupedAdjustment:
    """What CUPED did: ``theta`` (pooled ``cov(Y, X) / var(X)``), ``covariate_mean``
    (the pooled mean of ``X`` that was subtracted), ``variance_reduction`` (``1 -
    Var(d_cuped) / Var(d)``, None with a single-user variant) and the
    ``unadjusted_difference`` of the raw means."""

    theta: float
    covariate_mean: float
    variance_reduction: float | None
    unadjusted_difference: float


@dataclass(frozen=True)
class Comparison:
    """Treatment against control on one metric.

    ``control``/``treatment``: the raw per-variant summaries; ``absolute_lift`` and
    ``relative_lift`` (None unless the control mean is positive): treatment minus control
    and treatment over control minus 1, CUPED-adjusted when ``cuped`` is set; ``test``:
    which frequentist test gave ``statistic`` (t or z; None when the standard error is 0),
    ``degrees_of_freedom`` (Welch only) and the two-sided ``p_value``; ``significant``:
    ``p_value < alpha``; ``bayesian`` and ``sequential``: the other two read-outs. Every
    field that needs a standard error is None when a variant has a single user.
    """

    control: VariantSummary
    treatment: VariantSummary
    kind: MetricKind
    test: TestName
    alpha: float
    absolute_lift: LiftEstimate
    relative_lift: LiftEstimate | None
    statistic: float | None
    degrees_of_freedom: float | None
    p_value: float | None
    significant: bool
    bayesian: BayesianResult | None
    sequential: SequentialResult | None
    cuped: CupedAdjustment | None


def _cuped(
    control: VariantSample, treatment: VariantSample
) -> tuple[_ArmEstimate, _ArmEstimate, CupedAdjustment]:
    """Both arms' CUPED-adjusted estimates (Deng et al. 2013, section 3, one theta
    estimated on both arms pooled)."""
    if control.covariate is None or treatment.covariate is None:
        raise ValidationFailedError(
            "CUPED needs a covariate for both variants; pass one for each or cuped=False"
        )
    metric = np.concatenate([control.values, treatment.values])
    covariate = np.concatenate([control.covariate, treatment.covariate])
    covariate_mean = _mean(covariate)
    if np.all(covariate == covariate[0]):
        theta = 0.0  # a constant covariate explains nothing
    else:
        centred = covariate - covariate_mean
        theta = float(np.dot(centred, metric - metric.mean()) / np.dot(centred, centred))
    adjusted_control = control.values - theta * (control.covariate - covariate_mean)
    adjusted_treatment = treatment.values - theta * (treatment.covariate - covariate_mean)
    raw = (_estimate(control.values, None, "mean"), _estimate(treatment.values, None, "mean"))
    adjusted = (
        _estimate(adjusted_control, None, "mean"),
        _estimate(adjusted_treatment, None, "mean"),
    )
    raw_variance = _variance_of_difference(*raw)
    adjusted_variance = _variance_of_difference(*adjusted)
    variance_reduction: float | None = None
    if raw_variance is not None and adjusted_variance is not None:
        variance_reduction = 1.0 - adjusted_variance / raw_variance if raw_variance > 0 else 0.0
    adjustment = CupedAdjustment(
        theta=theta,
        covariate_mean=covariate_mean,
        variance_reduction=variance_reduction,
        unadjusted_difference=raw[1].mean - raw[0].mean,
    )
    return adjusted[0], adjusted[1], adjustment


def _variance_of_difference(control: _ArmEstimate, treatment: _ArmEstimate) -> float | None:
    if control.variance_of_mean is None or treatment.variance_of_mean is None:
        return None
    return control.variance_of_mean + treatment.variance_of_mean


@dataclass(frozen=True)
class _TestOutcome:
    statistic: float | None
    degrees_of_freedom: float | None
    p_value: float
    critical_value: float  # the two-sided quantile that scales the standard error


def _exact_p_value(difference: float) -> float:
    """The p-value when the difference has no sampling error: it is real or it is not."""
    return 1.0 if difference == 0.0 else 0.0


def _welch_test(
    difference: float, control: _ArmEstimate, treatment: _ArmEstimate, alpha: float
) -> _TestOutcome:
    v_c = control.variance_of_mean or 0.0
    v_t = treatment.variance_of_mean or 0.0
    variance = v_c + v_t
    if variance == 0.0:
        return _TestOutcome(None, None, _exact_p_value(difference), 0.0)
    degrees_of_freedom = variance**2 / (
        v_c**2 / (control.n_users - 1) + v_t**2 / (treatment.n_users - 1)
    )
    statistic = difference / math.sqrt(variance)
    p_value = 2.0 * student_t_cdf(-abs(statistic), degrees_of_freedom)
    critical = student_t_quantile(1.0 - alpha / 2.0, degrees_of_freedom)
    return _TestOutcome(statistic, degrees_of_freedom, min(1.0, p_value), critical)


def _z_test(difference: float, null_standard_error: float, alpha: float) -> _TestOutcome:
    critical = normal_quantile(1.0 - alpha / 2.0)
    if null_standard_error == 0.0:
        return _TestOutcome(None, None, _exact_p_value(difference), critical)
    statistic = difference / null_standard_error
    return _TestOutcome(statistic, None, min(1.0, 2.0 * normal_cdf(-abs(statistic))), critical)


def _two_proportion_test(
    difference: float, control: _ArmEstimate, treatment: _ArmEstimate, alpha: float
) -> _TestOutcome:
    n_c, n_t = control.n_users, treatment.n_users
    pooled_rate = (n_c * control.mean + n_t * treatment.mean) / (n_c + n_t)
    pooled_rate = min(1.0, max(0.0, pooled_rate))
    null_standard_error = math.sqrt(pooled_rate * (1.0 - pooled_rate) * (1.0 / n_c + 1.0 / n_t))
    return _z_test(difference, null_standard_error, alpha)


def _bayesian(
    difference: float, variance: float, prior_mean: float, prior_variance: float | None
) -> BayesianResult:
    """Normal posterior of the difference and its decision quantities (Stucchio 2015)."""
    if prior_variance is None or variance == 0.0:
        mean, posterior_variance = difference, variance
    else:
        posterior_variance = 1.0 / (1.0 / variance + 1.0 / prior_variance)
        mean = posterior_variance * (difference / variance + prior_mean / prior_variance)
    sd = math.sqrt(posterior_variance)
    if sd == 0.0:
        return BayesianResult(
            posterior_mean=mean,
            posterior_standard_deviation=0.0,
            chance_to_win=0.5 if mean == 0.0 else float(mean > 0.0),
            expected_loss_treatment=max(-mean, 0.0),
            expected_loss_control=max(mean, 0.0),
        )
    z = mean / sd
    density = normal_pdf(z)
    return BayesianResult(
        posterior_mean=mean,
        posterior_standard_deviation=sd,
        chance_to_win=normal_cdf(z),
        expected_loss_treatment=max(0.0, sd * density - mean * normal_cdf(-z)),
        expected_loss_control=max(0.0, sd * density + mean * normal_cdf(z)),
    )


def _relative_lift(
    control: _ArmEstimate, treatment: _ArmEstimate, alpha: float
) -> LiftEstimate | None:
    """``m_t / m_c - 1`` with the delta method's standard error (Deng et al. 2018)."""
    if control.mean <= 0.0:
        return None
    estimate = treatment.mean / control.mean - 1.0
    v_c, v_t = control.variance_of_mean, treatment.variance_of_mean
    if v_c is None or v_t is None:
        return LiftEstimate(estimate, None, None, None)
    variance = v_t / control.mean**2 + treatment.mean**2 * v_c / control.mean**4
    standard_error = math.sqrt(variance)
    half_width = normal_quantile(1.0 - alpha / 2.0) * standard_error
    return LiftEstimate(estimate, standard_error, estimate - half_width, estimate + half_width)


def _pooled_per_user_variance(control: _ArmEstimate, treatment: _ArmEstimate) -> float:
    v_c = control.per_user_variance or 0.0
    v_t = treatment.per_user_variance or 0.0
    return (control.n_users * v_c + treatment.n_users * v_t) / (control.n_users + treatment.n_users)


def compare(
    control: VariantSample,
    treatment: VariantSample,
    *,
    kind: MetricKind = "mean",
    alpha: float = DEFAULT_ALPHA,
    cuped: bool = True,
    sequential_tau_squared: float | None = None,
    prior_mean: float = 0.0,
    prior_variance: float | None = None,
) -> Comparison:
    """Compare ``treatment`` with ``control`` on one metric.

    ``kind``: ``"mean"`` (Welch), ``"proportion"`` (0/1 values, two-proportion z) or
    ``"ratio"`` (needs denominators; delta-method z). ``alpha``: two-sided level of the
    tests and of every interval. ``cuped``: use the variants' covariates for CUPED when
    both have one (ignored for ratio metrics). ``sequential_tau_squared``: the mSPRT's
    mixing variance in squared metric units; None for ``(0.05 sigma)^2`` (see
    :mod:`shopsense.experiments._sequential`). ``prior_mean``/``prior_variance``: a
    normal prior on the absolute difference for the Bayesian read-out; None for a flat
    prior. Raises :class:`~shopsense.core.errors.ValidationFailedError` on bad input.
    """
    alpha = check_alpha(alpha)
    checked = _check_kind(control, kind)
    _check_kind(treatment, kind)
    if sequential_tau_squared is not None:
        check_positive(sequential_tau_squared, "sequential_tau_squared")
    if prior_variance is not None:
        check_positive(prior_variance, "prior_variance")
    if not math.isfinite(prior_mean):
        raise ValidationFailedError("prior_mean must be a finite number")

    cuped_adjustment: CupedAdjustment | None = None
    has_covariate = (control.covariate is not None, treatment.covariate is not None)
    if cuped and checked != "ratio" and any(has_covariate):
        control_arm, treatment_arm, cuped_adjustment = _cuped(control, treatment)
        test: TestName = "welch_t"
    else:
        control_arm = _estimate(control.values, control.denominators, checked)
        treatment_arm = _estimate(treatment.values, treatment.denominators, checked)
        test = _TEST_OF_KIND[checked]

    difference = treatment_arm.mean - control_arm.mean
    variance = _variance_of_difference(control_arm, treatment_arm)
    summaries = (
        summarise(control, checked),
        summarise(treatment, checked),
    )
    relative_lift = _relative_lift(control_arm, treatment_arm, alpha)
    if variance is None:
        return Comparison(
            control=summaries[0],
            treatment=summaries[1],
            kind=checked,
            test=test,
            alpha=alpha,
            absolute_lift=LiftEstimate(difference, None, None, None),
            relative_lift=relative_lift,
            statistic=None,
            degrees_of_freedom=None,
            p_value=None,
            significant=False,
            bayesian=None,
            sequential=None,
            cuped=cuped_adjustment,
        )

    if test == "welch_t":
        outcome = _welch_test(difference, control_arm, treatment_arm, alpha)
    elif test == "two_proportion_z":
        outcome = _two_proportion_test(difference, control_arm, treatment_arm, alpha)
    else:
        outcome = _z_test(difference, math.sqrt(variance), alpha)
    standard_error = math.sqrt(variance)
    half_width = outcome.critical_value * standard_error

    if variance == 0.0:
        # No sampling error at all: the confidence sequence is the point itself.
        sequential = SequentialResult(
            p_value=_exact_p_value(difference),
            lower=difference,
            upper=difference,
            tau_squared=sequential_tau_squared or 0.0,
        )
    else:
        tau_squared = (
            sequential_tau_squared
            if sequential_tau_squared is not None
            else default_tau_squared(_pooled_per_user_variance(control_arm, treatment_arm))
        )
        sequential = sequential_test(difference, variance, tau_squared, alpha)

    return Comparison(
        control=summaries[0],
        treatment=summaries[1],
        kind=checked,
        test=test,
        alpha=alpha,
        absolute_lift=LiftEstimate(
            difference, standard_error, difference - half_width, difference + half_width
        ),
        relative_lift=relative_lift,
        statistic=outcome.statistic,
        degrees_of_freedom=outcome.degrees_of_freedom,
        p_value=outcome.p_value,
        significant=outcome.p_value < alpha,
        bayesian=_bayesian(difference, variance, prior_mean, prior_variance),
        sequential=sequential,
        cuped=cuped_adjustment,
    )


# --- sample ratio mismatch ---


@dataclass(frozen=True)
class SampleRatioCheck:
    """The chi-square goodness-of-fit test of the users per variant against the configured
    split: ``expected_counts = total * weight / sum(weights)``, ``chi_square = sum((observed
    - expected)^2 / expected)`` on ``degrees_of_freedom = n_variants - 1``; ``flagged``
    when ``p_value < threshold``."""

    observed_counts: tuple[int, ...]
    expected_counts: tuple[float, ...]
    chi_square: float
    degrees_of_freedom: int
    p_value: float
    threshold: float
    flagged: bool


def sample_ratio_mismatch(
    counts: npt.ArrayLike,
    weights: npt.ArrayLike,
    *,
    threshold: float = SAMPLE_RATIO_MISMATCH_THRESHOLD,
) -> SampleRatioCheck:
    """Test whether the users per variant (``counts``) fit the configured ``weights``.

    A flagged mismatch means the assignment or the logging is broken (bots, redirects,
    a variant that crashes before logging), so no result of the experiment can be
    trusted until it is explained (Fabijan, Gupchup, Gupta, Omhover, Qin, Vermeer & Dmitriev
    2019, "Diagnosing Sample Ratio Mismatch in Online Controlled Experiments: A Taxonomy
    and Rules of Thumb for Practitioners", KDD). ``weights`` need not sum to 1. The
    chi-square approximation wants every expected count to be at least about 5.
    """
    threshold = check_alpha(threshold)
    try:
        observed = np.asarray(counts, dtype=np.float64)
        shares = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValidationFailedError("counts and weights must be numbers") from error
    if observed.ndim != 1 or observed.size < 2:
        raise ValidationFailedError("counts needs one user count per variant, at least two")
    if shares.shape != observed.shape:
        raise ValidationFailedError(
            f"{observed.size} counts but {shares.size} weights; pass one weight per variant"
        )
    if not np.all(np.isfinite(observed)) or np.any(observed < 0) or np.any(observed % 1 != 0):
        raise ValidationFailedError("counts must be whole numbers of users, 0 or more")
    if not np.all(np.isfinite(shares)) or np.any(shares <= 0):
        raise ValidationFailedError(
            "weights must be positive (a variant with weight 0 should not be in the check)"
        )
    total = float(observed.sum())
    if total == 0.0:
        raise ValidationFailedError("no users in any variant yet; nothing to check")
    expected = total * shares / shares.sum()
    chi_square = float(np.sum((observed - expected) ** 2 / expected))
    degrees_of_freedom = int(observed.size - 1)
    p_value = chi_square_survival(chi_square, degrees_of_freedom)
    return SampleRatioCheck(
        observed_counts=tuple(int(count) for count in observed),
        expected_counts=tuple(float(count) for count in expected),
        chi_square=chi_square,
        degrees_of_freedom=degrees_of_freedom,
        p_value=p_value,
        threshold=threshold,
        flagged=p_value < threshold,
    )
