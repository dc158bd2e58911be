"""An experiment's results: every metric of every variant against the control, the
checks around them, and a verdict in plain language.

- **Per metric and variant**: :func:`~shopsense.experiments.stats.compare` (Welch t or
  two-proportion z, delta method for the ratio ``rec_ctr``, CUPED with the metric's
  pre-period value, Bayesian chance to win and expected loss, always-valid sequential
  p-value and confidence sequence).
- **Decisions use the always-valid p-values** (each user measured over a fixed window,
  so the experiment may be looked at every day without inflating its error rates):
  the primary metric's, Holm-adjusted across the treatments, must be below ``alpha``
  for a win or a loss; a guardrail is **harmed** when it moved the wrong way with a
  one-sided always-valid p-value (half the two-sided one) below ``alpha``, with no
  correction, so that a real harm is not hidden by the number of metrics watched.
- **Sample ratio mismatch**: chi-square of the exposed users per variant against the
  weights; flagged at p < 0.001, and then the verdict is "do not trust".
- **Verdict** per treatment: ship it when the primary metric improved significantly and
  no guardrail got significantly worse; keep the control when the primary metric got
  worse or a guardrail did; otherwise keep it running (with the users needed to detect a
  5% relative change).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from shopsense.core.errors import ValidationFailedError
from shopsense.experiments.design import METRICS, Experiment
from shopsense.experiments.measure import ExposedUsers, measure_exposed_users
from shopsense.experiments.stats import (
    Comparison,
    SampleRatioCheck,
    VariantSample,
    VariantSummary,
    adjust_p_values,
    compare,
    sample_ratio_mismatch,
    sample_size_for_mean_test,
    sample_size_for_proportion_test,
    summarise,
)
from shopsense.store.base import Store

Decision = Literal["ship", "keep_control", "keep_running", "invalid"]
MINIMUM_DETECTABLE_LIFT = 0.05
"""The relative change the "users needed" estimate is for."""


@dataclass(frozen=True)
class VariantComparison:
    """One treatment variant against the control on one metric.

    ``decision_p_value``: the always-valid p-value the verdict uses (primary metric:
    Holm-adjusted across treatments; guardrail: one-sided, toward harm, uncorrected);
    ``significant``: below ``alpha``; ``better``: whether the significant change is an
    improvement (None when not significant); ``chance_to_be_better``: the Bayesian
    chance that the treatment is better than the control, whichever direction is
    better for the metric."""

    variant: str
    comparison: Comparison
    decision_p_value: float | None
    significant: bool
    better: bool | None
    chance_to_be_better: float | None


@dataclass(frozen=True)
class MetricResult:
    """A metric's summary per variant and each treatment's comparison."""

    metric: str
    kind: str
    description: str
    higher_is_better: bool
    primary: bool
    variants: list[VariantSummary]
    comparisons: list[VariantComparison]


@dataclass(frozen=True)
class VariantVerdict:
    variant: str
    decision: Decision
    text: str
    users_needed: int | None


@dataclass(frozen=True)
class ExperimentResults:
    """Everything :func:`analyse` measured, up to ``end``: ``exposures`` counts every
    user exposed before ``end`` (the sample-ratio check uses them), ``measured`` those
    whose observation window has ended (the metrics use them)."""

    experiment_id: str
    name: str
    status: str
    end: datetime
    exposures: dict[str, int]
    measured: dict[str, int]
    sample_ratio: SampleRatioCheck | None
    metrics: list[MetricResult]
    verdicts: list[VariantVerdict]
    summary: str


def _sample(users: ExposedUsers, variant: str, metric: str) -> VariantSample | None:
    rows = users.of_variant(variant)
    values = users.columns[metric][rows]
    keep = ~np.isnan(values)
    if not keep.any():
        return None
    denominators = users.columns.get(f"{metric}_denominator")
    covariate = users.columns.get(f"{metric}_pre")
    return VariantSample(
        variant,
        values[keep],
        denominators=None if denominators is None else denominators[rows][keep],
        covariate=None if covariate is None else covariate[rows][keep],
    )


def _usable(sample: VariantSample | None, kind: str) -> bool:
    """Whether a variant has data for the metric (a ratio needs some denominator)."""
    if sample is None:
        return False
    return kind != "ratio" or (
        sample.denominators is not None and float(sample.denominators.sum()) > 0
    )


def _metric_result(
    experiment: Experiment, users: ExposedUsers, metric: str
) -> tuple[list[VariantSummary], list[tuple[str, Comparison]]]:
    kind = METRICS[metric].kind
    control = _sample(users, experiment.control.name, metric)
    summaries: list[VariantSummary] = []
    comparisons: list[tuple[str, Comparison]] = []
    for variant in experiment.spec.variants:
        sample = _sample(users, variant.name, metric)
        if sample is None or not _usable(sample, kind):
            continue
        summaries.append(summarise(sample, kind))
        if control is not None and _usable(control, kind) and variant != experiment.control:
            comparisons.append(
                (variant.name, compare(control, sample, kind=kind, alpha=experiment.spec.alpha))
            )
    return summaries, comparisons


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def _lift_text(comparison: Comparison) -> str:
    relative = comparison.relative_lift
    if relative is not None and relative.lower is not None and relative.upper is not None:
        return (
            f"{_percent(relative.estimate)} ({1 - comparison.alpha:.0%} CI "
            f"{_percent(relative.lower)} to {_percent(relative.upper)})"
        )
    absolute = comparison.absolute_lift
    return f"{absolute.estimate:+.4g}"


def _users_needed(summary: VariantSummary, kind: str, alpha: float) -> int | None:
    """Users per variant to detect a :data:`MINIMUM_DETECTABLE_LIFT` relative change."""
    try:
        if kind == "proportion":
            if not 0 < summary.mean < 1:
                return None
            target = min(summary.mean * (1 + MINIMUM_DETECTABLE_LIFT), 0.999999)
            return sample_size_for_proportion_test(summary.mean, target, alpha=alpha)
        if summary.standard_deviation and summary.mean > 0:
            return sample_size_for_mean_test(
                summary.mean * MINIMUM_DETECTABLE_LIFT, summary.standard_deviation, alpha=alpha
            )
    except ValidationFailedError:
        return None
    return None


def analyse(
    store: Store,
    experiment: Experiment,
    *,
    end: datetime,
    attribution_window: timedelta = timedelta(hours=24),
) -> ExperimentResults:
    """The experiment's results as of ``end`` (see the module docstring)."""
    users = measure_exposed_users(
        store,
        experiment.experiment_id,
        end=end,
        observation_days=experiment.spec.observation_days,
        attribution_window=attribution_window,
    )
    spec = experiment.spec
    names = [variant.name for variant in spec.variants]
    exposed = store.exposure_counts(experiment.experiment_id, before=end)
    exposures = {name: exposed.get(name, 0) for name in names}
    measured = {name: int(users.of_variant(name).sum()) for name in names}
    sample_ratio = (
        sample_ratio_mismatch(
            [exposures[name] for name in names], [variant.weight for variant in spec.variants]
        )
        if sum(exposures.values()) > 0
        else None
    )
    metrics = [spec.primary_metric, *spec.guardrails]
    by_metric = {metric: _metric_result(experiment, users, metric) for metric in metrics}
    primary_p = [
        c.sequential.p_value if c.sequential is not None else None
        for _, c in by_metric[spec.primary_metric][1]
    ]
    present = [p for p in primary_p if p is not None]
    holm = iter(adjust_p_values(np.asarray(present), "holm").tolist() if present else [])
    primary_adjusted = [None if p is None else float(next(holm)) for p in primary_p]
    results: list[MetricResult] = []
    for metric in metrics:
        definition = METRICS[metric]
        summaries, comparisons = by_metric[metric]
        rows = []
        for index, (variant, comparison) in enumerate(comparisons):
            difference = comparison.absolute_lift.estimate
            improved = (difference > 0) == definition.higher_is_better
            sequential = comparison.sequential
            if metric == spec.primary_metric:
                p = primary_adjusted[index]
            else:  # one-sided toward harm: a guardrail only asks "did it get worse?"
                p = None if sequential is None else (1.0 if improved else sequential.p_value / 2)
            significant = p is not None and p < spec.alpha
            bayesian = comparison.bayesian
            chance = None
            if bayesian is not None:
                chance = (
                    bayesian.chance_to_win
                    if definition.higher_is_better
                    else 1.0 - bayesian.chance_to_win
                )
            rows.append(
                VariantComparison(
                    variant, comparison, p, significant, improved if significant else None, chance
                )
            )
        results.append(
            MetricResult(
                metric=metric,
                kind=definition.kind,
                description=definition.description,
                higher_is_better=definition.higher_is_better,
                primary=metric == spec.primary_metric,
                variants=summaries,
                comparisons=rows,
            )
        )
    verdicts = _verdicts(experiment, results, sample_ratio)
    return ExperimentResults(
        experiment_id=experiment.experiment_id,
        name=spec.name,
        status=experiment.status,
        end=end,
        exposures=exposures,
        measured=measured,
        sample_ratio=sample_ratio,
        metrics=results,
        verdicts=verdicts,
        summary=" ".join(verdict.text for verdict in verdicts) or "No user has been exposed yet.",
    )


def _verdicts(
    experiment: Experiment, results: list[MetricResult], sample_ratio: SampleRatioCheck | None
) -> list[VariantVerdict]:
    spec = experiment.spec
    control = experiment.control.name
    primary = results[0]
    verdicts: list[VariantVerdict] = []
    for variant in spec.variants[1:]:
        name = variant.name
        found = [c for c in primary.comparisons if c.variant == name]
        if sample_ratio is not None and sample_ratio.flagged:
            counts = ", ".join(
                f"{arm.name} {int(count):,}"
                for arm, count in zip(spec.variants, sample_ratio.observed_counts, strict=True)
            )
            verdicts.append(
                VariantVerdict(
                    name,
                    "invalid",
                    f"Do not trust this experiment: the users per variant ({counts}) "
                    f"do not match the weights (sample ratio mismatch, p = "
                    f"{sample_ratio.p_value:.2g}). Check how users are assigned and exposed.",
                    None,
                )
            )
            continue
        if not found:
            verdicts.append(
                VariantVerdict(
                    name,
                    "keep_running",
                    f"{name}: not enough data on {primary.metric} yet (users count once "
                    f"{spec.observation_days} days have passed since their first exposure).",
                    None,
                )
            )
            continue
        result = found[0]
        harmed = [
            metric.metric
            for metric in results[1:]
            for c in metric.comparisons
            if c.variant == name and c.better is False
        ]
        lift = _lift_text(result.comparison)
        chance = (
            f", chance to beat {control} {result.chance_to_be_better:.1%}"
            if result.chance_to_be_better is not None
            else ""
        )
        if result.better is True and not harmed:
            decision: Decision = "ship"
            text = (
                f"{name} beats {control} on {primary.metric}: {lift}{chance}. "
                f"No guardrail got worse. Ship {name}."
            )
        elif result.better is True:
            decision = "keep_control"
            text = (
                f"{name} beats {control} on {primary.metric} ({lift}) but makes "
                f"{', '.join(harmed)} worse: do not ship it as it is."
            )
        elif result.better is False:
            decision = "keep_control"
            text = f"{name} is worse than {control} on {primary.metric}: {lift}. Keep {control}."
        elif harmed:
            decision = "keep_control"
            text = (
                f"{name} shows no clear change on {primary.metric} ({lift}) and makes "
                f"{', '.join(harmed)} worse. Keep {control}."
            )
        else:
            decision = "keep_running"
            text = (
                f"No clear difference between {name} and {control} on {primary.metric} "
                f"yet: {lift}{chance}; the always-valid test, which allows looking every "
                "day, does not decide yet. Keep it running."
            )
        needed = _users_needed(result.comparison.control, primary.kind, spec.alpha)
        if decision == "keep_running" and needed is not None:
            text += f" About {needed:,} users per variant detect a 5% change."
        verdicts.append(VariantVerdict(name, decision, text, needed))
    return verdicts


__all__ = [
    "Decision",
    "ExperimentResults",
    "MetricResult",
    "VariantComparison",
    "VariantVerdict",
    "analyse",
]
