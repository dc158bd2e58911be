"""The ``shopsense`` command, run as a user would (typer's runner, and the real script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from shopsense.cli import app
from tests.conftest import dataset_path

FIXTURES = Path(__file__).parent / "fixtures" / "importers"
runner = CliRunner()


def run(data_dir: Path, *args: str) -> str:
    result = runner.invoke(app, ["--data-dir", str(data_dir), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def run_json(data_dir: Path, *args: str) -> Any:
    """A command's JSON on stdout (log lines go to stderr)."""
    result = runner.invoke(app, ["--data-dir", str(data_dir), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_creates_a_migrated_store(tmp_path: Path) -> None:
    output = run(tmp_path / "shop", "init")
    assert "schema version 3" in output
    assert (tmp_path / "shop" / "shopsense.duckdb").exists()
    assert "schema version 3" in run(tmp_path / "shop", "init")  # safe to run again


def test_simulate_then_stats(tmp_path: Path) -> None:
    run(tmp_path, "simulate", "--users", "150", "--items", "80", "--days", "20", "--seed", "3")
    stats = json.loads(run(tmp_path, "stats", "--json", "--top", "3"))
    assert stats["events"] > 0
    assert stats["users"] == 150
    assert stats["catalog_items"] == 80
    assert sum(stats["events_by_type"].values()) == stats["events"]
    assert len(stats["top_items"]) == 3
    assert stats["top_items"][0]["title"]
    assert (tmp_path / "simulation" / "seed-3" / "users.parquet").exists()
    again = run(
        tmp_path, "simulate", "--users", "150", "--items", "80", "--days", "20", "--seed", "3"
    )
    assert "(0 new)" in again
    assert json.loads(run(tmp_path, "stats", "--json"))["events"] == stats["events"]


def test_import_reports_rejected_lines_and_writes_json(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    output = run(
        tmp_path,
        "import",
        "online-retail",
        str(FIXTURES / "online_retail_small.csv"),
        "--json",
        str(report_path),
    )
    assert "events inserted" in output
    report = json.loads(report_path.read_text())
    assert report["events_inserted"] > 0
    stats = json.loads(run(tmp_path, "stats", "--json"))
    assert stats["events"] == report["events_inserted"]


def test_unknown_format_is_one_readable_line_and_exit_2(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from shopsense.cli import main; main()",
            "--data-dir",
            str(tmp_path),
            "import",
            "excel",
            str(tmp_path / "x.xlsx"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "unknown import format 'excel'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_values_are_usage_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "simulate", "--users", "0"])
    assert result.exit_code == 2
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "import", "csv", "x", "--map", "oops"]
    )
    assert result.exit_code == 2
    assert "FIELD=COLUMN" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("shopsense ")


def test_strict_import_stores_nothing_and_lists_the_bad_lines(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["--data-dir", str(tmp_path), "import", "csv", str(FIXTURES / "events.csv"), "--strict"],
    )
    assert result.exit_code != 0
    assert "rejected rows" in result.output
    stats = json.loads(run(tmp_path, "stats", "--json"))
    assert stats["events"] == 0


def _run_script(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the real entry point; return stderr after checking it is one readable error."""
    result = subprocess.run(
        [sys.executable, "-c", "from shopsense.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    return " ".join(result.stderr.split())  # rich wraps long lines


def test_bad_settings_are_one_readable_line(tmp_path: Path) -> None:
    import os  # noqa: PLC0415

    stderr = _run_script(tmp_path, "--data-dir", str(tmp_path), "--log-level", "verbose", "init")
    assert "error (configuration)" in stderr
    assert "log_level" in stderr
    env = {**os.environ, "SHOPSENSE_EVENT_TYPES": "view,click"}
    assert "event_types" in _run_script(tmp_path, "--data-dir", str(tmp_path), "init", env=env)
    (tmp_path / "broken.toml").write_text("log_level = \n")
    env = {**os.environ, "SHOPSENSE_CONFIG": str(tmp_path / "broken.toml")}
    assert "cannot read the settings" in _run_script(
        tmp_path, "--data-dir", str(tmp_path), "init", env=env
    )


def test_report_path_in_a_missing_folder_fails_before_importing(tmp_path: Path) -> None:
    stderr = _run_script(
        tmp_path,
        "--data-dir",
        str(tmp_path),
        "import",
        "online-retail",
        str(FIXTURES / "online_retail_small.csv"),
        "--json",
        str(tmp_path / "no-such-folder" / "report.json"),
    )
    assert "is not a directory" in stderr
    assert not (tmp_path / "shopsense.duckdb").exists()  # failed before opening the store


def test_demo_builds_the_shop_trains_and_registers_its_models(tmp_path: Path) -> None:
    output = run(tmp_path, "demo", "--no-serve")
    assert "demo shop ready" in output
    assert "leaderboard: temporal split" in output
    for model in ("popular", "item-knn", "ease", "als"):
        assert model in output
    assert "registered popular v1, item-knn v1, ease v1, als v1" in output
    assert "bought-together v1" in output
    assert "best:" in output
    stats = json.loads(run(tmp_path, "stats", "--json"))
    assert stats["users"] == 3_000
    listing = run(tmp_path, "models")
    for model in ("popular", "item-knn", "ease", "als", "best"):
        assert model in listing
    assert (tmp_path / "models" / "als" / "v1" / "manifest.json").exists()
    assert "registered customers v1" in output
    # Customer intelligence on the demo shop, as a shop's analyst would read it.
    segments = run(tmp_path, "customers", "segments")
    assert "RFM segments" in segments and "learned behavioural clusters" in segments
    overview = run_json(tmp_path, "customers", "segments", "--json")
    assert sum(segment["customers"] for segment in overview["rfm"]) == overview["customers"]
    at_risk = run_json(tmp_path, "customers", "at-risk", "--top", "3", "--json")
    assert 0 < len(at_risk["customers"]) <= 3
    assert all(customer["win_back"] for customer in at_risk["customers"])
    assert "valuable customers at risk" in run(tmp_path, "customers", "at-risk", "--top", "2")
    customer = at_risk["customers"][0]["user_id"]
    shown = run(tmp_path, "customers", "show", customer)
    for label in ("segment", "churn risk", "value", "next purchase", "action", "categories"):
        assert label in shown
    profile = run_json(tmp_path, "customers", "show", customer, "--json")
    assert profile["customer"]["segment"]["name"] == at_risk["customers"][0]["segment"]
    assert "registered customers v2" in run(tmp_path, "customers", "train")


def test_customer_commands_before_training_say_what_to_run(tmp_path: Path) -> None:
    run(tmp_path, "init")
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "customers", "segments"])
    assert result.exit_code != 0
    assert "shopsense customers train" in str(result.exception) + result.output


def test_predict_churn_dumps_one_line_per_customer(tmp_path: Path) -> None:
    path = dataset_path("online-retail/online_retail.csv.gz")
    dump = tmp_path / "churn.jsonl"
    output = run(
        tmp_path,
        "predict",
        "churn",
        "--protocol",
        "retail-churn",
        "--dataset",
        str(path),
        "--dump",
        str(dump),
    )
    assert "learned (LightGBM, calibrated)" in output and "recency only" in output
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    assert len(records) > 3000
    assert set(records[0]) == {
        "customer_id",
        "churn_probability",
        "expected_purchases",
        "spend_90d",
    }
    assert all(0 <= record["churn_probability"] <= 1 for record in records)
    assert "MAE" not in output  # the churn table; clv prints the spend metrics
    bad = runner.invoke(app, ["predict", "clv", "--protocol", "nope", "--dataset", str(path)])
    assert bad.exit_code != 0
