"""Settings precedence and the error tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shopsense.core import errors
from shopsense.core.settings import Settings, get_settings, load_settings


def test_defaults() -> None:
    settings = Settings()
    assert settings.data_dir == Path("shopsense-data")
    assert settings.resolved_store_url == "duckdb://shopsense-data/shopsense.duckdb"
    assert "purchase" in settings.event_types


def test_toml_file_then_environment_then_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "shopsense.toml"
    config.write_text('data_dir = "/srv/shop"\nlog_level = "DEBUG"\ningest_batch_size = 10\n')
    monkeypatch.setenv("SHOPSENSE_CONFIG", str(config))
    assert Settings().data_dir == Path("/srv/shop")
    monkeypatch.setenv("SHOPSENSE_LOG_LEVEL", "WARNING")
    settings = Settings()
    assert (settings.log_level, settings.ingest_batch_size) == ("WARNING", 10)
    assert Settings(log_level="ERROR").log_level == "ERROR"


def test_explicit_store_url_wins() -> None:
    assert Settings(store_url="duckdb:///x.duckdb").resolved_store_url == "duckdb:///x.duckdb"


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Settings(unknown_option=1)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="event type"):
        Settings(event_types=("view", "bad type!"))


def test_get_settings_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOPSENSE_DATA_DIR", "/tmp/a")
    assert get_settings() is get_settings()
    assert get_settings().data_dir == Path("/tmp/a")


def test_every_error_is_a_shopsense_error_with_a_problem_document() -> None:
    classes = [
        cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, Exception)
    ]
    assert len(classes) >= 8
    for cls in classes:
        assert issubclass(cls, errors.ShopsenseError)
        problem = cls("something went wrong", details={"field": "x"}).to_problem()
        assert problem["detail"] == "something went wrong"
        assert problem["status"] == cls.http_status
        assert problem["code"] == cls.code
    assert errors.ImportDataError("x").http_status == 422


def test_load_settings_turns_bad_input_into_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(errors.ConfigurationError, match="log_level"):
        load_settings(log_level="verbose")
    config = tmp_path / "shopsense.toml"
    config.write_text("data_dir = [unclosed\n")
    monkeypatch.setenv("SHOPSENSE_CONFIG", str(config))
    with pytest.raises(errors.ConfigurationError, match="cannot read the settings"):
        load_settings()
