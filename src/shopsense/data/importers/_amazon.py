"""Amazon review sequences (the S3-Rec / CL4SRec / ICLRec / DuoRec files, e.g. ``Beauty.txt``).

``Beauty.txt`` has one user a line, ``user item1 item2 ...`` in time order, with no
timestamps. User and item ids stay the file's ids, so that evaluation dumps use the
dataset's ids. Beside it:

- ``datamaps.json`` (``options.datamaps``; default: the one in the same folder) maps the
  ids to reviewer ids and ASINs: items get ``{"asin": ...}``, users
  ``{"reviewer_id": ...}`` in their attributes; without it the import goes on without;
- ``<stem>_item2attributes.json`` (e.g. ``Beauty_item2attributes.json``), when present,
  adds ``attribute_ids`` (and ``attribute_names``, from the datamaps' ``id2attribute``)
  to the items' attributes.

Timestamps are synthesised, preserving each user's order: the ``k``-th interaction of
a line (``k`` = 0, 1, ...) happens at 2014-01-01T00:00Z + ``k`` minutes, with props
``{"position": k}``. Every user starts at the same instant, so only the order within a
user means anything (split by position, not by time). Event type:
``options.event_type`` (default ``purchase``); event id ``amazon-seq:<user>:<k>``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shopsense.core.errors import ImportDataError
from shopsense.data.importers._base import ImportOptions, RecordSink
from shopsense.data.importers._text import (
    parse_records,
    read_lines,
    require_file,
    whitespace_split,
)
from shopsense.data.schemas import Event, Item, User

BASE_TIME = datetime(2014, 1, 1, tzinfo=UTC)
"""When every synthesised sequence starts."""

STEP = timedelta(minutes=1)
"""Time between two consecutive interactions of a user."""

DEFAULT_EVENT_TYPE = "purchase"


def _load_json(path: Path, what: str) -> Any:
    require_file(path, what)
    try:
        with path.open("rb") as file:
            return json.load(file)
    except (OSError, ValueError) as error:
        raise ImportDataError(
            f"cannot read {what} {path}: {error}", details={"path": str(path)}
        ) from error


def _id_map(maps: Any, key: str, path: Path) -> dict[str, str]:
    value = maps.get(key) if isinstance(maps, dict) else None
    if not isinstance(value, dict):
        raise ImportDataError(
            f"{path} has no {key!r} object; is it the datamaps.json of the sequences?",
            details={"path": str(path)},
        )
    return {str(k): str(v) for k, v in value.items()}


class AmazonSequenceImporter:
    """Amazon ``user item1 item2 ...`` sequences -> ordered events, items and users."""

    name = "amazon-seq"
    summary = "Amazon review sequences (Beauty.txt: user item1 item2 ...) with datamaps.json"

    def read(self, path: Path, options: ImportOptions, sink: RecordSink) -> None:
        require_file(path, "sequence file")
        event_type = options.event_type or DEFAULT_EVENT_TYPE
        id2user: dict[str, str] = {}
        id2item: dict[str, str] = {}
        id2attribute: dict[str, str] = {}
        datamaps = options.datamaps or path.with_name("datamaps.json")
        if options.datamaps is not None or datamaps.exists():
            maps = _load_json(datamaps, "datamaps file")
            id2user = _id_map(maps, "id2user", datamaps)
            id2item = _id_map(maps, "id2item", datamaps)
            if isinstance(maps.get("id2attribute"), dict):
                id2attribute = _id_map(maps, "id2attribute", datamaps)
        else:
            sink.note(f"no {datamaps.name} beside {path.name}: ids are not mapped to ASINs")
        attributes_path = path.with_name(f"{path.stem}_item2attributes.json")
        item_attributes: dict[str, list[Any]] = {}
        if attributes_path.exists():
            loaded = _load_json(attributes_path, "item attributes file")
            if not isinstance(loaded, dict):
                raise ImportDataError(f"{attributes_path} is not an object of item id -> ids")
            item_attributes = {str(k): list(v) for k, v in loaded.items()}

        def item_record(item_id: str) -> Item:
            attributes: dict[str, Any] = {}
            if item_id in id2item:
                attributes["asin"] = id2item[item_id]
            if item_id in item_attributes:
                ids = item_attributes[item_id]
                attributes["attribute_ids"] = ids
                if id2attribute:
                    attributes["attribute_names"] = [
                        id2attribute[str(i)] for i in ids if str(i) in id2attribute
                    ]
            return Item(item_id=item_id, attributes=attributes)

        # The catalog first, so that no stored event names an unknown item.
        for item_id in sorted(id2item, key=_numeric_first):
            sink.item(item_record(item_id))
        sink.flush()

        seen_users: dict[str, int] = {}
        unmapped_items: set[str] = set()
        for record in parse_records(
            read_lines(path, encoding="utf-8", sink=sink), whitespace_split, sink
        ):
            user_id, *items = record.fields
            if not items:
                sink.reject(record.line, "no items after the user id", record.text)
                continue
            if user_id in seen_users:
                sink.reject(
                    record.line,
                    f"user already has a sequence on line {seen_users[user_id]}",
                    record.text,
                )
                continue
            seen_users[user_id] = record.line
            user = sink.validate(
                User,
                {
                    "user_id": user_id,
                    "attributes": {"reviewer_id": id2user[user_id]} if user_id in id2user else {},
                },
                line=record.line,
                raw=record.text,
            )
            if user is None:
                continue
            events = []
            for position, item_id in enumerate(items):
                event = sink.validate(
                    Event,
                    {
                        "event_id": f"amazon-seq:{user_id}:{position}",
                        "type": event_type,
                        "user_id": user_id,
                        "item_id": item_id,
                        "ts": BASE_TIME + position * STEP,
                        "props": {"position": position},
                    },
                    line=record.line,
                    raw=record.text,
                )
                if event is None:
                    break
                events.append(event)
            else:  # a line is one user's sequence: keep all of it or none
                sink.user(user)
                for event in events:
                    sink.event(event)
                    if event.item_id not in id2item:
                        unmapped_items.add(str(event.item_id))
        if id2item and unmapped_items:
            sink.note(f"{len(unmapped_items)} item id(s) in {path.name} are not in {datamaps.name}")
        for item_id in sorted(unmapped_items, key=_numeric_first):
            sink.item(item_record(item_id))


def _numeric_first(identifier: str) -> tuple[int, str]:
    """Sort key: numeric ids in numeric order, then the others."""
    return (int(identifier), "") if identifier.isdigit() else (1 << 62, identifier)
