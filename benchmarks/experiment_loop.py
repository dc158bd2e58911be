"""Closed-loop A/B experiment on the simulated shop: popularity against the best
personal model, served by the real API, answered by simulated shoppers.

What runs, in order:

1. The simulator builds a shop's history (``--history-days``) and shopsense trains its
   recommenders on it (``shopsense train``: popular, item-kNN, EASE, ALS; ``best`` is
   the one validation chose).
2. The real app (``create_app``, in process) serves it. An experiment on the ``home``
   scenario is created and started through ``/v1/experiments``: ``control`` is served
   by ``popular``, ``personal`` by ``best``, half the users each (assigned by hashing).
3. For ``--days`` days after the history, each shopper who has not churned (the
   simulator's own churn) visits with probability ``1 - exp(-rate x engagement)``:
   ``rate`` is their simulated sessions per day, ``engagement`` starts at 1. A visit
   asks the API for their home list (10 items); the simulator's response model
   (position-based clicks on the shopper's hidden affinity, purchases as in a simulated
   session) decides what they click and buy; the impression, clicks and purchases go
   back through ``POST /v1/events`` citing the list's ``rec_id``, so they join the live
   histories (the next list reacts) and the attribution.
4. **The one assumption beyond the simulator**: a visit that ends in a purchase raises
   the shopper's engagement by ``--gain`` (x 1.15), one with only clicks by half that,
   one with nothing lowers it by ``--loss`` (x 0.95), kept within [0.25, 4]. Better
   lists therefore bring shoppers back more often; how much is what the experiment
   measures (a zero effect on retention would be a valid answer too).
5. The experiment is stopped and its results read from ``/v1/experiments/{id}/results``:
   conversion (primary), revenue per user, CTR of the lists (delta method), 7-day
   retention and active days (stickiness) over each user's first ``--observation-days``
   (28) after exposure, each with its interval, p-values and chance to be better.
   DAU/MAU per arm over the last 30 days is added for context.

``.venv/bin/python benchmarks/experiment_loop.py`` writes
``benchmarks/results/experiment_loop.md``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import machine_description, write_results
from shopsense.core.settings import load_settings
from shopsense.data.simulator import ResponseModel, SimulationConfig, simulate_shop
from shopsense.data.simulator.shop import write_to_store
from shopsense.serve import create_app
from shopsense.serve.security import create_api_key
from shopsense.store import open_store
from shopsense.training import train_models

RESULTS = Path(__file__).resolve().parent / "results" / "experiment_loop.md"
RECOMMENDERS = ("popular", "item-knn", "ease", "als")
LIST_SIZE = 10
ENGAGEMENT_BOUNDS = (0.25, 4.0)
console = Console(stderr=True)


@dataclass(frozen=True)
class LoopConfig:
    users: int = 3000
    items: int = 500
    history_days: int = 90
    days: int = 42
    seed: int = 11
    gain: float = 0.15
    loss: float = 0.05
    observation_days: int = 28


@dataclass
class LoopOutcome:
    """What the loop did and what the experiment measured."""

    config: LoopConfig
    experiment_id: str
    best_model: str
    visits: int = 0
    clicks: int = 0
    purchases: int = 0
    seconds: float = 0.0
    results: dict[str, Any] = field(default_factory=dict)
    dau_mau: dict[str, float] = field(default_factory=dict)


def run_loop(config: LoopConfig, work_dir: Path) -> LoopOutcome:
    """Simulate, train, serve, experiment, respond; see the module docstring."""
    started = time.perf_counter()
    settings = load_settings(
        data_dir=work_dir,
        recommenders=RECOMMENDERS,
        serve={"retrain_every_hours": None},
    )
    shop = simulate_shop(
        SimulationConfig(
            users=config.users, items=config.items, days=config.history_days, seed=config.seed
        )
    )
    store = open_store(settings.resolved_store_url)
    write_to_store(shop, store)
    console.print(f"history: {store.count_events():,} events; training {', '.join(RECOMMENDERS)}")
    run = train_models(store, settings)
    best = store.get_model("best")
    best_model = f"{best.params['model']} v{best.params['version']}"
    console.print(f"best by validation: {best_model}; {len(run.failed)} failed")
    keys = {s: create_api_key(store, name=f"loop-{s}", scopes=[s])[1] for s in ("admin", "ingest")}
    prices = dict(
        zip(
            store.read_items().column("item_id").to_pylist(),
            store.read_items().column("price").to_pylist(),
            strict=True,
        )
    )
    responses = ResponseModel(shop.world, seed=config.seed + 1)
    rng = np.random.default_rng(config.seed + 2)
    population = shop.world.population
    history_end = datetime.combine(shop.world.config.start, datetime.min.time(), UTC) + timedelta(
        days=config.history_days
    )
    engagement = np.ones(population.n_users)
    active_days: dict[str, set[int]] = defaultdict(set)
    with TestClient(create_app(settings, store=store)) as client:
        server = client.app.state.server  # type: ignore[attr-defined]
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        ingest = {"Authorization": f"Bearer {keys['ingest']}"}
        server.clock = lambda: history_end
        created = client.post(
            "/v1/experiments",
            headers=admin,
            json={
                "name": "popularity vs the best personal model",
                "scenario": "home",
                "variants": [
                    {"name": "control", "model": "popular"},
                    {"name": "personal", "model": "best"},
                ],
                "primary_metric": "conversion",
                "guardrails": ["revenue_per_user", "rec_ctr", "retention_7d", "active_days"],
                "observation_days": config.observation_days,
            },
        )
        created.raise_for_status()
        experiment_id = created.json()["experiment_id"]
        client.post(f"/v1/experiments/{experiment_id}/start", headers=admin).raise_for_status()
        outcome = LoopOutcome(config, experiment_id, best_model)
        for day in range(config.days):
            day_start = history_end + timedelta(days=day)
            alive = (population.signup_day <= config.history_days + day) & (
                config.history_days + day < population.churn_day
            )
            chance = 1.0 - np.exp(-population.activity_rate * engagement)
            visitors = np.flatnonzero(alive & (rng.random(population.n_users) < chance))
            rng.shuffle(visitors)
            events: list[dict[str, Any]] = []
            for user_index in visitors.tolist():
                user = population.user_ids[user_index]
                at = day_start + timedelta(seconds=int(rng.integers(0, 86_000)))
                server.clock = lambda at=at: at
                body = client.get(
                    f"/v1/users/{user}/recommendations", headers=admin, params={"n": LIST_SIZE}
                ).json()
                shown = [item["item_id"] for item in body["items"]]
                response = responses.respond(user_index, shown, at, rng=rng)
                stamp = at.isoformat()
                events.append(
                    {"type": "impression", "user_id": user, "ts": stamp, "rec_id": body["rec_id"]}
                )
                for offset, item in enumerate(response.clicked, start=1):
                    events.append(
                        {
                            "type": "click",
                            "user_id": user,
                            "item_id": item,
                            "ts": (at + timedelta(seconds=30 * offset)).isoformat(),
                            "rec_id": body["rec_id"],
                        }
                    )
                for offset, item in enumerate(response.purchased, start=1):
                    events.append(
                        {
                            "type": "purchase",
                            "user_id": user,
                            "item_id": item,
                            "ts": (at + timedelta(minutes=10 + offset)).isoformat(),
                            "price": prices.get(item) or 0.0,
                            "quantity": 1,
                            "rec_id": body["rec_id"],
                        }
                    )
                factor = (
                    1 + config.gain
                    if response.purchased
                    else 1 + config.gain / 2
                    if response.clicked
                    else 1 - config.loss
                )
                engagement[user_index] = min(
                    max(engagement[user_index] * factor, ENGAGEMENT_BOUNDS[0]),
                    ENGAGEMENT_BOUNDS[1],
                )
                active_days[user].add(day)
                outcome.visits += 1
                outcome.clicks += len(response.clicked)
                outcome.purchases += len(response.purchased)
            for start in range(0, len(events), 1000):
                client.post(
                    "/v1/events", headers=ingest, json={"events": events[start : start + 1000]}
                ).raise_for_status()
            server.served.flush()
            if day % 7 == 6:
                console.print(
                    f"day {day + 1}/{config.days}: {outcome.visits:,} visits, "
                    f"{outcome.purchases:,} purchases"
                )
        end = history_end + timedelta(days=config.days)
        server.clock = lambda: end
        client.post(f"/v1/experiments/{experiment_id}/stop", headers=admin).raise_for_status()
        results = client.get(
            f"/v1/experiments/{experiment_id}/results",
            headers=admin,
            params={"end": end.isoformat()},
        )
        results.raise_for_status()
        outcome.results = results.json()
    rows = store.analytics_query(
        "SELECT user_id, variant FROM experiment_exposures WHERE experiment_id = ?",
        [experiment_id],
    ).to_pylist()
    assignments = {str(row["user_id"]): str(row["variant"]) for row in rows}
    outcome.dau_mau = dau_mau_by_variant(active_days, assignments, config.days)
    store.close()
    outcome.seconds = time.perf_counter() - started
    return outcome


def dau_mau_by_variant(
    active_days: dict[str, set[int]], assignments: dict[str, str], days: int
) -> dict[str, float]:
    """DAU/MAU per variant over the last 30 days of the loop (its own visits): the mean
    daily active users over the users active at least once in those days."""
    window = range(max(0, days - 30), days)
    ratios: dict[str, float] = {}
    for variant in sorted(set(assignments.values())):
        users = [u for u, v in assignments.items() if v == variant]
        monthly = sum(1 for u in users if active_days[u] & set(window))
        daily = np.mean([sum(1 for u in users if d in active_days[u]) for d in window])
        ratios[variant] = float(daily / monthly) if monthly else math.nan
    return ratios


def render(outcome: LoopOutcome) -> list[str]:
    """The markdown report: setup, the per-metric table and the verdict."""
    results = outcome.results
    config = outcome.config
    lines = [
        "# Closed-loop experiment: popularity vs the best personal model",
        "",
        f"Simulated shop: {config.users:,} users, {config.items:,} items, "
        f"{config.history_days} days of history (seed {config.seed}); recommenders trained: "
        f"{', '.join(RECOMMENDERS)}; `best` = {outcome.best_model}. Then {config.days} days "
        f"of visits served by the real API: {outcome.visits:,} visits, {outcome.clicks:,} "
        f"clicks, {outcome.purchases:,} purchases; engagement gain {config.gain}, loss "
        f"{config.loss} (see the script's docstring); each user measured over the "
        f"{config.observation_days} days after their first exposure (users exposed later "
        f"are not measured yet). Run time {outcome.seconds:.0f} s. The assignment salt is "
        "random per experiment, so a re-run splits the users differently.",
        "",
        "Exposed users: "
        + ", ".join(f"{name} {count:,}" for name, count in results["exposures"].items())
        + (
            f"; sample ratio check p = {results['sample_ratio']['p_value']:.3g}"
            f" ({'MISMATCH' if results['sample_ratio']['flagged'] else 'ok'})."
            if results.get("sample_ratio")
            else "."
        ),
        "",
        "| metric | control | personal | relative lift (95% CI) | p (fixed) "
        "| p (decision, always valid) | chance to be better | CUPED variance cut |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for metric in results["metrics"]:
        means = {v["name"]: v["mean"] for v in metric["variants"]}
        for row in metric["comparisons"]:
            comparison = row["comparison"]
            relative = comparison["relative_lift"]
            interval = "n/a"
            if relative and relative["lower"] is not None:
                interval = (
                    f"{relative['estimate']:+.1%} "
                    f"({relative['lower']:+.1%} .. {relative['upper']:+.1%})"
                )
            cuped = comparison["cuped"]
            reduction = cuped["variance_reduction"] if cuped else None
            chance = row["chance_to_be_better"]
            lines.append(
                f"| {metric['metric']}{' (primary)' if metric['primary'] else ''} "
                f"| {means.get('control', math.nan):.4g} "
                f"| {means.get(row['variant'], math.nan):.4g} "
                f"| {interval} | {comparison['p_value']:.3g} | {row['decision_p_value']:.3g} "
                f"| {'' if chance is None else f'{chance:.1%}'} "
                f"| {'' if reduction is None else f'{reduction:.0%}'} |"
            )
    lines += [
        "",
        "DAU/MAU over the last 30 days of the loop: "
        + ", ".join(f"{name} {value:.3f}" for name, value in outcome.dau_mau.items())
        + ".",
        "",
        "Verdict: " + results["summary"],
        "",
        "Command: `.venv/bin/python benchmarks/experiment_loop.py "
        f"--users {config.users} --items {config.items} --history-days {config.history_days} "
        f"--days {config.days} --seed {config.seed} "
        f"--observation-days {config.observation_days}`",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    defaults = LoopConfig()
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--items", type=int, default=defaults.items)
    parser.add_argument("--history-days", type=int, default=defaults.history_days)
    parser.add_argument("--days", type=int, default=defaults.days)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--gain", type=float, default=defaults.gain)
    parser.add_argument("--loss", type=float, default=defaults.loss)
    parser.add_argument("--observation-days", type=int, default=defaults.observation_days)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    config = LoopConfig(
        users=args.users,
        items=args.items,
        history_days=args.history_days,
        days=args.days,
        seed=args.seed,
        gain=args.gain,
        loss=args.loss,
        observation_days=args.observation_days,
    )
    with tempfile.TemporaryDirectory(prefix="shopsense-loop-") as directory:
        outcome = run_loop(config, Path(directory))
    report = render(outcome)
    write_results(args.out, report, machine_description())
    table = Table(title="closed-loop experiment")
    table.add_column("metric")
    table.add_column("verdict / lift")
    for verdict in outcome.results["verdicts"]:
        table.add_row(verdict["variant"], verdict["text"])
    Console().print(table)
    print("\n".join(report))


if __name__ == "__main__":
    main()
