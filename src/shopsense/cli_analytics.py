"""``shopsense analytics``: stickiness, retention, lifecycle, funnel, commerce and
attribution reports from the command line.

Each command builds the same request the API reads from its query string
(:mod:`shopsense.analytics.requests`) and prints the report's tables; ``--json`` prints
exactly what ``GET /v1/analytics/<report>`` answers.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shopsense.analytics import Report
from shopsense.analytics.requests import REQUESTS
from shopsense.cli_context import command_settings, command_store

analytics_app = typer.Typer(
    name="analytics",
    help="Engagement analytics: stickiness, retention, lifecycle, funnels, commerce, attribution.",
    no_args_is_help=True,
)
console = Console()

Start = Annotated[
    datetime | None,
    typer.Option(formats=["%Y-%m-%d"], help="First day (default: --days before --end)."),
]
End = Annotated[
    datetime | None,
    typer.Option(
        formats=["%Y-%m-%d"],
        help="Day after the last, exclusive (default: after the newest event).",
    ),
]
Days = Annotated[int | None, typer.Option(help="Days covered without --start (default 90).")]
Timezone = Annotated[
    str | None, typer.Option(help="IANA time zone of the days (default: analytics.timezone).")
]
IntervalOption = Annotated[str | None, typer.Option(help="day, week or month.")]
BreakdownOption = Annotated[
    str | None, typer.Option(help="Split by event.<property> or user.<attribute>.")
]
Types = Annotated[
    str | None, typer.Option(help="Event types that count, comma-separated (default: all).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
MAX_ROWS = 60
"""Rows printed per table (``--json`` prints them all)."""


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _run(ctx: typer.Context, kind: str, as_json: bool, **options: Any) -> None:
    request = REQUESTS[kind].parse(**options)
    settings = command_settings(ctx)
    with command_store(ctx) as store:
        report = request.run(store, settings.analytics)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    render_report(report)


def _cell(value: Any, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if column in ("share", "stickiness", "ctr") or column.startswith("conversion"):
            return f"{value:.1%}"
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return escape(str(value))  # shop data (a breakdown value) is not rich markup


def render_report(report: Report) -> None:
    """The report's window, headline figures and tables (retention as a cohort grid)."""
    query = report.query
    console.print(
        f"[bold]{report.kind}[/bold] {query['start']} .. {query['end']} (exclusive), "
        f"{query['timezone']}"
    )
    if report.summary:
        console.print(
            "  ".join(f"{key}: {_cell(value, key)}" for key, value in report.summary.items())
        )
    for name, table in report.tables.items():
        if report.kind == "retention" and name == "matrix":
            _render_retention(table.records())
            continue
        out = Table(title=name)
        for column in table.columns:
            out.add_column(column, justify="left" if column in ("period", "breakdown") else "right")
        for row in table.rows[:MAX_ROWS]:
            out.add_row(
                *(_cell(value, column) for value, column in zip(row, table.columns, strict=True))
            )
        console.print(out)
        if len(table.rows) > MAX_ROWS:
            console.print(f"  ... {len(table.rows) - MAX_ROWS} more rows (--json prints all)")


def _render_retention(records: list[dict[str, Any]]) -> None:
    """Cohorts down, periods across, each cell the share of period 0."""
    horizon = max((record["k"] for record in records), default=0)
    out = Table(title="retention (share of the cohort)")
    out.add_column("cohort")
    if any("breakdown" in record for record in records):
        out.add_column("breakdown")
    out.add_column("users", justify="right")
    for k in range(horizon + 1):
        out.add_column(str(k), justify="right")
    rows: dict[tuple[str, str], dict[int, float]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for record in records:
        key = (str(record["cohort"]), str(record.get("breakdown", "")))
        rows.setdefault(key, {})[int(record["k"])] = record["share"]
        sizes[key] = int(record["size"])
    for (cohort, value), shares in list(rows.items())[:MAX_ROWS]:
        cells = [f"{shares[k]:.1%}" if k in shares else "" for k in range(horizon + 1)]
        head = [cohort, value] if len(out.columns) > horizon + 3 else [cohort]
        out.add_row(*head, f"{sizes[(cohort, value)]:,}", *cells)
    console.print(out)


@analytics_app.command("stickiness")
def stickiness_command(
    ctx: typer.Context,
    start: Start = None,
    end: End = None,
    days: Days = None,
    timezone: Timezone = None,
    interval: IntervalOption = None,
    types: Types = None,
    breakdown: BreakdownOption = None,
    as_json: AsJson = False,
) -> None:
    """DAU, WAU, MAU and DAU/MAU over time; active days per week and month."""
    _run(
        ctx,
        "stickiness",
        as_json,
        start=_day(start),
        end=_day(end),
        days=days,
        timezone=timezone,
        interval=interval,
        types=types,
        breakdown=breakdown,
    )


@analytics_app.command("retention")
def retention_command(
    ctx: typer.Context,
    start: Start = None,
    end: End = None,
    days: Days = None,
    timezone: Timezone = None,
    interval: IntervalOption = None,
    start_event: Annotated[
        str | None,
        typer.Option(help="Event types that start a cohort (purchase: by first purchase)."),
    ] = None,
    return_event: Annotated[
        str | None, typer.Option(help="Event types that count as coming back.")
    ] = None,
    cohort: Annotated[str | None, typer.Option(help="first_time or recurring.")] = None,
    mode: Annotated[str | None, typer.Option(help="on or on_or_after.")] = None,
    periods: Annotated[int | None, typer.Option(help="Periods after the cohort's.")] = None,
    breakdown: BreakdownOption = None,
    as_json: AsJson = False,
) -> None:
    """Retention cohorts: the matrix and the average curve."""
    _run(
        ctx,
        "retention",
        as_json,
        start=_day(start),
        end=_day(end),
        days=days,
        timezone=timezone,
        interval=interval,
        start_event=start_event,
        return_event=return_event,
        cohort=cohort,
        mode=mode,
        periods=periods,
        breakdown=breakdown,
    )


@analytics_app.command("lifecycle")
def lifecycle_command(
    ctx: typer.Context,
    start: Start = None,
    end: End = None,
    days: Days = None,
    timezone: Timezone = None,
    interval: IntervalOption = None,
    types: Types = None,
    breakdown: Annotated[
        str | None, typer.Option(help="Split users by user.<attribute> (e.g. user.country).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """New, returning, resurrecting and dormant users per period."""
    _run(
        ctx,
        "lifecycle",
        as_json,
        start=_day(start),
        end=_day(end),
        days=days,
        timezone=timezone,
        interval=interval,
        types=types,
        breakdown=breakdown,
    )


@analytics_app.command("funnel")
def funnel_command(
    ctx: typer.Context,
    steps: Annotated[
        str | None,
        typer.Option(
            help="Event types in order, comma-separated (default view,add_to_cart,purchase)."
        ),
    ] = None,
    start: Start = None,
    end: End = None,
    days: Days = None,
    timezone: Timezone = None,
    conversion_window_days: Annotated[
        float | None, typer.Option(help="Days from step 1 to finish (default 14).")
    ] = None,
    breakdown: BreakdownOption = None,
    as_json: AsJson = False,
) -> None:
    """A conversion funnel: users, conversion and median time per step."""
    _run(
        ctx,
        "funnel",
        as_json,
        steps=steps,
        start=_day(start),
        end=_day(end),
        days=days,
        timezone=timezone,
        conversion_window_days=conversion_window_days,
        breakdown=breakdown,
    )


@analytics_app.command("commerce")
def commerce_command(
    ctx: typer.Context,
    start: Start = None,
    end: End = None,
    days: Days = None,
    timezone: Timezone = None,
    interval: IntervalOption = None,
    breakdown: BreakdownOption = None,
    as_json: AsJson = False,
) -> None:
    """Orders, GMV, AOV, repeat purchases and time between them."""
    _run(
        ctx,
        "commerce",
        as_json,
        start=_day(start),
        end=_day(end),
        days=days,
        timezone=timezone,
        interval=interval,
        breakdown=breakdown,
    )


@analytics_app.command("attribution")
def attribution_command(
    ctx: typer.Context,
    start: Start = None,
    end: End = None,
    days: Days = None,
    timezone: Timezone = None,
    by: Annotated[
        str | None,
        typer.Option(help="Group by scenario, model, model_version, experiment, variant, period."),
    ] = None,
    interval: IntervalOption = None,
    window_hours: Annotated[
        float | None, typer.Option(help="Attribution window in hours (default 24).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Clicks, conversions and GMV attributed to recommendation lists."""
    _run(
        ctx,
        "attribution",
        as_json,
        start=_day(start),
        end=_day(end),
        days=days,
        timezone=timezone,
        by=by,
        interval=interval,
        window_hours=window_hours,
    )


__all__ = ["analytics_app", "render_report"]
