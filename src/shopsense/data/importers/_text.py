"""Reading text files line by line, shared by every text format.

Each *physical* line is one record: a line that breaks the format (an unterminated
quote, a wrong number of fields, bytes that are not valid text) is rejected on its own
and cannot swallow the lines after it. Files compressed with gzip are recognised by
their first bytes, whatever their name. Line numbers are 1-based and count every
physical line, the header and blank lines included, so that they match an editor's.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from shopsense.core.errors import ImportDataError
from shopsense.data.importers._base import RecordSink

GZIP_MAGIC = b"\x1f\x8b"
PROGRESS_EVERY_LINES = 16_384

Splitter = Callable[[str], list[str]]
"""Splits one line into its fields; raises :class:`csv.Error` on broken quoting."""


@dataclass(frozen=True, slots=True)
class TextRecord:
    """One data line: its number, its text (without the line end) and its fields."""

    line: int
    text: str
    fields: list[str]


def require_file(path: Path, what: str = "file") -> Path:
    """``path`` if it is a readable file, else an :class:`ImportDataError` saying what to do."""
    if not path.exists():
        raise ImportDataError(
            f"{what} {path} does not exist; check the path", details={"path": str(path)}
        )
    if not path.is_file():
        raise ImportDataError(
            f"{what} {path} is not a file (a directory?); give the path of the file itself",
            details={"path": str(path)},
        )
    return path


def _open(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(the file on disk, its decompressed bytes)."""
    require_file(path)
    try:
        raw: BinaryIO = path.open("rb")
    except OSError as error:
        raise ImportDataError(
            f"cannot read {path}: {error.strerror or error}; check its permissions",
            details={"path": str(path)},
        ) from error
    if raw.read(2) == GZIP_MAGIC:
        raw.seek(0)
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def read_lines(path: Path, *, encoding: str, sink: RecordSink) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for every non-blank line of ``path`` (gzip or plain), the
    line end removed. Lines that are not valid ``encoding`` text are rejected on ``sink``.
    Reports progress as bytes of the file on disk."""
    sink.open_file(path)
    raw, stream = _open(path)
    total = path.stat().st_size
    number = 0
    with raw, stream:
        try:
            for number, data in enumerate(stream, start=1):
                if number % PROGRESS_EVERY_LINES == 0:
                    sink.progress(raw.tell(), total)
                try:
                    text = data.decode(encoding)
                except UnicodeDecodeError as error:
                    sink.row_read()
                    sink.reject(
                        number,
                        f"not valid {encoding} text (byte {error.start + 1}); "
                        "give the file's encoding",
                        data.decode(encoding, errors="replace").rstrip("\r\n"),
                    )
                    continue
                text = text.rstrip("\r\n")
                if number == 1:
                    text = text.removeprefix("\ufeff")
                if text.strip():
                    yield number, text
        except (OSError, EOFError, zlib.error) as error:
            raise ImportDataError(
                f"{path} is damaged after line {number}: {error}; download or export it again",
                details={"path": str(path), "line": number + 1},
            ) from error
        sink.progress(total, total)


def csv_splitter(delimiter: str) -> Splitter:
    """Fields of one CSV line (RFC 4180 quoting within the line; ``""`` is a quote)."""

    def split(text: str) -> list[str]:
        if '"' not in text:  # the fast path: most lines have no quotes
            return text.split(delimiter)
        return next(csv.reader((text,), delimiter=delimiter, strict=True))

    return split


def plain_splitter(delimiter: str) -> Splitter:
    """Fields of one line split on ``delimiter``, quotes being ordinary characters."""

    def split(text: str) -> list[str]:
        return text.split(delimiter)

    return split


def whitespace_split(text: str) -> list[str]:
    """Fields of one line separated by runs of spaces or tabs."""
    return text.split()


def read_header(lines: Iterator[tuple[int, str]], split: Splitter, path: Path) -> list[str]:
    """The column names on the first line, stripped."""
    try:
        _, text = next(lines)
        return [name.strip() for name in split(text)]
    except StopIteration:
        raise ImportDataError(
            f"{path} is empty; expected a header line", details={"path": str(path)}
        ) from None
    except csv.Error as error:
        raise ImportDataError(
            f"cannot read the header of {path}: broken quoting ({error})",
            details={"path": str(path)},
        ) from error


def parse_records(
    lines: Iterator[tuple[int, str]],
    split: Splitter,
    sink: RecordSink,
    *,
    n_fields: int | None = None,
) -> Iterator[TextRecord]:
    """The lines split into fields, counted as rows read; a line whose quoting is broken or
    that has other than ``n_fields`` fields (when given) is rejected instead."""
    for number, text in lines:
        sink.row_read()
        try:
            fields = split(text)
        except csv.Error as error:
            sink.reject(number, f"broken quoting: {error}", text)
            continue
        if n_fields is not None and len(fields) != n_fields:
            sink.reject(number, f"expected {n_fields} fields, found {len(fields)}", text)
            continue
        yield TextRecord(number, text, fields)
