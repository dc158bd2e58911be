"""Benchmark the importers: the full UCI Online Retail file into a fresh DuckDB file.

    .venv/bin/python benchmarks/ingest.py PATH/online_retail.csv.gz [--runs 3]

Each run imports the whole file into a new DuckDB file (what ``shopsense import
online-retail`` does, without the progress bar). Prints a table and writes
``benchmarks/results/ingest.md`` with the machine, the data and what was stored.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pydantic
from rich.console import Console
from rich.table import Table

from shopsense.data.importers import ImportReport, import_file
from shopsense.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_description, write_results  # the benchmarks' shared helper

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.md"
TARGET_SECONDS = 30.0


def sha256_prefix(path: Path) -> str:
    """The first 16 hex digits of the file's SHA-256 (as in the datasets' README)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def run_once(
    path: Path, workdir: Path, run: int, batch_size: int
) -> tuple[float, ImportReport, dict[str, object]]:
    """Import ``path`` into a fresh DuckDB file; (seconds, report, what the store holds)."""
    store_file = workdir / f"run-{run}.duckdb"
    started = time.perf_counter()
    with open_store(f"duckdb://{store_file}") as store:
        report = import_file(store, "online-retail", path, batch_size=batch_size)
        seconds = time.perf_counter() - started
        stored: dict[str, object] = {
            "events by type": store.event_summary().by_type,
            "users": store.count_users(),
            "items": store.count_items(),
            "orders": store.count_orders(),
            "DuckDB file (MiB)": round(store_file.stat().st_size / 2**20),
        }
    return seconds, report, stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, help="online_retail.csv.gz (or the plain CSV)")
    parser.add_argument("--runs", type=int, default=3, help="Imports to time (median reported).")
    parser.add_argument("--batch-size", type=int, default=50_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not args.dataset.is_file():
        parser.error(f"{args.dataset} is not a file; give the path of online_retail.csv.gz")

    console = Console()
    timings: list[float] = []
    with tempfile.TemporaryDirectory(prefix="shopsense-ingest-") as workdir:
        for run in range(1, args.runs + 1):
            seconds, report, stored = run_once(args.dataset, Path(workdir), run, args.batch_size)
            timings.append(seconds)
            console.print(f"run {run}: {seconds:.1f} s")
    median = statistics.median(timings)

    table = Table(title=f"import online-retail into a fresh DuckDB file ({args.runs} runs)")
    for column in ("rows", "events", "seconds (median)", "events/s", "runs (s)"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{report.rows_read:,}",
        f"{report.events_inserted:,}",
        f"{median:.1f}",
        f"{report.events_inserted / median:,.0f}",
        ", ".join(f"{t:.1f}" for t in timings),
    )
    console.print(table)

    machine = machine_description() | {"pydantic": pydantic.VERSION}
    verdict = "meets" if median < TARGET_SECONDS else "MISSES"
    lines = [
        "# Ingest benchmark: UCI Online Retail",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
        f"`python benchmarks/ingest.py {args.dataset.name} --runs {args.runs} "
        f"--batch-size {args.batch_size}`: the whole file into a fresh DuckDB file per run.",
        "",
        f"Data: `{args.dataset.name}`, sha256 {sha256_prefix(args.dataset)}…, "
        f"{report.rows_read:,} data lines.",
        "",
        "| rows | events | seconds (median) | events/s | runs (s) |",
        "|---:|---:|---:|---:|---|",
        f"| {report.rows_read:,} | {report.events_inserted:,} | {median:.1f} | "
        f"{report.events_inserted / median:,.0f} | {', '.join(f'{t:.1f}' for t in timings)} |",
        "",
        f"Target: under {TARGET_SECONDS:.0f} s; this run {verdict} it.",
        "",
        "Stored:",
        "",
        *(f"- {name}: {value}" for name, value in stored.items()),
        f"- rejected: {report.rejected:,} {report.rejected_by_reason}",
        "",
    ]
    write_results(args.output, lines, machine)
    console.print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
