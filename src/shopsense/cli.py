"""The ``shopsense`` command: a thin shell over the library, with rich progress and tables.

Every command reads the settings once (``--data-dir`` / ``--store`` override them),
opens the store, calls the library and renders what it returns. Errors from the
:class:`~shopsense.core.errors.ShopsenseError` tree are shown as one readable line and
exit with status 2; nothing else is caught.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from shopsense import __version__
from shopsense.cli_analytics import analytics_app
from shopsense.cli_customers import customers_app, predict_app
from shopsense.cli_experiments import experiments_app
from shopsense.cli_keys import keys_app
from shopsense.core.errors import (
    ConfigurationError,
    ImportDataError,
    NotFoundError,
    ShopsenseError,
)
from shopsense.core.logging import configure_logging
from shopsense.core.settings import Settings, load_settings
from shopsense.data.importers import ImportOptions, get_importer, import_file
from shopsense.data.schemas import ValidationOptions
from shopsense.data.simulator import SimulationConfig, simulate_shop, write_to_store
from shopsense.evaluation import EvaluationResult, load_split
from shopsense.evaluation import evaluate as run_evaluation
from shopsense.evaluation.tuning import (
    DEFAULT_SEED,
    DEFAULT_TRIALS,
    primary_metric,
    read_tuned_params,
    tune,
)
from shopsense.models.recommend.registry import make_recommender
from shopsense.serve.security import create_api_key
from shopsense.store import Store, open_store
from shopsense.training import BEST_MODEL, Selection, TrainingRun, select_best, train_models
from shopsense.training.customers import train_customer_models

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="shopsense",
    help="shopsense: a self-hosted AI engine that makes online shoppers come back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(customers_app, name="customers")
app.add_typer(predict_app, name="predict")
app.add_typer(analytics_app, name="analytics")
app.add_typer(experiments_app, name="experiments")
console = Console()
error_console = Console(stderr=True)

ProgressCallback = Callable[[int, int | None], None]


@dataclass
class _State:
    settings: Settings


def _settings(ctx: typer.Context) -> Settings:
    state = ctx.ensure_object(_State)
    return state.settings


@contextmanager
def _open(ctx: typer.Context) -> Iterator[Store]:
    with open_store(_settings(ctx).resolved_store_url) as store:
        yield store


@contextmanager
def progress_bar(description: str, *, unit: str = "") -> Iterator[ProgressCallback]:
    """A rich progress bar, handed to library code as a ``progress(done, total)`` callback."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=error_console, transient=False) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _version(value: bool) -> None:
    if value:
        console.print(f"shopsense {__version__}")
        raise typer.Exit


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Directory of the embedded store (default: settings)."),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Store URL, e.g. duckdb:///srv/shop.duckdb."),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Settings come from SHOPSENSE_* variables and shopsense.toml; options override them."""
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if store is not None:
        overrides["store_url"] = store
    if log_level is not None:
        overrides["log_level"] = log_level.upper()
    settings = load_settings(**overrides)
    configure_logging(settings.log_level)
    ctx.obj = _State(settings=settings)


# -- init ----------------------------------------------------------------------------------


@app.command()
def init(ctx: typer.Context) -> None:
    """Create the data directory and an empty, migrated store (safe to run again)."""
    settings = _settings(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with _open(ctx) as store:
        version = store.schema_version()
    console.print(
        f"[green]ready[/green] store {settings.resolved_store_url} (schema version {version})"
    )


# -- stats ---------------------------------------------------------------------------------


def collect_stats(store: Store, *, top: int = 10) -> dict[str, Any]:
    """What ``shopsense stats`` shows, as plain data."""
    summary = store.event_summary()
    return {
        "store": store.url,
        "events": summary.n_events,
        "events_by_type": summary.by_type,
        "users_in_events": summary.n_users,
        "items_in_events": summary.n_items,
        "first_event": _timestamp(summary.first_ts),
        "last_event": _timestamp(summary.last_ts),
        "catalog_items": store.count_items(),
        "users": store.count_users(),
        "orders": store.count_orders(),
        "top_items": [
            {"item_id": item_id, "title": _title(store, item_id), "events": count}
            for item_id, count in store.top_items(top)
        ],
    }


def _timestamp(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else None


def _title(store: Store, item_id: str) -> str | None:
    try:
        return store.get_item(item_id).title
    except NotFoundError:
        return None


def render_stats(stats: dict[str, Any]) -> None:
    overview = Table(title="shopsense store", show_header=False)
    overview.add_column("what", style="bold")
    overview.add_column("value", justify="right")
    overview.add_row("store", stats["store"])
    overview.add_row("events", f"{stats['events']:,}")
    for event_type, count in stats["events_by_type"].items():
        overview.add_row(f"  {event_type}", f"{count:,}")
    overview.add_row("users with events", f"{stats['users_in_events']:,}")
    overview.add_row("items with events", f"{stats['items_in_events']:,}")
    overview.add_row("users (profiles)", f"{stats['users']:,}")
    overview.add_row("catalog items", f"{stats['catalog_items']:,}")
    overview.add_row("orders", f"{stats['orders']:,}")
    overview.add_row("first event", str(stats["first_event"]))
    overview.add_row("last event", str(stats["last_event"]))
    console.print(overview)
    if stats["top_items"]:
        top = Table(title="top items by events")
        top.add_column("#", justify="right")
        top.add_column("item_id")
        top.add_column("title", overflow="ellipsis", max_width=48)
        top.add_column("events", justify="right")
        for rank, row in enumerate(stats["top_items"], start=1):
            top.add_row(str(rank), row["item_id"], row["title"] or "", f"{row['events']:,}")
        console.print(top)


@app.command()
def stats(
    ctx: typer.Context,
    top: Annotated[int, typer.Option(min=0, help="How many top items to list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Counts by event type, users, items, date range and top items."""
    with _open(ctx) as store:
        collected = collect_stats(store, top=top)
    if as_json:
        console.print_json(json.dumps(collected))
    else:
        render_stats(collected)


# -- import --------------------------------------------------------------------------------


def _option_pairs(
    pairs: list[str], *, form: str, option: str, value_required: bool
) -> dict[str, str]:
    """``NAME=VALUE`` option values as a dict (names stripped; the last one wins)."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip() or (value_required and not value.strip()):
            raise typer.BadParameter(f"{pair!r} is not {form}", param_hint=option)
        parsed[name.strip()] = value
    return parsed


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    found = _option_pairs(pairs, form="FIELD=COLUMN", option="--map", value_required=True)
    return {field_name: column.strip() for field_name, column in found.items()}


def render_rejected_rows(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    rejected = Table(title=f"first {len(rows)} rejected rows")
    rejected.add_column("file")
    rejected.add_column("line", justify="right")
    rejected.add_column("reason")
    rejected.add_column("text", overflow="fold")
    for row in rows:
        rejected.add_row(row["file"], str(row["line"]), row["reason"], row["excerpt"])
    console.print(rejected)


def render_import_report(report: dict[str, Any], *, show_rejected: int) -> None:
    summary = Table(title=f"import {report['format']}", show_header=False)
    summary.add_column("what", style="bold")
    summary.add_column("value", justify="right")
    summary.add_row("file", report["path"])
    for key in (
        "rows_read",
        "events_inserted",
        "duplicates_skipped",
        "items_written",
        "users_written",
        "orders_written",
        "skipped",
        "rejected",
    ):
        summary.add_row(key.replace("_", " "), f"{report[key]:,}")
    summary.add_row("seconds", f"{report['elapsed_seconds']:.1f}")
    console.print(summary)
    for title, counts in (
        ("rejected rows by reason", report["rejected_by_reason"]),
        ("skipped rows by rule", report["skipped_by_reason"]),
    ):
        if counts:
            reasons = Table(title=title)
            reasons.add_column("reason")
            reasons.add_column("rows", justify="right")
            for reason, count in counts.items():
                reasons.add_row(reason, f"{count:,}")
            console.print(reasons)
    render_rejected_rows(report["rejected_rows"][:show_rejected])
    for note in report["notes"]:
        console.print(f"[dim]note:[/dim] {note}")


@app.command("import")
def import_command(
    ctx: typer.Context,
    fmt: Annotated[
        str,
        typer.Argument(
            metavar="FORMAT",
            help="online-retail, amazon-seq, movielens, cdnow, csv or parquet.",
        ),
    ],
    path: Annotated[Path, typer.Argument(help="The file (or MovieLens folder) to import.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Store nothing if any row is bad.")
    ] = False,
    timezone: Annotated[
        str | None,
        typer.Option(help="IANA zone of naive local times in the file (e.g. Europe/London)."),
    ] = None,
    anonymous: Annotated[
        str, typer.Option(help="online-retail lines with no customer: guest or skip.")
    ] = "guest",
    kind: Annotated[
        str, typer.Option(help="csv/parquet: what the rows are: events, items or users.")
    ] = "events",
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="csv/parquet: FIELD=COLUMN, repeatable."),
    ] = None,
    event_type: Annotated[
        str | None, typer.Option(help="Event type for rows that have none.")
    ] = None,
    delimiter: Annotated[str, typer.Option(help="csv: field delimiter.")] = ",",
    encoding: Annotated[str, typer.Option(help="csv: text encoding.")] = "utf-8",
    datamaps: Annotated[
        Path | None, typer.Option(help="amazon-seq: datamaps.json (default: beside PATH).")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(min=1, help="Rows per committed transaction.")
    ] = None,
    show_rejected: Annotated[int, typer.Option(min=0, help="How many rejected rows to list.")] = 20,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the full report as JSON here.")
    ] = None,
) -> None:
    """Import a file: a public dataset in its original format, or a generic CSV/Parquet."""
    settings = _settings(ctx)
    get_importer(fmt)  # an unknown format fails here, before any progress bar is drawn
    if json_out is not None and not json_out.parent.is_dir():
        raise ConfigurationError(
            f"cannot write the report to {json_out}: {json_out.parent} is not a directory"
        )
    options = ImportOptions(
        timezone=timezone,
        anonymous=cast(Any, anonymous),
        kind=cast(Any, kind),
        mapping=_parse_mapping(mapping or []),
        event_type=event_type,
        delimiter=delimiter,
        encoding=encoding,
        datamaps=datamaps,
        validation=ValidationOptions.from_settings(settings),
    )
    with _open(ctx) as store, progress_bar(f"importing {path.name}", unit="bytes") as progress:
        try:
            report = import_file(
                store,
                fmt,
                path,
                strict=strict,
                batch_size=batch_size or settings.ingest_batch_size,
                options=options,
                progress=progress,
            ).to_dict()
        except ImportDataError as error:
            render_rejected_rows(error.details.get("rejected_rows", [])[:show_rejected])
            raise
    render_import_report(report, show_rejected=show_rejected)
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2))


# -- simulate and demo ----------------------------------------------------------------------


def _simulate_into_store(ctx: typer.Context, config: SimulationConfig) -> None:
    settings = _settings(ctx)
    with progress_bar("simulating days", unit="days") as progress:
        shop = simulate_shop(config, progress=progress)
    truth_dir = settings.data_dir / "simulation" / f"seed-{config.seed}"
    shop.truth.save(truth_dir)
    (truth_dir / "config.json").write_text(config.model_dump_json(indent=2))
    with _open(ctx) as store, progress_bar("writing to the store", unit="rows") as progress:
        written = write_to_store(
            shop, store, batch_size=settings.ingest_batch_size, progress=progress
        )
    console.print(
        f"[green]simulated[/green] {written.events_received:,} events "
        f"({written.events_inserted:,} new), {written.orders:,} orders, "
        f"{written.users:,} users, {written.items:,} items; ground truth in {truth_dir}"
    )


@app.command()
def simulate(
    ctx: typer.Context,
    users: Annotated[int, typer.Option(min=1, help="Shoppers in total.")] = 1_000,
    items: Annotated[int, typer.Option(min=1, help="Products in the catalog.")] = 300,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 60,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same shop).")] = 0,
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Simulate a realistic shop (catalog, shoppers, sessions, orders) into the store."""
    fields: dict[str, Any] = {"users": users, "items": items, "days": days, "seed": seed}
    if start is not None:
        fields["start"] = start.date()
    try:
        config = SimulationConfig(**fields)
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from None
    _simulate_into_store(ctx, config)


DEMO_SHOP = SimulationConfig(users=3_000, items=800, days=365, seed=42)
"""The simulated shop ``shopsense demo`` builds: a year of a mid-size shop."""


@app.command()
def demo(
    ctx: typer.Context,
    dataset: Annotated[
        str, typer.Option(help="simulated (default) or online-retail (needs --path).")
    ] = "simulated",
    path: Annotated[
        Path | None, typer.Option(help="The Online Retail file for --dataset online-retail.")
    ] = None,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API when the shop is ready.")
    ] = True,
    host: Annotated[str | None, typer.Option(help="Interface to serve on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to serve on.")] = None,
) -> None:
    """Build the embedded demo shop, train its models and serve the API on localhost
    (safe to run again; --no-serve stops after training)."""
    if dataset == "simulated":
        _simulate_into_store(ctx, DEMO_SHOP)
    elif dataset == "online-retail":
        if path is None:
            raise typer.BadParameter(
                "--dataset online-retail needs --path FILE", param_hint="--path"
            )
        import_command(ctx, "online-retail", path)
    else:
        raise typer.BadParameter(
            f"unknown demo dataset {dataset!r}; use simulated or online-retail",
            param_hint="--dataset",
        )
    with _open(ctx) as store:
        render_stats(collect_stats(store))
        with progress_bar("training, evaluating, registering", unit="models") as progress:
            run = train_models(store, _settings(ctx), progress=progress)
    render_training(run, brief=True)
    with _open(ctx) as store, progress_bar("customer models", unit="steps") as progress:
        customers = train_customer_models(store, _settings(ctx), progress=progress)
    console.print(
        f"registered customers v{customers.version.version} "
        f"({len(customers.scores):,} customers: `shopsense customers segments`)"
    )
    console.print(f"[green]demo shop ready[/green] in {_settings(ctx).resolved_store_url}")
    if run.failed:
        raise typer.Exit(code=1)
    if serve_api:
        with _open(ctx) as store:
            _, token = create_api_key(store, name="demo", scopes=["admin"])
        serve(ctx, host=host, port=port, token=token)


# -- serve ---------------------------------------------------------------------------------


def _serve_settings(settings: Settings, host: str | None, port: int | None) -> Settings:
    changes = {key: value for key, value in (("host", host), ("port", port)) if value is not None}
    return settings.model_copy(update={"serve": settings.serve.model_copy(update=changes)})


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Interface (default: serve.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: serve.port).")] = None,
    token: Annotated[str | None, typer.Option(hidden=True)] = None,
) -> None:
    """Serve the REST API (and /docs) until interrupted. API keys: `shopsense keys`."""
    import uvicorn  # noqa: PLC0415  # only this command needs the server

    from shopsense.serve import create_app  # noqa: PLC0415

    settings = _serve_settings(_settings(ctx), host, port)
    address = f"http://{settings.serve.host}:{settings.serve.port}"
    console.print(
        f"[green]shopsense[/green] dashboard on {address}/  API on {address}/v1  "
        f"(docs: {address}/docs)"
    )
    if token is not None:
        # Unwrapped and without markup: the key and the command must copy out whole.
        console.print(
            f"API key (admin, shown once; sign in to the dashboard with it): {token}",
            soft_wrap=True,
            markup=False,
        )
        console.print(
            f"try: curl -H 'Authorization: Bearer {token}' "
            f"'{address}/v1/users/U00001/recommendations?n=5'",
            soft_wrap=True,
            markup=False,
        )
    elif settings.serve.require_api_keys:
        console.print("API keys: create one with `shopsense keys create --name NAME --scope read`")
    uvicorn.run(
        create_app(settings),
        host=settings.serve.host,
        port=settings.serve.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        server_header=False,
    )


def render_leaderboard(
    results: list[EvaluationResult], *, metric: str | None = None, split: str = "split"
) -> None:
    """One row per model, best first by ``metric`` (default: the first NDCG metric, as
    :func:`~shopsense.evaluation.tuning.primary_metric` picks)."""
    if not results:
        return
    metric_names = list(results[0].metrics)
    if metric is None:
        metric = primary_metric(metric_names)
    ranked = sorted(results, key=lambda result: -result.metrics[metric])
    first = ranked[0]
    table = Table(
        title=f"leaderboard: {first.protocol} {split}, {first.split['users_evaluated']:,} users "
        f"(best first by {metric})"
    )
    table.add_column("model")
    for name in metric_names:
        table.add_column(name, justify="right")
    table.add_column("fit s", justify="right")
    table.add_column("recommend s", justify="right")
    for result in ranked:
        table.add_row(
            result.model,
            *(f"{result.metrics[name]:.4f}" for name in metric_names),
            f"{result.fit_seconds:.2f}",
            f"{result.recommend_seconds:.2f}",
        )
    console.print(table)


# -- train and models ----------------------------------------------------------------------


def render_training(run: TrainingRun, *, brief: bool = False) -> None:
    """The leaderboard of a training run, the registered versions and the failures;
    ``brief``: the versions on one line (the demo)."""
    evaluations = [model.evaluation for model in run.models if model.evaluation is not None]
    render_leaderboard(evaluations)
    registered = [model for model in run.models if model.version is not None]
    if brief:
        if registered:
            versions = ", ".join(f"{m.name} v{m.version.version}" for m in registered if m.version)
            console.print(f"registered {versions}")
    elif registered:
        table = Table(title="registered and serving")
        table.add_column("model")
        table.add_column("version", justify="right")
        table.add_column("params", overflow="fold")
        table.add_column("refit s", justify="right")
        table.add_column("artifact", overflow="fold")
        for model in registered:
            assert model.version is not None
            table.add_row(
                model.name,
                str(model.version.version),
                json.dumps(model.params) if model.params else "defaults",
                f"{model.fit_seconds:.2f}",
                model.version.artifact_uri,
            )
        console.print(table)
    if run.best is not None:
        params = run.best.params
        console.print(
            f"best: [bold]{params['model']}[/bold] v{params['version']} by validation "
            f"{run.best.metrics['primary_metric']} (registered as {BEST_MODEL!r})"
        )
    for model in run.failed:
        error_console.print(f"[bold red]failed[/bold red] {model.name}: {model.error}")


@app.command()
def train(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", help="A recommender to train, repeatable (default: the settings' list)."
        ),
    ] = None,
) -> None:
    """Evaluate each recommender on the store's temporal split, refit it on all the data,
    save, register and promote it; exit 1 when any failed (the others still register)."""
    settings = _settings(ctx)
    names = model or list(settings.recommenders)
    for name in names:
        make_recommender(name)  # an unknown name fails before any work
    with _open(ctx) as store, progress_bar("training", unit="models") as progress:
        run = train_models(store, settings, names=names, progress=progress)
    render_training(run)
    if run.failed:
        raise typer.Exit(code=1)


@app.command()
def models(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option(help="Only the versions of this model.")] = None,
) -> None:
    """List the registered model versions: serving flag, creation time, key metrics."""
    with _open(ctx) as store:
        versions = store.list_models(name)
    if not versions:
        console.print("no registered models; run shopsense train")
        return
    table = Table(title="registered models")
    table.add_column("model")
    table.add_column("version", justify="right")
    table.add_column("serving")
    table.add_column("created (UTC)")
    table.add_column("metrics", overflow="fold")
    for version in versions:
        metric = version.metrics.get("primary_metric")
        if version.name == BEST_MODEL:
            summary = f"-> {version.params.get('model')} v{version.params.get('version')}"
        else:
            summary = ""
        if isinstance(metric, str) and isinstance(version.metrics.get(metric), int | float):
            summary = f"{metric} {version.metrics[metric]:.4f} {summary}".strip()
        table.add_row(
            version.name,
            str(version.version),
            "yes" if version.serving else "",
            version.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            summary,
        )
    console.print(table)


# -- evaluate ------------------------------------------------------------------------------


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are read as JSON when they parse (``10``, ``0.5``,
    ``true``), else kept as text."""
    params: dict[str, Any] = {}
    for key, text in _option_pairs(
        pairs, form="KEY=VALUE", option="--param", value_required=False
    ).items():
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params


def render_evaluation(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['model']} on {result['protocol']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    for name, value in result["metrics"].items():
        table.add_row(name, f"{value:.4f}")
    table.add_row("fit seconds", f"{result['fit_seconds']:.2f}")
    table.add_row("recommend seconds", f"{result['recommend_seconds']:.2f}")
    table.add_row("users evaluated", f"{result['split']['users_evaluated']:,}")
    table.add_row("items", f"{result['split']['items']:,}")
    table.add_row("machine", result["machine"])
    console.print(table)


@app.command()
def evaluate(
    ctx: typer.Context,
    protocol: Annotated[
        str,
        typer.Option(
            help="seq-loo, retail-temporal, retail-temporal-new, ml100k or temporal "
            "(docs/evaluation.md)."
        ),
    ],
    dataset: Annotated[
        str,
        typer.Option(help="The dataset file as published (temporal: a store URL or file)."),
    ],
    model: Annotated[
        str,
        typer.Option(
            help="A registered recommender (e.g. ease), or 'best': the configured "
            "recommender (settings 'recommenders') that 'shopsense train' would serve, "
            "chosen on the validation split."
        ),
    ],
    json_out: Annotated[Path, typer.Option("--json", help="Write the result as JSON here.")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="Model hyper-parameter KEY=VALUE, repeatable."),
    ] = None,
    dump_recs: Annotated[
        Path | None,
        typer.Option(help="Also write each user's list as JSON lines (see docs)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Users per recommend call.")] = 1024,
    params_file: Annotated[
        Path | None,
        typer.Option(
            help="A 'shopsense tune' result: its best_params, under explicit --param values."
        ),
    ] = None,
) -> None:
    """Fit a model on a benchmark protocol's training split and score it (BENCHMARKS.md)."""
    for target in (json_out, dump_recs):
        if target is not None and not target.parent.is_dir():
            raise ConfigurationError(f"cannot write {target}: {target.parent} is not a directory")
    selection: Selection | None = None
    if model == BEST_MODEL:
        if param or params_file is not None:
            raise ConfigurationError(
                "--model best takes the configured parameters (settings "
                "'recommender_params', 'tuned_params_dir'); --param/--params-file do not apply"
            )
        with console.status(f"loading {protocol} from {dataset}"):
            split = load_split(protocol, dataset)
        with progress_bar("selecting on the validation split", unit="models") as progress:
            selection = select_best(split, _settings(ctx), progress=progress)
        render_leaderboard(selection.candidates, split="validation split")
        console.print(f"selected [bold]{selection.name}[/] by validation {selection.metric}")
        model, tuned, params = selection.name, {}, dict(selection.params)
    else:
        explicit = _parse_params(param or [])
        tuned = read_tuned_params(params_file, model=model) if params_file is not None else {}
        params = {**tuned, **explicit}
        make_recommender(model, **params)  # an unknown name fails before loading
        with console.status(f"loading {protocol} from {dataset}"):
            split = load_split(protocol, dataset)
    recommender = make_recommender(model, **params)
    with progress_bar(f"{model} on {protocol}", unit="users") as progress:
        result = run_evaluation(
            recommender,
            split,
            batch_size=batch_size,
            dump_recs=dump_recs,
            params=params,
            progress=progress,
        ).to_dict()
    result["dataset"] = str(dataset)
    if selection is not None:
        result["selected_by"] = {
            "rule": f"best validation {selection.metric} among the configured recommenders",
            "validation": {r.model: r.metrics for r in selection.candidates},
        }
    if params_file is not None:
        result["params_file"] = str(params_file)
        result["tuned_params"] = tuned
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"
    render_evaluation(result)
    json_out.write_text(json.dumps(result, indent=2))


# -- tune ----------------------------------------------------------------------------------


def render_tuning(result: dict[str, Any], *, top: int = 5) -> None:
    ranked = sorted(result["trials"], key=lambda trial: -trial["value"])[:top]
    table = Table(
        title=f"{result['model']} on the {result['protocol']} validation split: "
        f"best {len(ranked)} of {len(result['trials'])} trials by {result['metric']}"
    )
    table.add_column("trial", justify="right")
    table.add_column(result["metric"], justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("params", overflow="fold")
    fixed = set(result["fixed_params"])
    for trial in ranked:
        searched = {k: v for k, v in trial["params"].items() if k not in fixed}
        table.add_row(
            str(trial["number"]),
            f"{trial['value']:.4f}",
            f"{trial['seconds']:.1f}",
            ", ".join(f"{k}={_short(v)}" for k, v in searched.items()),
        )
    console.print(table)


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command("tune")
def tune_command(
    protocol: Annotated[
        str, typer.Option(help="seq-loo, retail-temporal, retail-temporal-new, ml100k, temporal.")
    ],
    dataset: Annotated[
        str,
        typer.Option(help="The dataset file as published (temporal: a store URL or file)."),
    ],
    model: Annotated[str, typer.Option(help="A registered recommender (e.g. ease).")],
    out: Annotated[Path, typer.Option(help="Write the tuning result as JSON here.")],
    trials: Annotated[int, typer.Option(min=1, help="Most trials.")] = DEFAULT_TRIALS,
    timeout: Annotated[
        float | None, typer.Option(min=1, help="Stop starting trials after this many seconds.")
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option(help="What to maximise, e.g. NDCG@10 (default: the protocol's first NDCG)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampler.")] = DEFAULT_SEED,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="A fixed (not searched) hyper-parameter KEY=VALUE."),
    ] = None,
) -> None:
    """Search a recommender's hyper-parameters on the protocol's VALIDATION split only
    (optuna TPE); write best_params for `evaluate --params-file` or `train`."""
    fixed = _parse_params(param or [])
    if not out.parent.is_dir():
        raise ConfigurationError(f"cannot write {out}: {out.parent} is not a directory")
    make_recommender(model, **fixed)  # an unknown model or parameter fails before loading
    with console.status(f"loading {protocol} from {dataset}"):
        split = load_split(protocol, dataset)
    with progress_bar(f"tuning {model} on {protocol} validation", unit="trials") as progress:
        result = tune(
            model,
            split,
            metric=metric,
            trials=trials,
            timeout=timeout,
            seed=seed,
            fixed=fixed,
            progress=progress,
        ).to_dict()
    result["dataset"] = str(dataset)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"
    render_tuning(result)
    console.print(
        f"best {result['metric']} {result['best_value']:.4f} with "
        f"{json.dumps(result['best_params'])}; written to {out}"
    )
    out.write_text(json.dumps(result, indent=2))


def main() -> None:
    """Entry point of the ``shopsense`` console script."""
    try:
        app()
    except ShopsenseError as error:
        error_console.print(f"[bold red]error[/bold red] ({error.code}): {error.message}")
        sys.exit(2)


__all__ = ["app", "collect_stats", "main", "progress_bar"]
