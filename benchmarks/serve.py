"""Benchmark the API server under load: latency at fixed request rates and ingestion.

    .venv/bin/python benchmarks/serve.py [--shops simulated,online-retail]
        [--datasets ../shared/datasets] [--work-dir DIR [--reuse]] [--duration 30]
        [--rates 200,400] [--page-rate 200] [--events-per-s 6000 --batch 100]
        [--sim-users 100000 --sim-items 20000 --sim-days 34]

Per shop: build the store (a simulated shop of 100,000 users and 20,000 items, about
2,000,000 events, smaller with ``--sim-*`` for smoke runs; or UCI Online Retail), train,
create an admin API key, start ``shopsense serve`` as a subprocess (background retraining
off) and drive it on loopback from this process with the
open-loop generator of ``_loadgen.py`` (latency from each request's intended send time).
Steps, each ``--duration`` seconds: the no-op floor ``GET /v1/ping``, home
recommendations at each of ``--rates``, the other scenarios and item endpoints at
``--page-rate``, the floor again, then ingestion of event batches; after SIGTERM every
acknowledged event is looked up in the store. The floor of the "p50 within 3x" check is
the mean of the two floor readings. Prints a table per shop with the targets and writes
``benchmarks/results/serve.md`` with the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import http.client
import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from shopsense.core.settings import DEFAULT_RECOMMENDERS, load_settings
from shopsense.data.simulator import SimulationConfig, simulate_shop, write_to_store
from shopsense.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _loadgen import LoadResult, RequestSpec, run_load  # the benchmarks' load generator
from _machine import machine_description, write_results  # the benchmarks' shared helper

RESULTS = Path(__file__).resolve().parent / "results" / "serve.md"
SHOPS = ("simulated", "online-retail")
SIMULATED_USERS = 100_000
SIMULATED_ITEMS = 20_000
SIMULATED_DAYS = 34
"""About 2,000,000 events for 100,000 users and 20,000 items (40 days gave 2,389,170;
the count is printed on every build and recorded in the results)."""

RECOMMENDERS: dict[str, list[str]] = {
    # EASE inverts a dense items x items matrix: 20,000 x 20,000 takes too long on two
    # cores, so the simulated shop serves without it; Online Retail trains the defaults.
    "simulated": [name for name in DEFAULT_RECOMMENDERS if name != "ease"],
    "online-retail": list(DEFAULT_RECOMMENDERS),
}
TARGET_HOME_P99_MS = 25.0
TARGET_HOME_RATE = 200.0
TARGET_EVENTS_PER_S = 5_000.0
TARGET_FLOOR_RATIO = 3.0
MARKER = "bench-shop.json"
"""Written in a shop's data directory once it is built and trained (``--reuse``)."""
UNKNOWN_USER_SHARE = 0.1
NO_RETRAIN_HOURS = "100000"
"""``serve.retrain_every_hours`` for the server: no background retraining during a run.
(The field is ``float | None``, but an environment variable cannot give None:
``SHOPSENSE_SERVE__RETRAIN_EVERY_HOURS=null`` fails validation as not a number.)"""
ANCHOR_CANDIDATES = 1000
"""Items in most multi-item orders probed for bought-together anchors before measuring
(about a second of requests). The simulated shop has few association rules: in 100,000
users' 34 days, 9,291 orders of 2+ items and 2 item pairs in 20 of them or more (the
bought-together model's default ``min_support``); a smoke-sized shop has none."""


@dataclass
class ShopSample:
    """Ids to build requests from, read from the store before the server starts."""

    users: list[str]
    """Buyers (the users the models were trained on)."""
    items: list[str]
    """Items of purchase events: sampled uniformly, they come popularity-weighted."""
    baskets: list[list[str]]
    """Distinct items of orders with two items or more (cart and session contents)."""
    basket_items: list[str] = dataclasses.field(default_factory=list)
    """Items of those baskets, most baskets first (bought-together candidates)."""
    anchors: list[str] = dataclasses.field(default_factory=list)
    """Items whose bought-together list is not empty (probed on the running server)."""
    pairs: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    """(anchor, an item of its bought-together list): carts with an association rule."""


@dataclass
class Step:
    endpoint: str
    result: LoadResult
    server_cpu_s: float | None
    events_per_request: int = 0


def shopsense_command() -> list[str]:
    script = Path(sys.executable).parent / "shopsense"
    return [str(script)] if script.exists() else [shutil.which("shopsense") or "shopsense"]


def run_cli(data_dir: Path, args: list[str], env: dict[str, str], console: Console) -> str:
    """Run ``shopsense --data-dir DATA_DIR ARGS``; its stdout, or exit with its output."""
    command = [*shopsense_command(), "--data-dir", str(data_dir), *args]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        console.print(completed.stdout[-3000:], completed.stderr[-3000:], markup=False)
        raise SystemExit(f"`{' '.join(command)}` exited with {completed.returncode}")
    return completed.stdout


def store_url(data_dir: Path) -> str:
    return load_settings(data_dir=data_dir).resolved_store_url


def build_shop(
    shop: str, data_dir: Path, args: argparse.Namespace, env: dict[str, str], console: Console
) -> dict[str, Any]:
    """Fill ``data_dir``'s store and train; what was built (also written to MARKER)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    if shop == "simulated":
        config = SimulationConfig(
            users=args.sim_users, items=args.sim_items, days=args.sim_days, seed=0
        )
        with console.status(f"simulating {config.users:,} users, {config.days} days"):
            simulated = simulate_shop(config)
            with open_store(store_url(data_dir)) as store:
                write_to_store(simulated, store)
        source = (
            f"simulated shop: SimulationConfig(users={config.users}, items={config.items}, "
            f"days={config.days}, seed={config.seed})"
        )
    else:
        path = args.datasets / "online-retail" / "online_retail.csv.gz"
        if not path.is_file():
            raise SystemExit(f"{path} not found; give --datasets")
        with console.status(f"importing {path}"):
            run_cli(data_dir, ["import", "online-retail", str(path)], env, console)
        source = f"UCI Online Retail ({path.name}, `shopsense import online-retail`)"
    build_s = time.perf_counter() - started
    with open_store(store_url(data_dir), read_only=True) as store:
        counts = {
            "events": store.count_events(),
            "users": store.count_users(),
            "items": store.count_items(),
        }
    console.print(f"{shop}: {counts['events']:,} events, built in {build_s:.0f} s")
    started = time.perf_counter()
    train_env = {**env, "SHOPSENSE_RECOMMENDERS": json.dumps(RECOMMENDERS[shop])}
    with console.status(f"training {', '.join(RECOMMENDERS[shop])}"):
        run_cli(data_dir, ["train"], train_env, console)
    built = {
        "source": source,
        **counts,
        "build_s": round(build_s, 1),
        "train_s": round(time.perf_counter() - started, 1),
        "recommenders": RECOMMENDERS[shop],
    }
    (data_dir / MARKER).write_text(json.dumps(built, indent=2))
    return built


def read_sample(data_dir: Path) -> ShopSample:
    """Ids from the store, opened read-only and closed again: DuckDB lets one process
    write, and that must be the server."""
    with open_store(store_url(data_dir), read_only=True) as store:
        purchases = store.interactions(types=["purchase"])
        lines = store.read_order_lines()
    users: list[str] = pc.unique(purchases["user_id"]).to_pylist()  # type: ignore[assignment]
    items: list[str] = purchases["item_id"].to_pylist()  # type: ignore[assignment]
    order_ids: list[str] = lines["order_id"].to_pylist()  # type: ignore[assignment]
    line_items: list[str] = lines["item_id"].to_pylist()  # type: ignore[assignment]
    baskets: dict[str, list[str]] = {}
    for order_id, item_id in zip(order_ids, line_items, strict=True):
        basket = baskets.setdefault(order_id, [])
        if item_id not in basket:
            basket.append(item_id)
    multi = [basket for basket in baskets.values() if len(basket) >= 2]
    in_baskets = Counter(item for basket in multi for item in basket)
    return ShopSample(
        users=users,
        items=items,
        baskets=multi,
        basket_items=[item for item, _ in in_baskets.most_common()],
    )


def probe_anchors(port: int, token: str, sample: ShopSample) -> None:
    """Set ``sample.anchors`` and ``sample.pairs`` from the bought-together lists of the
    items in most multi-item orders: an item drawn at random may have no association
    rule, and an empty list measures little."""
    sample.anchors, sample.pairs = [], []
    for item_id in sample.basket_items[:ANCHOR_CANDIDATES]:
        path = f"/v1/items/{quote(item_id, safe='')}/bought-together?n=10"
        status, body = http_get(port, path, token)
        if status != 200:
            raise SystemExit(f"GET {path}: HTTP {status}: {body[:500]!r}")
        partners = [entry["item_id"] for entry in json.loads(body)["items"]]
        if partners:
            sample.anchors.append(item_id)
            sample.pairs += [(item_id, partner) for partner in partners]


def create_key(data_dir: Path, env: dict[str, str], console: Console) -> str:
    """A fresh admin key's token (``keys create`` prints it once)."""
    output = run_cli(
        data_dir, ["keys", "create", "--name", "bench", "--scope", "admin"], env, console
    )
    token = parse_token(output)
    if token is None:
        raise SystemExit(f"no ss_... token in the output of `shopsense keys create`:\n{output}")
    return token


def parse_token(output: str) -> str | None:
    """The token in ``keys create``'s output: the line that is one ``ss_...`` word."""
    for line in output.splitlines():
        if line.strip().startswith("ss_") and len(line.split()) == 1:
            return line.strip()
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def running_server(
    data_dir: Path, env: dict[str, str], log_path: Path, startup_timeout: float
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``shopsense serve`` on a free loopback port, ready; SIGTERM and wait on exit."""
    port = free_port()
    server_env = {**env, "SHOPSENSE_SERVE__HOST": "127.0.0.1", "SHOPSENSE_SERVE__PORT": str(port)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*shopsense_command(), "--data-dir", str(data_dir), "serve"],
            env=server_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if process.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise SystemExit(f"shopsense serve exited with {process.returncode}:\n{tail}")
                try:
                    if http_get(port, "/v1/health/ready")[0] == 200:
                        break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"shopsense serve not ready after {startup_timeout:.0f} s")
                time.sleep(0.25)
            yield process, port
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


EMPTY_ITEMS = re.compile(rb'"items"\s*:\s*\[\s*\]')


def recommendation_check(
    *, non_empty: bool = True
) -> Callable[[RequestSpec, int, bytes], str | None]:
    """A check that every 2xx recommendation list names "items" (and, with
    ``non_empty``, that the list is not empty), and that one in 50 (the first included)
    parses as JSON with a list of items and a rec_id; parsing them all would cost the
    generator CPU the server needs."""
    seen = itertools.count()

    def check(_: RequestSpec, status: int, body: bytes) -> str | None:
        if b'"items"' not in body:
            return f"{status} without items: {body[:200]!r}"
        if non_empty and EMPTY_ITEMS.search(body):
            return f"{status} with an empty list of items: {body[:200]!r}"
        if next(seen) % 50 == 0:
            try:
                payload = json.loads(body)
            except ValueError:
                return f"{status} not JSON: {body[:200]!r}"
            if not isinstance(payload.get("items"), list) or "rec_id" not in payload:
                return f"{status} without a list of items and a rec_id: {body[:200]!r}"
        return None

    return check


def page_requests(
    sample: ShopSample, headers: dict[str, str], seed: int
) -> dict[str, Callable[[int], RequestSpec]]:
    """The request makers of every recommendation endpoint, by endpoint name."""
    rng = random.Random(seed)

    def user(index: int) -> str:
        if rng.random() < UNKNOWN_USER_SHARE:
            return f"new-visitor-{index}"
        return quote(rng.choice(sample.users), safe="")

    def item() -> str:
        return quote(rng.choice(sample.items), safe="")

    def anchor() -> str:
        return quote(rng.choice(sample.anchors or sample.items), safe="")

    def cart() -> str:
        pair = rng.choice(sample.pairs) if sample.pairs else basket(2)
        return ",".join(quote(item_id, safe="") for item_id in pair)

    def basket(size: int) -> list[str]:
        chosen = list(rng.choice(sample.baskets)) if sample.baskets else []
        while len(chosen) < size:
            chosen.append(rng.choice(sample.items))
        return chosen[:size]

    def get(path: str) -> RequestSpec:
        return RequestSpec("GET", path, headers=headers)

    def session(_: int) -> RequestSpec:
        body = json.dumps({"items": basket(3), "n": 10}).encode()
        return RequestSpec(
            "POST",
            "/v1/sessions/recommendations",
            body,
            {**headers, "Content-Type": "application/json"},
        )

    recommend = "/v1/users/{}/recommendations?n=10&scenario="
    return {
        "home": lambda i: get(recommend.format(user(i)) + "home"),
        "item page": lambda i: get(recommend.format(user(i)) + f"item&item_id={item()}"),
        "similar": lambda _: get(f"/v1/items/{item()}/similar?n=10"),
        "bought-together": lambda _: get(f"/v1/items/{anchor()}/bought-together?n=10"),
        "cart": lambda i: get(recommend.format(user(i)) + f"cart&items={cart()}"),
        "buy-again": lambda _: get(
            recommend.format(quote(rng.choice(sample.users), safe="")) + "buy-again"
        ),
        "session": session,
    }


def ingest_requests(
    sample: ShopSample, headers: dict[str, str], batch: int, run_id: str, ts: datetime
) -> Callable[[int], RequestSpec]:
    """Batches of ``batch`` view events with ids ``bench-RUN-REQUEST-K``, all at ``ts``."""
    rng = random.Random(1)
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%SZ")
    json_headers = {**headers, "Content-Type": "application/json"}

    def make(index: int) -> RequestSpec:
        events = [
            {
                "event_id": f"bench-{run_id}-{index}-{k}",
                "type": "view",
                "user_id": rng.choice(sample.users),
                "item_id": rng.choice(sample.items),
                "ts": stamp,
            }
            for k in range(batch)
        ]
        return RequestSpec(
            "POST", "/v1/events", json.dumps({"events": events}).encode(), json_headers
        )

    return make


def measure(
    endpoint: str,
    make: Callable[[int], RequestSpec],
    rate: float,
    *,
    port: int,
    pid: int,
    args: argparse.Namespace,
    console: Console,
    check: Callable[[RequestSpec, int, bytes], str | None] | None = None,
    events_per_request: int = 0,
) -> Step:
    cpu_before = process_cpu_s(pid)
    with console.status(f"{endpoint} at {rate:g}/s for {args.duration:g} s"):
        result = run_load(
            "127.0.0.1",
            port,
            lambda index: dataclasses.replace(make(index), kind=endpoint),
            rate,
            args.duration,
            connections=args.connections,
            timeout=args.timeout,
            check=check,
        )
    cpu_after = process_cpu_s(pid)
    server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    console.print(f"{endpoint:>16}: {result.summary()}", markup=False)
    for line in result.error_samples[:3]:
        console.print(f"{'':>18}{line}", markup=False)
    time.sleep(1.0)  # let the server drain before the next step
    return Step(endpoint, result, server_cpu, events_per_request)


def durability(data_dir: Path, run_id: str, ts: datetime, acknowledged: set[str]) -> int:
    """How many acknowledged event ids the store holds after the server stopped."""
    with open_store(store_url(data_dir), read_only=True) as store:
        stored = store.read_events(start=ts, end=ts + timedelta(seconds=1), types=["view"])
    prefix = f"bench-{run_id}-"
    event_ids: list[str] = stored["event_id"].to_pylist()  # type: ignore[assignment]
    ids = {event_id for event_id in event_ids if event_id.startswith(prefix)}
    return len(ids & acknowledged)


def fmt_ms(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.1f}"


def step_cells(step: Step, floor_p50: float) -> list[str]:
    result = step.result
    rate = f"{result.rate:g}/s"
    achieved = f"{result.achieved_rate:,.1f}/s"
    if step.events_per_request:
        rate += f" x {step.events_per_request}"
        achieved += f" ({result.achieved_rate * step.events_per_request:,.0f} ev/s)"
    recommends = not step.events_per_request and floor_p50 > 0
    ratio = result.p50_ms / floor_p50 if recommends else float("nan")
    server_cpu = "-" if step.server_cpu_s is None else f"{step.server_cpu_s / result.elapsed_s:.0%}"
    return [
        step.endpoint,
        rate,
        achieved,
        fmt_ms(result.p50_ms),
        fmt_ms(result.p99_ms),
        fmt_ms(result.max_ms),
        f"{result.errors}",
        "-" if np.isnan(ratio) else f"{ratio:.1f}x",
        f"{result.cpu_share:.0%}",
        server_cpu,
    ]


COLUMNS = [
    "endpoint",
    "rate target",
    "achieved",
    "p50 ms",
    "p99 ms",
    "max ms",
    "errors",
    "p50 / floor",
    "generator CPU",
    "server CPU",
]


def target_checks(steps: list[Step], durable: int | None, acknowledged: int) -> list[str]:
    """One line per target: PASS or FAIL with the measured value beside it."""
    by_name = {step.endpoint: step.result for step in steps}
    lines: list[str] = []
    home = by_name.get(f"home @{TARGET_HOME_RATE:g}")
    if home is None:
        lines.append(f"- home p99 <= {TARGET_HOME_P99_MS:g} ms at {TARGET_HOME_RATE:g}/s: not run")
    else:
        met = home.p99_ms <= TARGET_HOME_P99_MS and home.errors == 0
        lines.append(
            f"- {'PASS' if met else 'FAIL'} home p99 <= {TARGET_HOME_P99_MS:g} ms at "
            f"{TARGET_HOME_RATE:g}/s with zero errors: p99 {home.p99_ms:.1f} ms, "
            f"{home.errors} errors"
        )
    ingest = next((step for step in steps if step.events_per_request), None)
    if ingest is not None:
        events_per_s = ingest.result.achieved_rate * ingest.events_per_request
        met = events_per_s >= TARGET_EVENTS_PER_S and durable == acknowledged
        lines.append(
            f"- {'PASS' if met else 'FAIL'} ingestion >= {TARGET_EVENTS_PER_S:,.0f} events/s "
            f"acknowledged, all durable: {events_per_s:,.0f} events/s; "
            f"{'?' if durable is None else f'{durable:,}'} of {acknowledged:,} acknowledged "
            "events in the store after SIGTERM"
        )
    floor = floor_of(steps)
    if floor > 0:
        for step in steps:
            if step.endpoint.startswith(("home", "item page", "cart", "buy-again", "session")):
                ratio = step.result.p50_ms / floor
                met = ratio <= TARGET_FLOOR_RATIO
                lines.append(
                    f"- {'PASS' if met else 'FAIL'} {step.endpoint} p50 <= "
                    f"{TARGET_FLOOR_RATIO:g} x floor: {step.result.p50_ms:.2f} ms = "
                    f"{ratio:.1f} x {floor:.2f} ms"
                )
    return lines


def floor_of(steps: list[Step]) -> float:
    """The no-op floor: the mean p50 of the floor steps (at the start and the end)."""
    floors = [step.result.p50_ms for step in steps if step.endpoint.startswith("floor")]
    return float(np.mean(floors)) if floors else 0.0


def run_shop(shop: str, args: argparse.Namespace, work_dir: Path, console: Console) -> list[str]:
    """Build (or reuse), serve and measure one shop; its markdown section."""
    data_dir = work_dir / shop
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHOPSENSE_")}
    env.update(
        {
            "SHOPSENSE_CONFIG": str(work_dir / "no-shopsense.toml"),
            "SHOPSENSE_RECOMMENDERS": json.dumps(RECOMMENDERS[shop]),
            # The rate limiter still runs on every request, but must not be what is measured.
            "SHOPSENSE_SERVE__RATE_LIMIT": str(max(10_000.0, 10 * max(args.rates))),
            "SHOPSENSE_SERVE__RETRAIN_EVERY_HOURS": NO_RETRAIN_HOURS,
        }
    )
    marker = data_dir / MARKER
    if args.reuse and marker.exists():
        built = json.loads(marker.read_text())
        console.print(f"{shop}: reusing {data_dir} ({built['events']:,} events when built)")
    else:
        if data_dir.exists():
            shutil.rmtree(data_dir)
        built = build_shop(shop, data_dir, args, env, console)
    sample = read_sample(data_dir)
    console.print(
        f"{shop}: {len(sample.users):,} buyers, {len(set(sample.items)):,} items bought, "
        f"{len(sample.baskets):,} baskets of 2+ items"
    )
    token = create_key(data_dir, env, console)
    headers = {"Authorization": f"Bearer {token}"}
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    ingest_ts = datetime.now(UTC).replace(microsecond=0)
    ingest_rate = args.events_per_s / args.batch
    steps: list[Step] = []
    with running_server(data_dir, env, data_dir / "serve.log", args.startup_timeout) as (
        process,
        port,
    ):
        status, models_body = http_get(port, "/v1/models", token)
        models = models_body.decode(errors="replace") if status == 200 else f"HTTP {status}"
        probe_anchors(port, token, sample)
        probed = min(len(sample.basket_items), ANCHOR_CANDIDATES)
        console.print(
            f"{shop}: {len(sample.anchors)} of the {probed} items in most multi-item orders "
            f"have bought-together items (the anchors; {len(sample.pairs)} cart pairs)"
        )
        if not sample.anchors:
            console.print(
                "no association rules: bought-together asks about bought items and may "
                "answer empty lists (not counted as errors); carts come from orders",
                style="red",
                markup=False,
            )
        makers = page_requests(sample, headers, seed=0)
        # Warm-up, not reported: every endpoint once per connection and a little more.
        warm = list(makers.values())
        run_load(
            "127.0.0.1",
            port,
            lambda i: warm[i % len(warm)](i),
            rate=100,
            duration=args.warmup,
            connections=args.connections,
            timeout=args.timeout,
        )
        ping = RequestSpec("GET", "/v1/ping", headers=headers)
        step = functools.partial(measure, port=port, pid=process.pid, args=args, console=console)
        steps.append(step("floor /v1/ping", lambda _: ping, TARGET_HOME_RATE))
        for rate in args.rates:
            check = recommendation_check()
            steps.append(step(f"home @{rate:g}", makers["home"], rate, check=check))
        for name, make in makers.items():
            if name != "home":
                # Without association rules every bought-together list is empty.
                check = recommendation_check(
                    non_empty=name != "bought-together" or bool(sample.anchors)
                )
                steps.append(step(name, make, args.page_rate, check=check))
        # The floor again: one reading at the start could catch a calm or a busy moment.
        steps.append(step("floor /v1/ping (end)", lambda _: ping, TARGET_HOME_RATE))
        ingest = ingest_requests(sample, headers, args.batch, run_id, ingest_ts)
        ingest_step = step("ingest /v1/events", ingest, ingest_rate, events_per_request=args.batch)
        steps.append(ingest_step)
    ok_indices = np.flatnonzero(ingest_step.result.ok)
    acknowledged = {
        f"bench-{run_id}-{index}-{k}" for index in ok_indices for k in range(args.batch)
    }
    durable = durability(data_dir, run_id, ingest_ts, acknowledged)
    console.print(f"durability: {durable:,} of {len(acknowledged):,} acknowledged events stored")

    floor_p50 = floor_of(steps)
    table = Table(title=f"{shop}: {built['events']:,} events, {built['users']:,} users")
    for column in COLUMNS:
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for done in steps:
        table.add_row(*step_cells(done, floor_p50))
    console.print(table)
    checks = target_checks(steps, durable, len(acknowledged))
    for line in checks:
        console.print(line, markup=False)

    settings = load_settings(data_dir=data_dir)  # models, history_length: not set in env
    rows = [step_cells(done, floor_p50) for done in steps]
    return [
        f"## {shop}",
        "",
        f"{built['source']}: {built['events']:,} events, {built['users']:,} users, "
        f"{built['items']:,} items (built in {built['build_s']} s, trained in "
        f"{built['train_s']} s). Trained: {', '.join(built['recommenders'])}.",
        "",
        f"Requests: {len(sample.users):,} buyers ({UNKNOWN_USER_SHARE:.0%} of home, item "
        "page and cart requests use unknown ids `new-visitor-N`: cold start), items drawn "
        "from purchase events (popularity-weighted), sessions from real orders; "
        + (
            f"bought-together asks about {len(sample.anchors)} anchors, the items among "
            f"the {ANCHOR_CANDIDATES:,} in most multi-item orders whose list is not empty, "
            f"and carts are {len(sample.pairs):,} (anchor, bought-together item) pairs. "
            if sample.anchors
            else "the bought-together model kept no association rule, so bought-together "
            "asks about bought items and answers empty lists (not counted as errors), and "
            "carts are the first two items of orders. "
        )
        + "Every other recommendation response must hold a non-empty `items` list, or "
        "it counts as an error.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|---|" + "---:|" * (len(COLUMNS) - 1),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        "Targets:",
        "",
        *checks,
        "",
        "Server settings: "
        f"serve.models {json.dumps(dict(settings.serve.models))}, rate_limit "
        f"{env['SHOPSENSE_SERVE__RATE_LIMIT']}/s per key (raised for the benchmark), "
        f"history_length {settings.serve.history_length}, retrain_every_hours "
        f"{NO_RETRAIN_HOURS} (no background retraining during the run).",
        "",
        "`GET /v1/models`:",
        "",
        "```json",
        models[:4000],
        "```",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", default=",".join(SHOPS), help="Comma-separated.")
    parser.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    parser.add_argument("--work-dir", type=Path, default=None, help="Default: a temp dir.")
    parser.add_argument("--reuse", action="store_true", help="Reuse shops built in --work-dir.")
    parser.add_argument("--duration", type=float, default=30.0, help="Seconds per step.")
    parser.add_argument("--warmup", type=float, default=5.0, help="Seconds, not reported.")
    parser.add_argument("--rates", default="200,400", help="Home request rates, comma-separated.")
    parser.add_argument("--page-rate", type=float, default=200.0, help="Other endpoints' rate.")
    parser.add_argument("--events-per-s", type=float, default=6_000.0, help="Ingestion target.")
    parser.add_argument("--batch", type=int, default=100, help="Events per POST /v1/events.")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=5.0, help="Seconds per request.")
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--sim-users", type=int, default=SIMULATED_USERS, help="Smoke runs.")
    parser.add_argument("--sim-items", type=int, default=SIMULATED_ITEMS)
    parser.add_argument("--sim-days", type=int, default=SIMULATED_DAYS)
    args = parser.parse_args()
    shops = [shop.strip() for shop in args.shops.split(",") if shop.strip()]
    unknown = sorted(set(shops) - set(SHOPS))
    if unknown:
        parser.error(f"unknown shops {unknown}; known: {list(SHOPS)}")
    args.rates = [float(rate) for rate in args.rates.split(",")]
    if args.reuse and args.work_dir is None:
        parser.error("--reuse needs --work-dir")

    console = Console(width=None if sys.stdout.isatty() else 140)
    lines = [
        "# Serving benchmark",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `python benchmarks/serve.py "
        f"{' '.join(sys.argv[1:])}`.",
        "",
        "`shopsense serve` runs as a subprocess; the open-loop generator "
        "(`benchmarks/_loadgen.py`) drives it from the benchmark's own process over "
        f"loopback with {args.connections} keep-alive connections: requests leave at fixed "
        "times whatever happened to earlier ones, and latency runs from each request's "
        f"intended send time to the end of its response (timeout {args.timeout:g} s). "
        "Percentiles are over 2xx responses; errors are non-2xx, timeouts, connection "
        "errors and 2xx recommendation lists without `items`. Each step runs "
        f"{args.duration:g} s after a {args.warmup:g} s warm-up of every endpoint; "
        "generator and server CPU are shares of one core during the step (2 cores in all).",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="shopsense-serve-") as temporary:
        work_dir = args.work_dir or Path(temporary)
        work_dir.mkdir(parents=True, exist_ok=True)
        for shop in shops:
            lines += run_shop(shop, args, work_dir, console)
    write_results(args.output, lines, machine_description())
    console.print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
