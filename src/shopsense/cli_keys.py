"""``shopsense keys``: create, list and revoke the API keys of the HTTP API.

A typer sub-app that :mod:`shopsense.cli` mounts with ``app.add_typer(keys_app,
name="keys")``. The settings come from the parent's ``ctx.obj`` (set by its
``main_options`` callback); errors from the :class:`~shopsense.core.errors.ShopsenseError`
tree propagate to :func:`shopsense.cli.main`, which prints them in red.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from shopsense.cli_context import command_store
from shopsense.core.settings import API_SCOPES
from shopsense.serve.security import create_api_key

keys_app = typer.Typer(
    name="keys",
    help="Create, list and revoke API keys for the HTTP API (secrets are shown once).",
    no_args_is_help=True,
)
console = Console()


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


@keys_app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Who uses the key, e.g. webshop-backend.")],
    scope: Annotated[
        list[str],
        typer.Option("--scope", help=f"One of {', '.join(API_SCOPES)}; repeatable."),
    ],
    rate_limit: Annotated[
        float | None,
        typer.Option(help="Requests per second for this key (default: serve.rate_limit)."),
    ] = None,
) -> None:
    """Create a key and print its token: the only time the token is shown."""
    with command_store(ctx) as store:
        record, token = create_api_key(store, name=name, scopes=scope, rate_limit=rate_limit)
    console.print(f"[green]created[/green] API key {record.key_id} ({record.name})")
    console.print(f"scopes: {', '.join(record.scopes)}")
    if record.rate_limit is not None:
        console.print(f"rate limit: {record.rate_limit:g} requests/s")
    console.print(
        "[bold yellow]token (shown only now; store it safely, it cannot be recovered):[/]"
    )
    # no markup, highlighting or wrapping: the token must copy out exactly
    console.print(token, markup=False, highlight=False, soft_wrap=True)


@keys_app.command("list")
def list_keys(ctx: typer.Context) -> None:
    """List the keys, revoked ones included (never their secrets)."""
    with command_store(ctx) as store:
        records = store.list_api_keys()
    if not records:
        console.print("no API keys; create one with shopsense keys create")
        return
    table = Table(title="API keys")
    table.add_column("key_id", no_wrap=True)
    table.add_column("name", overflow="fold")
    table.add_column("scopes")
    table.add_column("rate limit/s", justify="right")
    table.add_column("created (UTC)")
    table.add_column("revoked (UTC)")
    for record in records:
        table.add_row(
            record.key_id,
            record.name,
            ", ".join(record.scopes),
            "default" if record.rate_limit is None else f"{record.rate_limit:g}",
            _time(record.created_at),
            _time(record.revoked_at),
        )
    console.print(table)


@keys_app.command()
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="The key_id shown by 'shopsense keys list'.")],
) -> None:
    """Revoke a key (safe to run again): a running server refuses it within a minute."""
    with command_store(ctx) as store:
        record = store.revoke_api_key(key_id)
    console.print(
        f"[green]revoked[/green] API key {record.key_id} ({record.name}) "
        f"at {_time(record.revoked_at)} UTC"
    )


__all__ = ["keys_app"]
