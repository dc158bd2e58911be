"""The closed-loop experiment (benchmarks/experiment_loop.py) on a tiny shop: every
visit goes through the real API, is assigned and exposed, and the results come back."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
_spec = importlib.util.spec_from_file_location(
    "shopsense_bench_experiment_loop", BENCHMARKS / "experiment_loop.py"
)
assert _spec is not None and _spec.loader is not None
loop = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = loop
_spec.loader.exec_module(loop)


def test_a_tiny_loop_assigns_exposes_and_reports(tmp_path: Path) -> None:
    config = loop.LoopConfig(
        users=300, items=120, history_days=30, days=10, seed=5, observation_days=3
    )
    outcome = loop.run_loop(config, tmp_path)
    results = outcome.results
    exposures = results["exposures"]
    assert set(exposures) == {"control", "personal"}
    assert 0 < sum(exposures.values()) <= outcome.visits
    assert not results["sample_ratio"]["flagged"]
    assert [m["metric"] for m in results["metrics"]] == [
        "conversion",
        "revenue_per_user",
        "rec_ctr",
        "retention_7d",
        "active_days",
    ]
    assert outcome.clicks > 0 and outcome.purchases >= 0
    assert set(outcome.dau_mau) == {"control", "personal"}
    report = "\n".join(loop.render(outcome))
    assert "| conversion (primary) |" in report and "Verdict:" in report
