"""Benchmark the shop simulator: generate about a million events, then write them into a
fresh DuckDB file.

    .venv/bin/python benchmarks/simulate.py [--users 20000 --items 5000 --days 100 --seed 0]

Prints a table and writes ``benchmarks/results/simulate.md`` with the machine it ran on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shopsense.data.simulator import SimulationConfig, simulate_shop, write_to_store
from shopsense.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_description, write_results

RESULTS = Path(__file__).resolve().parent / "results" / "simulate.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-store", action="store_true", help="Skip writing to DuckDB.")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    config = SimulationConfig(users=args.users, items=args.items, days=args.days, seed=args.seed)

    started = time.perf_counter()
    shop = simulate_shop(config)
    generation_seconds = time.perf_counter() - started
    n_events = shop.events.num_rows

    rows: list[tuple[str, str]] = [
        ("events", f"{n_events:,}"),
        ("orders", f"{shop.n_orders:,}"),
        ("users", f"{config.users:,}"),
        ("items", f"{config.items:,}"),
        ("days", f"{config.days}"),
        ("generation (s)", f"{generation_seconds:.2f}"),
        ("generation (events/s)", f"{n_events / generation_seconds:,.0f}"),
    ]
    if not args.no_store:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "simulated.duckdb"
            started = time.perf_counter()
            with open_store(f"duckdb://{path}") as store:
                report = write_to_store(shop, store)
            write_seconds = time.perf_counter() - started
            size_mib = path.stat().st_size / 2**20
        if report.events_inserted != n_events:
            raise SystemExit(f"stored {report.events_inserted} of {n_events} events")
        rows += [
            ("write to fresh DuckDB file (s)", f"{write_seconds:.2f}"),
            ("write (events/s)", f"{n_events / write_seconds:,.0f}"),
            ("DuckDB file (MiB)", f"{size_mib:.0f}"),
        ]

    table = Table(title="shop simulator")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)

    machine = machine_description()
    lines = [
        "# Shop simulator benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python benchmarks/simulate.py "
        f"--users {config.users} --items {config.items} --days {config.days} "
        f"--seed {config.seed}` (all other knobs at their defaults).",
        "",
        "| measure | value |",
        "|---|---:|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
    ]
    write_results(args.output, lines, machine)


if __name__ == "__main__":
    main()
