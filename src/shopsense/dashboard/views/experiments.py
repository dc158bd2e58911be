"""The dashboard's experiments pages: every experiment with a form to create one, and an
experiment's page with its definition, its results and its verdict.

Reads, creation and results come from :class:`ExperimentService` as the API's do;
starting and stopping go through :func:`~shopsense.serve.routers.experiments.change_experiment`,
the one locked path that also reloads serving, and results through
:func:`~shopsense.serve.routers.experiments.experiment_results`, so a page shows what
``GET /v1/experiments/{id}/results`` answers for the same ``end``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from typing import Annotated, Any, Literal, get_args

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from shopsense.core.errors import ValidationFailedError
from shopsense.dashboard.i18n import Translator
from shopsense.dashboard.web import (
    Viewer,
    admin_or_error,
    page_router,
    render,
    safe_next,
    server_of,
    translator_of,
    viewer_or_redirect,
)
from shopsense.experiments.design import (
    DEFAULT_GUARDRAILS,
    DEFAULT_OBSERVATION_DAYS,
    METRICS,
    Experiment,
    ExperimentSpec,
    Scenario,
)
from shopsense.experiments.results import ExperimentResults, MetricResult, VariantComparison
from shopsense.experiments.service import ExperimentService
from shopsense.experiments.stats import LiftEstimate
from shopsense.models.recommend.registry import RECOMMENDERS
from shopsense.serve.routers.experiments import change_experiment, experiment_results
from shopsense.serve.state import ServerState
from shopsense.store.base import Store
from shopsense.training.recommenders import BEST_MODEL

router = page_router()

VARIANT_ROWS = 4
"""Variant rows of the create form: the control and up to three treatments."""
SCENARIOS: tuple[str, ...] = get_args(Scenario)
SMALLEST_P_VALUE_SHOWN = 0.001


# --- the create form -------------------------------------------------------------------


@dataclass(frozen=True)
class VariantRow:
    """One variant row of the form, as typed (a blank name leaves the row out)."""

    name: str = ""
    model: str = ""
    weight: str = "1"


def _default_rows() -> tuple[VariantRow, ...]:
    blank = (VariantRow(),) * (VARIANT_ROWS - 2)
    return (VariantRow(name="control"), VariantRow(name="treatment"), *blank)


@dataclass(frozen=True)
class ExperimentForm:
    """The create form's fields as text, so that a refused form comes back as it was
    typed; :meth:`spec` validates them with the API's own :class:`ExperimentSpec`."""

    name: str = ""
    description: str = ""
    scenario: str = "home"
    variants: tuple[VariantRow, ...] = _default_rows()
    primary_metric: str = "conversion"
    guardrails: tuple[str, ...] = DEFAULT_GUARDRAILS
    alpha: str = "0.05"
    observation_days: str = str(DEFAULT_OBSERVATION_DAYS)

    @classmethod
    def from_form(cls, form: FormData) -> ExperimentForm:
        def text(key: str) -> str:
            value = form.get(key)
            return value.strip() if isinstance(value, str) else ""

        def texts(key: str) -> list[str]:
            return [value.strip() for value in form.getlist(key) if isinstance(value, str)]

        rows = tuple(
            VariantRow(name=name or "", model=model or "", weight=weight or "")
            for name, model, weight in zip_longest(
                texts("variant_name"), texts("variant_model"), texts("variant_weight")
            )
        )
        return cls(
            name=text("name"),
            description=text("description"),
            scenario=text("scenario"),
            variants=rows + (VariantRow(),) * max(0, VARIANT_ROWS - len(rows)),
            primary_metric=text("primary_metric"),
            guardrails=tuple(texts("guardrail")),
            alpha=text("alpha"),
            observation_days=text("observation_days"),
        )

    def filled(self) -> list[tuple[int, VariantRow]]:
        """The rows with a name, with their row numbers (from 1)."""
        return [(number, row) for number, row in enumerate(self.variants, 1) if row.name]

    def spec(self) -> ExperimentSpec:
        """The experiment asked for; a :class:`pydantic.ValidationError` says what is
        wrong."""
        return ExperimentSpec.model_validate(
            {
                "name": self.name,
                "description": self.description,
                "scenario": self.scenario,
                "variants": [
                    {"name": row.name, "model": row.model or None, "weight": row.weight or "1"}
                    for _, row in self.filled()
                ],
                "primary_metric": self.primary_metric,
                "guardrails": list(self.guardrails),
                "alpha": self.alpha,
                "observation_days": self.observation_days,
            }
        )

    def problems(self, error: ValidationError, t: Translator) -> list[str]:
        """Each of ``error``'s complaints, named by the field of the form it is about."""
        numbers = [number for number, _ in self.filled()]
        messages = []
        for problem in error.errors():
            location = problem["loc"]
            message = str(problem["msg"]).removeprefix("Value error, ")
            if not location:
                messages.append(message)
                continue
            field = str(location[0])
            label = t(f"experiments.field.{field}")
            if field == "variants" and len(location) >= 3 and isinstance(location[1], int):
                row = numbers[location[1]] if location[1] < len(numbers) else location[1] + 1
                part = t(f"experiments.field.variant_{location[2]}")
                label = f"{t('experiments.field.variant', n=row)} · {part}"
            messages.append(f"{label}: {message}")
        return messages


def model_choices(store: Store) -> list[str]:
    """The registered recommenders a variant may name (those with a serving version,
    what starting an experiment checks), ``best`` first."""
    serving = {v.name for v in store.list_models() if v.serving}
    named = sorted(name for name in serving if name in RECOMMENDERS)
    return [BEST_MODEL, *named] if BEST_MODEL in serving else named


# --- the list ---------------------------------------------------------------------------


def experiment_list(store: Store) -> list[dict[str, Any]]:
    """Every experiment, newest first, with the users exposed to each variant so far."""
    experiments = sorted(ExperimentService(store).list(), key=lambda e: e.created_at, reverse=True)
    rows = []
    for experiment in experiments:
        exposures = (
            store.exposure_counts(experiment.experiment_id) if experiment.status != "draft" else {}
        )
        rows.append(
            {
                "experiment": experiment,
                "variants": variant_rows(experiment, exposures),
                "exposed": sum(exposures.values()) if experiment.status != "draft" else None,
            }
        )
    return rows


def variant_rows(experiment: Experiment, exposures: dict[str, int]) -> list[dict[str, Any]]:
    """Each variant with its share of traffic and the users exposed to it."""
    total_weight = sum(variant.weight for variant in experiment.spec.variants)
    return [
        {
            "name": variant.name,
            "model": variant.model,
            "weight": variant.weight,
            "share": variant.weight / total_weight,
            "control": index == 0,
            "exposed": exposures.get(variant.name, 0),
        }
        for index, variant in enumerate(experiment.spec.variants)
    ]


def list_page(store: Store) -> dict[str, Any]:
    return {
        "experiments": experiment_list(store),
        "models": model_choices(store),
    }


# --- the results ------------------------------------------------------------------------


def _signed(text: str, value: float) -> str:
    return f"+{text}" if value > 0 else text


def format_value(t: Translator, metric: str, kind: str, value: float | None) -> str:
    """A metric's value per user the way it reads: a share, money or a count."""
    if kind in ("proportion", "ratio"):
        return t.percent(value, 2)
    if metric == "revenue_per_user":
        return t.money(value)
    return t.number(value, 3)


def format_difference(t: Translator, metric: str, kind: str, value: float | None) -> str:
    """A difference of two values of the metric, signed (shares in percentage points)."""
    if value is None:
        return "–"
    if kind in ("proportion", "ratio"):
        return t("experiments.points", value=_signed(t.number(value * 100, 2), value))
    if metric == "revenue_per_user":
        return _signed(t.money(value), value)
    return _signed(t.number(value, 3), value)


def format_relative(t: Translator, value: float | None) -> str:
    return "–" if value is None else _signed(t.percent(value, 1), value)


def format_p_value(t: Translator, value: float | None) -> str:
    if value is None:
        return "–"
    if value < SMALLEST_P_VALUE_SHOWN:
        return f"< {t.number(SMALLEST_P_VALUE_SHOWN, 3)}"
    return t.number(value, 3)


def p_value_relation(t: Translator, value: float) -> str:
    """``"= 0.424"`` or ``"< 0.001"``: a p-value to put after "p" in a sentence."""
    text = format_p_value(t, value)
    return text if text.startswith("<") else f"= {text}"


def _interval(t: Translator, lift: LiftEstimate | None, show: Any) -> str:
    if lift is None or lift.lower is None or lift.upper is None:
        return ""
    return t("experiments.interval", lower=show(lift.lower), upper=show(lift.upper))


def _bars(comparisons: list[VariantComparison]) -> dict[str, dict[str, float]]:
    """Where each treatment's lift interval sits on a scale around zero shared by the
    metric's treatments (percent of the width): relative lifts when every treatment
    has one, else absolute ones."""
    relative = all(
        c.comparison.relative_lift is not None and c.comparison.relative_lift.lower is not None
        for c in comparisons
    )
    lifts = {
        c.variant: (c.comparison.relative_lift if relative else c.comparison.absolute_lift)
        for c in comparisons
    }
    bounds = [
        abs(value)
        for lift in lifts.values()
        if lift is not None
        for value in (lift.estimate, lift.lower, lift.upper)
        if value is not None
    ]
    scale = max(bounds, default=0.0) or 1.0

    def position(value: float) -> float:
        return round(min(100.0, max(0.0, 50.0 + 50.0 * value / scale)), 2)

    bars = {}
    for variant, lift in lifts.items():
        if lift is None:
            continue
        lower = lift.lower if lift.lower is not None else lift.estimate
        upper = lift.upper if lift.upper is not None else lift.estimate
        bars[variant] = {
            "left": position(lower),
            "width": max(0.5, position(upper) - position(lower)),
            "point": position(lift.estimate),
        }
    return bars


def _comparison(
    t: Translator, metric: MetricResult, row: VariantComparison, bar: dict[str, float] | None
) -> dict[str, Any]:
    comparison = row.comparison
    absolute, relative = comparison.absolute_lift, comparison.relative_lift

    def difference(value: float) -> str:
        return format_difference(t, metric.metric, metric.kind, value)

    def ratio(value: float) -> str:
        return format_relative(t, value)

    cuped = comparison.cuped
    return {
        "absolute": absolute.estimate,
        "absolute_text": difference(absolute.estimate),
        "absolute_interval": _interval(t, absolute, difference),
        "relative": relative.estimate if relative is not None else None,
        "relative_text": format_relative(t, relative.estimate if relative else None),
        "relative_interval": _interval(t, relative, ratio),
        "p_value": comparison.p_value,
        "p_value_text": format_p_value(t, comparison.p_value),
        "decision_p_value": row.decision_p_value,
        "decision_p_value_text": format_p_value(t, row.decision_p_value),
        "chance": row.chance_to_be_better,
        "variance_reduction": cuped.variance_reduction if cuped is not None else None,
        "significant": row.significant,
        "better": row.better,
        "bar": bar,
    }


def metric_view(t: Translator, metric: MetricResult) -> dict[str, Any]:
    """A metric's table: each variant's users and mean, and each treatment's comparison
    with the control."""
    bars = _bars(metric.comparisons)
    by_variant = {row.variant: row for row in metric.comparisons}
    rows = []
    for index, summary in enumerate(metric.variants):
        compared = by_variant.get(summary.name)
        rows.append(
            {
                "variant": summary.name,
                "control": index == 0,
                "n_users": summary.n_users,
                "mean": summary.mean,
                "mean_text": format_value(t, metric.metric, metric.kind, summary.mean),
                "standard_error": summary.standard_error,
                "standard_error_text": format_value(
                    t, metric.metric, metric.kind, summary.standard_error
                ),
                "comparison": (
                    _comparison(t, metric, compared, bars.get(summary.name))
                    if compared is not None
                    else None
                ),
            }
        )
    return {
        "metric": metric.metric,
        "kind": metric.kind,
        "primary": metric.primary,
        "higher_is_better": metric.higher_is_better,
        "rows": rows,
        "empty": not metric.comparisons,
    }


def results_view(
    t: Translator, experiment: Experiment, results: ExperimentResults
) -> dict[str, Any]:
    """What the results section shows: exposures and the sample-ratio check, the
    verdict per treatment, and every metric's table."""
    check = results.sample_ratio
    exposures = []
    for index, row in enumerate(variant_rows(experiment, results.exposures)):
        expected = check.expected_counts[index] if check is not None else None
        exposures.append({**row, "expected": expected, "measured": results.measured[row["name"]]})
    metrics = [metric_view(t, metric) for metric in results.metrics]
    primary = next(metric for metric in metrics if metric["primary"])
    primary_by_variant = {row["variant"]: row["comparison"] for row in primary["rows"]}
    verdicts = [
        {
            "variant": verdict.variant,
            "decision": verdict.decision,
            "text": verdict.text,
            "users_needed": verdict.users_needed,
            "primary": primary_by_variant.get(verdict.variant),
        }
        for verdict in results.verdicts
    ]
    return {
        "end": results.end,
        "exposures": exposures,
        "total_exposed": sum(results.exposures.values()),
        "total_measured": sum(results.measured.values()),
        "sample_ratio": check,
        "sample_ratio_p_text": p_value_relation(t, check.p_value) if check is not None else "",
        "metrics": metrics,
        "primary": primary,
        "verdicts": verdicts,
        "summary": results.summary,
    }


def parse_end(text: str | None, t: Translator) -> datetime | None:
    """The ``end`` of the results form: an ISO date-time, UTC when it names no zone."""
    if not text:
        return None
    try:
        end = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValidationFailedError(t("experiments.bad_end", value=text)) from error
    return end if end.tzinfo is not None else end.replace(tzinfo=UTC)


def experiment_page(
    server: ServerState, t: Translator, experiment_id: str, end: datetime | None
) -> dict[str, Any]:
    """An experiment's definition and, once started, its results up to ``end``."""
    experiment = ExperimentService(server.store).get(experiment_id)
    results = None
    exposures: dict[str, int] = {}
    if experiment.status != "draft":
        measured = experiment_results(server, experiment_id, end)
        results = results_view(t, experiment, measured)
        exposures = measured.exposures
    return {
        "experiment": experiment,
        "variants": variant_rows(experiment, exposures),
        "results": results,
        "end_text": end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M") if end is not None else "",
    }


# --- the routes -------------------------------------------------------------------------


def _render_list(
    request: Request,
    viewer: Viewer,
    data: dict[str, Any],
    form: ExperimentForm,
    problems: list[str],
) -> HTMLResponse:
    return render(
        request,
        "experiments.html",
        viewer,
        "experiments",
        form=form,
        problems=problems,
        scenarios=SCENARIOS,
        metrics=tuple(METRICS),
        **data,
    )


@router.get("/experiments", response_class=HTMLResponse)
async def experiments(request: Request) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    data = await asyncio.to_thread(list_page, server_of(request).store)
    return _render_list(request, viewer, data, ExperimentForm(), [])


@router.post("/experiments", response_class=HTMLResponse)
async def create(request: Request) -> Response:
    """Create a draft from the form and show it; a refused form comes back with why."""
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    submitted = await request.form()
    csrf = submitted.get("csrf")
    admin_or_error(request, viewer, csrf if isinstance(csrf, str) else "")
    form = ExperimentForm.from_form(submitted)
    store = server_of(request).store
    try:
        spec = form.spec()
    except ValidationError as error:
        data = await asyncio.to_thread(list_page, store)
        response = _render_list(
            request, viewer, data, form, form.problems(error, translator_of(request))
        )
        response.status_code = 422
        return response
    experiment = await asyncio.to_thread(ExperimentService(store).create, spec)
    return RedirectResponse(f"/experiments/{experiment.experiment_id}", status_code=303)


@router.get("/experiments/{experiment_id}", response_class=HTMLResponse)
async def experiment(
    request: Request,
    experiment_id: str,
    end: Annotated[str | None, Query(description="Measure up to this instant (UTC).")] = None,
) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    t = translator_of(request)
    until = parse_end(end, t)
    data = await asyncio.to_thread(experiment_page, server_of(request), t, experiment_id, until)
    return render(request, "experiment.html", viewer, "experiments", **data)


async def _change(
    request: Request, experiment_id: str, change: Literal["start", "stop"], csrf: str, next: str
) -> Response:
    viewer = viewer_or_redirect(request)
    if isinstance(viewer, RedirectResponse):
        return viewer
    admin_or_error(request, viewer, csrf)
    await asyncio.to_thread(change_experiment, server_of(request), change, experiment_id)
    return RedirectResponse(safe_next(next or f"/experiments/{experiment_id}"), status_code=303)


@router.post("/experiments/{experiment_id}/start")
async def start(
    request: Request,
    experiment_id: str,
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Start it (one running experiment per scenario) and go back."""
    return await _change(request, experiment_id, "start", csrf, next)


@router.post("/experiments/{experiment_id}/stop")
async def stop(
    request: Request,
    experiment_id: str,
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Stop it (the results count up to now) and go back."""
    return await _change(request, experiment_id, "stop", csrf, next)


__all__ = [
    "ExperimentForm",
    "VariantRow",
    "experiment_list",
    "experiment_page",
    "format_difference",
    "format_p_value",
    "format_relative",
    "format_value",
    "metric_view",
    "model_choices",
    "p_value_relation",
    "parse_end",
    "results_view",
    "router",
    "variant_rows",
]
