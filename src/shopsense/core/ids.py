"""Clocks and ids, in one place so that tests can reason about them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new random id (UUID4 hex, 32 characters)."""
    return uuid.uuid4().hex


def stable_id(namespace: str, *parts: object) -> str:
    """A deterministic id for ``parts`` (UUID5 hex): the same input always gives the same id,
    which is what makes re-importing a file idempotent."""
    name = "\x1f".join(str(part) for part in parts)
    return uuid.uuid5(uuid.NAMESPACE_URL, f"shopsense:{namespace}:{name}").hex
