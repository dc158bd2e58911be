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
from shopsense.evaluation.protocols import temporal
from shopsense.models.recommend.registry import make_recommender
from shopsense.store import Store, open_store

logger = logging.getLogger(__name__)

app = typer.Typer(
    name="shopsense",
    help="shopsense: a self-hosted AI engine that makes online shoppers come back.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
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
) -> None:
    """Build the embedded demo shop and show its statistics (safe to run again)."""
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
        with console.status("splitting the demo shop's purchases in time"):
            split = temporal(store, types=["purchase"])
    results = []
    with progress_bar("training and evaluating", unit="models") as progress:
        for done, name in enumerate(DEMO_MODELS):
            progress(done, len(DEMO_MODELS))
            results.append(run_evaluation(make_recommender(name), split))
        progress(len(DEMO_MODELS), len(DEMO_MODELS))
    render_leaderboard(results)
    console.print(f"[green]demo shop ready[/green] in {_settings(ctx).resolved_store_url}")


DEMO_MODELS: tuple[str, ...] = ("popular", "item-knn", "ease", "als")
"""The recommenders ``shopsense demo`` trains and compares, with default parameters."""


def render_leaderboard(results: list[EvaluationResult]) -> None:
    """One row per model, best first by the split's first metric."""
    if not results:
        return
    metric_names = list(results[0].metrics)
    ranked = sorted(results, key=lambda result: -result.metrics[metric_names[0]])
    first = ranked[0]
    table = Table(
        title=f"leaderboard: {first.protocol} split, {first.split['users_evaluated']:,} users"
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
        typer.Option(help="A registered recommender (e.g. popular); 'best' is not supported yet."),
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
) -> None:
    """Fit a model on a benchmark protocol's training split and score it (BENCHMARKS.md)."""
    params = _parse_params(param or [])
    for target in (json_out, dump_recs):
        if target is not None and not target.parent.is_dir():
            raise ConfigurationError(f"cannot write {target}: {target.parent} is not a directory")
    recommender = make_recommender(model, **params)  # an unknown name fails before loading
    with console.status(f"loading {protocol} from {dataset}"):
        split = load_split(protocol, dataset)
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
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"
    render_evaluation(result)
    json_out.write_text(json.dumps(result, indent=2))


def main() -> None:
    """Entry point of the ``shopsense`` console script."""
    try:
        app()
    except ShopsenseError as error:
        error_console.print(f"[bold red]error[/bold red] ({error.code}): {error.message}")
        sys.exit(2)


__all__ = ["app", "collect_stats", "main", "progress_bar"]
