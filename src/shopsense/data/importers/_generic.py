"""Generic CSV and Parquet files of events, items or users (``options.kind``).

Columns map to shopsense fields by ``options.mapping`` (field -> column); a field not
mapped takes the column of the same name when there is one; other columns are left out
(the report says which). Each row is validated with the pydantic schema of its kind.

- An event without an ``event_id`` gets ``stable_id("import", line, raw row)``: the same
  row at the same line always gets the same id, so re-importing a file adds nothing.
- An event without a type takes ``options.event_type``.
- ``props`` / ``attributes`` columns hold JSON objects; ``category`` a path
  ``"Home > Kitchen"`` or a JSON list.
- Timestamps without a time zone are rejected unless ``options.timezone`` says in which
  zone to read them (or the shop's settings read naive times as UTC).

CSV: each physical line is one record (see ``_text``), with ``options.delimiter`` and
``options.encoding``. Parquet: the line number of a row is its 1-based row number.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shopsense.core.errors import ConfigurationError, ImportDataError
from shopsense.core.ids import stable_id
from shopsense.data.importers._base import ImportOptions, RecordSink, integer_id
from shopsense.data.importers._text import (
    csv_splitter,
    parse_records,
    read_header,
    read_lines,
    require_file,
)
from shopsense.data.schemas import Event, Item, User

MODELS: dict[str, type[BaseModel]] = {"events": Event, "items": Item, "users": User}
JSON_OBJECT_FIELDS = frozenset({"props", "attributes"})
TIME_FIELDS = frozenset({"ts", "created_at"})
PARQUET_BATCH_ROWS = 10_000


class RowConverter:
    """Turns one source row (column -> value) into a validated record on the sink."""

    def __init__(
        self, header: Sequence[str], options: ImportOptions, sink: RecordSink, path: Path
    ) -> None:
        self.kind = options.kind
        self.model = MODELS[options.kind]
        self.columns = _resolve_columns(header, options, self.model, path)
        self.event_type = options.event_type
        self.zone: tzinfo | None = options.zone()
        self.sink = sink
        ignored = [name for name in header if name not in self.columns.values()]
        if ignored:
            sink.note(
                f"columns not imported: {', '.join(ignored)} "
                "(map them to shopsense fields to import them)"
            )

    def convert(self, row: Mapping[str, Any], *, line: int, raw: str) -> None:
        """Validate ``row`` and hand the record to the sink, or reject the row."""
        data: dict[str, Any] = {}
        for field_name, column in self.columns.items():
            value = row.get(column)
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    continue
            if value is None:
                continue
            if field_name in JSON_OBJECT_FIELDS or (
                field_name == "category" and isinstance(value, str) and value.startswith("[")
            ):
                try:
                    value = json.loads(value) if isinstance(value, str) else value
                except ValueError:
                    self.sink.reject(line, f"{column}: not valid JSON", raw)
                    return
            elif field_name in TIME_FIELDS and self.zone is not None:
                value = _in_zone(value, self.zone)
            elif field_name.endswith("_id") and not isinstance(value, str | bool):
                value = integer_id(str(value))  # numeric ids in Parquet: 17850.0 -> "17850"
            data[field_name] = value
        if self.kind == "events":
            data.setdefault("event_id", stable_id("import", line, raw))
            if self.event_type is not None:
                data.setdefault("type", self.event_type)
        record = self.sink.validate(self.model, data, line=line, raw=raw, columns=self.columns)
        if isinstance(record, Event):
            self.sink.event(record)
        elif isinstance(record, Item):
            self.sink.item(record)
        elif isinstance(record, User):
            self.sink.user(record)


def _in_zone(value: Any, zone: tzinfo) -> Any:
    """A naive time (text or datetime) read in ``zone``; anything else as it is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value  # not ISO 8601: pydantic says why
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=zone)
    return value


def _resolve_columns(
    header: Sequence[str], options: ImportOptions, model: type[BaseModel], path: Path
) -> dict[str, str]:
    """shopsense field -> source column, from the mapping and same-name columns."""
    fields = model.model_fields
    unknown = [name for name in options.mapping if name not in fields]
    if unknown:
        raise ConfigurationError(
            f"cannot map {', '.join(unknown)}: {options.kind} have the fields {', '.join(fields)}",
            details={"unknown_fields": unknown},
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ImportDataError(
            f"{path} has more than one column named {', '.join(duplicated)}",
            details={"path": str(path), "columns": duplicated},
        )
    absent = {field: column for field, column in options.mapping.items() if column not in header}
    if absent:
        raise ImportDataError(
            f"{path} has no column "
            + ", ".join(f"{column!r} (mapped to {field})" for field, column in absent.items())
            + f"; its columns are: {', '.join(header)}",
            details={"path": str(path), "missing_columns": sorted(absent.values())},
        )
    columns = dict(options.mapping)
    mapped = set(columns.values())
    for name in fields:
        if name not in columns and name in header and name not in mapped:
            columns[name] = name
    required = [
        name
        for name, info in fields.items()
        if info.is_required()
        and name not in columns
        and not (name == "type" and options.event_type is not None)
    ]
    if required:
        hint = " or give a default event type" if "type" in required else ""
        raise ImportDataError(
            f"{path} has no column for {', '.join(required)}, which {options.kind} need; "
            f"map one (field=column){hint}. Its columns are: {', '.join(header)}",
            details={"path": str(path), "missing_fields": required, "header": list(header)},
        )
    return columns


class CsvImporter:
    """A CSV file with a header line, one record per line."""

    name = "csv"
    summary = "generic CSV of events, items or users, with a column mapping"

    def read(self, path: Path, options: ImportOptions, sink: RecordSink) -> None:
        split = csv_splitter(options.delimiter)
        lines = read_lines(path, encoding=options.encoding, sink=sink)
        header = read_header(lines, split, path)
        converter = RowConverter(header, options, sink, path)
        for record in parse_records(lines, split, sink, n_fields=len(header)):
            converter.convert(
                dict(zip(header, record.fields, strict=True)), line=record.line, raw=record.text
            )


class ParquetImporter:
    """A Parquet file, one record per row."""

    name = "parquet"
    summary = "generic Parquet of events, items or users, with a column mapping"

    def read(self, path: Path, options: ImportOptions, sink: RecordSink) -> None:
        import pyarrow as pa  # noqa: PLC0415 - Parquet support is loaded when used
        import pyarrow.parquet as pq  # noqa: PLC0415

        sink.open_file(path)
        require_file(path)
        try:
            parquet = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as error:
            raise ImportDataError(
                f"cannot read {path} as Parquet: {error}", details={"path": str(path)}
            ) from error
        with parquet:
            converter = RowConverter(parquet.schema_arrow.names, options, sink, path)
            total = parquet.metadata.num_rows
            line = 0
            try:
                for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                    for row in batch.to_pylist():
                        line += 1
                        sink.row_read()
                        raw = json.dumps(row, ensure_ascii=False, default=str)
                        converter.convert(row, line=line, raw=raw)
                    sink.progress(line, total)
            except (pa.ArrowException, OSError) as error:
                raise ImportDataError(
                    f"{path} is damaged after row {line}: {error}", details={"path": str(path)}
                ) from error
