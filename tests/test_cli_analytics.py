"""``shopsense analytics``: each report from the command line, as JSON and as tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsense.analytics.requests import REQUESTS
from shopsense.cli import app
from shopsense.core.errors import ValidationFailedError
from shopsense.core.settings import load_settings
from shopsense.store import open_store
from tests.test_cli import run, run_json

runner = CliRunner()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("analytics-shop")
    run(directory, "simulate", "--users", "200", "--items", "60", "--days", "70", "--seed", "5")
    return directory


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_json_is_what_the_library_answers(shop: Path, kind: str) -> None:
    body = run_json(shop, "analytics", kind, "--days", "30", "--json")
    settings = load_settings(data_dir=shop)
    with open_store(settings.resolved_store_url) as store:
        expected = REQUESTS[kind].parse(days=30).run(store, settings.analytics).to_dict()
    assert body == expected


def test_tables_print_for_people(shop: Path) -> None:
    retention = run(shop, "analytics", "retention", "--interval", "week", "--days", "35")
    assert "retention (share of the cohort)" in retention and "100.0%" in retention
    funnel = run(shop, "analytics", "funnel", "--steps", "view,purchase", "--days", "30")
    assert "entered:" in funnel and "purchase" in funnel
    # Lifecycle splits users by an attribute (statuses are per user), not by event.type.
    lifecycle = run(shop, "analytics", "lifecycle", "--breakdown", "user.country", "--days", "30")
    assert "resurrecting" in lifecycle or "returning" in lifecycle


def test_a_bad_option_is_one_readable_line(shop: Path) -> None:
    result = runner.invoke(
        app, ["--data-dir", str(shop), "analytics", "retention", "--interval", "year"]
    )
    # `main()` prints the error tree's message as one line and exits 2.
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationFailedError)
    assert "interval: input should be 'day', 'week' or 'month'" in str(result.exception)
