"""A SIGKILLed import, re-run, ends with exactly the right data: events de-duplicate by
their deterministic ids, items, users and orders are upserts, and every batch is one
transaction."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from shopsense.data.importers import import_file
from shopsense.store import Store, open_store

CHILD = Path(__file__).with_name("import_child.py")
N_LINES = 60_000
BATCH_SIZE = 2_000
KILL_AFTER_COMMITS = 5


def write_online_retail_like(path: Path, n_lines: int, seed: int = 7) -> None:
    """A synthetic file in the Online Retail layout: invoices of 1-20 lines, 2% of them
    cancellations, a third of the lines without customer, a few invalid lines."""
    rng = random.Random(seed)
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    invoice = 500_000
    while len(lines) <= n_lines:
        invoice += 1
        cancelled = rng.random() < 0.02
        customer = "" if rng.random() < 0.33 else str(rng.randrange(12_000, 12_600))
        minute = invoice % 60
        for _ in range(rng.randrange(1, 21)):
            code = f"{rng.randrange(10_000, 10_800)}"
            quantity = rng.randrange(1, 25) * (-1 if cancelled else 1)
            if rng.random() < 0.005:
                quantity = -quantity  # wrong sign: rejected
            price = f"{rng.randrange(10, 2_000) / 100:.2f}"
            lines.append(
                f"{'C' if cancelled else ''}{invoice},{code},PRODUCT {code},{quantity},"
                f"2011-0{1 + invoice % 9}-1{invoice % 10} 10:{minute:02d}:00,{price},"
                f"{customer},United Kingdom"
            )
    path.write_text("\n".join(lines[: n_lines + 1]) + "\n")


def counts(store: Store) -> dict[str, object]:
    return {
        "events": store.count_events(),
        "by_type": store.event_summary().by_type,
        "items": store.count_items(),
        "users": store.count_users(),
        "orders": store.count_orders(),
        "order_lines": store.read_order_lines().num_rows,
    }


def test_killed_import_then_rerun_gives_exact_counts(tmp_path: Path) -> None:
    data = tmp_path / "retail.csv"
    write_online_retail_like(data, N_LINES)
    with open_store(f"duckdb://{tmp_path / 'reference.duckdb'}") as reference:
        import_file(reference, "online-retail", data, batch_size=BATCH_SIZE)
        expected = counts(reference)
        expected_ids = set(reference.read_events().column("event_id").to_pylist())
    assert expected["events"] == len(expected_ids) > 50_000

    store_file = tmp_path / "killed.duckdb"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(store_file), "online-retail", str(data), str(BATCH_SIZE)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    for committed, line in enumerate(child.stdout, start=1):
        if line.startswith("done"):
            pytest.fail("the import finished before it could be killed")
        if committed == KILL_AFTER_COMMITS:
            os.kill(child.pid, signal.SIGKILL)
            break
    child.wait(timeout=60)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with open_store(f"duckdb://{store_file}") as store:
        survived = store.count_events()
        assert KILL_AFTER_COMMITS * BATCH_SIZE <= survived < expected["events"]
        assert survived % BATCH_SIZE == 0  # whole batches only

        report = import_file(store, "online-retail", data, batch_size=BATCH_SIZE)

        assert report.duplicates_skipped == survived
        assert report.events_inserted == expected["events"] - survived
        assert counts(store) == expected
        assert set(store.read_events().column("event_id").to_pylist()) == expected_ids
