"""The experiment statistics engine against simulations (fixed seeds) and hand-computed
reference values.

Simulation tolerances are binomial: a rate measured on ``N`` simulated experiments is
allowed ``3 * sqrt(p (1 - p) / N)`` around its target (a 0.3% chance of a false failure
for a correct engine; with fixed seeds the outcome is deterministic anyway).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats as scipy_stats
from scipy.special import ndtr, stdtr

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments import (
    SAMPLE_RATIO_MISMATCH_THRESHOLD,
    Comparison,
    SequentialMonitor,
    VariantSample,
    adjust_p_values,
    compare,
    power_of_mean_test,
    power_of_proportion_test,
    sample_ratio_mismatch,
    sample_size_for_mean_test,
    sample_size_for_proportion_test,
    summarise,
)
from shopsense.experiments.stats import (
    SequentialResult,
    always_valid_p_value,
    confidence_sequence,
    default_tau_squared,
    sequential_test,
)

FloatArray = npt.NDArray[np.float64]

N_EXPERIMENTS = 2_000
ALPHA = 0.05


def binomial_tolerance(rate: float, n_trials: int = N_EXPERIMENTS) -> float:
    """Three binomial standard errors of a rate measured on ``n_trials`` experiments."""
    return 3.0 * math.sqrt(rate * (1.0 - rate) / n_trials)


def rejection_rate(results: list[Comparison]) -> float:
    return float(np.mean([r.p_value is not None and r.p_value < ALPHA for r in results]))


def compare_rows(control: FloatArray, treatment: FloatArray, **options: object) -> list[Comparison]:
    """``compare`` on row ``i`` of each matrix, one simulated experiment per row."""
    return [
        compare(VariantSample("control", c), VariantSample("treatment", t), **options)  # type: ignore[arg-type]
        for c, t in zip(control, treatment, strict=True)
    ]


def revenue(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> FloatArray:
    """Skewed per-user revenue: 10% of users buy, basket values lognormal(3, 1.2)."""
    buys = rng.random(shape) < 0.1
    return np.asarray(buys * rng.lognormal(3.0, 1.2, size=shape) * scale, dtype=np.float64)


def conversions(rng: np.random.Generator, shape: tuple[int, ...], rate: float) -> FloatArray:
    return (rng.random(shape) < rate).astype(np.float64)


# --- 1. A/A false-positive rate ---


@pytest.mark.parametrize(
    ("kind", "simulate"),
    [
        ("proportion", lambda rng, shape: conversions(rng, shape, 0.1)),
        ("mean", revenue),
    ],
    ids=["conversion", "lognormal-revenue"],
)
def test_aa_false_positive_rate_is_alpha(
    kind: str, simulate: Callable[[np.random.Generator, tuple[int, int]], FloatArray]
) -> None:
    # Measured: 0.052 (conversion), 0.0495 (revenue); allowed 0.05 +/- 0.0146.
    rng = np.random.default_rng(1)
    shape = (N_EXPERIMENTS, 2_000)
    results = compare_rows(simulate(rng, shape), simulate(rng, shape), kind=kind)
    assert abs(rejection_rate(results) - ALPHA) <= binomial_tolerance(ALPHA)


# --- 2. continuous peeking ---


def test_peeking_inflates_fixed_horizon_but_not_always_valid_p_value_conversion() -> None:
    # 2,000 A/A tests on a 10% conversion, looked at after every 200 users per arm, 50 looks.
    # Measured: first look with a fixed-horizon p < 0.05 -> 0.32 of the A/A tests
    # "win"; with the always-valid p-value 0.0165.
    rng = np.random.default_rng(3)
    n_looks, batch = 50, 200
    successes = rng.binomial(batch, 0.1, size=(N_EXPERIMENTS, n_looks, 2)).cumsum(axis=1)
    n_users = batch * np.arange(1, n_looks + 1)[None, :]
    rate_c, rate_t = successes[..., 0] / n_users, successes[..., 1] / n_users
    pooled = (rate_c + rate_t) / 2
    z = (rate_t - rate_c) / np.sqrt(pooled * (1 - pooled) * 2 / n_users)
    fixed_p = 2 * ndtr(-np.abs(z))
    variance_c, variance_t = rate_c * (1 - rate_c), rate_t * (1 - rate_t)
    look_p = always_valid_p_value(
        rate_t - rate_c,
        (variance_c + variance_t) / n_users,
        default_tau_squared((variance_c + variance_t) / 2),
    )
    running_p = np.minimum.accumulate(look_p, axis=1)

    peeking_fpr = float((fixed_p < ALPHA).any(axis=1).mean())
    always_valid_fpr = float((running_p[:, -1] < ALPHA).mean())
    assert peeking_fpr > 0.15
    assert always_valid_fpr <= ALPHA + binomial_tolerance(ALPHA)
    # The last look alone is one fixed-horizon test: still 5%.
    assert abs(float((fixed_p[:, -1] < ALPHA).mean()) - ALPHA) <= binomial_tolerance(ALPHA)

    # compare() + SequentialMonitor give the same numbers as the vectorised formulas above.
    monitor = SequentialMonitor()
    for look in range(n_looks):
        n = int(n_users[0, look])
        arms = [np.zeros(n) for _ in range(2)]
        for arm, values in enumerate(arms):
            values[: successes[0, look, arm]] = 1.0
        result = compare(
            VariantSample("control", arms[0]),
            VariantSample("treatment", arms[1]),
            kind="proportion",
        )
        assert result.p_value == pytest.approx(fixed_p[0, look], rel=1e-9, abs=1e-12)
        assert result.sequential is not None
        running = monitor.observe(result.sequential)
        assert running.p_value == pytest.approx(running_p[0, look], rel=1e-9)
        assert running.lower <= 0.0 <= running.upper or running.p_value < ALPHA
    assert monitor.n_looks == n_looks


def test_peeking_always_valid_on_skewed_revenue() -> None:
    # 2,000 A/A tests of lognormal revenue, 50 looks of 40 users per arm. Measured:
    # fixed-horizon peeking 0.28, always-valid 0.003.
    rng = np.random.default_rng(9)
    n_looks, batch = 50, 40
    look_ends = batch * np.arange(1, n_looks + 1) - 1
    n_users = look_ends + 1

    def running_moments(values: FloatArray) -> tuple[FloatArray, FloatArray]:
        sums = values.cumsum(axis=1)[:, look_ends]
        squares = (values * values).cumsum(axis=1)[:, look_ends]
        mean = sums / n_users
        return mean, np.maximum((squares - sums**2 / n_users) / (n_users - 1), 0.0)

    mean_c, var_c = running_moments(revenue(rng, (N_EXPERIMENTS, n_looks * batch)))
    mean_t, var_t = running_moments(revenue(rng, (N_EXPERIMENTS, n_looks * batch)))
    variance = (var_c + var_t) / n_users
    welch_df = variance**2 / ((var_c / n_users) ** 2 + (var_t / n_users) ** 2) * (n_users - 1)
    fixed_p = 2 * stdtr(welch_df, -np.abs(mean_t - mean_c) / np.sqrt(variance))
    look_p = always_valid_p_value(
        mean_t - mean_c, variance, default_tau_squared((var_c + var_t) / 2)
    )
    assert float((fixed_p < ALPHA).any(axis=1).mean()) > 0.15
    running_p = np.minimum.accumulate(look_p, axis=1)
    assert float((running_p[:, -1] < ALPHA).mean()) <= ALPHA + binomial_tolerance(ALPHA)


def test_confidence_sequence_is_the_inverted_test() -> None:
    # At either bound of the confidence sequence the mSPRT p-value of "difference = bound"
    # is exactly alpha; inside it is larger.
    difference, variance, tau_squared = 0.3, 0.01, 0.002
    lower, upper = confidence_sequence(difference, variance, tau_squared, alpha=ALPHA)
    for bound in (float(lower), float(upper)):
        shifted = always_valid_p_value(difference - bound, variance, tau_squared)
        assert float(shifted) == pytest.approx(ALPHA)
    assert float(always_valid_p_value(0.0, variance, tau_squared)) == 1.0
    # Wider than the fixed-horizon interval, the price of peeking.
    assert float(upper) - difference > 1.96 * math.sqrt(variance)
    result = sequential_test(difference, variance, tau_squared, ALPHA)
    assert result.lower == pytest.approx(float(lower))
    assert result.upper == pytest.approx(float(upper))
    # Hand value: Lambda = sqrt(V / (V + tau^2)) exp(tau^2 d^2 / (2 V (V + tau^2))).
    likelihood_ratio = math.sqrt(0.01 / 0.012) * math.exp(0.002 * 0.09 / (2 * 0.01 * 0.012))
    assert result.p_value == pytest.approx(min(1.0, 1.0 / likelihood_ratio))


def test_sequential_monitor_keeps_running_minimum_and_intersection() -> None:
    assert SequentialMonitor().current is None
    monitor = SequentialMonitor()
    monitor.observe(SequentialResult(p_value=0.4, lower=-1.0, upper=2.0, tau_squared=1.0))
    monitor.observe(SequentialResult(p_value=0.2, lower=-0.5, upper=2.5, tau_squared=1.0))
    running = monitor.observe(SequentialResult(p_value=0.3, lower=-2.0, upper=1.5, tau_squared=1.0))
    assert (running.p_value, running.lower, running.upper) == (0.2, -0.5, 1.5)
    # Disjoint from the running interval: the monitor falls back to the latest look.
    running = monitor.observe(SequentialResult(p_value=0.01, lower=3.0, upper=4.0, tau_squared=1.0))
    assert (running.p_value, running.lower, running.upper) == (0.01, 3.0, 4.0)
    assert monitor.current is running
    assert monitor.n_looks == 4


# --- 3. power ---


def test_power_of_proportion_test_matches_simulation() -> None:
    # 10% -> 13%: 1,774 users per arm for 80% power; measured 0.816 (allowed +/- 0.027).
    n_users = sample_size_for_proportion_test(0.10, 0.13, alpha=ALPHA, power=0.8)
    assert n_users == 1_774
    analytic = power_of_proportion_test(0.10, 0.13, n_users, n_users, alpha=ALPHA)
    assert 0.8 <= analytic < 0.801
    assert power_of_proportion_test(0.10, 0.13, n_users - 1, n_users - 1) < 0.8
    rng = np.random.default_rng(4)
    shape = (N_EXPERIMENTS, n_users)
    results = compare_rows(
        conversions(rng, shape, 0.10), conversions(rng, shape, 0.13), kind="proportion"
    )
    assert abs(rejection_rate(results) - analytic) <= binomial_tolerance(analytic)


def test_power_of_mean_test_matches_simulation() -> None:
    # Exponential(1) metric (sd 1), true difference 0.1: n = (1.96 + 0.8416)^2 * 2 / 0.01
    # = 1,570 per arm; measured power 0.8005 (allowed +/- 0.027).
    n_users = sample_size_for_mean_test(0.1, 1.0)
    assert n_users == math.ceil((1.959964 + 0.841621) ** 2 * 2 / 0.1**2)
    analytic = power_of_mean_test(0.1, 1.0, n_users, n_users)
    assert analytic == pytest.approx(0.8, abs=0.001)
    assert power_of_mean_test(-0.1, 1.0, n_users, n_users) == pytest.approx(analytic)
    assert power_of_mean_test(0.0, 1.0, n_users, n_users) == pytest.approx(ALPHA)
    rng = np.random.default_rng(4)
    shape = (N_EXPERIMENTS, n_users)
    results = compare_rows(rng.exponential(size=shape), rng.exponential(size=shape) + 0.1)
    assert abs(rejection_rate(results) - analytic) <= binomial_tolerance(analytic)


# --- 4. CUPED ---


def correlated(
    rng: np.random.Generator, shape: tuple[int, ...], rho: float = 0.7
) -> tuple[FloatArray, FloatArray]:
    """A metric around 10 and a pre-period covariate with correlation ``rho``."""
    covariate = rng.normal(size=shape)
    metric = 10.0 + rho * covariate + math.sqrt(1 - rho**2) * rng.normal(size=shape)
    return metric, covariate


def test_cuped_reduces_variance_by_rho_squared() -> None:
    # rho = 0.7 -> 1 - rho^2 = 0.51 of the variance is left: measured reduction 0.488,
    # theta 0.699, interval width ratio 0.715 (sqrt(0.51) = 0.714).
    rng = np.random.default_rng(5)
    metric, covariate = correlated(rng, (2, 5_000))
    control = VariantSample("control", metric[0], covariate=covariate[0])
    treatment = VariantSample("treatment", metric[1] + 0.05, covariate=covariate[1])
    adjusted = compare(control, treatment)
    plain = compare(control, treatment, cuped=False)
    assert adjusted.cuped is not None and plain.cuped is None
    assert adjusted.cuped.variance_reduction == pytest.approx(0.49, abs=0.03)
    assert adjusted.cuped.theta == pytest.approx(0.7, abs=0.03)
    assert adjusted.cuped.unadjusted_difference == pytest.approx(plain.absolute_lift.estimate)
    width = adjusted.absolute_lift.upper - adjusted.absolute_lift.lower  # type: ignore[operator]
    plain_width = plain.absolute_lift.upper - plain.absolute_lift.lower  # type: ignore[operator]
    assert width / plain_width == pytest.approx(math.sqrt(0.51), abs=0.03)
    assert adjusted.test == "welch_t"


def test_cuped_is_unbiased_and_keeps_aa_false_positive_rate() -> None:
    # Measured over 2,000 experiments of 500 users per arm: mean estimate 0.0495 for a true
    # 0.05 (Monte Carlo SE 0.001); A/A false-positive rate 0.048.
    rng = np.random.default_rng(5)
    metric, covariate = correlated(rng, (N_EXPERIMENTS, 2, 500))

    def run(effect: float) -> list[Comparison]:
        return [
            compare(
                VariantSample("control", metric[i, 0], covariate=covariate[i, 0]),
                VariantSample("treatment", metric[i, 1] + effect, covariate=covariate[i, 1]),
            )
            for i in range(N_EXPERIMENTS)
        ]

    estimates = np.array([r.absolute_lift.estimate for r in run(0.05)])
    monte_carlo_error = estimates.std(ddof=1) / math.sqrt(N_EXPERIMENTS)
    assert abs(estimates.mean() - 0.05) <= 3 * monte_carlo_error
    assert abs(rejection_rate(run(0.0)) - ALPHA) <= binomial_tolerance(ALPHA)


def test_cuped_on_a_conversion_and_skipped_for_ratios() -> None:
    rng = np.random.default_rng(11)
    covariate = rng.normal(size=(2, 3_000))
    converted = (covariate + rng.normal(size=(2, 3_000)) > 1.0).astype(np.float64)
    result = compare(
        VariantSample("control", converted[0], covariate=covariate[0]),
        VariantSample("treatment", converted[1], covariate=covariate[1]),
        kind="proportion",
    )
    assert result.test == "welch_t" and result.cuped is not None
    assert result.cuped.variance_reduction is not None and result.cuped.variance_reduction > 0.1
    ratio = compare(
        VariantSample("control", converted[0], denominators=np.ones(3_000), covariate=covariate[0]),
        VariantSample(
            "treatment", converted[1], denominators=np.ones(3_000), covariate=covariate[1]
        ),
        kind="ratio",
    )
    assert ratio.cuped is None and ratio.test == "delta_method_z"
    with pytest.raises(ValidationFailedError, match="covariate for both"):
        compare(
            VariantSample("control", converted[0], covariate=covariate[0]),
            VariantSample("treatment", converted[1]),
        )


# --- 5. sample ratio mismatch ---


def test_sample_ratio_mismatch_fires_on_a_49_51_split() -> None:
    # chi^2 = 2 * 980^2 / 50,000 = 38.416 on 1 df; P(chi^2_1 > x) = erfc(sqrt(x / 2)).
    check = sample_ratio_mismatch([49_020, 50_980], [0.5, 0.5])
    assert check.chi_square == pytest.approx(38.416)
    assert check.p_value == pytest.approx(math.erfc(math.sqrt(38.416 / 2)), rel=1e-9)
    assert check.p_value == pytest.approx(5.716e-10, rel=1e-3)
    assert check.flagged and check.threshold == SAMPLE_RATIO_MISMATCH_THRESHOLD == 0.001
    assert check.expected_counts == (50_000.0, 50_000.0)
    assert check.degrees_of_freedom == 1


def test_sample_ratio_mismatch_quiet_on_fair_splits() -> None:
    even = sample_ratio_mismatch([50_000, 50_000], [1, 1])
    assert even.p_value == 1.0 and not even.flagged
    rng = np.random.default_rng(12)
    treatment_users = int(rng.binomial(100_000, 0.5))
    assert not sample_ratio_mismatch(
        [100_000 - treatment_users, treatment_users], [0.5, 0.5]
    ).flagged
    # Three variants, 20/30/50, drawn from the configured split.
    split = rng.multinomial(100_000, [0.2, 0.3, 0.5])
    fair = sample_ratio_mismatch(split, [20, 30, 50])
    assert not fair.flagged and fair.degrees_of_freedom == 2
    assert fair.chi_square == pytest.approx(
        scipy_stats.chisquare(split, [20_000, 30_000, 50_000])[0]
    )
    # 2,000 fair splits: about 2 flags expected at the 0.001 threshold; measured 1.
    splits = rng.binomial(100_000, 0.5, size=N_EXPERIMENTS)
    flags = [sample_ratio_mismatch([100_000 - s, s], [0.5, 0.5]).flagged for s in splits]
    assert sum(flags) <= 5


# --- 6. multiple comparisons ---


def test_holm_and_bh_reference_values() -> None:
    p_values = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04;
    # running max 0.02, 0.03, 0.06, 0.06; back in input order:
    assert adjust_p_values(p_values, "holm") == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # BH: sorted times 4/1, 4/2, 4/3, 4/4 = 0.02, 0.02, 0.04, 0.04; running min from the top:
    assert adjust_p_values(p_values, "bh") == pytest.approx([0.02, 0.04, 0.04, 0.02])
    # Capped at 1.
    assert adjust_p_values([0.5, 0.9], "holm").tolist() == [1.0, 1.0]
    assert adjust_p_values([0.7], "bh").tolist() == [0.7]


def test_bh_matches_scipy_and_shapes_are_kept() -> None:
    rng = np.random.default_rng(13)
    # metrics x variants; some true effects (tiny p-values) among nulls.
    p_values = rng.uniform(size=(6, 3)) ** rng.choice([1.0, 8.0], size=(6, 3))
    adjusted = adjust_p_values(p_values, "bh")
    assert adjusted.shape == (6, 3)
    expected = scipy_stats.false_discovery_control(p_values.ravel(), method="bh")
    np.testing.assert_allclose(adjusted.ravel(), expected, rtol=1e-12)
    holm = adjust_p_values(p_values, "holm")
    order = np.argsort(p_values, axis=None)
    assert np.all(np.diff(holm.ravel()[order]) >= 0)  # monotone in the raw p-values
    assert np.all(holm >= p_values) and np.all(holm >= adjusted) and np.all(holm <= 1)


# --- 7. delta method ---


def click_through(
    rng: np.random.Generator, shape: tuple[int, ...], lift: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    """Clicks and impressions per user; each user has their own CTR ~ Beta(1, 9) * lift,
    so a user's impressions are correlated and not independent trials."""
    impressions = 1 + rng.poisson(9, size=shape)
    clicks = rng.binomial(impressions, rng.beta(1, 9, size=shape) * lift)
    return clicks.astype(np.float64), impressions.astype(np.float64)


def test_ratio_standard_error_matches_simulation() -> None:
    # 2,000 samples of 1,000 users: the delta-method SE averages 0.994 of the simulated SD
    # of the CTR; the naive binomial SE over impressions is only 0.72 of it.
    rng = np.random.default_rng(6)
    clicks, impressions = click_through(rng, (N_EXPERIMENTS, 1_000))
    summaries = [
        summarise(VariantSample("v", c, denominators=i))
        for c, i in zip(clicks, impressions, strict=True)
    ]
    assert summaries[0].kind == "ratio"
    ratios = np.array([s.mean for s in summaries])
    reported = np.array([s.standard_error for s in summaries], dtype=np.float64)
    simulated = ratios.std(ddof=1)
    assert reported.mean() / simulated == pytest.approx(1.0, abs=0.05)
    naive = np.sqrt(ratios * (1 - ratios) / impressions.sum(axis=1))
    assert naive.mean() / simulated < 0.8


def test_relative_lift_standard_error_and_coverage() -> None:
    # Lognormal metric, treatment 10% higher, 2,000 users per arm. Measured: SE / simulated
    # SD = 0.977, coverage of the 95% interval 0.9425 (allowed 0.95 +/- 0.0146).
    rng = np.random.default_rng(7)
    shape = (N_EXPERIMENTS, 2_000)
    results = compare_rows(rng.lognormal(size=shape), rng.lognormal(size=shape) * 1.1)
    lifts = [r.relative_lift for r in results]
    estimates = np.array([lift.estimate for lift in lifts if lift is not None])
    errors = np.array([lift.standard_error for lift in lifts if lift is not None], dtype=np.float64)
    assert errors.mean() / estimates.std(ddof=1) == pytest.approx(1.0, abs=0.05)
    covered = np.mean(
        [
            lift is not None and lift.lower is not None and lift.lower <= 0.1 <= lift.upper  # type: ignore[operator]
            for lift in lifts
        ]
    )
    assert abs(covered - 0.95) <= binomial_tolerance(0.95)


def test_ratio_metric_interval_coverage() -> None:
    # CTR 0.10 -> 0.12 (relative +20%), 1,000 users per arm. Measured coverage: relative
    # 0.957, absolute 0.961.
    rng = np.random.default_rng(8)
    clicks, impressions = click_through(rng, (N_EXPERIMENTS, 1_000))
    clicks_t, impressions_t = click_through(rng, (N_EXPERIMENTS, 1_000), lift=1.2)
    results = [
        compare(
            VariantSample("control", clicks[i], denominators=impressions[i]),
            VariantSample("treatment", clicks_t[i], denominators=impressions_t[i]),
            kind="ratio",
        )
        for i in range(N_EXPERIMENTS)
    ]
    relative = np.mean([r.relative_lift.lower <= 0.2 <= r.relative_lift.upper for r in results])  # type: ignore[union-attr, operator]
    absolute = np.mean([r.absolute_lift.lower <= 0.02 <= r.absolute_lift.upper for r in results])  # type: ignore[operator]
    assert abs(relative - 0.95) <= binomial_tolerance(0.95)
    assert abs(absolute - 0.95) <= binomial_tolerance(0.95)


# --- 8. reference values ---


def test_welch_matches_scipy() -> None:
    rng = np.random.default_rng(14)
    control = rng.lognormal(size=80)
    treatment = rng.lognormal(0.3, 1.5, size=130)
    result = compare(VariantSample("control", control), VariantSample("treatment", treatment))
    reference = scipy_stats.ttest_ind(treatment, control, equal_var=False)
    assert result.test == "welch_t"
    assert result.p_value == pytest.approx(reference.pvalue, rel=1e-10)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-10)
    assert result.degrees_of_freedom == pytest.approx(reference.df, rel=1e-10)
    interval = reference.confidence_interval(0.95)
    assert result.absolute_lift.lower == pytest.approx(interval.low, rel=1e-9)
    assert result.absolute_lift.upper == pytest.approx(interval.high, rel=1e-9)
    assert result.control.mean == pytest.approx(control.mean())
    assert result.control.standard_deviation == pytest.approx(control.std(ddof=1))
    assert result.control.standard_error == pytest.approx(control.std(ddof=1) / math.sqrt(80))


def test_two_proportion_z_by_hand() -> None:
    # 120 / 1,000 vs 150 / 1,000. Pooled rate 270 / 2,000 = 0.135;
    # SE_0 = sqrt(0.135 * 0.865 * (1/1000 + 1/1000)) = 0.0152824; z = 0.03 / SE_0 = 1.96305.
    control = np.zeros(1_000)
    control[:120] = 1.0
    treatment = np.zeros(1_000)
    treatment[:150] = 1.0
    result = compare(
        VariantSample("control", control), VariantSample("treatment", treatment), kind="proportion"
    )
    z = 0.03 / math.sqrt(0.135 * 0.865 * 0.002)
    assert z == pytest.approx(1.96305, abs=1e-5)
    assert result.statistic == pytest.approx(z)
    assert result.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert result.p_value == pytest.approx(0.04964, abs=1e-5)
    assert result.significant and result.degrees_of_freedom is None
    # Interval: unpooled SE = sqrt(0.12 * 0.88 / 1000 + 0.15 * 0.85 / 1000) = 0.0152676.
    unpooled = math.sqrt(0.12 * 0.88 / 1000 + 0.15 * 0.85 / 1000)
    assert result.absolute_lift.standard_error == pytest.approx(unpooled)
    assert result.absolute_lift.lower == pytest.approx(0.03 - 1.959964 * unpooled, abs=1e-6)
    # Relative lift 0.15 / 0.12 - 1 = 0.25 with SE^2 = SE_t^2 / 0.12^2 + 0.15^2 SE_c^2 / 0.12^4.
    assert result.relative_lift is not None
    assert result.relative_lift.estimate == pytest.approx(0.25)
    relative_se = math.sqrt(0.15 * 0.85 / 1000 / 0.12**2 + 0.15**2 * 0.12 * 0.88 / 1000 / 0.12**4)
    assert result.relative_lift.standard_error == pytest.approx(relative_se)
    assert result.control.standard_deviation == pytest.approx(math.sqrt(0.12 * 0.88))


def test_ratio_summary_by_hand() -> None:
    # Three users: clicks 1, 0, 3 over impressions 2, 1, 4. R = 4 / 7; mean impressions 7/3;
    # residuals (y - R x) / x_bar = (1 - 8/7, 0 - 4/7, 3 - 16/7) * 3/7.
    summary = summarise(
        VariantSample("v", np.array([1.0, 0.0, 3.0]), denominators=np.array([2.0, 1.0, 4.0]))
    )
    residuals = (np.array([1.0, 0.0, 3.0]) - 4 / 7 * np.array([2.0, 1.0, 4.0])) * 3 / 7
    assert summary.mean == pytest.approx(4 / 7)
    assert summary.standard_error == pytest.approx(math.sqrt(residuals.var(ddof=1) / 3))


def test_bayesian_closed_form_matches_monte_carlo() -> None:
    rng = np.random.default_rng(15)
    control = rng.normal(10.0, 2.0, size=400)
    treatment = rng.normal(10.2, 2.0, size=400)
    result = compare(VariantSample("control", control), VariantSample("treatment", treatment))
    assert result.bayesian is not None
    bayes = result.bayesian
    draws = rng.normal(bayes.posterior_mean, bayes.posterior_standard_deviation, size=2_000_000)
    assert bayes.chance_to_win == pytest.approx(np.mean(draws > 0), abs=0.002)
    assert bayes.expected_loss_treatment == pytest.approx(np.mean(np.maximum(-draws, 0)), rel=0.01)
    assert bayes.expected_loss_control == pytest.approx(np.mean(np.maximum(draws, 0)), rel=0.01)
    # Flat prior: the posterior is N(d, SE^2), so the chance to win is Phi(d / SE).
    lift = result.absolute_lift
    assert lift.standard_error is not None
    assert bayes.chance_to_win == pytest.approx(float(ndtr(lift.estimate / lift.standard_error)))
    assert bayes.expected_loss_control - bayes.expected_loss_treatment == pytest.approx(
        lift.estimate
    )
    # A tight prior at 0 pulls the posterior towards "no difference".
    shrunk = compare(
        VariantSample("control", control),
        VariantSample("treatment", treatment),
        prior_variance=lift.standard_error**2,
    ).bayesian
    assert shrunk is not None
    assert shrunk.posterior_mean == pytest.approx(lift.estimate / 2)
    assert shrunk.posterior_standard_deviation == pytest.approx(lift.standard_error / math.sqrt(2))


# --- degenerate input and validation ---


def as_json(result: object) -> str:
    """The result as strict JSON (fails on NaN or infinity)."""
    return json.dumps(dataclasses.asdict(result), allow_nan=False)  # type: ignore[call-overload]


def test_single_user_variants_give_none_not_nan() -> None:
    result = compare(VariantSample("control", [3.0]), VariantSample("treatment", [5.0]))
    assert result.absolute_lift.estimate == 2.0 and result.absolute_lift.standard_error is None
    assert result.p_value is None and result.bayesian is None and result.sequential is None
    assert result.control.standard_deviation is None and not result.significant
    assert result.relative_lift is not None and result.relative_lift.estimate == pytest.approx(
        2 / 3
    )
    as_json(result)
    # One arm with one user, the other with many: still no standard error.
    lopsided = compare(VariantSample("control", [3.0]), VariantSample("treatment", np.arange(50.0)))
    assert lopsided.p_value is None
    # A proportion's variance p (1 - p) needs no second user.
    single = compare(VariantSample("c", [0.0]), VariantSample("t", [1.0]), kind="proportion")
    assert single.p_value is not None
    as_json(single)


def test_zero_variance_is_exact_not_nan() -> None:
    same = compare(VariantSample("control", [0.1] * 3), VariantSample("treatment", [0.1] * 7))
    assert same.absolute_lift.estimate == 0.0  # not an ulp off
    assert same.p_value == 1.0 and same.statistic is None and not same.significant
    assert (same.absolute_lift.lower, same.absolute_lift.upper) == (0.0, 0.0)
    assert same.bayesian is not None and same.bayesian.chance_to_win == 0.5
    assert same.sequential is not None and same.sequential.p_value == 1.0
    as_json(same)
    apart = compare(VariantSample("control", [2.0] * 4), VariantSample("treatment", [3.0] * 4))
    assert apart.p_value == 0.0 and apart.significant
    assert apart.bayesian is not None and apart.bayesian.chance_to_win == 1.0
    assert apart.bayesian.expected_loss_control == 1.0
    as_json(apart)
    nobody = compare(
        VariantSample("c", np.zeros(100)), VariantSample("t", np.zeros(80)), kind="proportion"
    )
    assert nobody.p_value == 1.0 and nobody.relative_lift is None  # control rate 0
    as_json(nobody)
    # Constant covariate: CUPED changes nothing.
    flat = compare(
        VariantSample("c", [1.0, 2.0, 3.0], covariate=[5.0] * 3),
        VariantSample("t", [2.0, 3.0, 4.0], covariate=[5.0] * 3),
    )
    assert flat.cuped is not None and flat.cuped.theta == 0.0
    assert flat.cuped.variance_reduction == 0.0
    as_json(flat)


def test_ratio_allows_users_without_impressions() -> None:
    result = compare(
        VariantSample("c", [0.0, 1.0, 2.0, 0.0], denominators=[0.0, 3.0, 5.0, 2.0]),
        VariantSample("t", [1.0, 0.0, 2.0, 0.0], denominators=[2.0, 0.0, 4.0, 3.0]),
        kind="ratio",
    )
    assert result.control.mean == pytest.approx(3 / 10)
    assert result.treatment.mean == pytest.approx(3 / 9)
    assert result.test == "delta_method_z"
    as_json(result)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: VariantSample("c", []), "empty"),
        (lambda: VariantSample("c", [[1.0, 2.0]]), "one-dimensional"),
        (lambda: VariantSample("c", [1.0, float("nan")]), "NaN"),
        (lambda: VariantSample("c", ["a"]), "numbers"),
        (lambda: VariantSample("", [1.0]), "name"),
        (lambda: VariantSample("c", [1.0, 2.0], denominators=[1.0]), "denominators"),
        (lambda: VariantSample("c", [1.0], denominators=[-1.0]), "negative"),
        (lambda: VariantSample("c", [1.0, 2.0], denominators=[0.0, 0.0]), "sum to 0"),
        (lambda: VariantSample("c", [1.0, 2.0], covariate=[1.0]), "covariate"),
        (lambda: summarise(VariantSample("c", [1.0, 2.0]), "ratio"), "no denominators"),
        (lambda: summarise(VariantSample("c", [1.0, 2.0]), "median"), "unknown metric kind"),  # type: ignore[arg-type]
        (lambda: summarise(VariantSample("c", [1.0, 2.0]), "proportion"), "0/1"),
        (
            lambda: compare(
                VariantSample("c", [1.0], denominators=[1.0]),
                VariantSample("t", [1.0], denominators=[1.0]),
            ),
            "kind='ratio'",
        ),
        (lambda: compare(VariantSample("c", [1.0]), VariantSample("t", [1.0]), alpha=1.5), "alpha"),
        (
            lambda: compare(
                VariantSample("c", [1.0]), VariantSample("t", [1.0]), sequential_tau_squared=0.0
            ),
            "sequential_tau_squared",
        ),
        (
            lambda: compare(
                VariantSample("c", [1.0]), VariantSample("t", [1.0]), prior_variance=-1.0
            ),
            "prior_variance",
        ),
        (lambda: sample_ratio_mismatch([100], [1.0]), "at least two"),
        (lambda: sample_ratio_mismatch([100, 90], [0.5, 0.0]), "weights must be positive"),
        (lambda: sample_ratio_mismatch([100, 90], [0.5, 0.3, 0.2]), "one weight per variant"),
        (lambda: sample_ratio_mismatch([100, -1], [0.5, 0.5]), "whole numbers"),
        (lambda: sample_ratio_mismatch([10.5, 9], [0.5, 0.5]), "whole numbers"),
        (lambda: sample_ratio_mismatch([0, 0], [0.5, 0.5]), "no users"),
        (lambda: adjust_p_values([], "holm"), "at least one"),
        (lambda: adjust_p_values([0.2, 1.2], "bh"), r"\[0, 1\]"),
        (lambda: adjust_p_values([0.2, float("nan")], "bh"), r"\[0, 1\]"),
        (lambda: adjust_p_values([0.2], "bonferroni"), "unknown method"),  # type: ignore[arg-type]
        (lambda: always_valid_p_value(0.1, -1.0, 1.0), "negative"),
        (lambda: always_valid_p_value(0.1, 1.0, 0.0), "tau_squared"),
        (lambda: power_of_proportion_test(0.0, 0.1, 100, 100), "control_rate"),
        (lambda: power_of_mean_test(0.1, 1.0, 0, 100), "n_control"),
        (lambda: sample_size_for_mean_test(0.0, 1.0), "not 0"),
        (lambda: sample_size_for_proportion_test(0.1, 0.1), "differ"),
        (lambda: sample_size_for_mean_test(0.1, 1.0, power=1.0), "power"),
    ],
)
def test_bad_input_raises_validation_error(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValidationFailedError, match=message):
        make()
