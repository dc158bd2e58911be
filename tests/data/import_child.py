"""An import in a child process, for the SIGKILL test in ``test_importers_kill.py``.

Usage: ``python import_child.py STORE_FILE FORMAT DATA_FILE BATCH_SIZE``. Prints
``committed N`` after every committed batch of events, so that the parent knows when
some but not all of the file is stored, and ``done N`` at the end.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from shopsense.data.importers import import_file
from shopsense.store import AppendResult, Store, open_store


class CommitReporter:
    """A store that says when a batch of events has been committed."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def append_events(self, events: Any) -> AppendResult:
        result = self._store.append_events(events)
        print(f"committed {result.inserted}", flush=True)
        return result


def main() -> None:
    store_file, fmt, data_file, batch_size = sys.argv[1:5]
    with open_store(f"duckdb://{store_file}") as store:
        reporter: Any = CommitReporter(store)
        report = import_file(reporter, fmt, Path(data_file), batch_size=int(batch_size))
    print(f"done {report.events_inserted}", flush=True)


if __name__ == "__main__":
    main()
