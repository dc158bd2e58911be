"""``shopsense experiments``: the lifecycle and the results from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shopsense.cli import app
from shopsense.cli_experiments import parse_variant
from shopsense.core.errors import ValidationFailedError
from shopsense.core.settings import load_settings
from shopsense.experiments.service import ExperimentService
from shopsense.store import open_store
from shopsense.store.base import Exposure
from tests.test_cli import run, run_json

runner = CliRunner()


def test_variants_read_name_model_weight() -> None:
    assert parse_variant("control") == {"name": "control"}
    assert parse_variant("B:als") == {"name": "B", "model": "als"}
    assert parse_variant("A::0.7") == {"name": "A", "weight": 0.7}
    with pytest.raises(ValidationFailedError, match="is not a number"):
        parse_variant("B:als:half")


def test_create_start_results_stop(tmp_path: Path) -> None:
    run(tmp_path, "simulate", "--users", "150", "--items", "60", "--days", "40", "--seed", "4")
    created = run_json(
        tmp_path, "experiments", "create", "--name", "A/A", "--variant", "A",
        "--variant", "B", "--guardrail", "active_days", "--json",
    )  # fmt: skip
    experiment_id = created["experiment_id"]
    assert created["status"] == "draft" and created["spec"]["guardrails"] == ["active_days"]
    assert "started" in run(tmp_path, "experiments", "start", experiment_id)
    settings = load_settings(data_dir=tmp_path)
    with open_store(settings.resolved_store_url) as store:
        experiment = ExperimentService(store).get(experiment_id)
        newest = store.event_summary().first_ts
        assert newest is not None
        store.log_exposures(
            [
                Exposure(experiment_id, user, experiment.assign(user).name, newest)
                for user in (f"U{i:05d}" for i in range(1, 151))
            ]
        )
    end = (newest + timedelta(days=30)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    results = run_json(tmp_path, "experiments", "results", experiment_id, "--end", end, "--json")
    assert sum(results["exposures"].values()) == 150
    assert results["verdicts"][0]["decision"] in ("keep_running", "ship", "keep_control")
    assert [m["metric"] for m in results["metrics"]] == ["conversion", "active_days"]
    table = run(tmp_path, "experiments", "results", experiment_id, "--end", end)
    assert "conversion (primary)" in table and "sample ratio" in table
    assert "stopped" in run(tmp_path, "experiments", "stop", experiment_id)
    listed = run_json(tmp_path, "experiments", "list", "--json")
    assert [e["status"] for e in listed] == ["stopped"]
    assert datetime.fromisoformat(listed[0]["stopped_at"]) > datetime.fromisoformat(
        listed[0]["started_at"]
    )


def test_a_bad_definition_is_refused(tmp_path: Path) -> None:
    run(tmp_path, "init")
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "experiments", "create", "--name", "x", "--variant", "A"],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, ValidationFailedError)
    assert "at least 2" in str(result.exception)
