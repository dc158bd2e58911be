"""Shared fixtures: where the real datasets are, and clean settings for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopsense.core.settings import get_settings


def datasets_dir() -> Path:
    """``../shared/datasets`` beside the repository, or ``SHOPSENSE_DATASETS``."""
    configured = os.environ.get("SHOPSENSE_DATASETS")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def dataset_path(relative: str) -> Path:
    """The path of a real dataset file, or skip the test with the reason."""
    path = datasets_dir() / relative
    if not path.exists():
        pytest.skip(f"real dataset {relative} not found under {datasets_dir()}")
    return path


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No SHOPSENSE_* variables or shopsense.toml from the developer's shell leak in."""
    for name in list(os.environ):
        if name.startswith("SHOPSENSE_") and name != "SHOPSENSE_DATASETS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHOPSENSE_CONFIG", str(tmp_path / "no-such-shopsense.toml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
