"""Benchmark every registered recommender on the benchmark protocols of BENCHMARKS.md.

    .venv/bin/python benchmarks/recommend.py [--datasets ../shared/datasets]
        [--protocols seq-loo retail-temporal retail-temporal-new ml100k]
        [--models popular item-knn ease als]

Each model is fitted on the protocol's training split and scored on its test users,
exactly as ``shopsense evaluate`` does; fit and recommend seconds are measured in the
same run. Parameters are the ones in MODEL_PARAMS below (stated in the results); they
are not tuned on the test split. Prints one table per protocol and writes
``benchmarks/results/recommend.md`` with the machine.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from shopsense.evaluation import EvaluationResult, evaluate, load_split
from shopsense.models.recommend.registry import RECOMMENDERS, make_recommender

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_description, write_results  # the benchmarks' shared helper

RESULTS = Path(__file__).resolve().parent / "results" / "recommend.md"

DATASET_FILES: dict[str, str] = {
    "seq-loo": "amazon-beauty/Beauty.txt",
    "retail-temporal": "online-retail/online_retail.csv.gz",
    "retail-temporal-new": "online-retail/online_retail.csv.gz",
    "ml100k": "movielens-100k/u.data",
}

MODEL_PARAMS: dict[str, dict[str, Any]] = {
    # Library and paper defaults; tuning on the validation split comes with `shopsense tune`.
    "popular": {},
    "item-knn": {},
    "ease": {},
    "als": {},
}


def run_protocol(
    protocol: str, datasets: Path, models: list[str], console: Console
) -> list[EvaluationResult]:
    split = load_split(protocol, datasets / DATASET_FILES[protocol])
    results = []
    for name in models:
        params = MODEL_PARAMS.get(name, {})
        with console.status(f"{name} on {protocol}"):
            result = evaluate(make_recommender(name, **params), split, params=params)
        console.print(
            f"{protocol:>20} {name:>10}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
            + f" (fit {result.fit_seconds:.1f} s, recommend {result.recommend_seconds:.1f} s)"
        )
        results.append(result)
    return results


def markdown_table(results: list[EvaluationResult]) -> list[str]:
    metric_names = list(results[0].metrics)
    header = ["model", "params", *metric_names, "fit s", "recommend s"]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|",
    ]
    for result in results:
        params = ", ".join(f"{k}={v}" for k, v in result.params.items()) or "defaults"
        cells = [
            result.model,
            params,
            *(f"{result.metrics[name]:.4f}" for name in metric_names),
            f"{result.fit_seconds:.1f}",
            f"{result.recommend_seconds:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--protocols", nargs="+", default=list(DATASET_FILES))
    parser.add_argument("--models", nargs="+", default=list(MODEL_PARAMS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    unknown = [name for name in args.models if name not in RECOMMENDERS]
    if unknown:
        parser.error(f"unknown models {unknown}; known: {sorted(RECOMMENDERS)}")

    console = Console()
    lines = [
        "# Recommender benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python benchmarks/recommend.py "
        f"--protocols {' '.join(args.protocols)} --models {' '.join(args.models)}`. "
        "Protocols as in BENCHMARKS.md (docs/evaluation.md); every model fitted on the "
        "training split and scored on all test users; no parameter was chosen on the test "
        "split.",
        "",
    ]
    for protocol in args.protocols:
        results = run_protocol(protocol, args.datasets, args.models, console)
        table = Table(title=f"{protocol} ({results[0].split['users_evaluated']:,} users)")
        for column in ["model", *results[0].metrics, "fit s", "recommend s"]:
            table.add_column(column, justify="right")
        for result in results:
            table.add_row(
                result.model,
                *(f"{value:.4f}" for value in result.metrics.values()),
                f"{result.fit_seconds:.1f}",
                f"{result.recommend_seconds:.1f}",
            )
        console.print(table)
        summary = results[0].split
        lines += [
            f"## {protocol}",
            "",
            f"{summary['users_evaluated']:,} users evaluated, {summary['items']:,} items.",
            "",
            *markdown_table(results),
            "",
        ]
    write_results(args.output, lines, machine_description())
    console.print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
