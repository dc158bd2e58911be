"""Importers: read a shop's or a public dataset's files into the store.

>>> from shopsense.store import open_store                       # doctest: +SKIP
>>> with open_store("duckdb://shop.duckdb") as store:
...     report = import_file(store, "online-retail", Path("online_retail.csv.gz"))
...     report.to_dict()["events_inserted"]
540571

Formats (:data:`IMPORTERS`): ``online-retail``, ``amazon-seq``, ``movielens``,
``cdnow``, and generic ``csv`` / ``parquet`` with a column mapping. Rows that break the
rules are rejected with their line number and a reason, and the good rows are stored;
``strict=True`` validates the whole file first and stores nothing if any row is bad.
Every importer derives ids deterministically from the file, so re-importing a file (or
finishing an interrupted import) adds nothing twice. The rules of each format are in
``docs/importers.md``.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from shopsense.core.errors import ConfigurationError, ImportDataError
from shopsense.data.importers._amazon import BASE_TIME as SEQUENCE_BASE_TIME
from shopsense.data.importers._amazon import STEP as SEQUENCE_STEP
from shopsense.data.importers._amazon import AmazonSequenceImporter
from shopsense.data.importers._base import (
    MAX_REJECTED_ROWS,
    Importer,
    ImportOptions,
    ImportReport,
    ProgressCallback,
    RecordSink,
    RejectedRow,
)
from shopsense.data.importers._cdnow import CdnowImporter
from shopsense.data.importers._generic import CsvImporter, ParquetImporter
from shopsense.data.importers._movielens import MovieLensImporter
from shopsense.data.importers._online_retail import OnlineRetailImporter

if TYPE_CHECKING:
    from shopsense.store.base import Store

logger = logging.getLogger(__name__)

IMPORTERS: dict[str, Importer] = {
    "amazon-seq": AmazonSequenceImporter(),
    "cdnow": CdnowImporter(),
    "csv": CsvImporter(),
    "movielens": MovieLensImporter(),
    "online-retail": OnlineRetailImporter(),
    "parquet": ParquetImporter(),
}
"""Every format ``shopsense import FORMAT PATH`` knows, by name."""


def get_importer(fmt: str) -> Importer:
    """The importer of format ``fmt``, or a :class:`ConfigurationError` listing the formats."""
    try:
        return IMPORTERS[fmt]
    except KeyError:
        raise ConfigurationError(
            f"unknown import format {fmt!r}; known formats: {', '.join(sorted(IMPORTERS))}",
            details={"formats": sorted(IMPORTERS)},
        ) from None


def import_file(
    store: Store,
    fmt: str,
    path: Path,
    *,
    strict: bool = False,
    batch_size: int = 50_000,
    options: ImportOptions | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import ``path`` in format ``fmt`` into ``store`` and say what happened.

    Records are written in batches of ``batch_size`` (one transaction per store call).
    Bad rows are rejected and counted with their line numbers while good rows are
    stored; with ``strict=True`` the whole file is validated first and any bad row
    raises :class:`ImportDataError` (``details["rejected_rows"]`` lists them) with
    nothing written. ``progress(done, total)`` is called as the file is read (bytes, or
    rows for Parquet); in strict mode ``total`` covers both passes.

    Raises :class:`ConfigurationError` for an unknown format or bad options and
    :class:`ImportDataError` for a missing or unreadable file.
    """
    importer = get_importer(fmt)
    if batch_size < 1:
        raise ConfigurationError(f"batch_size must be at least 1, not {batch_size}")
    options = options or ImportOptions()
    path = Path(path)
    started = time.perf_counter()
    logger.info("importing %s as %s", path, fmt)
    if strict:
        checked = RecordSink(
            None,
            batch_size=batch_size,
            validation=options.validation,
            progress=_first_of_two_passes(progress),
        )
        importer.read(path, options, checked)
        if checked.rejected:
            _raise_strict(fmt, path, checked)
        progress = _second_of_two_passes(progress)
    sink = RecordSink(
        store, batch_size=batch_size, validation=options.validation, progress=progress
    )
    importer.read(path, options, sink)
    sink.flush()
    report = sink.report(format_name=fmt, path=path, elapsed_seconds=time.perf_counter() - started)
    logger.info(
        "imported %s: %d rows read, %d events stored (%d already there), %d rejected",
        path,
        report.rows_read,
        report.events_inserted,
        report.duplicates_skipped,
        report.rejected,
    )
    return report


def _raise_strict(fmt: str, path: Path, checked: RecordSink) -> None:
    rows = [row.to_dict() for row in checked.rejected_rows]
    first = "; ".join(f"line {row['line']}: {row['reason']}" for row in rows[:3])
    raise ImportDataError(
        f"{path} has {checked.rejected} bad row(s) and strict mode is on, so nothing was "
        f"imported ({first}{'; ...' if checked.rejected > 3 else ''}). Fix the rows or "
        "import without --strict to keep the good ones.",
        details={
            "format": fmt,
            "path": str(path),
            "rejected": checked.rejected,
            "rejected_by_reason": dict(checked.rejected_by_reason.most_common()),
            "rejected_rows": rows,
        },
    )


def _first_of_two_passes(progress: ProgressCallback | None) -> ProgressCallback | None:
    if progress is None:
        return None
    report = progress

    def first(done: int, total: int | None) -> None:
        report(done, None if total is None else 2 * total)

    return first


def _second_of_two_passes(progress: ProgressCallback | None) -> ProgressCallback | None:
    if progress is None:
        return None
    report = progress

    def second(done: int, total: int | None) -> None:
        report(done if total is None else total + done, None if total is None else 2 * total)

    return second


__all__ = [
    "IMPORTERS",
    "MAX_REJECTED_ROWS",
    "SEQUENCE_BASE_TIME",
    "SEQUENCE_STEP",
    "ImportOptions",
    "ImportReport",
    "Importer",
    "ProgressCallback",
    "RecordSink",
    "RejectedRow",
    "get_importer",
    "import_file",
]
