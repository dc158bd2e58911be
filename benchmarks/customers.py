"""Benchmark the customer models on the two protocols of BENCHMARKS.md.

    .venv/bin/python benchmarks/customers.py [--datasets ../shared/datasets]
        [--output benchmarks/results/customers.md]

- ``cdnow-bgnbd``: BG/NBD (and Gamma-Gamma) fitted on the 1/10 CDNOW sample's weeks
  1-39, next to Fader, Hardie & Lee (2005); then predicted against actual repeat
  transactions in weeks 40-78, in total and per customer (MAE), and by the number of
  calibration-period repeat purchases (the paper's conditional-expectation check).
- ``retail-churn``: every churn model (the calibrated LightGBM, a recency-only score,
  BG/NBD) with ROC-AUC, PR-AUC, Brier and log loss; every 90-day spend model with MAE,
  RMSE and Spearman; the next-purchase date; fit times.

Prints the tables and writes them, with the machine, to the output file.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from shopsense.evaluation.customers import evaluate_churn, retail_churn
from shopsense.features.customers import SECONDS_PER_DAY, rfm_summary
from shopsense.models.customer.bgnbd import BetaGeo
from shopsense.models.customer.gamma_gamma import GammaGamma, average_repeat_spend

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_description, write_results  # the benchmarks' shared helper

PAPER_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log-likelihood": -9582.4}
PAPER_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CALIBRATION_END = datetime(1997, 9, 30, tzinfo=UTC)  # the last day of week 39
HOLDOUT_WEEKS = 39


def markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def show(console: Console, title: str, header: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title)
    for column in header:
        table.add_column(column, justify="left" if column == header[0] else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


def cdnow(path: Path, console: Console) -> list[str]:
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    customers = np.array([row[0] for row in rows])
    stamps = np.array(
        [int(datetime.strptime(row[2], "%Y%m%d").replace(tzinfo=UTC).timestamp()) for row in rows]
    )
    dollars = np.array([float(row[4]) for row in rows])
    end = int(CALIBRATION_END.timestamp())
    summary = rfm_summary(customers, stamps, observation_end=end)
    started = time.perf_counter()
    model = BetaGeo().fit(summary)
    bgnbd_seconds = time.perf_counter() - started
    assert model.params_ is not None and model.log_likelihood_ is not None
    fitted = [*model.params_, model.log_likelihood_]
    parameter_rows = [
        [name, f"{value:.4f}", f"{paper:g}", f"{(value - paper) / abs(paper):+.2%}"]
        for (name, paper), value in zip(PAPER_BGNBD.items(), fitted, strict=True)
    ]
    average = average_repeat_spend(
        customers, stamps, dollars, observation_end=end, customers=summary.customer_ids
    )
    repeat = summary.frequency > 0
    started = time.perf_counter()
    spend = GammaGamma().fit(summary.frequency[repeat], average[repeat])
    gamma_seconds = time.perf_counter() - started
    assert spend.params_ is not None
    parameter_rows += [
        [f"Gamma-Gamma {name}", f"{value:.4f}", f"{paper:g}", f"{(value - paper) / paper:+.2%}"]
        for (name, paper), value in zip(PAPER_GAMMA_GAMMA.items(), spend.params_, strict=True)
    ]
    header = ["parameter", "fitted", "paper", "difference"]
    show(console, "cdnow-bgnbd: fit on weeks 1-39", header, parameter_rows)
    # Holdout: distinct purchase days in weeks 40-78 per customer.
    days = stamps // SECONDS_PER_DAY
    end_day = end // SECONDS_PER_DAY
    inside = (days > end_day) & (days <= end_day + HOLDOUT_WEEKS * 7)
    holdout = pd.DataFrame({"customer": customers[inside], "day": days[inside]})
    actual = (
        holdout.drop_duplicates()
        .groupby("customer")
        .size()
        .reindex(summary.customer_ids, fill_value=0)
        .to_numpy(dtype=float)
    )
    predicted = model.expected_purchases(HOLDOUT_WEEKS, summary)
    holdout_rows = [
        ["customers", f"{len(summary):,}", ""],
        ["holdout transactions, total", f"{predicted.sum():,.1f}", f"{actual.sum():,.0f}"],
        ["per customer, mean", f"{predicted.mean():.4f}", f"{actual.mean():.4f}"],
        ["per customer MAE", f"{np.mean(np.abs(predicted - actual)):.4f}", ""],
        ["per customer RMSE", f"{np.sqrt(np.mean((predicted - actual) ** 2)):.4f}", ""],
    ]
    show(console, "cdnow-bgnbd: weeks 40-78", ["", "predicted", "actual"], holdout_rows)
    by_frequency = []
    for x in range(8):
        chosen = summary.frequency == x if x < 7 else summary.frequency >= 7
        by_frequency.append(
            [
                str(x) if x < 7 else "7+",
                f"{int(chosen.sum()):,}",
                f"{predicted[chosen].mean():.3f}",
                f"{actual[chosen].mean():.3f}",
            ]
        )
    conditional_header = ["repeat purchases in weeks 1-39", "customers", "predicted", "actual"]
    show(console, "conditional expectations", conditional_header, by_frequency)
    return [
        "## cdnow-bgnbd",
        "",
        "The 1/10 CDNOW sample; calibration weeks 1-39 (to 1997-09-30), several purchases "
        "on one day are one transaction, times in weeks. Gamma-Gamma on the customers with "
        "repeat purchases, m = the mean of their repeat transactions' values.",
        "",
        *markdown(header, parameter_rows),
        "",
        f"Fit time: BG/NBD {bgnbd_seconds:.2f} s, Gamma-Gamma {gamma_seconds:.2f} s.",
        "",
        "Holdout, weeks 40-78 (1997-10-01 to 1998-06-30): expected transactions "
        "E[Y(39) | x, t_x, T] (eq. 10) against the actual distinct purchase days.",
        "",
        *markdown(["", "predicted", "actual"], holdout_rows),
        "",
        f"The predicted holdout total is {predicted.sum() / actual.sum() - 1:+.1%} against "
        "the actual (the conditional expectations below show where: customers with 1 "
        "or 2 calibration repeat purchases bought more in weeks 40-78 than their "
        "calibration rate implies).",
        "",
        "By calibration-period repeat purchases (the paper's Figure 4 check):",
        "",
        *markdown(conditional_header, by_frequency),
        "",
    ]


def churn(path: Path, console: Console) -> list[str]:
    protocol = retail_churn(path)
    evaluation = evaluate_churn(protocol)
    churn_header = ["model", "ROC-AUC", "PR-AUC", "Brier", "log loss"]
    churn_rows = [
        [name] + [f"{m[key]:.4f}" for key in ("roc_auc", "pr_auc", "brier", "log_loss")]
        for name, m in evaluation.churn.items()
    ]
    show(console, "retail-churn: churn in [2011-09-01, 2011-12-01)", churn_header, churn_rows)
    spend_header = ["model", "MAE", "RMSE", "Spearman", "predicted total", "actual total"]
    spend_rows = [
        [
            name,
            f"{m['mae']:,.2f}",
            f"{m['rmse']:,.2f}",
            f"{m['spearman']:.4f}",
            f"{m['predicted_total']:,.0f}",
            f"{m['actual_total']:,.0f}",
        ]
        for name, m in evaluation.spend.items()
    ]
    show(console, "retail-churn: spend in the window", spend_header, spend_rows)
    next_header = ["estimate", "customers", "MAE days", "median abs. error days"]
    next_rows = [
        [
            name,
            f"{m['customers']:,.0f}",
            f"{m['mae_days']:.1f}",
            f"{m['median_abs_error_days']:.1f}",
        ]
        for name, m in evaluation.next_purchase.items()
    ]
    show(console, "retail-churn: days to the next purchase", next_header, next_rows)
    time_rows = [[name, f"{seconds:.2f}"] for name, seconds in evaluation.fit_seconds.items()]
    show(console, "fit time", ["model", "seconds"], time_rows)
    learned = evaluation.churn["learned (LightGBM, calibrated)"]
    margins = [
        f"- vs {name}: ROC-AUC {learned['roc_auc'] - m['roc_auc']:+.4f}, "
        f"Brier {learned['brier'] - m['brier']:+.4f} (lower is better)"
        for name, m in evaluation.churn.items()
        if not name.startswith("learned")
    ]
    beats = all(
        learned["roc_auc"] > m["roc_auc"] and learned["brier"] < m["brier"]
        for name, m in evaluation.churn.items()
        if not name.startswith("learned")
    )
    churned = evaluation.predictions["churned"]
    return [
        "## retail-churn",
        "",
        f"UCI Online Retail, cleaned as retail-temporal. {len(churned):,} customers with a "
        f"purchase before 2011-09-01, {churned.mean():.1%} of whom buy nothing in "
        "[2011-09-01, 2011-12-01) (churned). Training rows: features before 2011-06-01 and "
        f"the same-length window after it ({evaluation.training_customers:,} customers); "
        "20% of them are held out to choose the spend model "
        f"(chose: {evaluation.spend_choice}). Nothing at or after 2011-09-01 is read "
        "before scoring.",
        "",
        *markdown(churn_header, churn_rows),
        "",
        "Target: the learned model beats the recency and BG/NBD baselines on ROC-AUC and "
        f"Brier: **{'met' if beats else 'NOT met'}**.",
        "",
        *margins,
        "",
        "Spend in the window (the value side of CLV; 'last 90 days again' predicts "
        "each customer's spend in the 90 days before the cutoff):",
        "",
        *markdown(spend_header, spend_rows),
        "",
        "Days to the next purchase, on the customers who did buy in the window:",
        "",
        *markdown(next_header, next_rows),
        "",
        "Fit time on this machine, each model of the bundle (churn: 5-fold early stopping, "
        "calibration and the final fit; spend likewise), the whole bundle with its 20% "
        "holdout refits, and the baselines:",
        "",
        *markdown(["model", "seconds"], time_rows),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "customers.md"
    )
    args = parser.parse_args()
    console = Console()
    lines = [
        "# Customer-model benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python benchmarks/customers.py`. "
        "Protocols as in BENCHMARKS.md.",
        "",
        *cdnow(args.datasets / "cdnow" / "CDNOW_sample.txt", console),
        *churn(args.datasets / "online-retail" / "online_retail.csv.gz", console),
    ]
    write_results(args.output, lines, machine_description())
    console.print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
