"""The ``shopsense`` command: a thin shell over the library, with rich progress and tables.

Every command reads the settings once (``--data-dir`` / ``--store`` override them),
opens the store, calls the library and renders what it returns. Errors from the
:class:`~shopsense.core.errors.ShopsenseError` tree are shown as one readable line and
exit with status 2; nothing else is caught.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
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
from shopsense.core.errors import ShopsenseError
from shopsense.core.logging import configure_logging
from shopsense.core.settings import Settings
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
    settings = Settings(**overrides)
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
        "first_event": summary.first_ts.isoformat() if summary.first_ts else None,
        "last_event": summary.last_ts.isoformat() if summary.last_ts else None,
        "catalog_items": store.count_items(),
        "users": store.count_users(),
        "orders": store.count_orders(),
        "top_items": [
            {"item_id": item_id, "events": count} for item_id, count in store.top_items(top)
        ],
    }


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
        top.add_column("events", justify="right")
        for rank, row in enumerate(stats["top_items"], start=1):
            top.add_row(str(rank), row["item_id"], f"{row['events']:,}")
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


def main() -> None:
    """Entry point of the ``shopsense`` console script."""
    try:
        app()
    except ShopsenseError as error:
        error_console.print(f"[bold red]error[/bold red] ({error.code}): {error.message}")
        sys.exit(2)


__all__ = ["app", "collect_stats", "main", "progress_bar"]
