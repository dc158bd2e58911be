"""``shopsense customers`` (train, show, segments, at-risk) and ``shopsense predict``
(churn and CLV predictions on a benchmark protocol, dumped for independent re-scoring).

Typer sub-apps that :mod:`shopsense.cli` mounts; the settings come from the parent's
``ctx.obj``. What they print is what the API answers: both build the same
:mod:`shopsense.serve.schemas` models through :mod:`shopsense.serve.customers`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from shopsense.cli_context import command_settings, command_store
from shopsense.store import Store

if TYPE_CHECKING:  # the models behind them load at run time, not for `--help`
    from shopsense.serve.customers import CustomerInsights
    from shopsense.serve.schemas import AtRiskOut, CustomerInsight, SegmentsOut

customers_app = typer.Typer(
    name="customers",
    help="Customer intelligence: segments, churn risk, value, next purchase.",
    no_args_is_help=True,
)
predict_app = typer.Typer(
    name="predict",
    help="Churn and CLV predictions on a benchmark protocol, one JSON line per customer.",
    no_args_is_help=True,
)
console = Console()
error_console = Console(stderr=True)


def _insights(ctx: typer.Context, store: Store) -> CustomerInsights:
    from shopsense.serve.customers import CustomerInsights  # noqa: PLC0415

    insights = CustomerInsights(store, command_settings(ctx).customers)
    insights.reload()
    return insights


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"


# -- train --------------------------------------------------------------------------------

LABELS = {
    "learned": "learned (LightGBM)",
    "recency": "recency only",
    "bgnbd": "BG/NBD",
    "probabilistic": "BG/NBD x Gamma-Gamma",
}
"""How the holdout metrics' model names read."""
ORDER = {name: rank for rank, name in enumerate(LABELS)}


def render_customer_metrics(metrics: dict[str, Any]) -> None:
    """The holdout table of a customer-model training: each model beside its baselines."""
    churn = Table(title=f"churn in {metrics['horizon_days']} days (held-out customers)")
    for column in ("model", "ROC-AUC", "PR-AUC", "Brier", "log loss"):
        churn.add_column(column, justify="left" if column == "model" else "right")
    for name, values in sorted(metrics["churn"].items(), key=lambda pair: ORDER[pair[0]]):
        churn.add_row(
            LABELS[name],
            *(f"{values[key]:.4f}" for key in ("roc_auc", "pr_auc", "brier", "log_loss")),
        )
    console.print(churn)
    spend = Table(title=f"spend in {metrics['horizon_days']} days (held-out customers)")
    for column in ("model", "MAE", "RMSE", "Spearman"):
        spend.add_column(column, justify="left" if column == "model" else "right")
    for name, values in sorted(metrics["spend"].items(), key=lambda pair: ORDER[pair[0]]):
        chosen = " (serves)" if name == metrics["spend_choice"] else ""
        spend.add_row(
            LABELS[name] + chosen,
            f"{values['mae']:,.2f}",
            f"{values['rmse']:,.2f}",
            f"{values['spearman']:.4f}",
        )
    console.print(spend)


@customers_app.command()
def train(ctx: typer.Context) -> None:
    """Train the customer models on the store, score every customer, register them."""
    from shopsense.cli import progress_bar  # noqa: PLC0415  # the parent imports this module
    from shopsense.training.customers import train_customer_models  # noqa: PLC0415

    with command_store(ctx) as store, progress_bar("customer models", unit="steps") as progress:
        run = train_customer_models(store, command_settings(ctx), progress=progress)
    render_customer_metrics(run.metrics)
    console.print(
        f"registered customers v{run.version.version}: {len(run.scores):,} customers scored "
        f"as of {run.metrics['as_of']} (fit {run.fit_seconds:.1f} s)"
    )


# -- show ---------------------------------------------------------------------------------


def render_insight(user_id: str, insight: CustomerInsight) -> None:
    segment, churn, value, upcoming = (
        insight.segment,
        insight.churn,
        insight.value,
        insight.next_purchase,
    )
    console.print(f"[bold]{user_id}[/bold]  as of {insight.as_of:%Y-%m-%d}")
    console.print(
        f"segment      [bold]{segment.name}[/bold] (R{segment.r_score} F{segment.f_score} "
        f"M{segment.m_score}): {segment.description}"
    )
    console.print(f"cluster      {segment.cluster_name}")
    console.print(
        f"churn risk   [bold]{churn.level}[/bold] {churn.probability:.0%} "
        f"(no purchase in {churn.horizon_days} days)"
    )
    for driver in churn.drivers:
        sign = "[red]+[/red]" if driver.risk else "[green]-[/green]"
        console.print(f"             {sign} {driver.text}")
    console.print(
        f"value        {value.expected_purchases:.2f} purchases and "
        f"{_money(value.expected_spend)} expected in {value.horizon_days} days "
        f"({value.spend_model or 'no prices'}); CLV {value.clv_horizon_days} days "
        f"{_money(value.clv)}"
    )
    if upcoming.expected_in_days is None or upcoming.expected_date is None:
        when = "unknown (too little history)"
    elif upcoming.expected_in_days < 1:
        when = "due now (overdue by their usual rhythm)"
    else:
        when = f"in {upcoming.expected_in_days:.0f} days ({upcoming.expected_date:%Y-%m-%d})"
    alive = (
        "one purchase so far" if upcoming.p_alive is None else f"P(alive) {upcoming.p_alive:.0%}"
    )
    console.print(f"next purchase {when}; {alive}")
    for item in upcoming.repeat_items:
        due = "overdue since" if item.expected_next < insight.as_of else "next"
        console.print(
            f"             re-buys {item.title or item.item_id} ({item.item_id}) every "
            f"{item.every_days:.0f} days, {due} ~{item.expected_next:%Y-%m-%d}"
        )
    console.print(f"action       {segment.action}")


def render_interests(interests: dict[str, Any]) -> None:
    for kind in ("categories", "brands"):
        ranked = interests.get(kind) or []
        if ranked:
            words = ", ".join(f"{entry['name']} {entry['weight']:.0%}" for entry in ranked)
            console.print(f"{kind:<12} {words}")
    price = interests.get("price")
    if price:
        console.print(f"price band   {price['band']} (median {price['median']:,.2f})")


@customers_app.command()
def show(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The customer's user_id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """One customer: segment, churn risk and its drivers, value, next purchase,
    interests, and the suggested action."""
    from shopsense.serve.profiles import build_profile  # noqa: PLC0415
    from shopsense.serve.state import ServerState  # noqa: PLC0415

    with command_store(ctx) as store:
        server = ServerState(command_settings(ctx), store)
        server.load()
        profile = build_profile(server, user_id)
    if as_json:
        console.print_json(profile.model_dump_json())
        return
    if profile.customer is None:
        console.print(f"{user_id}: {profile.customer_note}")
    else:
        render_insight(user_id, profile.customer)
    render_interests(profile.interests.model_dump())


# -- segments -----------------------------------------------------------------------------


def render_segments(overview: SegmentsOut) -> None:
    table = Table(
        title=f"RFM segments: {overview.customers:,} customers as of {overview.as_of:%Y-%m-%d}"
    )
    for column in ("segment", "customers", "share", "churn", "spend", "CLV", "recency d"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for segment in overview.rfm:
        table.add_row(
            segment.name,
            f"{segment.customers:,}",
            f"{segment.share:.1%}",
            f"{segment.churn_probability:.0%}",
            _money(segment.expected_spend),
            _money(segment.clv),
            f"{segment.recency_days:.0f}",
        )
    console.print(table)
    console.print("[bold]what to do[/bold]")
    for segment in overview.rfm:
        console.print(f"  {segment.name}: {segment.action}")
    if overview.clusters:
        clusters = Table(title="learned behavioural clusters")
        for column in ("#", "name", "customers", "share", "churn", "description"):
            clusters.add_column(column, justify="right" if column != "description" else "left")
        for cluster in overview.clusters:
            clusters.add_row(
                str(cluster.cluster),
                cluster.name,
                f"{cluster.customers:,}",
                f"{cluster.share:.1%}",
                f"{cluster.churn_probability:.0%}",
                cluster.description,
            )
        console.print(clusters)


@customers_app.command()
def segments(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """Every RFM segment and learned cluster: size, churn, value, suggested action."""
    with command_store(ctx) as store:
        overview = _insights(ctx, store).segments()
    if as_json:
        console.print_json(overview.model_dump_json())
    else:
        render_segments(overview)


# -- at-risk ------------------------------------------------------------------------------


def render_at_risk(report: AtRiskOut) -> None:
    """One block per customer: the lists are read by people, and the reasons and the
    win-back items are too long for table cells."""
    console.print(f"[bold]valuable customers at risk[/bold]: {report.criteria}")
    for rank, customer in enumerate(report.customers, start=1):
        console.print(
            f"\n{rank}. [bold]{customer.user_id}[/bold]  churn {customer.churn_probability:.0%}"
            f"  worth {_money(customer.annual_value)}/year  at risk "
            f"{_money(customer.value_at_risk)}  CLV {_money(customer.clv)}"
            f"  ({customer.segment})"
        )
        if customer.drivers:
            console.print(f"   why:      {'; '.join(customer.drivers)}")
        console.print(f"   action:   {customer.action}")
        if customer.win_back:
            titles = ", ".join(item.title or item.item_id for item in customer.win_back)
            console.print(f"   win back: {titles}")
    if not report.customers:
        console.print("none: no valuable customer is at risk now")


@customers_app.command("at-risk")
def at_risk(
    ctx: typer.Context,
    top: Annotated[int, typer.Option(min=1, help="How many customers.")] = 20,
    win_back: Annotated[
        bool, typer.Option("--win-back/--no-win-back", help="Add personal win-back items.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
) -> None:
    """The valuable customers most likely to churn, with why, what to do, and a
    personal win-back list from the recommendation engine."""
    from shopsense.serve.routers.users import win_back_items  # noqa: PLC0415
    from shopsense.serve.state import ServerState  # noqa: PLC0415

    with command_store(ctx) as store:
        server = ServerState(command_settings(ctx), store)
        server.load()
        report = server.customers.at_risk(
            top,
            win_back=(lambda user, n: win_back_items(server, user, n)) if win_back else None,
        )
    if as_json:
        console.print_json(report.model_dump_json())
    else:
        render_at_risk(report)


# -- predict ------------------------------------------------------------------------------


def _predict(protocol: str, dataset: Path, dump: Path | None, what: str) -> None:
    from shopsense.evaluation.customers import evaluate_churn, load_churn_protocol  # noqa: PLC0415

    with console.status(f"fitting the customer models on {protocol}"):
        evaluation = evaluate_churn(load_churn_protocol(protocol, dataset))
    metrics = evaluation.churn if what == "churn" else evaluation.spend
    table = Table(title=f"{protocol}: {what} on {len(evaluation.predictions):,} customers")
    first = next(iter(metrics.values()))
    table.add_column("model")
    for key in first:
        table.add_column(key, justify="right")
    for name, values in metrics.items():
        table.add_row(name, *(f"{value:,.4f}" for value in values.values()))
    console.print(table)
    if dump is not None:
        records = evaluation.dump_records()
        with dump.open("w") as out:
            for record in records:
                out.write(json.dumps(record) + "\n")
        console.print(f"{len(records):,} predictions written to {dump}")


@predict_app.command()
def churn(
    protocol: Annotated[str, typer.Option(help="The benchmark protocol: retail-churn.")],
    dataset: Annotated[Path, typer.Option(help="The dataset file of the protocol.")],
    dump: Annotated[Path | None, typer.Option(help="Write one JSON line per customer.")] = None,
) -> None:
    """Churn probabilities of the protocol's test customers, and their metrics."""
    _predict(protocol, dataset, dump, "churn")


@predict_app.command()
def clv(
    protocol: Annotated[str, typer.Option(help="The benchmark protocol: retail-churn.")],
    dataset: Annotated[Path, typer.Option(help="The dataset file of the protocol.")],
    dump: Annotated[Path | None, typer.Option(help="Write one JSON line per customer.")] = None,
) -> None:
    """Expected spend of the protocol's test customers over its window, and metrics."""
    _predict(protocol, dataset, dump, "clv")


__all__ = ["customers_app", "predict_app"]
