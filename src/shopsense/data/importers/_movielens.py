"""GroupLens MovieLens 100K: the folder, or the path of its ``u.data``.

- ``u.data`` (tab separated ``user item rating unix_time``) -> ``rating`` events with
  ``value = rating``; event id ``movielens:<user>:<item>:<unix_time>`` (an exact
  duplicate line is the same rating and is stored once);
- ``u.item`` (Latin-1, ``|`` separated ``id|title|release date|video release date|
  IMDb URL|<one 0/1 flag per genre>``) -> items with the title, ``category`` = [first
  genre] and attributes ``{"genres": [...], "release_date": "1995-01-01",
  "imdb_url": ...}``; genre names come from ``u.genre``;
- ``u.user`` (``id|age|gender|occupation|zip``) -> users with those attributes.

``u.item``/``u.genre`` and ``u.user`` are optional (the import says what it left out);
the catalog and the users are written before the ratings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from shopsense.core.errors import ImportDataError
from shopsense.data.importers._base import ImportOptions, RecordSink
from shopsense.data.importers._text import (
    Splitter,
    parse_records,
    plain_splitter,
    read_lines,
    require_file,
    whitespace_split,
)
from shopsense.data.schemas import Event, Item, User

ENCODING = "latin-1"
ITEM_FIXED_FIELDS = 5  # id, title, release date, video release date, IMDb URL
USER_FIELDS = 5
RATING_FIELDS = 4

RATING_COLUMNS = {"user_id": "user", "item_id": "item", "value": "rating", "ts": "timestamp"}


class MovieLensImporter:
    """MovieLens 100K ratings, movies and users."""

    name = "movielens"
    summary = "MovieLens 100K folder (u.data ratings, u.item movies, u.user users)"

    def read(self, path: Path, options: ImportOptions, sink: RecordSink) -> None:
        folder = path if path.is_dir() else path.parent
        ratings = require_file(folder / "u.data" if path.is_dir() else path, "ratings file")
        split = plain_splitter("|")
        movies, genres_file, users = folder / "u.item", folder / "u.genre", folder / "u.user"
        if movies.exists():
            genres = _genres(genres_file, sink)
            self._read_items(movies, genres, split, sink)
        else:
            sink.note(f"no u.item in {folder}: ratings imported without movie data")
        if users.exists():
            self._read_users(users, split, sink)
        else:
            sink.note(f"no u.user in {folder}: ratings imported without user data")
        sink.flush()  # the catalog and the users before the ratings that cite them

        for record in parse_records(
            read_lines(ratings, encoding=ENCODING, sink=sink),
            whitespace_split,
            sink,
            n_fields=RATING_FIELDS,
        ):
            user_id, item_id, rating, timestamp = record.fields
            if not timestamp.isdigit():
                sink.reject(record.line, "timestamp: not a Unix time in seconds", record.text)
                continue
            event = sink.validate(
                Event,
                {
                    "event_id": f"movielens:{user_id}:{item_id}:{timestamp}",
                    "type": "rating",
                    "user_id": user_id,
                    "item_id": item_id,
                    "ts": datetime.fromtimestamp(int(timestamp), UTC),
                    "value": rating,
                },
                line=record.line,
                raw=record.text,
                columns=RATING_COLUMNS,
            )
            if event is not None:
                sink.event(event)

    @staticmethod
    def _read_items(path: Path, genres: list[str], split: Splitter, sink: RecordSink) -> None:
        n_fields = ITEM_FIXED_FIELDS + len(genres)
        lines = read_lines(path, encoding=ENCODING, sink=sink)
        for record in parse_records(lines, split, sink, n_fields=n_fields):
            item_id, title, release, _video_release, url = record.fields[:ITEM_FIXED_FIELDS]
            flags = record.fields[ITEM_FIXED_FIELDS:]
            if any(flag not in ("0", "1") for flag in flags):
                sink.reject(record.line, "genre flags: not all 0 or 1", record.text)
                continue
            movie_genres = [name for name, flag in zip(genres, flags, strict=True) if flag == "1"]
            release_date = None
            if release:
                try:
                    release_date = datetime.strptime(release, "%d-%b-%Y").date().isoformat()
                except ValueError:
                    sink.reject(
                        record.line, "release date: not a date like 01-Jan-1995", record.text
                    )
                    continue
            item = sink.validate(
                Item,
                {
                    "item_id": item_id,
                    "title": title or None,
                    "category": movie_genres[:1],
                    "attributes": {
                        "genres": movie_genres,
                        "release_date": release_date,
                        "imdb_url": url or None,
                    },
                },
                line=record.line,
                raw=record.text,
            )
            if item is not None:
                sink.item(item)

    @staticmethod
    def _read_users(path: Path, split: Splitter, sink: RecordSink) -> None:
        lines = read_lines(path, encoding=ENCODING, sink=sink)
        for record in parse_records(lines, split, sink, n_fields=USER_FIELDS):
            user_id, age, gender, occupation, zip_code = record.fields
            if not age.isdigit():
                sink.reject(record.line, "age: not a whole number", record.text)
                continue
            user = sink.validate(
                User,
                {
                    "user_id": user_id,
                    "attributes": {
                        "age": int(age),
                        "gender": gender,
                        "occupation": occupation,
                        "zip_code": zip_code,
                    },
                },
                line=record.line,
                raw=record.text,
            )
            if user is not None:
                sink.user(user)


def _genres(path: Path, sink: RecordSink) -> list[str]:
    """Genre names in flag order, from ``u.genre`` (``name|index`` lines)."""
    require_file(path, "genre file (u.genre, needed to read u.item)")
    by_index: dict[int, str] = {}
    for record in parse_records(
        read_lines(path, encoding=ENCODING, sink=sink), plain_splitter("|"), sink, n_fields=2
    ):
        name, index = record.fields
        if not index.isdigit():
            sink.reject(record.line, "genre index: not a whole number", record.text)
            continue
        by_index[int(index)] = name
    if sorted(by_index) != list(range(len(by_index))) or not by_index:
        raise ImportDataError(
            f"{path} does not number its genres 0, 1, 2, ...; is it MovieLens' u.genre?",
            details={"path": str(path)},
        )
    return [by_index[index] for index in range(len(by_index))]
