"""``shopsense experiments``: create, list, show, start, stop an A/B experiment and read
its results with the verdict.

The store allows one writing process: while ``shopsense serve`` runs, change
experiments through its API (``/v1/experiments``), which also reloads serving.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shopsense.cli_context import command_settings, command_store
from shopsense.core.errors import ValidationFailedError, describe_validation_error
from shopsense.experiments.design import Experiment, ExperimentSpec
from shopsense.experiments.results import ExperimentResults
from shopsense.experiments.service import ExperimentService

experiments_app = typer.Typer(
    name="experiments",
    help="A/B experiments of recommendation strategies, with a sound statistics engine.",
    no_args_is_help=True,
)
console = Console()
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
ExperimentId = Annotated[str, typer.Argument(help="The experiment's id.")]


def parse_variant(text: str) -> dict[str, Any]:
    """``name[:model[:weight]]`` as a variant: ``control``, ``B:als``, ``B:als:0.3``,
    ``A::0.7`` (no model: the scenario's own)."""
    name, _, rest = text.partition(":")
    model, _, weight = rest.partition(":")
    variant: dict[str, Any] = {"name": name}
    if model:
        variant["model"] = model
    if weight:
        try:
            variant["weight"] = float(weight)
        except ValueError:
            raise ValidationFailedError(
                f"variant {text!r}: the weight {weight!r} is not a number "
                "(write name:model:weight, e.g. B:als:0.5)"
            ) from None
    return variant


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, default=str))


def _experiment_line(experiment: Experiment) -> str:
    spec = experiment.spec
    variants = ", ".join(f"{v.name} ({v.model or 'default'}, {v.weight:g})" for v in spec.variants)
    return escape(
        f"{experiment.experiment_id}  {spec.name!r}  [{experiment.status}]  "
        f"scenario {spec.scenario}  primary {spec.primary_metric}  variants: {variants}"
    )


@experiments_app.command("create")
def create_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="A name people recognise.")],
    variant: Annotated[
        list[str],
        typer.Option(help="name[:model[:weight]], repeat for each; the first is the control."),
    ],
    scenario: Annotated[str, typer.Option(help="home, item, cart or buy-again.")] = "home",
    primary: Annotated[str, typer.Option(help="The primary metric.")] = "conversion",
    guardrail: Annotated[
        list[str] | None, typer.Option(help="A guardrail metric (repeatable).")
    ] = None,
    description: Annotated[str, typer.Option(help="What is tested and why.")] = "",
    alpha: Annotated[float, typer.Option(help="Significance level.")] = 0.05,
    as_json: AsJson = False,
) -> None:
    """Create a draft experiment (start it with `shopsense experiments start ID`)."""
    body: dict[str, Any] = {
        "name": name,
        "description": description,
        "scenario": scenario,
        "variants": [parse_variant(text) for text in variant],
        "primary_metric": primary,
        "alpha": alpha,
    }
    if guardrail is not None:
        body["guardrails"] = guardrail
    try:
        spec = ExperimentSpec.model_validate(body)
    except ValidationError as error:
        raise ValidationFailedError(describe_validation_error(error)) from None
    with command_store(ctx) as store:
        experiment = ExperimentService(store).create(spec)
    if as_json:
        _echo_json(experiment.model_dump(mode="json"))
    else:
        console.print(f"created {_experiment_line(experiment)}")


@experiments_app.command("list")
def list_command(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Every experiment, oldest first."""
    with command_store(ctx) as store:
        experiments = ExperimentService(store).list()
    if as_json:
        _echo_json([experiment.model_dump(mode="json") for experiment in experiments])
        return
    if not experiments:
        console.print("no experiments yet: `shopsense experiments create --help`")
    for experiment in experiments:
        console.print(_experiment_line(experiment))


@experiments_app.command("show")
def show_command(ctx: typer.Context, experiment_id: ExperimentId, as_json: AsJson = False) -> None:
    """One experiment's definition and status."""
    with command_store(ctx) as store:
        experiment = ExperimentService(store).get(experiment_id)
    if as_json:
        _echo_json(experiment.model_dump(mode="json"))
    else:
        console.print(_experiment_line(experiment))


@experiments_app.command("start")
def start_command(ctx: typer.Context, experiment_id: ExperimentId) -> None:
    """Start serving its variants (a running server picks it up at its next model reload;
    while one runs, start through the API instead, which reloads at once)."""
    with command_store(ctx) as store:
        experiment = ExperimentService(store).start(experiment_id)
    console.print(f"started {_experiment_line(experiment)}")


@experiments_app.command("stop")
def stop_command(ctx: typer.Context, experiment_id: ExperimentId) -> None:
    """Stop it; its results count up to now."""
    with command_store(ctx) as store:
        experiment = ExperimentService(store).stop(experiment_id)
    console.print(f"stopped {_experiment_line(experiment)}")


def render_results(results: ExperimentResults) -> None:
    """Exposures, the sample-ratio check, one table per metric, and the verdict."""
    exposures = ", ".join(f"{name} {count:,}" for name, count in results.exposures.items())
    console.print(
        f"[bold]{results.name}[/bold] [{results.status}] up to {results.end:%Y-%m-%d %H:%M}"
    )
    console.print(f"exposed users: {exposures}")
    if results.sample_ratio is not None:
        check = results.sample_ratio
        flag = "[bold red]MISMATCH[/bold red]" if check.flagged else "ok"
        console.print(f"sample ratio: {flag} (chi-square p = {check.p_value:.3g})")
    for metric in results.metrics:
        title = escape(
            f"{metric.metric}{' (primary)' if metric.primary else ''}: {metric.description}"
        )
        table = Table(title=title)
        for column in (
            "variant",
            "users",
            "mean",
            "lift",
            "95% CI",
            "p",
            "p (decision)",
            "chance to win",
            "CUPED",
        ):
            table.add_column(column, justify="left" if column == "variant" else "right")
        compared = {row.variant: row for row in metric.comparisons}
        for summary in metric.variants:
            row = compared.get(summary.name)
            cells = [summary.name, f"{summary.n_users:,}", f"{summary.mean:.4g}"]
            if row is None:
                cells += ["control", "", "", "", "", ""]
            else:
                comparison = row.comparison
                relative = comparison.relative_lift
                lift, interval = f"{comparison.absolute_lift.estimate:+.4g}", ""
                if relative is not None:
                    lift = f"{relative.estimate:+.1%}"
                    if relative.lower is not None and relative.upper is not None:
                        interval = f"{relative.lower:+.1%} .. {relative.upper:+.1%}"
                reduction = comparison.cuped.variance_reduction if comparison.cuped else None
                cells += [
                    lift,
                    interval,
                    "" if comparison.p_value is None else f"{comparison.p_value:.3g}",
                    "" if row.decision_p_value is None else f"{row.decision_p_value:.3g}",
                    "" if row.chance_to_be_better is None else f"{row.chance_to_be_better:.1%}",
                    "" if reduction is None else f"-{reduction:.0%} var",
                ]
            table.add_row(*cells)
        console.print(table)
    for verdict in results.verdicts:
        console.print(f"[bold]{verdict.decision}[/bold]: {escape(verdict.text)}")


@experiments_app.command("results")
def results_command(
    ctx: typer.Context,
    experiment_id: ExperimentId,
    end: Annotated[
        datetime | None,
        typer.Option(help="Measure up to this instant, UTC (default: when it stopped, or now)."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Per metric and variant: lift with intervals, p-values, chance to win; the verdict."""
    settings = command_settings(ctx)
    with command_store(ctx) as store:
        results = ExperimentService(store).results(
            experiment_id,
            end=end.replace(tzinfo=UTC) if end is not None and end.tzinfo is None else end,
            attribution_window=timedelta(hours=settings.analytics.attribution_window_hours),
        )
    if as_json:
        _echo_json(TypeAdapter(ExperimentResults).dump_python(results, mode="json"))
    else:
        render_results(results)


__all__ = ["experiments_app", "parse_variant", "render_results"]
